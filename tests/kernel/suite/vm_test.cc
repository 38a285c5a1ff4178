// Address spaces: Page_Map/Unmap/GetAddress, PageTable_Map/Unmap, ASID pools, rights, W^X.
#include "../framework/ktest.h"

using namespace ktest;

KTEST(vm_map_write_read_unmap) {
  keel_cptr_t f = 0;
  auto* p = static_cast<volatile keel_word_t*>(new_page(&f));
  REQUIRE(p != nullptr);
  CHECK_EQ(p[0], 0u);  // frames are zeroed
  CHECK_EQ(p[511], 0u);
  p[0] = 0x1234;
  p[511] = 0x5678;
  // Map the same frame again (a copy of the cap) elsewhere: same memory.
  keel_cptr_t f2 = copy(f);
  auto* q = reinterpret_cast<volatile keel_word_t*>(map_frame(f2, KEEL_RIGHT_READ, KEEL_VM_DEFAULT | KEEL_VM_EXECUTE_NEVER));
  REQUIRE(q != nullptr);
  CHECK_EQ(q[0], 0x1234u);
  CHECK_EQ(q[511], 0x5678u);
  keel_paddr_t pa = 0;
  CHECK_OK(keel_page_get_address(f, &pa));
  keel_paddr_t pa2 = 0;
  CHECK_OK(keel_page_get_address(f2, &pa2));
  CHECK_EQ(pa, pa2);
  CHECK_EQ(pa & 0xfff, 0u);
  CHECK_OK(keel_page_unmap(f2));
  CHECK_OK(keel_page_unmap(f2));  // unmapping an unmapped frame cap is a no-op
}

KTEST(vm_map_errors) {
  keel_cptr_t f = alloc_obj(KEEL_OBJ_SMALL_PAGE);
  keel_vaddr_t va = reserve_va(2 * 4096);
  keel_word_t rw = KEEL_RIGHT_READ | KEEL_RIGHT_WRITE;
  keel_word_t xn = KEEL_VM_DEFAULT | KEEL_VM_EXECUTE_NEVER;
  CHECK_ERR(map_at(KEEL_CAP_INIT_VSPACE, f, va + 8, rw, xn), KEEL_ALIGNMENT_ERROR);
  CHECK_ERR(keel_page_map(f, KEEL_CAP_INIT_VSPACE, KEEL_USER_TOP, rw, xn), KEEL_INVALID_ARGUMENT);
  CHECK_ERR(keel_page_map(f, KEEL_CAP_INIT_VSPACE, ~0xfffull, rw, xn), KEEL_INVALID_ARGUMENT);
  CHECK_OK(map_at(KEEL_CAP_INIT_VSPACE, f, va, rw, xn));
  // The same cap at a different address: it is already mapped.
  CHECK_ERR(keel_page_map(f, KEEL_CAP_INIT_VSPACE, va + 4096, rw, xn), KEEL_INVALID_CAPABILITY);
  // Another frame at an occupied address.
  keel_cptr_t g = alloc_obj(KEEL_OBJ_SMALL_PAGE);
  CHECK_ERR(keel_page_map(g, KEEL_CAP_INIT_VSPACE, va, rw, xn), KEEL_DELETE_FIRST);
  // The VSpace argument is not a VSpace; the invoked cap is not a frame.
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  CHECK_ERR(keel_page_map(g, ep, va + 4096, rw, xn), KEEL_INVALID_CAPABILITY);
  keel_cptr_t tcb = alloc_obj(KEEL_OBJ_TCB);
  CHECK_ERR(keel_page_map(tcb, KEEL_CAP_INIT_VSPACE, va + 4096, rw, xn), KEEL_ILLEGAL_OPERATION);
  // A VSpace without an ASID cannot be mapped into.
  keel_cptr_t vs = alloc_obj(KEEL_OBJ_VSPACE);
  CHECK_ERR(keel_page_map(g, vs, 0x400000, rw, xn), KEEL_INVALID_CAPABILITY);
}

KTEST(vm_mapping_rights_bounded_by_cap) {
  // Asking for more rights than the frame cap has is refused (InvalidArgument, nothing mapped);
  // the read-only mapping it allows really is read-only: a write faults at the handler.
  keel_cptr_t g = alloc_obj(KEEL_OBJ_SMALL_PAGE);
  keel_cptr_t ro = copy(g, KEEL_RIGHT_READ);
  keel_vaddr_t va = reserve_va(4096);
  CHECK_ERR(map_at(KEEL_CAP_INIT_VSPACE, ro, va, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE,
                   KEEL_VM_DEFAULT | KEEL_VM_EXECUTE_NEVER),
            KEEL_INVALID_ARGUMENT);
  REQUIRE_OK(map_at(KEEL_CAP_INIT_VSPACE, ro, va, KEEL_RIGHT_READ, KEEL_VM_DEFAULT | KEEL_VM_EXECUTE_NEVER));
  CHECK_EQ(*reinterpret_cast<volatile keel_word_t*>(va), 0u);  // readable
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t reply = alloc_obj(KEEL_OBJ_REPLY);
  ThreadOpts o;
  o.fault_ep = ep;
  Thread* t = spawn(
      [](Thread* self) {
        *reinterpret_cast<volatile keel_word_t*>(self->arg[0]) = 1;
        self->progress = 1;
      },
      va, o);
  REQUIRE(t != nullptr);
  keel_word_t badge = 0;
  keel_word_t info = keel_recv(ep, &badge, reply);
  CHECK_EQ(keel_msginfo_label(info), KEEL_FAULT_VM);
  CHECK_EQ(keel_get_mr(KEEL_VM_FAULT_ADDR), va);
  CHECK_EQ(t->progress, 0u);
  CHECK_EQ(*reinterpret_cast<volatile keel_word_t*>(va), 0u);
}

KTEST(vm_write_xor_execute) {
  // A writable mapping is never executable: jumping into it raises an instruction fault even
  // though the attributes did not ask for execute-never.
  keel_cptr_t f = alloc_obj(KEEL_OBJ_SMALL_PAGE);
  keel_vaddr_t va = map_frame(f, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE, KEEL_VM_DEFAULT);
  REQUIRE(va != 0);
  *reinterpret_cast<volatile uint32_t*>(va) = 0xd65f03c0;  // ret
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t reply = alloc_obj(KEEL_OBJ_REPLY);
  ThreadOpts o;
  o.fault_ep = ep;
  Thread* t = spawn(
      [](Thread* self) {
        reinterpret_cast<void (*)()>(self->arg[0])();
        self->progress = 1;
      },
      va, o);
  REQUIRE(t != nullptr);
  keel_word_t badge = 0;
  keel_word_t info = keel_recv(ep, &badge, reply);
  CHECK_EQ(keel_msginfo_label(info), KEEL_FAULT_VM);
  CHECK_EQ(keel_get_mr(KEEL_VM_FAULT_IP), va);
  CHECK_EQ(keel_get_mr(KEEL_VM_FAULT_PREFETCH_FAULT), 1u);
  CHECK_EQ(t->progress, 0u);
}

KTEST(vm_page_table_map_errors) {
  keel_cptr_t pt = alloc_obj(KEEL_OBJ_PAGE_TABLE);
  keel_vaddr_t va = 0x8000000000ull;  // 512 GiB: a level-0 slot nothing else uses, so three tables are needed
  CHECK_OK(keel_page_table_map(pt, KEEL_CAP_INIT_VSPACE, va, KEEL_VM_DEFAULT));
  // Already mapped (same cap) / slot already has a table (another PT).
  CHECK_ERR(keel_page_table_map(pt, KEEL_CAP_INIT_VSPACE, va + (1ull << 39), KEEL_VM_DEFAULT), KEEL_INVALID_CAPABILITY);
  keel_cptr_t pt2 = alloc_obj(KEEL_OBJ_PAGE_TABLE);
  keel_cptr_t pt3 = alloc_obj(KEEL_OBJ_PAGE_TABLE);
  keel_cptr_t pt4 = alloc_obj(KEEL_OBJ_PAGE_TABLE);
  CHECK_OK(keel_page_table_map(pt2, KEEL_CAP_INIT_VSPACE, va, KEEL_VM_DEFAULT));  // level 2
  CHECK_OK(keel_page_table_map(pt3, KEEL_CAP_INIT_VSPACE, va, KEEL_VM_DEFAULT));  // level 3
  CHECK_ERR(keel_page_table_map(pt4, KEEL_CAP_INIT_VSPACE, va, KEEL_VM_DEFAULT), KEEL_DELETE_FIRST);
  CHECK_ERR(keel_page_table_map(pt4, KEEL_CAP_INIT_VSPACE, KEEL_USER_TOP, KEEL_VM_DEFAULT), KEEL_INVALID_ARGUMENT);
  // A page now maps with no more tables needed; unmapping the level-3 table removes it.
  keel_cptr_t f = alloc_obj(KEEL_OBJ_SMALL_PAGE);
  CHECK_OK(keel_page_map(f, KEEL_CAP_INIT_VSPACE, va, KEEL_RIGHT_READ, KEEL_VM_DEFAULT | KEEL_VM_EXECUTE_NEVER));
  CHECK_EQ(*reinterpret_cast<volatile keel_word_t*>(va), 0u);
  CHECK_OK(keel_page_table_unmap(pt3));
  CHECK_ERR(keel_page_map(alloc_obj(KEEL_OBJ_SMALL_PAGE), KEEL_CAP_INIT_VSPACE, va + 4096, KEEL_RIGHT_READ,
                          KEEL_VM_DEFAULT),
            KEEL_FAILED_LOOKUP);
}

KTEST(vm_large_page) {
  keel_cptr_t f = alloc_obj(KEEL_OBJ_LARGE_PAGE);
  REQUIRE(f != 0);
  keel_vaddr_t va = 0x3000000000ull;
  keel_word_t rw = KEEL_RIGHT_READ | KEEL_RIGHT_WRITE;
  keel_word_t xn = KEEL_VM_DEFAULT | KEEL_VM_EXECUTE_NEVER;
  CHECK_ERR(map_at(KEEL_CAP_INIT_VSPACE, f, va + 4096, rw, xn), KEEL_ALIGNMENT_ERROR);
  REQUIRE_OK(map_at(KEEL_CAP_INIT_VSPACE, f, va, rw, xn));
  auto* p = reinterpret_cast<volatile keel_word_t*>(va);
  p[0] = 1;
  p[(2u << 20) / 8 - 1] = 2;
  CHECK_EQ(p[0] + p[(2u << 20) / 8 - 1], 3u);
}

KTEST(vm_asid_pool) {
  // Make a new pool from a 4 KiB untyped, assign a VSpace, map into it.
  keel_cptr_t ut = alloc_obj(KEEL_OBJ_UNTYPED, 12);
  keel_cptr_t pool = alloc_slot();
  keel_error_t e = keel_asid_control_make_pool(KEEL_CAP_INIT_ASID_CONTROL, ut, kRoot, pool, kDepth);
  CHECK_OK(e);
  if (e == KEEL_NO_ERROR) {
    CHECK_EQ(keel_debug_cap_identify(pool, nullptr, nullptr), KEEL_CAP_ASID_POOL);
    keel_cptr_t vs = alloc_obj(KEEL_OBJ_VSPACE);
    CHECK_OK(keel_asid_pool_assign(pool, vs));
    CHECK_ERR(keel_asid_pool_assign(pool, vs), KEEL_INVALID_CAPABILITY);  // already has an ASID
    keel_cptr_t f = alloc_obj(KEEL_OBJ_SMALL_PAGE);
    CHECK_OK(map_at(vs, f, 0x400000, KEEL_RIGHT_READ, KEEL_VM_DEFAULT));
  }
  // Errors: wrong untyped size, untyped with children, not an untyped.
  keel_cptr_t big = alloc_obj(KEEL_OBJ_UNTYPED, 13);
  keel_cptr_t s = alloc_slot();
  CHECK_ERR(keel_asid_control_make_pool(KEEL_CAP_INIT_ASID_CONTROL, big, kRoot, s, kDepth), KEEL_INVALID_CAPABILITY);
  keel_cptr_t ut2 = alloc_obj(KEEL_OBJ_UNTYPED, 12);
  keel_cptr_t child = alloc_slot();
  REQUIRE_OK(keel_untyped_retype(ut2, KEEL_OBJ_ENDPOINT, 0, kRoot, 0, 0, child, 1));
  CHECK_ERR(keel_asid_control_make_pool(KEEL_CAP_INIT_ASID_CONTROL, ut2, kRoot, s, kDepth), KEEL_REVOKE_FIRST);
  CHECK_ERR(keel_asid_control_make_pool(KEEL_CAP_INIT_ASID_CONTROL, child, kRoot, s, kDepth), KEEL_INVALID_CAPABILITY);
  CHECK_EQ(keel_debug_cap_identify(s, nullptr, nullptr), KEEL_CAP_NULL);
  // Assigning something that is not a VSpace.
  CHECK_ERR(keel_asid_pool_assign(KEEL_CAP_INIT_ASID_POOL, child), KEEL_INVALID_CAPABILITY);
}

KTEST(vm_frame_delete_unmaps) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t reply = alloc_obj(KEEL_OBJ_REPLY);
  keel_cptr_t f = 0;
  auto* p = static_cast<volatile keel_word_t*>(new_page(&f));
  REQUIRE(p != nullptr);
  p[0] = 5;
  CHECK_OK(keel_cnode_delete(kRoot, f, kDepth));
  ThreadOpts o;
  o.fault_ep = ep;
  Thread* t = spawn(
      [](Thread* self) {
        self->result[0] = *reinterpret_cast<volatile keel_word_t*>(self->arg[0]);
        self->progress = 1;
      },
      reinterpret_cast<keel_word_t>(p), o);
  REQUIRE(t != nullptr);
  keel_word_t badge = 0;
  keel_word_t info = keel_recv(ep, &badge, reply);
  CHECK_EQ(keel_msginfo_label(info), KEEL_FAULT_VM);
  CHECK_EQ(keel_get_mr(KEEL_VM_FAULT_ADDR), reinterpret_cast<keel_word_t>(p));
}

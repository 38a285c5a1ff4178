// vspace.cc — generic page-table logic over arch.h's PTE helpers; ASID pools; the Frame,
// PageTable, ASIDControl and ASIDPool invocations.
#include "object/vspace.h"

#include "object/cnode.h"

namespace keel::kernel {

AsidPool* g_asid_pools[1u << KEEL_ASID_HIGH_BITS];
void sched_forget_vspace(word_t root);

static unsigned pt_index(vaddr_t va, unsigned level) {
  return static_cast<unsigned>((va >> (arch::kPageBits + arch::kPtIndexBits * (3 - level))) & 511u);
}
// Bytes covered by one entry of a table at `level`.
static unsigned entry_bits(unsigned level) { return arch::kPageBits + arch::kPtIndexBits * (3 - level); }

pte_t* find_vspace(unsigned asid) {
  if (asid == 0 || asid >= (1u << (KEEL_ASID_HIGH_BITS + KEEL_ASID_LOW_BITS))) return nullptr;
  AsidPool* pool = g_asid_pools[asid >> KEEL_ASID_LOW_BITS];
  if (pool == nullptr) return nullptr;
  return pool->entries[asid & mask_bits(KEEL_ASID_LOW_BITS)];
}

pte_t* vspace_walk(pte_t* root, vaddr_t va, unsigned level) {
  pte_t* table = root;
  for (unsigned l = 0; l < level; ++l) {
    pte_t e = table[pt_index(va, l)];
    if (!arch::pte_valid(e) || !arch::pte_is_table(e, l)) return nullptr;
    table = static_cast<pte_t*>(arch::ptokv(arch::pte_address(e)));
  }
  return &table[pt_index(va, level)];
}

arch::PageAttr vm_attr(word_t rights, word_t attr, Memory memory) {
  const bool device = memory == Memory::kDevice;
  arch::PageAttr a;
  a.read = true;
  a.write = (rights & KEEL_RIGHT_WRITE) != 0;
  // W^X: writable mappings are never executable.
  a.execute = !a.write && (attr & KEEL_VM_EXECUTE_NEVER) == 0 && !device;
  a.device = device || (attr & KEEL_VM_CACHEABLE) == 0;
  return a;
}

static unsigned frame_level(const Cap& frame) { return frame.frame_size_bits() == KEEL_LARGE_PAGE_BITS ? 2 : 3; }

Result<pte_t*> vspace_arg(const Cap& cap, unsigned index) {
  TRY(cap_arg(cap, CapType::kVSpace, index));
  pte_t* root = cap.vspace_root();
  unsigned asid = vspace_asid(root);
  if (asid == 0 || find_vspace(asid) != root) return fail_cap(index);
  return root;
}

void frame_unmap(Cap& frame) {
  pte_t* root = find_vspace(frame.frame_mapped_asid());
  if (root != nullptr) {
    unsigned level = frame_level(frame);
    pte_t* e = vspace_walk(root, frame.frame_mapped_vaddr(), level);
    if (e != nullptr && arch::pte_valid(*e) && !arch::pte_is_table(*e, level) &&
        arch::pte_address(*e) == arch::kvtop(reinterpret_cast<void*>(frame.object()))) {
      arch::pte_store(e, 0);
      arch::tlb_invalidate_page(frame.frame_mapped_asid(), frame.frame_mapped_vaddr());
    }
  }
  frame.clear_frame_mapping();
}

void page_table_unmap(Cap& pt) {
  pte_t* root = find_vspace(pt.pt_mapped_asid());
  unsigned level = pt.pt_level();
  if (root != nullptr && level >= 1 && level <= 3) {
    pte_t* e = vspace_walk(root, pt.pt_mapped_vaddr(), level - 1u);
    if (e != nullptr && arch::pte_valid(*e) && arch::pte_is_table(*e, level - 1u) &&
        arch::pte_address(*e) == arch::kvtop(reinterpret_cast<void*>(pt.object()))) {
      arch::pte_store(e, 0);
      arch::tlb_invalidate_asid(pt.pt_mapped_asid());
    }
  }
  // Its entries are stale now (seL4 clears the table too): a later map starts empty.
  auto* table = pt.as<pte_t>();
  for (unsigned i = 0; i < 512; ++i) {
    if (table[i] != 0) arch::pte_store(&table[i], 0);
  }
  pt.clear_pt_mapping();
}

void vspace_finalise(pte_t* root) {
  unsigned asid = vspace_asid(root);
  if (asid != 0 && find_vspace(asid) == root) {
    g_asid_pools[asid >> KEEL_ASID_LOW_BITS]->entries[asid & mask_bits(KEEL_ASID_LOW_BITS)] = nullptr;
    arch::tlb_invalidate_asid(asid);
  }
  root[kAsidEntry] = 0;
  sched_forget_vspace(reinterpret_cast<word_t>(root));
}

void asid_pool_finalise(AsidPool* pool) {
  for (unsigned h = 0; h < (1u << KEEL_ASID_HIGH_BITS); ++h) {
    if (g_asid_pools[h] != pool) continue;
    for (unsigned l = 0; l < (1u << KEEL_ASID_LOW_BITS); ++l) {
      pte_t* root = pool->entries[l];
      if (root == nullptr) continue;
      root[kAsidEntry] = 0;  // its threads now run on the empty table (fault) until assigned again
      sched_forget_vspace(reinterpret_cast<word_t>(root));
      arch::tlb_invalidate_asid((h << KEEL_ASID_LOW_BITS) | l);
      pool->entries[l] = nullptr;
    }
    g_asid_pools[h] = nullptr;
  }
}

bool vspace_map_boot(pte_t* root, vaddr_t va, paddr_t pa, unsigned bits, arch::PageAttr attr,
                     void* (*alloc_table)(void* cookie, vaddr_t va, unsigned level), void* cookie) {
  unsigned level = bits == KEEL_LARGE_PAGE_BITS ? 2 : 3;
  pte_t* table = root;
  for (unsigned l = 0; l < level; ++l) {
    pte_t* e = &table[pt_index(va, l)];
    if (!arch::pte_valid(*e)) {
      void* t = alloc_table(cookie, va, l + 1);
      if (t == nullptr) return false;
      arch::pte_store(e, arch::pte_table(arch::kvtop(t)));
    }
    table = static_cast<pte_t*>(arch::ptokv(arch::pte_address(*e)));
  }
  arch::pte_store(&table[pt_index(va, level)], arch::pte_page(pa, level, attr));
  return true;
}

// ---- Invocations -------------------------------------------------------------------------------
namespace {

// The entry a Page_Map writes: its table exists, and it is empty unless this is a remap of the
// frame's own mapping (a rights change).
struct FrameMapping {
  pte_t* entry;
  unsigned asid;
  unsigned level;
  vaddr_t va;
  word_t rights;
  word_t attr;
};

Result<> perform_frame_map(Cap& frame, const FrameMapping& m) {
  bool was_valid = arch::pte_valid(*m.entry);
  arch::pte_store(m.entry, arch::pte_page(arch::kvtop(reinterpret_cast<void*>(frame.object())), m.level,
                                          vm_attr(frame.rights & m.rights, m.attr, frame.frame_memory())));
  if (was_valid) arch::tlb_invalidate_page(m.asid, m.va);
  frame.set_frame_mapping(m.asid, m.va);
  return {};
}

Result<> perform_frame_unmap(Cap& frame) {
  if (frame.frame_is_mapped()) frame_unmap(frame);
  return {};
}

Result<> perform_frame_get_address(Invocation& inv) {
  inv.out[0] = arch::kvtop(reinterpret_cast<void*>(inv.cap().object()));
  inv.out_length = 1;
  return {};
}

// Page_Map (vaddr, rights, attributes; extra cap 0 = the VSpace).
Result<> decode_frame_map(Invocation& inv) {
  TRY(inv.need(3, 1));
  const Cap& frame = inv.cap();
  vaddr_t va = inv.mr(0);
  word_t rights = inv.mr(1), attr = inv.mr(2);
  pte_t* root = TRY(vspace_arg(inv.extra_cap(0), 1));
  unsigned asid = vspace_asid(root);
  unsigned size_bits = frame.frame_size_bits();
  if (!is_aligned(va, size_bits)) return fail(KEEL_ALIGNMENT_ERROR);
  if (va >= KEEL_USER_TOP || KEEL_USER_TOP - va < (word_t{1} << size_bits)) return fail_arg(0);
  // Asking for a right the frame capability lacks is an error, not a silent downgrade.
  if ((rights & KEEL_RIGHT_READ) == 0 || (rights & (KEEL_RIGHT_READ | KEEL_RIGHT_WRITE) & ~word_t{frame.rights}) != 0)
    return fail_arg(1);
  bool remap = false;
  if (frame.frame_is_mapped()) {
    if (frame.frame_mapped_asid() != asid || frame.frame_mapped_vaddr() != va) return fail_cap(0);
    remap = true;
  }
  unsigned level = frame_level(frame);
  pte_t* e = vspace_walk(root, va, level);
  if (e == nullptr) {
    g_lookup_fault = LookupFault{KEEL_LOOKUP_MISSING_CAPABILITY, entry_bits(level - 1), 0, 0};
    return fail_lookup(LookupOf::kDestination);
  }
  if (arch::pte_valid(*e) && !remap) return fail(KEEL_DELETE_FIRST);
  return perform_frame_map(inv.slot->cap, FrameMapping{e, asid, level, va, rights, attr});
}

Result<> perform_page_table_map(Cap& pt, pte_t* entry, unsigned asid, vaddr_t va, unsigned level) {
  arch::pte_store(entry, arch::pte_table(arch::kvtop(reinterpret_cast<void*>(pt.object()))));
  pt.set_pt_mapping(asid, va & ~mask_bits(entry_bits(level - 1)), level);
  return {};
}

// PageTable_Map (vaddr; extra cap 0 = the VSpace): the table goes to the first level whose
// entry for vaddr is empty.
Result<> decode_page_table_map(Invocation& inv) {
  TRY(inv.need(2, 1));
  if (inv.cap().pt_is_mapped()) return fail_cap(0);
  pte_t* root = TRY(vspace_arg(inv.extra_cap(0), 1));
  vaddr_t va = inv.mr(0);
  if (va >= KEEL_USER_TOP) return fail_arg(0);
  pte_t* table = root;
  for (unsigned l = 0; l < 3; ++l) {
    pte_t* e = &table[pt_index(va, l)];
    if (!arch::pte_valid(*e)) return perform_page_table_map(inv.slot->cap, e, vspace_asid(root), va, l + 1);
    if (!arch::pte_is_table(*e, l)) return fail(KEEL_DELETE_FIRST);
    table = static_cast<pte_t*>(arch::ptokv(arch::pte_address(*e)));
  }
  return fail(KEEL_DELETE_FIRST);
}

Result<> perform_page_table_unmap(Cap& pt) {
  if (pt.pt_is_mapped()) page_table_unmap(pt);
  return {};
}

Result<unsigned> free_asid(AsidPool* pool, unsigned high) {
  for (unsigned l = 0; l < (1u << KEEL_ASID_LOW_BITS); ++l) {
    if (high == 0 && l == 0) continue;  // ASID 0: no user address space
    if (pool->entries[l] == nullptr) return (high << KEEL_ASID_LOW_BITS) | l;
  }
  return fail(KEEL_DELETE_FIRST);
}

Result<> perform_asid_control_make_pool(Slot* untyped, Slot* dest, unsigned high) {
  auto* pool = untyped->cap.as<AsidPool>();
  arch::zero_memory(pool, sizeof(AsidPool));
  g_asid_pools[high] = pool;
  untyped->cap.set_untyped_free_offset(untyped->cap.untyped_size());
  cdt_insert(dest, Cap::make(CapType::kAsidPool, untyped->cap.object()), untyped);
  return {};
}

Result<> perform_asid_pool_assign(AsidPool* pool, pte_t* root, unsigned asid) {
  pool->entries[asid & mask_bits(KEEL_ASID_LOW_BITS)] = root;
  vspace_set_asid(root, asid);
  return {};
}

}  // namespace

Result<> decode_frame_invocation(Invocation& inv) {
  switch (inv.label) {
    case KEEL_PAGE_MAP: return decode_frame_map(inv);
    case KEEL_PAGE_UNMAP: return perform_frame_unmap(inv.slot->cap);
    case KEEL_PAGE_GET_ADDRESS: return perform_frame_get_address(inv);
    default: return fail(KEEL_ILLEGAL_OPERATION);
  }
}

Result<> decode_page_table_invocation(Invocation& inv) {
  switch (inv.label) {
    case KEEL_PAGE_TABLE_MAP: return decode_page_table_map(inv);
    case KEEL_PAGE_TABLE_UNMAP:
      if (!cdt_is_final(inv.slot)) return fail(KEEL_REVOKE_FIRST);
      return perform_page_table_unmap(inv.slot->cap);
    default: return fail(KEEL_ILLEGAL_OPERATION);
  }
}

// MakePool (dest index, dest depth; extra caps: an untyped of exactly the pool's size, the
// destination CNode).
Result<> decode_asid_control_invocation(Invocation& inv) {
  if (inv.label != KEEL_ASID_CONTROL_MAKE_POOL) return fail(KEEL_ILLEGAL_OPERATION);
  TRY(inv.need(2, 2));
  Slot* us = inv.extra[0];
  const Cap& ut = us->cap;
  if (!cap_is(ut, CapType::kUntyped) || ut.untyped_size_bits() != KEEL_ASID_POOL_BITS || ut.untyped_is_device())
    return fail_cap(1);
  if (cdt_has_children(us)) return fail(KEEL_REVOKE_FIRST);
  Slot* dest = TRY(lookup_target_slot(inv.extra_cap(1), inv.mr(0), inv.mr(1), LookupOf::kDestination));
  if (!dest->cap.is_null()) return fail(KEEL_DELETE_FIRST);
  unsigned h = 0;
  while (h < (1u << KEEL_ASID_HIGH_BITS) && g_asid_pools[h] != nullptr) ++h;
  if (h == (1u << KEEL_ASID_HIGH_BITS)) return fail(KEEL_DELETE_FIRST);
  return perform_asid_control_make_pool(us, dest, h);
}

// Assign (extra cap 0 = a VSpace without an ASID).
Result<> decode_asid_pool_invocation(Invocation& inv) {
  if (inv.label != KEEL_ASID_POOL_ASSIGN) return fail(KEEL_ILLEGAL_OPERATION);
  TRY(inv.need(0, 1));
  const Cap& vs = inv.extra_cap(0);
  TRY(cap_arg(vs, CapType::kVSpace, 1));
  pte_t* root = vs.vspace_root();
  if (root[kAsidEntry] != 0) return fail_cap(1);
  auto* pool = inv.cap().as<AsidPool>();
  unsigned h = 0;
  while (h < (1u << KEEL_ASID_HIGH_BITS) && g_asid_pools[h] != pool) ++h;
  if (h == (1u << KEEL_ASID_HIGH_BITS)) return fail_cap(0);
  unsigned asid = TRY(free_asid(pool, h));
  return perform_asid_pool_assign(pool, root, asid);
}

}  // namespace keel::kernel

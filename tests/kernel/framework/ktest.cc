// The kernel test framework: runner, allocator over the boot untypeds, threads, address spaces.
#include "ktest.h"

#include <stdarg.h>

extern "C" {
extern char __keel_image_start[];
extern char __keel_rodata_start[];
extern char __keel_data_start[];
extern char __keel_image_end[];
}

namespace ktest {
namespace {

const keel_boot_info_t* g_bi;
bool g_failed;

// ---- Slot allocator: [first_test_slot, end) is handed out during a test, then emptied. ----
keel_cptr_t g_slot_first;
keel_cptr_t g_slot_next;
keel_cptr_t g_slot_end;

// ---- Untyped pool: every RAM untyped of the boot info; objects are retyped straight from them
// so that revoking the untyped after the test reclaims everything the test made.
struct Pool {
  keel_cptr_t cap;
  unsigned bits;
  keel_word_t used;  // bytes handed out (our mirror of the kernel's free index)
};
constexpr unsigned kMaxPool = 64;
Pool g_pool[kMaxPool];
unsigned g_pool_count;

// ---- Root VSpace: test mappings go to [kVaBase, kVaEnd). ----
constexpr keel_vaddr_t kVaBase = 0x10000000;
constexpr keel_vaddr_t kVaEnd = 0x40000000;
keel_vaddr_t g_va_next = kVaBase;

// ---- Thread stacks in our own .bss (same address space). ----
constexpr unsigned kMaxThreads = 16;
constexpr unsigned kStackBytes = 16384;
alignas(16) char g_stacks[kMaxThreads][kStackBytes];
Thread g_threads[kMaxThreads];
unsigned g_thread_count;
Thread* g_sleeper;      // this test's sleep_us helper (made on first use)
bool g_exact_time;
unsigned g_fail_lines;  // failure lines printed by this test

keel_word_t object_bits(keel_word_t type, keel_word_t size_bits) {
  switch (type) {
    case KEEL_OBJ_UNTYPED: return size_bits;
    case KEEL_OBJ_TCB: return KEEL_TCB_BITS;
    case KEEL_OBJ_ENDPOINT: return KEEL_ENDPOINT_BITS;
    case KEEL_OBJ_NOTIFICATION: return KEEL_NOTIFICATION_BITS;
    case KEEL_OBJ_CNODE: return size_bits + KEEL_SLOT_BITS;
    case KEEL_OBJ_SCHED_CONTEXT: return size_bits;
    case KEEL_OBJ_REPLY: return KEEL_REPLY_BITS;
    case KEEL_OBJ_VSPACE: return KEEL_VSPACE_BITS;
    case KEEL_OBJ_SMALL_PAGE: return KEEL_PAGE_BITS;
    case KEEL_OBJ_LARGE_PAGE: return KEEL_LARGE_PAGE_BITS;
    case KEEL_OBJ_PAGE_TABLE: return KEEL_PAGE_TABLE_BITS;
    default: return 0;
  }
}

void cleanup_after_test() {
  // Revoke every pool untyped the test used: deletes every object (and cap) retyped from it,
  // including threads, mappings and page tables, and resets the untyped's free index.
  for (unsigned i = 0; i < g_pool_count; ++i) {
    if (g_pool[i].used == 0) continue;
    keel_error_t e = keel_cnode_revoke(kRoot, g_pool[i].cap, kDepth);
    if (e != KEEL_NO_ERROR) fail(__FILE__, __LINE__, "cleanup: revoke of untyped %lu: %s", g_pool[i].cap, err_name(e));
    g_pool[i].used = 0;
  }
  // Then empty every slot the test handed out (copies of boot caps and the like).
  for (keel_cptr_t s = g_slot_next; s > g_slot_first; --s) {
    keel_error_t e = keel_cnode_delete(kRoot, s - 1, kDepth);
    if (e != KEEL_NO_ERROR) fail(__FILE__, __LINE__, "cleanup: delete of slot %lu: %s", s - 1, err_name(e));
  }
  g_slot_next = g_slot_first;
  g_va_next = kVaBase;
  g_thread_count = 0;
  g_sleeper = nullptr;
}

extern "C" [[noreturn]] void ktest_thread_entry(Thread* t) {
  t->fn(t);
  t->done = 1;
  keel_tcb_suspend(t->tcb);
  for (;;) keel_yield();  // unreachable unless Suspend failed
}

// One sleeper thread per test serves every sleep_us: it waits for a request (arg[1]), then
// yields until the deadline (arg[0]) — each Yield blocks it until its next refill — and signals
// the test thread (arg[2]).
void sleeper(Thread* t) {
  for (;;) {
    keel_word_t w = 0;
    keel_wait(t->arg[1], &w);
    while (now_ticks() < t->arg[0]) keel_yield();
    keel_signal(t->arg[2]);
  }
}


}  // namespace

void fail(const char* file, int line, const char* fmt, ...) {
  g_failed = true;
  // A failure in a loop must not flood the console (or take minutes to print).
  if (++g_fail_lines > 20) {
    if (g_fail_lines == 21) keel_printf("  (further failures of this test not shown)\n");
    return;
  }
  const char* base = file;
  for (const char* p = file; *p != '\0'; ++p)
    if (*p == '/') base = p + 1;
  keel_printf("  FAILED %s:%d: ", base, line);
  va_list ap;
  va_start(ap, fmt);
  keel_vprintf(fmt, ap);
  va_end(ap);
  keel_printf("\n");
}

bool failed() { return g_failed; }
const char* err_name(keel_word_t e) { return keel_error_name(static_cast<keel_error_t>(e)); }
const keel_boot_info_t& boot_info() { return *g_bi; }

keel_cptr_t alloc_slot() {
  if (g_slot_next >= g_slot_end) {
    fail(__FILE__, __LINE__, "out of CNode slots");
    return 0;
  }
  return g_slot_next++;
}

keel_error_t try_alloc_obj(keel_word_t type, keel_word_t size_bits, keel_cptr_t* out) {
  keel_word_t bits = object_bits(type, size_bits);
  keel_cptr_t slot = alloc_slot();
  if (slot == 0) return KEEL_NOT_ENOUGH_MEMORY;
  keel_error_t last = KEEL_NOT_ENOUGH_MEMORY;
  for (unsigned i = 0; i < g_pool_count; ++i) {
    Pool& p = g_pool[i];
    if (bits > p.bits) continue;
    keel_word_t size = keel_word_t{1} << bits;
    keel_word_t at = (p.used + size - 1) & ~(size - 1);
    if (at + size > (keel_word_t{1} << p.bits)) continue;
    last = keel_untyped_retype(p.cap, type, size_bits, kRoot, 0, 0, slot, 1);
    if (last == KEEL_NO_ERROR) {
      p.used = at + size;
      *out = slot;
      return KEEL_NO_ERROR;
    }
    if (last != KEEL_NOT_ENOUGH_MEMORY) break;  // an argument error: no other untyped will do
    p.used = keel_word_t{1} << p.bits;           // our mirror was wrong; stop using this one
  }
  --g_slot_next;
  return last;
}

keel_cptr_t alloc_obj(keel_word_t type, keel_word_t size_bits) {
  keel_cptr_t c = 0;
  keel_error_t e = try_alloc_obj(type, size_bits, &c);
  if (e != KEEL_NO_ERROR) {
    fail(__FILE__, __LINE__, "retype type %lu size %lu: %s", type, size_bits, err_name(e));
    return 0;
  }
  return c;
}

keel_cptr_t mint(keel_cptr_t src, keel_word_t rights, keel_word_t badge) {
  keel_cptr_t s = alloc_slot();
  keel_error_t e = keel_cnode_mint(kRoot, s, kDepth, kRoot, src, kDepth, rights, badge);
  if (e != KEEL_NO_ERROR) fail(__FILE__, __LINE__, "mint of %lu: %s", src, err_name(e));
  return s;
}

keel_cptr_t copy(keel_cptr_t src, keel_word_t rights) {
  keel_cptr_t s = alloc_slot();
  keel_error_t e = keel_cnode_copy(kRoot, s, kDepth, kRoot, src, kDepth, rights);
  if (e != KEEL_NO_ERROR) fail(__FILE__, __LINE__, "copy of %lu: %s", src, err_name(e));
  return s;
}

keel_cptr_t device_untyped_for(keel_paddr_t pa, keel_paddr_t* ut_base, unsigned* ut_bits) {
  const keel_boot_info_t& bi = *g_bi;
  for (keel_cptr_t s = bi.untyped.start; s < bi.untyped.end; ++s) {
    const keel_untyped_desc_t& d = bi.untyped_list[s - bi.untyped.start];
    if (!d.is_device) continue;
    if (pa >= d.paddr && pa - d.paddr < (keel_word_t{1} << d.size_bits)) {
      *ut_base = d.paddr;
      *ut_bits = d.size_bits;
      return s;
    }
  }
  return 0;
}

keel_vaddr_t reserve_va(keel_word_t bytes) {
  bytes = (bytes + 4095) & ~keel_word_t{4095};
  if (g_va_next + bytes > kVaEnd) {
    fail(__FILE__, __LINE__, "out of test virtual address space");
    return 0;
  }
  keel_vaddr_t va = g_va_next;
  g_va_next += bytes;
  return va;
}

keel_error_t map_at(keel_cptr_t vspace, keel_cptr_t frame, keel_vaddr_t va, keel_word_t rights, keel_word_t attr) {
  // Up to three missing levels of page tables (levels 1, 2, 3 below the VSpace root).
  for (int attempt = 0; attempt < 4; ++attempt) {
    keel_error_t e = keel_page_map(frame, vspace, va, rights, attr);
    if (e != KEEL_FAILED_LOOKUP) return e;
    keel_cptr_t pt = 0;
    keel_error_t a = try_alloc_obj(KEEL_OBJ_PAGE_TABLE, 0, &pt);
    if (a != KEEL_NO_ERROR) return a;
    keel_error_t m = keel_page_table_map(pt, vspace, va, KEEL_VM_DEFAULT);
    if (m != KEEL_NO_ERROR) return m;
  }
  return KEEL_FAILED_LOOKUP;
}

keel_vaddr_t map_frame(keel_cptr_t frame, keel_word_t rights, keel_word_t attr) {
  keel_vaddr_t va = reserve_va(4096);
  if (va == 0) return 0;
  keel_error_t e = map_at(KEEL_CAP_INIT_VSPACE, frame, va, rights, attr);
  if (e != KEEL_NO_ERROR) {
    fail(__FILE__, __LINE__, "map frame %lu at 0x%lx: %s", frame, va, err_name(e));
    return 0;
  }
  return va;
}

void* new_page(keel_cptr_t* frame_out) {
  keel_cptr_t f = alloc_obj(KEEL_OBJ_SMALL_PAGE);
  if (f == 0) return nullptr;
  if (frame_out) *frame_out = f;
  keel_vaddr_t va = map_frame(f, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE, KEEL_VM_DEFAULT | KEEL_VM_EXECUTE_NEVER);
  return reinterpret_cast<void*>(va);
}

static bool make_sc(keel_cptr_t* sc, const ThreadOpts& o) {
  *sc = alloc_obj(KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS);
  if (*sc == 0) return false;
  keel_error_t e = keel_sched_control_configure_flags(KEEL_CAP_INIT_SCHED_CONTROL, *sc, o.budget_us, o.period_us, 0,
                                                      o.sc_badge, 0);
  if (e != KEEL_NO_ERROR) {
    fail(__FILE__, __LINE__, "SchedControl_Configure: %s", err_name(e));
    return false;
  }
  return true;
}

static bool set_debug_perms(keel_cptr_t tcb, const ThreadOpts& o) {
  keel_word_t perms = o.debug_perms;
  if (perms == ThreadOpts::kDebugDefault) perms = g_bi->kernel_debug ? KEEL_DEBUG_PERM_SYSCALLS : 0;
  if (perms == 0) return true;
  keel_error_t e = keel_tcb_set_debug_permissions(tcb, KEEL_CAP_INIT_DEBUG_CONTROL, perms);
  if (e != KEEL_NO_ERROR) {
    fail(__FILE__, __LINE__, "TCB_SetDebugPermissions: %s", err_name(e));
    return false;
  }
  return true;
}

Thread* spawn(void (*fn)(Thread*), keel_word_t arg0, const ThreadOpts& o) {
  if (g_thread_count >= kMaxThreads) {
    fail(__FILE__, __LINE__, "too many threads in one test");
    return nullptr;
  }
  unsigned idx = g_thread_count++;
  Thread* t = &g_threads[idx];
  *t = Thread{};
  t->fn = fn;
  t->arg[0] = arg0;
  t->stack_top = reinterpret_cast<uintptr_t>(&g_stacks[idx][kStackBytes]);
  keel_cptr_t ipc_frame = 0;
  t->ipc = static_cast<keel_ipc_buffer_t*>(new_page(&ipc_frame));
  t->tcb = alloc_obj(KEEL_OBJ_TCB);
  if (t->ipc == nullptr || t->tcb == 0 || !make_sc(&t->sc, o)) return nullptr;
  keel_error_t e = keel_tcb_configure(t->tcb, kRoot, 0, KEEL_CAP_INIT_VSPACE, 0,
                                      reinterpret_cast<keel_vaddr_t>(t->ipc), ipc_frame);
  if (e != KEEL_NO_ERROR) {
    fail(__FILE__, __LINE__, "TCB_Configure: %s", err_name(e));
    return nullptr;
  }
  e = keel_tcb_set_sched_params(t->tcb, KEEL_CAP_INIT_TCB, KEEL_MAX_PRIO, o.priority, t->sc, o.fault_ep);
  if (e != KEEL_NO_ERROR) {
    fail(__FILE__, __LINE__, "TCB_SetSchedParams: %s", err_name(e));
    return nullptr;
  }
  if (!set_debug_perms(t->tcb, o)) return nullptr;
  keel_word_t regs[KEEL_REG_TPIDR_EL0 + 1] = {};
  regs[KEEL_REG_PC] = reinterpret_cast<keel_word_t>(&ktest_thread_entry);
  regs[KEEL_REG_SP] = t->stack_top;
  regs[KEEL_REG_X0] = reinterpret_cast<keel_word_t>(t);
  regs[KEEL_REG_TPIDR_EL0] = reinterpret_cast<keel_word_t>(t->ipc);
  e = keel_tcb_write_registers(t->tcb, o.start, KEEL_REG_TPIDR_EL0 + 1, regs);
  if (e != KEEL_NO_ERROR) {
    fail(__FILE__, __LINE__, "TCB_WriteRegisters: %s", err_name(e));
    return nullptr;
  }
  return t;
}

Thread* spawn(void (*fn)(Thread*), const ThreadOpts& o) { return spawn(fn, 0, o); }

bool spawn_process(Process* p, void (*fn)(keel_word_t, keel_word_t), keel_word_t arg0, keel_word_t arg1,
                   const keel_cptr_t* caps, unsigned ncaps, const ThreadOpts& o) {
  const keel_boot_info_t& bi = *g_bi;
  constexpr keel_word_t kCnodeBits = 6;
  auto image = reinterpret_cast<keel_vaddr_t>(__keel_image_start);
  auto data = reinterpret_cast<keel_vaddr_t>(__keel_data_start);
  if (bi.image_start != image) {
    fail(__FILE__, __LINE__, "boot info image_start 0x%lx != linked 0x%lx", bi.image_start, image);
    return false;
  }
  p->vspace = alloc_obj(KEEL_OBJ_VSPACE);
  p->cnode = alloc_obj(KEEL_OBJ_CNODE, kCnodeBits);
  p->tcb = alloc_obj(KEEL_OBJ_TCB);
  if (p->vspace == 0 || p->cnode == 0 || p->tcb == 0) return false;
  keel_error_t e = keel_asid_pool_assign(KEEL_CAP_INIT_ASID_POOL, p->vspace);
  if (e != KEEL_NO_ERROR) {
    fail(__FILE__, __LINE__, "ASIDPool_Assign: %s", err_name(e));
    return false;
  }
  // Text and rodata: the root's own frames, mapped again (a derived copy each) read-only.
  keel_word_t pages = (data - image) / 4096;
  for (keel_word_t i = 0; i < pages; ++i) {
    keel_cptr_t f = copy(bi.user_image_frames.start + i);
    keel_vaddr_t va = image + i * 4096;
    bool text = va < reinterpret_cast<keel_vaddr_t>(__keel_rodata_start);
    e = map_at(p->vspace, f, va, KEEL_RIGHT_READ, text ? KEEL_VM_DEFAULT : KEEL_VM_DEFAULT | KEEL_VM_EXECUTE_NEVER);
    if (e != KEEL_NO_ERROR) {
      fail(__FILE__, __LINE__, "map image page 0x%lx in new VSpace: %s", va, err_name(e));
      return false;
    }
  }
  keel_cptr_t stack = alloc_obj(KEEL_OBJ_SMALL_PAGE);
  keel_cptr_t ipc = alloc_obj(KEEL_OBJ_SMALL_PAGE);
  if (stack == 0 || ipc == 0) return false;
  constexpr keel_vaddr_t kStackVa = 0x7ff00000;
  constexpr keel_vaddr_t kIpcVa = 0x7ff10000;
  keel_word_t rw = KEEL_RIGHT_READ | KEEL_RIGHT_WRITE;
  if ((e = map_at(p->vspace, stack, kStackVa, rw, KEEL_VM_DEFAULT | KEEL_VM_EXECUTE_NEVER)) != KEEL_NO_ERROR ||
      (e = map_at(p->vspace, ipc, kIpcVa, rw, KEEL_VM_DEFAULT | KEEL_VM_EXECUTE_NEVER)) != KEEL_NO_ERROR) {
    fail(__FILE__, __LINE__, "map stack/IPC buffer in new VSpace: %s", err_name(e));
    return false;
  }
  for (unsigned i = 0; i < ncaps; ++i) {
    e = keel_cnode_copy(p->cnode, 1 + i, kCnodeBits, kRoot, caps[i], kDepth, KEEL_RIGHTS_ALL);
    if (e != KEEL_NO_ERROR) {
      fail(__FILE__, __LINE__, "copy cap %lu into new CSpace: %s", caps[i], err_name(e));
      return false;
    }
  }
  if (!make_sc(&p->sc, o)) return false;
  e = keel_tcb_configure(p->tcb, p->cnode, keel_cnode_cap_data(0, 64 - kCnodeBits), p->vspace, 0, kIpcVa, ipc);
  if (e != KEEL_NO_ERROR) {
    fail(__FILE__, __LINE__, "TCB_Configure (new space): %s", err_name(e));
    return false;
  }
  e = keel_tcb_set_sched_params(p->tcb, KEEL_CAP_INIT_TCB, KEEL_MAX_PRIO, o.priority, p->sc, o.fault_ep);
  if (e != KEEL_NO_ERROR) {
    fail(__FILE__, __LINE__, "TCB_SetSchedParams (new space): %s", err_name(e));
    return false;
  }
  if (!set_debug_perms(p->tcb, o)) return false;
  keel_word_t regs[KEEL_REG_TPIDR_EL0 + 1] = {};
  regs[KEEL_REG_PC] = reinterpret_cast<keel_word_t>(fn);
  regs[KEEL_REG_SP] = kStackVa + 4096;
  regs[KEEL_REG_X0] = arg0;
  regs[KEEL_REG_X0 + 1] = arg1;
  regs[KEEL_REG_TPIDR_EL0] = kIpcVa;
  e = keel_tcb_write_registers(p->tcb, o.start, KEEL_REG_TPIDR_EL0 + 1, regs);
  if (e != KEEL_NO_ERROR) {
    fail(__FILE__, __LINE__, "TCB_WriteRegisters (new space): %s", err_name(e));
    return false;
  }
  return true;
}

keel_word_t now_ticks() { return keel::rt::timer_count(); }
keel_word_t ticks_per_second() { return g_bi->timer_frequency ? g_bi->timer_frequency : keel::rt::timer_frequency(); }
keel_word_t ticks_to_us(keel_word_t ticks) { return ticks * 1000000 / ticks_per_second(); }

bool wait_for(const volatile keel_word_t& v, keel_word_t want, keel_word_t timeout_us) {
  keel_word_t t0 = now_ticks();
  while (v < want) {
    if (ticks_to_us(now_ticks() - t0) > timeout_us) return false;
    sleep_us(1000);
  }
  return true;
}

void reply_to(keel_cptr_t reply, keel_word_t info) {
  // The allocations below are invocations themselves: keep the caller's MRs aside.
  keel_word_t saved[KEEL_MSG_MAX_LENGTH];
  keel_word_t len = keel_msginfo_length(info);
  if (len > KEEL_MSG_MAX_LENGTH) len = KEEL_MSG_MAX_LENGTH;
  for (keel_word_t i = 0; i < len; ++i) saved[i] = keel_get_mr(static_cast<unsigned>(i));
  keel_cptr_t kick = alloc_obj(KEEL_OBJ_NOTIFICATION);
  if (kick == 0) return;
  keel_signal(mint(kick, KEEL_RIGHTS_ALL, 1));
  for (keel_word_t i = 0; i < len; ++i) keel_set_mr(static_cast<unsigned>(i), saved[i]);
  keel_word_t badge = 0;
  keel_reply_recv(kick, info, &badge, reply);
}

void sleep_us(keel_word_t us) {
  if (g_sleeper == nullptr) {
    keel_cptr_t req = alloc_obj(KEEL_OBJ_NOTIFICATION);
    keel_cptr_t done = alloc_obj(KEEL_OBJ_NOTIFICATION);
    if (req == 0 || done == 0) return;
    ThreadOpts o;
    o.priority = kTestPriority + 2;
    o.budget_us = 50;
    o.period_us = 1000;
    o.start = false;
    Thread* t = spawn(sleeper, o);
    if (t == nullptr) return;
    // Badged: a signal is then never mistaken for "no signal" whatever the kernel does with
    // badge 0, and the test thread's Wait on `done` returns the badge.
    t->arg[1] = mint(req, KEEL_RIGHTS_ALL, 1);
    t->arg[2] = mint(done, KEEL_RIGHTS_ALL, 1);
    t->arg[3] = done;
    if (keel_tcb_resume(t->tcb) != KEEL_NO_ERROR) {
      fail(__FILE__, __LINE__, "resume of the sleeper failed");
      return;
    }
    g_sleeper = t;
  }
  g_sleeper->arg[0] = now_ticks() + us * ticks_per_second() / 1000000;
  keel_signal(g_sleeper->arg[1]);
  keel_word_t badge = 0;
  keel_wait(g_sleeper->arg[3], &badge);
}

static bool measure_exact_time();

bool init(const keel_boot_info_t* bi) {
  g_bi = bi;
  if (g_bi == nullptr || g_bi->magic != KEEL_BOOT_INFO_MAGIC) {
    keel_printf("KTEST: bad boot info at %p\n", static_cast<const void*>(bi));
    return false;
  }
  g_slot_first = g_slot_next = bi->empty.start;
  g_slot_end = bi->empty.end;
  keel_word_t ram = 0;
  for (keel_cptr_t s = bi->untyped.start; s < bi->untyped.end && g_pool_count < kMaxPool; ++s) {
    const keel_untyped_desc_t& d = bi->untyped_list[s - bi->untyped.start];
    if (d.is_device) continue;
    g_pool[g_pool_count++] = Pool{s, d.size_bits, 0};
    ram += keel_word_t{1} << d.size_bits;
  }
  g_exact_time = measure_exact_time();
  keel_printf("KTEST: guest time %s\n", g_exact_time ? "= instruction count (-icount): exact timing checks"
                                                     : "is host time (no -icount): lenient timing checks");
  keel_printf("KTEST: %lu untyped caps (%u RAM, %lu KiB), slots %lu..%lu, timer %lu Hz\n",
              bi->untyped.end - bi->untyped.start, g_pool_count, ram >> 10, bi->empty.start, bi->empty.end,
              bi->timer_frequency);
  return true;
}

bool exact_time() { return g_exact_time; }

// 4,000,000 instructions (a 4-instruction loop body, 1,000,000 times) take exactly 4 ms of guest
// time under -icount shift=0 (1 ns per instruction); under plain TCG the time depends on the host.
static bool measure_exact_time() {
  for (int attempt = 0; attempt < 3; ++attempt) {
    keel_word_t n = 1000000;
    keel_word_t t0 = now_ticks();
    asm volatile(
        "1: sub %0, %0, #1\n"
        "   nop\n"
        "   nop\n"
        "   cbnz %0, 1b\n"
        : "+r"(n));
    keel_word_t us = ticks_to_us(now_ticks() - t0);
    if (us >= 3960 && us <= 4200) return true;  // the timer IRQ handling adds a little
  }
  return false;
}

void begin_test() {
  g_failed = false;
  g_fail_lines = 0;
}
void end_test() { cleanup_after_test(); }

}  // namespace ktest


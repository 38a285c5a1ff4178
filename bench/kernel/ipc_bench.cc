// Kernel IPC benchmarks, run as the root task under QEMU -icount shift=0,align=off,sleep=off,
// where the PMU cycle counter counts executed instructions exactly (EL0 + EL1).
//
//   kernel.ipc.call.instructions       one-way Call: client (root task, address space A) to a
//                                      passive server waiting in Recv (address space B), 0 words
//   kernel.ipc.replyrecv.instructions  one-way ReplyRecv: server back to the client, 0 words
//   kernel.ipc.roundtrip.instructions  the sum of the two (seL4's "Call + ReplyRecv" figure)
//   kernel.signal_wait.instructions    a low-priority signaller (A) wakes a high-priority waiter
//                                      (B) blocked in Wait on a notification
//
// Each window runs from a counter read just before the syscall stub to a counter read in the
// other thread just after its syscall returns, so it includes the user-level stub instructions
// on both sides (register setup, svc, the return path) as seL4bench does; the overhead of one
// counter read (measured back to back) is subtracted. Time stamps cross address spaces through
// a page shared by both (0-word messages carry no data). Median of kIters after a warm-up.
#include "../../tests/kernel/framework/ktest.h"

using namespace ktest;

namespace {

constexpr unsigned kIters = 201;
constexpr unsigned kWarmup = 20;
constexpr keel_vaddr_t kShmVa = 0x7fe00000;  // the shared page in the server's address space

inline keel_word_t ccnt() {
  keel_word_t v;
  asm volatile("isb\n\tmrs %0, pmccntr_el0" : "=r"(v)::"memory");
  return v;
}

// ---- Call / ReplyRecv server (address space B; slot 1 = endpoint, slot 2 = reply object) ----
void call_server(keel_word_t shm_va, keel_word_t) {
  volatile keel_word_t* shm = reinterpret_cast<volatile keel_word_t*>(shm_va);
  keel_syscall_mrs(KEEL_SYS_RECV, 1, 0, nullptr, nullptr, nullptr, nullptr, nullptr, 2, 0);
  for (;;) {
    keel_word_t t1 = ccnt();
    shm[0] = t1;
    keel_word_t t2 = ccnt();
    shm[1] = t2;
    keel_syscall_mrs(KEEL_SYS_REPLY_RECV, 1, 0, nullptr, nullptr, nullptr, nullptr, nullptr, 2, 0);
  }
}

// ---- Notification waiter (address space B; slot 1 = notification) ----
void waiter(keel_word_t shm_va, keel_word_t) {
  volatile keel_word_t* shm = reinterpret_cast<volatile keel_word_t*>(shm_va);
  for (;;) {
    keel_syscall_mrs(KEEL_SYS_WAIT, 1, 0, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 0);
    shm[2] = ccnt();
  }
}

keel_word_t g_signal_samples[kIters];

// ---- Signaller (address space A, low priority); arg0 = notification, arg1 = shm, arg2 = done
void signaller(Thread* t) {
  volatile keel_word_t* shm = reinterpret_cast<volatile keel_word_t*>(t->arg[1]);
  keel_cptr_t ntfn = t->arg[0];
  for (unsigned i = 0; i < kWarmup + kIters; ++i) {
    keel_word_t t0 = ccnt();
    keel_syscall_mrs(KEEL_SYS_SEND, ntfn, 0, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 0);
    keel_word_t t1 = shm[2];
    if (i >= kWarmup) g_signal_samples[i - kWarmup] = t1 - t0;
  }
  keel_signal(t->arg[2]);
}

keel_word_t median(keel_word_t* v, unsigned n) {
  for (unsigned i = 1; i < n; ++i) {
    keel_word_t x = v[i];
    unsigned j = i;
    while (j > 0 && v[j - 1] > x) {
      v[j] = v[j - 1];
      --j;
    }
    v[j] = x;
  }
  return v[n / 2];
}

// Map a fresh page into our space and into `vspace` at kShmVa; returns our address.
volatile keel_word_t* shared_page(keel_cptr_t vspace) {
  keel_cptr_t f = 0;
  auto* p = static_cast<volatile keel_word_t*>(new_page(&f));
  if (p == nullptr) return nullptr;
  keel_cptr_t f2 = copy(f);
  keel_error_t e = map_at(vspace, f2, kShmVa, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE,
                          KEEL_VM_DEFAULT | KEEL_VM_EXECUTE_NEVER);
  if (e != KEEL_NO_ERROR) {
    fail(__FILE__, __LINE__, "map shared page: %s", err_name(e));
    return nullptr;
  }
  return p;
}

keel_word_t g_call[kIters], g_replyrecv[kIters];

bool bench_ipc(keel_word_t ovh) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t reply = alloc_obj(KEEL_OBJ_REPLY);
  keel_cptr_t caps[] = {ep, reply};
  Process p{};
  ThreadOpts o;
  o.priority = KEEL_MAX_PRIO;  // the server runs at the client's priority (seL4bench does too)
  o.start = false;
  o.debug_perms = KEEL_DEBUG_PERM_CYCLE_COUNTER;  // it reads the counter (the root task may)
  if (!spawn_process(&p, call_server, kShmVa, 0, caps, 2, o)) return false;
  volatile keel_word_t* shm = shared_page(p.vspace);
  if (shm == nullptr) return false;
  // Start the server; it blocks in Recv. Then take its SC away: a passive server runs on the
  // caller's donated SC (MCS), the case the fastpath serves.
  if (keel_tcb_resume(p.tcb) != KEEL_NO_ERROR) return false;
  keel_yield();
  sleep_us(1000);
  keel_error_t e = keel_sched_context_unbind(p.sc);
  if (e != KEEL_NO_ERROR) {
    fail(__FILE__, __LINE__, "unbind server SC: %s", err_name(e));
    return false;
  }
  for (unsigned i = 0; i < kWarmup + kIters; ++i) {
    keel_word_t t0 = ccnt();
    keel_syscall_mrs(KEEL_SYS_CALL, ep, 0, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 0);
    keel_word_t t3 = ccnt();
    if (i >= kWarmup) {
      g_call[i - kWarmup] = shm[0] - t0 - ovh;
      g_replyrecv[i - kWarmup] = t3 - shm[1] - ovh;
    }
  }
  keel_word_t call_min = ~0ull, rr_min = ~0ull;
  for (unsigned i = 0; i < kIters; ++i) {
    if (g_call[i] < call_min) call_min = g_call[i];
    if (g_replyrecv[i] < rr_min) rr_min = g_replyrecv[i];
  }
  keel_word_t call = median(g_call, kIters);
  keel_word_t rr = median(g_replyrecv, kIters);
  keel_printf("kbench: call median %lu min %lu, replyrecv median %lu min %lu (counter overhead %lu)\n", call,
              call_min, rr, rr_min, ovh);
  // For comparison (not a BENCH figure): the same Call with 5 words, which the fastpath does not
  // take (more than 4 message registers) — shows how much the fastpath saves.
  for (unsigned i = 0; i < kIters; ++i) {
    keel_word_t t0 = ccnt();
    keel_syscall_mrs(KEEL_SYS_CALL, ep, keel_msginfo_new(0, 0, 0, 5), nullptr, nullptr, nullptr, nullptr, nullptr, 0,
                     0);
    g_call[i] = shm[0] - t0 - ovh;
  }
  keel_printf("kbench: call with 5 words (slowpath) median %lu\n", median(g_call, kIters));
  keel_printf("BENCH kernel.ipc.call.instructions %lu instructions\n", call);
  keel_printf("BENCH kernel.ipc.replyrecv.instructions %lu instructions\n", rr);
  keel_printf("BENCH kernel.ipc.roundtrip.instructions %lu instructions\n", call + rr);
  return true;
}

bool bench_signal(keel_word_t ovh) {
  keel_cptr_t ntfn = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t done = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t caps[] = {ntfn};
  Process p{};
  ThreadOpts hi;
  hi.priority = 200;
  hi.budget_us = 10000;
  hi.period_us = 10000;
  hi.start = false;
  hi.debug_perms = KEEL_DEBUG_PERM_CYCLE_COUNTER;
  if (!spawn_process(&p, waiter, kShmVa, 0, caps, 1, hi)) return false;
  volatile keel_word_t* shm = shared_page(p.vspace);
  if (shm == nullptr || keel_tcb_resume(p.tcb) != KEEL_NO_ERROR) return false;
  ThreadOpts lo;
  lo.priority = 100;
  lo.budget_us = 10000;
  lo.period_us = 10000;
  lo.start = false;
  lo.debug_perms = KEEL_DEBUG_PERM_CYCLE_COUNTER;
  Thread* s = spawn(signaller, ntfn, lo);
  if (s == nullptr) return false;
  s->arg[1] = reinterpret_cast<keel_word_t>(shm);
  s->arg[2] = mint(done, KEEL_RIGHTS_ALL, 1);
  if (keel_tcb_resume(s->tcb) != KEEL_NO_ERROR) return false;
  keel_word_t w = 0;
  keel_wait(done, &w);  // we (255) block; the waiter (200) blocks in Wait; the signaller runs
  keel_word_t mn = ~0ull;
  for (unsigned i = 0; i < kIters; ++i) {
    g_signal_samples[i] -= ovh;
    if (g_signal_samples[i] < mn) mn = g_signal_samples[i];
  }
  keel_word_t med = median(g_signal_samples, kIters);
  keel_printf("kbench: signal->wait median %lu min %lu\n", med, mn);
  keel_printf("BENCH kernel.signal_wait.instructions %lu instructions\n", med);
  return true;
}

}  // namespace

extern "C" int keel_main(void* start_arg) {
  keel_printf("kbench: Keel kernel IPC benchmarks (instructions under -icount shift=0)\n");
  if (!init(static_cast<const keel_boot_info_t*>(start_arg))) return 2;
  // Counter-read overhead: two reads back to back.
  keel_word_t ovh = ~0ull;
  for (int i = 0; i < 16; ++i) {
    keel_word_t a = ccnt();
    keel_word_t b = ccnt();
    if (b - a < ovh) ovh = b - a;
  }
  begin_test();
  bool ok = bench_ipc(ovh);
  end_test();
  begin_test();
  ok = bench_signal(ovh) && ok;
  end_test();
  if (!ok || failed()) {
    keel_printf("kbench: FAILED\n");
    return 1;
  }
  return 0;
}

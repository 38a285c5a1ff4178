// The hostile-thread fuzz test: one user thread issues at least 1,000,000 random or malformed
// syscalls and invocations — random capability addresses, lengths, labels, extra caps, rights,
// pointers, syscall numbers — against a prepared set of real objects in its own CSpace. The root
// task supervises: it restarts the fuzzer whenever it faults (the fault arrives as IPC) or stops
// making progress (blocked on IPC nobody will answer), and finally asks the kernel's invariant
// walker (DebugCheckInvariants) to check every invariant. The kernel must never panic or hang.
// PASS = the syscall count was reached, no invariant violations, and the kernel still works.
//
// Deterministic: xorshift64* from a printed seed (KFUZZ_SEED at build time). The fuzzer shares
// the root task's address space (its code and RNG state), but not its CSpace: it holds only
// copies of the prepared objects, so it cannot revoke what the supervisor depends on.
#include "../framework/ktest.h"

#ifndef KFUZZ_SEED
#define KFUZZ_SEED 0x4b45454c46555a5aull
#endif
#ifndef KFUZZ_SYSCALLS
#define KFUZZ_SYSCALLS 1000000ull
#endif

using namespace ktest;

namespace {

constexpr keel_word_t kCnodeBits = 8;  // the fuzzer's CSpace: 256 slots, cptr == slot
constexpr keel_word_t kTickBadge = 0x71c;
constexpr keel_word_t kFaultBadge = 0xfa17;

// Slots of the fuzzer's CSpace.
enum : keel_word_t {
  kSelfCnode = 1,
  kEp = 2,
  kEpBadged = 3,
  kEpNoGrant = 4,
  kNtfn = 5,
  kNtfnBadged = 6,
  kReply = 7,
  kVictimTcb = 8,
  kVictimTcb2 = 9,
  kSc = 10,
  kScUnconfigured = 11,
  kUntyped = 12,
  kVspace = 13,
  kFrame = 14,
  kFrame2 = 15,
  kPt = 16,
  kPt2 = 17,
  kPt3 = 18,
  kIrqHandler = 19,
  kSchedControl = 20,
  kAsidPool = 21,
  kIrqControl = 22,
  kAsidControl = 23,
  kUntyped4k = 24,
  kLargeFrame = 25,
  kNumPrepared = 26,
};

struct State {
  keel_word_t rng;
  volatile keel_word_t syscalls;  // issued so far (counted before each svc)
  volatile keel_word_t done;
  keel_word_t per_class[4];
  keel_word_t fault_msgs;  // VM-fault messages of the live victim received by the fuzzer
};
State g_state;

inline keel_word_t next(State& s) {
  s.rng ^= s.rng >> 12;
  s.rng ^= s.rng << 25;
  s.rng ^= s.rng >> 27;
  return s.rng * 0x2545f4914f6cdd1dull;
}
inline keel_word_t below(State& s, keel_word_t n) { return next(s) % n; }

// Interesting values: boundaries, slots, sizes, addresses, all-ones.
keel_word_t interesting(State& s) {
  switch (below(s, 12)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return below(s, 64);
    case 3: return below(s, 256);  // a slot of our CNode
    case 4: return keel_word_t{1} << below(s, 64);
    case 5: return (keel_word_t{1} << below(s, 64)) - 1;
    case 6: return ~keel_word_t{0} - below(s, 4);
    case 7: return 0x400000 + below(s, 0x100000);           // our image
    case 8: return (next(s) & 0x7fffffffffffull) & ~0xfffull;  // a page-aligned user address
    case 9: return 0xffff000000000000ull + (next(s) & 0xffffffffffffull);  // kernel half
    case 10: return below(s, KEEL_OBJ_TYPE_COUNT + 2);
    default: return next(s);
  }
}

keel_word_t cptr(State& s) {
  switch (below(s, 8)) {
    case 0: return next(s);                       // random 64-bit address
    case 1: return below(s, 256) | (next(s) << 8);  // guard bits set: lookup failure
    case 2: return below(s, 256);                 // any slot, mostly empty
    default: return 1 + below(s, kNumPrepared - 1);  // a real object
  }
}

// The invoked capability of class-0 operations: mostly a real object (that is where the
// decoding code is), 1 in 8 a random address (a cap fault).
keel_word_t target(State& s) { return below(s, 8) == 0 ? cptr(s) : 1 + below(s, kNumPrepared - 1); }

bool is_endpoint_slot(keel_word_t c) { return c == kEp || c == kEpBadged || c == kEpNoGrant; }

void fill_ipc_buffer(State& s, keel_word_t len) {
  keel_ipc_buffer_t* b = keel_get_ipc_buffer();
  // Words beyond MR3 (read from the IPC buffer by the kernel): mostly raw PRNG output, every
  // eighth an "interesting" value — drawing all of them through interesting() made the
  // fuzzer's own code the bulk of the run time.
  for (keel_word_t i = 4; i < len && i < KEEL_MSG_MAX_LENGTH; ++i) b->msg[i] = (i & 7) ? next(s) : interesting(s);
  for (unsigned i = 0; i < KEEL_MSG_MAX_EXTRA_CAPS; ++i) b->caps_or_badges[i] = cptr(s);
  b->receive_cnode = below(s, 4) == 0 ? next(s) : (below(s, 2) ? keel_word_t{kSelfCnode} : keel_word_t{0});
  b->receive_index = below(s, 256);
  b->receive_depth = below(s, 3) == 0 ? below(s, 70) : (below(s, 2) ? 64 : kCnodeBits);
}

keel_word_t random_info(State& s) {
  keel_word_t label = below(s, 4) == 0 ? next(s) >> 12 : below(s, KEEL_INVOCATION_COUNT + 3);
  keel_word_t len = below(s, 4) == 0 ? below(s, 128) : below(s, 8);
  return keel_msginfo_new(label, below(s, 8), below(s, 4), len);
}

void issue(State& s, keel_regs_t* r) {
  s.syscalls = s.syscalls + 1;
  keel_syscall_regs(r);
}

// One random operation. Blocking IPC on real endpoints is avoided (nobody would answer); it
// still happens through random capability addresses, and the supervisor recovers from it.
void one_op(State& s) {
  keel_regs_t r{};
  keel_word_t cls = below(s, 10);
  if (cls < 5) {  // an invocation on a (mostly) real object with valid-ish arguments
    s.per_class[0]++;
    keel_word_t c = target(s);
    r.x1 = random_info(s);
    fill_ipc_buffer(s, keel_msginfo_length(r.x1));
    r.x0 = c;
    r.x2 = interesting(s);
    r.x3 = interesting(s);
    r.x4 = interesting(s);
    r.x5 = interesting(s);
    r.x7 = is_endpoint_slot(c) ? KEEL_SYS_NB_SEND : KEEL_SYS_CALL;
  } else if (cls < 7) {  // non-blocking IPC on real endpoints / notifications
    s.per_class[1]++;
    if (below(s, 5) == 0) {
      // Answer whatever the Reply object holds (e.g. the live victim's fault): ReplyRecv on the
      // notification, signalled first so that the receive phase does not block. Mostly label 0
      // (resume the faulting thread), sometimes another label (leave it suspended).
      r.x7 = KEEL_SYS_SIGNAL;
      r.x0 = kNtfnBadged;
      issue(s, &r);
      r = keel_regs_t{};
      r.x7 = KEEL_SYS_REPLY_RECV;
      r.x0 = kNtfn;
      r.x1 = below(s, 4) ? keel_msginfo_new(0, 0, 0, below(s, 5)) : random_info(s);
      fill_ipc_buffer(s, keel_msginfo_length(r.x1));
      r.x2 = interesting(s);
      r.x3 = interesting(s);
      r.x6 = kReply;
      issue(s, &r);
      // Keep the victim going: a Recv that reuses the Reply object, a non-zero reply label or
      // the fuzzer's own TCB invocations leave it Inactive; Resume it now and then.
      if (below(s, 4) == 0) {
        r = keel_regs_t{};
        r.x7 = KEEL_SYS_CALL;
        r.x0 = kVictimTcb;
        r.x1 = keel_msginfo_new(KEEL_TCB_RESUME, 0, 0, 0);
        issue(s, &r);
      }
      return;
    }
    static const keel_word_t kOps[] = {KEEL_SYS_NB_SEND, KEEL_SYS_NB_RECV, KEEL_SYS_NB_WAIT, KEEL_SYS_YIELD};
    r.x7 = kOps[below(s, 4)];
    keel_word_t objs[] = {kEp, kEpBadged, kEpNoGrant, kNtfn, kNtfnBadged, kReply};
    r.x0 = objs[below(s, 6)];
    r.x1 = random_info(s);
    fill_ipc_buffer(s, keel_msginfo_length(r.x1));
    r.x2 = interesting(s);
    r.x6 = below(s, 2) ? kReply : cptr(s);
    if (r.x7 == KEEL_SYS_NB_SEND && r.x0 == kReply) r.x7 = KEEL_SYS_NB_RECV;
    bool recv_ep = r.x7 == KEEL_SYS_NB_RECV && is_endpoint_slot(r.x0);
    issue(s, &r);
    if (recv_ep && keel_msginfo_label(r.x1) == KEEL_FAULT_VM) s.fault_msgs++;
    return;
  } else if (cls < 9) {  // any syscall number of the ABI with random registers
    s.per_class[2]++;
    r.x7 = below(s, KEEL_SYS_COUNT + 2);
    // The debug syscalls stay in: the fuzzer has no debug permission, so each of them (DebugHalt
    // included) must be an UnknownSyscall fault, never output or the end of the run.
    r.x0 = cptr(s);
    r.x1 = random_info(s);
    fill_ipc_buffer(s, keel_msginfo_length(r.x1));
    r.x2 = interesting(s);
    r.x3 = interesting(s);
    r.x4 = interesting(s);
    r.x5 = interesting(s);
    r.x6 = cptr(s);
    r.x8 = cptr(s);
    // Blocking calls on real endpoints/notifications would wait for a partner that never comes
    // (the supervisor then restarts the fuzzer after a tick). Keep 1 in 16 of them; the rest go
    // to capability addresses that do not resolve (a cap fault, handled quickly).
    bool blocking = r.x7 == KEEL_SYS_CALL || r.x7 == KEEL_SYS_SEND || r.x7 == KEEL_SYS_RECV || r.x7 == KEEL_SYS_WAIT ||
                    r.x7 == KEEL_SYS_REPLY_RECV || r.x7 == KEEL_SYS_NB_SEND_RECV || r.x7 == KEEL_SYS_NB_SEND_WAIT;
    if (blocking && below(s, 16) != 0) {
      if (r.x7 == KEEL_SYS_NB_SEND_RECV || r.x7 == KEEL_SYS_NB_SEND_WAIT) r.x8 = next(s) | (1ull << 63);
      else if (r.x7 != KEEL_SYS_CALL || is_endpoint_slot(r.x0)) r.x0 = next(s) | (1ull << 63);
    }
  } else {  // complete garbage, including the syscall number
    s.per_class[3]++;
    r.x0 = next(s);
    r.x1 = next(s);
    r.x2 = next(s);
    r.x3 = next(s);
    r.x4 = next(s);
    r.x5 = next(s);
    r.x6 = next(s);
    r.x7 = next(s);
    r.x8 = next(s);
  }
  issue(s, &r);
}

void fuzzer(Thread*) {
  State& s = g_state;
  while (s.syscalls < KFUZZ_SYSCALLS) one_op(s);
  s.done = 1;
  for (;;) keel_yield();
}

// Wakes the supervisor every `arg[1]` µs with a badged message (a tick).
void ticker(Thread* t) {
  keel_word_t period = t->arg[1] * ticks_per_second() / 1000000;
  keel_word_t next_tick = now_ticks() + period;
  for (;;) {
    while (now_ticks() < next_tick) keel_yield();
    next_tick += period;
    keel_send_mrs(t->arg[0], keel_msginfo_new(0, 0, 0, 0), 0, 0, 0, 0);
  }
}

bool copy_into(keel_cptr_t cnode, keel_word_t slot, keel_cptr_t src, keel_word_t rights = KEEL_RIGHTS_ALL,
               keel_word_t badge = 0) {
  keel_error_t e = badge ? keel_cnode_mint(cnode, slot, kCnodeBits, kRoot, src, kDepth, rights, badge)
                         : keel_cnode_copy(cnode, slot, kCnodeBits, kRoot, src, kDepth, rights);
  if (e != KEEL_NO_ERROR) keel_printf("KFUZZ: preparing slot %lu from %lu: %s (slot left empty)\n", slot, src, err_name(e));
  return e == KEEL_NO_ERROR;
}

bool restart(Thread* t) {
  keel_error_t e = keel_tcb_suspend(t->tcb);
  if (e != KEEL_NO_ERROR) {
    keel_printf("KFUZZ: suspend fuzzer: %s\n", err_name(e));
    return false;
  }
  keel_word_t regs[KEEL_REG_TPIDR_EL0 + 1] = {};
  regs[KEEL_REG_PC] = reinterpret_cast<keel_word_t>(&fuzzer);
  regs[KEEL_REG_SP] = t->stack_top;
  regs[KEEL_REG_X0] = reinterpret_cast<keel_word_t>(t);
  regs[KEEL_REG_TPIDR_EL0] = reinterpret_cast<keel_word_t>(t->ipc);
  e = keel_tcb_write_registers(t->tcb, true, KEEL_REG_TPIDR_EL0 + 1, regs);
  if (e != KEEL_NO_ERROR) {
    keel_printf("KFUZZ: restart fuzzer: %s\n", err_name(e));
    return false;
  }
  return true;
}

int run() {
  // ---- The objects the fuzzer gets (copies in its own CNode). ----
  keel_cptr_t cnode = alloc_obj(KEEL_OBJ_CNODE, kCnodeBits);
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t ntfn = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t reply = alloc_obj(KEEL_OBJ_REPLY);
  keel_cptr_t vt1 = alloc_obj(KEEL_OBJ_TCB);
  keel_cptr_t vt2 = alloc_obj(KEEL_OBJ_TCB);
  keel_cptr_t sc = alloc_obj(KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS);
  keel_cptr_t sc2 = alloc_obj(KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS);
  keel_cptr_t ut = alloc_obj(KEEL_OBJ_UNTYPED, 16);  // 64 KiB: retypes zero memory, keep them cheap
  keel_cptr_t ut4k = alloc_obj(KEEL_OBJ_UNTYPED, 12);
  keel_cptr_t vs = alloc_obj(KEEL_OBJ_VSPACE);
  keel_cptr_t f1 = alloc_obj(KEEL_OBJ_SMALL_PAGE);
  keel_cptr_t f2 = alloc_obj(KEEL_OBJ_SMALL_PAGE);
  keel_cptr_t lf = alloc_obj(KEEL_OBJ_LARGE_PAGE);
  keel_cptr_t pt1 = alloc_obj(KEEL_OBJ_PAGE_TABLE);
  keel_cptr_t pt2 = alloc_obj(KEEL_OBJ_PAGE_TABLE);
  keel_cptr_t pt3 = alloc_obj(KEEL_OBJ_PAGE_TABLE);
  keel_cptr_t irq = alloc_slot();
  if (failed()) return 1;
  if (keel_irq_control_get(KEEL_CAP_INIT_IRQ_CONTROL, 34, kRoot, irq, kDepth) != KEEL_NO_ERROR) {
    keel_printf("KFUZZ: no IRQ handler for IRQ 34; continuing without\n");
  }
  if (keel_sched_control_configure_flags(KEEL_CAP_INIT_SCHED_CONTROL, sc, 500, 10000, 0, 0, 0) != KEEL_NO_ERROR ||
      keel_asid_pool_assign(KEEL_CAP_INIT_ASID_POOL, vs) != KEEL_NO_ERROR) {
    keel_printf("KFUZZ: preparing SC / VSpace failed\n");
    return 1;
  }
  // Victim 1 is alive: it runs (priority 150, above the fuzzer, 0.5 ms per 10 ms) in the victim VSpace where
  // nothing is mapped, so it VM-faults at once, into the fuzzer's endpoint (kEp) — the fuzzer's
  // NBRecv / ReplyRecv then pick up and answer fault messages among everything else.
  {
    keel_word_t regs[KEEL_REG_SP + 1] = {};
    regs[KEEL_REG_PC] = 0x1000;
    regs[KEEL_REG_SP] = 0x2000;
    if (keel_tcb_configure(vt1, cnode, keel_cnode_cap_data(0, 64 - kCnodeBits), vs, 0, 0, 0) != KEEL_NO_ERROR ||
        keel_tcb_set_sched_params(vt1, KEEL_CAP_INIT_TCB, 0, 150, sc, ep) != KEEL_NO_ERROR ||
        keel_tcb_write_registers(vt1, true, KEEL_REG_SP + 1, regs) != KEEL_NO_ERROR) {
      keel_printf("KFUZZ: preparing the live victim failed\n");
      return 1;
    }
  }
  bool ok = copy_into(cnode, kSelfCnode, cnode, KEEL_RIGHTS_ALL, keel_cnode_cap_data(0, 64 - kCnodeBits)) &&
            copy_into(cnode, kEp, ep) && copy_into(cnode, kEpBadged, ep, KEEL_RIGHTS_ALL, 0x11) &&
            copy_into(cnode, kEpNoGrant, ep, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE) && copy_into(cnode, kNtfn, ntfn) &&
            copy_into(cnode, kNtfnBadged, ntfn, KEEL_RIGHTS_ALL, 0x22) && copy_into(cnode, kReply, reply) &&
            copy_into(cnode, kVictimTcb, vt1) && copy_into(cnode, kVictimTcb2, vt2) && copy_into(cnode, kSc, sc) &&
            copy_into(cnode, kScUnconfigured, sc2) && copy_into(cnode, kUntyped, ut) &&
            copy_into(cnode, kVspace, vs) && copy_into(cnode, kFrame, f1) && copy_into(cnode, kFrame2, f2) &&
            copy_into(cnode, kPt, pt1) && copy_into(cnode, kPt2, pt2) && copy_into(cnode, kPt3, pt3) &&
            copy_into(cnode, kUntyped4k, ut4k) && copy_into(cnode, kLargeFrame, lf);
  // Control caps: the kernel may refuse to copy them (seL4 lets some be derived, not all); the
  // fuzzer then simply does not get them.
  copy_into(cnode, kSchedControl, KEEL_CAP_INIT_SCHED_CONTROL);
  copy_into(cnode, kAsidPool, KEEL_CAP_INIT_ASID_POOL);
  copy_into(cnode, kIrqControl, KEEL_CAP_INIT_IRQ_CONTROL);
  copy_into(cnode, kAsidControl, KEEL_CAP_INIT_ASID_CONTROL);
  if (keel_debug_cap_identify(irq, nullptr, nullptr) == KEEL_CAP_IRQ_HANDLER) ok = ok && copy_into(cnode, kIrqHandler, irq);
  if (!ok) return 1;

  // ---- Supervisor plumbing: faults and ticks arrive on one endpoint, told apart by badge. ----
  keel_cptr_t sup = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t sup_reply = alloc_obj(KEEL_OBJ_REPLY);
  keel_cptr_t fault_cap = mint(sup, KEEL_RIGHTS_ALL, kFaultBadge);
  keel_cptr_t tick_cap = mint(sup, KEEL_RIGHTS_ALL, kTickBadge);
  ThreadOpts to;
  to.priority = 250;
  to.budget_us = 100;
  to.period_us = 2000;
  Thread* tick = spawn(ticker, tick_cap, to);
  if (tick == nullptr) return 1;
  tick->arg[1] = 10000;  // 10 ms

  ThreadOpts fo;
  fo.priority = 100;
  fo.budget_us = 10000;
  fo.period_us = 10000;
  fo.fault_ep = fault_cap;
  fo.start = false;
  fo.debug_perms = 0;  // no debug syscall and no cycle counter: each is a fault like any other
  Thread* fz = spawn(fuzzer, fo);
  if (fz == nullptr) return 1;
  // Its own CSpace (the guard makes cptr == slot index at depth 64).
  keel_error_t e = keel_tcb_set_space(fz->tcb, fault_cap, cnode, keel_cnode_cap_data(0, 64 - kCnodeBits),
                                      KEEL_CAP_INIT_VSPACE, 0);
  if (e != KEEL_NO_ERROR) {
    keel_printf("KFUZZ: TCB_SetSpace for the fuzzer: %s\n", err_name(e));
    return 1;
  }
  g_state.rng = KFUZZ_SEED;
  keel_printf("KFUZZ: seed 0x%lx, target %llu syscalls\n", g_state.rng, (unsigned long long)KFUZZ_SYSCALLS);
  if (keel_tcb_resume(fz->tcb) != KEEL_NO_ERROR) return 1;

  keel_word_t faults[8] = {};
  keel_word_t restarts = 0, stalls = 0, ticks = 0, checks = 0;
  keel_word_t last = 0, last_report = 0;
  keel_word_t t0 = now_ticks();
  const keel_word_t limit = 200 * ticks_per_second();  // give up after 200 s
  bool resume_pending = false;
  keel_word_t resumed = 0;
  while (!g_state.done) {
    keel_word_t badge = 0;
    // An unknown syscall is answered with an empty reply (label 0): the fuzzer continues after
    // its svc (docs/syscalls.md, Faults), one ReplyRecv instead of Suspend + WriteRegisters +
    // Recv. A label-0 reply to any other fault re-executes the syscall or instruction that
    // faulted, so for those the fuzzer is restarted where it left off.
    keel_word_t info = resume_pending ? keel_reply_recv(sup, keel_msginfo_new(0, 0, 0, 0), &badge, sup_reply)
                                      : keel_recv(sup, &badge, sup_reply);
    resume_pending = false;
    if (badge == kFaultBadge) {
      keel_word_t label = keel_msginfo_label(info);
      faults[label < 8 ? label : 7]++;
      if (label == KEEL_FAULT_UNKNOWN_SYSCALL) {
        resume_pending = true;
        ++resumed;
        continue;
      }
      if (!restart(fz)) return 1;
      ++restarts;
      continue;
    }
    if (badge != kTickBadge) {
      keel_printf("KFUZZ: unexpected message badge 0x%lx label %lu\n", badge, keel_msginfo_label(info));
      continue;
    }
    ++ticks;
    keel_word_t now = g_state.syscalls;
    if (now == last && !g_state.done) {  // no progress for a whole tick: blocked somewhere
      ++stalls;
      if (!restart(fz)) return 1;
    }
    last = now;
    if (now - last_report >= 100000) {
      last_report = now - now % 100000;
      keel_word_t v = keel_debug_check_invariants();
      ++checks;
      keel_printf("KFUZZ: %lu syscalls, %lu resumed, %lu restarts, %lu stalls, invariants: %lu violations\n", now,
                  resumed, restarts, stalls, v);
      if (v != 0) return 1;
    }
    if (now_ticks() - t0 > limit) {
      keel_printf("KFUZZ: time limit reached at %lu syscalls\n", now);
      return 1;
    }
  }
  keel_tcb_suspend(fz->tcb);
  keel_tcb_suspend(tick->tcb);
  keel_word_t secs_x10 = (now_ticks() - t0) * 10 / ticks_per_second();
  keel_printf("KFUZZ: %lu syscalls in %lu.%lu s: invocations %lu, nb-ipc %lu, any-syscall %lu, garbage %lu\n",
              g_state.syscalls, secs_x10 / 10, secs_x10 % 10, g_state.per_class[0], g_state.per_class[1],
              g_state.per_class[2], g_state.per_class[3]);
  keel_printf("KFUZZ: the live victim's VM-fault messages received by the fuzzer: %lu\n", g_state.fault_msgs);
  keel_printf("KFUZZ: faults handled: cap %lu, unknown-syscall %lu, user-exception %lu, vm %lu, timeout %lu; "
              "resumed by reply %lu, restarts %lu (stalls %lu), ticks %lu\n",
              faults[KEEL_FAULT_CAP], faults[KEEL_FAULT_UNKNOWN_SYSCALL], faults[KEEL_FAULT_USER_EXCEPTION],
              faults[KEEL_FAULT_VM], faults[KEEL_FAULT_TIMEOUT], resumed, restarts, stalls, ticks);
  // Tear everything down (revoke the untypeds the objects came from) and check again.
  end_test();
  keel_word_t v = keel_debug_check_invariants();
  keel_printf("KFUZZ: after teardown: %lu invariant violations (%lu checks during the run)\n", v, checks + 1);
  if (v != 0) return 1;
  // The kernel still works: a fresh notification round trip.
  begin_test();
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_signal(mint(n, KEEL_RIGHTS_ALL, 3));
  keel_word_t w = 0;
  keel_poll(n, &w);
  end_test();
  if (w != 3 || failed()) {
    keel_printf("KFUZZ: kernel unusable after the run\n");
    return 1;
  }
  return g_state.syscalls >= KFUZZ_SYSCALLS ? 0 : 1;
}

}  // namespace

extern "C" int keel_main(void* start_arg) {
  keel_printf("KFUZZ: hostile-thread syscall fuzzer\n");
  if (!init(static_cast<const keel_boot_info_t*>(start_arg))) return 2;
  begin_test();
  int rc = run();
  keel_printf(rc == 0 ? "KFUZZ: PASS\n" : "KFUZZ: FAIL\n");
  return rc;
}

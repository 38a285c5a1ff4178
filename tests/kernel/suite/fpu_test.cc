// FP/SIMD for user threads: the kernel switches v0..v31, FPSR and FPCR lazily (the first FP use
// after a switch traps and loads the thread's own registers). Every check here covers all 32
// vector registers (both 64-bit halves) and FPCR/FPSR: the patterns are written and verified
// by the assembly below, because user code is compiled -mgeneral-regs-only and the compiler
// must not be trusted to touch (or keep its hands off) particular registers.
#include "../framework/ktest.h"

using namespace ktest;

namespace {

// Register i holds lo = seed + i * step, hi = lo ^ hi_xor; then FPCR and FPSR get fpcr / fpsr.
struct FpPattern {
  keel_word_t seed, step, hi_xor, fpcr, fpsr;
};
static_assert(sizeof(FpPattern) == 40);

}  // namespace

extern "C" void ktest_fpu_fill(const FpPattern* p);
// Bit i (0..31) set: v<i> differs from the pattern; bit 32: FPCR differs; bit 33: FPSR differs.
extern "C" keel_word_t ktest_fpu_check(const FpPattern* p);

asm(R"(
    .text
    .arch_extension fp
    .arch_extension simd
    .global ktest_fpu_fill
    .type ktest_fpu_fill, %function
ktest_fpu_fill:
    ldp     x1, x2, [x0]
    ldr     x3, [x0, #16]
    .irp    i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    eor     x4, x1, x3
    fmov    d\i, x1
    mov     v\i\().d[1], x4
    add     x1, x1, x2
    .endr
    ldp     x1, x2, [x0, #24]
    msr     fpcr, x1
    msr     fpsr, x2
    ret
    .size ktest_fpu_fill, . - ktest_fpu_fill

    .global ktest_fpu_check
    .type ktest_fpu_check, %function
ktest_fpu_check:
    ldp     x1, x2, [x0]
    ldr     x3, [x0, #16]
    mov     x5, #0
    mov     x6, #1
    .irp    i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    eor     x4, x1, x3
    fmov    x7, d\i
    mov     x8, v\i\().d[1]
    eor     x7, x7, x1
    eor     x8, x8, x4
    orr     x7, x7, x8
    cmp     x7, #0
    csel    x7, x6, xzr, ne
    orr     x5, x5, x7
    lsl     x6, x6, #1
    add     x1, x1, x2
    .endr
    ldp     x1, x2, [x0, #24]
    mrs     x7, fpcr
    cmp     x7, x1
    csel    x7, x6, xzr, ne
    orr     x5, x5, x7
    lsl     x6, x6, #1
    mrs     x7, fpsr
    cmp     x7, x2
    csel    x7, x6, xzr, ne
    orr     x5, x5, x7
    mov     x0, x5
    ret
    .size ktest_fpu_check, . - ktest_fpu_check
)");

namespace {

constexpr keel_word_t kReportLabel = 0xf9;
constexpr keel_word_t kIterations = 12;

// A distinct pattern per (thread seed, iteration); FPCR: rounding mode + FZ (bits 22..24),
// FPSR: cumulative exception flags (bits 0..4) — all implemented on cortex-a53/a72.
FpPattern pattern(keel_word_t seed, keel_word_t iteration) {
  keel_word_t s = seed * 0x9e3779b97f4a7c15ull + iteration * 0x100000001b3ull;
  return FpPattern{s, (s >> 7) | 1, ~s ^ (seed << 32), ((seed + iteration) % 8) << 22, (seed * 3 + iteration) & 0x1f};
}

keel_word_t counter() {
  keel_word_t v;
  asm volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
  return v;
}

// FP/SIMD work for `ticks` of wall time: verify the registers over and over (a preemption lands
// anywhere in between, including inside the check). A gap of more than ticks/8 between two
// counter reads (one check takes a few hundred instructions) means we were preempted: counted
// in *preempted.
keel_word_t work(const FpPattern& p, keel_word_t ticks, keel_word_t* preempted) {
  keel_word_t bad = 0;
  keel_word_t last = counter();
  const keel_word_t end = last + ticks;
  for (;;) {
    bad |= ktest_fpu_check(&p);
    keel_word_t now = counter();
    if (now - last > ticks / 8) ++*preempted;
    last = now;
    if (now >= end) return bad;
  }
}

// Runs in its own address space: slot 1 = the endpoint between the two workers, slot 2 = the
// report endpoint (badged). arg0 = seed, bit 63 set for the receiving side; arg1 = work ticks.
// Each iteration: fill all registers with this iteration's pattern, work (preempted by the
// other worker: same priority, budget shorter than the work), then exchange a message. The
// receiver's registers must survive the sender's FP use while it was blocked, and vice versa.
void worker(keel_word_t arg0, keel_word_t ticks) {
  const bool receiver = (arg0 >> 63) != 0;
  const keel_word_t seed = arg0 & ~(keel_word_t{1} << 63);
  keel_word_t bad = 0, preempted = 0;
  for (keel_word_t i = 0; i < kIterations; ++i) {
    FpPattern p = pattern(seed, i);
    if (receiver) {
      keel_word_t badge = 0, m = 0;
      keel_recv_mrs(1, &badge, 0, &m, nullptr, nullptr, nullptr);  // the sender's FP registers were live until now
      if (i > 0) {
        FpPattern prev = pattern(seed, i - 1);
        bad |= ktest_fpu_check(&prev);
      }
      ktest_fpu_fill(&p);
      bad |= work(p, ticks, &preempted);
    } else {
      ktest_fpu_fill(&p);
      bad |= work(p, ticks, &preempted);
      keel_send_mrs(1, keel_msginfo_new(0, 0, 0, 1), i, 0, 0, 0);
      bad |= ktest_fpu_check(&p);
    }
  }
  keel_send_mrs(2, keel_msginfo_new(kReportLabel, 0, 0, 3), bad, kIterations, preempted, 0);
  for (;;) {  // both workers end here as receivers: blocked for good
    keel_word_t badge = 0;
    keel_recv_mrs(1, &badge, 0, nullptr, nullptr, nullptr, nullptr);
  }
}

}  // namespace

KTEST(fpu_two_address_spaces_keep_their_registers) {
  keel_cptr_t link = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t report = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t reply = alloc_obj(KEEL_OBJ_REPLY);
  // 1 ms budgets at the same priority against 3 ms of work per iteration: every work phase is
  // preempted by the other worker (round robin) at least once.
  const keel_word_t work_ticks = 3 * ticks_per_second() / 1000;
  Process a{}, b{};
  ThreadOpts o;
  o.priority = 100;
  o.budget_us = 1000;
  o.period_us = 1000;
  o.fault_ep = mint(report, KEEL_RIGHTS_ALL, 0xfa);  // a fault (e.g. an FP trap delivered) is a failure
  keel_cptr_t caps_a[] = {link, mint(report, KEEL_RIGHTS_ALL, 0xa)};
  keel_cptr_t caps_b[] = {link, mint(report, KEEL_RIGHTS_ALL, 0xb)};
  // The test thread itself (root address space, higher priority) keeps its own pattern live
  // across everything: it is switched out while it waits for the reports.
  const FpPattern mine = pattern(77, 0);
  ktest_fpu_fill(&mine);
  REQUIRE(spawn_process(&b, worker, 0xb0b | (keel_word_t{1} << 63), work_ticks, caps_b, 2, o));
  REQUIRE(spawn_process(&a, worker, 0xa11ce, work_ticks, caps_a, 2, o));
  bool seen_a = false, seen_b = false;
  for (int n = 0; n < 2; ++n) {
    keel_word_t badge = 0, bad = 0, iters = 0, preempted = 0;
    keel_word_t info = keel_recv_mrs(report, &badge, reply, &bad, &iters, &preempted, nullptr);
    if (badge == 0xfa) {
      ktest::fail(__FILE__, __LINE__, "a worker faulted: label %llu, MR0 0x%llx", (unsigned long long)keel_msginfo_label(info),
                  (unsigned long long)bad);
      break;
    }
    CHECK_EQ(keel_msginfo_label(info), kReportLabel);
    CHECK(badge == 0xa || badge == 0xb);
    seen_a |= badge == 0xa;
    seen_b |= badge == 0xb;
    CHECK_EQ(bad, 0u);  // bit i: v<i> was wrong at some check; 32: FPCR, 33: FPSR
    CHECK_EQ(iters, kIterations);
    CHECK(preempted >= kIterations / 2);  // the work phases really were interleaved
    CHECK_EQ(ktest_fpu_check(&mine), 0u);
  }
  CHECK(seen_a && seen_b);
  CHECK_EQ(ktest_fpu_check(&mine), 0u);
}

namespace {

const FpPattern kZero{0, 0, 0, 0, 0};

// arg[0]: 1 = fill a pattern and stop (suspends itself); 2 = fill, then delete our own TCB (the
// FP owner dies while FP is enabled for it); 3 = report what a fresh thread sees.
void fp_thread(Thread* t) {
  if (t->arg[0] == 3) {
    t->result[0] = ktest_fpu_check(&kZero);
    t->progress = 1;
    return;
  }
  FpPattern p = pattern(t->arg[1], 0);
  ktest_fpu_fill(&p);
  t->result[0] = ktest_fpu_check(&p);
  t->progress = 1;
  if (t->arg[0] == 2) {
    keel_cnode_delete(kRoot, t->tcb, kDepth);
    t->result[1] = 1;  // never reached: the thread no longer exists
  }
}

// Spawn a thread that reports its first view of the FP registers; returns that view's mask
// against all-zero registers and FPCR/FPSR (0 = no leak).
keel_word_t fresh_thread_view() {
  Thread* t = spawn(fp_thread, 3);
  if (t == nullptr) return ~keel_word_t{0};
  if (!wait_for(t->progress, 1)) return ~keel_word_t{0} - 1;
  return t->result[0];
}

}  // namespace

KTEST(fpu_new_thread_starts_zeroed) {
  // The previous FP user is alive (suspended) and its values are still in the registers.
  ThreadOpts o;
  Thread* x = spawn(fp_thread, 1, o);
  REQUIRE(x != nullptr);
  REQUIRE(wait_for(x->done, 1));
  CHECK_EQ(x->result[0], 0u);
  CHECK_EQ(fresh_thread_view(), 0u);
  // And a second fresh thread after that one (the owner is now the first fresh thread).
  CHECK_EQ(fresh_thread_view(), 0u);
}

KTEST(fpu_deleted_owner) {
  // 1. The owner is deleted by someone else while its values are live in the registers.
  Thread* x = spawn(fp_thread, 1);
  REQUIRE(x != nullptr);
  REQUIRE(wait_for(x->done, 1));
  CHECK_EQ(x->result[0], 0u);
  CHECK_ERR(keel_cnode_delete(kRoot, x->tcb, kDepth), KEEL_NO_ERROR);
  CHECK_EQ(fresh_thread_view(), 0u);
  // 2. The owner deletes itself while FP/SIMD is enabled for it.
  Thread* y = spawn(fp_thread, 2);
  REQUIRE(y != nullptr);
  REQUIRE(wait_for(y->progress, 1));
  sleep_us(2000);
  CHECK_EQ(y->result[0], 0u);
  CHECK_EQ(y->result[1], 0u);
  CHECK_EQ(fresh_thread_view(), 0u);
  // 3. The test thread uses FP afterwards too (the walker after this test checks the owner).
  const FpPattern p = pattern(5, 5);
  ktest_fpu_fill(&p);
  CHECK_EQ(ktest_fpu_check(&p), 0u);
}

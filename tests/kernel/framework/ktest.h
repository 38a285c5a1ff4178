// ktest.h — the in-QEMU kernel test framework (sel4test style): the test suite runs as the root
// task, one test after the other; every test gets fresh kernel objects from the boot untypeds,
// and after each test everything it created is revoked and the kernel's invariant walker runs.
//
//   KTEST(name) { ... CHECK(...); CHECK_EQ(a, b); CHECK_ERR(keel_x(...), KEEL_RANGE_ERROR); }
//
// CHECK* record a failure (file:line, values) and continue; REQUIRE* also end the test.
#pragma once

#include <stdint.h>

#include "keel/rt.h"
#include "keel/rt/rt.hh"

namespace ktest {

struct TestCase {
  const char* name;
  void (*fn)();
};

void fail(const char* file, int line, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
bool failed();            // has the current test failed so far?
const char* err_name(keel_word_t e);

// ---- Objects and slots (all released after the test) --------------------------------------
// Test bodies run at this priority (above every helper they create, below the sleeper and the
// runner's watchdog).
inline constexpr keel_word_t kTestPriority = 250;
inline constexpr keel_cptr_t kRoot = KEEL_CAP_INIT_CNODE;  // cptr == slot index at depth 64
inline constexpr keel_word_t kDepth = 64;

// Set up from the boot info (slot range, untyped pool); false if the boot info is unusable.
bool init(const keel_boot_info_t* bi);
void begin_test();  // clears the failure flag
void end_test();    // revokes and deletes everything the test made
const keel_boot_info_t& boot_info();
keel_cptr_t alloc_slot();                 // an empty slot of the root CNode (0 if none left)
// Retype one object into a new slot; 0 (and the test fails) if impossible.
keel_cptr_t alloc_obj(keel_word_t type, keel_word_t size_bits = 0);
// Like alloc_obj but returns the error instead of failing (for tests of the failure itself).
keel_error_t try_alloc_obj(keel_word_t type, keel_word_t size_bits, keel_cptr_t* out);
// Mint a copy of `src` with rights and badge into a new slot.
keel_cptr_t mint(keel_cptr_t src, keel_word_t rights, keel_word_t badge);
keel_cptr_t copy(keel_cptr_t src, keel_word_t rights = KEEL_RIGHTS_ALL);
// The untyped cap (boot slot) a device physical address lies in, 0 if none.
keel_cptr_t device_untyped_for(keel_paddr_t pa, keel_paddr_t* ut_base, unsigned* ut_bits);

// ---- Memory in the root task's address space ------------------------------------------------
// Map `frame` at a fresh virtual address of the root VSpace (page tables created as needed).
keel_vaddr_t map_frame(keel_cptr_t frame, keel_word_t rights, keel_word_t attr = KEEL_VM_DEFAULT);
// A fresh zeroed 4 KiB page mapped read-write; *frame_out gets its frame cap if non-null.
void* new_page(keel_cptr_t* frame_out = nullptr);
// Map `frame` at `va` of `vspace`, creating page tables from the pool as needed.
keel_error_t map_at(keel_cptr_t vspace, keel_cptr_t frame, keel_vaddr_t va, keel_word_t rights, keel_word_t attr);
// An unused page-aligned range of the root VSpace (nothing mapped there; reserved for the test).
keel_vaddr_t reserve_va(keel_word_t bytes);

// ---- Threads ------------------------------------------------------------------------------------
struct Thread {
  keel_cptr_t tcb;
  keel_cptr_t sc;
  keel_ipc_buffer_t* ipc;
  void (*fn)(Thread*);
  keel_word_t arg[6];
  volatile keel_word_t result[4];
  volatile keel_word_t progress;
  volatile keel_word_t done;
  uintptr_t stack_top;
};

struct ThreadOpts {
  keel_word_t priority = 100;
  keel_word_t budget_us = 5000;
  keel_word_t period_us = 5000;
  keel_cptr_t fault_ep = 0;
  keel_word_t sc_badge = 0;
  bool start = true;
  // TCB_SetDebugPermissions: kDebugDefault = console, halt and the kernel-test calls (what a test
  // helper thread needs to report); 0 for a thread that must have none (the fuzzer).
  static constexpr keel_word_t kDebugDefault = ~0ull;
  keel_word_t debug_perms = kDebugDefault;
};

// A thread in the root task's own address space and CSpace, running fn(t) on its own stack and
// IPC buffer. When fn returns the thread sets t->done and suspends itself.
Thread* spawn(void (*fn)(Thread*), const ThreadOpts& opts = {});
Thread* spawn(void (*fn)(Thread*), keel_word_t arg0, const ThreadOpts& opts = {});

// A thread in a NEW address space: the program's text and rodata mapped read-only there (no
// data, no bss: fn must use only its stack, registers and IPC buffer), a fresh stack page and IPC
// buffer, and a new CSpace of 2^cnode_bits slots, cptr == slot index. caps[i] (root cptrs) are
// copied into slots 1 + i of the new CSpace. fn receives x0 = arg0, x1 = arg1.
struct Process {
  keel_cptr_t tcb, sc, vspace, cnode;
};
bool spawn_process(Process* p, void (*fn)(keel_word_t, keel_word_t), keel_word_t arg0, keel_word_t arg1,
                   const keel_cptr_t* caps, unsigned ncaps, const ThreadOpts& opts);

// Copies of our own initial caps a test may hand to a helper thread.
keel_word_t now_ticks();           // generic timer count
// True when guest time is the instruction count (QEMU -icount shift=0): then time-based checks
// are exact. Measured once at init with a loop of known length. `make run` boots the suite
// without -icount; the scheduling tests then use bounds that survive a loaded host.
bool exact_time();
keel_word_t ticks_per_second();
keel_word_t ticks_to_us(keel_word_t ticks);

// Reply to the caller behind `reply` (a Reply object we received on) with `info` and MR0..3
// from the IPC buffer, without blocking: ReplyRecv on a notification we signal first.
void reply_to(keel_cptr_t reply, keel_word_t info);

// Keep the test thread off the CPU for roughly `us` microseconds so lower-priority threads run.
// (MCS: Yield on a scheduling context whose period is `us` blocks until the next refill.)
void sleep_us(keel_word_t us);
// Sleep in 1 ms steps until v >= want or timeout_us passed; true if reached. Checks of
// something that must HAPPEN use this (QEMU on a loaded host runs slowly); checks of something
// that must NOT happen use a fixed sleep_us.
bool wait_for(const volatile keel_word_t& v, keel_word_t want, keel_word_t timeout_us = 2000000);

inline void bump(volatile keel_word_t& v) { v = v + 1; }

}  // namespace ktest

#define KTEST_CAT2(a, b) a##b
#define KTEST_CAT(a, b) KTEST_CAT2(a, b)
#define KTEST(name)                                                                                  \
  static void ktest_fn_##name();                                                                     \
  [[gnu::used, gnu::section("keel_tests")]] static const ::ktest::TestCase ktest_case_##name = { \
      #name, ktest_fn_##name};                                                                       \
  static void ktest_fn_##name()

#define CHECK(c)                                                        \
  do {                                                                  \
    if (!(c)) ::ktest::fail(__FILE__, __LINE__, "CHECK(%s) failed", #c); \
  } while (0)

#define CHECK_EQ(a, b)                                                                              \
  do {                                                                                              \
    auto ktest_a_ = (a);                                                                            \
    auto ktest_b_ = (b);                                                                            \
    if (!(ktest_a_ == static_cast<decltype(ktest_a_)>(ktest_b_)))                                   \
      ::ktest::fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s): 0x%llx != 0x%llx", #a, #b,             \
                    (unsigned long long)ktest_a_, (unsigned long long)ktest_b_);                   \
  } while (0)

#define CHECK_ERR(expr, want)                                                                     \
  do {                                                                                            \
    keel_word_t ktest_e_ = static_cast<keel_word_t>(expr);                                        \
    keel_word_t ktest_w_ = static_cast<keel_word_t>(want);                                        \
    if (ktest_e_ != ktest_w_)                                                                     \
      ::ktest::fail(__FILE__, __LINE__, "%s: got %s, want %s", #expr, ::ktest::err_name(ktest_e_), \
                    ::ktest::err_name(ktest_w_));                                                 \
  } while (0)
#define CHECK_OK(expr) CHECK_ERR(expr, KEEL_NO_ERROR)

#define REQUIRE(c)                                                          \
  do {                                                                      \
    if (!(c)) {                                                             \
      ::ktest::fail(__FILE__, __LINE__, "REQUIRE(%s) failed", #c);          \
      return;                                                               \
    }                                                                       \
  } while (0)
#define REQUIRE_OK(expr)                                                                 \
  do {                                                                                   \
    keel_word_t ktest_e_ = static_cast<keel_word_t>(expr);                               \
    if (ktest_e_ != 0) {                                                                 \
      ::ktest::fail(__FILE__, __LINE__, "%s: got %s, want NoError", #expr, ::ktest::err_name(ktest_e_)); \
      return;                                                                            \
    }                                                                                    \
  } while (0)

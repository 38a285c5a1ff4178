// kernel_fixture.h — boots the kernel core over the fake arch with a tiny root ELF and lets a
// test act as the current user thread: set its registers, trap with on_syscall, look at the
// result. Everything goes through the real syscall ABI (keel/abi).
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

#include "core/cap.h"
#include "core/entry.h"
#include "core/invariants.h"
#include "fake_arch.h"
#include "object/cnode.h"
#include "object/endpoint.h"
#include "object/irq.h"
#include "object/notification.h"
#include "object/reply.h"
#include "object/sched_context.h"
#include "object/tcb.h"
#include "object/vspace.h"

namespace keel::kernel::test {

inline constexpr vaddr_t kImageBase = 0x400000;
inline constexpr vaddr_t kScratchVa = 0x480000;  // free pages inside the image's L3 table

class KernelTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  Tcb* cur() const { return g_current; }
  Tcb* root() const { return root_; }
  keel_ipc_buffer_t* buf(Tcb* t) const { return tcb_ipc_buffer(t); }
  Slot* slot(word_t cptr) const { return &root_cnode_[cptr]; }

  // Trap into the kernel as the current thread with these registers.
  void sys(word_t sysno, word_t x0, word_t info = 0, std::initializer_list<word_t> mrs = {}, word_t x6 = 0, word_t x8 = 0);
  // Call an invocation as the current thread; returns the reply label (the error code).
  word_t invoke(word_t cptr, word_t label, std::vector<word_t> mrs, std::vector<word_t> caps = {});
  word_t mr(unsigned i) const;  // reply MR of the current thread

  // Retype from the big RAM untyped into root CNode slots [dest, dest + n).
  word_t retype(word_t type, word_t bits, word_t dest, word_t n = 1);
  word_t free_slot() { return next_free_++; }
  // A new thread sharing the root's CSpace and VSpace, with its own IPC buffer and (if
  // budget_us) its own SC; resumed. Returns the TCB cap's slot.
  word_t make_thread(unsigned prio, word_t budget_us = 1000, word_t period_us = 1000, Tcb** out = nullptr);
  void make_current(Tcb* t);  // force the scheduler's choice (test setup only)
  void expect_invariants();

  Tcb* root_ = nullptr;
  Slot* root_cnode_ = nullptr;
  keel_boot_info_t* bi_ = nullptr;
  word_t ut_ = 0;  // the largest RAM untyped
  word_t next_free_ = 0;
  vaddr_t next_va_ = kScratchVa;
};

}  // namespace keel::kernel::test

// arch/user_regs.h — where the syscall ABI (keel/abi, docs/syscalls.md) keeps a thread's
// syscall arguments, results and message registers in its UserContext.
//
// CONTRACT: generic kernel code reads and writes user registers only through these named
// accessors (as Hubris' as_send_args()), never by register number; the register assignment is
// the arch layer's. Everything is inline and compiles to the plain loads and stores (the IPC
// fastpath counts on it).
#pragma once

#include "arch/arch.h"
#include "keel/abi.h"

namespace keel::arch {

#define KEEL_REGS_INLINE [[gnu::always_inline]] inline

// The arguments of a syscall, as the trapping thread left them.
class SyscallArgs {
 public:
  KEEL_REGS_INLINE explicit SyscallArgs(const UserContext& c) : c_(c) {}
  KEEL_REGS_INLINE word_t number() const { return c_.x[7]; }
  // The capability sent on, invoked, or (Recv, Wait) received on.
  KEEL_REGS_INLINE word_t cptr() const { return c_.x[0]; }
  KEEL_REGS_INLINE word_t msg_info() const { return c_.x[1]; }
  // The reply object of Recv / ReplyRecv / NBSendRecv.
  KEEL_REGS_INLINE word_t reply_cptr() const { return c_.x[6]; }
  // Wait / NBSendWait: the notification bits that may wake the thread (0: every bit).
  KEEL_REGS_INLINE word_t wake_mask() const { return c_.x[6]; }
  // NBSendRecv / NBSendWait: the capability received on after the send.
  KEEL_REGS_INLINE word_t recv_cptr() const { return c_.x[8]; }

 private:
  const UserContext& c_;
};

// Message registers MR0..MR(KEEL_MSG_REGISTERS_IN_CPU - 1); the rest are in the IPC buffer.
KEEL_REGS_INLINE word_t msg_reg(const UserContext& c, word_t i) { return c.x[2 + i]; }
KEEL_REGS_INLINE void set_msg_reg(UserContext& c, word_t i, word_t v) { c.x[2 + i] = v; }

// What a thread finds after a receive, a reply or an invocation: the badge (0 for replies)
// and the message info.
KEEL_REGS_INLINE void set_ipc_result(UserContext& c, word_t badge, word_t info) {
  c.x[0] = badge;
  c.x[1] = info;
}
KEEL_REGS_INLINE word_t ipc_badge(const UserContext& c) { return c.x[0]; }

// Plain results of the debug syscalls: result word i.
KEEL_REGS_INLINE void set_syscall_result(UserContext& c, unsigned i, word_t v) { c.x[i] = v; }

// A register by its ABI number (KEEL_REG_*, < KEEL_REG_COUNT): TCB Read/WriteRegisters.
KEEL_REGS_INLINE word_t& user_reg(UserContext& c, unsigned i) {
  if (i == KEEL_REG_PC) return c.pc;
  if (i == KEEL_REG_SP) return c.sp;
  if (i == KEEL_REG_SPSR) return c.spsr;
  if (i >= KEEL_REG_X0 && i <= KEEL_REG_X30) return c.x[i - KEEL_REG_X0];
  if (i == KEEL_REG_TPIDR_EL0) return c.tpidr_el0;
  return c.tpidrro_el0;
}
// TCB CopyRegisters: the frame (pc, sp, spsr, TLS base) and the integer registers.
KEEL_REGS_INLINE void copy_frame_regs(UserContext& to, const UserContext& from) {
  to.pc = from.pc;
  to.sp = from.sp;
  to.spsr = from.spsr;
  to.tpidr_el0 = from.tpidr_el0;
}
KEEL_REGS_INLINE void copy_integer_regs(UserContext& to, const UserContext& from) {
  for (unsigned i = 0; i < 31; ++i) to.x[i] = from.x[i];
}
KEEL_REGS_INLINE void set_tls_base(UserContext& c, word_t v) { c.tpidr_el0 = v; }

// The registers of fault messages, in message order (docs/syscalls.md "Faults"): read_* copies
// them into a message; a reply with label 0 writes them back through *_regs(). UnknownSyscall:
// x0..x7, pc, sp, lr, spsr.
template <unsigned N>
struct FaultRegs {
  word_t* reg[N];
};
inline constexpr unsigned kUnknownSyscallRegs = 12;
KEEL_REGS_INLINE FaultRegs<kUnknownSyscallRegs> unknown_syscall_regs(UserContext& c) {
  return {{&c.x[0], &c.x[1], &c.x[2], &c.x[3], &c.x[4], &c.x[5], &c.x[6], &c.x[7], &c.pc, &c.sp, &c.x[30], &c.spsr}};
}
KEEL_REGS_INLINE void read_unknown_syscall_regs(const UserContext& c, word_t* m) {
  for (unsigned i = 0; i < 8; ++i) m[i] = c.x[i];
  m[8] = c.pc;
  m[9] = c.sp;
  m[10] = c.x[30];
  m[11] = c.spsr;
}
// UserException: pc, sp, spsr.
inline constexpr unsigned kUserExceptionRegs = 3;
KEEL_REGS_INLINE FaultRegs<kUserExceptionRegs> user_exception_regs(UserContext& c) { return {{&c.pc, &c.sp, &c.spsr}}; }
KEEL_REGS_INLINE void read_user_exception_regs(const UserContext& c, word_t* m) {
  m[0] = c.pc;
  m[1] = c.sp;
  m[2] = c.spsr;
}

#undef KEEL_REGS_INLINE

}  // namespace keel::arch

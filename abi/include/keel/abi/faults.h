/* keel/abi/faults.h — fault messages (seL4 aarch64 MCS labels and layouts).
 *
 * When a thread faults, the kernel sends a message to the thread's fault endpoint (timeout
 * faults: its timeout endpoint) as if the thread had done a Call: the handler receives the
 * badge of the endpoint capability, label = fault type, length = the layout's length, and a
 * reply capability. Replying with label 0 resumes the thread (for UnknownSyscall/UserException
 * the reply's MRs set the registers listed, up to the reply's length); any other reply label
 * leaves it suspended. A thread without a fault endpoint (or whose fault endpoint was deleted)
 * is suspended. As in seL4 MCS, the fault and timeout endpoint capabilities are copied into the
 * TCB (TCB_SetSpace / SetSchedParams / SetTimeoutEndpoint), not looked up at fault time. */
#ifndef KEEL_ABI_FAULTS_H
#define KEEL_ABI_FAULTS_H

#include "keel/abi/types.h"

typedef enum keel_fault_type {
  KEEL_FAULT_NULL = 0,
  KEEL_FAULT_CAP = 1,
  KEEL_FAULT_UNKNOWN_SYSCALL = 2,
  KEEL_FAULT_USER_EXCEPTION = 3,
  KEEL_FAULT_TIMEOUT = 5,
  KEEL_FAULT_VM = 6
} keel_fault_type_t;

/* CapFault: a capability lookup by Send/Recv/Call... (not an invocation error) failed. */
enum keel_cap_fault_msg {
  KEEL_CAP_FAULT_IP = 0,
  KEEL_CAP_FAULT_ADDR = 1,
  KEEL_CAP_FAULT_IN_RECV_PHASE = 2,
  KEEL_CAP_FAULT_LOOKUP_FAILURE_TYPE = 3, /* keel_lookup_failure_t */
  KEEL_CAP_FAULT_BITS_LEFT = 4,
  KEEL_CAP_FAULT_DEPTH_MISMATCH_BITS_FOUND = 5,
  KEEL_CAP_FAULT_GUARD_MISMATCH_GUARD_FOUND = 5,
  KEEL_CAP_FAULT_GUARD_MISMATCH_BITS_FOUND = 6,
  KEEL_CAP_FAULT_LENGTH = 7
};

/* UnknownSyscall: the syscall number in x7 is not a Keel syscall. Reply MRs 0..11 (if the
 * reply has that length) set x0..x7, pc, sp, lr, spsr (spsr is sanitised). */
enum keel_unknown_syscall_msg {
  KEEL_UNKNOWN_SYSCALL_X0 = 0, /* .. X7 = 7 */
  KEEL_UNKNOWN_SYSCALL_FAULT_IP = 8,
  KEEL_UNKNOWN_SYSCALL_SP = 9,
  KEEL_UNKNOWN_SYSCALL_LR = 10,
  KEEL_UNKNOWN_SYSCALL_SPSR = 11,
  KEEL_UNKNOWN_SYSCALL_SYSCALL = 12,
  KEEL_UNKNOWN_SYSCALL_LENGTH = 13
};

/* UserException: an exception that is not a VM fault or syscall (undefined instruction,
 * alignment, ...). Number = exception class (ESR_EL1.EC), code = ESR_EL1.ISS. Reply MRs 0..2
 * set pc, sp, spsr. */
enum keel_user_exception_msg {
  KEEL_USER_EXCEPTION_FAULT_IP = 0,
  KEEL_USER_EXCEPTION_SP = 1,
  KEEL_USER_EXCEPTION_SPSR = 2,
  KEEL_USER_EXCEPTION_NUMBER = 3,
  KEEL_USER_EXCEPTION_CODE = 4,
  KEEL_USER_EXCEPTION_LENGTH = 5
};

/* VMFault: a data abort or instruction abort from EL0. FSR = ESR_EL1. A reply with label 0
 * restarts the faulting instruction. */
enum keel_vm_fault_msg {
  KEEL_VM_FAULT_IP = 0,
  KEEL_VM_FAULT_ADDR = 1,
  KEEL_VM_FAULT_PREFETCH_FAULT = 2, /* 1 = instruction fetch */
  KEEL_VM_FAULT_FSR = 3,
  KEEL_VM_FAULT_LENGTH = 4
};

/* Timeout: the thread's scheduling context ran out of budget and the thread has a timeout
 * endpoint. Data = the SC's badge (SchedControl_ConfigureFlags MR3). Consumed = µs consumed
 * since the last Consumed query. A reply with label 0 resumes the thread (when it has budget). */
enum keel_timeout_msg {
  KEEL_TIMEOUT_DATA = 0,
  KEEL_TIMEOUT_CONSUMED = 1,
  KEEL_TIMEOUT_LENGTH = 2
};

#endif /* KEEL_ABI_FAULTS_H */

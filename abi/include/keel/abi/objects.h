/* keel/abi/objects.h — kernel object types, their sizes, capability types and VM attributes.
 *
 * Object types are what Untyped_Retype creates (values as seL4 aarch64 orders them, without
 * the object types Keel does not have). Sizes are log2 bytes; every object is aligned to its
 * size. CNodes are 2^radix slots of KEEL_SLOT_BITS each; Untyped sizes are given by the caller. */
#ifndef KEEL_ABI_OBJECTS_H
#define KEEL_ABI_OBJECTS_H

#include "keel/abi/types.h"

typedef enum keel_object_type {
  KEEL_OBJ_UNTYPED = 0,
  KEEL_OBJ_TCB = 1,
  KEEL_OBJ_ENDPOINT = 2,
  KEEL_OBJ_NOTIFICATION = 3,
  KEEL_OBJ_CNODE = 4,         /* size_bits = radix (number of slots = 2^radix) */
  KEEL_OBJ_SCHED_CONTEXT = 5, /* size_bits >= KEEL_MIN_SCHED_CONTEXT_BITS */
  KEEL_OBJ_REPLY = 6,
  KEEL_OBJ_VSPACE = 7,        /* level-0 translation table (TTBR0 root) */
  KEEL_OBJ_SMALL_PAGE = 8,    /* 4 KiB frame */
  KEEL_OBJ_LARGE_PAGE = 9,    /* 2 MiB frame */
  KEEL_OBJ_PAGE_TABLE = 10,   /* a level 1, 2 or 3 translation table (level chosen at map time) */
  KEEL_OBJ_TYPE_COUNT = 11
} keel_object_type_t;

#define KEEL_SLOT_BITS 6u            /* a CNode slot: 32-byte capability + 32-byte CDT links */
#define KEEL_TCB_BITS 11u            /* 2 KiB; 1,296 bytes used, incl. 528 of FP/SIMD state (v0-v31, FPSR, FPCR) */
#define KEEL_ENDPOINT_BITS 4u
#define KEEL_NOTIFICATION_BITS 6u
#define KEEL_REPLY_BITS 5u
#define KEEL_MIN_SCHED_CONTEXT_BITS 8u
#define KEEL_MAX_SCHED_CONTEXT_BITS 12u
#define KEEL_VSPACE_BITS 12u
#define KEEL_PAGE_TABLE_BITS 12u
#define KEEL_PAGE_BITS 12u
#define KEEL_LARGE_PAGE_BITS 21u
#define KEEL_ASID_POOL_BITS 12u
#define KEEL_MIN_UNTYPED_BITS 4u
#define KEEL_MAX_UNTYPED_BITS 47u
#define KEEL_MIN_CNODE_RADIX 1u
#define KEEL_MAX_CNODE_RADIX 20u
#define KEEL_MAX_RETYPE_OBJECTS 256u  /* per Untyped_Retype invocation (like seL4 CONFIG_RETYPE_FAN_OUT_LIMIT) */

/* ASIDs: a pool holds 2^KEEL_ASID_LOW_BITS ASIDs; there are 2^KEEL_ASID_HIGH_BITS pools. */
#define KEEL_ASID_LOW_BITS 9u
#define KEEL_ASID_HIGH_BITS 7u

/* Capability types as DebugCapIdentify reports them (kernel-internal order, stable). */
typedef enum keel_cap_type {
  KEEL_CAP_NULL = 0,
  KEEL_CAP_UNTYPED = 1,
  KEEL_CAP_TCB = 2,
  KEEL_CAP_ENDPOINT = 3,
  KEEL_CAP_NOTIFICATION = 4,
  KEEL_CAP_CNODE = 5,
  KEEL_CAP_SCHED_CONTEXT = 6,
  KEEL_CAP_REPLY = 7,
  KEEL_CAP_VSPACE = 8,
  KEEL_CAP_FRAME = 9,
  KEEL_CAP_PAGE_TABLE = 10,
  KEEL_CAP_IRQ_CONTROL = 11,
  KEEL_CAP_IRQ_HANDLER = 12,
  KEEL_CAP_ASID_CONTROL = 13,
  KEEL_CAP_ASID_POOL = 14,
  KEEL_CAP_SCHED_CONTROL = 15,
  KEEL_CAP_DEBUG_CONTROL = 16,  /* authority to grant debug permissions (TCB_SetDebugPermissions) */
  KEEL_CAP_TYPE_COUNT = 17
} keel_cap_type_t;

/* VM attributes for Page_Map / PageTable_Map (seL4_ARM_VMAttributes). W^X: a mapping that
 * is writable is always execute-never, whatever the attributes say. */
#define KEEL_VM_CACHEABLE 1u       /* Normal write-back memory (else Device-nGnRE) */
#define KEEL_VM_PARITY 2u          /* accepted for seL4 compatibility, no effect */
#define KEEL_VM_EXECUTE_NEVER 4u
#define KEEL_VM_DEFAULT (KEEL_VM_CACHEABLE | KEEL_VM_PARITY)

/* User virtual addresses are [0, KEEL_USER_TOP). */
#define KEEL_USER_TOP (((keel_vaddr_t)1) << 47)

/* Scheduling. */
#define KEEL_MAX_PRIO 255u
#define KEEL_MIN_BUDGET_US 10u     /* smallest budget SchedControl accepts (µs) */
#define KEEL_MAX_PERIOD_US (3600ull * 1000000ull)
#define KEEL_SCHED_CONTEXT_SPORADIC 1u /* SchedControl_ConfigureFlags flag (seL4_SchedContext_Sporadic) */

#endif /* KEEL_ABI_OBJECTS_H */

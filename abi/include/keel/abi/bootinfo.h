/* keel/abi/bootinfo.h — what the root task is given at boot.
 *
 * The kernel starts the root task (the ELF packed with the kernel) with:
 *   x0 = virtual address of the boot-info page (keel_boot_info_t), pc = ELF entry,
 *   sp = KEEL_ROOT_STACK_TOP (KEEL_ROOT_STACK_PAGES pages of stack mapped below it),
 *   its IPC buffer mapped at boot_info->ipc_buffer and registered with its TCB,
 *   a CSpace that is one CNode of 2^root_cnode_size_bits slots with a guard so that a cptr is
 *   simply the slot index (guard 0, guard size 64 - root_cnode_size_bits),
 *   the capabilities at the fixed slots below, then the root task's image frames, its page
 *   tables, its untyped caps, and an empty range of free slots. */
#ifndef KEEL_ABI_BOOTINFO_H
#define KEEL_ABI_BOOTINFO_H

#include "keel/abi/types.h"

/* Initial capability slots (seL4 numbering where seL4 has the same object). */
enum keel_initial_cap {
  KEEL_CAP_INIT_NULL = 0,
  KEEL_CAP_INIT_TCB = 1,
  KEEL_CAP_INIT_CNODE = 2,
  KEEL_CAP_INIT_VSPACE = 3,
  KEEL_CAP_INIT_IRQ_CONTROL = 4,
  KEEL_CAP_INIT_ASID_CONTROL = 5,
  KEEL_CAP_INIT_ASID_POOL = 6,
  /* 7, 8: seL4 IOPortControl / IOSpace; empty. */
  KEEL_CAP_INIT_BOOT_INFO_FRAME = 9,
  KEEL_CAP_INIT_IPC_BUFFER = 10,
  /* 11, 12: seL4 Domain / SMMU caps; empty. */
  KEEL_CAP_INIT_DEBUG_CONTROL = 13,  /* DebugControl: the authority to grant the debug permissions
                                        (KEEL_TCB_SET_DEBUG_PERMISSIONS); in every kernel */
  KEEL_CAP_INIT_SCHED_CONTEXT = 14,  /* the root task's SC (full budget, period = budget) */
  KEEL_CAP_INIT_SCHED_CONTROL = 15,  /* SchedControl of CPU 0 (the only CPU) */
  KEEL_NUM_INITIAL_CAPS = 16
};

#define KEEL_ROOT_CNODE_SIZE_BITS 12u
#define KEEL_ROOT_STACK_TOP 0x7fff0000ull
#define KEEL_ROOT_STACK_PAGES 16u
#define KEEL_ROOT_PRIORITY 255u     /* the root task runs at the maximum priority and MCP */
#define KEEL_BOOT_INFO_MAGIC 0x4b45454c424f4f54ull /* "KEELBOOT" */
#define KEEL_BOOT_INFO_VERSION 1u
#define KEEL_MAX_BOOT_UNTYPED 200u

typedef struct keel_slot_region {
  keel_cptr_t start; /* first slot */
  keel_cptr_t end;   /* one past the last slot */
} keel_slot_region_t;

typedef struct keel_untyped_desc {
  keel_paddr_t paddr;
  uint8_t size_bits;
  uint8_t is_device; /* 1 = device memory (MMIO): may be retyped only into frames */
  uint8_t padding[6];
} keel_untyped_desc_t;

typedef struct keel_boot_info {
  uint64_t magic;                     /* KEEL_BOOT_INFO_MAGIC */
  uint64_t version;                   /* KEEL_BOOT_INFO_VERSION */
  keel_vaddr_t ipc_buffer;            /* the root task's IPC buffer */
  keel_vaddr_t boot_info;             /* where this page is mapped */
  uint64_t root_cnode_size_bits;
  keel_slot_region_t empty;           /* free slots of the root CNode */
  keel_slot_region_t user_image_frames; /* frames holding the root task's ELF segments + stack,
                                           in ascending virtual address order */
  keel_slot_region_t user_image_paging; /* page tables of the root task's VSpace */
  keel_slot_region_t untyped;         /* untyped caps; untyped_list[i] describes slot start + i */
  uint64_t timer_frequency;           /* ticks per second of the kernel's timer */
  uint64_t kernel_debug;              /* 1 if the debug syscalls are available */
  keel_vaddr_t image_start;           /* lowest and one past the highest vaddr of the ELF image */
  keel_vaddr_t image_end;
  keel_untyped_desc_t untyped_list[KEEL_MAX_BOOT_UNTYPED];
} keel_boot_info_t;

KEEL_ABI_STATIC_ASSERT(sizeof(keel_boot_info_t) <= 4096, "boot info fits one page");

#endif /* KEEL_ABI_BOOTINFO_H */

/* keel/sys/protocol.h — the contract between the root server, the core services (msg, serial,
 * clock, sched) and libkeel: a component's address space, its capability slots, its info page,
 * the system state page, and the message protocols of every core service.
 *
 * C11 and C++20. Reference: docs/os-services.md. Everything here is ABI between separately
 * built ELFs packed into one image; change it only together with every user.
 */
#ifndef KEEL_SYS_PROTOCOL_H
#define KEEL_SYS_PROTOCOL_H

#include <stdint.h>

#include "keel/abi/errors.h"

/* ---- limits ---------------------------------------------------------------------------------- */
#define KEEL_MAX_COMPONENTS 64u  /* a component index fits a badge bit and a service CNode slot */
#define KEEL_MAX_CHANNEL_ENDS 48u /* channel ends of one component (both roles) */
#define KEEL_MAX_IRQS 16u         /* IRQs delivered to one component */
#define KEEL_MAX_EVENT_ENDS 32u   /* event/stream ends that signal this component */

/* ---- address space of a component (docs/manifest.md, "Address space of a component") --------- */
#define KEEL_IMAGE_BASE 0x00400000ull        /* lib/rt user.ld links here */
#define KEEL_HEAP_BASE 0x08000000ull         /* heap: [KEEL_HEAP_BASE, + heap size), at most 64 MiB */
#define KEEL_HEAP_MAX 0x04000000ull
#define KEEL_STACK_TOP 0x0e000000ull         /* stack grows down from here, at most 32 MiB; guard below */
#define KEEL_STACK_MAX 0x02000000ull
#define KEEL_INFO_VADDR 0x0f000000ull        /* the component info page(s), read-only */
#define KEEL_INFO_MAX_BYTES 0x4000u          /* at most 4 pages */
#define KEEL_SYSTEM_PAGE_VADDR 0x0f100000ull /* system state page, read-only (status users, msg, sched,
                                                serial) */
#define KEEL_IPC_BUFFER_VADDR 0x0f200000ull  /* the thread's IPC buffer (one page) */
#define KEEL_ROOT_LOG_VADDR 0x0f300000ull    /* the root server's log ring, read-only (serial only) */
#define KEEL_SPEC_VADDR 0x0f400000ull        /* boot spec copy, read-only (msg, sched and serial only;
                                                serial takes component names from it) */
/* [0x10000000, 0x20000000) private/shared regions, [0x20000000, 0x30000000) devices: placed by the
 * manifest compiler. Stream rings: */
#define KEEL_STREAM_BASE 0x30000000ull       /* stream rings, placed by the root server in channel order */

/* ---- capability slots of a component ----------------------------------------------------------
 * A component's CSpace is one CNode of 2^KEEL_COMPONENT_CNODE_BITS slots whose guard makes a cptr
 * the slot index. Only what the manifest grants is present; an absent service leaves its slot empty. */
#define KEEL_COMPONENT_CNODE_BITS 8u
enum keel_component_slot {
  KEEL_SLOT_NULL = 0,
  KEEL_SLOT_CNODE = 1,      /* its own CNode (to delete / move caps it received) */
  KEEL_SLOT_REPLY = 2,      /* reply object, for ReplyRecv on KEEL_SLOT_SERVICE_EP */
  KEEL_SLOT_ROOT_EP = 3,    /* root server: exit, status, device (badge = component index + 1) */
  KEEL_SLOT_MSG_EP = 4,     /* message server (if the component has channels or 'msg') */
  KEEL_SLOT_SERIAL_EP = 5,  /* serial server ('serial') */
  KEEL_SLOT_CLOCK_EP = 6,   /* clock server ('clock') */
  KEEL_SLOT_SCHED_EP = 7,   /* scheduler server ('sched') */
  KEEL_SLOT_NOTIFY = 8,     /* its notification, bound to its TCB (bits: keel_notify_bit) */
  KEEL_SLOT_SERVICE_EP = 9, /* its own endpoint, Read only: every rpc channel it serves arrives here */
  KEEL_SLOT_SPARE_REPLY = 10, /* core services only: KEEL_SPARE_REPLIES more reply objects, 10.., in
                                 which replies to clients over their share wait (keel/sys/fair.hh) */
  KEEL_SLOT_IRQ_BASE = 16,  /* IRQ handler of its i-th IRQ: 16 + i (i < KEEL_MAX_IRQS) */
  KEEL_SLOT_CHANNEL_BASE = 32, /* channel end k (in the order of keel_info_t.channels): 32 + 2k and
                                  32 + 2k + 1 (see keel_info_channel_t.slot) */
  KEEL_SLOT_PRIVILEGED = 128   /* core services only: 128 + component index (what it holds: below) */
};
#define KEEL_SPARE_REPLIES 6u /* KEEL_SLOT_SPARE_REPLY .. + 5 */
/* KEEL_SLOT_PRIVILEGED + i holds, in the CSpace of
 *   msg:    a copy of component i's CNode capability (for every component);
 *   clock:  component i's notification, badge KEEL_NOTIFY_TIMER (components with 'clock');
 *   serial: component i's notification, badge KEEL_NOTIFY_CONSOLE (the console_input component);
 *   sched:  component i's SchedContext (every component).
 * The root server rebuilds these when component i restarts (the old ones die with the old objects).
 *
 * Additions for msg (services/msg; docs/os-services.md "Channels"):
 *   msg:    KEEL_SLOT_MSG_ENDPOINTS + i holds component i's service endpoint, all rights, unbadged:
 *           the component's own KEEL_SLOT_SERVICE_EP is Read only and CNode_Mint can only remove
 *           rights, so the Write|GrantReply client caps are minted from this one.
 *   Every component's KEEL_SLOT_NOTIFY is unbadged with Read|Write: msg mints the badged,
 *   Write-only caps its event/stream peers signal it with from that slot, through the CNode copy.
 *   The CNode copies carry the component CSpace root's guard: slot s is (index s, depth
 *   KEEL_COMPONENT_CNODE_DEPTH) relative to them.
 *   msg (and serial) invoke KEEL_SLOT_PRIVILEGED + i only while component i is RUNNING in the
 *   system page (an empty slot would be a CapFault), so the root server must refill these slots
 *   before it marks a restarted component RUNNING. */
#define KEEL_SLOT_MSG_ENDPOINTS 192u   /* msg only: + component index (see above) */
/* serial only: the console_mirror component's notification, badge KEEL_NOTIFY_MIRROR (rebuilt by
 * the root server when it restarts, like the privileged slots; serial signals it only while it is
 * RUNNING). A separate slot because the same component may also be console_input. */
#define KEEL_SLOT_SERIAL_MIRROR 192u
#define KEEL_COMPONENT_CNODE_DEPTH 64u /* depth that addresses a slot through a component CNode cap */

/* Bits of a component's notification word (KEEL_SLOT_NOTIFY). */
enum keel_notify_bit {
  KEEL_NOTIFY_TIMER = 1ull << 0,   /* a clock timeout fired: ask the clock which (KEEL_CLOCK_EXPIRED) */
  KEEL_NOTIFY_CONSOLE = 1ull << 1, /* console input is waiting (KEEL_SERIAL_READ) */
  KEEL_NOTIFY_SYSTEM = 1ull << 2,  /* the system page changed (msg, sched: a component restarted) */
  KEEL_NOTIFY_PASSIVE = 1ull << 3, /* the root server made this component passive (KEEL_ROOT_PASSIVE) */
  KEEL_NOTIFY_TICK = 1ull << 8,    /* a new fairness window (core services that asked: KEEL_ROOT_TICK);
                                      above bit 6, so no client's badge (index + 1 <= 64) looks like it */
  KEEL_NOTIFY_ROOT_LOG = 1ull << 9, /* (serial) the root server's log ring has new lines */
  KEEL_NOTIFY_MIRROR = 1ull << 10, /* (the console_mirror component) new console lines to read with
                                      KEEL_SERIAL_MIRROR_READ; set only when it had read everything */
  KEEL_NOTIFY_IRQ_SHIFT = 16,      /* IRQ i: bit 16 + i */
  KEEL_NOTIFY_EVENT_SHIFT = 32     /* event/stream end j of this component: bit 32 + j (keel_info_channel_t.notify_bit) */
};

/* ---- the component info page (KEEL_INFO_VADDR), written by the root server ---------------------
 * Strings are {off, len} into the same page (off from KEEL_INFO_VADDR), NUL-terminated too. */
#define KEEL_INFO_MAGIC 0x4f464e494c45454bull /* "KEELINFO" */
#define KEEL_INFO_VERSION 2u /* 2: keel_info_region_t.paddr */

typedef struct keel_info_str { uint32_t off, len; } keel_info_str_t;

enum keel_channel_kind { KEEL_CHANNEL_RPC = 0, KEEL_CHANNEL_EVENT = 1, KEEL_CHANNEL_STREAM = 2 };
enum keel_channel_role {
  KEEL_ROLE_FROM = 0, /* rpc client, event signaller, stream producer */
  KEEL_ROLE_TO = 1    /* rpc server, event waiter, stream consumer */
};

typedef struct keel_info_channel {
  keel_info_str_t name;    /* the channel's name (what keel_channel_open takes) */
  keel_info_str_t end;     /* this side's end name ("component.end" -> "end") */
  keel_info_str_t peer;    /* the other component's name */
  uint32_t kind, role;
  /* Channel ends of a component, end index k (the order of this array, also msg's): the boot
   * spec's channels table in table order, keeping each channel that has this component at one
   * end (client -> KEEL_ROLE_FROM, server -> KEEL_ROLE_TO). Its capability slot is
   * KEEL_SLOT_CHANNEL_BASE + 2k (+ 1 unused, reserved). Notify index j: the ends with a bit of
   * their own notification (event KEEL_ROLE_TO, stream either role), numbered 0.. in end order;
   * the bit is KEEL_NOTIFY_EVENT_SHIFT + j. At most KEEL_MAX_CHANNEL_ENDS ends and
   * KEEL_MAX_EVENT_ENDS notify indices per component (msg refuses a spec beyond that). */
  uint32_t slot;           /* rpc client: endpoint cap (Write|GrantReply); rpc server: 0 (it receives on
                              KEEL_SLOT_SERVICE_EP, badge = badge below); event signaller / stream
                              either side: cap to signal the peer's notification */
  uint32_t peer_index;     /* component index of the peer */
  uint64_t badge;          /* rpc server: the badge calls on this channel arrive with */
  uint64_t notify_bit;     /* event waiter / stream side: the bit of its own notification this channel
                              sets (KEEL_NOTIFY_EVENT_SHIFT + j); 0 otherwise */
  uint64_t vaddr, size;    /* stream: the ring (keel_stream_ring_t header + size bytes of data) */
} keel_info_channel_t;

typedef struct keel_info_device {
  keel_info_str_t name;
  uint64_t paddr, size; /* the register block */
  uint64_t vaddr;       /* where it is mapped (paddr's offset in its page included) */
} keel_info_device_t;

typedef struct keel_info_irq {
  keel_info_str_t name; /* the platform device's name */
  uint32_t irq, slot;   /* GIC interrupt ID; IRQ handler cap slot (ack with IRQ_AckIRQ) */
  uint64_t notify_bit;
} keel_info_irq_t;

typedef struct keel_info_region {
  keel_info_str_t name;
  uint32_t perms;  /* 1 = read, 2 = write; 0 = address only: not mapped (vaddr 0), only paddr and size
                      are given (a [[component.shared]] with access = "dma") */
  uint32_t shared; /* 1 = a [[shared]] region */
  uint64_t vaddr, size;
  uint64_t paddr;  /* a DMA region (manifest dma = true): the physical address of its first byte, page
                      aligned, the region physically contiguous; 0 for every other region */
} keel_info_region_t;

enum keel_config_type { KEEL_CONFIG_INT = 0, KEEL_CONFIG_BOOL = 1, KEEL_CONFIG_STRING = 2 };
typedef struct keel_info_config {
  keel_info_str_t key;
  uint32_t type, overlay;
  int64_t int_value;      /* int and bool */
  keel_info_str_t str_value;
} keel_info_config_t;

/* Service bits (keel_info_t.services): the services the manifest lets it use. */
enum keel_service_bit {
  KEEL_SERVICE_SERIAL = 1u << 0, KEEL_SERVICE_CLOCK = 1u << 1, KEEL_SERVICE_SCHED = 1u << 2,
  KEEL_SERVICE_STATUS = 1u << 3, KEEL_SERVICE_MSG = 1u << 4, KEEL_SERVICE_NET = 1u << 5,
  KEEL_SERVICE_LINK = 1u << 6, KEEL_SERVICE_STORE = 1u << 7, KEEL_SERVICE_KEYSTORE = 1u << 8,
  KEEL_SERVICE_RNG = 1u << 9
};

#define KEEL_INFO_PASSIVE 1u /* passive rpc server (manifest `passive = true`): see KEEL_ROOT_PASSIVE */
#define KEEL_INFO_DEBUG_CONSOLE 2u /* may print on the kernel debug console (manifest `debug = ["console"]`):
                                      libkeel's output falls back to it when there is no serial service */
#define KEEL_INFO_DEBUG_HALT 4u    /* may end the run with DebugHalt (manifest `debug = ["halt"]`: a test's judge) */

typedef struct keel_info {
  uint64_t magic;    /* KEEL_INFO_MAGIC */
  uint32_t version;  /* KEEL_INFO_VERSION */
  uint32_t size;     /* bytes of the info area used */
  uint32_t index;    /* this component's index in the boot spec */
  uint32_t component_count;
  uint64_t generation; /* 0 at first start, +1 at every restart */
  keel_info_str_t name, system;
  uint32_t services;   /* keel_service_bit */
  uint32_t priority;
  uint32_t budget_us, period_us;
  uint64_t heap_base, heap_size, stack_top, stack_size;
  uint64_t timer_frequency; /* of CNTVCT_EL0 */
  uint32_t channel_count, device_count, irq_count, region_count, config_count;
  uint32_t flags;      /* KEEL_INFO_PASSIVE */
  /* then, in this order, each array 8-aligned at the offsets given: */
  uint32_t channels_off, devices_off, irqs_off, regions_off, config_off, strings_off;
} keel_info_t;

/* ---- the system state page (KEEL_SYSTEM_PAGE_VADDR), written by the root server --------------- */
#define KEEL_SYSTEM_PAGE_MAGIC 0x5359534c45454bull /* "KEELSYS" */
enum keel_component_state {
  KEEL_STATE_NOT_STARTED = 0, KEEL_STATE_RUNNING = 1, KEEL_STATE_RESTARTING = 2,
  KEEL_STATE_STOPPED = 3, /* exited normally, or temporary and failed: not restarted */
  KEEL_STATE_FAILED = 4   /* its group gave up (escalation in progress) */
};
typedef struct keel_system_component {
  uint32_t state;       /* keel_component_state */
  uint32_t restarts;    /* total restarts */
  uint64_t generation;  /* bumped (before the state changes to RUNNING) at every (re)start */
  uint64_t memory_bytes;/* exact bytes of RAM it costs: kernel objects + frames (root's accounting) */
  uint64_t last_fault;  /* keel_fault type of the last failure (0 none) */
  uint64_t last_fault_addr;
} keel_system_component_t;
typedef struct keel_system_page {
  uint64_t magic;
  uint64_t sequence;    /* bumped after every change (a reader retries if it changed while reading) */
  uint32_t component_count, system_restarts;
  keel_system_component_t components[KEEL_MAX_COMPONENTS];
  uint32_t safe_state;  /* 1: the system kept failing and every component is stopped (os-services.md) */
  uint32_t reserved;
} keel_system_page_t;

/* ---- the root server's log ring (KEEL_ROOT_LOG_VADDR), release kernels -------------------------
 * A release kernel has no debug console: the root server appends its log lines here and signals
 * serial (KEEL_NOTIFY_ROOT_LOG) after each line; serial prints them. The root server never waits
 * for serial: it overwrites the oldest bytes when serial falls behind, and serial, which keeps its
 * own read position, reports what it lost. Debug kernels: unused (the root prints on the console). */
#define KEEL_ROOT_LOG_MAGIC 0x474f4c544f4f52ull /* "ROOTLOG" */
#define KEEL_ROOT_LOG_PAGES 2u
typedef struct keel_root_log {
  uint64_t magic;
  volatile uint64_t written;  /* bytes appended since boot (monotonic); byte i is data[i % size] */
  volatile uint64_t resume_at;/* where a restarted serial starts reading: `written` when the last one stopped */
  uint8_t data[KEEL_ROOT_LOG_PAGES * 4096u - 24u];
} keel_root_log_t;

/* ---- stream ring (at keel_info_channel_t.vaddr; shared by producer and consumer) -------------- */
typedef struct keel_stream_ring {
  volatile uint64_t head;  /* bytes written by the producer (monotonic) */
  volatile uint64_t tail;  /* bytes consumed by the consumer (monotonic) */
  uint64_t size;           /* data bytes (power of two), set by the root server */
  /* Signal suppression (as virtio's): a side signals the other only when it said it waits. The
   * consumer sets consumer_waiting when it found too little to read (and before it waits); the
   * producer, having written, signals only if it is set (and clears it). The same for space with
   * producer_waiting. Each side sets its flag, then (full barrier) looks at the ring again. A side
   * that clears or sets the other's flag only changes how often it is itself woken. */
  volatile uint32_t consumer_waiting;
  volatile uint32_t producer_waiting;
  uint64_t reserved[4];
  /* data[size] follows at offset 64 */
} keel_stream_ring_t;

/* ---- errors: keel_error_t (keel/abi/errors.h), the one enum of kernel and services; a reply's
 * label is KEEL_OK or an error code. KEEL_CHANNEL_DOWN is also the label a Call returns with when
 * its channel was torn down underneath it. */

/* ---- service requests: label (request words -> reply words); every server is reached at its
 * slot with badge = component index + 1 and answers KEEL_OK or an error in the reply label. The
 * rules of each request (who may ask, what is logged, the passive hand-over) are in
 * docs/os-services.md "Requests". */
enum keel_root_op {              /* KEEL_SLOT_ROOT_EP */
  KEEL_ROOT_EXIT = 1,            /* status (Send; never returns) */
  KEEL_ROOT_STATUS = 2,          /* component -> state, restarts, memory, generation, last fault, name */
  KEEL_ROOT_DEVICE = 3,          /* name -> vaddr, size */
  KEEL_ROOT_SET_BUDGET = 4,      /* component, budget us, period us -> budget us (sched only) */
  KEEL_ROOT_PASSIVE = 5,         /* NBSendRecv with KEEL_SLOT_SERVICE_EP; ends by KEEL_NOTIFY_PASSIVE */
  KEEL_ROOT_TICK = 6,            /* (core services only) KEEL_NOTIFY_TICK at the next fairness window */
  KEEL_ROOT_RESTART = 7          /* component index or KEEL_ROOT_RESTART_SYSTEM -> (KEEL_OK once started;
                                    manifest `control = true` only, else KEEL_DENIED) */
};
#define KEEL_ROOT_RESTART_SYSTEM (~0ull) /* KEEL_ROOT_RESTART: the whole system */
enum keel_msg_op {               /* KEEL_SLOT_MSG_EP */
  KEEL_MSG_OPEN = 1              /* name -> slot, kind, badge or notification bit mask */
};
enum keel_serial_op {            /* KEEL_SLOT_SERIAL_EP */
  KEEL_SERIAL_WRITE = 1,         /* bytes (<= KEEL_SERIAL_MAX_WRITE) -> bytes accepted */
  KEEL_SERIAL_READ = 2,          /* -> bytes (console_input component only) */
  KEEL_SERIAL_MIRROR_READ = 3,   /* -> first sequence number (u64), lines dropped before it since the last
                                    read (u32), lines "[name] text" separated by '\n' (<= KEEL_SERIAL_MIRROR_MAX
                                    bytes) (console_mirror component only) */
  KEEL_SERIAL_TRACE = 4,         /* event (u16), argument (u32) -> (any component with 'serial') */
  KEEL_SERIAL_TRACE_SET = 5,     /* on (1) / off (0) -> previous state (console_mirror component only) */
  KEEL_SERIAL_TRACE_READ = 6     /* -> dropped (u32), count, count events of 2 words each: time ns (u64);
                                    component (u16) | event (u16) << 16 | argument (u32) << 32
                                    (<= KEEL_SERIAL_TRACE_READ_MAX) (console_mirror component only) */
};
#define KEEL_SERIAL_MAX_WRITE 944u /* 118 MRs of 8 bytes */
#define KEEL_SERIAL_MIRROR_MAX 900u       /* line bytes per KEEL_SERIAL_MIRROR_READ reply */
#define KEEL_SERIAL_MIRROR_BYTES 16384u   /* the mirror ring: line text kept for the mirror component */
#define KEEL_SERIAL_MIRROR_LINE_MAX 255u  /* longest mirrored line (longer ones are cut) */
#define KEEL_SERIAL_TRACE_EVENTS 256u     /* the trace ring */
#define KEEL_SERIAL_TRACE_READ_MAX 59u    /* events per KEEL_SERIAL_TRACE_READ reply (2 + 2 * 59 MRs) */
enum keel_clock_op {             /* KEEL_SLOT_CLOCK_EP */
  KEEL_CLOCK_WALL = 1,           /* -> nanoseconds since 1970 */
  KEEL_CLOCK_TIMEOUT = 2,        /* timer id, deadline (ticks; 0 cancels), period (0 = one-shot) */
  KEEL_CLOCK_EXPIRED = 3         /* -> mask of this component's timers fired since the last ask */
};
#define KEEL_CLOCK_TIMERS 16u
enum keel_sched_op {             /* KEEL_SLOT_SCHED_EP */
  KEEL_SCHED_USAGE = 1,          /* component -> used us, budget us, period us, manifest budget us */
  KEEL_SCHED_SET_BUDGET = 2      /* component, budget us (10 .. the manifest's budget) */
};

#endif /* KEEL_SYS_PROTOCOL_H */

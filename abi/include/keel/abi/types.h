/* keel/abi/types.h — basic ABI types shared by the kernel and user level (C and C++).
 *
 * The Keel kernel ABI is close to seL4 MCS on aarch64 so that a port onto seL4 stays possible.
 * Everything in abi/ is header-only, freestanding and stable: later changes only ADD. */
#ifndef KEEL_ABI_TYPES_H
#define KEEL_ABI_TYPES_H

#include <stdint.h>

#ifdef __cplusplus
#define KEEL_ABI_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define KEEL_ABI_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

typedef uint64_t keel_word_t;
typedef uint64_t keel_cptr_t;   /* capability address, resolved through the caller's CSpace */
typedef uint64_t keel_badge_t;
typedef uint64_t keel_paddr_t;
typedef uint64_t keel_vaddr_t;

#define KEEL_WORD_BITS 64u

/* ---- Capability rights (seL4_CapRights) ------------------------------------------------------
 * Checked when a capability is looked up. Endpoint: Write = may send, Read = may receive,
 * Grant = may transfer capabilities (send side) / accept them (receive side), GrantReply = may
 * Call (receiver gets a reply capability). Notification: Write = Signal, Read = Wait/Poll.
 * Frame: Read/Write bound the rights of mappings. CNode, TCB, ...: rights are not used. */
#define KEEL_RIGHT_WRITE 1u
#define KEEL_RIGHT_READ 2u
#define KEEL_RIGHT_GRANT 4u
#define KEEL_RIGHT_GRANT_REPLY 8u
#define KEEL_RIGHTS_ALL 15u

/* ---- Message info word (seL4_MessageInfo, 64-bit) ----------------------------------------------
 * label[63:12] caps_unwrapped[11:9] extra_caps[8:7] length[6:0] */
#define KEEL_MSG_MAX_LENGTH 120u       /* message registers (words) */
#define KEEL_MSG_MAX_EXTRA_CAPS 3u
#define KEEL_MSG_REGISTERS_IN_CPU 4u   /* MR0..MR3 travel in x2..x5 */

static inline keel_word_t keel_msginfo_new(keel_word_t label, keel_word_t caps_unwrapped,
                                           keel_word_t extra_caps, keel_word_t length) {
  return (label << 12) | ((caps_unwrapped & 7u) << 9) | ((extra_caps & 3u) << 7) | (length & 0x7fu);
}
static inline keel_word_t keel_msginfo_label(keel_word_t info) { return info >> 12; }
static inline keel_word_t keel_msginfo_caps_unwrapped(keel_word_t info) { return (info >> 9) & 7u; }
static inline keel_word_t keel_msginfo_extra_caps(keel_word_t info) { return (info >> 7) & 3u; }
static inline keel_word_t keel_msginfo_length(keel_word_t info) { return info & 0x7fu; }

/* ---- IPC buffer (seL4_IPCBuffer layout, 1 KiB, 1 KiB aligned) --------------------------------
 * msg[0..3] are NOT read or written by the kernel: MR0..MR3 travel in x2..x5. msg[4..119] are
 * read from the sender's buffer and written to the receiver's buffer. caps_or_badges[i] holds
 * the capability address of the i-th extra cap on send and the badge of an unwrapped cap on
 * receive. receive_cnode/index/depth name the slot where a received capability is placed
 * (resolved in the receiver's CSpace; receive_cnode = 0 and depth 0 mean "the CSpace root"). */
typedef struct keel_ipc_buffer {
  keel_word_t tag;
  keel_word_t msg[KEEL_MSG_MAX_LENGTH];
  keel_word_t user_data;
  keel_word_t caps_or_badges[KEEL_MSG_MAX_EXTRA_CAPS];
  keel_cptr_t receive_cnode;
  keel_cptr_t receive_index;
  keel_word_t receive_depth;
} keel_ipc_buffer_t;

#define KEEL_IPC_BUFFER_SIZE_BITS 10u
KEEL_ABI_STATIC_ASSERT(sizeof(keel_ipc_buffer_t) == (1u << KEEL_IPC_BUFFER_SIZE_BITS),
                       "IPC buffer is exactly 1 KiB");

/* ---- Register frame used by TCB ReadRegisters / WriteRegisters (seL4_UserContext order) ------ */
enum keel_register {
  KEEL_REG_PC = 0,
  KEEL_REG_SP = 1,
  KEEL_REG_SPSR = 2,
  KEEL_REG_X0 = 3, /* x0..x30 are KEEL_REG_X0 + n */
  KEEL_REG_X30 = 33,
  KEEL_REG_TPIDR_EL0 = 34,
  KEEL_REG_TPIDRRO_EL0 = 35,
  KEEL_REG_COUNT = 36
};

#endif /* KEEL_ABI_TYPES_H */

// core/cap.h — capabilities, CNode slots and the capability derivation tree (CDT).
//
// A slot is 64 bytes: a 32-byte capability and explicit tree links (parent, first child,
// siblings). Every derived capability (copy, mint, retyped object) is a child of its source.
// Deleting a capability splices its children into its place, so caps to the same object stay
// adjacent among siblings: a cap is the object's last ("final") one exactly when no
// neighbour (parent, first child, previous or next sibling) names the same object. The
// invariant walker checks that property.
#pragma once

#include "core/kernel.h"

namespace keel::kernel {

enum class CapType : std::uint8_t {
  kNull = KEEL_CAP_NULL,
  kUntyped = KEEL_CAP_UNTYPED,
  kTcb = KEEL_CAP_TCB,
  kEndpoint = KEEL_CAP_ENDPOINT,
  kNotification = KEEL_CAP_NOTIFICATION,
  kCNode = KEEL_CAP_CNODE,
  kSchedContext = KEEL_CAP_SCHED_CONTEXT,
  kReply = KEEL_CAP_REPLY,
  kVSpace = KEEL_CAP_VSPACE,
  kFrame = KEEL_CAP_FRAME,
  kPageTable = KEEL_CAP_PAGE_TABLE,
  kIrqControl = KEEL_CAP_IRQ_CONTROL,
  kIrqHandler = KEEL_CAP_IRQ_HANDLER,
  kAsidControl = KEEL_CAP_ASID_CONTROL,
  kAsidPool = KEEL_CAP_ASID_POOL,
  kSchedControl = KEEL_CAP_SCHED_CONTROL,
  // Kernel-internal, never seen by user level: the last capability of a CNode or TCB whose
  // finalisation is queued (flags = its real type). Deleting objects that contain capabilities
  // goes through this queue instead of recursing, so the kernel stack stays bounded however
  // deep user level nests CNodes.
  kZombie = 31,
};

// Field use per type:
//   Untyped:      obj = kva of region, bits = size_bits, flags = is_device, w1 = free offset (bytes)
//   Endpoint/Ntfn: obj = object, w1 = badge, rights
//   CNode:        obj = slot array, bits = radix, aux = guard size, w1 = guard
//   TCB, Reply, SchedContext, ASIDPool: obj = object (SC: bits = size_bits)
//   VSpace:       obj = root table, w2 = its physical address
//   Frame:        obj = kva, bits = 12/21, flags = device, rights, w1 = mapped vaddr,
//                 aux = mapped ASID (0 = not mapped)
//   PageTable:    obj = table, w1 = mapped vaddr, aux = mapped ASID (0 = not mapped),
//                 bits = level of the table (1..3) when mapped
//   IrqHandler:   obj = irq number
struct Cap {
  CapType type;
  std::uint8_t rights;
  std::uint8_t bits;
  std::uint8_t flags;
  std::uint32_t aux;
  word_t obj;
  word_t w1;
  word_t w2;

  bool is_null() const { return type == CapType::kNull; }
  template <class T>
  T* as() const { return reinterpret_cast<T*>(obj); }
  static Cap null() { return Cap{}; }
  static Cap make(CapType t, word_t obj, std::uint8_t bits = 0, std::uint8_t rights = 0) {
    Cap c{};
    c.type = t;
    c.obj = obj;
    c.bits = bits;
    c.rights = rights;
    return c;
  }
};
static_assert(sizeof(Cap) == 32);

struct Slot {
  Cap cap;
  Slot* parent;
  Slot* first_child;
  Slot* next;
  Slot* prev;
};
static_assert(sizeof(Slot) == (1u << KEEL_SLOT_BITS));

// The root of the whole derivation tree: capabilities without a parent (boot caps, caps
// whose ancestors were deleted) are its children, so the invariant walker reaches every slot.
extern Slot g_cdt_root;

// True if both caps name the same kernel object (for final-cap detection and revocation).
bool same_object(const Cap& a, const Cap& b);

// ---- CDT operations (never fail; callers validate first) -------------------------------------
// Put `cap` into the empty slot `dest` as a child of `parent` (nullptr = g_cdt_root).
void cdt_insert(Slot* dest, const Cap& cap, Slot* parent);
// Move src's cap and its tree position to the empty slot dest (src becomes empty).
void cdt_move(Slot* dest, Slot* src, const Cap& new_cap);
// Swap-free removal of `slot` from the tree (children are spliced into its place); the cap
// stays in the slot. Used by delete after finalisation.
void cdt_unlink(Slot* slot);
bool cdt_is_final(const Slot* slot);
bool cdt_has_children(const Slot* slot);

// ---- Delete / revoke -------------------------------------------------------------------------
// Delete the capability in `slot`: if it is the object's last capability, the object is
// finalised (all references to it cleaned up). Never fails.
void cap_delete(Slot* slot);
// Delete every descendant of `slot` (post-order).
void cap_revoke(Slot* slot);

// Derive a copy of `cap` for Copy/Mint/transfer (seL4 deriveCap): mapped page tables cannot
// be copied, frames lose their mapping, IRQControl/ASIDControl/SchedControl stay unique,
// Reply caps cannot be copied, an untyped with children cannot be copied.
KResult<Cap> derive_cap(const Slot* src, const Cap& cap);
// Apply a rights mask and (badge/guard) data for Mint/Mutate. Returns Err if data is invalid.
KResult<Cap> update_cap_data(const Cap& cap, bool has_data, word_t data, word_t rights_mask);

}  // namespace keel::kernel

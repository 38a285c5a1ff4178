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
  kDebugControl = KEEL_CAP_DEBUG_CONTROL,
  // Kernel-internal, never seen by user level: the last capability of a CNode or TCB whose
  // finalisation is queued (flags = its real type). Deleting objects that contain capabilities
  // goes through this queue instead of recursing, so the kernel stack stays bounded however
  // deep user level nests CNodes.
  kZombie = 31,
};

struct Slot;
struct Endpoint;
struct Notification;
struct Reply;
struct SchedContext;
struct Tcb;
struct AsidPool;

// What an untyped region or a frame is: RAM (zeroed on retype) or device memory (never zeroed,
// mapped uncached).
enum class Memory : bool { kRam, kDevice };

// A capability: its type, rights and what it names, in 32 bytes. The three words after the
// object pointer mean something different per type; only the typed accessors below read or
// write them, each named for the one type it is valid for.
class Cap {
 public:
  CapType type;
  std::uint8_t rights;

  bool is_null() const { return type == CapType::kNull; }
  bool has_rights(word_t r) const { return (rights & r) == r; }
  // The object named (a kernel address; the IRQ number for an IRQHandler, 0 for the
  // control caps). Two caps name the same object when type and object agree.
  word_t object() const { return obj_; }
  template <class T>
  T* as() const { return reinterpret_cast<T*>(obj_); }

  static Cap null() { return Cap{}; }
  static Cap make(CapType t, word_t obj, std::uint8_t bits = 0, std::uint8_t rights = 0) {
    Cap c{};
    c.type = t;
    c.obj_ = obj;
    c.bits_ = bits;
    c.rights = rights;
    return c;
  }

  // Untyped: a power-of-two region; objects are carved from the free offset upwards.
  static Cap untyped(word_t kva, unsigned size_bits, Memory memory) {
    Cap c = make(CapType::kUntyped, kva, static_cast<std::uint8_t>(size_bits));
    c.flags_ = memory == Memory::kDevice ? 1 : 0;
    return c;
  }
  unsigned untyped_size_bits() const { return bits_; }
  word_t untyped_size() const { return word_t{1} << bits_; }
  bool untyped_is_device() const { return flags_ != 0; }
  Memory untyped_memory() const { return untyped_is_device() ? Memory::kDevice : Memory::kRam; }
  word_t untyped_free_offset() const { return w1_; }
  void set_untyped_free_offset(word_t bytes) { w1_ = bytes; }

  // Endpoint and Notification: the badge delivered to the receiver (0 = unbadged).
  word_t badge() const { return w1_; }
  void set_badge(word_t b) { w1_ = b; }

  // CNode: 2^radix slots behind a guard of guard_size bits.
  Slot* cnode_slots() const { return reinterpret_cast<Slot*>(obj_); }
  unsigned cnode_radix() const { return bits_; }
  unsigned cnode_guard_size() const { return aux_; }
  word_t cnode_guard() const { return w1_; }
  void set_cnode_guard(unsigned guard_size, word_t guard) {
    aux_ = guard_size;
    w1_ = guard;
  }

  // SchedContext: the object's size.
  unsigned sc_size_bits() const { return bits_; }

  // VSpace: the root table and its physical address (cached for the address-space switch).
  arch::pte_t* vspace_root() const { return reinterpret_cast<arch::pte_t*>(obj_); }
  paddr_t vspace_root_paddr() const { return w2_; }
  void set_vspace_root_paddr(paddr_t pa) { w2_ = pa; }

  // Frame: 2^size_bits bytes at a kernel address; mapped at one vaddr in one ASID (0 = not).
  static Cap frame(word_t kva, unsigned size_bits, Memory memory, std::uint8_t rights) {
    Cap c = make(CapType::kFrame, kva, static_cast<std::uint8_t>(size_bits), rights);
    c.flags_ = memory == Memory::kDevice ? 1 : 0;
    return c;
  }
  unsigned frame_size_bits() const { return bits_; }
  bool frame_is_device() const { return flags_ != 0; }
  Memory frame_memory() const { return frame_is_device() ? Memory::kDevice : Memory::kRam; }
  bool frame_is_mapped() const { return aux_ != 0; }
  unsigned frame_mapped_asid() const { return aux_; }
  vaddr_t frame_mapped_vaddr() const { return w1_; }
  void set_frame_mapping(unsigned asid, vaddr_t va) {
    aux_ = asid;
    w1_ = va;
  }
  void clear_frame_mapping() { set_frame_mapping(0, 0); }

  // PageTable: when mapped, the table sits at `level` (1..3) for `vaddr` in ASID `asid`.
  bool pt_is_mapped() const { return aux_ != 0; }
  unsigned pt_mapped_asid() const { return aux_; }
  vaddr_t pt_mapped_vaddr() const { return w1_; }
  unsigned pt_level() const { return bits_; }
  void set_pt_mapping(unsigned asid, vaddr_t va, unsigned level) {
    aux_ = asid;
    w1_ = va;
    bits_ = static_cast<std::uint8_t>(level);
  }
  void clear_pt_mapping() { set_pt_mapping(0, 0, 0); }

  // IrqHandler: the IRQ number.
  unsigned irq() const { return static_cast<unsigned>(obj_); }

  // The first per-type word as is (badge, free offset, guard, mapped vaddr): DebugCapIdentify.
  word_t debug_word() const { return w1_; }

  // Zombie (kernel-internal): the last capability of a CNode or TCB queued for finalisation;
  // it keeps every field and remembers its real type.
  Cap to_zombie() const {
    Cap z = *this;
    z.flags_ = static_cast<std::uint8_t>(type);
    z.type = CapType::kZombie;
    return z;
  }
  Cap from_zombie() const {
    Cap c = *this;
    c.type = static_cast<CapType>(flags_);
    c.flags_ = 0;
    return c;
  }

 private:
  std::uint8_t bits_;
  std::uint8_t flags_;
  std::uint32_t aux_;
  word_t obj_;
  word_t w1_;
  word_t w2_;
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

// ---- Typed lookup (Zircon's GetDispatcherWithRights) -----------------------------------------
// One check of a capability's type and rights, giving its object typed: T is the object type
// (Slot for a CNode's slot array).
template <class T>
struct CapTypeOf;
template <> struct CapTypeOf<Endpoint> { static constexpr CapType value = CapType::kEndpoint; };
template <> struct CapTypeOf<Notification> { static constexpr CapType value = CapType::kNotification; };
template <> struct CapTypeOf<Reply> { static constexpr CapType value = CapType::kReply; };
template <> struct CapTypeOf<SchedContext> { static constexpr CapType value = CapType::kSchedContext; };
template <> struct CapTypeOf<Tcb> { static constexpr CapType value = CapType::kTcb; };
template <> struct CapTypeOf<AsidPool> { static constexpr CapType value = CapType::kAsidPool; };
template <> struct CapTypeOf<Slot> { static constexpr CapType value = CapType::kCNode; };

// The object of `cap` if it is T's capability type and holds every right in `rights`, else
// nullptr (syscalls turn that into a capability fault).
template <class T>
[[gnu::always_inline]] inline T* cap_object(const Cap& cap, word_t rights = 0) {
  if (cap.type != CapTypeOf<T>::value || !cap.has_rights(rights)) return nullptr;
  T* object = cap.as<T>();
  // Object capabilities never name address 0: callers' null checks cost nothing beyond the
  // type and rights check (the IPC fastpath relies on it).
  if (object == nullptr) __builtin_unreachable();
  return object;
}
// The same check for capabilities whose object has no C++ type of its own (VSpace, Frame,
// PageTable, Untyped...).
[[gnu::always_inline]] inline bool cap_is(const Cap& cap, CapType type, word_t rights = 0) {
  return cap.type == type && cap.has_rights(rights);
}
// The same for an invocation argument: InvalidCapability naming which one (0 = the invoked
// capability, 1.. = the extra caps) when it is not.
template <class T>
Result<T*> cap_arg(const Cap& cap, unsigned index, word_t rights = 0) {
  T* o = cap_object<T>(cap, rights);
  if (o == nullptr) return fail_cap(index);
  return o;
}
inline Result<> cap_arg(const Cap& cap, CapType type, unsigned index, word_t rights = 0) {
  if (!cap_is(cap, type, rights)) return fail_cap(index);
  return {};
}

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
Result<Cap> derive_cap(const Slot* src, const Cap& cap);
// Whether update_cap_data sets the badge / guard from `data` (Mint, Mutate) or keeps it (Copy).
enum class CapData : bool { kKeep, kSet };
// Apply a rights mask and (badge/guard) data for Mint/Mutate. Returns Err if data is invalid.
Result<Cap> update_cap_data(const Cap& cap, CapData what, word_t data, word_t rights_mask);

}  // namespace keel::kernel

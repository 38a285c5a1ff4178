// untyped.cc — object sizes and creation from untyped memory; the Retype invocation.
#include "object/untyped.h"

#include "object/cnode.h"
#include "object/endpoint.h"
#include "object/notification.h"
#include "object/reply.h"
#include "object/sched_context.h"
#include "object/tcb.h"
#include "object/vspace.h"

namespace keel::kernel {

unsigned object_size_bits(word_t type, word_t user_bits) {
  switch (type) {
    case KEEL_OBJ_UNTYPED:
      return user_bits >= KEEL_MIN_UNTYPED_BITS && user_bits <= KEEL_MAX_UNTYPED_BITS ? static_cast<unsigned>(user_bits) : 0;
    case KEEL_OBJ_TCB: return KEEL_TCB_BITS;
    case KEEL_OBJ_ENDPOINT: return KEEL_ENDPOINT_BITS;
    case KEEL_OBJ_NOTIFICATION: return KEEL_NOTIFICATION_BITS;
    case KEEL_OBJ_CNODE:
      return user_bits >= KEEL_MIN_CNODE_RADIX && user_bits <= KEEL_MAX_CNODE_RADIX
                 ? static_cast<unsigned>(user_bits) + KEEL_SLOT_BITS : 0;
    case KEEL_OBJ_SCHED_CONTEXT:
      return user_bits >= KEEL_MIN_SCHED_CONTEXT_BITS && user_bits <= KEEL_MAX_SCHED_CONTEXT_BITS
                 ? static_cast<unsigned>(user_bits) : 0;
    case KEEL_OBJ_REPLY: return KEEL_REPLY_BITS;
    case KEEL_OBJ_VSPACE: return KEEL_VSPACE_BITS;
    case KEEL_OBJ_SMALL_PAGE: return KEEL_PAGE_BITS;
    case KEEL_OBJ_LARGE_PAGE: return KEEL_LARGE_PAGE_BITS;
    case KEEL_OBJ_PAGE_TABLE: return KEEL_PAGE_TABLE_BITS;
    default: return 0;
  }
}

Cap object_create(word_t type, void* kva, unsigned user_bits, Memory memory) {
  word_t obj = reinterpret_cast<word_t>(kva);
  switch (type) {
    case KEEL_OBJ_UNTYPED: return Cap::untyped(obj, user_bits, memory);
    case KEEL_OBJ_TCB: {
      auto* t = static_cast<Tcb*>(kva);
      tcb_init(t);
      arch::context_init(&t->ctx, 0, 0, 0);
      return Cap::make(CapType::kTcb, obj);
    }
    case KEEL_OBJ_ENDPOINT: return Cap::make(CapType::kEndpoint, obj, 0, KEEL_RIGHTS_ALL);
    case KEEL_OBJ_NOTIFICATION: return Cap::make(CapType::kNotification, obj, 0, KEEL_RIGHTS_ALL);
    case KEEL_OBJ_CNODE: return Cap::make(CapType::kCNode, obj, static_cast<std::uint8_t>(user_bits), KEEL_RIGHTS_ALL);
    case KEEL_OBJ_SCHED_CONTEXT: {
      static_cast<SchedContext*>(kva)->size_bits = static_cast<std::uint8_t>(user_bits);
      return Cap::make(CapType::kSchedContext, obj, static_cast<std::uint8_t>(user_bits));
    }
    case KEEL_OBJ_REPLY: return Cap::make(CapType::kReply, obj);
    case KEEL_OBJ_VSPACE: {
      Cap c = Cap::make(CapType::kVSpace, obj);
      c.set_vspace_root_paddr(arch::kvtop(kva));
      return c;
    }
    case KEEL_OBJ_SMALL_PAGE:
    case KEEL_OBJ_LARGE_PAGE:
      return Cap::frame(obj, type == KEEL_OBJ_SMALL_PAGE ? KEEL_PAGE_BITS : KEEL_LARGE_PAGE_BITS, memory,
                        KEEL_RIGHT_READ | KEEL_RIGHT_WRITE);
    case KEEL_OBJ_PAGE_TABLE: return Cap::make(CapType::kPageTable, obj);
    default: return Cap::null();
  }
}

// ---- Retype -------------------------------------------------------------------------------------
namespace {

struct Retype {
  word_t type;
  unsigned user_bits;
  unsigned bits;    // log2 size of each object
  word_t start;     // offset in the untyped of the first object
  word_t count;
  Slot* dest;       // first of `count` empty slots
};

Result<> perform_untyped_retype(Slot* ut_slot, const Retype& r) {
  Cap& ut = ut_slot->cap;
  Memory memory = ut.untyped_memory();
  for (word_t i = 0; i < r.count; ++i) {
    void* kva = reinterpret_cast<void*>(ut.object() + r.start + (i << r.bits));
    if (memory == Memory::kRam) arch::zero_memory(kva, word_t{1} << r.bits);
    Cap c = object_create(r.type, kva, r.user_bits, memory);
    cdt_insert(&r.dest[i], c, ut_slot);
  }
  ut.set_untyped_free_offset(r.start + (r.count << r.bits));
  return {};
}

}  // namespace

// Retype (type, size bits, node index, node depth, node offset, count; extra cap 0 = the CNode
// the node index is resolved in).
Result<> decode_untyped_invocation(Invocation& inv) {
  if (inv.label != KEEL_UNTYPED_RETYPE) return fail(KEEL_ILLEGAL_OPERATION);
  TRY(inv.need(6, 1));
  word_t type = inv.mr(0), user_bits = inv.mr(1), node_index = inv.mr(2), node_depth = inv.mr(3);
  word_t offset = inv.mr(4), num = inv.mr(5);
  const Cap& ut = inv.cap();
  if (type >= KEEL_OBJ_TYPE_COUNT) return fail_arg(0);
  unsigned bits = object_size_bits(type, user_bits);
  if (bits == 0) {
    if (type == KEEL_OBJ_UNTYPED) return fail_range(KEEL_MIN_UNTYPED_BITS, KEEL_MAX_UNTYPED_BITS);
    if (type == KEEL_OBJ_CNODE) return fail_range(KEEL_MIN_CNODE_RADIX, KEEL_MAX_CNODE_RADIX);
    return fail_range(KEEL_MIN_SCHED_CONTEXT_BITS, KEEL_MAX_SCHED_CONTEXT_BITS);
  }
  const Cap* node = &inv.extra_cap(0);
  if (node_depth != 0) {
    Slot* s = TRY(lookup_target_slot(*node, node_index, node_depth, LookupOf::kDestination));
    node = &s->cap;
  }
  Slot* slots = cap_object<Slot>(*node);
  if (slots == nullptr) {
    g_lookup_fault = LookupFault{KEEL_LOOKUP_MISSING_CAPABILITY, 0, 0, 0};
    return fail_lookup(LookupOf::kDestination);
  }
  word_t n = word_t{1} << node->cnode_radix();
  if (offset >= n) return fail_range(0, n - 1);
  if (num < 1 || num > KEEL_MAX_RETYPE_OBJECTS || num > n - offset)
    return fail_range(1, n - offset < KEEL_MAX_RETYPE_OBJECTS ? n - offset : KEEL_MAX_RETYPE_OBJECTS);
  Slot* dest = slots + offset;
  for (word_t i = 0; i < num; ++i) {
    if (!dest[i].cap.is_null()) return fail(KEEL_DELETE_FIRST);
  }
  if (ut.untyped_is_device() && type != KEEL_OBJ_UNTYPED && type != KEEL_OBJ_SMALL_PAGE && type != KEEL_OBJ_LARGE_PAGE)
    return fail_arg(0);
  word_t size = ut.untyped_size();
  word_t free = cdt_has_children(inv.slot) ? ut.untyped_free_offset() : 0;  // no children: the untyped is reset
  word_t start = align_up(free, bits);
  if (bits > ut.untyped_size_bits() || start > size || ((size - start) >> bits) < num) return fail_memory(size - free);
  return perform_untyped_retype(inv.slot, Retype{type, static_cast<unsigned>(user_bits), bits, start, num, dest});
}

}  // namespace keel::kernel

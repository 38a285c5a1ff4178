// untyped.cc — object sizes and creation from untyped memory.
#include "object/untyped.h"

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

Cap object_create(word_t type, void* kva, unsigned user_bits, bool device) {
  word_t obj = reinterpret_cast<word_t>(kva);
  switch (type) {
    case KEEL_OBJ_UNTYPED: {
      Cap c = Cap::make(CapType::kUntyped, obj, static_cast<std::uint8_t>(user_bits));
      c.flags = device ? 1 : 0;
      return c;
    }
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
      c.w2 = arch::kvtop(kva);
      return c;
    }
    case KEEL_OBJ_SMALL_PAGE:
    case KEEL_OBJ_LARGE_PAGE: {
      Cap c = Cap::make(CapType::kFrame, obj,
                        static_cast<std::uint8_t>(type == KEEL_OBJ_SMALL_PAGE ? KEEL_PAGE_BITS : KEEL_LARGE_PAGE_BITS),
                        KEEL_RIGHT_READ | KEEL_RIGHT_WRITE);
      c.flags = device ? 1 : 0;
      return c;
    }
    case KEEL_OBJ_PAGE_TABLE: return Cap::make(CapType::kPageTable, obj);
    default: return Cap::null();
  }
}

}  // namespace keel::kernel

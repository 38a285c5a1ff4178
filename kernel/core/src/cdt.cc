// cdt.cc — the capability derivation tree, delete and revoke.
#include "core/cap.h"
#include "object/cnode.h"
#include "object/endpoint.h"
#include "object/irq.h"
#include "object/notification.h"
#include "object/reply.h"
#include "object/sched_context.h"
#include "object/tcb.h"
#include "object/vspace.h"

namespace keel::kernel {

bool same_object(const Cap& a, const Cap& b) {
  if (a.type != b.type || a.object() != b.object()) return false;
  // Untyped caps of one region: a copy is a different "object" for finality (no finaliser).
  return a.type != CapType::kNull && a.type != CapType::kUntyped;
}

Slot g_cdt_root;

void cdt_insert(Slot* dest, const Cap& cap, Slot* parent) {
  if (parent == nullptr) parent = &g_cdt_root;
  dest->cap = cap;
  dest->parent = parent;
  dest->first_child = nullptr;
  dest->prev = nullptr;
  dest->next = parent->first_child;
  if (dest->next != nullptr) dest->next->prev = dest;
  parent->first_child = dest;
}

void cdt_move(Slot* dest, Slot* src, const Cap& new_cap) {
  dest->cap = new_cap;
  dest->parent = src->parent;
  dest->first_child = src->first_child;
  dest->next = src->next;
  dest->prev = src->prev;
  if (dest->prev != nullptr) dest->prev->next = dest;
  else if (dest->parent != nullptr) dest->parent->first_child = dest;
  if (dest->next != nullptr) dest->next->prev = dest;
  for (Slot* c = dest->first_child; c != nullptr; c = c->next) c->parent = dest;
  src->cap = Cap::null();
  src->parent = src->first_child = src->next = src->prev = nullptr;
}

void cdt_unlink(Slot* s) {
  Slot* parent = s->parent;
  Slot* first = s->first_child;
  if (first != nullptr) {
    // Splice the children into s's place, keeping their order.
    Slot* last = first;
    for (Slot* c = first; c != nullptr; c = c->next) {
      c->parent = parent;
      last = c;
    }
    first->prev = s->prev;
    last->next = s->next;
    if (s->prev != nullptr) s->prev->next = first;
    else if (parent != nullptr) parent->first_child = first;
    if (s->next != nullptr) s->next->prev = last;
  } else {
    if (s->prev != nullptr) s->prev->next = s->next;
    else if (parent != nullptr) parent->first_child = s->next;
    if (s->next != nullptr) s->next->prev = s->prev;
  }
  s->parent = s->first_child = s->next = s->prev = nullptr;
}

bool cdt_has_children(const Slot* s) { return s->first_child != nullptr; }

bool cdt_is_final(const Slot* s) {
  const Cap& c = s->cap;
  if (s->parent != nullptr && same_object(s->parent->cap, c)) return false;
  if (s->first_child != nullptr && same_object(s->first_child->cap, c)) return false;
  if (s->prev != nullptr && same_object(s->prev->cap, c)) return false;
  if (s->next != nullptr && same_object(s->next->cap, c)) return false;
  return true;
}

// Clean up everything that refers to the object of `cap`, its last capability being gone.
static void finalise(const Cap& cap) {
  switch (cap.type) {
    case CapType::kEndpoint: ep_cancel_all(cap.as<Endpoint>()); break;
    case CapType::kNotification: ntfn_finalise(cap.as<Notification>()); break;
    case CapType::kReply: reply_finalise(cap.as<Reply>()); break;
    case CapType::kTcb: tcb_finalise(cap.as<Tcb>()); break;
    case CapType::kSchedContext: sc_finalise(cap.as<SchedContext>()); break;
    case CapType::kCNode: cnode_finalise(cap.cnode_slots(), cap.cnode_radix()); break;
    case CapType::kIrqHandler: irq_handler_finalise(cap.irq()); break;
    case CapType::kVSpace: vspace_finalise(cap.vspace_root()); break;
    case CapType::kAsidPool: asid_pool_finalise(cap.as<AsidPool>()); break;
    default: break;
  }
}

namespace {
Slot* g_zombies;   // queued zombie slots, linked through Slot::next (they are out of the tree)
bool g_draining;   // a top-level cap_delete is finalising the queue
}  // namespace

void cap_delete(Slot* s) {
  if (s->cap.is_null() || s->cap.type == CapType::kZombie) return;
  bool final = cdt_is_final(s);
  Cap cap = s->cap;
  cdt_unlink(s);
  s->cap = Cap::null();
  // A mapping belongs to the capability that made it, final or not.
  if (cap.type == CapType::kFrame && cap.frame_is_mapped()) frame_unmap(cap);
  if (cap.type == CapType::kPageTable && cap.pt_is_mapped()) page_table_unmap(cap);
  if (final) {
    if (cap.type == CapType::kCNode || cap.type == CapType::kTcb) {
      // Objects holding capabilities: queue them (the slot keeps a zombie until then).
      s->cap = cap.to_zombie();
      s->next = g_zombies;
      g_zombies = s;
    } else {
      finalise(cap);
    }
  }
  if (g_draining) return;
  // Top level: finalise queued objects; their contents may queue more. The memory of every
  // object involved stays untouched until this loop ends (nothing is retyped meanwhile).
  g_draining = true;
  while (g_zombies != nullptr) {
    Slot* z = g_zombies;
    g_zombies = z->next;
    z->next = nullptr;
    Cap c = z->cap.from_zombie();
    z->cap = Cap::null();
    finalise(c);
  }
  g_draining = false;
}

void cap_revoke(Slot* s) {
  // Delete leaves first; finalisers may delete further slots of the subtree themselves.
  while (s->first_child != nullptr) {
    Slot* leaf = s->first_child;
    while (leaf->first_child != nullptr) leaf = leaf->first_child;
    cap_delete(leaf);
  }
}

Result<Cap> derive_cap(const Slot* src, const Cap& cap) {
  Cap c = cap;
  switch (cap.type) {
    case CapType::kNull: return fail(KEEL_ILLEGAL_OPERATION);
    case CapType::kUntyped:
      if (cdt_has_children(src)) return fail(KEEL_REVOKE_FIRST);
      c.set_untyped_free_offset(0);
      return c;
    case CapType::kPageTable:
      if (cap.pt_is_mapped()) return fail(KEEL_ILLEGAL_OPERATION);
      return c;
    case CapType::kFrame:
      c.clear_frame_mapping();
      return c;
    case CapType::kIrqControl:
    case CapType::kAsidControl:
    case CapType::kSchedControl:
    case CapType::kDebugControl:
      return fail(KEEL_ILLEGAL_OPERATION);
    default: return c;
  }
}

Result<Cap> update_cap_data(const Cap& cap, CapData what, word_t data, word_t rights_mask) {
  Cap c = cap;
  c.rights = static_cast<std::uint8_t>(c.rights & rights_mask & KEEL_RIGHTS_ALL);
  if (what == CapData::kKeep) return c;
  switch (cap.type) {
    case CapType::kEndpoint:
    case CapType::kNotification:
      if (data != 0) {
        if (cap.badge() != 0) return fail(KEEL_ILLEGAL_OPERATION);  // already badged
        c.set_badge(data);
      }
      return c;
    case CapType::kCNode: {
      word_t guard_size = data & 63u;
      word_t guard = data >> 6;
      if (guard_size + cap.cnode_radix() > 64) return fail(KEEL_ILLEGAL_OPERATION);
      if (guard_size < 58 && (guard >> guard_size) != 0) return fail(KEEL_ILLEGAL_OPERATION);
      c.set_cnode_guard(static_cast<unsigned>(guard_size), guard);
      return c;
    }
    default: return c;
  }
}

}  // namespace keel::kernel

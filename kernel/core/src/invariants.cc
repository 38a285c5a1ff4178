// invariants.cc — the kernel invariant walker. Walks the derivation tree from g_cdt_root
// (every capability in the system is in it) and checks, for each capability and the object it
// names: tree links, same-object adjacency (final-cap detection relies on it), untyped
// watermarks, endpoint / notification queues, TCB <-> reply / SC / notification back-links;
// then the ready queues and the release queue, and that the FP/SIMD owner is a live TCB.
#include "core/invariants.h"

#include "core/cap.h"
#include "object/endpoint.h"
#include "object/notification.h"
#include "object/reply.h"
#include "object/sched_context.h"
#include "object/vspace.h"

namespace keel::kernel {

const char* g_invariant_first_violation;
Tcb* ready_head(unsigned prio);
SchedContext* release_queue_head();

namespace {

word_t g_violations;
bool g_fpu_owner_seen;  // the FP owner is a live TCB (some capability names it)
constexpr word_t kMaxSteps = 1u << 24;  // guards the walk against corrupted (cyclic) links

void violation(const char* what, word_t detail) {
  if (g_violations == 0) g_invariant_first_violation = what;
  ++g_violations;
  if (g_violations <= 16) {
    kprint("KEEL INVARIANT: ");
    kprint(what);
    kprint(" ");
    kprint_hex(detail);
    kprint("\n");
  }
}
#define CHECK(cond, what, detail) \
  do {                            \
    if (!(cond)) violation(what, reinterpret_cast<word_t>(detail)); \
  } while (0)

bool memory_object(CapType t) {
  return t != CapType::kNull && t != CapType::kIrqControl && t != CapType::kIrqHandler &&
         t != CapType::kAsidControl && t != CapType::kSchedControl && t != CapType::kDebugControl;
}

void check_thread_queue(Tcb* head, Tcb* tail, void* obj, ThreadState s1, ThreadState s2) {
  Tcb* prev = nullptr;
  word_t n = 0;
  for (Tcb* t = head; t != nullptr && n < kMaxSteps; t = t->qnext, ++n) {
    CHECK(t->qprev == prev, "queue: broken back link", t);
    CHECK(t->blocked_on == obj, "queue: thread blocked elsewhere", t);
    CHECK(t->state == s1 || t->state == s2, "queue: thread in wrong state", t);
    CHECK(!t->in_ready_queue, "queue: blocked thread in a ready queue", t);
    if (head != nullptr) CHECK(t->state == head->state, "queue: mixed senders and receivers", t);
    prev = t;
  }
  CHECK(tail == prev, "queue: tail mismatch", obj);
}

void check_object(const Slot* s) {
  const Cap& c = s->cap;
  switch (c.type) {
    case CapType::kEndpoint: {
      auto* ep = c.as<Endpoint>();
      check_thread_queue(ep->head, ep->tail, ep, ThreadState::kBlockedOnSend, ThreadState::kBlockedOnRecv);
      break;
    }
    case CapType::kNotification: {
      auto* n = c.as<Notification>();
      check_thread_queue(n->head, n->tail, n, ThreadState::kBlockedOnNotification, ThreadState::kBlockedOnNotification);
      word_t steps = 0;
      for (const Tcb* w = n->head; w != nullptr && steps < kMaxSteps; w = w->qnext, ++steps)
        CHECK(!n->unbadged && (n->word & w->wait_mask) == 0, "notification: a waiter's signal is pending", n);
      CHECK(n->active == (n->word != 0 || n->unbadged), "notification: active flag disagrees", n);
      CHECK(n->bound_tcb == nullptr || n->bound_tcb->bound_ntfn == n, "notification: bound TCB link", n);
      CHECK(n->sc == nullptr || n->sc->ntfn == n, "notification: SC link", n);
      break;
    }
    case CapType::kTcb: {
      Tcb* t = c.as<Tcb>();
      if (t == g_fpu_owner) g_fpu_owner_seen = true;
      CHECK(t->sc == nullptr || t->sc->tcb == t, "tcb: SC back link", t);
      CHECK(t->bound_ntfn == nullptr || t->bound_ntfn->bound_tcb == t, "tcb: notification back link", t);
      if (t->state == ThreadState::kBlockedOnReply) {
        CHECK(t->reply != nullptr && t->reply->caller == t, "tcb: reply link of a caller", t);
      }
      if (t->state == ThreadState::kBlockedOnRecv && t->reply != nullptr) {
        CHECK(t->reply->receiver == t, "tcb: reply link of a receiver", t);
      }
      if (t->in_ready_queue) CHECK(tcb_runnable(t) && t != g_current, "tcb: unrunnable thread queued", t);
      for (unsigned i = 0; i < kTcbSlots; ++i) {
        const Cap& sc = t->slots[i].cap;
        CHECK(sc.is_null() || (i != kTcbCSpace || sc.type == CapType::kCNode), "tcb: CSpace slot type", t);
        CHECK(sc.is_null() || (i != kTcbVSpace || sc.type == CapType::kVSpace), "tcb: VSpace slot type", t);
      }
      break;
    }
    case CapType::kReply: {
      auto* r = c.as<Reply>();
      CHECK(r->caller == nullptr || (r->caller->reply == r && r->caller->state == ThreadState::kBlockedOnReply),
            "reply: caller link", r);
      CHECK(r->receiver == nullptr || (r->receiver->reply == r && r->receiver->state == ThreadState::kBlockedOnRecv),
            "reply: receiver link", r);
      CHECK(r->donated == nullptr || r->donated->reply != nullptr, "reply: donated SC without call stack", r);
      break;
    }
    case CapType::kSchedContext: {
      auto* sc = c.as<SchedContext>();
      if (sc->in_release_queue) {
        bool found = false;
        word_t n = 0;
        for (SchedContext* q = release_queue_head(); q != nullptr && n < kMaxSteps; q = q->rnext, ++n) found |= q == sc;
        CHECK(found, "sc: marked released-pending but not in the release queue", sc);
      }
      CHECK(sc->tcb == nullptr || sc->tcb->sc == sc, "sc: TCB back link", sc);
      CHECK(sc->ntfn == nullptr || sc->ntfn->sc == sc, "sc: notification back link", sc);
      CHECK(!sc->configured || sc->remaining <= sc->budget, "sc: remaining above budget", sc);
      break;
    }
    case CapType::kUntyped: {
      word_t size = c.untyped_size();
      word_t base = c.object(), free = c.untyped_free_offset();
      CHECK(free <= size, "untyped: watermark beyond its size", s);
      for (const Slot* ch = s->first_child; ch != nullptr; ch = ch->next) {
        if (!memory_object(ch->cap.type)) continue;
        word_t child = ch->cap.object();
        CHECK(child >= base && child < base + size, "untyped: child outside the region", ch);
        CHECK(child < base + free || free == 0, "untyped: child above the watermark", ch);
      }
      break;
    }
    case CapType::kFrame:
      if (c.frame_is_mapped()) CHECK(c.frame_mapped_vaddr() < KEEL_USER_TOP, "frame: mapped outside user space", s);
      break;
    default: break;
  }
}

void check_node(const Slot* s) {
  CHECK(s == &g_cdt_root || !s->cap.is_null(), "cdt: empty slot in the tree", s);
  const Slot* prev = nullptr;
  word_t n = 0;
  for (const Slot* c = s->first_child; c != nullptr && n < kMaxSteps; c = c->next, ++n) {
    CHECK(c->parent == s, "cdt: child's parent link", c);
    CHECK(c->prev == prev, "cdt: sibling back link", c);
    if (s != &g_cdt_root && s->cap.type != CapType::kUntyped && memory_object(s->cap.type) &&
        s->cap.type == c->cap.type) {
      CHECK(same_object(s->cap, c->cap), "cdt: child names another object", c);
    }
    // Same-object adjacency: a later sibling naming c's object must follow immediately.
    if (n < 4096 && prev != nullptr && !same_object(prev->cap, c->cap)) {
      for (const Slot* q = s->first_child; q != prev; q = q->next) {
        CHECK(!same_object(q->cap, c->cap), "cdt: caps to one object not adjacent", c);
      }
    }
    prev = c;
  }
  if (s != &g_cdt_root) check_object(s);
}

void check_scheduler() {
  for (unsigned p = 0; p <= KEEL_MAX_PRIO; ++p) {
    Tcb* prev = nullptr;
    for (Tcb* t = ready_head(p); t != nullptr; t = t->qnext) {
      CHECK(t->prio == p, "ready queue: wrong priority", t);
      CHECK(t->in_ready_queue, "ready queue: flag not set", t);
      CHECK(t->qprev == prev, "ready queue: back link", t);
      CHECK(t != g_current, "ready queue: current thread queued", t);
      CHECK(tcb_runnable(t), "ready queue: thread not runnable", t);
      prev = t;
    }
  }
  int hp = ready_highest_prio();
  CHECK(hp < 0 || ready_head(static_cast<unsigned>(hp)) != nullptr, "ready queue: bitmap", nullptr);
  if (g_current != nullptr) CHECK(!g_current->in_ready_queue, "current thread marked queued", g_current);
  word_t n = 0;
  for (SchedContext* sc = release_queue_head(); sc != nullptr && n < kMaxSteps; sc = sc->rnext, ++n) {
    CHECK(sc->in_release_queue, "release queue: flag not set", sc);
    CHECK(sc->rnext == nullptr || sc->rnext->release_at >= sc->release_at, "release queue: not sorted", sc);
    CHECK(sc->tcb == nullptr || !sc->tcb->in_ready_queue, "release queue: its thread is ready", sc);
  }
}

}  // namespace

word_t invariants_check() {
  g_violations = 0;
  g_invariant_first_violation = nullptr;
  g_fpu_owner_seen = false;
  // Iterative pre-order walk of the derivation tree (it is a tree: no visited set needed).
  const Slot* s = &g_cdt_root;
  word_t steps = 0;
  while (s != nullptr && steps++ < kMaxSteps) {
    check_node(s);
    if (s->first_child != nullptr) {
      s = s->first_child;
      continue;
    }
    while (s != nullptr && s != &g_cdt_root && s->next == nullptr) s = s->parent;
    if (s == nullptr || s == &g_cdt_root) break;
    s = s->next;
  }
  CHECK(steps < kMaxSteps, "cdt: walk did not terminate", nullptr);
  CHECK(g_fpu_owner == nullptr || g_fpu_owner_seen, "fpu: owner is not a live TCB", g_fpu_owner);
  check_scheduler();
  return g_violations;
}

}  // namespace keel::kernel

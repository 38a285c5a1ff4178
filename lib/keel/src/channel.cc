// libkeel channels: open through the message server, rpc (client and server), events, streams,
// and the CHANNEL_DOWN rule of docs/os-services.md: a call or signal that comes back with
// KEEL_CHANNEL_DOWN reports KEEL_CHANNEL_DOWN, the capability is forgotten, and the next
// use opens the channel again.
#include "keel/keel.h"
#include "keel_internal.h"

namespace {

constexpr uint64_t kRpcBadgeBase = 0x1000;  // rpc server end k arrives with badge 0x1000 + k
constexpr uint64_t kMaxLabel = (1ull << 52) - 1;

struct End {
  bool open;
  uint32_t slot;  // capability slot given by msg (0: none needed)
};
End g_end[KEEL_MAX_CHANNEL_ENDS];
// A stream producer's last write that did not fit: the free bytes it needs (keel_channel_wait).
uint64_t g_want[KEEL_MAX_CHANNEL_ENDS];

// Signal suppression (keel_stream_ring_t): say we wait, then look again (the barrier pairs with
// the other side's after it moved its counter and before it looks at our flag).
inline void announce(volatile uint32_t* flag) {
  *flag = 1;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
// After moving our counter: wake the other side only if it said it waits.
inline bool take_waiter(volatile uint32_t* flag) {
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  if (*flag == 0) return false;
  *flag = 0;
  return true;
}

// Server side: a call received and not yet answered, and the reply waiting to be sent.
bool g_call_outstanding = false;
bool g_reply_ready = false;
keel_msg_t g_reply;

const keel_info_channel_t* chan(keel_channel_t ch) {
  const keel_info_t* info = keel_info();
  if (info == nullptr || ch < 0 || static_cast<uint32_t>(ch) >= info->channel_count) return nullptr;
  return &keel_info_channels(info)[ch];
}

// A passive rpc server (manifest `passive = true`) hands its SchedContext to the root server
// before it opens its first server end (KEEL_ROOT_PASSIVE, docs/os-services.md): from then on
// calls run on the callers' SCs and take the kernel fastpath. Notification bits that end the
// receive instead are kept for later waits.
bool g_passive = false;
void become_passive() {
  uint64_t& pending = keel::detail::pending_bits();
  for (;;) {
    keel_word_t badge = 0;
    keel_nbsend_recv(KEEL_SLOT_ROOT_EP, keel_msginfo_new(KEEL_ROOT_PASSIVE, 0, 0, 0), KEEL_SLOT_SERVICE_EP, &badge,
                     KEEL_SLOT_REPLY);
    if ((badge & KEEL_NOTIFY_PASSIVE) != 0) {
      pending |= badge & ~uint64_t{KEEL_NOTIFY_PASSIVE};
      g_passive = true;
      return;
    }
    pending |= badge;
  }
}

keel_stream_ring_t* ring_of(const keel_info_channel_t* c) { return reinterpret_cast<keel_stream_ring_t*>(c->vaddr); }

keel_error_t open_end(keel_channel_t ch) {
  const keel_info_channel_t* c = chan(ch);
  const keel_info_t* info = keel_info();
  if (c == nullptr || info == nullptr) return KEEL_INVALID_ARGUMENT;
  if (c->kind == KEEL_CHANNEL_RPC && c->role == KEEL_ROLE_TO && (info->flags & KEEL_INFO_PASSIVE) != 0 && !g_passive)
    become_passive();
  using Open = keel::rpc::msg::Open;
  if (c->name.len == 0 || c->name.len > keel::rpc::msg::Name::kMax) return KEEL_INVALID_ARGUMENT;
  auto r = keel::detail::request<Open>(keel::rpc::msg::Name{keel_info_string(info, c->name), c->name.len});
  if (!r.ok()) return r.error();
  // The reply must agree with what the root server wrote in the info page.
  const auto& [slot, kind, bits] = r.value();
  (void)bits;  // the info page has the notification bits too
  if (kind != c->kind || slot >= (1u << KEEL_COMPONENT_CNODE_BITS) || (c->slot != 0 && slot != c->slot)) {
    keel_printf("libkeel: msg answered channel '%s' with slot %lu kind %lu (info page: slot %u kind %u)\n",
                keel_info_string(info, c->name), static_cast<unsigned long>(slot), static_cast<unsigned long>(kind),
                c->slot, c->kind);
    return KEEL_INVALID_ARGUMENT;
  }
  g_end[ch] = End{true, static_cast<uint32_t>(slot)};
  // A stream consumer starts out waiting for data (signal suppression, keel_stream_ring_t): it
  // reads when signalled, so the producer's first write must signal.
  if (c->kind == KEEL_CHANNEL_STREAM && c->role == KEEL_ROLE_TO) announce(&ring_of(c)->consumer_waiting);
  return KEEL_OK;
}

keel_error_t ensure_open(keel_channel_t ch) {
  if (g_end[ch].open) return KEEL_OK;
  return open_end(ch);
}

void forget(keel_channel_t ch) { g_end[ch].open = false; }

// Signal on a channel capability; the root server answers a CapFault there (the peer restarted and
// msg deleted the capability) by returning KEEL_CHANNEL_DOWN from the syscall.
keel_error_t signal_end(keel_channel_t ch) {
  keel_word_t info = keel_syscall_mrs(KEEL_SYS_SIGNAL, g_end[ch].slot, 0, nullptr, nullptr, nullptr, nullptr,
                                      nullptr, 0, 0);
  if (keel_msginfo_label(info) == KEEL_CHANNEL_DOWN) {
    forget(ch);
    return KEEL_CHANNEL_DOWN;
  }
  return KEEL_OK;
}

void load_msg(const keel_msg_t* m) {
  for (uint32_t i = 0; i < m->len; ++i) keel_set_mr(i, m->w[i]);
}

void store_msg(keel_word_t info, keel_msg_t* m) {
  m->label = keel_msginfo_label(info);
  keel_word_t len = keel_msginfo_length(info);
  m->len = static_cast<uint32_t>(len < KEEL_RPC_MAX_WORDS ? len : KEEL_RPC_MAX_WORDS);
  for (uint32_t i = 0; i < m->len; ++i) m->w[i] = keel_get_mr(i);
}

bool msg_ok(const keel_msg_t* m) {
  return m != nullptr && m->len <= KEEL_RPC_MAX_WORDS && m->label <= kMaxLabel && m->label != KEEL_CHANNEL_DOWN;
}

uint8_t* ring_data(const keel_info_channel_t* c) { return reinterpret_cast<uint8_t*>(c->vaddr + 64); }

}  // namespace

namespace keel::detail {
// Sends a deferred rpc reply now (before this component blocks on anything else): signal our own
// notification so that the Wait half of ReplyRecv returns at once, keeping any bits it collects.
void flush_reply() {
  if (!g_reply_ready) return;
  g_reply_ready = false;
  g_call_outstanding = false;
  keel_signal(KEEL_SLOT_NOTIFY);
  load_msg(&g_reply);
  keel_word_t word = 0;
  keel_reply_recv(KEEL_SLOT_NOTIFY, keel_msginfo_new(g_reply.label, 0, 0, g_reply.len), &word, KEEL_SLOT_REPLY);
  pending_bits() |= word;
}
}  // namespace keel::detail

extern "C" {

keel_error_t keel_channel_open(const char* name, keel_channel_t* ch) {
  const keel_info_t* info = keel_info();
  if (info == nullptr || ch == nullptr) return KEEL_INVALID_ARGUMENT;
  int k = keel_info_find_channel(info, name);
  if (k < 0) return KEEL_NOT_FOUND;
  *ch = k;
  return open_end(k);
}

const keel_info_channel_t* keel_channel_info(keel_channel_t ch) { return chan(ch); }

bool keel_channel_is_open(keel_channel_t ch) { return chan(ch) != nullptr && g_end[ch].open; }

keel_error_t keel_channel_wait(keel_channel_t ch) {
  const keel_info_channel_t* c = chan(ch);
  if (c == nullptr || c->notify_bit == 0) return KEEL_INVALID_ARGUMENT;
  if (c->kind == KEEL_CHANNEL_STREAM) {
    // Say we wait (the other side signals only then), and do not sleep on what is already there:
    // data for a consumer (it may have stopped reading before the ring was empty), the space its
    // last write needed for a producer.
    keel_stream_ring_t* ring = ring_of(c);
    if (c->role == KEEL_ROLE_TO) {
      announce(&ring->consumer_waiting);
      if (__atomic_load_n(&ring->head, __ATOMIC_ACQUIRE) != ring->tail) return KEEL_OK;
    } else {
      announce(&ring->producer_waiting);
      const uint64_t head = ring->head, tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
      if (keel_ring_sane(head, tail, c->size) && keel_ring_free(head, tail, c->size) >= (g_want[ch] ? g_want[ch] : 1))
        return KEEL_OK;
    }
  }
  keel_notify_wait(c->notify_bit);
  return KEEL_OK;
}

keel_error_t keel_rpc_call(keel_channel_t ch, keel_msg_t* msg) {
  const keel_info_channel_t* c = chan(ch);
  if (c == nullptr || c->kind != KEEL_CHANNEL_RPC || c->role != KEEL_ROLE_FROM || !msg_ok(msg)) return KEEL_INVALID_ARGUMENT;
  keel::detail::flush_reply();
  keel_error_t st = ensure_open(ch);
  if (st != KEEL_OK) return st;
  load_msg(msg);
  keel_word_t info = keel_call(g_end[ch].slot, keel_msginfo_new(msg->label, 0, 0, msg->len));
  if (keel_msginfo_label(info) == KEEL_CHANNEL_DOWN) {
    forget(ch);
    return KEEL_CHANNEL_DOWN;
  }
  store_msg(info, msg);
  return KEEL_OK;
}

keel_error_t keel_rpc_reply(const keel_msg_t* reply) {
  if (!g_call_outstanding || g_reply_ready) return KEEL_INVALID_ARGUMENT;  // nothing to answer
  if (!msg_ok(reply)) return KEEL_INVALID_ARGUMENT;
  // Only the words in use: a whole keel_msg_t is 272 bytes, and picolibc's memcpy (built for
  // size) copies bytewise — that copy alone cost more than the IPC round trip.
  g_reply.label = reply->label;
  g_reply.len = reply->len;
  for (uint32_t i = 0; i < reply->len; ++i) g_reply.w[i] = reply->w[i];
  g_reply_ready = true;
  return KEEL_OK;
}

keel_error_t keel_rpc_recv(uint64_t mask, keel_channel_t* ch, keel_msg_t* msg, uint64_t* bits) {
  const keel_info_t* info = keel_info();
  if (info == nullptr || ch == nullptr || msg == nullptr) return KEEL_INVALID_ARGUMENT;
  *ch = -1;
  if (bits != nullptr) *bits = 0;
  uint64_t& pending = keel::detail::pending_bits();
  for (;;) {
    if (uint64_t got = pending & mask; got != 0) {
      keel::detail::flush_reply();
      pending &= ~got;
      if (bits != nullptr) *bits = got;
      return KEEL_OK;
    }
    keel_word_t badge = 0, r;
    if (g_call_outstanding) {
      // Answer the last call (its reply, or KEEL_INVALID_ARGUMENT if the server gave none) and receive.
      if (g_reply_ready) {
        load_msg(&g_reply);
        r = keel_reply_recv(KEEL_SLOT_SERVICE_EP, keel_msginfo_new(g_reply.label, 0, 0, g_reply.len), &badge,
                            KEEL_SLOT_REPLY);
      } else {
        r = keel_reply_recv(KEEL_SLOT_SERVICE_EP, keel_msginfo_new(KEEL_INVALID_ARGUMENT, 0, 0, 0), &badge,
                            KEEL_SLOT_REPLY);
      }
      g_reply_ready = false;
      g_call_outstanding = false;
    } else {
      r = keel_recv(KEEL_SLOT_SERVICE_EP, &badge, KEEL_SLOT_REPLY);
    }
    if (badge >= kRpcBadgeBase && badge < kRpcBadgeBase + KEEL_MAX_CHANNEL_ENDS) {
      // A call: notification words never have bit 12 set (keel_notify_bit), so this is a badge.
      auto k = static_cast<keel_channel_t>(badge - kRpcBadgeBase);
      const keel_info_channel_t* c = chan(k);
      g_call_outstanding = true;
      if (c == nullptr || c->kind != KEEL_CHANNEL_RPC || c->role != KEEL_ROLE_TO || !g_end[k].open) continue;
      store_msg(r, msg);
      *ch = k;
      return KEEL_OK;
    }
    if (keel_msginfo_label(r) == KEEL_CHANNEL_DOWN) return KEEL_CHANNEL_DOWN;  // our endpoint is gone
    pending |= badge;  // the bound notification woke us: badge = its word
  }
}

keel_error_t keel_serve(uint64_t mask, keel_call_fn on_call, keel_bits_fn on_bits, void* ctx) {
  if (on_call == nullptr || (mask != 0 && on_bits == nullptr)) return KEEL_INVALID_ARGUMENT;
  for (;;) {
    keel_channel_t ch = -1;
    keel_msg_t m;
    uint64_t bits = 0;
    keel_error_t s = keel_rpc_recv(mask, &ch, &m, &bits);
    if (s != KEEL_OK) return s;
    if (ch < 0) {
      on_bits(bits, ctx);
      continue;
    }
    on_call(ch, &m, ctx);
    if (!msg_ok(&m)) m = keel_msg_t{KEEL_INVALID_ARGUMENT, 0, {}};  // a handler's bad reply: still answer
    keel_rpc_reply(&m);
  }
}

keel_error_t keel_event_signal(keel_channel_t ch) {
  const keel_info_channel_t* c = chan(ch);
  if (c == nullptr || c->kind != KEEL_CHANNEL_EVENT || c->role != KEEL_ROLE_FROM) return KEEL_INVALID_ARGUMENT;
  keel_error_t st = ensure_open(ch);
  if (st != KEEL_OK) return st;
  return signal_end(ch);
}

namespace {
// Up to two pieces (a record's header and body) in one go: one counter update, one signal.
// After moving our counter: wake the other side if it said it waits. A peer that restarted answers
// the old capability with KEEL_CHANNEL_DOWN: open the end again and signal the new one once. If
// that fails too, the flag is set again, so that the first operation after a successful open
// signals: the data (or space) is already there, and a side that sleeps on it would otherwise
// never be woken — its flag was taken by the signal that failed.
keel_error_t wake(keel_channel_t ch, volatile uint32_t* flag) {
  if (!take_waiter(flag)) return KEEL_OK;
  keel_error_t e = signal_end(ch);
  if (e == KEEL_CHANNEL_DOWN && open_end(ch) == KEEL_OK) e = signal_end(ch);
  if (e != KEEL_OK) announce(flag);
  return e;
}

keel_error_t stream_put(keel_channel_t ch, const void* data, size_t n, size_t* done, bool all,
                        const void* data2 = nullptr, size_t n2 = 0) {
  const keel_info_channel_t* c = chan(ch);
  if (done != nullptr) *done = 0;
  if (c == nullptr || c->kind != KEEL_CHANNEL_STREAM || c->role != KEEL_ROLE_FROM || (data == nullptr && n != 0) ||
      (data2 == nullptr && n2 != 0))
    return KEEL_INVALID_ARGUMENT;
  keel_error_t st = ensure_open(ch);
  if (st != KEEL_OK) return st;
  keel_stream_ring_t* ring = ring_of(c);
  uint64_t head = ring->head;
  uint64_t tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);  // the consumer's progress
  if (!keel_ring_sane(head, tail, c->size)) return KEEL_INVALID_ARGUMENT;
  uint64_t room = keel_ring_free(head, tail, c->size);
  if ((all && n + n2 > room) || (!all && room < n)) {
    // It does not (all) fit: say we wait for space, then look once more.
    g_want[ch] = all ? n + n2 : 1;
    announce(&ring->producer_waiting);
    tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
    room = keel_ring_free(head, tail, c->size);
    if (all && n + n2 > room) return KEEL_NO_SPACE;
  }
  size_t count = n < room ? n : static_cast<size_t>(room);
  if (count + n2 == 0) return KEEL_OK;
  keel_ring_copy_in(ring_data(c), c->size, head, data, count);
  if (n2 != 0) keel_ring_copy_in(ring_data(c), c->size, head + count, data2, n2);  // `all` only
  __atomic_store_n(&ring->head, head + count + n2, __ATOMIC_RELEASE);  // data before the counter
  if (done != nullptr) *done = count + n2;
  return wake(ch, &ring->consumer_waiting);  // "data" to a waiting consumer
}

// The consumer's view: the ring, its counters checked; nullptr with *err set if unusable.
keel_stream_ring_t* stream_in(keel_channel_t ch, const keel_info_channel_t** out, uint64_t* avail, keel_error_t* err) {
  const keel_info_channel_t* c = chan(ch);
  *err = KEEL_INVALID_ARGUMENT;
  if (c == nullptr || c->kind != KEEL_CHANNEL_STREAM || c->role != KEEL_ROLE_TO) return nullptr;
  if ((*err = ensure_open(ch)) != KEEL_OK) return nullptr;
  keel_stream_ring_t* ring = ring_of(c);
  const uint64_t tail = ring->tail;
  const uint64_t head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);  // the producer's data is visible
  if (!keel_ring_sane(head, tail, c->size)) return *err = KEEL_INVALID_ARGUMENT, nullptr;
  *avail = keel_ring_used(head, tail);
  *out = c;
  return ring;
}
}  // namespace

keel_error_t keel_stream_send_record(keel_channel_t ch, const void* header, size_t header_len, const void* body,
                                     size_t body_len) {
  return stream_put(ch, header, header_len, nullptr, true, body, body_len);
}

keel_error_t keel_stream_peek(keel_channel_t ch, void* buf, size_t n, size_t* done) {
  if (done != nullptr) *done = 0;
  if (buf == nullptr && n != 0) return KEEL_INVALID_ARGUMENT;
  const keel_info_channel_t* c = nullptr;
  uint64_t avail = 0;
  keel_error_t err;
  keel_stream_ring_t* ring = stream_in(ch, &c, &avail, &err);
  if (ring == nullptr) return err;
  if (avail < n) {  // not all there yet: say we wait, and look once more
    announce(&ring->consumer_waiting);
    if (keel_ring_used(__atomic_load_n(&ring->head, __ATOMIC_ACQUIRE), ring->tail) < n) return KEEL_OK;
  }
  keel_ring_copy_out(ring_data(c), c->size, ring->tail, buf, n);
  if (done != nullptr) *done = n;
  return KEEL_OK;
}

keel_error_t keel_stream_read_record(keel_channel_t ch, void* header, size_t header_len, void* body, size_t body_len,
                                     size_t* done) {
  if (done != nullptr) *done = 0;
  if ((header == nullptr && header_len != 0) || (body == nullptr && body_len != 0)) return KEEL_INVALID_ARGUMENT;
  const keel_info_channel_t* c = nullptr;
  uint64_t avail = 0;
  keel_error_t err;
  keel_stream_ring_t* ring = stream_in(ch, &c, &avail, &err);
  if (ring == nullptr) return err;
  if (header_len + body_len == 0) return KEEL_OK;
  if (avail < header_len + body_len) {
    announce(&ring->consumer_waiting);
    if (keel_ring_used(__atomic_load_n(&ring->head, __ATOMIC_ACQUIRE), ring->tail) < header_len + body_len)
      return KEEL_OK;
  }
  const uint64_t tail = ring->tail;
  keel_ring_copy_out(ring_data(c), c->size, tail, header, header_len);
  keel_ring_copy_out(ring_data(c), c->size, tail + header_len, body, body_len);
  __atomic_store_n(&ring->tail, tail + header_len + body_len, __ATOMIC_RELEASE);  // copied out before freed
  if (done != nullptr) *done = header_len + body_len;
  return wake(ch, &ring->producer_waiting);  // "space" to a waiting producer
}

keel_error_t keel_stream_write(keel_channel_t ch, const void* data, size_t n, size_t* done) {
  return stream_put(ch, data, n, done, false);
}

keel_error_t keel_stream_send(keel_channel_t ch, const void* data, size_t n) {
  return stream_put(ch, data, n, nullptr, true);
}

keel_error_t keel_stream_read(keel_channel_t ch, void* buf, size_t cap, size_t* done) {
  const keel_info_channel_t* c = chan(ch);
  if (done != nullptr) *done = 0;
  if (c == nullptr || c->kind != KEEL_CHANNEL_STREAM || c->role != KEEL_ROLE_TO || (buf == nullptr && cap != 0))
    return KEEL_INVALID_ARGUMENT;
  keel_error_t st = ensure_open(ch);
  if (st != KEEL_OK) return st;
  keel_stream_ring_t* ring = ring_of(c);
  uint64_t tail = ring->tail;
  uint64_t head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);  // the producer's data is visible
  if (!keel_ring_sane(head, tail, c->size)) return KEEL_INVALID_ARGUMENT;
  uint64_t avail = keel_ring_used(head, tail);
  if (avail == 0 && cap != 0) {  // empty: say we wait, and look once more
    announce(&ring->consumer_waiting);
    head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
    if (!keel_ring_sane(head, tail, c->size)) return KEEL_INVALID_ARGUMENT;
    avail = keel_ring_used(head, tail);
  }
  size_t count = cap < avail ? cap : static_cast<size_t>(avail);
  if (count == 0) return KEEL_OK;
  keel_ring_copy_out(ring_data(c), c->size, tail, buf, count);
  __atomic_store_n(&ring->tail, tail + count, __ATOMIC_RELEASE);  // copied out before the space is freed
  if (done != nullptr) *done = count;
  return wake(ch, &ring->producer_waiting);  // "space" to a waiting producer
}

}  // extern "C"

// The ARP cache (keel/net/arp.h).
#include "keel/net/arp.h"

#include <cstring>

namespace keel::net {

namespace {
constexpr std::uint64_t kNever = ~std::uint64_t{0};
}

ArpCache::Entry* ArpCache::find(Ipv4Addr ip) {
  for (Entry& e : entries_)
    if (e.state != State::kFree && e.ip == ip) return &e;
  return nullptr;
}

const ArpCache::Entry* ArpCache::find(Ipv4Addr ip) const {
  for (const Entry& e : entries_)
    if (e.state != State::kFree && e.ip == ip) return &e;
  return nullptr;
}

const MacAddr* ArpCache::lookup(std::uint64_t now, Ipv4Addr ip) {
  Entry* e = find(ip);
  if (!e || e->state != State::kLive || now >= e->expires) return nullptr;
  e->last_used = now;
  return &e->mac;
}

bool ArpCache::has_live(std::uint64_t now, Ipv4Addr ip) const {
  const Entry* e = find(ip);
  return e && e->state == State::kLive && now < e->expires;
}

bool ArpCache::is_incomplete(Ipv4Addr ip) const {
  const Entry* e = find(ip);
  return e && e->state == State::kIncomplete;
}

void ArpCache::free_entry(Entry& e, Counters* c) {
  if (e.state == State::kIncomplete && e.pending >= 0) {
    frames_[e.pending].used = false;
    frames_[e.pending].ready = false;
    if (c) c->drop(Drop::kArpUnresolved);
  }
  e = Entry{};
}

// A slot for a new entry: a free one, else an expired one, else the least recently used live
// one, else the oldest incomplete one (its waiting frame is dropped).
ArpCache::Entry* ArpCache::allocate(std::uint64_t now, Counters* c) {
  Entry* expired = nullptr;
  Entry* lru = nullptr;
  Entry* oldest_incomplete = nullptr;
  for (Entry& e : entries_) {
    if (e.state == State::kFree) return &e;
    if (e.state == State::kLive) {
      if (now >= e.expires) {
        if (!expired) expired = &e;
      } else if (!lru || e.last_used < lru->last_used) {
        lru = &e;
      }
    } else if (!oldest_incomplete || e.last_used < oldest_incomplete->last_used) {
      oldest_incomplete = &e;
    }
  }
  Entry* victim = expired ? expired : lru ? lru : oldest_incomplete;
  if (!victim) victim = &entries_[0];  // unreachable: every used entry is one of the three
  if (victim == lru && lru && c) ++c->arp_evictions;
  free_entry(*victim, c);
  return victim;
}

void ArpCache::make_live(std::uint64_t now, Entry& e, const MacAddr& mac) {
  if (e.state == State::kIncomplete && e.pending >= 0) {
    Frame& f = frames_[e.pending];
    std::memcpy(f.bytes, mac.b.data(), 6);  // the frame's Ethernet destination
    f.ready = true;
  }
  e.state = State::kLive;
  e.pending = -1;
  e.requests = 0;
  e.mac = mac;
  e.expires = now + kArpEntryLifetimeUs;
  e.last_used = now;
}

ArpLearn ArpCache::learn(std::uint64_t now, Ipv4Addr ip, const MacAddr& mac, std::uint16_t op, bool to_us,
                         Counters& c) {
  Entry* e = find(ip);
  const bool live = e && e->state == State::kLive && now < e->expires;
  if (live) {
    if (e->mac != mac) return ArpLearn::kSpoof;
    if (op == kArpRequest && to_us) {
      e->expires = now + kArpEntryLifetimeUs;
      return ArpLearn::kRefreshed;
    }
    return op == kArpReply ? ArpLearn::kUnsolicited : ArpLearn::kIgnored;
  }
  if (e && e->state == State::kIncomplete) {
    if (!to_us) return op == kArpReply ? ArpLearn::kUnsolicited : ArpLearn::kIgnored;
    make_live(now, *e, mac);
    return ArpLearn::kResolved;
  }
  // Absent (or expired).
  if (op == kArpReply) return ArpLearn::kUnsolicited;
  if (!to_us) return ArpLearn::kIgnored;
  if (!e) e = allocate(now, &c);
  else free_entry(*e, &c);
  e->ip = ip;
  make_live(now, *e, mac);
  return ArpLearn::kCreated;
}

MutBytes ArpCache::reserve_pending(std::uint64_t now, Ipv4Addr ip, bool* send_request, Counters& c) {
  *send_request = false;
  Entry* e = find(ip);
  if (e && e->state == State::kIncomplete && e->pending >= 0) {
    Frame& f = frames_[e->pending];  // newest wins: replace the waiting frame
    c.drop(Drop::kArpUnresolved);
    f.size = 0;
    return MutBytes(f.bytes, kMaxFrame);
  }
  int slot = -1;
  for (std::size_t i = 0; i < kArpPendingFrames; ++i)
    if (!frames_[i].used) {
      slot = static_cast<int>(i);
      break;
    }
  if (slot < 0) return {};
  if (!e || e->state != State::kIncomplete) {
    if (e) free_entry(*e, &c);  // expired live entry
    else e = allocate(now, &c);
    e->state = State::kIncomplete;
    e->ip = ip;
    e->requests = 1;
    e->next_request = now + kArpRetryUs;
    e->last_used = now;
    *send_request = true;
  }
  e->pending = static_cast<std::int8_t>(slot);
  Frame& f = frames_[slot];
  f.used = true;
  f.ready = false;
  f.size = 0;
  return MutBytes(f.bytes, kMaxFrame);
}

bool ArpCache::resolve(std::uint64_t now, Ipv4Addr ip, Counters& c) {
  Entry* e = find(ip);
  if (e && (e->state == State::kIncomplete || (e->state == State::kLive && now < e->expires))) return false;
  if (e) free_entry(*e, &c);  // expired live entry
  else e = allocate(now, &c);
  e->state = State::kIncomplete;
  e->ip = ip;
  e->requests = 1;
  e->pending = -1;
  e->next_request = now + kArpRetryUs;
  e->last_used = now;
  return true;
}

std::uint64_t ArpCache::live_until(Ipv4Addr ip) const {
  const Entry* e = find(ip);
  if (!e) return 0;
  if (e->state == State::kIncomplete) return kNever;
  return e->state == State::kLive ? e->expires : 0;
}

void ArpCache::commit_pending(Ipv4Addr ip, std::size_t size) {
  Entry* e = find(ip);
  if (!e || e->state != State::kIncomplete || e->pending < 0) return;
  Frame& f = frames_[e->pending];
  if (size == 0 || size > kMaxFrame) {  // the caller could not build it: give the slot back
    f.used = false;
    e->pending = -1;
    return;
  }
  f.size = static_cast<std::uint16_t>(size);
}

Bytes ArpCache::ready_frame() const {
  for (const Frame& f : frames_)
    if (f.used && f.ready) return Bytes(f.bytes, f.size);
  return {};
}

void ArpCache::release_ready() {
  for (Frame& f : frames_)
    if (f.used && f.ready) {
      f.used = false;
      f.ready = false;
      f.size = 0;
      return;
    }
}

bool ArpCache::due_request(std::uint64_t now, Ipv4Addr* ip, Counters& c) {
  for (Entry& e : entries_) {
    if (e.state != State::kIncomplete || now < e.next_request) continue;
    if (e.requests >= kArpMaxRequests) {
      free_entry(e, &c);
      continue;
    }
    ++e.requests;
    e.next_request = now + kArpRetryUs;
    *ip = e.ip;
    return true;
  }
  return false;
}

std::uint64_t ArpCache::next_deadline() const {
  std::uint64_t t = kNever;
  for (const Frame& f : frames_)
    if (f.used && f.ready) return 0;
  for (const Entry& e : entries_)
    if (e.state == State::kIncomplete && e.next_request < t) t = e.next_request;
  return t;
}

void ArpCache::clear(Counters& c) {
  for (Entry& e : entries_) free_entry(e, &c);
  for (Frame& f : frames_) {
    if (f.used && f.ready) c.drop(Drop::kArpUnresolved);
    f.used = false;
    f.ready = false;
  }
}

std::size_t ArpCache::live_count(std::uint64_t now) const {
  std::size_t n = 0;
  for (const Entry& e : entries_) n += e.state == State::kLive && now < e.expires;
  return n;
}

std::size_t ArpCache::used_count() const {
  std::size_t n = 0;
  for (const Entry& e : entries_) n += e.state != State::kFree;
  return n;
}

std::size_t ArpCache::pending_count() const {
  std::size_t n = 0;
  for (const Frame& f : frames_) n += f.used;
  return n;
}

}  // namespace keel::net

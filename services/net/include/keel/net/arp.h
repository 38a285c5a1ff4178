// keel/net/arp.h — the ARP cache: bounded, LRU, with entry timeouts, request retries and a bounded
// pool of frames waiting for a resolution.
//
// Entries are either live (IP → MAC, valid until `expires`) or incomplete (a request is out, with
// at most one frame waiting). An entry past its expiry is treated as absent.
//
// Anti-spoofing policy — what may create or change an entry:
//  - an ARP reply completes an incomplete entry (our own outstanding request) and nothing else:
//    a reply for an address we did not ask about is counted kArpUnsolicited and ignored, and one
//    that names another MAC for a live entry is counted kArpSpoof and ignored;
//  - an ARP request addressed to our IP (target = us) creates an entry for its sender, completes
//    an incomplete one, or refreshes a live one with the same MAC (RFC 826's merge, restricted);
//    it never changes the MAC of a live entry (kArpSpoof);
//  - any other ARP — gratuitous ARP (sender = target), requests for other hosts — changes
//    nothing; one naming another MAC for a live entry is counted kArpSpoof.
// A host whose MAC really changed is therefore reachable again once its old entry expires
// (kArpEntryLifetimeUs), the price of never letting an unsolicited packet redirect our traffic.
// The caller (Stack) only offers senders on our subnet, never 0.0.0.0 or our own address.
//
// Freestanding: no heap; the pool holds whole frames (kMaxFrame bytes each).
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/net/counters.h"
#include "keel/net/wire.h"

namespace keel::net {

inline constexpr std::size_t kArpEntries = 64;              // cache size (live + incomplete)
inline constexpr std::size_t kArpPendingFrames = 8;         // frames waiting for a resolution, total
inline constexpr std::uint64_t kArpEntryLifetimeUs = 300'000'000;  // 5 min from the last confirmation
inline constexpr std::uint64_t kArpRetryUs = 1'000'000;      // between requests for one address
inline constexpr std::uint32_t kArpMaxRequests = 3;          // then give up (and drop the frame)

enum class ArpLearn : std::uint8_t {
  kResolved,    // an incomplete entry became live (its waiting frame, if any, is now ready)
  kCreated,     // a new live entry (request addressed to us)
  kRefreshed,   // a live entry with the same MAC got a new expiry
  kIgnored,     // nothing to do (not an error)
  kUnsolicited, // reply we did not ask for
  kSpoof,       // would have changed a live entry's MAC
};

class ArpCache {
 public:
  // A live entry's MAC (and marks it used for LRU), or nullptr.
  const MacAddr* lookup(std::uint64_t now, Ipv4Addr ip);
  bool has_live(std::uint64_t now, Ipv4Addr ip) const;
  bool is_incomplete(Ipv4Addr ip) const;

  // An ARP packet's sender (ip, mac); `op` its operation, `to_us` whether it targets our IP.
  // A new entry may evict the LRU one (counted in c).
  ArpLearn learn(std::uint64_t now, Ipv4Addr ip, const MacAddr& mac, std::uint16_t op, bool to_us, Counters& c);

  // A frame for `ip` must wait for a resolution. Returns the buffer (kMaxFrame bytes) the caller
  // builds the frame into, then calls commit_pending(ip, size); or an empty span when the pool is
  // full (the caller fails with KEEL_NO_SPACE). `*send_request` is set when a request must go out
  // now (a new incomplete entry); an older frame waiting for the same ip is replaced (counted
  // kArpUnresolved). May evict the LRU entry (counted).
  MutBytes reserve_pending(std::uint64_t now, Ipv4Addr ip, bool* send_request, Counters& c);
  // Resolve `ip` ahead of traffic (the gateway): true when a request must go out now (there was
  // neither a live nor an incomplete entry; an incomplete one without a frame is made). May
  // evict the LRU entry (counted).
  bool resolve(std::uint64_t now, Ipv4Addr ip, Counters& c);
  // Until when ip's live entry is valid (0: no live entry; UINT64_MAX... never: an incomplete one
  // is being resolved, its retries are in next_deadline()).
  std::uint64_t live_until(Ipv4Addr ip) const;
  void commit_pending(Ipv4Addr ip, std::size_t size);

  // A frame whose destination got resolved, with its destination MAC filled in: the caller
  // transmits (copies) it and calls release_ready(). Empty when none.
  Bytes ready_frame() const;
  void release_ready();

  // Timers: the next incomplete entry whose retry is due. Gives up on entries that used every
  // request (dropping their frame, counted); returns true and sets *ip when a request must be sent.
  bool due_request(std::uint64_t now, Ipv4Addr* ip, Counters& c);
  // The earliest time due_request() has work (UINT64_MAX: none); ready frames are due at once.
  std::uint64_t next_deadline() const;

  void clear(Counters& c);  // address change: forget everything (waiting frames dropped, counted)
  std::size_t live_count(std::uint64_t now) const;
  std::size_t used_count() const;  // live + incomplete + expired-but-not-reused slots
  std::size_t pending_count() const;

 private:
  enum class State : std::uint8_t { kFree, kIncomplete, kLive };
  struct Entry {
    State state = State::kFree;
    std::uint8_t requests = 0;     // incomplete: requests sent
    std::int8_t pending = -1;      // incomplete: index into frames_, or -1
    Ipv4Addr ip;
    MacAddr mac;
    std::uint64_t expires = 0;     // live: valid while now < expires
    std::uint64_t next_request = 0;  // incomplete
    std::uint64_t last_used = 0;   // LRU
  };
  struct Frame {
    bool used = false;
    bool ready = false;  // resolved: waiting only to be transmitted
    std::uint16_t size = 0;
    std::uint8_t bytes[kMaxFrame];
  };
  Entry* find(Ipv4Addr ip);
  const Entry* find(Ipv4Addr ip) const;
  Entry* allocate(std::uint64_t now, Counters* c);
  void free_entry(Entry& e, Counters* c);
  void make_live(std::uint64_t now, Entry& e, const MacAddr& mac);

  Entry entries_[kArpEntries];
  Frame frames_[kArpPendingFrames];
};

}  // namespace keel::net

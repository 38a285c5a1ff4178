// Test doubles for the control protocol: a fake clock, a simulated lossy link (loss, reordering,
// duplication, delay, bandwidth) and a Pair of sessions (device = client, Fleet = server) wired
// through two such links, driven event by event on the fake clock.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "keel/control/session.h"

namespace keel::control {
// Reads a session's private state for tests (declared a friend in session.h).
struct SessionTestAccess {
  static std::string dump(const Session& s) {
    std::string o = "ring=" + std::to_string(s.ring_ != nullptr) + " count=" + std::to_string(s.ring_count_);
    for (const Stream* sp : s.streams_)
      if (sp) {
        const Stream& st = *sp;
        o += " [id=" + std::to_string(st.id) + " flags=" + std::to_string(st.flags) + " sbuf=" + std::to_string(st.sbuf != nullptr) +
             " rbuf=" + std::to_string(st.rbuf != nullptr) + " una=" + std::to_string(st.snd_una) + " next=" +
             std::to_string(st.snd_next) + " end=" + std::to_string(st.snd_end) + "]";
      }
    return o;
  }
  static uint64_t rx_max_data(const Session& s) { return s.rx_max_data_; }
  static uint64_t tx_data(const Session& s) { return s.tx_data_; }
};
}  // namespace keel::control

namespace keel::control::test {

using Buf = std::vector<uint8_t>;

inline std::string hex(Bytes b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}
inline Buf unhex(const std::string& s) {
  Buf out;
  for (size_t i = 0; i + 1 < s.size(); i += 2) {
    if (s[i] == ' ' || s[i] == '\n') {
      --i;
      continue;
    }
    out.push_back(uint8_t(std::stoi(s.substr(i, 2), nullptr, 16)));
  }
  return out;
}

class FakeClock final : public Clock {
 public:
  uint64_t now = 1000 * kSec;
  uint64_t now_ns() override { return now; }
};

inline Address addr(uint8_t last, uint16_t port) {
  Address a;
  a.family = 4;
  a.port = port;
  a.addr[0] = 10, a.addr[3] = last;
  return a;
}

// One direction of a path.
struct Link {
  double loss = 0, duplicate = 0, reorder = 0;  // probabilities
  uint64_t delay = 20 * kMs;
  uint64_t reorder_extra = 15 * kMs;            // a reordered datagram arrives this much later
  uint64_t bits_per_s = 0;                      // 0: unlimited
  bool down = false;                            // drops everything (a rekey gap, a dead path)
  int drop_next = 0;                            // drops the next n datagrams
  std::mt19937_64 rng{1};
  struct Item {
    uint64_t at;
    uint64_t seq;
    Address from;
    Buf data;
  };
  std::vector<Item> queue;
  uint64_t busy_until = 0, seq = 0;
  uint64_t sent = 0, dropped = 0;

  double uniform() { return std::uniform_real_distribution<double>(0, 1)(rng); }
  void send(uint64_t now, const Address& from, Bytes d) {
    ++sent;
    if (drop_next > 0 || down || uniform() < loss) {
      if (drop_next > 0) --drop_next;
      ++dropped;
      return;
    }
    uint64_t at = now;
    if (bits_per_s) {
      const uint64_t start = std::max(now, busy_until);
      busy_until = start + d.size() * 8 * kSec / bits_per_s;
      at = busy_until;
    }
    at += delay;
    if (uniform() < reorder) at += reorder_extra;
    queue.push_back({at, seq++, from, Buf(d.begin(), d.end())});
    if (uniform() < duplicate) queue.push_back({at + 3 * kMs, seq++, from, Buf(d.begin(), d.end())});
  }
  uint64_t next() const {
    uint64_t t = 0;
    for (auto& i : queue)
      if (!t || i.at < t) t = i.at;
    return t;
  }
  // Removes and returns the datagrams due at `now`, in arrival order.
  std::vector<Item> due(uint64_t now) {
    std::vector<Item> out;
    for (size_t i = 0; i < queue.size();) {
      if (queue[i].at <= now) {
        out.push_back(std::move(queue[i]));
        queue.erase(queue.begin() + long(i));
      } else {
        ++i;
      }
    }
    std::sort(out.begin(), out.end(), [](const Item& a, const Item& b) { return a.at != b.at ? a.at < b.at : a.seq < b.seq; });
    return out;
  }
};

template <size_t PoolBlocks = 24, size_t ServerStreams = kMaxStreams>
struct PairT {
  explicit PairT(Timing client_timing = {}, Timing server_timing = {}, uint64_t sid = 0x1122334455667788ull)
      : cctx{clock, cpool, client_timing}, sctx{clock, spool, server_timing}, client(cctx, Role::Client, sid),
        server(sctx, Role::Server, sid) {}
  FakeClock clock;
  FixedBlockPool<PoolBlocks> cpool;
  FixedBlockPool<PoolBlocks, (PoolBlocks + 3) / 4, ServerStreams> spool;
  Context cctx, sctx;
  Session client, server;
  Link up, down;  // up: client -> server
  Address caddr = addr(2, 51820), saddr = addr(1, 7000);
  std::vector<Error> server_errors, client_errors;
  // Hooks run after every step (the application: write, read).
  std::function<void()> app;

  void flush() {
    uint8_t buf[2048];
    for (int guard = 0; guard < 10000; ++guard) {
      bool any = false;
      if (size_t n = client.poll_send(buf)) {
        up.send(clock.now, caddr, {buf, n});
        any = true;
      }
      if (size_t n = server.poll_send(buf)) {
        down.send(clock.now, saddr, {buf, n});
        any = true;
      }
      if (!any) return;
    }
    ADD_FAILURE() << "poll_send never ran dry";
  }
  void deliver() {
    for (auto& it : up.due(clock.now)) {
      auto r = server.receive(it.data, it.from);
      if (!r.ok()) server_errors.push_back(r.error());
    }
    for (auto& it : down.due(clock.now)) {
      auto r = client.receive(it.data, it.from);
      if (!r.ok()) client_errors.push_back(r.error());
    }
  }
  // Advances to the next event (a datagram arriving or a timer), at most `max_step`.
  void step(uint64_t max_step = 1 * kSec) {
    uint64_t t = clock.now + max_step;
    for (uint64_t c : {up.next(), down.next(), client.next_deadline(), server.next_deadline()})
      if (c && c < t) t = c;
    if (t > clock.now) clock.now = t;
    deliver();
    if (client.next_deadline() && client.next_deadline() <= clock.now) client.tick();
    if (server.next_deadline() && server.next_deadline() <= clock.now) server.tick();
    if (app) app();
    flush();
  }
  // Steps until pred() or the fake clock passed `limit` from now; returns pred().
  bool run_until(const std::function<bool()>& pred, uint64_t limit = 120 * kSec) {
    const uint64_t end = clock.now + limit;
    flush();
    while (!pred() && clock.now < end) step();
    return pred();
  }
};
using Pair = PairT<>;

// Writes `data` on `id` as far as the session takes it (returns the new offset).
inline size_t pump_write(Session& s, uint64_t id, const Buf& data, size_t off, bool fin = true) {
  while (off < data.size()) {
    auto r = s.write(id, Bytes(data).subspan(off), fin);
    if (!r.ok() || r.value() == 0) break;
    off += r.value();
  }
  if (data.empty() && fin) (void)s.write(id, {}, true);
  return off;
}
// Reads everything available on `id` into `out`; returns true once the FIN was read.
inline bool pump_read(Session& s, uint64_t id, Buf& out) {
  uint8_t buf[4096];
  for (;;) {
    bool fin = false;
    auto r = s.read(id, buf, fin);
    if (!r.ok()) return false;
    out.insert(out.end(), buf, buf + r.value());
    if (fin) return true;
    if (r.value() == 0) return false;
  }
}
inline Buf pattern(size_t n, uint32_t seed) {
  Buf b(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : b) {
    x = x * 1664525u + 1013904223u;
    c = uint8_t(x >> 24);
  }
  return b;
}

}  // namespace keel::control::test

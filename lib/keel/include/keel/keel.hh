// keel/keel.hh — the thin C++ layer of libkeel: the same calls as keel/keel.h, returning
// keel::Result<T> (error: keel_error_t; use with TRY and keel::check). No exceptions, no heap.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "keel/keel.h"
#include "keel/error.h"

namespace keel {

// An rpc message: label + up to KEEL_RPC_MAX_WORDS words.
struct Message : keel_msg_t {
  explicit Message(uint64_t l = 0) : keel_msg_t{} { label = l; }
  Message& word(uint64_t v) {
    if (len < KEEL_RPC_MAX_WORDS) w[len++] = v;
    return *this;
  }
  [[nodiscard]] uint64_t at(uint32_t i) const { return i < len ? w[i] : 0; }
};

// A channel end of this component. named() only looks the name up; the end is opened on first
// use and again after KEEL_CHANNEL_DOWN (docs/os-services.md).
class Channel {
 public:
  static Result<Channel> named(const char* name) {
    const keel_info_t* info = keel_info();
    if (info == nullptr) return Err{KEEL_INVALID_ARGUMENT};
    int k = keel_info_find_channel(info, name);
    if (k < 0) return Err{KEEL_NOT_FOUND};
    return Channel(k);
  }
  // Looks up and opens now (an rpc server end must be opened before clients can call).
  static Result<Channel> open(const char* name) {
    keel_channel_t k = -1;
    keel_error_t s = keel_channel_open(name, &k);
    if (s != KEEL_OK) return Err{s};
    return Channel(k);
  }
  [[nodiscard]] Result<Message> call(Message m) const {
    TRY(check(keel_rpc_call(id_, &m)));
    return m;
  }
  [[nodiscard]] Result<void> signal() const { return check(keel_event_signal(id_)); }
  [[nodiscard]] Result<size_t> write(const void* data, size_t n) const {
    size_t done = 0;
    TRY(check(keel_stream_write(id_, data, n, &done)));
    return done;
  }
  [[nodiscard]] Result<size_t> read(void* buf, size_t cap) const {
    size_t done = 0;
    TRY(check(keel_stream_read(id_, buf, cap, &done)));
    return done;
  }
  [[nodiscard]] Result<void> wait() const { return check(keel_channel_wait(id_)); }
  [[nodiscard]] const keel_info_channel_t* info() const { return keel_channel_info(id_); }
  [[nodiscard]] uint64_t notify_bit() const { return info()->notify_bit; }
  [[nodiscard]] keel_channel_t id() const { return id_; }
  bool operator==(const Channel& o) const { return id_ == o.id_; }

 private:
  explicit Channel(keel_channel_t k) : id_(k) {}
  keel_channel_t id_;
};

// One event of an rpc server loop: a call (channel + request) or notification bits.
struct Incoming {
  keel_channel_t channel;  // -1: notification
  Message msg;
  uint64_t bits;
  [[nodiscard]] bool is_call() const { return channel >= 0; }
};
inline Result<Incoming> receive(uint64_t mask) {
  Incoming in{-1, Message{}, 0};
  TRY(check(keel_rpc_recv(mask, &in.channel, &in.msg, &in.bits)));
  return in;
}
inline Result<void> reply(const Message& m) { return check(keel_rpc_reply(&m)); }

// Random bytes from the rng service (keel_random: up to KEEL_RANDOM_MAX, waits up to 2 s for a
// restarting or unseeded service).
inline Result<void> random(void* buf, size_t n) { return check(keel_random(buf, n)); }

// Time and timers.
inline uint64_t now_ticks() { return keel_now_ticks(); }
inline uint64_t now_ns() { return keel_now_ns(); }
inline uint64_t ms_to_ticks(uint64_t ms) { return keel_ms_to_ticks(ms); }
inline Result<void> timer_set(uint32_t id, uint64_t deadline_ticks, uint64_t period_ticks = 0) {
  return check(keel_timer_set(id, deadline_ticks, period_ticks));
}
inline Result<void> timer_every_ms(uint32_t id, uint64_t ms) {
  const uint64_t p = ms_to_ticks(ms);
  return timer_set(id, now_ticks() + p, p);
}
inline uint64_t timer_expired() { return keel_timer_expired(); }
inline Result<void> sleep_ms(uint64_t ms) { return check(keel_sleep_ms(ms)); }
inline uint64_t wait(uint64_t mask) { return keel_notify_wait(mask); }

// Configuration, devices, status.
inline int64_t config_int(const char* key, int64_t fallback) { return keel_config_int(key, fallback); }
inline bool config_bool(const char* key, bool fallback) { return keel_config_bool(key, fallback); }
inline const char* config_str(const char* key, const char* fallback) { return keel_config_str(key, fallback); }
inline Result<keel_component_status_t> status(uint32_t index) {
  keel_component_status_t st{};
  TRY(check(keel_component_status(index, &st)));
  return st;
}
inline Result<keel_cpu_usage_t> cpu_usage(uint32_t index) {
  keel_cpu_usage_t u{};
  TRY(check(keel_cpu_usage(index, &u)));
  return u;
}
inline const char* name() { return keel_name(); }

// Trace and restart (docs/libkeel.md "Mirror, trace and restart"; the mirror and trace readers are
// the C calls).
inline Result<void> trace(uint16_t event, uint32_t argument) { return check(keel_trace(event, argument)); }
inline Result<bool> trace_enable(bool on) {  // -> the previous state
  bool was = false;
  TRY(check(keel_trace_enable(on, &was)));
  return was;
}
inline Result<void> restart(int index) { return check(keel_component_restart(index)); }  // -1: the system

// Memory regions by the manifest's names: a mapped region (nullptr if none or address only), and
// a DMA region's physical address (0 if none or not DMA).
struct Region {
  void* addr;      // nullptr: not mapped here (address only)
  size_t size;
  uint64_t paddr;  // 0: not a DMA region
};
inline Result<Region> region(const char* name) {
  const keel_info_t* info = keel_info();
  if (info == nullptr) return Err{KEEL_INVALID_ARGUMENT};
  const int i = keel_info_find_region(info, name);
  if (i < 0) return Err{KEEL_NOT_FOUND};
  const keel_info_region_t& r = keel_info_regions(info)[i];
  return Region{r.perms == 0 ? nullptr : reinterpret_cast<void*>(r.vaddr), static_cast<size_t>(r.size), r.paddr};
}

// A UDP socket through the net service (keel.h "UDP sockets"): closed when it goes out of scope.
struct Datagram {
  size_t size;
  keel_ipv4_t from;
  uint16_t port;
};
class UdpSocket {
 public:
  [[nodiscard]] static Result<UdpSocket> open(uint16_t port = 0) {
    keel_udp_t s = -1;
    TRY(check(keel_udp_open(port, &s)));
    return UdpSocket(s);
  }
  UdpSocket(UdpSocket&& o) noexcept : s_(o.s_) { o.s_ = -1; }
  UdpSocket& operator=(UdpSocket&& o) noexcept {
    if (this != &o) {
      close();
      s_ = o.s_;
      o.s_ = -1;
    }
    return *this;
  }
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  ~UdpSocket() { close(); }

  [[nodiscard]] uint16_t port() const { return keel_udp_port(s_); }
  [[nodiscard]] Result<void> send(keel_ipv4_t to, uint16_t port, const void* data, size_t n) const {
    return check(keel_udp_send(s_, to, port, data, n));
  }
  // timeout_ms: 0 = do not wait, KEEL_UDP_FOREVER.
  [[nodiscard]] Result<Datagram> receive(void* buf, size_t cap, uint64_t timeout_ms = KEEL_UDP_FOREVER) const {
    Datagram d{0, 0, 0};
    TRY(check(keel_udp_recv(s_, buf, cap, &d.size, &d.from, &d.port, timeout_ms)));
    return d;
  }
  void close() {
    if (s_ >= 0) (void)keel_udp_close(s_);
    s_ = -1;
  }

 private:
  explicit UdpSocket(keel_udp_t s) : s_(s) {}
  keel_udp_t s_;
};

// A partition through the store service (keel.h "storage"): a handle, nothing to close.
class Partition {
 public:
  [[nodiscard]] static Result<Partition> open(const char* name) {
    keel_partition_t p = -1;
    TRY(check(keel_store_open(name, &p)));
    return Partition(p);
  }
  [[nodiscard]] Result<keel_store_info_t> info() const {
    keel_store_info_t i{};
    TRY(check(keel_store_info(p_, &i)));
    return i;
  }
  [[nodiscard]] Result<void> read(uint64_t block, void* buf, size_t n) const { return check(keel_store_read(p_, block, buf, n)); }
  [[nodiscard]] Result<void> write(uint64_t block, const void* buf, size_t n) const {
    return check(keel_store_write(p_, block, buf, n));
  }
  [[nodiscard]] Result<void> flush() const { return check(keel_store_flush(p_)); }
  // The record's length (KEEL_RANGE_ERROR if cap is too small).
  [[nodiscard]] Result<size_t> read_record(uint32_t id, void* buf, size_t cap) const {
    size_t len = 0;
    TRY(check(keel_record_read(p_, id, buf, cap, &len)));
    return len;
  }
  [[nodiscard]] Result<void> write_record(uint32_t id, const void* data, size_t len) const {
    return check(keel_record_write(p_, id, data, len));
  }
  [[nodiscard]] keel_partition_t handle() const { return p_; }

 private:
  explicit Partition(keel_partition_t p) : p_(p) {}
  keel_partition_t p_;
};

}  // namespace keel

// services/link/src/platform.h — what the link agent's portable core (agent.h) needs from the
// device, as one interface: time, randomness, the datagram pipe to the tunnel, the keystore, the
// `link` partition's records, the component table, restarts, the console mirror, the trace ring,
// the tunnel's status and the proxy apps' streams. src/main.cc implements it on libkeel; the host
// tests (test/agent_test.cc) on fakes. Every call is synchronous, bounded and non-blocking (a
// store record write waits for the disk: that is the point of it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace keel::link {

using Bytes = std::span<const uint8_t>;
using MutBytes = std::span<uint8_t>;

// One component as keel_component_status + keel_cpu_usage report it.
struct ComponentInfo {
  char name[33] = {};      // at most 32 bytes (STATUS's bound), NUL-terminated
  uint8_t state = 0;       // STATUS's: 0 stopped, 1 running, 2 restarting, 3 failed
  uint32_t restarts = 0;
  uint32_t memory_kib = 0;
  uint64_t cpu_us = 0;     // CPU time used since it started (monotonic; the agent takes deltas)
};

// tunnel_ctl op 1 (services/tunnel/include/keel/tunnel/ctl.h).
struct TunnelInfo {
  uint32_t state = 0;  // 0 not enrolled, 1 handshaking, 2 up
  uint64_t rx_bytes = 0, tx_bytes = 0, handshakes = 0;
  uint64_t since_handshake_s = ~0ull;
  uint64_t dropped = 0;
  uint32_t endpoint_ipv4 = 0;
  uint16_t endpoint_port = 0;
};

struct TraceRecord {
  uint64_t time_ns = 0;
  uint16_t component = 0, event = 0;
  uint32_t argument = 0;
};

enum class RecordStatus : uint8_t { Ok, NotFound, Error };

class Platform {
 public:
  // --- time, randomness, log ---
  virtual uint64_t now_ns() = 0;                 // monotonic, since boot (uptime)
  virtual void random(MutBytes out) = 0;         // the rng service (keel_random)
  virtual void log(std::string_view line) = 0;   // one console line ("[link] " is added on the device)

  // --- the pipe to the tunnel (spec §2: records of u16 LE length + one datagram) ---
  virtual bool send_datagram(Bytes datagram) = 0;  // false: link_up full, the datagram is dropped

  // --- keystore (ops "sign", "public") ---
  virtual bool public_keys(uint8_t tunnel_x25519[32], uint8_t identity_ed25519[32]) = 0;
  virtual bool sign(Bytes message, uint8_t signature[64]) = 0;

  // --- partition `link`: record 1 the enrolment, records 2.. the command journal ---
  virtual RecordStatus record_read(uint32_t id, MutBytes buf, size_t& len) = 0;
  virtual bool record_write(uint32_t id, Bytes data) = 0;  // true once durable

  // --- the system ---
  virtual uint32_t component_count() = 0;
  virtual bool component(uint32_t index, ComponentInfo& out) = 0;
  virtual int self_index() = 0;
  // Restarts component `index` (-1: the system): nullptr once started, else the error's name.
  virtual const char* restart(int index) = 0;

  // --- console mirror and trace (the manifest's console_mirror component only) ---
  // Lines since the last read ("[name] text", '\n'-separated, no NUL); n = 0 when none.
  virtual bool mirror_read(uint64_t& first, uint32_t& dropped, char* buf, size_t cap, size_t& n) = 0;
  virtual const char* trace_enable(bool on, bool& was_on) = 0;  // nullptr, or the error's name
  virtual bool trace_read(TraceRecord* ev, size_t cap, size_t& n, uint32_t& dropped) = 0;
  virtual bool tunnel_status(TunnelInfo& out) = 0;

  // --- proxy apps (ends proxy_rx_<app> / proxy_tx_<app>; see proxy.h's ProxyHost) ---
  virtual bool app_peek(size_t app, uint8_t* buf, size_t n) = 0;
  virtual bool app_read(size_t app, uint8_t* hdr, size_t nh, uint8_t* body, size_t nb) = 0;
  virtual void app_discard(size_t app) = 0;
  virtual bool app_send(size_t app, const uint8_t* hdr, size_t nh, const uint8_t* body, size_t nb) = 0;
  virtual bool proxy_allowed(std::string_view app, std::string_view service) = 0;

 protected:
  ~Platform() = default;  // not virtual: no deleting destructor, so no operator delete on the device
};

}  // namespace keel::link

// keel-link — the device's link agent (component `link`; services/link/README.md,
// docs/device-services.md "Link agent"). This file binds the portable core (agent.h) to libkeel:
//
//  - the pipe: stream `tunnel_rx` (link_down, from the tunnel) and `tunnel_tx` (link_up, to it),
//    records of u16 LE length + one control-protocol datagram (keel/tunnel/ctl.h);
//  - `tunnel_ctl` (rpc to the tunnel): its STATUS for the shell's `net`;
//  - the keystore (`keel_keys_public`, `keel_keys_sign`; grant ops "sign", "public"), the rng
//    service (`keel_random`: session ids, back-off jitter), the store (partition `link`: record 1
//    the enrolment, record 2 the command journal);
//  - the root server (component status, `keel_component_restart`: manifest `control = true`), the
//    sched service (CPU use), the serial service (the console mirror and the trace ring: manifest
//    `[system] console_mirror = "link"`);
//  - config: `device` (the name identify prints; default the system name), `release` and
//    `manifest_hash` (64 hex digits) for STATUS.
//
// One thread: it waits for the pipe's bit, the mirror's bit and a clock timer at the agent's next
// deadline (at most 1 s away), and calls the agent. All memory is static: the agent object and a
// pool of 12 protocol blocks (figures printed at start and in the README).
#include <cstring>
#include <optional>

#include "agent.h"
#include "agent_console.h"
#include "keel/info.h"
#include "keel/keel.h"
#include "keel/rt/rt.h"
#include "keel/sys/protocol.h"
#include "keel/tunnel/ctl.h"

namespace {

using namespace keel::link;
namespace ctl = keel::control;

constexpr size_t kPoolBlocks = 12;

keel_channel_t g_rx = -1, g_tx = -1, g_ctl = -1;

// The proxy apps: ends proxy_rx_<app> (from the app) and proxy_tx_<app> (to it), in the order the
// mux numbers them, named by the peer component.
struct ProxyApp {
  char name[ProxyMux::kMaxAppName + 1] = {};
  keel_channel_t rx = -1, tx = -1;
};
ProxyApp g_apps[ProxyMux::kMaxApps];
size_t g_napps = 0;
keel_partition_t g_part = -1;
bool g_part_open = false;

class DeviceClock final : public ctl::Clock {
 public:
  uint64_t now_ns() override { return keel_now_ns(); }
};

class DevicePlatform final : public Platform {
 public:
  uint64_t now_ns() override { return keel_now_ns(); }
  void random(MutBytes out) override {
    for (size_t off = 0; off < out.size();) {
      const size_t n = out.size() - off > 256 ? 256 : out.size() - off;
      if (keel_random(out.data() + off, n) != KEEL_OK) {
        // No rng: the counter at least differs between boots on hardware (logged once).
        if (!rng_warned_) keel_log("rng unavailable: using the counter for jitter and session ids");
        rng_warned_ = true;
        uint64_t x = keel_now_ticks() * 0x9e3779b97f4a7c15ull + off;
        for (size_t i = 0; i < n; ++i) out[off + i] = uint8_t((x ^= x >> 29, x *= 0xbf58476d1ce4e5b9ull, x >> 56));
      }
      off += n;
    }
  }
  void log(std::string_view line) override {
    char buf[200];
    const size_t n = line.size() < sizeof buf - 1 ? line.size() : sizeof buf - 1;
    std::memcpy(buf, line.data(), n);
    buf[n] = 0;
    keel_log(buf);
  }
  bool send_datagram(Bytes d) override {
    if (d.empty() || d.size() > KEEL_TUNNEL_MAX_DATAGRAM) return false;
    const uint8_t hdr[2] = {uint8_t(d.size()), uint8_t(d.size() >> 8)};
    return keel_stream_send_record(g_tx, hdr, 2, d.data(), d.size()) == KEEL_OK;
  }
  bool public_keys(uint8_t t[32], uint8_t id[32]) override {
    keel_public_keys_t pk;
    if (keel_keys_public(&pk) != KEEL_OK) return false;
    std::memcpy(t, pk.tunnel_x25519, 32);
    std::memcpy(id, pk.identity_ed25519, 32);
    return true;
  }
  bool sign(Bytes m, uint8_t sig[64]) override { return keel_keys_sign(m.data(), m.size(), sig) == KEEL_OK; }
  RecordStatus record_read(uint32_t id, MutBytes buf, size_t& len) override {
    if (!open_part()) return RecordStatus::Error;
    const keel_error_t e = keel_record_read(g_part, id, buf.data(), buf.size(), &len);
    return e == KEEL_OK ? RecordStatus::Ok : e == KEEL_NOT_FOUND ? RecordStatus::NotFound : RecordStatus::Error;
  }
  bool record_write(uint32_t id, Bytes data) override {
    return open_part() && keel_record_write(g_part, id, data.data(), data.size()) == KEEL_OK;
  }
  uint32_t component_count() override { return keel_component_count(); }
  bool component(uint32_t i, ComponentInfo& out) override {
    keel_component_status_t st;
    if (keel_component_status(i, &st) != KEEL_OK) return false;
    out = ComponentInfo{};
    const size_t n = strnlen(st.name, sizeof st.name) < 32 ? strnlen(st.name, sizeof st.name) : 32;
    std::memcpy(out.name, st.name, n);
    out.name[n] = 0;
    switch (st.state) {
      case KEEL_STATE_RUNNING: out.state = 1; break;
      case KEEL_STATE_RESTARTING: out.state = 2; break;
      case KEEL_STATE_FAILED: out.state = 3; break;
      default: out.state = 0; break;  // not started, stopped
    }
    out.restarts = st.restarts;
    out.memory_kib = uint32_t(st.memory_bytes / 1024);
    keel_cpu_usage_t u;
    if (keel_cpu_usage(i, &u) == KEEL_OK) out.cpu_us = u.used_us;
    return true;
  }
  int self_index() override { return int(keel_index()); }
  const char* restart(int index) override {
    const keel_error_t e = keel_component_restart(index);
    return e == KEEL_OK ? nullptr : keel_error_name(e);
  }
  bool mirror_read(uint64_t& first, uint32_t& dropped, char* buf, size_t cap, size_t& n) override {
    n = 0;
    return keel_mirror_read(&first, &dropped, buf, cap, &n) == KEEL_OK;
  }
  const char* trace_enable(bool on, bool& was_on) override {
    const keel_error_t e = keel_trace_enable(on, &was_on);
    return e == KEEL_OK ? nullptr : keel_error_name(e);
  }
  bool trace_read(TraceRecord* ev, size_t cap, size_t& n, uint32_t& dropped) override {
    static keel_trace_event_t buf[KEEL_SERIAL_TRACE_READ_MAX];
    n = 0;
    size_t got = 0;
    if (keel_trace_read(buf, KEEL_SERIAL_TRACE_READ_MAX, &got, &dropped) != KEEL_OK) return false;
    for (size_t i = 0; i < got && i < cap; ++i) ev[n++] = {buf[i].time_ns, buf[i].component, buf[i].event, buf[i].argument};
    return true;
  }
  bool tunnel_status(TunnelInfo& out) override {
    keel_msg_t m{};
    m.label = KEEL_TUNNEL_STATUS;
    if (keel_rpc_call(g_ctl, &m) != KEEL_OK || m.label != KEEL_OK || m.len < KEEL_TUNNEL_STATUS_WORDS) return false;
    out.state = uint32_t(m.w[0]);
    out.rx_bytes = m.w[1], out.tx_bytes = m.w[2], out.handshakes = m.w[3], out.since_handshake_s = m.w[4];
    out.dropped = m.w[5];
    out.endpoint_ipv4 = uint32_t(m.w[6]);
    out.endpoint_port = uint16_t(m.w[7]);
    return true;
  }
  // Proxy apps (the mux's ProxyHost calls, through AgentConsole).
  bool app_peek(size_t app, uint8_t* buf, size_t n) override {
    size_t done = 0;
    return app < g_napps && keel_stream_peek(g_apps[app].rx, buf, n, &done) == KEEL_OK && done == n;
  }
  bool app_read(size_t app, uint8_t* hdr, size_t nh, uint8_t* body, size_t nb) override {
    size_t done = 0;
    return app < g_napps && keel_stream_read_record(g_apps[app].rx, hdr, nh, body, nb, &done) == KEEL_OK && done != 0;
  }
  void app_discard(size_t app) override {
    if (app >= g_napps) return;
    uint8_t sink[256];
    size_t done = 0;
    for (int i = 0; i < 256 && keel_stream_read(g_apps[app].rx, sink, sizeof sink, &done) == KEEL_OK && done; ++i) {
    }
  }
  bool app_send(size_t app, const uint8_t* hdr, size_t nh, const uint8_t* body, size_t nb) override {
    return app < g_napps && keel_stream_send_record(g_apps[app].tx, hdr, nh, body, nb) == KEEL_OK;
  }
  // Config proxy.<app> = "svc1,svc2": the services the app may name (absent: none).
  bool proxy_allowed(std::string_view app, std::string_view service) override {
    char key[8 + ProxyMux::kMaxAppName + 1];
    if (app.size() > ProxyMux::kMaxAppName) return false;
    std::memcpy(key, "proxy.", 6);
    std::memcpy(key + 6, app.data(), app.size());
    key[6 + app.size()] = 0;
    const char* list = keel_config_str(key, nullptr);
    if (!list) return false;
    for (const char* p = list; *p;) {
      const char* e = p;
      while (*e && *e != ',') ++e;
      if (std::string_view(p, size_t(e - p)) == service) return true;
      p = *e ? e + 1 : e;
    }
    return false;
  }

 private:
  static bool open_part() {
    if (!g_part_open) g_part_open = keel_store_open("link", &g_part) == KEEL_OK;
    return g_part_open;
  }
  bool rng_warned_ = false;
};

int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

DevicePlatform g_platform;
DeviceClock g_clock;
ctl::FixedBlockPool<kPoolBlocks> g_pool;
ctl::Context g_ctx{g_clock, g_pool};
std::optional<Agent> g_agent;
AgentConsole g_console;
uint8_t g_datagram[KEEL_TUNNEL_MAX_DATAGRAM];

// Every whole record in link_down to the agent (at most 256 per call: true when more may be
// there). A record with a length out of 1..1392 cannot come from the tunnel: it is skipped (its
// bytes read and dropped) and logged (the first 4).
bool drain_pipe() {
  static uint64_t bad = 0;
  for (int i = 0; i < 256; ++i) {
    uint8_t hdr[2];
    size_t done = 0;
    if (keel_stream_peek(g_rx, hdr, 2, &done) != KEEL_OK || done != 2) return false;
    const size_t len = size_t(hdr[0]) | size_t(hdr[1]) << 8;
    if (len == 0 || len > sizeof g_datagram) {
      (void)keel_stream_read(g_rx, hdr, 2, &done);
      for (size_t left = len; left;) {
        const size_t chunk = left < sizeof g_datagram ? left : sizeof g_datagram;
        if (keel_stream_read(g_rx, g_datagram, chunk, &done) != KEEL_OK || done == 0) break;
        left -= done;
      }
      if (bad++ < 4) keel_logf("pipe: a record of %u bytes from the tunnel dropped", unsigned(len));
      continue;
    }
    if (keel_stream_read_record(g_rx, hdr, 2, g_datagram, len, &done) != KEEL_OK || done == 0) return false;
    g_agent->on_datagram({g_datagram, len});
  }
  return true;
}

}  // namespace

// libstdc++'s bounds checks (std::string_view::substr with a position past the end) call this to
// throw; a component has no exceptions: the check ends it, as lib/sodium's shim does for abort().
// (shell.cc's substr calls are always in range; the symbol is only referenced, never reached.)
namespace std {
[[noreturn]] void __throw_out_of_range_fmt(const char*, ...) { keel_fatal("out of range (std::string_view)"); }
}  // namespace std

extern "C" int keel_main(void*) {
  (void)keel_channel_open("tunnel_rx", &g_rx);
  (void)keel_channel_open("tunnel_tx", &g_tx);
  (void)keel_channel_open("tunnel_ctl", &g_ctl);
  static AgentConfig cfg;
  const char* device = keel_config_str("device", keel_system_name());
  cfg.device_name = device ? device : "device";
  const char* release = keel_config_str("release", "");
  cfg.release = release ? release : "";
  if (const char* h = keel_config_str("manifest_hash", nullptr); h && std::strlen(h) == 64) {
    for (size_t i = 0; i < 32; ++i) {
      const int a = hexval(h[2 * i]), b = hexval(h[2 * i + 1]);
      if (a < 0 || b < 0) {
        std::memset(cfg.manifest_hash, 0, 32);
        break;
      }
      cfg.manifest_hash[i] = uint8_t(a << 4 | b);
    }
  }
  // Proxy apps: every pair of ends proxy_rx_<app> (from the app) / proxy_tx_<app> (to it),
  // registered under the channels' peer component's name (docs/device-services.md "Link agent:
  // shell and proxy"; end names cannot contain '.').
  uint64_t app_bits = 0;
  const keel_info_t* info = keel_info();
  for (uint32_t k = 0; info && k < info->channel_count && g_napps < ProxyMux::kMaxApps; ++k) {
    const keel_info_channel_t* ch = keel_channel_info(keel_channel_t(k));
    const char* end = ch ? keel_info_string(info, ch->end) : nullptr;
    const char* peer = ch ? keel_info_string(info, ch->peer) : nullptr;
    if (!end || !peer || std::strncmp(end, "proxy_rx_", 9) != 0 || ch->kind != KEEL_CHANNEL_STREAM) continue;
    ProxyApp& a = g_apps[g_napps];
    const size_t n = std::strlen(peer);
    const size_t m = std::strlen(end + 9);
    if (n == 0 || n > ProxyMux::kMaxAppName || m > ProxyMux::kMaxAppName) continue;
    std::memcpy(a.name, peer, n);
    a.name[n] = 0;
    char tx[16 + ProxyMux::kMaxAppName];
    std::memcpy(tx, "proxy_tx_", 9);
    std::memcpy(tx + 9, end + 9, m + 1);
    a.rx = keel_channel_t(k);
    (void)keel_channel_open(end, &a.rx);
    a.tx = -1;
    (void)keel_channel_open(tx, &a.tx);
    if (a.tx < 0 || g_console.mux().add_app(a.name) != int(g_napps)) {
      keel_logf("proxy: app '%s' has no end %s (or a duplicate name): not served", a.name, tx);
      continue;
    }
    app_bits |= ch->notify_bit;
    if (const keel_info_channel_t* t = keel_channel_info(a.tx)) app_bits |= t->notify_bit;
    ++g_napps;
  }
  g_agent.emplace(g_platform, g_ctx, cfg, &g_console);
  g_console.bind(*g_agent);
  keel_logf("link agent: %u + %u bytes, %u protocol blocks of %u bytes, %u proxy apps", unsigned(sizeof(Agent)),
            unsigned(sizeof(AgentConsole)), unsigned(kPoolBlocks), unsigned(ctl::kBlockSize), unsigned(g_napps));
  const keel_info_channel_t* rx = keel_channel_info(g_rx);
  const uint64_t rx_bit = rx ? rx->notify_bit : 0;
  const uint64_t tps = keel_ticks_per_second();
  for (;;) {
    const bool more = drain_pipe();
    g_agent->run();
    if (more) continue;  // the pipe's bit will not come for records already there
    const uint64_t now = keel_now_ns();
    uint64_t deadline = g_agent->next_deadline();
    if (!deadline || deadline > now + ctl::kSec) deadline = now + ctl::kSec;
    if (deadline > now) {
      (void)keel_timer_set(0, keel_now_ticks() + (deadline - now) * tps / ctl::kSec + 1, 0);
      const uint64_t bits = keel_notify_wait(KEEL_NOTIFY_TIMER | KEEL_NOTIFY_MIRROR | rx_bit | app_bits);
      if (bits & KEEL_NOTIFY_TIMER) (void)keel_timer_expired();
      if (bits & KEEL_NOTIFY_MIRROR) g_agent->on_mirror();
    }
  }
}

// tests/os/proxy: a stand-in for the link agent — the real proxy mux (services/link/src/proxy.h)
// on real libkeel streams to the app, with Fleet faked in this component (no tunnel, no session):
// "echo" answers every PROXY_DATA upper-cased, "nosuch" is refused by Fleet (PROXY_CLOSE 1),
// "secret" is not in this link's allowlist. What it checks is the device side: libkeel's
// keel_proxy_* (in the app) against the mux over the kernel's shared rings and notifications.
#include <string.h>

#include "keel/control/messages.h"
#include "keel/keel.h"
#include "proxy.h"

namespace {

namespace ctl = keel::control;
using keel::link::ProxyMux;

constexpr int kStreams = 4;

struct FleetStream {
  bool used = false;
  bool echo = false, fin_out = false, fin_in = false;
  uint8_t out[8192];   // device -> Fleet, not yet handled
  size_t out_len = 0;
  uint8_t in[8192];    // Fleet -> device, not yet read
  size_t in_len = 0;
};

struct Link final : keel::link::ProxyHost {
  keel_channel_t rx = -1, tx = -1;  // from the app, to the app
  FleetStream s[kStreams];
  ProxyMux mux{*this};

  bool app_peek(size_t, uint8_t* b, size_t n) override {
    size_t got = 0;
    return keel_stream_peek(rx, b, n, &got) == KEEL_OK && got == n;
  }
  bool app_read(size_t, uint8_t* h, size_t nh, uint8_t* b, size_t nb) override {
    size_t got = 0;
    return keel_stream_read_record(rx, h, nh, b, nb, &got) == KEEL_OK && got != 0;
  }
  void app_discard(size_t) override {
    uint8_t junk[256];
    size_t got = 0;
    while (keel_stream_read(rx, junk, sizeof junk, &got) == KEEL_OK && got > 0) {
    }
  }
  bool app_send(size_t, const uint8_t* h, size_t nh, const uint8_t* b, size_t nb) override {
    return keel_stream_send_record(tx, h, nh, b, nb) == KEEL_OK;
  }
  bool allowed(std::string_view app, std::string_view svc) override {
    return app == "app" && (svc == "echo" || svc == "nosuch");
  }
  bool stream_open(uint64_t& id) override {
    for (int i = 0; i < kStreams; ++i)
      if (!s[i].used) {
        s[i] = FleetStream{};
        s[i].used = true;
        id = uint64_t(i);
        return true;
      }
    return false;
  }
  size_t stream_writable(uint64_t id) override {
    return s[id].fin_out ? 0 : sizeof s[id].out - s[id].out_len;
  }
  bool stream_write(uint64_t id, const uint8_t* d, size_t n, bool fin) override {
    FleetStream& f = s[id];
    if (n > sizeof f.out - f.out_len) return false;
    if (n > 0) memcpy(f.out + f.out_len, d, n);
    f.out_len += n;
    if (fin) f.fin_out = true;
    return true;
  }
  size_t stream_read(uint64_t id, uint8_t* b, size_t cap, bool& end) override {
    FleetStream& f = s[id];
    const size_t n = cap < f.in_len ? cap : f.in_len;
    memcpy(b, f.in, n);
    memmove(f.in, f.in + n, f.in_len - n);
    f.in_len -= n;
    end = f.fin_in && f.in_len == 0;
    if (end && f.fin_out) f.used = false;  // both directions done: the slot is free
    return n;
  }
  void stream_abort(uint64_t id) override { s[id].used = false; }
  void log(std::string_view line) override { keel_logf("%.*s", int(line.size()), line.data()); }

  // Fleet's side: handles what the device wrote, while its answers fit.
  void fleet() {
    for (FleetStream& f : s) {
      if (!f.used) continue;
      for (;;) {
        auto m = ctl::next_message(ctl::Bytes(f.out, f.out_len));
        if (!m.ok() || m.value().size == 0) break;
        const auto v = m.value();
        if (v.type == ctl::MsgType::ProxyData && f.echo) {
          if (sizeof f.in - f.in_len < v.size) break;  // Fleet's side is full: back-pressure
          uint8_t* p = f.in + f.in_len;
          auto n = ctl::encode_proxy_data(v.body, ctl::MutBytes(p, sizeof f.in - f.in_len));
          for (size_t i = ctl::kMessageHeader; i < n.value(); ++i)
            if (p[i] >= 'a' && p[i] <= 'z') p[i] = uint8_t(p[i] - 32);
          f.in_len += n.value();
        } else if (v.type == ctl::MsgType::ProxyOpen) {
          ctl::ProxyOpen po;
          (void)ctl::decode(v.body, po);
          f.echo = po.service.size() == 4 && memcmp(po.service.data(), "echo", 4) == 0;
          if (!f.echo) {
            auto n = ctl::encode(ctl::ProxyClose{1}, ctl::MutBytes(f.in + f.in_len, sizeof f.in - f.in_len));
            f.in_len += n.value();
            f.fin_in = true;
          }
        } else if (v.type == ctl::MsgType::ProxyClose) {
          f.fin_in = true;
        }
        memmove(f.out, f.out + v.size, f.out_len - v.size);
        f.out_len -= v.size;
      }
      if (f.fin_out && f.out_len == 0 && !f.fin_in) f.fin_in = true;  // Fleet finishes too
    }
  }
};

Link g_link;

}  // namespace

extern "C" int keel_main(void*) {
  if (keel_channel_open("proxy_rx_app", &g_link.rx) != KEEL_OK && g_link.rx < 0) return 1;
  if (keel_channel_open("proxy_tx_app", &g_link.tx) != KEEL_OK && g_link.tx < 0) return 1;
  const uint64_t bits = keel_channel_info(g_link.rx)->notify_bit | keel_channel_info(g_link.tx)->notify_bit;
  if (g_link.mux.add_app("app") != 0) return 1;
  g_link.mux.link_up();
  keel_log("serving app");
  const uint64_t period = keel_ms_to_ticks(5);
  keel_timer_set(0, keel_now_ticks() + period, period);  // a safety net; the stream bits do the work
  for (;;) {
    bool more;
    do {
      more = g_link.mux.poll();
      g_link.fleet();
      more = g_link.mux.poll() || more;
    } while (more);
    const uint64_t got = keel_notify_wait(bits | KEEL_NOTIFY_TIMER);
    if (got & KEEL_NOTIFY_TIMER) (void)keel_timer_expired();
  }
}

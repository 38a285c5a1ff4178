// os-tunnel-link — the test's stand-in for the link agent (component name `link`): datagrams
// through the pipe to the tunnel (link_up / link_down) and tunnel_ctl STATUS; the host peer echoes
// them. Config `mode`:
//   "echo":    100 datagrams of 1..1392 bytes echoed byte-exact; STATUS counts them exactly; one
//              answer from the wrong port and one from the wrong address are dropped and counted;
//   "unenrolled": no enrolment: STATUS state 0 across the tunnel's re-reads, datagrams dropped;
//   "restart": 10 echoed, then the peer exits and is started again (tunnel.py): datagrams are sent
//              every second until echoes come back, through a second handshake.
// Ends the run with its verdict (debug halt).
#include <cstring>

#include "keel/keel.h"
#include "keel/rt/syscall.h"
#include "keel/tunnel/ctl.h"

namespace {

keel_channel_t g_tx = -1, g_rx = -1, g_ctl = -1;
uint64_t g_sent = 0, g_received = 0;

[[noreturn]] void verdict(bool ok, const char* what) {
  keel_logf("%s %s", ok ? "PASS" : "FAIL", what);
  keel_flush();
  keel_debug_halt(ok ? 0 : 1);
  for (;;) {
  }
}

keel::tunnel::Status status() {
  keel_msg_t m;
  std::memset(&m, 0, sizeof m);
  keel_error_t e = KEEL_CHANNEL_DOWN;
  // The tunnel may still be starting (or restarting): CHANNEL_DOWN is waited through for 10 s.
  for (int i = 0; i < 1000 && e == KEEL_CHANNEL_DOWN; ++i) {
    if (i > 0) (void)keel_sleep_ms(10);
    std::memset(&m, 0, sizeof m);
    m.label = KEEL_TUNNEL_STATUS;
    e = keel_rpc_call(g_ctl, &m);
  }
  if (e != KEEL_OK || m.label != KEEL_OK || m.len != KEEL_TUNNEL_STATUS_WORDS) verdict(false, "tunnel_ctl STATUS failed");
  keel::tunnel::Status s;
  s.state = m.w[0];
  s.rx_bytes = m.w[1];
  s.tx_bytes = m.w[2];
  s.handshakes = m.w[3];
  s.since_handshake_s = m.w[4];
  s.dropped = m.w[5];
  s.endpoint_ip = m.w[6];
  s.endpoint_port = m.w[7];
  return s;
}

void log_status(const keel::tunnel::Status& s) {
  keel_logf("STATUS state %llu rx %llu tx %llu handshakes %llu since %llu s dropped %llu endpoint %llu.%llu.%llu.%llu:%llu",
            (unsigned long long)s.state, (unsigned long long)s.rx_bytes, (unsigned long long)s.tx_bytes,
            (unsigned long long)s.handshakes, (unsigned long long)s.since_handshake_s, (unsigned long long)s.dropped,
            (unsigned long long)(s.endpoint_ip >> 24), (unsigned long long)(s.endpoint_ip >> 16 & 255),
            (unsigned long long)(s.endpoint_ip >> 8 & 255), (unsigned long long)(s.endpoint_ip & 255),
            (unsigned long long)s.endpoint_port);
}

void send(const uint8_t* d, uint16_t n) {
  const uint8_t hdr[2] = {uint8_t(n), uint8_t(n >> 8)};
  for (;;) {
    const keel_error_t e = keel_stream_send_record(g_tx, hdr, 2, d, n);
    if (e == KEEL_OK) break;
    if (e == KEEL_CHANNEL_DOWN) {  // the tunnel is not up yet
      (void)keel_sleep_ms(10);
      continue;
    }
    if (e != KEEL_NO_SPACE) verdict(false, "cannot write to link_up");
    (void)keel_channel_wait(g_tx);
  }
  g_sent += n;
}

// One datagram from link_down within timeout_ms; false if none came.
bool receive(uint8_t* buf, uint16_t* n, uint64_t timeout_ms) {
  const uint64_t deadline = keel_now_ns() + timeout_ms * 1000000u;
  for (;;) {
    uint8_t hdr[2];
    size_t got = 0;
    if (keel_stream_peek(g_rx, hdr, 2, &got) == KEEL_OK && got == 2) {
      const uint16_t len = uint16_t(hdr[0] | hdr[1] << 8);
      if (len == 0 || len > KEEL_TUNNEL_MAX_DATAGRAM) verdict(false, "a bad record length on link_down");
      if (keel_stream_read_record(g_rx, hdr, 2, buf, len, &got) == KEEL_OK && got != 0) {
        *n = len;
        g_received += len;
        return true;
      }
    }
    if (keel_now_ns() >= deadline) return false;
    (void)keel_sleep_ms(2);
  }
}

void fill(uint8_t* d, uint16_t n, unsigned seed) {
  for (unsigned j = 0; j < n; ++j) d[j] = uint8_t(seed * 31 + j * 7 + (j >> 8));
}

// Sends datagram `seed` of n bytes until its echo comes back (at most 4 tries, 3 s apart).
void echo_one(unsigned seed, uint16_t n) {
  static uint8_t out[KEEL_TUNNEL_MAX_DATAGRAM], in[KEEL_TUNNEL_MAX_DATAGRAM];
  fill(out, n, seed);
  for (int attempt = 0; attempt < 4; ++attempt) {
    send(out, n);
    uint16_t got = 0;
    while (receive(in, &got, 3000)) {
      if (got == n && std::memcmp(in, out, n) == 0) return;
      keel_logf("unexpected datagram of %u bytes (waiting for #%u, %u bytes)", unsigned(got), seed, unsigned(n));
    }
    keel_logf("no echo of #%u (%u bytes) in 3 s: sending it again", seed, unsigned(n));
  }
  verdict(false, "a datagram was never echoed");
}

void wait_up() {
  const uint64_t t0 = keel_now_ns();
  for (;;) {
    const keel::tunnel::Status s = status();
    if (s.state == KEEL_TUNNEL_STATE_UP) break;
    if (keel_now_ns() - t0 > 60ull * 1000000000u) {
      log_status(s);
      verdict(false, "the tunnel did not come up in 60 s");
    }
    (void)keel_sleep_ms(50);
  }
  keel_logf("tunnel up after %llu ms", (unsigned long long)((keel_now_ns() - t0) / 1000000u));
}

void run_echo() {
  constexpr unsigned kCount = 100;
  for (unsigned i = 0; i < kCount; ++i) echo_one(i, uint16_t(1 + i * (KEEL_TUNNEL_MAX_DATAGRAM - 1) / (kCount - 1)));
  keel_logf("PASS %u datagrams of 1..%u bytes echoed byte-exact", kCount, KEEL_TUNNEL_MAX_DATAGRAM);
  keel::tunnel::Status s = status();
  log_status(s);
  const bool counts = s.state == KEEL_TUNNEL_STATE_UP && s.tx_bytes == g_sent && s.rx_bytes == g_received &&
                      s.handshakes >= 1 && s.since_handshake_s < 600 && s.endpoint_ip == 0x0a000202u &&
                      s.endpoint_port != 0 && s.dropped == 0;
  if (!counts) verdict(false, "STATUS does not count what went through");
  keel_log("PASS STATUS: up, rx and tx bytes exact, a handshake, endpoint 10.0.2.2, nothing dropped");
  // Answers from the wrong port and the wrong address: dropped by the tunnel, counted.
  static const uint8_t bad_port[] = "BADPORT answer me from port 7401";
  static const uint8_t bad_src[] = "BADSRC answer me from 10.64.0.9";
  send(bad_port, sizeof bad_port);
  send(bad_src, sizeof bad_src);
  uint8_t in[KEEL_TUNNEL_MAX_DATAGRAM];
  uint16_t got = 0;
  if (receive(in, &got, 2000)) verdict(false, "an inner packet from the wrong port or address reached the link");
  s = status();
  log_status(s);
  if (s.dropped != 2) verdict(false, "the two wrong inner packets were not counted as dropped");
  echo_one(1000, 64);  // and the tunnel still works
  keel_log("PASS wrong port and wrong address dropped and counted (dropped 2), the tunnel still echoes");
  verdict(true, "tunnel echo");
}

void run_restart() {
  for (unsigned i = 0; i < 10; ++i) echo_one(i, uint16_t(100 + i));
  const uint64_t hs = status().handshakes;
  keel_logf("phase 2: 10 echoed (handshakes %llu); the peer restarts", (unsigned long long)hs);
  static uint8_t out[200], in[KEEL_TUNNEL_MAX_DATAGRAM];
  const uint64_t t0 = keel_now_ns();
  for (unsigned k = 0;; ++k) {
    fill(out, 200, 5000 + k);
    send(out, 200);
    uint16_t got = 0;
    bool echoed = false;
    while (receive(in, &got, 1000)) echoed = echoed || (got == 200 && std::memcmp(in, out, 200) == 0);
    if (echoed) break;
    if (keel_now_ns() - t0 > 120ull * 1000000000u) verdict(false, "no echo within 120 s of the peer's restart");
  }
  const keel::tunnel::Status s = status();
  log_status(s);
  keel_logf("echoes again %llu ms after the restart began", (unsigned long long)((keel_now_ns() - t0) / 1000000u));
  if (s.handshakes < hs + 1) verdict(false, "no new handshake after the peer restarted");
  verdict(true, "tunnel re-handshake after the peer restarted");
}

// Not enrolled (a provisioned disk without record 1, no config): STATUS says so, stays so across
// the tunnel's 5 s re-read, and nothing sent through the pipe comes back.
void run_unenrolled() {
  for (int i = 0; i < 7; ++i) {
    const keel::tunnel::Status s = status();
    if (s.state != KEEL_TUNNEL_STATE_NOT_ENROLLED || s.handshakes != 0 || s.since_handshake_s != KEEL_TUNNEL_NEVER)
      verdict(false, "STATUS of a tunnel without enrolment");
    if (i == 0) {
      static const uint8_t hello[] = "nobody hears this";
      send(hello, sizeof hello);
    }
    (void)keel_sleep_ms(1000);
  }
  const keel::tunnel::Status s = status();
  log_status(s);
  if (s.tx_bytes != 0 || s.rx_bytes != 0 || s.dropped != 1) verdict(false, "the datagram sent while not enrolled was not dropped and counted");
  verdict(true, "not enrolled: state 0 for 7 s, the datagram dropped and counted");
}

}  // namespace

extern "C" int keel_main(void*) {
  // A channel whose peer has not started yet opens with CHANNEL_DOWN: the handle is set all the same.
  (void)keel_channel_open("tunnel_tx", &g_tx);
  (void)keel_channel_open("tunnel_rx", &g_rx);
  (void)keel_channel_open("tunnel_ctl", &g_ctl);
  if (g_tx < 0 || g_rx < 0 || g_ctl < 0) verdict(false, "the pipe's channels are missing");
  const char* mode = keel_config_str("mode", "echo");
  if (std::strcmp(mode, "unenrolled") == 0) run_unenrolled();
  wait_up();
  if (std::strcmp(mode, "restart") == 0) run_restart();
  run_echo();
  return 0;
}

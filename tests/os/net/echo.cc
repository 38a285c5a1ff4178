// UDP test component (tests/os/net, bench/net). The component has no network rights of its own
// beyond the manifest's grant; everything goes through libkeel's sockets and the net service.
// Config `mode`:
//   "echo"   (default) every datagram on `port` goes back to where it came from;
//   "sink"   datagrams on `port` are counted and dropped;
//   "source" a datagram on `port` (the trigger) is answered with `count` datagrams of `size` bytes.
// With `measure` = N > 0 (and the manifest's cycle_counter grant) it prints BENCH lines: the
// instructions the whole system retired (every component, the kernel: the PMU's INST_RETIRED
// counter) per datagram, over N datagrams after the first, the host keeping the system busy (no
// idle time between them):
// net.udp_echo.instructions_per_round_trip (echo), net.rx_udp.instructions_per_packet (sink: host
// -> component), net.tx_udp.instructions_per_packet (source: component -> host).
#include <string.h>

#include "keel/keel.hh"

namespace {

// Instructions retired: PMU event counter 0 (the kernel sets it to INST_RETIRED), 32 bits — a
// measurement spans less than 2^32 instructions. (The cycle counter would count the idle time
// QEMU -icount skips over between datagrams as well.)
uint32_t instructions() {
  uint64_t v;
  __asm__ volatile("isb; mrs %0, pmevcntr0_el0" : "=r"(v));
  return static_cast<uint32_t>(v);
}

uint8_t g_buf[KEEL_UDP_MAX_PAYLOAD];

// Instructions per datagram over n datagrams since i0. Only meaningful while the system is busy
// with them: under -icount (sleep=off) idle stretches jump the clock to the next timer, and
// whatever those timers do would be counted.
uint64_t per_datagram(uint32_t i0, uint64_t n) { return static_cast<uint32_t>(instructions() - i0) / (n ? n : 1); }

void send_all(const keel::UdpSocket& s, keel_ipv4_t to, uint16_t port, const void* data, size_t n) {
  keel::Result<void> r = s.send(to, port, data, n);
  // A full stream to the net service: wait for room rather than drop (it drains every pass).
  while (!r.ok() && r.error() == KEEL_NO_SPACE) {
    keel_yield();
    r = s.send(to, port, data, n);
  }
  static uint32_t errors = 0;
  if (!r.ok() && errors++ < 8) keel_logf("send: %s", keel_error_name(r.error()));
}

}  // namespace

extern "C" int keel_main(void*) {
  const auto port = static_cast<uint16_t>(keel_config_int("port", 7));
  const char* mode = keel_config_str("mode", "echo");
  const auto measure = static_cast<uint64_t>(keel_config_int("measure", 0));
  const bool sink = strcmp(mode, "sink") == 0, source = strcmp(mode, "source") == 0;
  if (!sink && !source && strcmp(mode, "echo") != 0) {
    keel_logf("config mode '%s' is not echo, sink or source", mode);
    return 1;
  }
  // The C++ API (keel/keel.hh); the C one underneath is the same calls.
  auto opened = keel::UdpSocket::open(port);
  if (!opened.ok()) {
    keel_logf("cannot open UDP port %u: %s", port, keel_error_name(opened.error()));
    return 1;
  }
  const keel::UdpSocket s = static_cast<keel::UdpSocket&&>(opened.value());
  keel_logf("ready on UDP port %u (%s)", s.port(), mode);
  uint64_t done = 0, errors = 0;
  uint32_t c0 = 0;
  for (;;) {
    auto got = s.receive(g_buf, sizeof g_buf);
    if (!got.ok()) {
      if (errors++ < 8) keel_logf("recv: %s", keel_error_name(got.error()));
      continue;
    }
    const size_t n = got.value().size;
    const keel_ipv4_t src = got.value().from;
    const uint16_t sport = got.value().port;
    if (source) {
      const auto count = static_cast<uint64_t>(keel_config_int("count", 1000));
      const auto size = static_cast<size_t>(keel_config_int("size", 1400));
      memset(g_buf, 0x5a, sizeof g_buf);
      const uint32_t i0 = instructions();
      for (uint64_t i = 0; i < count; ++i) {
        memcpy(g_buf, &i, sizeof i);
        send_all(s, src, sport, g_buf, size < sizeof g_buf ? size : sizeof g_buf);
      }
      if (measure)
        keel_logf("BENCH net.tx_udp.instructions_per_packet %lu instructions",
                  static_cast<unsigned long>(per_datagram(i0, count)));
      keel_logf("source: %lu datagrams of %lu bytes sent", static_cast<unsigned long>(count),
                static_cast<unsigned long>(size));
      continue;
    }
    if (!sink) send_all(s, src, sport, g_buf, n);
    ++done;
    if (measure != 0) {
      if (done == 1) c0 = instructions();
      if (done == measure + 1)
        keel_logf("BENCH %s %lu instructions",
                  sink ? "net.rx_udp.instructions_per_packet" : "net.udp_echo.instructions_per_round_trip",
                  static_cast<unsigned long>(per_datagram(c0, measure)));
    }
    if (done % 10000 == 0) keel_logf("%lu datagrams %s", static_cast<unsigned long>(done), sink ? "received" : "echoed");
  }
}

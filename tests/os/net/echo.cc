// UDP echo (tests/os/net): every datagram on its port goes back to where it came from. The
// component has no network rights of its own beyond the manifest's [component.network] grant;
// everything goes through libkeel's sockets and the net service.
#include "keel/keel.h"

extern "C" int keel_main(void*) {
  const auto port = static_cast<uint16_t>(keel_config_int("port", 7));
  keel_udp_t s = -1;
  keel_error_t st = keel_udp_open(port, &s);
  if (st != KEEL_OK) {
    keel_logf("cannot open UDP port %u: %s", port, keel_error_name(st));
    return 1;
  }
  keel_logf("ready on UDP port %u", keel_udp_port(s));
  static uint8_t buf[KEEL_UDP_MAX_PAYLOAD];
  uint64_t echoed = 0, errors = 0;
  for (;;) {
    size_t n = 0;
    keel_ipv4_t src = 0;
    uint16_t sport = 0;
    st = keel_udp_recv(s, buf, sizeof buf, &n, &src, &sport, KEEL_UDP_FOREVER);
    if (st != KEEL_OK) {
      if (errors++ < 8) keel_logf("recv: %s", keel_error_name(st));
      continue;
    }
    // A full stream to the net service: wait for room rather than drop (it drains every pass).
    while ((st = keel_udp_send(s, src, sport, buf, n)) == KEEL_NO_SPACE) keel_yield();
    if (st != KEEL_OK && errors++ < 8) keel_logf("send: %s", keel_error_name(st));
    if (++echoed % 10000 == 0) keel_logf("%lu datagrams echoed", static_cast<unsigned long>(echoed));
  }
}

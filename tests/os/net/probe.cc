// probe (tests/os/net, os.net_l2): a component granted "ports=9;remote=10.0.3.1/32:*" checks that
// its grant is enforced: a bind outside its ports is KEEL_DENIED; a send outside its remote rules
// is refused asynchronously (the next keel_udp_recv on the socket returns KEEL_DENIED naming the
// refused destination); a send inside them is not refused. Prints "PASS: ..." per check and
// "probe: PASS" at the end, or "FAIL: ..." lines.
#include "keel/keel.h"

namespace {

int g_failed = 0;

void check(bool ok, const char* what, keel_error_t got) {
  if (ok) keel_logf("PASS: %s", what);
  else {
    ++g_failed;
    keel_logf("FAIL: %s (got %s)", what, keel_error_name(got));
  }
}

// Sends to dst:port and returns what the next receive says within `ms` (KEEL_TIMEOUT: nothing).
keel_error_t send_and_listen(keel_udp_t s, keel_ipv4_t dst, uint16_t port, keel_ipv4_t* src, uint16_t* sport,
                             uint64_t ms) {
  static const char hello[] = "probe";
  keel_error_t st = keel_udp_send(s, dst, port, hello, sizeof hello);
  if (st != KEEL_OK) return st;
  static uint8_t buf[KEEL_UDP_MAX_PAYLOAD];
  size_t n = 0;
  return keel_udp_recv(s, buf, sizeof buf, &n, src, sport, ms);
}

}  // namespace

extern "C" int keel_main(void*) {
  keel_udp_t s = -1;
  keel_error_t st = keel_udp_open(10, &s);
  check(st == KEEL_DENIED, "bind of port 10 (outside ports=9): denied", st);
  st = keel_udp_open(7, &s);
  check(st == KEEL_DENIED, "bind of port 7 (the echo's): denied", st);
  st = keel_udp_open(9, &s);
  check(st == KEEL_OK, "bind of port 9 (granted)", st);
  if (st != KEEL_OK) return 1;

  keel_ipv4_t src = 0;
  uint16_t sport = 0;
  st = send_and_listen(s, KEEL_IPV4(10, 0, 3, 2), 9, &src, &sport, 3000);
  check(st == KEEL_DENIED && src == KEEL_IPV4(10, 0, 3, 2) && sport == 9,
        "send to 10.0.3.2:9 (outside remote=10.0.3.1/32): refused asynchronously, destination named", st);
  st = send_and_listen(s, KEEL_IPV4(8, 8, 8, 8), 53, &src, &sport, 3000);
  check(st == KEEL_DENIED && src == KEEL_IPV4(8, 8, 8, 8) && sport == 53,
        "send to 8.8.8.8:53 (off the subnet, through the gateway): refused", st);
  st = send_and_listen(s, KEEL_IPV4(255, 255, 255, 255), 9, &src, &sport, 3000);
  check(st == KEEL_DENIED, "send to the broadcast address: refused", st);
  st = send_and_listen(s, KEEL_IPV4(10, 0, 3, 1), 9, &src, &sport, 500);
  check(st == KEEL_TIMEOUT, "send to 10.0.3.1:9 (granted): not refused", st);
  if (g_failed == 0) keel_log("probe: PASS");
  (void)keel_udp_close(s);
  return 0;
}

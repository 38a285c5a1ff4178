// intruder (tests/os/net, os.net_l2): a component with the three channels to net (rpc and a stream
// each way) but no network grant. Every bind must be refused with KEEL_DENIED (the net service logs
// each refusal), and a datagram record written straight into its stream, naming a socket that is
// not its own (the echo's), must be refused too (an error record: KEEL_NOT_FOUND), never sent.
// Prints "PASS: ..." per check and "intruder: PASS" at the end, or "FAIL: ..." lines.
#include "keel/keel.h"
#include "keel/sys/net_socket.h"

namespace {

int g_failed = 0;

void check(bool ok, const char* what, keel_error_t got) {
  if (ok) keel_logf("PASS: %s", what);
  else {
    ++g_failed;
    keel_logf("FAIL: %s (got %s)", what, keel_error_name(got));
  }
}

}  // namespace

extern "C" int keel_main(void*) {
  keel_udp_t s = -1;
  keel_error_t st = keel_udp_open(9, &s);
  check(st == KEEL_DENIED && s == -1, "bind of port 9 without a grant: denied", st);
  st = keel_udp_open(0, &s);
  check(st == KEEL_DENIED && s == -1, "bind of an ephemeral port without a grant: denied", st);
  st = keel_udp_open(7, &s);
  check(st == KEEL_DENIED && s == -1, "bind of the echo's port 7: denied", st);

  // Forge sends: records for socket ids 0..3 (the echo's and the probe's among them).
  keel_channel_t out = -1, in = -1;
  if (keel_channel_open("out", &out) != KEEL_OK || keel_channel_open("in", &in) != KEEL_OK) {
    keel_log("FAIL: cannot open the streams to net");
    return 1;
  }
  static const char payload[] = "forged";
  for (uint32_t id = 0; id < 4; ++id) {
    const keel_net_record_t r{id, KEEL_IPV4(10, 0, 3, 1), 7, sizeof payload, 0};
    while ((st = keel_stream_send_record(out, &r, sizeof r, payload, sizeof payload)) == KEEL_NO_SPACE) keel_yield();
    check(st == KEEL_OK, "forged record queued", st);
  }
  uint32_t refused = 0;
  const uint64_t give_up = keel_now_ticks() + keel_ms_to_ticks(5000);
  while (refused < 4 && keel_now_ticks() < give_up) {
    keel_net_record_t r;
    size_t got = 0;
    st = keel_stream_read_record(in, &r, sizeof r, nullptr, 0, &got);
    if (st == KEEL_OK && got != 0) {
      if (r.error == KEEL_NOT_FOUND && r.len == 0) ++refused;
      else {
        ++g_failed;
        keel_logf("FAIL: unexpected record for socket %u (error %d, length %u)", r.socket, r.error, r.len);
      }
      continue;
    }
    (void)keel_sleep_ms(10);
  }
  check(refused == 4, "4 forged sends on sockets not its own: refused (not found)", KEEL_OK);
  if (g_failed == 0) keel_log("intruder: PASS");
  return 0;
}

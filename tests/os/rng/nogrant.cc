// os.rng's component without a channel to rng: keel_random must answer KEEL_DENIED every time,
// with one log line (libkeel's) however often it asks.
#include "../common/ostest.h"

extern "C" int keel_main(void*) {
  std::uint8_t buf[32] = {1};
  for (int i = 0; i < 1000; ++i) {
    const keel_error_t e = keel_random(buf, sizeof buf);
    ostest::expect(e == KEEL_DENIED, "nogrant: keel_random denied", e);
    for (std::uint8_t b : buf) ostest::expect(b == 0, "nogrant: the buffer is zeroed");
  }
  keel_log("1000 requests denied (KEEL_DENIED), one log line");
  return 0;
}

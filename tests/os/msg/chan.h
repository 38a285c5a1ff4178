// Helpers of the message server's system test components: raw KEEL_MSG_OPEN (the protocol of
// keel/sys/protocol.h, spoken directly so that the test checks the wire format), waiting, and a
// deliberate crash.
#pragma once

#include <cstdint>
#include <cstring>

#include "../common/ostest.h"
#include "keel/keel.h"
#include "keel/rt/rt.hh"
#include "keel/rt/syscall.h"

namespace chantest {

using ostest::crash;
using ostest::wait_ms;

struct Open {
  keel_word_t label, slot, kind, mr2;
};

// KEEL_MSG_OPEN: MR0 = length, MR1.. the name.
inline Open open(const char* name) {
  const std::size_t n = std::strlen(name);
  keel_set_mr(0, n);
  const std::size_t words = (n + 7) / 8;
  for (std::size_t w = 0; w < words; ++w) {
    keel_word_t v = 0;
    for (std::size_t b = 0; b < 8 && w * 8 + b < n; ++b) v |= keel_word_t{static_cast<unsigned char>(name[w * 8 + b])} << (8 * b);
    keel_set_mr(static_cast<unsigned>(1 + w), v);
  }
  const keel_word_t info = keel_call(KEEL_SLOT_MSG_EP, keel_msginfo_new(KEEL_MSG_OPEN, 0, 0, 1 + words));
  return Open{keel_msginfo_label(info), keel_get_mr(0), keel_get_mr(1), keel_get_mr(2)};
}

// Opens, retrying while the answer is KEEL_CHANNEL_DOWN (the peer is not serving yet).
inline Open open_retry(const char* name, std::uint64_t timeout_ms = 3000) {
  const std::uint64_t f = keel::rt::timer_frequency();
  const std::uint64_t end = keel::rt::timer_count() + timeout_ms * f / 1000;
  for (;;) {
    Open r = open(name);
    if (r.label != KEEL_CHANNEL_DOWN || keel::rt::timer_count() >= end) return r;
    wait_ms(5);
  }
}

// The info page's entry for channel `name` (the root server's view of the same end).
inline const keel_info_channel_t* info_channel(const char* name) {
  const keel_info_t* info = keel_info();
  const int i = keel_info_find_channel(info, name);
  return i < 0 ? nullptr : &keel_info_channels(info)[i];
}

// Operations of the calc server (labels of its rpc channel).
enum CalcOp : keel_word_t { kDouble = 1, kCrash = 2, kBits = 3, kStream = 4 };

}  // namespace chantest

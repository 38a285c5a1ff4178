// keel/wg/messages.h — WireGuard wire formats (all integers little-endian) and the first,
// allocation-free classification of an incoming datagram.
//
// The type is one byte followed by three reserved zero bytes; like the reference implementations
// we read the first four bytes as one little-endian word, so non-zero reserved bytes make the
// message "unknown type" and it is dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "keel/wg/crypto.h"

namespace keel::wg {

inline constexpr char kConstruction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
inline constexpr char kIdentifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
inline constexpr char kLabelMac1[] = "mac1----";
inline constexpr char kLabelCookie[] = "cookie--";

enum class MsgType : uint32_t { Initiation = 1, Response = 2, CookieReply = 3, Transport = 4 };

inline constexpr size_t kInitiationSize = 148;
inline constexpr size_t kResponseSize = 92;
inline constexpr size_t kCookieReplySize = 64;
inline constexpr size_t kTransportHeaderSize = 16;
inline constexpr size_t kTransportMinSize = kTransportHeaderSize + kTagLen;  // a keepalive
inline constexpr size_t kTimestampLen = 12;
// The largest datagram we accept: 64 KiB inner packet plus the transport overhead.
inline constexpr size_t kMaxDatagram = 65535 + kTransportMinSize;
// Bytes a caller must reserve around an inner packet to encrypt it: header, tag, padding.
inline constexpr size_t kSendOverhead = kTransportMinSize + 15;

// Offsets inside an initiation message.
namespace init_off {
inline constexpr size_t kSender = 4, kEphemeral = 8, kStatic = 40, kTimestamp = 88, kMac1 = 116, kMac2 = 132;
}
namespace resp_off {
inline constexpr size_t kSender = 4, kReceiver = 8, kEphemeral = 12, kEmpty = 44, kMac1 = 60, kMac2 = 76;
}
namespace cookie_off {
inline constexpr size_t kReceiver = 4, kNonce = 8, kCookie = 32;
}
namespace data_off {
inline constexpr size_t kReceiver = 4, kCounter = 8, kContent = 16;
}

inline uint32_t load32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline uint64_t load64(const uint8_t* p) { return uint64_t(load32(p)) | uint64_t(load32(p + 4)) << 32; }
inline void store32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
  p[2] = uint8_t(v >> 16);
  p[3] = uint8_t(v >> 24);
}
inline void store64(uint8_t* p, uint64_t v) {
  store32(p, uint32_t(v));
  store32(p + 4, uint32_t(v >> 32));
}

enum class Kind : uint8_t { Invalid, Initiation, Response, CookieReply, Transport };

// Size and type check only (no cryptography): what the datagram claims to be, or Invalid.
inline Kind classify(Bytes d) {
  if (d.size() < 4) return Kind::Invalid;
  switch (load32(d.data())) {
    case uint32_t(MsgType::Initiation): return d.size() == kInitiationSize ? Kind::Initiation : Kind::Invalid;
    case uint32_t(MsgType::Response): return d.size() == kResponseSize ? Kind::Response : Kind::Invalid;
    case uint32_t(MsgType::CookieReply): return d.size() == kCookieReplySize ? Kind::CookieReply : Kind::Invalid;
    case uint32_t(MsgType::Transport): return d.size() >= kTransportMinSize ? Kind::Transport : Kind::Invalid;
    default: return Kind::Invalid;
  }
}

// TAI64N label: 8 bytes big-endian (2^62 + 10 + seconds, the TAI offset the reference
// implementations use), 4 bytes big-endian nanoseconds.
struct Tai64n {
  uint8_t b[kTimestampLen] = {};
  static Tai64n from_unix(uint64_t unix_seconds, uint32_t nanos) {
    Tai64n t;
    uint64_t s = (uint64_t{1} << 62) + 10 + unix_seconds;
    for (int i = 0; i < 8; ++i) t.b[i] = uint8_t(s >> (56 - 8 * i));
    for (int i = 0; i < 4; ++i) t.b[8 + i] = uint8_t(nanos >> (24 - 8 * i));
    return t;
  }
  // As the reference implementations send it: nanoseconds rounded down to 2^24 ns (~16.8 ms) so
  // the timestamp does not leak precise timing. Real clocks use this; tests may use from_unix.
  static Tai64n from_unix_whitened(uint64_t unix_seconds, uint32_t nanos) {
    return from_unix(unix_seconds, nanos & ~uint32_t{0xffffff});
  }
  // Big-endian layout, so byte order is time order.
  bool after(const Tai64n& o) const { return std::memcmp(b, o.b, kTimestampLen) > 0; }
};

}  // namespace keel::wg

// keel/control/wire.h — the control protocol's vocabulary: byte spans, the one error enum (whose
// values are also the wire error codes of CLOSE, RESET_STREAM and AUTH_FAIL), QUIC-style variable
// length integers, and a bounds-checked reader and writer. Header-only, freestanding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "keel/result.h"

namespace keel::control {

using Bytes = std::span<const uint8_t>;
using MutBytes = std::span<uint8_t>;

inline constexpr uint64_t kMs = 1000000, kSec = 1000000000;

// Every failure the library reports. Values 1..63 are stable wire codes (docs/control-protocol.md,
// "Errors"); 0 is "no error" on the wire (a clean close).
enum class Error : uint8_t {
  None = 0,
  Truncated = 1,        // input ends inside a field
  BadVarint = 2,        // non-minimal variable-length integer
  BadHeader = 3,        // reserved header bits set, wrong length field, wrong session id
  VersionUnsupported = 4,
  UnknownFrame = 5,
  BadFrame = 6,         // a frame field out of range (empty STREAM without FIN, flags, ...)
  BadAck = 7,           // ACK ranges below zero or above what was sent, too many ranges
  StreamLimit = 8,      // peer opened a stream beyond MAX_STREAMS
  StreamState = 9,      // frame for a stream in the wrong state or direction
  FlowControl = 10,     // data beyond MAX_DATA / MAX_STREAM_DATA
  FinalSize = 11,       // FIN or RESET contradicting data already seen
  NoBuffer = 12,        // block pool exhausted: packet not acknowledged (local, not on the wire)
  IdleTimeout = 13,
  Closed = 14,          // session is closed (local) / peer closed (application code follows)
  BufferTooSmall = 15,  // caller's output buffer too small (local)
  Blocked = 16,         // no send credit / window full right now (local, retry later)
  NoStream = 17,        // no such stream (local) or stream table full
  StreamReset = 18,     // the peer reset the stream (read reports it once; code: reset_code())
  UnknownMessage = 32,  // message type not defined in the negotiated version
  BadMessage = 33,      // message body malformed (lengths, reserved bytes, trailing bytes)
  MessageTooLarge = 34,
  AuthFailed = 35,      // signature does not verify for the registered identity key
  AuthUnknownDevice = 36,
  AuthState = 37,       // auth message out of order, challenge for another session
  Internal = 63,
};
const char* to_string(Error e);

// QUIC variable-length integer (RFC 9000 §16): 2-bit length prefix, 1/2/4/8 bytes, 62 bits.
// Decoding refuses non-minimal encodings, so every value has exactly one encoding.
inline constexpr uint64_t kVarintMax = (uint64_t{1} << 62) - 1;
inline constexpr size_t varint_size(uint64_t v) { return v < 64 ? 1 : v < 16384 ? 2 : v < (1u << 30) ? 4 : 8; }

class Writer {
 public:
  explicit Writer(MutBytes out) : p_(out.data()), end_(out.data() + out.size()), begin_(out.data()) {}
  bool ok() const { return ok_; }
  size_t size() const { return size_t(p_ - begin_); }
  size_t room() const { return size_t(end_ - p_); }
  uint8_t* cursor() { return p_; }
  void u8(uint8_t v) {
    if (need(1)) *p_++ = v;
  }
  void u16(uint16_t v) {
    if (need(2)) {
      p_[0] = uint8_t(v >> 8);
      p_[1] = uint8_t(v);
      p_ += 2;
    }
  }
  void u32(uint32_t v) {
    if (need(4)) {
      for (int i = 0; i < 4; ++i) p_[i] = uint8_t(v >> (24 - 8 * i));
      p_ += 4;
    }
  }
  void u64(uint64_t v) {
    if (need(8)) {
      for (int i = 0; i < 8; ++i) p_[i] = uint8_t(v >> (56 - 8 * i));
      p_ += 8;
    }
  }
  void varint(uint64_t v) {
    const size_t n = varint_size(v);
    if (v > kVarintMax || !need(n)) {
      ok_ = false;
      return;
    }
    const uint8_t prefix = n == 1 ? 0 : n == 2 ? 0x40 : n == 4 ? 0x80 : 0xc0;
    for (size_t i = 0; i < n; ++i) p_[i] = uint8_t(v >> (8 * (n - 1 - i)));
    p_[0] |= prefix;
    p_ += n;
  }
  void bytes(Bytes b) {
    if (b.empty()) return;
    if (need(b.size())) {
      std::memcpy(p_, b.data(), b.size());
      p_ += b.size();
    }
  }
  // Skips n bytes the caller fills in later (through cursor() taken before the skip).
  uint8_t* skip(size_t n) {
    uint8_t* at = p_;
    if (need(n)) p_ += n;
    return at;
  }

 private:
  bool need(size_t n) {
    if (!ok_ || size_t(end_ - p_) < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  uint8_t* p_;
  uint8_t* end_;
  uint8_t* begin_;
  bool ok_ = true;
};

// Reader: every getter returns an Error on short or malformed input and never reads past the end.
class Reader {
 public:
  explicit Reader(Bytes in) : p_(in.data()), end_(in.data() + in.size()) {}
  size_t left() const { return size_t(end_ - p_); }
  bool empty() const { return p_ == end_; }
  const uint8_t* cursor() const { return p_; }
  Result<uint8_t, Error> u8() {
    if (left() < 1) return Err{Error::Truncated};
    return *p_++;
  }
  Result<uint16_t, Error> u16() {
    if (left() < 2) return Err{Error::Truncated};
    const uint16_t v = uint16_t(p_[0] << 8 | p_[1]);
    p_ += 2;
    return v;
  }
  Result<uint32_t, Error> u32() {
    if (left() < 4) return Err{Error::Truncated};
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = v << 8 | p_[i];
    p_ += 4;
    return v;
  }
  Result<uint64_t, Error> u64() {
    if (left() < 8) return Err{Error::Truncated};
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | p_[i];
    p_ += 8;
    return v;
  }
  Result<uint64_t, Error> varint() {
    if (left() < 1) return Err{Error::Truncated};
    const size_t n = size_t{1} << (p_[0] >> 6);
    if (left() < n) return Err{Error::Truncated};
    uint64_t v = p_[0] & 0x3f;
    for (size_t i = 1; i < n; ++i) v = v << 8 | p_[i];
    if (varint_size(v) != n) return Err{Error::BadVarint};
    p_ += n;
    return v;
  }
  Result<Bytes, Error> bytes(size_t n) {
    if (left() < n) return Err{Error::Truncated};
    Bytes b{p_, n};
    p_ += n;
    return b;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace keel::control

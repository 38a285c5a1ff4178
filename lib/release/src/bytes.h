// Little-endian reader / writer with bounds checks; internal to the release library.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "keel/release/error.h"

namespace keel::release::detail {

class Writer {
 public:
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { le(v, 2); }
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void bytes(const std::string& s) {
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void zeros(size_t n) { out_.insert(out_.end(), n, 0); }
  // Length-prefixed (u16) string; callers have validated the length.
  void str16(const std::string& s) {
    u16(static_cast<uint16_t>(s.size()));
    bytes(s);
  }
  void put_u64_at(size_t pos, uint64_t v) {
    for (int i = 0; i < 8; ++i) out_[pos + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  [[nodiscard]] size_t size() const { return out_.size(); }
  std::vector<uint8_t>& data() { return out_; }

 private:
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> out_;
};

// Reads fields in order; every read checks the remaining length and reports the offset of the
// field and its name ("what") on failure.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data, size_t base = 0) : data_(data), base_(base) {}

  [[nodiscard]] size_t offset() const { return base_ + pos_; }
  [[nodiscard]] size_t remaining() const { return data_.size() - pos_; }

  Result<uint64_t> uint(size_t n, const std::string& what) {
    if (remaining() < n) return truncated(n, what);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{data_[pos_ + i]} << (8 * i);
    pos_ += n;
    return v;
  }
  Result<std::span<const uint8_t>> bytes(uint64_t n, const std::string& what) {
    if (remaining() < n) return truncated(n, what);
    auto s = data_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  // A reserved field that must be zero.
  Result<void> zeros(size_t n, const std::string& what) {
    size_t at = offset();
    auto b = bytes(n, what);
    if (!b) return keel::Err{b.take_error()};
    for (uint8_t x : b.value())
      if (x != 0) return fail(ErrorCode::kBadField, what + " is reserved and must be zero", at);
    return keel::Ok{};
  }
  Result<std::string> str16(const std::string& what) {
    auto len = uint(2, what + " length");
    if (!len) return keel::Err{len.take_error()};
    auto b = bytes(len.value(), what);
    if (!b) return keel::Err{b.take_error()};
    return std::string(reinterpret_cast<const char*>(b.value().data()), b.value().size());
  }

 private:
  keel::Err<Error> truncated(uint64_t n, const std::string& what) const {
    return fail(ErrorCode::kTruncated,
                "file truncated: " + what + " needs " + std::to_string(n) + " byte(s), only " +
                    std::to_string(remaining()) + " remain",
                offset());
  }
  std::span<const uint8_t> data_;
  size_t base_ = 0;
  size_t pos_ = 0;
};

}  // namespace keel::release::detail

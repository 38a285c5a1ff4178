// The keystore's grant text and trust-key text (keel/keystore/grant_text.h).
#include "keel/keystore/grant_text.h"

#include <cstring>

namespace keel::keystore {

namespace {

struct OpName {
  Op op;
  std::string_view name;
};
constexpr OpName kOps[] = {{kOpDh, "dh"}, {kOpSign, "sign"}, {kOpPublic, "public"}, {kOpPartitionKey, "partition_key"}};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// ---- grants as text ----------------------------------------------------------------------------

const char* op_name(Op op) {
  for (const OpName& o : kOps)
    if (o.op == op) return o.name.data();
  return "?";
}

Result<std::uint32_t, ParseError> parse_ops(std::string_view text) {
  if (text.empty()) return Err{ParseError{"no operation (dh, sign, public, partition_key)", 0}};
  std::uint32_t ops = 0;
  std::size_t at = 0;
  for (;;) {
    const std::size_t comma = text.find(',', at);
    // (No substr: it may throw, and device code has no exceptions.)
    const std::string_view word(text.data() + at, (comma == std::string_view::npos ? text.size() : comma) - at);
    std::uint32_t op = 0;
    for (const OpName& o : kOps)
      if (word == o.name) op = o.op;
    if (op == 0) return Err{ParseError{"unknown operation (dh, sign, public, partition_key)", at}};
    if ((ops & op) != 0) return Err{ParseError{"operation listed twice", at}};
    ops |= op;
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  return ops;
}

std::size_t format_ops(std::uint32_t ops, char* out, std::size_t cap) {
  std::size_t n = 0;
  for (const OpName& o : kOps) {
    if ((ops & o.op) == 0) continue;
    const std::size_t need = o.name.size() + (n != 0 ? 1 : 0);
    if (n + need + 1 > cap) return 0;
    if (n != 0) out[n++] = ',';
    std::memcpy(out + n, o.name.data(), o.name.size());
    n += o.name.size();
  }
  if (cap == 0) return 0;
  out[n] = '\0';
  return n;
}

Result<void> parse_trust_key(std::string_view hex, std::uint8_t out[32]) {
  constexpr std::size_t kKeyBytes = 32;
  if (hex.size() != 2 * kKeyBytes) return Err{KEEL_INVALID_ARGUMENT};
  std::uint8_t key[kKeyBytes];
  for (std::size_t i = 0; i < kKeyBytes; ++i) {
    const int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Err{KEEL_INVALID_ARGUMENT};
    key[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  std::memcpy(out, key, kKeyBytes);
  return {};
}

}  // namespace keel::keystore

// keel/keystore/grant_text.h — what the manifest grants a client of the keystore, as one line of
// text: how the manifest compiler hands a component's [component.keys] section to the keystore (a
// config string of the keystore component, key "grant.<component>") and how the keystore reads it
// back; and the release trust keys' text ("trust.<name>" = 64 hex digits). One format, one parser,
// used on both sides (services/keystore/README.md). No libsodium, no heap: the host image tool of
// the aarch64 tree compiles this file too.
//
//   dh,sign,public,partition_key     op names separated by commas, each at most once, at least one
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "keel/error.h"

namespace keel::keystore {

enum Op : std::uint32_t {
  kOpDh = 1u << 0,
  kOpSign = 1u << 1,
  kOpPublic = 1u << 2,
  kOpPartitionKey = 1u << 3,
};
inline constexpr std::uint32_t kAllOps = kOpDh | kOpSign | kOpPublic | kOpPartitionKey;
// The component that may be granted partition_key (the store service).
inline constexpr std::string_view kStoreComponent = "store";

struct ParseError {
  const char* what;
  std::size_t offset;
};
Result<std::uint32_t, ParseError> parse_ops(std::string_view text);
// The ops in canonical order; returns the length written (0 if cap is too small).
std::size_t format_ops(std::uint32_t ops, char* out, std::size_t cap);
const char* op_name(Op op);

// A release trust key (an Ed25519 public key): 64 hex digits into out[32].
Result<void> parse_trust_key(std::string_view hex, std::uint8_t out[32]);

}  // namespace keel::keystore

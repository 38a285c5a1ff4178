// libFuzzer target: the release parser and verifier must reject any input cleanly (no crash,
// no out-of-bounds read, no huge allocation) and accept only what they can re-check.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "keel/release/release.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keel::release;
  static const PrivateKey key = [] {
    std::vector<uint8_t> seed(32, 1);  // the key that signed fuzz/corpus/signed.krel
    return PrivateKey::from_secret(KeyKind::kSigning, seed).value();
  }();
  std::span<const uint8_t> file(data, size);
  auto parsed = parse_release(file);
  auto verified = verify_release(file, {key.public_key()});
  if (verified.ok() && !parsed.ok()) __builtin_trap();  // verify implies parse
  if (parsed.ok()) {
    for (const auto& c : parsed.value().components) {
      auto bytes = component_bytes(file, c);
      if (bytes.size() != c.size || hash_bytes(c.hash_alg, bytes) != c.hash) __builtin_trap();
    }
    // Re-signing a parsed file must give a file that parses again.
    std::vector<uint8_t> seed(32, 2);
    auto other = PrivateKey::from_secret(KeyKind::kSigning, seed).value();
    auto resigned = add_signature(file, other);
    if (resigned.ok() && !parse_release(resigned.value()).ok()) __builtin_trap();
  }
  return 0;
}

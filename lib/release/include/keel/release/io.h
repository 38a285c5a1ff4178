// keel/release/io.h — the thin file-system layer over the pure release library (host only;
// the device has its own storage path). Key generation lives here too: it needs randomness.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "keel/release/error.h"
#include "keel/release/keys.h"

namespace keel::release {

// A generous default cap for release files read into memory (a release is ≤ 256 components).
inline constexpr uint64_t kMaxReleaseFileSize = uint64_t{4} << 30;

// Reads a whole regular file; refuses directories, devices, and files over max_size.
Result<std::vector<uint8_t>> read_file(const std::string& path, uint64_t max_size = kMaxReleaseFileSize);

// Writes via a temporary file in the same directory + rename, so a crash never leaves a half
// file under `path`. With overwrite = false, an existing file is an error (never replaced).
Result<void> write_file_atomic(const std::string& path, std::span<const uint8_t> data, unsigned mode = 0644,
                            bool overwrite = true);

// A fresh random key of the given kind (X25519 secrets are clamped as WireGuard does).
Result<PrivateKey> generate_key(KeyKind kind, std::string comment = {});

// Private key: written with mode 0600 (never replacing an existing file unless overwrite);
// public key: 0644.
Result<void> write_private_key_file(const std::string& path, const PrivateKey& key, bool overwrite = false);
Result<void> write_public_key_file(const std::string& path, const PublicKey& key, bool overwrite = false);

// Refuses a private key file that group or others can access (any of mode 077), with the
// chmod command that fixes it, and anything that is not a regular file.
Result<PrivateKey> read_private_key_file(const std::string& path);
Result<PublicKey> read_public_key_file(const std::string& path);

}  // namespace keel::release

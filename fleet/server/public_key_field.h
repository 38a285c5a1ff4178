// public_key_field.h — reading a public key from a request field (signing keys, device keys).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "http.h"

namespace keel::fleet {

// Decodes a public key given as a Keel key file, or as base64 / hex of 32 bytes. Refuses anything
// that looks like a private key with a clear message (Fleet never takes one). `kind` is the key
// kind a Keel key file must have ("signing", "tunnel", "device").
std::array<uint8_t, 32> parse_public_key_field(const json& body, const std::string& field, const char* kind);

// The one answer for a well-formed key that cannot be used (all-zero, or a device key another
// organisation holds): 400 bad_key naming the field, the same words whatever the reason.
ApiError unusable_key(const std::string& field);

}  // namespace keel::fleet

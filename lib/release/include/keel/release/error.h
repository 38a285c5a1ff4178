// keel/release/error.h — the one error type of the release library.
//
// Every failure says what went wrong and, for a release file, at which byte offset, so a
// corrupt upload or a bad key file is diagnosable from the message alone.
#pragma once

#include <cstdint>
#include <string>

#include "keel/result.h"

namespace keel::release {

enum class ErrorCode : uint8_t {
  kTruncated = 1,       // a field runs past the end of the input
  kBadMagic,            // not a Keel release / signature block
  kUnsupportedVersion,  // a format version this library does not know
  kBadField,            // a field has a value outside its allowed set
  kDuplicate,           // two entries with the same name / key id
  kUnsorted,            // entries not in canonical (strictly ascending) order
  kTooLarge,            // a length over its limit
  kTrailingData,        // bytes after the last structure
  kHashMismatch,        // a component's bytes do not match its recorded hash
  kUnsigned,            // no signature at all
  kUntrusted,           // signatures exist, none by a trusted key
  kBadSignature,        // a signature by a trusted key does not verify
  kInvalidArgument,     // a builder / API input is not acceptable
  kKeyFormat,           // a key file does not follow the documented format
  kKeyKind,             // a key of the wrong kind (e.g. a tunnel key used to sign)
  kKeyPermissions,      // a private key file readable by others
  kIo,                  // file-system error (thin I/O layer only)
  kCrypto,              // the crypto library refused (should not happen)
};

// Stable lower-case name of a code, e.g. "truncated", for logs and API error codes.
const char* error_code_name(ErrorCode code);

inline constexpr uint64_t kNoOffset = ~uint64_t{0};

struct Error {
  ErrorCode code;
  std::string message;          // what, in words
  uint64_t offset = kNoOffset;  // byte offset in the release file, when it applies

  // "message (at offset N)" — the text shown to a person.
  [[nodiscard]] std::string describe() const;
};

template <class T>
using Result = keel::Result<T, Error>;

inline keel::Err<Error> fail(ErrorCode code, std::string message, uint64_t offset = kNoOffset) {
  return keel::Err<Error>{Error{code, std::move(message), offset}};
}

}  // namespace keel::release

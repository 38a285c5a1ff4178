// The one error type of the `keel` command line and its Fleet client, and its Result<T>
// (keel::Result from lib/base). A command turns an Error into `keel: error: <describe()>`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "keel/result.h"

namespace keel::studio {

struct Error {
  int http_status = 0;  // 0: not an HTTP answer (bad input, config, connection, URL, protocol)
  std::string code{};   // the Fleet API's error code, e.g. "not_found"
  std::string message{};
  std::string field{};
  // For a 403 answer to a request made with an API token: the request's method and what
  // GET /auth/me says about the caller (empty if it could not be asked), so the CLI can tell a
  // token's scope from a user's role (the API answers `forbidden` for both).
  std::string method{};
  std::string token_scope{};
  std::string role{};
  // An answer listing several errors (a refused device import, 400 import_invalid): each with
  // its CSV line (or JSON index, line 0), and how many there were in all (the list is capped).
  struct Detail {
    int64_t line = 0;
    int64_t index = -1;
    std::string field{};
    std::string code{};
    std::string message{};
    [[nodiscard]] std::string where() const;  // "line 3", "devices[2]", or "file"
  };
  std::vector<Detail> details{};
  int64_t detail_count = 0;
  // "message", or "Fleet answered 409 conflict: message (field 'x')" for an API answer; then one
  // indented line per detail.
  [[nodiscard]] std::string describe() const;
};

template <class T>
using Result = keel::Result<T, Error>;

inline keel::Err<Error> fail(std::string message) { return keel::Err{Error{.message = std::move(message)}}; }

}  // namespace keel::studio

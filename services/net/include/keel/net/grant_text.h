// keel/net/grant_text.h — a network Grant as one line of text: how the manifest compiler hands a
// component's [component.network] section to the net service (a config string of the net
// component, key "grant.<component>"), and how the net service reads it back. One format, one
// parser, used on both sides:
//
//   ports=7,7000-7010;ephemeral=49152-49407;remote=10.0.2.2/32:*,0.0.0.0/0:53
//
// Every part is optional and appears at most once; `*` is ports 1-65535. Freestanding, no heap.
#pragma once

#include <cstddef>
#include <string_view>

#include "keel/net/policy.h"

namespace keel::net {

struct GrantTextError {
  std::size_t offset = 0;    // where in the text
  const char* what = "";     // what was wrong (static string)
};

// Parses `text` into *out (its component and name are left as they are).
Result<void, GrantTextError> parse_grant(std::string_view text, Grant* out);
// Writes g as text (NUL-terminated, at most cap bytes); returns the length, 0 if it did not fit.
std::size_t format_grant(const Grant& g, char* buf, std::size_t cap);

}  // namespace keel::net

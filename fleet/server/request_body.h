// request_body.h — what a request body must be before any handler sees it: its media type
// (Content-Type) and, for JSON, a parse that refuses what nlohmann::json would silently accept
// (duplicate keys: the last one would win). Used by App::handle for every route.
#pragma once

#include <string>
#include <string_view>

#include "http.h"

namespace keel::fleet {

// Whether a Content-Type header names `type` ("application/json"), optionally followed by
// parameters ("; charset=utf-8"). Case-insensitive; "application/jsonx" or "" is not it.
bool media_type_is(std::string_view content_type, std::string_view type);

// Parses a JSON body; a key that appears twice in one object is refused with
// 400 duplicate_key (field: the key's dotted path). Throws json::parse_error for malformed JSON.
json parse_json_body(const std::string& text);

// The deepest nesting of arrays and objects a request body may have; no route needs more than a
// handful (a trace event's data, an overlay's config). Deeper bodies would let one request drive
// recursive code (nlohmann::json's destructor and dump, our validators) into a stack overflow.
inline constexpr size_t kMaxJsonDepth = 64;

// The byte offset where `text` first nests deeper than max (strings skipped, escapes honoured),
// or npos. O(n), no recursion; malformed JSON is left to the parser.
size_t json_too_deep(std::string_view text, size_t max);

// A JSON request body as App::handle reads it: depth first (400 json_too_deep), then
// parse_json_body (400 duplicate_key, 400 malformed_json). Throws ApiError.
json parse_json_request(const std::string& text);

// Whether `s` is UTF-8 without NUL (what a text column of PostgreSQL accepts).
bool valid_utf8(std::string_view s);

}  // namespace keel::fleet

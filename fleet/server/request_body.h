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

}  // namespace keel::fleet

// pagination.h — the API side of keyset pagination (store/page.h): ?limit and ?cursor in, and
// {"items": [...], "next_cursor": "…" | null} out, the same for every list endpoint.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "../store/page.h"
#include "http.h"

namespace keel::fleet {

struct Ctx;

// ?limit (1..200, default 50) and ?cursor (one this server issued); 400 invalid_request otherwise.
PageRequest page_request(const std::map<std::string, std::string>& query);
PageRequest page_request(const Ctx& c);

template <class R, class ToJson>
json page_json(const Page<R>& page, ToJson to_json) {
  json items = json::array();
  for (const auto& r : page.items) items.push_back(to_json(r));
  json next = page.next_cursor ? json(cursor_text(*page.next_cursor)) : json(nullptr);
  return {{"items", std::move(items)}, {"next_cursor", std::move(next)}};
}

}  // namespace keel::fleet

#include "request_body.h"

#include <set>
#include <vector>

namespace keel::fleet {

bool media_type_is(std::string_view ct, std::string_view type) {
  const size_t semi = ct.find(';');
  std::string_view mt = ct.substr(0, semi);
  while (!mt.empty() && (mt.front() == ' ' || mt.front() == '\t')) mt.remove_prefix(1);
  while (!mt.empty() && (mt.back() == ' ' || mt.back() == '\t')) mt.remove_suffix(1);
  if (mt.size() != type.size()) return false;
  for (size_t i = 0; i < mt.size(); ++i) {
    char a = mt[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (a != type[i]) return false;
  }
  return true;
}

json parse_json_body(const std::string& text) {
  // One frame per open object or array (the body's depth is already bounded, json_too_deep);
  // an object's frame holds the keys seen so far and the key that led into it, for the path.
  struct Frame {
    bool object = false;
    std::string key;  // the key (or [index]) of this value in its parent
    std::set<std::string> keys;
    size_t index = 0;  // arrays: the next element's index
  };
  std::vector<Frame> stack;
  std::string pending_key;  // the key of the value about to be parsed
  auto path = [&](const std::string& last) {
    std::string p;
    for (size_t k = 1; k < stack.size(); ++k) {
      const bool index = !stack[k - 1].object;
      p += (p.empty() || index ? "" : ".") + stack[k].key;
    }
    if (!last.empty()) p += (p.empty() ? "" : ".") + last;
    return p;
  };
  auto child_key = [&]() -> std::string {
    if (stack.empty()) return {};
    if (stack.back().object) return pending_key;
    return "[" + std::to_string(stack.back().index++) + "]";
  };
  json::parser_callback_t cb = [&](int, json::parse_event_t ev, json& parsed) {
    switch (ev) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start: {
        Frame f;
        f.object = ev == json::parse_event_t::object_start;
        f.key = child_key();
        stack.push_back(std::move(f));
        break;
      }
      case json::parse_event_t::key: {
        pending_key = parsed.get<std::string>();
        if (!stack.back().keys.insert(pending_key).second)
          throw ApiError(400, "duplicate_key",
                         "the JSON body has the key '" + pending_key + "' more than once in one object", path(pending_key));
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        stack.pop_back();
        break;
      case json::parse_event_t::value:
        if (!stack.empty() && !stack.back().object) ++stack.back().index;
        break;
    }
    return true;
  };
  return json::parse(text, cb);
}

}  // namespace keel::fleet

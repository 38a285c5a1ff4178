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

size_t json_too_deep(std::string_view text, size_t max) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::string_view::npos;
}

json parse_json_request(const std::string& text) {
  if (const size_t at = json_too_deep(text, kMaxJsonDepth); at != std::string::npos)
    throw ApiError(400, "json_too_deep",
                   "the JSON body is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels (at byte " +
                       std::to_string(at) + ")");
  try {
    return parse_json_body(text);
  } catch (const json::parse_error& e) {
    throw ApiError(400, "malformed_json", "the body is not valid JSON (UTF-8) near byte " + std::to_string(e.byte));
  }
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
    if (c == 0 || n == 9 || (n > 0 && i + n >= s.size())) return false;  // NUL, bad lead byte, cut short
    uint32_t cp = n == 0 ? c : c & (0x3f >> n);
    for (size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b >> 6) != 2) return false;
      cp = cp << 6 | (b & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

}  // namespace keel::fleet

#include "pagination.h"

#include "app.h"

namespace keel::fleet {

PageRequest page_request(const std::map<std::string, std::string>& query) {
  PageRequest p;
  if (auto it = query.find("limit"); it != query.end()) {
    const std::string& l = it->second;
    if (l.empty() || l.size() > 4 || l.find_first_not_of("0123456789") != std::string::npos)
      throw bad_request("query parameter 'limit' must be an integer from 1 to 200", "limit");
    p.limit = std::stoll(l);
    if (p.limit < 1 || p.limit > kMaxPageLimit)
      throw bad_request("query parameter 'limit' must be from 1 to 200", "limit");
  }
  if (auto it = query.find("cursor"); it != query.end()) {
    p.cursor = parse_cursor(it->second);
    if (!p.cursor) throw bad_request("query parameter 'cursor' is not a cursor this server issued", "cursor");
  }
  return p;
}

PageRequest page_request(const Ctx& c) { return page_request(c.req.query); }

}  // namespace keel::fleet

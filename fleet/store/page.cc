#include "page.h"

namespace keel::fleet {

std::string cursor_text(int64_t key) { return std::to_string(key); }

std::optional<int64_t> parse_cursor(std::string_view text) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  return std::stoll(std::string(text));
}

PageQuery::PageQuery(std::string select_from, std::string key, Order order, const PageRequest& page)
    : select_from_(std::move(select_from)), key_(std::move(key)), order_(order), limit_(page.limit) {
  params_.emplace_back(page.cursor.value_or(order == Order::ascending ? 0 : INT64_MAX));
}

PageQuery& PageQuery::where(std::string_view column, Value v) {
  params_.push_back(std::move(v));
  where_ += " AND ";
  where_ += column;
  where_ += " = $" + std::to_string(params_.size());
  return *this;
}

PageQuery& PageQuery::where_contains(std::string_view column, std::string_view text) {
  std::string pattern = "%";
  for (char ch : text) {
    if (ch == '%' || ch == '_' || ch == '\\') pattern.push_back('\\');
    pattern.push_back(ch);
  }
  pattern.push_back('%');
  params_.emplace_back(std::move(pattern));
  where_ += " AND lower(";
  where_ += column;
  where_ += ") LIKE lower(CAST($" + std::to_string(params_.size()) + " AS TEXT)) ESCAPE '\\'";
  return *this;
}

std::string PageQuery::sql() const {
  bool asc = order_ == Order::ascending;
  return select_from_ + " WHERE " + key_ + (asc ? " > $1" : " < $1") + where_ + " ORDER BY " + key_ +
         (asc ? "" : " DESC") + " LIMIT " + std::to_string(limit_ + 1);
}

}  // namespace keel::fleet

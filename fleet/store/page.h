// page.h — keyset pagination, the one way every Fleet list is paged.
//
// A page is `limit` rows ordered by an integer key (an id), starting after the cursor: the key of
// the last row of the previous page. The cursor handed to clients is that key in decimal
// (cursor_text / parse_cursor); clients treat it as opaque. One extra row is fetched to know
// whether another page follows, so a page costs one index range scan whatever the table's size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db.h"
#include "row.h"

namespace keel::fleet {

inline constexpr int64_t kDefaultPageLimit = 50;
inline constexpr int64_t kMaxPageLimit = 200;

struct PageRequest {
  int64_t limit = kDefaultPageLimit;
  std::optional<int64_t> cursor{};  // key of the previous page's last row; none: the first page
};

template <class R>
struct Page {
  std::vector<R> items{};
  std::optional<int64_t> next_cursor{};  // set when more rows follow
};

// The cursor a page hands out, and its reading back: nullopt unless `text` is one this server
// issued (1-18 decimal digits).
std::string cursor_text(int64_t key);
std::optional<int64_t> parse_cursor(std::string_view text);

enum class Order { ascending, descending };

// SELECT <select_from> WHERE <key> > $1 [AND <filter> = $n]… ORDER BY <key> LIMIT <limit + 1>
// (descending: key < $1, newest first). `select_from` is "SELECT … FROM … [JOIN …]".
class PageQuery {
 public:
  PageQuery(std::string select_from, std::string key, Order order, const PageRequest& page);
  // AND <column> = $n
  PageQuery& where(std::string_view column, Value v);
  // AND lower(<column>) LIKE lower($n) ESCAPE '\': `text` anywhere in the column, letters of either
  // case (each database folds both sides the same way: SQLite ASCII letters, PostgreSQL its
  // collation's). `%`, `_` and `\` in `text` match themselves.
  PageQuery& where_contains(std::string_view column, std::string_view text);
  std::string sql() const;
  const std::vector<Value>& params() const { return params_; }

  // Runs the query and keeps `limit` rows of type R; `key` gives a row's key for the next cursor.
  template <class R, class Key>
  Page<R> fetch(Db& db, Key key) const {
    Page<R> p;
    p.items = from_rows<R>(db.query(sql(), params_));
    if (static_cast<int64_t>(p.items.size()) > limit_) {
      p.items.resize(static_cast<size_t>(limit_));
      p.next_cursor = key(p.items.back());
    }
    return p;
  }

 private:
  std::string select_from_;
  std::string key_;
  Order order_;
  int64_t limit_;
  std::string where_;
  std::vector<Value> params_;
};

}  // namespace keel::fleet

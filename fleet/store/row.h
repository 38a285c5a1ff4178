// row.h — typed rows. A row type declares its columns once, next to its fields:
//
//   struct ProjectRow {
//     int64_t id = 0;
//     std::string name;
//     static constexpr auto columns() {
//       return std::tuple{column("id", &ProjectRow::id), column("name", &ProjectRow::name)};
//     }
//   };
//
// select_list<ProjectRow>() writes the SELECT list from that declaration ("id, name", or
// "p.id, p.name" with an alias), and from_row<ProjectRow>() reads a result row of that list into
// the fields, column k into the k-th declared field, so names, order and types cannot drift apart.
// A column may be an SQL expression (a count, a subquery) instead of a stored column.
// Field types: int64_t, std::string, std::optional<int64_t>, std::optional<std::string>.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "db.h"

namespace keel::fleet {

template <class R, class M>
struct Column {
  const char* name;        // the column, as the row's field is known in the API
  M R::*field;
  const char* expr = nullptr;  // SQL expression selected instead of `name`, when not a plain column
};

template <class R, class M>
constexpr Column<R, M> column(const char* name, M R::*field, const char* expr = nullptr) {
  return {name, field, expr};
}

namespace row_detail {

// A NULL where the field type has no room for it is a schema/query mismatch, reported as Row::s does.
[[noreturn]] void unexpected_null(size_t index);

inline void read(std::optional<std::string>& col, size_t k, std::string& out) {
  if (!col) unexpected_null(k);
  out = std::move(*col);
}
inline void read(std::optional<std::string>& col, size_t, std::optional<std::string>& out) { out = std::move(col); }
inline void read(std::optional<std::string>& col, size_t k, int64_t& out) {
  if (!col) unexpected_null(k);
  out = std::stoll(*col);
}
inline void read(std::optional<std::string>& col, size_t, std::optional<int64_t>& out) {
  if (col) out = std::stoll(*col);
  else out.reset();
}

}  // namespace row_detail

// "id, name, …" (alias "v." gives "v.id, v.name, …"; expression columns are written as they are).
template <class R>
std::string select_list(std::string_view alias = {}) {
  std::string out;
  auto add = [&](const char* name, const char* expr) {
    if (!out.empty()) out += ", ";
    if (expr) {
      out += expr;
    } else {
      out += alias;
      out += name;
    }
  };
  std::apply([&](const auto&... col) { (add(col.name, col.expr), ...); }, R::columns());
  return out;
}

// Number of declared columns.
template <class R>
constexpr size_t column_count() {
  return std::tuple_size_v<decltype(R::columns())>;
}

// Reads a row selected with select_list<R>() (consumed: its strings move into the fields).
template <class R>
R from_row(Row&& row) {
  if (row.cols.size() != column_count<R>())
    throw DbError(DbError::Kind::other, "row has " + std::to_string(row.cols.size()) + " columns, its type declares " +
                                            std::to_string(column_count<R>()));
  R r{};
  size_t k = 0;
  std::apply([&](const auto&... col) { ((row_detail::read(row.cols[k], k, r.*(col.field)), ++k), ...); },
             R::columns());
  return r;
}

template <class R>
std::optional<R> from_row(std::optional<Row>&& row) {
  if (!row) return std::nullopt;
  return from_row<R>(std::move(*row));
}

template <class R>
std::vector<R> from_rows(Rows&& rows) {
  std::vector<R> out;
  out.reserve(rows.size());
  for (auto& row : rows) out.push_back(from_row<R>(std::move(row)));
  return out;
}

}  // namespace keel::fleet

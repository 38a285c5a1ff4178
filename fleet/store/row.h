// row.h — typed rows. A row type declares each field once, in an X-macro list of
// FIELD(type, name) entries (FIELD(type, name, "SQL expression") for a column that is not a plain
// one: a count, a subquery, an aliased column); KEEL_ROW makes both the members and columns():
//
//   #define KEEL_FLEET_PROJECT_ROW_FIELDS(FIELD) FIELD(int64_t, id) FIELD(std::string, name)
//   struct ProjectRow {
//     KEEL_ROW(ProjectRow, KEEL_FLEET_PROJECT_ROW_FIELDS)
//   };
//
// (one FIELD a line in the real headers; a list may include another, as SessionUser and
// TokenUser include KEEL_FLEET_AUTH_USER_FIELDS).
//
// select_list<ProjectRow>() writes the SELECT list from that declaration ("id, name", or
// "p.id, p.name" with an alias), and from_row<ProjectRow>() reads a result row of that list into
// the fields, column k into the k-th declared field, so names, order and types cannot drift apart.
// Field types: int64_t, std::string, std::optional<int64_t>, std::optional<std::string>; each
// member starts value-initialised (0, empty, none).
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

// The members and columns() of a row whose fields the X-macro list FIELDS declares (see above).
#define KEEL_ROW(Row, FIELDS)                              \
  FIELDS(KEEL_ROW_MEMBER)                                  \
  static constexpr auto columns() {                        \
    using Self = Row;                                      \
    return std::tuple{FIELDS(KEEL_ROW_COLUMN)};            \
  }
#define KEEL_ROW_MEMBER(type, name, ...) type name{};
#define KEEL_ROW_COLUMN(type, name, ...) ::keel::fleet::column(#name, &Self::name __VA_OPT__(, ) __VA_ARGS__),

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

// ---- one-table helpers -------------------------------------------------------------------------
// A row type that is one table's row names it: `static constexpr const char* table = "projects";`
// (and, when its column expressions use an alias, `static constexpr const char* alias = "d";`).
// The usual by-id statements are then written here once instead of in every store file.

namespace keel::fleet {

namespace row_detail {

template <class R>
std::string from_clause() {
  std::string out = R::table;
  if constexpr (requires { R::alias; }) {
    out += ' ';
    out += R::alias;
  }
  return out;
}

// The SQL for the row's "id" column (its expression when it has one, e.g. "d.id").
template <class R>
std::string id_expr() {
  std::string out = "id";
  std::apply([&](const auto&... col) { ((std::string_view(col.name) == "id" && col.expr ? (out = col.expr) : out), ...); },
             R::columns());
  return out;
}

// Whether a column is stored in the row's table: no expression, or only the table's alias in front
// of its name ("d.description" in a row selected FROM deployments d).
template <class R, class Col>
bool stored(const Col& col) {
  if (!col.expr) return true;
  if constexpr (requires { R::alias; }) {
    const std::string plain = std::string(R::alias) + "." + col.name;
    return plain == col.expr;
  }
  return false;
}

// Throws unless `name` is a stored (non-expression) column the row declares.
template <class R>
void check_column(std::string_view name) {
  bool found = false;
  std::apply([&](const auto&... col) { ((found = found || (stored<R>(col) && std::string_view(col.name) == name)), ...); },
             R::columns());
  if (!found)
    throw DbError(DbError::Kind::other, std::string(R::table) + " declares no column " + std::string(name));
}

}  // namespace row_detail

// "SELECT <the row's columns> FROM <its table>" (built once per row type).
template <class R>
const std::string& select_from() {
  static const std::string s = "SELECT " + select_list<R>() + " FROM " + row_detail::from_clause<R>();
  return s;
}

template <class R>
std::optional<R> find_by_id(Db& db, int64_t id) {
  static const std::string sql = select_from<R>() + " WHERE " + row_detail::id_expr<R>() + " = $1";
  return from_row<R>(db.one(sql, {id}));
}

// An integer column (say a parent's id) of the table's row with that id; std::nullopt when there is no such row.
template <class R>
std::optional<int64_t> id_column_of(Db& db, int64_t id, std::string_view column) {
  auto r = db.one("SELECT " + std::string(column) + " FROM " + R::table + " WHERE id = $1", {id});
  if (!r) return std::nullopt;
  return r->i(0);
}

// UPDATE <table> SET <column> = value WHERE id = $; the column must be one the row declares.
template <class R>
void set_column(Db& db, int64_t id, std::string_view column, Value value) {
  row_detail::check_column<R>(column);
  db.query("UPDATE " + std::string(R::table) + " SET " + std::string(column) + " = $1 WHERE id = $2",
           {std::move(value), id});
}

// A change of a row's name and description (projects, deployments); none: left as it is.
struct NameDescription {
  std::optional<std::string> name{};
  std::optional<std::string> description{};
};

template <class R>
void set_name_description(Db& db, int64_t id, const NameDescription& change) {
  if (change.name) set_column<R>(db, id, "name", *change.name);
  if (change.description) set_column<R>(db, id, "description", *change.description);
}

template <class R>
void delete_by_id(Db& db, int64_t id) {
  db.query("DELETE FROM " + std::string(R::table) + " WHERE id = $1", {id});
}

// Whether `table` has a row whose `column` equals `value`.
inline bool exists_where(Db& db, std::string_view table, std::string_view column, Value value) {
  return db.one("SELECT 1 FROM " + std::string(table) + " WHERE " + std::string(column) + " = $1 LIMIT 1", {std::move(value)})
      .has_value();
}

}  // namespace keel::fleet

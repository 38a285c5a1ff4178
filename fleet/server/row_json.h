// row_json.h — the API object of a typed row (store/row.h) that the API shows as it is stored:
// each declared column under its name, a NULL as null. Rows whose API object differs (renamed,
// computed or parsed fields: devices, releases, rollouts, audit entries…) keep a builder of their own.
#pragma once

#include <optional>
#include <string>
#include <tuple>

#include "../store/row.h"
#include "http.h"

namespace keel::fleet {

namespace row_json_detail {
inline json value(int64_t v) { return v; }
inline json value(const std::string& v) { return v; }
template <class T>
json value(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}
}  // namespace row_json_detail

template <class R>
json row_json(const R& r) {
  json j = json::object();
  std::apply([&](const auto&... col) { ((j[col.name] = row_json_detail::value(r.*(col.field))), ...); }, R::columns());
  return j;
}

}  // namespace keel::fleet

#include "router.h"

#include <algorithm>

namespace keel::fleet {

const char* method_name(Method m) {
  switch (m) {
    case Method::GET: return "GET";
    case Method::POST: return "POST";
    case Method::PUT: return "PUT";
    case Method::PATCH: return "PATCH";
    case Method::DELETE_: return "DELETE";
    default: return "OTHER";
  }
}

const char* access_name(Access a) {
  switch (a) {
    case Access::public_: return "public";
    case Access::user: return "authenticated";
    case Access::admin: return "administrator";
    case Access::org_read: return "organisation member (read)";
    case Access::org_write: return "organisation owner";
    case Access::device: return "device report (organisation owner's session or write token until the device link exists)";
  }
  return "?";
}

Response error_response(int status, const std::string& code, const std::string& message, const std::string& field) {
  json e = {{"code", code}, {"message", message}, {"field", field.empty() ? json(nullptr) : json(field)}};
  return Response::json_body({{"error", e}}, status);
}

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  out.reserve(in.size());
  auto hexval = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int h = hexval(in[i + 1]);
      int l = hexval(in[i + 2]);
      if (h < 0 || l < 0) return false;
      char d = static_cast<char>(h * 16 + l);
      if (d == '\0') return false;
      out.push_back(d);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

namespace {
std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < p.size()) {
    if (p[i] == '/') {
      ++i;
      continue;
    }
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    out.push_back(p.substr(i, j - i));
    i = j;
  }
  return out;
}
bool is_id(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}
// JSON integers above INT64_MAX parse as unsigned; Fleet's integers are int64 (SQL BIGINT).
std::string out_of_range(const std::string& field) {
  return "field '" + field + "' is out of range (integers are 64-bit: -9223372036854775808 to 9223372036854775807)";
}
bool is_param(const std::string& seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }

bool seg_match(const std::vector<std::string>& tmpl, const std::vector<std::string>& segs,
               std::map<std::string, std::string>* params) {
  if (tmpl.size() != segs.size()) return false;
  for (size_t k = 0; k < tmpl.size(); ++k) {
    if (is_param(tmpl[k])) {
      std::string name = tmpl[k].substr(1, tmpl[k].size() - 2);
      bool id = name.size() > 3 && name.compare(name.size() - 3, 3, "_id") == 0;
      if (id ? !is_id(segs[k]) : segs[k].empty()) return false;
      if (params) (*params)[name] = segs[k];
    } else if (tmpl[k] != segs[k]) {
      return false;
    }
  }
  return true;
}

const char* type_name(FieldType t) {
  switch (t) {
    case FieldType::string: return "string";
    case FieldType::integer: return "integer";
    case FieldType::boolean: return "boolean";
    case FieldType::object: return "object";
    case FieldType::array_string: return "array of strings";
    case FieldType::array_integer: return "array of integers";
    case FieldType::array_object: return "array of objects";
  }
  return "?";
}

json schema_of(FieldType t) {
  switch (t) {
    case FieldType::string: return {{"type", "string"}};
    case FieldType::integer: return {{"type", "integer"}, {"format", "int64"}};
    case FieldType::boolean: return {{"type", "boolean"}};
    case FieldType::object: return {{"type", "object"}};
    case FieldType::array_string: return {{"type", "array"}, {"items", {{"type", "string"}}}};
    case FieldType::array_integer: return {{"type", "array"}, {"items", {{"type", "integer"}}}};
    case FieldType::array_object: return {{"type", "array"}, {"items", {{"type", "object"}}}};
  }
  return {};
}
}  // namespace

void Router::add(Route r) { routes_.push_back(std::move(r)); }

Match Router::match(Method m, const std::string& path) const {
  Match out;
  auto segs = split_path(path);
  for (const auto& r : routes_) {
    std::map<std::string, std::string> params;
    if (!seg_match(split_path(r.path), segs, &params)) continue;
    if (r.method == m) {
      out.route = &r;
      out.params = std::move(params);
      out.allowed.clear();
      return out;
    }
    out.allowed.push_back(method_name(r.method));
  }
  return out;
}

void Router::validate_body(const Route& r, const json& body) { validate_fields(r.body, body); }

void Router::validate_fields(const std::vector<Field>& fields, const json& body) {
  if (!body.is_object()) throw bad_request("the request body must be a JSON object");
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool known = std::any_of(fields.begin(), fields.end(), [&](const Field& f) { return f.name == it.key(); });
    if (!known) {
      const std::string& k = it.key();
      if (k.find("private") != std::string::npos || k.find("secret") != std::string::npos)
        throw ApiError(400, "private_key_rejected",
                       "Fleet never accepts private or secret keys; upload only the public key", k);
      throw bad_request("unknown field '" + k + "'", k);
    }
  }
  for (const auto& f : fields) {
    auto it = body.find(f.name);
    if (it == body.end() || it->is_null()) {
      if (f.required) throw bad_request("field '" + f.name + "' is required", f.name);
      continue;
    }
    const json& v = *it;
    std::string want = std::string("field '") + f.name + "' must be " + type_name(f.type);
    switch (f.type) {
      case FieldType::string: {
        if (!v.is_string()) throw bad_request(want, f.name);
        const auto& s = v.get_ref<const std::string&>();
        if (s.find('\0') != std::string::npos) throw bad_request("field '" + f.name + "' contains a NUL byte", f.name);
        int64_t len = static_cast<int64_t>(s.size());
        if (f.min && len < f.min)
          throw bad_request("field '" + f.name + "' must be at least " + std::to_string(f.min) + " characters",
                            f.name);
        if (f.max && len > f.max)
          throw bad_request("field '" + f.name + "' must be at most " + std::to_string(f.max) + " bytes", f.name);
        if (!f.one_of.empty() && std::find(f.one_of.begin(), f.one_of.end(), s) == f.one_of.end()) {
          std::string opts;
          for (const auto& o : f.one_of) opts += (opts.empty() ? "" : ", ") + o;
          throw bad_request("field '" + f.name + "' must be one of: " + opts, f.name);
        }
        break;
      }
      case FieldType::integer: {
        if (!v.is_number_integer()) throw bad_request(want, f.name);
        if (!fits_int64(v)) throw bad_request(out_of_range(f.name), f.name);
        int64_t n = v.get<int64_t>();
        if (n < f.min || (f.max && n > f.max))
          throw bad_request("field '" + f.name + "' must be between " + std::to_string(f.min) + " and " +
                                std::to_string(f.max),
                            f.name);
        break;
      }
      case FieldType::boolean:
        if (!v.is_boolean()) throw bad_request(want, f.name);
        break;
      case FieldType::object:
        if (!v.is_object()) throw bad_request(want, f.name);
        break;
      case FieldType::array_string:
      case FieldType::array_integer:
      case FieldType::array_object: {
        if (!v.is_array()) throw bad_request(want, f.name);
        if (f.max && static_cast<int64_t>(v.size()) > f.max)
          throw bad_request("field '" + f.name + "' has more than " + std::to_string(f.max) + " entries", f.name);
        size_t k = 0;
        for (const auto& e : v) {
          bool ok = f.type == FieldType::array_string    ? e.is_string()
                    : f.type == FieldType::array_integer ? e.is_number_integer()
                                                         : e.is_object();
          if (!ok) throw bad_request(want, f.name + "[" + std::to_string(k) + "]");
          if (f.type == FieldType::array_integer && !fits_int64(e))
            throw bad_request(out_of_range(f.name + "[" + std::to_string(k) + "]"), f.name + "[" + std::to_string(k) + "]");
          ++k;
        }
        break;
      }
    }
  }
}

json openapi_components();

json Router::openapi(const std::string& version) const {
  json paths = json::object();
  for (const auto& r : routes_) {
    json op;
    op["operationId"] = r.operation_id;
    op["summary"] = r.summary;
    op["tags"] = json::array({r.tag});
    op["x-keel-access"] = access_name(r.access);
    if (r.access == Access::public_) op["security"] = json::array();
    json params = json::array();
    for (const auto& seg : split_path(r.path)) {
      if (!is_param(seg)) continue;
      std::string name = seg.substr(1, seg.size() - 2);
      bool id = name.size() > 3 && name.compare(name.size() - 3, 3, "_id") == 0;
      params.push_back({{"name", name}, {"in", "path"}, {"required", true},
                        {"schema", id ? schema_of(FieldType::integer) : schema_of(FieldType::string)}});
    }
    for (const auto& q : r.query)
      params.push_back({{"name", q.name}, {"in", "query"}, {"required", false}, {"description", q.description},
                        {"schema", schema_of(q.type)}});
    if (r.paginated) {
      params.push_back({{"name", "limit"}, {"in", "query"}, {"required", false},
                        {"description", "page size, 1-200 (default 50)"},
                        {"schema", {{"type", "integer"}, {"minimum", 1}, {"maximum", 200}}}});
      params.push_back({{"name", "cursor"}, {"in", "query"}, {"required", false},
                        {"description", "opaque cursor from the previous page's next_cursor"},
                        {"schema", {{"type", "string"}}}});
    }
    if (!params.empty()) op["parameters"] = params;
    auto object_schema = [&] {
      json props = json::object();
      json req = json::array();
      for (const auto& f : r.body) {
        json s = schema_of(f.type);
        if (!f.description.empty()) s["description"] = f.description;
        if (f.type == FieldType::string && f.max) s["maxLength"] = f.max;
        if (f.type == FieldType::string && f.min) s["minLength"] = f.min;
        if (f.type == FieldType::integer) {
          s["minimum"] = f.min;
          if (f.max) s["maximum"] = f.max;
        }
        if ((f.type == FieldType::array_string || f.type == FieldType::array_integer ||
             f.type == FieldType::array_object) && f.max)
          s["maxItems"] = f.max;
        if (!f.one_of.empty()) s["enum"] = f.one_of;
        props[f.name] = s;
        if (f.required) req.push_back(f.name);
      }
      json schema = {{"type", "object"}, {"additionalProperties", false}, {"properties", props}};
      if (!req.empty()) schema["required"] = req;
      return schema;
    };
    if (r.raw_body) {
      json content = json::object();
      if (r.raw_types.empty()) content["application/octet-stream"] = {{"schema", {{"type", "string"}, {"format", "binary"}}}};
      for (const auto& t : r.raw_types)
        content[t] = {{"schema", t == "application/json" ? object_schema() : json{{"type", "string"}}}};
      op["requestBody"] = {{"required", true}, {"content", content}};
    } else if (!r.body.empty()) {
      op["requestBody"] = {{"required", true}, {"content", {{"application/json", {{"schema", object_schema()}}}}}};
    }
    json ok;
    if (r.success_status == 204) {
      ok = {{"description", "done"}};
    } else {
      json schema = r.response_schema.empty() ? json{{"type", "object"}}
                                       : json{{"$ref", "#/components/schemas/" + r.response_schema}};
      if (r.paginated)
        schema = {{"type", "object"},
                  {"properties", {{"items", {{"type", "array"}, {"items", schema}}},
                                  {"next_cursor", {{"type", "string"}, {"nullable", true}}}}}};
      ok = {{"description", "success"}, {"content", {{"application/json", {{"schema", schema}}}}}};
    }
    json responses = {{std::to_string(r.success_status), ok}};
    json err = {{"$ref", "#/components/responses/Error"}};
    responses["400"] = err;
    if (r.access != Access::public_) {
      responses["401"] = err;
      responses["403"] = err;
    }
    responses["404"] = err;
    if (r.method != Method::GET) responses["409"] = err;
    if (r.raw_body || !r.body.empty()) responses["413"] = err;
    op["responses"] = responses;
    std::string m = method_name(r.method);
    std::transform(m.begin(), m.end(), m.begin(), ::tolower);
    paths[r.path][m] = op;
  }
  json doc;
  doc["openapi"] = "3.0.3";
  doc["info"] = {{"title", "Keel Fleet API"}, {"version", version},
                 {"description", "Management API of Keel Fleet. Errors always have the shape "
                                 "{\"error\": {\"code\", \"message\", \"field\"}}. See docs/fleet-api.md."}};
  doc["paths"] = paths;
  doc["components"] = openapi_components();
  doc["security"] = json::array({{{"bearer", json::array()}}, {{"session", json::array()}}});
  return doc;
}

}  // namespace keel::fleet

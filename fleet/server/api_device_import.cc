#include "api_device_import.h"

#include <algorithm>
#include <unordered_map>

#include "api_devices.h"
#include "csv.h"
#include "owner.h"
#include "request_body.h"

namespace keel::fleet {
namespace {

// Errors listed in a refusal; the rest are only counted.
constexpr size_t kMaxListedErrors = 100;

// Where a row is: its CSV line (1-based, the header is line 1) or its index in the JSON array.
struct Where {
  bool csv = true;
  int64_t at = 0;  // line or index; -1: the file as a whole (JSON)
  std::string describe() const { return csv ? "line " + std::to_string(at) : "devices[" + std::to_string(at) + "]"; }
};

// Every error is kept (small records) and the first kMaxListedErrors by position are listed, so
// the list starts at the file's first mistake whichever check found it.
class Errors {
 public:
  void add(const Where& w, const std::string& field, const std::string& code, const std::string& message) {
    all_.push_back({w, field, code, message});
  }
  void add(const Where& w, const ApiError& e) { add(w, e.field, e.code, e.what()); }
  size_t total() const { return all_.size(); }
  // 400 import_invalid: {"error": {code, message, field, error_count, errors: [...]}}.
  Response response() {
    std::stable_sort(all_.begin(), all_.end(), [](const Entry& a, const Entry& b) { return a.where.at < b.where.at; });
    const size_t listed = std::min(all_.size(), kMaxListedErrors);
    json items = json::array();
    for (size_t k = 0; k < listed; ++k) {
      const Entry& e = all_[k];
      items.push_back({{"line", e.where.csv ? json(e.where.at) : json(nullptr)},
                       {"index", !e.where.csv && e.where.at >= 0 ? json(e.where.at) : json(nullptr)},
                       {"field", e.field.empty() ? json(nullptr) : json(e.field)},
                       {"code", e.code},
                       {"message", e.message}});
    }
    std::string msg =
        std::to_string(all_.size()) + (all_.size() == 1 ? " error" : " errors") + " in the file; nothing was imported";
    if (all_.size() > listed) msg += " (the first " + std::to_string(listed) + " are listed)";
    json e = {{"code", "import_invalid"}, {"message", msg}, {"field", nullptr}, {"error_count", all_.size()},
              {"errors", items}};
    return Response::json_body({{"error", e}}, 400);
  }

 private:
  struct Entry {
    Where where;
    std::string field, code, message;
  };
  std::vector<Entry> all_;
};

// A row as read from the file: its fields as a JSON object, so that single registration's
// checks (Router::validate_fields, check_new_device) apply to it unchanged.
struct Candidate {
  Where where;
  json row;
};

std::string column_list() {
  std::string s;
  for (const auto& f : new_device_fields()) s += (s.empty() ? "" : ",") + f.name;
  return s;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t k = 0;
  while (k < s.size() && (s[k] == ' ' || s[k] == '\t')) ++k;
  return s.substr(k);
}

// CSV: the header names the columns (any order); every other record is a device.
std::vector<Candidate> read_csv(const std::string& text, size_t max_rows, Errors& errors) {
  std::vector<Candidate> out;
  CsvReader reader(text);
  auto header = reader.next();
  if (!header) {
    if (reader.error()) errors.add({true, reader.error()->line}, "", "csv_malformed", reader.error()->message);
    else
      errors.add({true, 1}, "", "empty_file",
                 "the file is empty: its first line must name the columns, " + column_list());
    return out;
  }
  const auto& fields = new_device_fields();
  std::vector<std::string> columns;
  for (auto& raw : header->fields) {
    std::string col = trim(raw);
    const bool known = std::any_of(fields.begin(), fields.end(), [&](const Field& f) { return f.name == col; });
    if (!valid_utf8(col) || !known) {
      const std::string shown = valid_utf8(col) ? "'" + col + "'" : "(not UTF-8)";
      if (col.find("private") != std::string::npos || col.find("secret") != std::string::npos)
        errors.add({true, header->line}, col, "private_key_rejected",
                   "Fleet never accepts private or secret keys; upload only the public keys");
      else
        errors.add({true, header->line}, valid_utf8(col) ? col : "", "unknown_column",
                   "unknown column " + shown + "; the columns are " + column_list() +
                       (col == "deployment_id" ? " (the deployment is the one imported into)" : ""));
    } else if (std::find(columns.begin(), columns.end(), col) != columns.end()) {
      errors.add({true, header->line}, col, "duplicate_column", "column '" + col + "' appears twice in the header");
    }
    columns.push_back(col);
  }
  for (const auto& f : fields)
    if (f.required && std::find(columns.begin(), columns.end(), f.name) == columns.end())
      errors.add({true, header->line}, f.name, "missing_column",
                 "column '" + f.name + "' is missing; the header must name " + column_list());
  if (errors.total()) return out;
  while (auto rec = reader.next()) {
    const Where w{true, rec->line};
    if (out.size() >= max_rows) {
      errors.add(w, "", "too_many_rows",
                 "more than " + std::to_string(max_rows) + " devices in one import; split the file");
      return out;
    }
    if (rec->fields.size() != columns.size()) {
      errors.add(w, "", "wrong_field_count",
                 "this line has " + std::to_string(rec->fields.size()) + " fields; the header has " +
                     std::to_string(columns.size()) + " (quote a field that holds a comma)");
      continue;
    }
    json row = json::object();
    bool ok = true;
    for (size_t k = 0; k < columns.size() && ok; ++k) {
      if (!valid_utf8(rec->fields[k])) {
        errors.add(w, columns[k], "invalid_request", "field '" + columns[k] + "' is not UTF-8 text (or holds a NUL byte)");
        ok = false;
      }
      row[columns[k]] = std::move(rec->fields[k]);
    }
    if (ok) out.push_back({w, std::move(row)});
  }
  if (reader.error()) errors.add({true, reader.error()->line}, "", "csv_malformed", reader.error()->message);
  else if (out.empty() && !errors.total())
    errors.add({true, header->line + 1}, "", "empty_file", "the file has a header line but no devices");
  return out;
}

// JSON: {"devices": [{name, tunnel_public_key, identity_public_key}, ...]}.
std::vector<Candidate> read_json(const std::string& text, size_t max_rows, Errors& errors) {
  std::vector<Candidate> out;
  json doc = parse_json_request(text);
  if (!doc.is_object()) throw bad_request("the body must be a JSON object: {\"devices\": [...]}");
  for (auto it = doc.begin(); it != doc.end(); ++it)
    if (it.key() != "devices") {
      if (it.key().find("private") != std::string::npos || it.key().find("secret") != std::string::npos)
        throw ApiError(400, "private_key_rejected", "Fleet never accepts private or secret keys; upload only the public key",
                       it.key());
      throw bad_request("unknown field '" + it.key() + "'", it.key());
    }
  auto devices = doc.find("devices");
  if (devices == doc.end() || !devices->is_array())
    throw bad_request("field 'devices' is required: an array of devices", "devices");
  if (devices->empty()) {
    errors.add({false, -1}, "devices", "empty_file", "the file lists no devices");
    return out;
  }
  if (devices->size() > max_rows) {
    errors.add({false, static_cast<int64_t>(max_rows)}, "", "too_many_rows",
               "more than " + std::to_string(max_rows) + " devices in one import; split the file");
    return out;
  }
  out.reserve(devices->size());
  int64_t index = 0;
  for (auto& d : *devices) out.push_back({{false, index++}, std::move(d)});
  return out;
}

struct Valid {
  Where where;
  NewDevice device;
};

// Every row checked as POST /devices checks it, then against the other rows of the file.
std::vector<Valid> check_rows(std::vector<Candidate>& rows, Errors& errors) {
  std::vector<Valid> out;
  out.reserve(rows.size());
  std::unordered_map<std::string, Where> names;
  std::unordered_map<std::string, std::pair<Where, std::string>> keys;  // key -> first row, its field
  names.reserve(rows.size());
  keys.reserve(2 * rows.size());
  for (auto& r : rows) {
    Valid v{r.where, {}};
    if (!r.row.is_object()) {
      errors.add(r.where, "", "invalid_request", "a device must be a JSON object {name, tunnel_public_key, identity_public_key}");
      continue;
    }
    try {
      Router::validate_fields(new_device_fields(), r.row);
      auto [name, k] = check_new_device(r.row);
      v.device.name = std::move(name);
      v.device.keys = std::move(k);
    } catch (const ApiError& e) {
      errors.add(r.where, e);
      continue;
    }
    r.row = nullptr;  // no longer needed
    bool dup = false;
    if (auto [it, fresh] = names.emplace(v.device.name, r.where); !fresh) {
      errors.add(r.where, "name", "duplicate_in_file",
                 "the same name as " + it->second.describe() + "; names are unique in a deployment");
      dup = true;
    }
    for (const auto& [field, key] : {std::pair<const char*, const std::string&>{"tunnel_public_key", v.device.keys.tunnel},
                                     std::pair<const char*, const std::string&>{"identity_public_key", v.device.keys.identity}}) {
      if (auto [it, fresh] = keys.emplace(key, std::pair{r.where, std::string(field)}); !fresh) {
        errors.add(r.where, field, "duplicate_in_file",
                   "the same public key as " + it->second.second + " on " + it->second.first.describe() +
                       "; every device needs its own keys");
        dup = true;
      }
    }
    if (!dup) out.push_back(std::move(v));
  }
  return out;
}

// The rows against the devices that exist (inside the import's transaction).
void check_existing(Ctx& c, int64_t deployment_id, int64_t org_id, const std::vector<Valid>& rows, Errors& errors) {
  std::vector<std::string> names, keys;
  names.reserve(rows.size());
  keys.reserve(2 * rows.size());
  for (const auto& v : rows) {
    names.push_back(v.device.name);
    keys.push_back(v.device.keys.tunnel);
    keys.push_back(v.device.keys.identity);
  }
  const auto taken = device_names_taken(c.db, deployment_id, names);
  const auto holders = device_key_holders(c.db, keys);
  for (const auto& v : rows) {
    if (taken.count(v.device.name)) errors.add(v.where, device_name_in_use());
    for (const auto& [field, key] : {std::pair<const char*, const std::string&>{"tunnel_public_key", v.device.keys.tunnel},
                                     std::pair<const char*, const std::string&>{"identity_public_key", v.device.keys.identity}}) {
      if (auto it = holders.find(key); it != holders.end()) errors.add(v.where, key_in_use(it->second, org_id, field));
    }
  }
}

Response import_devices(Ctx& c) {
  const int64_t dep = c.id("deployment_id");
  Owner o = deployment_owner(c, dep, Need::write);
  const size_t max_rows = c.app.cfg.max_import_rows;
  Errors errors;
  std::vector<Candidate> rows;
  const bool csv = !media_type_is(c.req.header("content-type"), "application/json");
  if (c.req.body.empty())
    errors.add({csv, csv ? 1 : -1}, "", "empty_file",
               "the file is empty: send a CSV file whose first line names the columns (" + column_list() +
                   ") or a JSON document {\"devices\": [...]}");
  else if (csv) rows = read_csv(c.req.body, max_rows, errors);
  else rows = read_json(c.req.body, max_rows, errors);
  std::vector<Valid> valid = check_rows(rows, errors);
  rows.clear();
  // A file that could not be read to its end (quoting, too many rows) is not checked against
  // the database; otherwise every error is found in one pass, including clashes with existing
  // devices.
  const bool unreadable = errors.total() && valid.empty();

  std::vector<NewDevice> devices;
  for (int attempt = 0;; ++attempt) {
    try {
      if (unreadable) return errors.response();
      Tx tx(c.db);
      check_existing(c, dep, o.org_id, valid, errors);
      if (errors.total()) return errors.response();
      const auto& pool = c.app.addresses;
      std::vector<int64_t> idx = free_address_indices(c.db, pool.first_index(), pool.last_index(), valid.size());
      if (idx.size() < valid.size())
        throw ApiError(409, "address_space_exhausted",
                       "the import needs " + std::to_string(valid.size()) + " tunnel addresses and only " +
                           std::to_string(idx.size()) + " are free in " + pool.prefix() +
                           "; configure a larger --tunnel-prefix");
      devices.clear();
      devices.reserve(valid.size());
      for (size_t k = 0; k < valid.size(); ++k) {
        devices.push_back(valid[k].device);
        devices.back().address_index = idx[k];
      }
      const std::vector<int64_t> ids = insert_devices(c.db, dep, devices, now_ms());
      c.audit(o.org_id, "device.import", "deployment", std::to_string(dep),
              {{"count", ids.size()}, {"format", csv ? "csv" : "json"}, {"first_device_id", ids.front()},
               {"last_device_id", ids.back()}});
      tx.commit();
      // {"deployment_id", "count", "devices": [{id, name, tunnel_address}]}, in file order, written
      // by hand: 100,000 entries.
      std::string body = "{\"count\":" + std::to_string(ids.size()) + ",\"deployment_id\":" + std::to_string(dep) +
                         ",\"devices\":[";
      body.reserve(body.size() + ids.size() * 96);
      for (size_t k = 0; k < ids.size(); ++k) {
        if (k) body.push_back(',');
        body += "{\"id\":" + std::to_string(ids[k]) + ",\"name\":" + json(devices[k].name).dump() +
                ",\"tunnel_address\":\"" + pool.address(devices[k].address_index) + "\"}";
      }
      body += "]}";
      Response r;
      r.status = 201;
      r.body = std::move(body);
      return r;
    } catch (const DbError& e) {
      // Another registration or import took one of the addresses (or, between our checks and
      // our inserts, a name or key): the checks run again and name the row, or the next
      // addresses are taken.
      if (e.kind != DbError::Kind::unique_violation || attempt >= 4) throw;
    }
  }
}

}  // namespace

void register_device_import_routes(Router& r) {
  r.add({.method = Method::POST, .path = "/api/v1/deployments/{deployment_id}/devices/import",
         .operation_id = "importDevices", .tag = "devices",
         .summary = "Register many devices at once from a CSV file (text/csv: a header line naming the columns name, "
                    "tunnel_public_key, identity_public_key, then one device per line) or a JSON document "
                    "(application/json: {\"devices\": [...]}, each as POST /devices takes it, without deployment_id). "
                    "Every row is checked as POST /devices checks it, and against the other rows and the existing "
                    "devices; all or nothing: any error (400 import_invalid, listing up to 100 errors with their CSV "
                    "line or JSON index) and no device is created. At most 100,000 devices and 32 MiB "
                    "(--max-import-mb)",
         .access = Access::org_write,
         .body = {{.name = "devices", .type = FieldType::array_object, .required = true,
                   .description = "the devices: {name, tunnel_public_key, identity_public_key} each",
                   .max = 100000}},
         .raw_body = true, .raw_types = {"text/csv", "application/json"}, .import_body = true,
         .response_schema = "DeviceImport", .success_status = 201, .handler = import_devices});
}

}  // namespace keel::fleet

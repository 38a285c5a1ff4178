// What a device says: its serial console and trace events (fleet/store/device_log.h).
// Reading is authorized like reading the device. Appending is a device-side report
// (Access::device): until the device link exists it is done by an organisation owner's session or
// write token (e.g. a bench rig forwarding a UART); the link will call the store directly.
// Appends are not audited and raise no change event: they are the device's output, not a change
// anyone made, and a chatty console must not flood the audit log. The UI polls instead.
#include "api_device_logs.h"

#include "owner.h"

namespace keel::fleet {
namespace {

// Appending errors from the store, as API errors naming the offending request field.
[[noreturn]] void rethrow(const DeviceLogError& e, const std::string& array) {
  switch (e.code) {
    case DeviceLogError::Code::no_device: throw not_found("device");
    case DeviceLogError::Code::decommissioned: throw ApiError(409, "device_decommissioned", e.what());
    case DeviceLogError::Code::invalid: break;
  }
  std::string field = array;
  if (e.index >= 0) field += "[" + std::to_string(e.index) + "]";
  if (!e.field.empty()) field += "." + e.field;
  throw bad_request(std::string(e.what()), field);
}

LogQuery log_query(Ctx& c) {
  PageRequest p = page_request(c);
  LogQuery q;
  q.limit = p.limit;
  if (auto o = c.q("order")) {
    if (*o != "asc" && *o != "desc") throw bad_request("query parameter 'order' must be asc or desc", "order");
    q.newest_first = *o == "desc";
  }
  if (auto a = c.q("after")) {
    if (a->empty() || a->size() > 18 || a->find_first_not_of("0123456789") != std::string::npos)
      throw bad_request("query parameter 'after' must be an entry id (a non-negative integer)", "after");
    q.after = std::stoll(*a);
  }
  if (auto s = c.q("since")) {
    if (s->empty() || s->size() > 18 || s->find_first_not_of("0123456789") != std::string::npos)
      throw bad_request("query parameter 'since' must be a time in milliseconds since the Unix epoch", "since");
    q.since = std::stoll(*s);
  }
  // The cursor continues in the direction of the order: older entries when newest first.
  if (p.cursor) {
    if (q.newest_first) q.before = *p.cursor;
    else q.after = std::max(q.after, *p.cursor);
  }
  return q;
}

template <class T, class ToJson>
Response page_response(const LogPage<T>& page, ToJson to_json) {
  json items = json::array();
  for (const auto& e : page.items) items.push_back(to_json(e));
  json next = page.more && !page.items.empty() ? json(std::to_string(page.items.back().id)) : json(nullptr);
  return Response::json_body({{"items", std::move(items)}, {"next_cursor", std::move(next)}});
}

json append_json(const AppendResult& r) {
  auto opt = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); };
  return {{"accepted", r.accepted}, {"dropped", r.dropped}, {"trimmed", r.trimmed},
          {"first_id", opt(r.first_id)}, {"last_id", opt(r.last_id)}};
}

Response get_serial(Ctx& c) {
  int64_t id = c.id("device_id");
  device_owner(c, id, Need::read);
  return page_response(read_serial(c.db, id, log_query(c)), [](const SerialEntry& e) {
    return json{{"id", e.id}, {"at", e.at}, {"text", e.text}};
  });
}

Response get_trace(Ctx& c) {
  int64_t id = c.id("device_id");
  device_owner(c, id, Need::read);
  return page_response(read_trace(c.db, id, log_query(c)), [](const TraceEntry& e) {
    json j = {{"id", e.id}, {"at", e.at}, {"component", e.component ? json(*e.component) : json(nullptr)},
              {"event", e.event}};
    j["data"] = e.data_json ? json::parse(*e.data_json) : json(nullptr);
    return j;
  });
}

Response post_serial(Ctx& c) {
  int64_t id = c.id("device_id");
  device_owner(c, id, Need::write);
  auto lines = c.body.at("lines").get<std::vector<std::string>>();
  try {
    return Response::json_body(append_json(append_serial(c.db, id, std::move(lines), now_ms(), c.app.cfg.serial_retention)));
  } catch (const DeviceLogError& e) {
    rethrow(e, "lines");
  }
}

Response post_trace(Ctx& c) {
  int64_t id = c.id("device_id");
  device_owner(c, id, Need::write);
  const json& in = c.body.at("events");
  std::vector<TraceInput> events;
  events.reserve(in.size());
  for (size_t k = 0; k < in.size(); ++k) {
    const json& e = in[k];
    std::string at = "events[" + std::to_string(k) + "]";
    for (auto it = e.begin(); it != e.end(); ++it)
      if (it.key() != "component" && it.key() != "event" && it.key() != "data")
        throw bad_request("unknown field '" + it.key() + "' in " + at + " (component, event, data)", at + "." + it.key());
    TraceInput t;
    if (auto it = e.find("component"); it != e.end() && !it->is_null()) {
      if (!it->is_string()) throw bad_request(at + ".component must be a string or null", at + ".component");
      t.component = it->get<std::string>();
    }
    auto ev = e.find("event");
    if (ev == e.end() || !ev->is_string()) throw bad_request(at + ".event is required and must be a string", at + ".event");
    t.event = ev->get<std::string>();
    if (auto it = e.find("data"); it != e.end() && !it->is_null()) t.data_json = it->dump();
    events.push_back(std::move(t));
  }
  try {
    return Response::json_body(append_json(append_trace(c.db, id, events, now_ms(), c.app.cfg.trace_retention)));
  } catch (const DeviceLogError& e) {
    rethrow(e, "events");
  }
}

}  // namespace

void register_device_log_routes(Router& r) {
  using F = FieldType;
  std::vector<QueryParam> q = {
      {.name = "after", .type = F::integer,
       .description = "only entries after this entry id (poll for new entries with the last id you have)"},
      {.name = "since", .type = F::integer,
       .description = "only entries Fleet received at or after this time (ms since the epoch)"},
      {.name = "order", .type = F::string,
       .description = "asc (oldest first, the default) | desc (newest first; the cursor then goes back in time)"}};
  r.add({.method = Method::GET, .path = "/api/v1/devices/{device_id}/serial", .operation_id = "getDeviceSerial",
         .tag = "devices", .summary = "The device's serial console output (the newest lines are kept; see retention)",
         .access = Access::org_read, .query = q, .paginated = true, .response_schema = "SerialLine",
         .handler = get_serial});
  r.add({.method = Method::POST, .path = "/api/v1/devices/{device_id}/serial", .operation_id = "appendDeviceSerial",
         .tag = "devices",
         .summary = "Append serial console lines of an active device (until the device link sends them itself)",
         .access = Access::device,
         .body = {{.name = "lines", .type = F::array_string, .required = true,
                   .description = "1-500 lines, each valid UTF-8 of at most 4096 bytes without NUL or line break (a "
                                  "trailing CR is removed)",
                   .min = 0, .max = static_cast<int64_t>(kMaxLogAppend)}},
         .response_schema = "LogAppended", .handler = post_serial});
  r.add({.method = Method::GET, .path = "/api/v1/devices/{device_id}/trace", .operation_id = "getDeviceTrace",
         .tag = "devices", .summary = "The device's trace events (the newest are kept; see retention)",
         .access = Access::org_read, .query = q, .paginated = true, .response_schema = "TraceEvent",
         .handler = get_trace});
  r.add({.method = Method::POST, .path = "/api/v1/devices/{device_id}/trace", .operation_id = "appendDeviceTrace",
         .tag = "devices",
         .summary = "Append trace events of an active device (until the device link sends them itself)",
         .access = Access::device,
         .body = {{.name = "events", .type = F::array_object, .required = true,
                   .description = "1-500 events {component: name or null, event: name, data?: any JSON value of at "
                                  "most 4096 bytes}; names are 1-63 characters of [A-Za-z0-9_.-] starting with a "
                                  "letter or digit",
                   .min = 0, .max = static_cast<int64_t>(kMaxLogAppend)}},
         .response_schema = "LogAppended", .handler = post_trace});
}

}  // namespace keel::fleet

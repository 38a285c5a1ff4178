#include "device_log.h"

#include <nlohmann/json.hpp>

#include <limits>

namespace keel::fleet {

const char* device_log_name(DeviceLogKind k) { return k == DeviceLogKind::serial ? "serial" : "trace"; }

namespace {

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. Returns the
// byte offset of the first invalid sequence, or npos.
size_t invalid_utf8_at(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
    else return i;
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
      return i;
    i += len;
  }
  return std::string::npos;
}

void check_text(const std::string& s, long idx, const std::string& field, const std::string& what) {
  size_t bad = invalid_utf8_at(s);
  if (bad != std::string::npos)
    throw DeviceLogError(DeviceLogError::Code::invalid, idx, field,
                         what + " is not valid UTF-8 (at byte " + std::to_string(bad) + ")");
  if (s.find('\0') != std::string::npos)
    throw DeviceLogError(DeviceLogError::Code::invalid, idx, field, what + " contains a NUL byte");
}

std::string entry_name(DeviceLogKind k, long idx) {
  return std::string(k == DeviceLogKind::serial ? "line " : "event ") + std::to_string(idx);
}

void check_count(size_t n, DeviceLogKind k) {
  if (n == 0)
    throw DeviceLogError(DeviceLogError::Code::invalid, -1, "",
                         std::string("nothing to append: send at least one ") +
                             (k == DeviceLogKind::serial ? "line" : "event"));
  if (n > kMaxLogAppend)
    throw DeviceLogError(DeviceLogError::Code::invalid, -1, "",
                         "at most " + std::to_string(kMaxLogAppend) + " entries per append (got " + std::to_string(n) +
                             "); send them in several requests");
}

int64_t trace_size(const TraceInput& e) {
  return static_cast<int64_t>(e.component.value_or("").size() + e.event.size() + e.data_json.value_or("").size());
}

// The shared part of both appends. `sizes[k]` is entry k's size; `insert(k)` stores entry k and
// returns its id.
template <class Insert>
AppendResult append_impl(Db& db, int64_t device_id, DeviceLogKind kind, const std::vector<int64_t>& sizes,
                         const LogRetention& keep, Insert insert) {
  if (keep.max_entries < 1 || keep.max_bytes < kMinRetentionBytes)
    throw std::invalid_argument("device log retention must keep at least 1 entry and " +
                                std::to_string(kMinRetentionBytes) + " bytes");
  const std::string table = kind == DeviceLogKind::serial ? "device_serial" : "device_trace";
  const std::string kname = device_log_name(kind);
  // Of one oversized batch, only its newest entries that fit the retention are stored at all.
  size_t start = sizes.size();
  int64_t n = 0, bytes = 0;
  while (start > 0 && n + 1 <= keep.max_entries && bytes + sizes[start - 1] <= keep.max_bytes) {
    --start;
    ++n;
    bytes += sizes[start];
  }
  AppendResult res;
  res.dropped = static_cast<int64_t>(start);

  std::optional<Tx> tx;
  if (!db.in_transaction()) tx.emplace(db);
  auto dev = db.one("SELECT status FROM devices WHERE id = $1", {device_id});
  if (!dev) throw DeviceLogError(DeviceLogError::Code::no_device, -1, "", "no device " + std::to_string(device_id));
  if (dev->s(0) != "active")
    throw DeviceLogError(DeviceLogError::Code::decommissioned, -1, "",
                         "device " + std::to_string(device_id) + " is decommissioned; it cannot send " + kname);
  // The usage row first: on PostgreSQL its row lock orders concurrent appends to one device.
  auto usage = db.one(
      "INSERT INTO device_log_usage (device_id, kind, entries, bytes) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (device_id, kind) DO UPDATE SET entries = device_log_usage.entries + excluded.entries, "
      "bytes = device_log_usage.bytes + excluded.bytes RETURNING entries, bytes",
      {device_id, kname, n, bytes});
  for (size_t k = start; k < sizes.size(); ++k) {
    int64_t id = insert(k);
    if (!res.first_id) res.first_id = id;
    res.last_id = id;
  }
  res.accepted = n;
  int64_t excess_e = usage->i(0) - keep.max_entries, excess_b = usage->i(1) - keep.max_bytes;
  if (excess_e > 0 || excess_b > 0) {
    int64_t removed_e = 0, removed_b = 0, cutoff = 0;
    bool done = false;
    while (!done) {
      int64_t chunk = std::max<int64_t>(excess_e - removed_e, 0) + 32;
      Rows rows = db.query("SELECT id, size FROM " + table + " WHERE device_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                           {device_id, cutoff, chunk});
      if (rows.empty()) break;  // the usage row overstated the log; nothing more to remove
      for (const auto& r : rows) {
        if (removed_e >= excess_e && removed_b >= excess_b) {
          done = true;
          break;
        }
        cutoff = r.i(0);
        ++removed_e;
        removed_b += r.i(1);
      }
      if (removed_e >= excess_e && removed_b >= excess_b) done = true;
    }
    if (cutoff > 0) {
      db.query("DELETE FROM " + table + " WHERE device_id = $1 AND id <= $2", {device_id, cutoff});
      db.query("UPDATE device_log_usage SET entries = entries - $3, bytes = bytes - $4 WHERE device_id = $1 AND kind = $2",
               {device_id, kname, removed_e, removed_b});
    }
    res.trimmed = removed_e;
  }
  if (tx) tx->commit();
  return res;
}

std::string page_sql(const std::string& cols, const std::string& table, bool desc) {
  return "SELECT " + cols + " FROM " + table +
         " WHERE device_id = $1 AND id > $2 AND id < $3 AND at >= $4 ORDER BY id " + (desc ? "DESC" : "ASC") +
         " LIMIT $5";
}

std::vector<Value> page_args(int64_t device_id, const LogQuery& q) {
  return {device_id, q.after, q.before.value_or(std::numeric_limits<int64_t>::max()),
          q.since.value_or(std::numeric_limits<int64_t>::min()), q.limit + 1};
}

}  // namespace

bool valid_trace_name(const std::string& s) {
  if (s.empty() || s.size() > kMaxTraceNameBytes) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front())) return false;
  for (char c : s)
    if (!alnum(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

void validate_serial(std::vector<std::string>& lines) {
  check_count(lines.size(), DeviceLogKind::serial);
  for (size_t k = 0; k < lines.size(); ++k) {
    auto& l = lines[k];
    long idx = static_cast<long>(k);
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (l.size() > kMaxSerialLineBytes)
      throw DeviceLogError(DeviceLogError::Code::invalid, idx, "",
                           entry_name(DeviceLogKind::serial, idx) + " is " + std::to_string(l.size()) +
                               " bytes; a serial line is at most " + std::to_string(kMaxSerialLineBytes));
    if (l.find('\n') != std::string::npos)
      throw DeviceLogError(DeviceLogError::Code::invalid, idx, "",
                           entry_name(DeviceLogKind::serial, idx) + " contains a line break; send one line per entry");
    check_text(l, idx, "", entry_name(DeviceLogKind::serial, idx));
  }
}

void validate_trace(const std::vector<TraceInput>& events) {
  check_count(events.size(), DeviceLogKind::trace);
  const std::string rule = "1 to 63 characters of letters, digits, '_', '.', '-', starting with a letter or digit";
  for (size_t k = 0; k < events.size(); ++k) {
    const auto& e = events[k];
    long idx = static_cast<long>(k);
    std::string what = entry_name(DeviceLogKind::trace, idx);
    if (e.component && !valid_trace_name(*e.component))
      throw DeviceLogError(DeviceLogError::Code::invalid, idx, "component",
                           what + ": a component name is " + rule + " (as in the manifest)");
    if (!valid_trace_name(e.event))
      throw DeviceLogError(DeviceLogError::Code::invalid, idx, "event", what + ": an event name is " + rule);
    if (e.data_json) {
      if (e.data_json->size() > kMaxTraceDataBytes)
        throw DeviceLogError(DeviceLogError::Code::invalid, idx, "data",
                             what + ": data is " + std::to_string(e.data_json->size()) + " bytes as JSON; at most " +
                                 std::to_string(kMaxTraceDataBytes));
      check_text(*e.data_json, idx, "data", what + ": data");
      if (!nlohmann::json::accept(*e.data_json))
        throw DeviceLogError(DeviceLogError::Code::invalid, idx, "data", what + ": data is not a JSON value");
    }
  }
}

AppendResult append_serial(Db& db, int64_t device_id, std::vector<std::string> lines, int64_t at,
                           const LogRetention& keep) {
  validate_serial(lines);
  std::vector<int64_t> sizes;
  sizes.reserve(lines.size());
  for (const auto& l : lines) sizes.push_back(static_cast<int64_t>(l.size()));
  return append_impl(db, device_id, DeviceLogKind::serial, sizes, keep, [&](size_t k) {
    return db.one("INSERT INTO device_serial (device_id, at, size, text) VALUES ($1, $2, $3, $4) RETURNING id",
                  {device_id, at, sizes[k], lines[k]})
        ->i(0);
  });
}

AppendResult append_trace(Db& db, int64_t device_id, const std::vector<TraceInput>& events, int64_t at,
                          const LogRetention& keep) {
  validate_trace(events);
  std::vector<int64_t> sizes;
  sizes.reserve(events.size());
  for (const auto& e : events) sizes.push_back(trace_size(e));
  auto opt = [](const std::optional<std::string>& s) { return s ? Value(*s) : Value(nullptr); };
  return append_impl(db, device_id, DeviceLogKind::trace, sizes, keep, [&](size_t k) {
    const auto& e = events[k];
    return db.one("INSERT INTO device_trace (device_id, at, size, component, event, data) VALUES ($1, $2, $3, $4, $5, "
                  "$6) RETURNING id",
                  {device_id, at, sizes[k], opt(e.component), e.event, opt(e.data_json)})
        ->i(0);
  });
}

LogPage<SerialEntry> read_serial(Db& db, int64_t device_id, const LogQuery& q) {
  LogPage<SerialEntry> page;
  Rows rows = db.query(page_sql("id, at, text", "device_serial", q.newest_first), page_args(device_id, q));
  page.more = static_cast<int64_t>(rows.size()) > q.limit;
  if (page.more) rows.resize(static_cast<size_t>(q.limit));
  page.items.reserve(rows.size());
  for (const auto& r : rows) page.items.push_back({r.i(0), r.i(1), r.s(2)});
  return page;
}

LogPage<TraceEntry> read_trace(Db& db, int64_t device_id, const LogQuery& q) {
  LogPage<TraceEntry> page;
  Rows rows = db.query(page_sql("id, at, component, event, data", "device_trace", q.newest_first), page_args(device_id, q));
  page.more = static_cast<int64_t>(rows.size()) > q.limit;
  if (page.more) rows.resize(static_cast<size_t>(q.limit));
  page.items.reserve(rows.size());
  for (const auto& r : rows) {
    TraceEntry e;
    e.id = r.i(0);
    e.at = r.i(1);
    if (!r.null(2)) e.component = r.s(2);
    e.event = r.s(3);
    if (!r.null(4)) e.data_json = r.s(4);
    page.items.push_back(std::move(e));
  }
  return page;
}

LogUsage device_log_usage(Db& db, int64_t device_id, DeviceLogKind k) {
  auto r = db.one("SELECT entries, bytes FROM device_log_usage WHERE device_id = $1 AND kind = $2",
                  {device_id, std::string(device_log_name(k))});
  if (!r) return {};
  return {r->i(0), r->i(1)};
}

void clear_device_logs(Db& db, int64_t device_id) {
  db.query("DELETE FROM device_serial WHERE device_id = $1", {device_id});
  db.query("DELETE FROM device_trace WHERE device_id = $1", {device_id});
  db.query("DELETE FROM device_log_usage WHERE device_id = $1", {device_id});
}

}  // namespace keel::fleet

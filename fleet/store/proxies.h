// proxies.h — the external services a deployment's devices may reach (name -> host:port).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "row.h"

namespace keel::fleet {

#define KEEL_FLEET_PROXY_ROW_FIELDS(FIELD) \
  FIELD(int64_t, deployment_id)            \
  FIELD(std::string, name)                 \
  FIELD(std::string, host)                 \
  FIELD(int64_t, port)                     \
  FIELD(int64_t, created_at)
struct ProxyRow {
  static constexpr const char* table = "proxies";
  KEEL_ROW(ProxyRow, KEEL_FLEET_PROXY_ROW_FIELDS)
};

inline constexpr int64_t kMaxProxiesListed = 1000;

// Ordered by name, at most kMaxProxiesListed.
std::vector<ProxyRow> list_proxies(Db& db, int64_t deployment_id);
std::optional<ProxyRow> find_proxy(Db& db, int64_t deployment_id, const std::string& name);
// Creates or replaces.
void set_proxy(Db& db, int64_t deployment_id, const std::string& name, const std::string& host, int64_t port,
               int64_t now);
void delete_proxy(Db& db, int64_t deployment_id, const std::string& name);

}  // namespace keel::fleet

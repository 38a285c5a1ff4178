// proxies.h — the external services a deployment's devices may reach (name -> host:port).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "row.h"

namespace keel::fleet {

struct ProxyRow {
  static constexpr const char* table = "proxies";
  int64_t deployment_id = 0;
  std::string name{};
  std::string host{};
  int64_t port = 0;
  int64_t created_at = 0;
  static constexpr auto columns() {
    return std::tuple{column("deployment_id", &ProxyRow::deployment_id), column("name", &ProxyRow::name),
                      column("host", &ProxyRow::host), column("port", &ProxyRow::port),
                      column("created_at", &ProxyRow::created_at)};
  }
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

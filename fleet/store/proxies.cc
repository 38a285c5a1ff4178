#include "proxies.h"

namespace keel::fleet {

std::vector<ProxyRow> list_proxies(Db& db, int64_t deployment_id) {
  return from_rows<ProxyRow>(db.query(
      select_from<ProxyRow>() + " WHERE deployment_id = $1 ORDER BY name LIMIT " + std::to_string(kMaxProxiesListed),
      {deployment_id}));
}

std::optional<ProxyRow> find_proxy(Db& db, int64_t deployment_id, const std::string& name) {
  return from_row<ProxyRow>(db.one(select_from<ProxyRow>() + " WHERE deployment_id = $1 AND name = $2", {deployment_id, name}));
}

void set_proxy(Db& db, int64_t deployment_id, const std::string& name, const std::string& host, int64_t port,
               int64_t now) {
  delete_proxy(db, deployment_id, name);
  db.query("INSERT INTO proxies (deployment_id, name, host, port, created_at) VALUES ($1,$2,$3,$4,$5)",
           {deployment_id, name, host, port, now});
}

void delete_proxy(Db& db, int64_t deployment_id, const std::string& name) {
  db.query("DELETE FROM proxies WHERE deployment_id = $1 AND name = $2", {deployment_id, name});
}

}  // namespace keel::fleet

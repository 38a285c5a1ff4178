// Read-only query for the tunnel gateway (see tunnel_peers.h).
#include "tunnel_peers.h"

namespace keel::fleet {

std::vector<TunnelPeer> active_tunnel_peers(Db& db) {
  Rows rows = db.query(
      "SELECT id, name, tunnel_public_key, address_index FROM devices WHERE status = 'active' AND "
      "tunnel_public_key IS NOT NULL AND address_index IS NOT NULL ORDER BY id");
  std::vector<TunnelPeer> out;
  out.reserve(rows.size());
  for (const Row& r : rows) out.push_back(TunnelPeer{r.i(0), r.s(1), r.s(2), r.i(3)});
  return out;
}

void record_tunnel_prefix(Db& db, const std::string& prefix) {
  // Upsert: both dialects (SQLite >= 3.24, PostgreSQL >= 9.5) know ON CONFLICT ... DO UPDATE.
  db.query("INSERT INTO meta (key, value) VALUES ('tunnel_prefix', $1) "
           "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
           {prefix});
}

std::optional<std::string> stored_tunnel_prefix(Db& db) {
  auto row = db.one("SELECT value FROM meta WHERE key = 'tunnel_prefix'");
  if (!row) return std::nullopt;
  return row->s(0);
}

}  // namespace keel::fleet

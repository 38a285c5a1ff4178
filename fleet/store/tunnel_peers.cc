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

}  // namespace keel::fleet

// tunnel_peers.h — the read-only view of the device registry that the tunnel gateway needs:
// every active device's tunnel public key and address index. Decommissioned devices have both
// cleared (devices.h, decommission_device), so they never appear. The address itself is the index inside the
// server's --tunnel-prefix (server/address_pool.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db.h"

namespace keel::fleet {

struct TunnelPeer {
  int64_t device_id = 0;
  std::string name;
  std::string tunnel_public_key;  // base64, as stored
  int64_t address_index = 0;
};

// Active devices with a tunnel key and an address, ordered by id. Throws DbError like every query.
std::vector<TunnelPeer> active_tunnel_peers(Db& db);

// The tunnel prefix the address indices are relative to: keel-fleet records its --tunnel-prefix
// in `meta` (key 'tunnel_prefix') at every start, so the gateway reads the same one instead of
// needing it repeated on its command line. nullopt: no keel-fleet has recorded one yet.
void record_tunnel_prefix(Db& db, const std::string& prefix);
std::optional<std::string> stored_tunnel_prefix(Db& db);

}  // namespace keel::fleet

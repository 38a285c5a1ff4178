// DeviceRegistry over Fleet's store (see fleet_registry.h).
#include "keel/gateway/fleet_registry.h"

#include <filesystem>
#include <stdexcept>

#include "keel/wg/posix.h"
#include "store/tunnel_peers.h"

namespace keel::gateway {

Result<std::unique_ptr<FleetStoreRegistry>, std::string> FleetStoreRegistry::with(Open open, std::string origin,
                                                                                  const std::string& tunnel_prefix) {
  std::unique_ptr<FleetStoreRegistry> r(new FleetStoreRegistry(std::move(open), std::move(origin)));
  if (!tunnel_prefix.empty()) {
    try {
      r->pool_.configure(tunnel_prefix);
    } catch (const std::exception& e) {
      return Err{std::string("--tunnel-prefix: ") + e.what()};
    }
    r->pinned_ = true;
  }
  return r;
}

Result<std::unique_ptr<FleetStoreRegistry>, std::string> FleetStoreRegistry::studio(const std::string& data_dir,
                                                                                    const std::string& tunnel_prefix) {
  const std::string path = (std::filesystem::path(data_dir) / "fleet.db").string();
  // open_sqlite would create an empty file; the gateway only reads what keel-fleet created.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return Err{path + ": no Fleet database (start keel-fleet --mode studio --data-dir " + data_dir + " first)"};
  return with([path] { return fleet::open_sqlite(path); }, path, tunnel_prefix);
}

Result<std::unique_ptr<FleetStoreRegistry>, std::string> FleetStoreRegistry::postgres(const std::string& conninfo,
                                                                                      const std::string& tunnel_prefix) {
  return with([conninfo] { return fleet::open_postgres(conninfo); }, "fleet database", tunnel_prefix);
}

namespace {
// Two spellings of one network ("10.64.0.0/10" and "10.64.0.000/10" say the same): compare the
// networks, not the text.
bool same_network(const fleet::AddressPool& a, const fleet::AddressPool& b) {
  return a.last_index() == b.last_index() && a.address(0) == b.address(0);
}
}  // namespace

Result<fleet::AddressPool, std::string> FleetStoreRegistry::prefix_for_read(
    const std::optional<std::string>& stored) const {
  if (!stored) {
    if (pinned_) return pool_;  // a store from before keel-fleet recorded its prefix
    return Err{origin_ + ": no tunnel prefix recorded (keel-fleet records its --tunnel-prefix when it starts; "
                         "start it once, or give the gateway --tunnel-prefix)"};
  }
  fleet::AddressPool theirs;
  try {
    theirs.configure(*stored);
  } catch (const std::exception& e) {
    return Err{origin_ + ": recorded tunnel prefix: " + e.what()};
  }
  if (pinned_ && !same_network(pool_, theirs))
    return Err{origin_ + ": --tunnel-prefix " + pool_.prefix() + " differs from keel-fleet's tunnel prefix " + *stored +
               " (recorded in its database); omit --tunnel-prefix or give the same prefix"};
  return pinned_ ? pool_ : theirs;
}

Result<void, std::string> FleetStoreRegistry::for_each(const std::function<void(const DeviceTunnel&)>& each) {
  std::vector<fleet::TunnelPeer> rows;
  std::optional<std::string> stored_prefix;
  try {
    if (!db_) db_ = open_();
    stored_prefix = fleet::stored_tunnel_prefix(*db_);
    rows = fleet::active_tunnel_peers(*db_);
  } catch (const std::exception& e) {
    db_.reset();  // a broken connection is not reused
    return Err{origin_ + ": " + e.what()};
  }
  // Validate everything before handing out anything: a half-read registry must not look like
  // a list of decommissions. The prefix in force changes only with a read that succeeds.
  auto chosen = prefix_for_read(stored_prefix);
  if (!chosen.ok()) return Err{chosen.error()};
  const fleet::AddressPool& pool = chosen.value();
  std::vector<DeviceTunnel> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    DeviceTunnel t;
    t.device_id = std::to_string(r.device_id) + " (" + r.name + ")";
    const std::string where = origin_ + ": device " + t.device_id;
    if (!wg::key_from_base64(r.tunnel_public_key.c_str(), t.public_key))
      return Err{where + ": tunnel_public_key is not a base64 32-byte key"};
    std::string addr;
    try {
      addr = pool.address(r.address_index);
    } catch (const std::exception&) {
      return Err{where + ": address index " + std::to_string(r.address_index) + " is outside the tunnel prefix " +
                 pool.prefix() + (pinned_ ? " (does --tunnel-prefix match keel-fleet's?)" : "")};
    }
    if (!parse_inner_addr(addr, t.address)) return Err{where + ": bad address " + addr};
    out.push_back(std::move(t));
  }
  pool_ = pool;
  for (const auto& t : out) each(t);
  return {};
}

}  // namespace keel::gateway

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
  try {
    r->pool_.configure(tunnel_prefix);
  } catch (const std::exception& e) {
    return Err{std::string("--tunnel-prefix: ") + e.what()};
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

Result<void, std::string> FleetStoreRegistry::for_each(const std::function<void(const DeviceTunnel&)>& each) {
  std::vector<fleet::TunnelPeer> rows;
  try {
    if (!db_) db_ = open_();
    rows = fleet::active_tunnel_peers(*db_);
  } catch (const std::exception& e) {
    db_.reset();  // a broken connection is not reused
    return Err{origin_ + ": " + e.what()};
  }
  // Validate everything before handing out anything: a half-read registry must not look like
  // a list of decommissions.
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
      addr = pool_.address(r.address_index);
    } catch (const std::exception&) {
      return Err{where + ": address index " + std::to_string(r.address_index) + " is outside the tunnel prefix " +
                 pool_.prefix() + " (does --tunnel-prefix match keel-fleet's?)"};
    }
    if (!parse_inner_addr(addr, t.address)) return Err{where + ": bad address " + addr};
    out.push_back(std::move(t));
  }
  for (const auto& t : out) each(t);
  return {};
}

}  // namespace keel::gateway

// keel/gateway/fleet_registry.h — the gateway's DeviceRegistry over Fleet's own store: every
// active device's tunnel public key and its assigned tunnel address, read through
// keel_fleet_store's query (store/tunnel_peers.h) from the same database keel-fleet writes
// (studio: <data-dir>/fleet.db in SQLite; fleet mode: PostgreSQL). Decommissioned devices are not
// listed, so after the next Gateway::refresh() their keys are dropped.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "keel/gateway/registry.h"
#include "server/address_pool.h"
#include "store/db.h"

namespace keel::gateway {

class FleetStoreRegistry final : public DeviceRegistry {
 public:
  using Open = std::function<std::unique_ptr<fleet::Db>()>;
  // `tunnel_prefix` must be keel-fleet's --tunnel-prefix (the store keeps an index inside it).
  // An error names a malformed prefix or a missing studio database.
  static Result<std::unique_ptr<FleetStoreRegistry>, std::string> studio(const std::string& data_dir,
                                                                         const std::string& tunnel_prefix);
  static Result<std::unique_ptr<FleetStoreRegistry>, std::string> postgres(const std::string& conninfo,
                                                                           const std::string& tunnel_prefix);
  static Result<std::unique_ptr<FleetStoreRegistry>, std::string> with(Open open, std::string origin,
                                                                       const std::string& tunnel_prefix);

  // One query per call (the connection is kept, and reopened after an error). A malformed row
  // (key or address) fails the whole read, naming the device, so a refresh changes nothing.
  Result<void, std::string> for_each(const std::function<void(const DeviceTunnel&)>& each) override;

 private:
  FleetStoreRegistry(Open open, std::string origin) : open_(std::move(open)), origin_(std::move(origin)) {}
  Open open_;
  std::string origin_;
  fleet::AddressPool pool_;
  std::unique_ptr<fleet::Db> db_;
};

}  // namespace keel::gateway

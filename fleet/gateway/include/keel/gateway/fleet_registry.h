// keel/gateway/fleet_registry.h — the gateway's DeviceRegistry over Fleet's own store: every
// active device's tunnel public key and its assigned tunnel address, read through
// keel_fleet_store's query (store/tunnel_peers.h) from the same database keel-fleet writes
// (studio: <data-dir>/fleet.db in SQLite; fleet mode: PostgreSQL). Decommissioned devices are not
// listed, so after the next Gateway::refresh() their keys are dropped.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "keel/gateway/registry.h"
#include "server/address_pool.h"
#include "store/db.h"

namespace keel::gateway {

class FleetStoreRegistry final : public DeviceRegistry {
 public:
  using Open = std::function<std::unique_ptr<fleet::Db>()>;
  // The tunnel prefix comes from the store: keel-fleet records its --tunnel-prefix there at
  // start (store/tunnel_peers.h). `tunnel_prefix` empty = use that one, and follow it if
  // keel-fleet is restarted with another. Non-empty = the operator's pin: a malformed prefix is
  // an error here, and a store that records a different prefix fails every read, naming both
  // (a store that records none, from an older keel-fleet, is read with the pin).
  // An error also names a missing studio database.
  static Result<std::unique_ptr<FleetStoreRegistry>, std::string> studio(const std::string& data_dir,
                                                                         const std::string& tunnel_prefix = {});
  static Result<std::unique_ptr<FleetStoreRegistry>, std::string> postgres(const std::string& conninfo,
                                                                           const std::string& tunnel_prefix = {});
  static Result<std::unique_ptr<FleetStoreRegistry>, std::string> with(Open open, std::string origin,
                                                                       const std::string& tunnel_prefix = {});

  // One query per call (the connection is kept, and reopened after an error). A malformed row
  // (key or address) or a prefix problem fails the whole read, naming the device or both
  // prefixes, so a refresh changes nothing.
  Result<void, std::string> for_each(const std::function<void(const DeviceTunnel&)>& each) override;

  // The prefix the last successful read used (empty before the first read without a pin).
  const std::string& tunnel_prefix() const { return pool_.prefix(); }

 private:
  FleetStoreRegistry(Open open, std::string origin) : open_(std::move(open)), origin_(std::move(origin)) {}
  // The prefix a read uses, given what the store records (see studio()).
  Result<fleet::AddressPool, std::string> prefix_for_read(const std::optional<std::string>& stored) const;
  Open open_;
  std::string origin_;
  bool pinned_ = false;
  fleet::AddressPool pool_;
  std::unique_ptr<fleet::Db> db_;
};

}  // namespace keel::gateway

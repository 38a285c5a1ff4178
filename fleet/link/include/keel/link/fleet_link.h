// keel/link/fleet_link.h — the device link as one unit: the WireGuard gateway over Fleet's store
// registry (refreshed periodically), with the link server as its inner handler. keel-fleet runs
// one in studio mode (same process as the API); keel-gateway runs one in fleet mode.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "keel/gateway/fleet_registry.h"
#include "keel/gateway/gateway.h"
#include "keel/gateway/refresh_loop.h"
#include "keel/link/link_server.h"

namespace keel::link {

struct FleetLinkConfig {
  gateway::GatewayConfig gateway;  // private key, UDP port, binds, workers
  LinkConfig link;                 // fleet_address is set from the tunnel prefix
  std::chrono::milliseconds refresh_interval{5000};
  std::string tunnel_prefix;       // empty: the one keel-fleet recorded in the store
};

class FleetLink {
 public:
  using OpenDb = LinkServer::OpenDb;
  // Reads the registry, starts the gateway, the link's shards and the refresh loop. `origin`
  // names the store in errors.
  static Result<std::unique_ptr<FleetLink>, std::string> start(FleetLinkConfig cfg, OpenDb open, std::string origin,
                                                               ChangeSink changes = {});
  ~FleetLink();
  void stop();
  uint16_t port() const { return gw_->port(); }
  std::string public_key_base64() const;
  gateway::Gateway& gateway() { return *gw_; }
  LinkServer& link() { return *link_; }
  void refresh_now() { refresh_->poke(); }

 private:
  FleetLink() = default;
  std::unique_ptr<gateway::FleetStoreRegistry> registry_;
  std::unique_ptr<LinkServer> link_;
  std::unique_ptr<gateway::Gateway> gw_;
  std::unique_ptr<gateway::RefreshLoop> refresh_;
};

// The gateway's WireGuard private key in a file: read, or created (mode 0600) when missing.
Result<wg::Key, std::string> load_or_create_key(const std::string& path);

}  // namespace keel::link

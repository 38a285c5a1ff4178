// keel/gateway/registry.h — where the gateway learns its peers: Fleet's device registry provides,
// per device, the tunnel public key and the inner address assigned to it. Unknown keys are never
// accepted, so this is the whole access list.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "keel/result.h"
#include "keel/wg/engine.h"

namespace keel::gateway {

// An inner address: IPv4 (family 4, first 4 bytes) or IPv6 (family 6).
struct InnerAddr {
  uint8_t family = 0;
  uint8_t bytes[16] = {};
  bool matches_source(const uint8_t* ip_packet, size_t len) const;
};
bool parse_inner_addr(const std::string& text, InnerAddr& out);

struct DeviceTunnel {
  std::string device_id;
  wg::Key public_key{};
  InnerAddr address;
  bool has_psk = false;
  wg::Key psk{};
};

// Implemented by Fleet's device registry; the gateway calls it at start (and on reload).
class DeviceRegistry {
 public:
  virtual ~DeviceRegistry() = default;
  // Calls `each` for every device that may use the tunnel. An error names what and where.
  virtual Result<void, std::string> for_each(const std::function<void(const DeviceTunnel&)>& each) = 0;
};

// Interim registry: a JSON file, until the device registry provides the interface:
//   {"devices": [{"id": "dev-1", "public_key": "<base64>", "address": "10.64.0.2",
//                 "preshared_key": "<base64>" (optional)}, ...]}
// Every entry is validated (key text, address, duplicates); the first error aborts the load with
// "<file>: devices[<i>] (<id>): <problem>".
class JsonFileRegistry final : public DeviceRegistry {
 public:
  explicit JsonFileRegistry(std::string path) : path_(std::move(path)) {}
  Result<void, std::string> for_each(const std::function<void(const DeviceTunnel&)>& each) override;

 private:
  std::string path_;
};

// Parses registry JSON text (used by JsonFileRegistry; `origin` names the source in errors).
Result<void, std::string> parse_registry_json(const std::string& text, const std::string& origin,
                                              const std::function<void(const DeviceTunnel&)>& each);

}  // namespace keel::gateway

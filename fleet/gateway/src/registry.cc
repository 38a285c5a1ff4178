// Device registry: the interface's JSON-file implementation and inner-address helpers.
#include "keel/gateway/registry.h"

#include <arpa/inet.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "keel/wg/posix.h"

namespace keel::gateway {

bool InnerAddr::matches_source(const uint8_t* p, size_t len) const {
  if (family == 4) return len >= 20 && (p[0] >> 4) == 4 && std::memcmp(p + 12, bytes, 4) == 0;
  if (family == 6) return len >= 40 && (p[0] >> 4) == 6 && std::memcmp(p + 8, bytes, 16) == 0;
  return false;
}

bool parse_inner_addr(const std::string& text, InnerAddr& out) {
  out = {};
  if (inet_pton(AF_INET, text.c_str(), out.bytes) == 1) {
    out.family = 4;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), out.bytes) == 1) {
    out.family = 6;
    return true;
  }
  return false;
}

Result<void, std::string> parse_registry_json(const std::string& text, const std::string& origin,
                                              const std::function<void(const DeviceTunnel&)>& each) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Err{origin + ": not valid JSON"};
  if (!j.is_object() || !j.contains("devices") || !j["devices"].is_array())
    return Err{origin + ": expected an object with a \"devices\" array"};
  size_t i = 0;
  for (const auto& d : j["devices"]) {
    const std::string where = origin + ": devices[" + std::to_string(i++) + "]";
    if (!d.is_object()) return Err{where + ": expected an object"};
    for (auto it = d.begin(); it != d.end(); ++it) {
      const std::string& k = it.key();
      if (k != "id" && k != "public_key" && k != "address" && k != "preshared_key")
        return Err{where + ": unknown key \"" + k + "\" (expected id, public_key, address, preshared_key)"};
    }
    DeviceTunnel t;
    if (!d.contains("id") || !d["id"].is_string() || d["id"].get<std::string>().empty())
      return Err{where + ": \"id\" must be a non-empty string"};
    t.device_id = d["id"].get<std::string>();
    const std::string w = where + " (" + t.device_id + ")";
    if (!d.contains("public_key") || !d["public_key"].is_string() ||
        !wg::key_from_base64(d["public_key"].get<std::string>().c_str(), t.public_key))
      return Err{w + ": \"public_key\" must be a base64 32-byte key (wg genkey | wg pubkey format)"};
    if (!d.contains("address") || !d["address"].is_string() ||
        !parse_inner_addr(d["address"].get<std::string>(), t.address))
      return Err{w + ": \"address\" must be an IPv4 or IPv6 address"};
    if (d.contains("preshared_key")) {
      if (!d["preshared_key"].is_string() || !wg::key_from_base64(d["preshared_key"].get<std::string>().c_str(), t.psk))
        return Err{w + ": \"preshared_key\" must be a base64 32-byte key"};
      t.has_psk = true;
    }
    each(t);
  }
  return {};
}

Result<void, std::string> JsonFileRegistry::for_each(const std::function<void(const DeviceTunnel&)>& each) {
  std::ifstream in(path_);
  if (!in) return Err{path_ + ": cannot open"};
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_registry_json(ss.str(), path_, each);
}

}  // namespace keel::gateway

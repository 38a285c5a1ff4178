// A small synchronous HTTP/1.1 client for the Fleet JSON API (Boost.Beast, over plain TCP or
// TLS through Asio's OpenSSL stream), and the CLI's stored login (docs/cli.md, "Configuration").
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "error.h"

namespace keel::studio {

struct Endpoint {
  std::string host;
  std::string port;
  std::string base_path;  // without trailing '/', may be empty
  bool loopback = false;
  bool tls = false;  // https://
  [[nodiscard]] std::string origin() const;  // e.g. https://fleet.example:443
};

// Accepts http://host[:port][/base] (port 80 by default) and https://... (port 443).
Result<Endpoint> parse_url(const std::string& url);

// How an https:// Fleet's certificate is checked. Verification is always on: the chain must lead
// to a trusted CA and the certificate must be for the URL's host name (or IP address); TLS 1.2 is
// the minimum. There is deliberately no switch that turns verification off (docs/cli.md).
struct TlsOptions {
  // PEM file with the CA certificate(s) to trust instead of the system store
  // (/etc/ssl/certs); empty: the system store.
  std::string ca_file;
};

// Called with (bytes sent, total) while a body is being uploaded.
using Progress = std::function<void(uint64_t, uint64_t)>;

class FleetClient {
 public:
  FleetClient(Endpoint ep, std::string token, TlsOptions tls = {})
      : ep_(std::move(ep)), token_(std::move(token)), tls_(std::move(tls)) {}

  Result<nlohmann::json> get(const std::string& path);
  Result<nlohmann::json> post(const std::string& path, const nlohmann::json& body);
  Result<nlohmann::json> del(const std::string& path);
  // POST a body of another type (a device import's CSV or JSON file).
  Result<nlohmann::json> post_body(const std::string& path, const std::string& content_type, std::string_view body);
  Result<nlohmann::json> upload(const std::string& path, std::span<const uint8_t> body, const Progress& progress);

  // A websocket to `path` (the token as a bearer), e.g. a device console: what arrives on `in_fd`
  // passes through on_input (which may change it; false: close the websocket and stop) and is sent
  // as binary frames; what the server sends goes to on_output. Ends when the server closes (the
  // close code and reason are returned), or 0.5 s after `in_fd` ends. A refused upgrade is an
  // Error with the API's status and code.
  struct WsEnd {
    int close_code = 0;
    std::string reason;
    bool by_us = false;  // on_input asked to stop, or the input ended
  };
  Result<WsEnd> websocket(const std::string& path, int in_fd, const std::function<bool(std::string&)>& on_input,
                          const std::function<void(std::string_view)>& on_output);

  // GET a paginated list, following next_cursor; at most max_items items.
  Result<nlohmann::json> get_all(const std::string& path, size_t max_items = 100000);

  [[nodiscard]] const Endpoint& endpoint() const { return ep_; }

 private:
  // request(), and for a 403 answer to a token: the method and GET /auth/me's token_scope and role
  // added to the Error.
  Result<nlohmann::json> call(const std::string& method, const std::string& path, const std::string& content_type,
                              std::span<const uint8_t> body, const Progress* progress);
  Result<nlohmann::json> request(const std::string& method, const std::string& path, const std::string& content_type,
                                   std::span<const uint8_t> body, const Progress* progress);
  Endpoint ep_;
  std::string token_;
  TlsOptions tls_;
};

// ---- stored login --------------------------------------------------------------------------

struct Login {
  std::string url;
  std::string token;    // may be empty (studio mode needs none on loopback)
  std::string ca_file;  // absolute path of the CA file for an https:// URL; may be empty
};

// $KEEL_CONFIG, else $XDG_CONFIG_HOME/keel/config.json, else ~/.config/keel/config.json.
std::string config_path();
// Written atomically with mode 0600 (its directory created 0700).
Result<void> save_login(const Login& login);
// Refuses a config file that others can read (it holds a token).
Result<std::optional<Login>> load_login();

}  // namespace keel::studio

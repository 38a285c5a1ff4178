// Helpers for Fleet's tests: an in-process server on a free loopback port, a small HTTP client,
// a private PostgreSQL cluster, and signed test releases built with lib/release.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "keel/release/release.h"
#include "server/app.h"
#include "server/server.h"

namespace keel::fleet::testing {

struct Resp {
  int status = 0;
  std::string body;
  json j;  // parsed body when it is JSON, else null
  std::map<std::string, std::string> headers;  // lower-case names
  std::string header(const std::string& n) const {
    auto it = headers.find(n);
    return it == headers.end() ? "" : it->second;
  }
};

// One request per connection (simple, and exercises connection handling).
Resp http(uint16_t port, const std::string& method, const std::string& target, const std::string& body = {},
          const std::map<std::string, std::string>& headers = {}, const std::string& content_type = "application/json");

// Raw bytes in, raw response text out (malformed HTTP tests).
std::string raw_http(uint16_t port, const std::string& bytes);

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A throwaway PostgreSQL cluster (initdb in a temp dir, unix socket only), removed on destruction.
// Runs the server as the `postgres` user when the test runs as root (postgres refuses root).
class PgCluster {
 public:
  PgCluster();
  ~PgCluster();
  // Creates a fresh database and returns its connection string.
  std::string create_database();
  std::string conninfo(const std::string& db) const;

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  int counter_ = 0;
  bool as_postgres_ = false;
  std::string run(const std::string& cmd) const;
};

// An App + HttpServer on 127.0.0.1:<free port>.
class TestServer {
 public:
  explicit TestServer(Config cfg);
  ~TestServer();
  static Config studio_config(const std::filesystem::path& dir);
  static Config fleet_config(const std::filesystem::path& dir, const std::string& conninfo);
  uint16_t port() const { return port_; }
  App& app() { return *app_; }
  Resp call(const std::string& method, const std::string& target, const json& body = nullptr,
            const std::map<std::string, std::string>& headers = {}) const;

 private:
  std::unique_ptr<App> app_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};

// Signed releases for tests.
keel::release::PrivateKey test_key(uint8_t seed);
std::string public_key_text(const keel::release::PrivateKey& k);
std::vector<uint8_t> make_release(const std::string& name, const std::string& version,
                                  const std::vector<keel::release::PrivateKey>& signers, size_t component_size = 64);
std::string as_string(const std::vector<uint8_t>& v);
std::string random_key_b64();

}  // namespace keel::fleet::testing

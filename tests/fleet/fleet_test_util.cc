#include "fleet_test_util.h"

#include <sodium.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>

#include "keel/release/keys.h"

namespace keel::fleet::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace fs = std::filesystem;
namespace rel = keel::release;

Resp http(uint16_t port, const std::string& method, const std::string& target, const std::string& body,
          const std::map<std::string, std::string>& headers, const std::string& content_type) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(port));
  if (!body.empty()) req.set(bhttp::field::content_type, content_type);
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  bhttp::write(stream, req);
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(1u << 30);
  bhttp::read(stream, buf, parser);
  auto res = parser.release();
  Resp r;
  r.status = static_cast<int>(res.result_int());
  r.body = res.body();
  for (const auto& f : res) {
    std::string k(f.name_string());
    std::transform(k.begin(), k.end(), k.begin(), ::tolower);
    r.headers[k] = std::string(f.value());
  }
  if (res[bhttp::field::content_type].starts_with("application/json")) r.j = json::parse(r.body, nullptr, false);
  beast::error_code ec;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  return r;
}

std::string raw_http(uint16_t port, const std::string& bytes) {
  asio::io_context ioc;
  asio::ip::tcp::socket s(ioc);
  s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(s, asio::buffer(bytes));
  s.shutdown(asio::ip::tcp::socket::shutdown_send);
  std::string out;
  char buf[4096];
  boost::system::error_code ec;
  for (;;) {
    size_t n = s.read_some(asio::buffer(buf), ec);
    if (ec) break;
    out.append(buf, n);
  }
  return out;
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "keel-fleet-test-XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  if (!p) throw std::runtime_error("mkdtemp failed");
  path_ = p;
}
TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

// ---- PostgreSQL ----

namespace {
const char* kPgBin = "/usr/lib/postgresql/15/bin";
}

std::string PgCluster::run(const std::string& cmd) const {
  std::string full = as_postgres_ ? "runuser -u postgres -- " + cmd : cmd;
  full += " 2>&1";
  FILE* f = popen(full.c_str(), "r");
  if (!f) throw std::runtime_error("popen failed");
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  int rc = pclose(f);
  if (rc != 0) throw std::runtime_error("command failed: " + full + "\n" + out);
  return out;
}

PgCluster::PgCluster() {
  as_postgres_ = geteuid() == 0;
  std::string tmpl = (fs::temp_directory_path() / "keel-fleet-pg-XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  if (!p) throw std::runtime_error("mkdtemp failed");
  dir_ = p;
  if (as_postgres_) {
    std::string c = "chown postgres: " + dir_.string();
    if (std::system(c.c_str()) != 0) throw std::runtime_error("cannot chown the PostgreSQL temp dir");
  }
  std::mt19937 rng(static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count() ^ getpid()));
  port_ = 20000 + static_cast<int>(rng() % 30000);
  run(std::string(kPgBin) + "/initdb -D " + dir_.string() + "/data -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8");
  // Unix socket only (listen_addresses ''), in the temp dir; fsync off: throwaway data.
  run(std::string(kPgBin) + "/pg_ctl -D " + dir_.string() + "/data -w -t 60 -l " + dir_.string() +
      "/log -o \"-k " + dir_.string() + " -p " + std::to_string(port_) +
      " -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start");
}

PgCluster::~PgCluster() {
  try {
    run(std::string(kPgBin) + "/pg_ctl -D " + dir_.string() + "/data -m immediate -w stop");
  } catch (...) {
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string PgCluster::conninfo(const std::string& db) const {
  return "host=" + dir_.string() + " port=" + std::to_string(port_) + " user=postgres dbname=" + db;
}

std::string PgCluster::create_database() {
  std::string name = "t" + std::to_string(++counter_);
  auto db = open_postgres(conninfo("postgres"));
  db->exec_script("CREATE DATABASE " + name);
  return conninfo(name);
}

// ---- server ----

Config TestServer::studio_config(const fs::path& dir) {
  Config c;
  c.mode = Mode::studio;
  c.data_dir = dir;
  c.threads = 2;
  c.pwhash_ops = crypto_pwhash_OPSLIMIT_MIN;
  c.pwhash_mem = crypto_pwhash_MEMLIMIT_MIN;
  return c;
}

Config TestServer::fleet_config(const fs::path& dir, const std::string& conninfo) {
  Config c = studio_config(dir);
  c.mode = Mode::fleet;
  c.database = conninfo;
  return c;
}

TestServer::TestServer(Config cfg) {
  app_ = std::make_unique<App>(std::move(cfg));
  app_->recover();
  server_ = std::make_unique<HttpServer>(*app_);
  port_ = server_->listen("127.0.0.1", 0);
  server_->start(2);
}

TestServer::~TestServer() {
  server_->stop();
  server_.reset();
  app_.reset();
}

Resp TestServer::call(const std::string& method, const std::string& target, const json& body,
                      const std::map<std::string, std::string>& headers) const {
  return http(port_, method, target, body.is_null() ? std::string() : body.dump(), headers);
}

// ---- releases ----

rel::PrivateKey test_key(uint8_t seed) {
  std::vector<uint8_t> s(32, seed);
  return rel::PrivateKey::from_secret(rel::KeyKind::kSigning, s, "fleet test key").value();
}

std::string public_key_text(const rel::PrivateKey& k) { return rel::format_public_key(k.public_key()); }

std::vector<uint8_t> make_release(const std::string& name, const std::string& version,
                                  const std::vector<rel::PrivateKey>& signers, size_t component_size) {
  rel::ReleaseInput in;
  in.system_name = name;
  in.system_version = version;
  in.created_at = 1790000000;
  in.build_id = "test-build";
  in.manifest = "[system]\nname = \"" + name + "\"\nversion = \"" + version + "\"\n";
  in.summary.parsed = true;
  in.summary.components = {"logger", "sensor"};
  in.summary.channels = {{"readings", "sensor.out", "logger.in", "stream"}};
  in.summary.configurable = {{"logger", "verbose", rel::ConfigType::kBool},
                             {"sensor", "label", rel::ConfigType::kString},
                             {"sensor", "rate_hz", rel::ConfigType::kInteger}};
  std::vector<uint8_t> img(component_size);
  for (size_t k = 0; k < img.size(); ++k) img[k] = static_cast<uint8_t>(k * 7 + version.size());
  in.components.push_back({"sensor", img, rel::HashAlg::kSha256});
  in.components.push_back({"logger", std::vector<uint8_t>(img.rbegin(), img.rend()), rel::HashAlg::kBlake2b256});
  auto built = rel::build_release(in);
  if (!built) throw std::runtime_error("build_release: " + built.error().describe());
  auto file = std::move(built).value();
  for (const auto& k : signers) {
    auto s = rel::add_signature(file, k);
    if (!s) throw std::runtime_error("add_signature: " + s.error().describe());
    file = std::move(s).value();
  }
  return file;
}

std::string as_string(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

std::string random_key_b64() {
  std::vector<uint8_t> b(32);
  randombytes_buf(b.data(), b.size());
  return rel::base64_encode(b);
}

}  // namespace keel::fleet::testing

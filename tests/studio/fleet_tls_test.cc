// The `keel` CLI against a real keel-fleet (studio mode, loopback) behind a TLS-terminating proxy
// written here with Asio, as in a real deployment (docs/operations.md). The test makes a
// throwaway CA and server certificates with the OpenSSL API: good, for another host name,
// expired, and one signed by a CA the client does not know. Also: `keel fleet device serial` /
// `trace` (plain and over TLS, with --follow).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <fcntl.h>
#include <signal.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli_runner.h"
#include "fleet_client.h"

namespace keel::studio::testing {
namespace {

using nlohmann::json;
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// ---- certificates ---------------------------------------------------------------------------

struct KeyCert {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  KeyCert() = default;
  KeyCert(const KeyCert&) = delete;
  KeyCert& operator=(const KeyCert&) = delete;
  ~KeyCert() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

void add_ext(X509* x, X509* issuer, int nid, const char* value) {
  X509V3_CTX v;
  X509V3_set_ctx(&v, issuer, x, nullptr, nullptr, 0);
  X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &v, nid, value);
  ASSERT_NE(e, nullptr) << value;
  X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
}

// A CA (issuer == nullptr: self-signed) or a server certificate for `san` signed by `issuer`,
// valid from now + not_before_s to now + not_after_s.
void make_cert(KeyCert& out, const std::string& cn, const KeyCert* issuer, const std::string& san, long not_before_s,
               long not_after_s) {
  static int serial = 1;
  out.key = EVP_EC_gen("P-256");
  ASSERT_NE(out.key, nullptr);
  out.cert = X509_new();
  X509* x = out.cert;
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(x), not_after_s);
  X509_set_pubkey(x, out.key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert) : name);
  X509* iss = issuer ? issuer->cert : x;
  if (!issuer) {
    add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x, iss, NID_basic_constraints, "CA:FALSE");
    add_ext(x, iss, NID_ext_key_usage, "serverAuth");
    add_ext(x, iss, NID_subject_alt_name, san.c_str());
  }
  ASSERT_GT(X509_sign(x, issuer ? issuer->key : out.key, EVP_sha256()), 0);
}

void write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  if (cert) PEM_write_X509(f, cert);
  if (key) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

// ---- a TLS-terminating proxy in front of keel-fleet's plain port ------------------------------

class TlsProxy {
 public:
  // max_version: e.g. TLS1_1_VERSION for a server too old for the client; 0: OpenSSL's default.
  TlsProxy(const std::string& cert_file, const std::string& key_file, const std::string& backend_port,
           int max_version = 0, uint16_t listen_port = 0)
      : ctx_(ssl::context::tls_server),
        acceptor_(ioc_, tcp::endpoint(asio::ip::address_v4::loopback(), listen_port)),
        backend_port_(static_cast<uint16_t>(std::stoi(backend_port))) {
    if (max_version) {
      SSL_CTX_set_security_level(ctx_.native_handle(), 0);  // allow the old versions on this side
      SSL_CTX_set_min_proto_version(ctx_.native_handle(), TLS1_VERSION);
      SSL_CTX_set_max_proto_version(ctx_.native_handle(), max_version);
    }
    ctx_.use_certificate_chain_file(cert_file);
    ctx_.use_private_key_file(key_file, ssl::context::pem);
    // Not inherited by the keel processes the test starts: a child holding the listening socket
    // would keep the port "open" (connections queued, never answered) after the proxy is gone.
    ::fcntl(acceptor_.native_handle(), F_SETFD, FD_CLOEXEC);
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~TlsProxy() {
    ioc_.stop();
    thread_.join();
  }
  TlsProxy(const TlsProxy&) = delete;
  TlsProxy& operator=(const TlsProxy&) = delete;
  [[nodiscard]] std::string port() const { return std::to_string(acceptor_.local_endpoint().port()); }

  std::atomic<int> connections{0}, handshakes_ok{0}, handshakes_failed{0};
  std::atomic<size_t> request_bytes{0};  // decrypted bytes from clients (HTTP requests)

 private:
  struct Session : std::enable_shared_from_this<Session> {
    Session(tcp::socket s, ssl::context& ctx, TlsProxy& p) : client(std::move(s), ctx), backend(p.ioc_), proxy(p) {}
    ssl::stream<tcp::socket> client;
    tcp::socket backend;
    TlsProxy& proxy;
    std::array<char, 16384> up{}, down{};

    void start() {
      auto self = shared_from_this();
      client.async_handshake(ssl::stream_base::server, [self](boost::system::error_code ec) {
        if (ec) {
          ++self->proxy.handshakes_failed;
          return;
        }
        ++self->proxy.handshakes_ok;
        self->backend.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), self->proxy.backend_port_),
                                    [self](boost::system::error_code ec2) {
                                      if (ec2) return self->close();
                                      self->pipe_up();
                                      self->pipe_down();
                                    });
      });
    }
    void close() {
      boost::system::error_code ignored;
      client.lowest_layer().close(ignored);
      backend.close(ignored);
    }
    void pipe_up() {
      auto self = shared_from_this();
      client.async_read_some(asio::buffer(up), [self](boost::system::error_code ec, size_t n) {
        if (ec) {
          boost::system::error_code ignored;
          self->backend.shutdown(tcp::socket::shutdown_send, ignored);
          return;
        }
        self->proxy.request_bytes += n;
        asio::async_write(self->backend, asio::buffer(self->up.data(), n),
                          [self](boost::system::error_code ec2, size_t) {
                            if (ec2) return self->close();
                            self->pipe_up();
                          });
      });
    }
    void pipe_down() {
      auto self = shared_from_this();
      backend.async_read_some(asio::buffer(down), [self](boost::system::error_code ec, size_t n) {
        if (ec) return self->close();
        asio::async_write(self->client, asio::buffer(self->down.data(), n),
                          [self](boost::system::error_code ec2, size_t) {
                            if (ec2) return self->close();
                            self->pipe_down();
                          });
      });
    }
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      ++connections;
      std::make_shared<Session>(std::move(s), ctx_, *this)->start();
      accept();
    });
  }

  asio::io_context ioc_;
  ssl::context ctx_;
  tcp::acceptor acceptor_;
  uint16_t backend_port_;
  std::thread thread_;
};

constexpr const char* kManifest = kPlantManifest;

class FleetTls : public ::testing::Test {
 protected:
  void SetUp() override {
    fleet_.start(KEEL_FLEET, dir);
    port_ = fleet_.port;
    ASSERT_FALSE(port_.empty()) << "keel-fleet did not start: " << read_text(dir / "fleet.log");
    url_ = fleet_.url;

    make_cert(ca_, "Keel Test CA", nullptr, "", -3600, 86400);
    make_cert(other_ca_, "Some Other CA", nullptr, "", -3600, 86400);
    make_cert(good_, "fleet", &ca_, "DNS:localhost,IP:127.0.0.1", -3600, 86400);
    make_cert(wrong_name_, "other", &ca_, "DNS:fleet.other.example", -3600, 86400);
    make_cert(expired_, "fleet", &ca_, "DNS:localhost,IP:127.0.0.1", -86400 * 2, -86400);
    make_cert(unknown_ca_, "fleet", &other_ca_, "DNS:localhost,IP:127.0.0.1", -3600, 86400);
    write_pem(dir / "ca.pem", ca_.cert, nullptr);
    write_pem(dir / "other-ca.pem", other_ca_.cert, nullptr);
    for (auto [name, kc] : {std::pair{"good", &good_}, {"wrong-name", &wrong_name_}, {"expired", &expired_},
                            {"unknown-ca", &unknown_ca_}}) {
      write_pem(dir / (std::string(name) + ".crt"), kc->cert, nullptr);
      write_pem(dir / (std::string(name) + ".key"), nullptr, kc->key);
    }
  }

  std::unique_ptr<TlsProxy> proxy(const std::string& name, int max_version = 0, uint16_t listen_port = 0) {
    return std::make_unique<TlsProxy>(dir / (name + ".crt"), dir / (name + ".key"), port_, max_version, listen_port);
  }

  RunResult keel(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
    env["KEEL_CONFIG"] = dir / "config.json";
    env["HOME"] = dir.path();
    return run_program(KEEL_CLI, args, dir.path(), env);
  }
  RunResult ok(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
    auto r = keel(args, std::move(env));
    EXPECT_EQ(r.status, 0) << "keel " << (args.empty() ? "" : args[0]) << " failed:\n" << r.out << r.err;
    return r;
  }
  json ok_json(std::vector<std::string> args) {
    args.push_back("--json");
    auto r = ok(args);
    auto j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }
  void expect_fail(const RunResult& r, const std::vector<std::string>& needles) {
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    for (const auto& n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << "no '" << n << "' in: " << r.err;
  }
  // The device-report endpoint a device link (later) or a bench rig uses.
  void post(const std::string& path, const json& body) {
    FleetClient c(parse_url(url_).value(), "");
    auto r = c.post(path, body);
    ASSERT_TRUE(r.ok()) << r.error().describe();
  }
  int64_t make_device() {
    ok({"key", "generate", "--kind", "tunnel", "-o", "t.key", "--force"});
    ok({"key", "generate", "--kind", "device", "-o", "d.key", "--force"});
    int64_t p = ok_json({"fleet", "project", "create", "--name", "p" + std::to_string(++n_), "--url", url_})["id"].get<int64_t>();
    int64_t d = ok_json({"fleet", "deployment", "create", "--project", std::to_string(p), "--name", "site", "--url", url_})["id"]
                    .get<int64_t>();
    return ok_json({"fleet", "device", "register", "--deployment", std::to_string(d), "--name", "pump", "--tunnel-key", "t.pub",
                    "--identity-key", "d.pub", "--url", url_})["id"]
        .get<int64_t>();
  }

  TempDir dir;
  StudioFleet fleet_;
  std::string port_, url_;
  KeyCert ca_, other_ca_, good_, wrong_name_, expired_, unknown_ca_;
  int n_ = 0;
};

TEST_F(FleetTls, LoginStatusDevicesAndUploadOverHttpsWithCaFile) {
  auto px = proxy("good");
  std::string https = "https://localhost:" + px->port();
  auto login = ok({"fleet", "login", "--url", https, "--ca-file", "ca.pem"});
  EXPECT_NE(login.out.find("logged in to " + https), std::string::npos) << login.out;
  // The login remembers the CA (as an absolute path), so later commands need no flag.
  auto cfg = json::parse(read_text(dir / "config.json"));
  EXPECT_EQ(cfg["url"], https);
  EXPECT_EQ(cfg["ca_file"], dir / "ca.pem");
  auto st = ok({"fleet", "status"});
  // An explicit --url naming the stored Fleet also finds its stored CA.
  ok({"fleet", "device", "list", "--url", https});
  EXPECT_NE(st.out.find("Fleet " + https), std::string::npos) << st.out;
  EXPECT_EQ(st.err.find("warning"), std::string::npos) << st.err;

  // A project, a trusted key, a device and a 2 MiB release upload with progress, all through TLS.
  int64_t p = ok_json({"fleet", "project", "create", "--name", "plant"})["id"].get<int64_t>();
  ok({"key", "generate", "-o", "dev.key"});
  ok({"fleet", "key", "add", "--project", std::to_string(p), "dev.pub"});
  int64_t d = ok_json({"fleet", "deployment", "create", "--project", std::to_string(p), "--name", "a"})["id"].get<int64_t>();
  ok({"key", "generate", "--kind", "tunnel", "-o", "t.key"});
  ok({"key", "generate", "--kind", "device", "-o", "d.key"});
  ok({"fleet", "device", "register", "--deployment", std::to_string(d), "--name", "pump-1", "--tunnel-key", "t.pub",
      "--identity-key", "d.pub"});
  auto ls = ok({"fleet", "device", "list"});
  EXPECT_NE(ls.out.find("pump-1"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("1 device(s)"), std::string::npos) << ls.out;
  write_bytes(dir / "m.toml", kManifest);
  write_bytes(dir / "pump.elf", fake_elf(std::string(2 << 20, 'x')));
  ok({"release", "pack", "m.toml", "-o", "r.krel", "--created-at", "1"});
  ok({"release", "sign", "r.krel", "-k", "dev.key"});
  auto up = ok({"fleet", "release", "upload", "r.krel", "--project", std::to_string(p)});
  EXPECT_NE(up.err.find("uploading r.krel: 100%"), std::string::npos) << up.err;
  EXPECT_NE(up.out.find("uploaded release"), std::string::npos) << up.out;
  // The same through the IP address (verified against the certificate's IP SAN) and the
  // environment variable instead of the stored CA.
  auto list = ok({"fleet", "release", "list", "--url", "https://127.0.0.1:" + px->port()},
                 {{"KEEL_FLEET_CA_FILE", dir / "ca.pem"}});
  EXPECT_NE(list.out.find("plant"), std::string::npos) << list.out;
  EXPECT_GT(px->request_bytes.load(), size_t{2} << 20);
}

TEST_F(FleetTls, UntrustedCertificateIsRefusedAndTheTokenNeverLeaves) {
  auto px = proxy("good");
  std::string https = "https://localhost:" + px->port();
  // No --ca-file: the system store does not know the test CA.
  expect_fail(keel({"fleet", "login", "--url", https, "--token", "keel_secret_token"}),
              {"localhost:" + px->port(), "certificate verify failed", "--ca-file", "Nothing was sent"});
  // A CA file with another CA in it.
  expect_fail(keel({"fleet", "device", "list", "--url", https, "--token", "keel_secret_token", "--ca-file", "other-ca.pem"}),
              {"certificate verify failed", "other-ca.pem"});
  EXPECT_GE(px->handshakes_failed.load(), 2);  // the client did reach the proxy...
  EXPECT_EQ(px->handshakes_ok.load(), 0);
  EXPECT_EQ(px->request_bytes.load(), 0u);  // ...and sent no HTTP request, so no token
  EXPECT_FALSE(std::filesystem::exists(dir / "config.json"));

  // A server certificate from a CA the client does not trust, even with our CA given.
  auto px2 = proxy("unknown-ca");
  expect_fail(keel({"fleet", "status", "--url", "https://localhost:" + px2->port(), "--ca-file", "ca.pem"}),
              {"certificate verify failed"});
  EXPECT_EQ(px2->request_bytes.load(), 0u);
}

TEST_F(FleetTls, WrongHostNameAndExpiredCertificatesAreRefused) {
  auto px = proxy("wrong-name");
  expect_fail(keel({"fleet", "status", "--url", "https://localhost:" + px->port(), "--ca-file", "ca.pem"}),
              {"certificate verify failed", "hostname mismatch", "not issued for 'localhost'"});
  expect_fail(keel({"fleet", "status", "--url", "https://127.0.0.1:" + px->port(), "--ca-file", "ca.pem"}),
              {"certificate verify failed", "IP address mismatch", "not issued for '127.0.0.1'"});
  EXPECT_EQ(px->request_bytes.load(), 0u);

  auto ex = proxy("expired");
  expect_fail(keel({"fleet", "status", "--url", "https://localhost:" + ex->port(), "--ca-file", "ca.pem"}),
              {"certificate verify failed", "certificate has expired"});
  EXPECT_EQ(ex->request_bytes.load(), 0u);
}

TEST_F(FleetTls, ServerWithoutTls12IsRefused) {
  // Only TLS 1.0/1.1 on the server side: the client (minimum TLS 1.2) must not talk to it.
  // The client runs with an OpenSSL configuration that would allow TLS 1.0 (Debian's default
  // security level already refuses it), so what refuses here is keel's own TLS 1.2 minimum.
  write_bytes(dir / "openssl-old.cnf", "openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\n"
                                       "system_default = sys\n[sys]\nMinProtocol = TLSv1\n"
                                       "CipherString = DEFAULT:@SECLEVEL=0\n");
  auto px = proxy("good", TLS1_1_VERSION);
  expect_fail(keel({"fleet", "status", "--url", "https://localhost:" + px->port(), "--ca-file", "ca.pem", "--token", "t"},
                   {{"OPENSSL_CONF", dir / "openssl-old.cnf"}}),
              {"TLS connection to localhost:" + px->port() + " refused", "handshake failed", "TLS 1.2"});
  EXPECT_EQ(px->handshakes_ok.load(), 0);
  EXPECT_EQ(px->request_bytes.load(), 0u);
  // The same proxy with TLS 1.2 allowed works (the test's server side is otherwise sound).
  auto ok12 = proxy("good", TLS1_2_VERSION);
  ok({"fleet", "status", "--url", "https://localhost:" + ok12->port(), "--ca-file", "ca.pem"});
}

TEST_F(FleetTls, BadCaFilesAndPlainHttpWarnings) {
  auto px = proxy("good");
  std::string https = "https://localhost:" + px->port();
  expect_fail(keel({"fleet", "status", "--url", https, "--ca-file", "missing.pem"}), {"CA file", "missing.pem", "does not exist"});
  write_bytes(dir / "junk.pem", "not a certificate\n");
  expect_fail(keel({"fleet", "status", "--url", https, "--ca-file", "junk.pem"}), {"CA file", "junk.pem", "PEM"});
  EXPECT_EQ(px->request_bytes.load(), 0u);
  // A token over plain http:// to a host not known as loopback still warns. The IPv4-mapped form
  // of 127.0.0.1 keeps the test on loopback while the CLI cannot tell it is.
  auto r = keel({"fleet", "status", "--url", "http://[::ffff:127.0.0.1]:" + port_, "--token", "t"});
  EXPECT_NE(r.err.find("the API token is sent unencrypted over http://"), std::string::npos) << r.err;
  auto lo = keel({"fleet", "status", "--url", url_, "--token", "t"});
  EXPECT_EQ(lo.err.find("unencrypted"), std::string::npos) << lo.err;  // loopback: no warning
  // Over https:// the token is protected: no warning (the request goes through the proxy).
  auto tls = keel({"fleet", "status", "--url", "https://localhost:" + px->port(), "--ca-file", "ca.pem", "--token", "t"});
  EXPECT_EQ(tls.err.find("unencrypted"), std::string::npos) << tls.err;
}

// ---- keel fleet device serial / trace -------------------------------------------------------

TEST_F(FleetTls, SerialAndTraceShowWhatTheDeviceSaid) {
  int64_t dev = make_device();
  std::string D = std::to_string(dev);
  post("/api/v1/devices/" + D + "/serial", {{"lines", {"boot: keel 0.1", "root: 4 components started", "pump: ready"}}});
  post("/api/v1/devices/" + D + "/trace",
       {{"events", {{{"component", "sensor"}, {"event", "restart"}, {"data", {{"reason", "fault"}}}},
                    {{"event", "boot"}}}}});

  auto all = ok({"fleet", "device", "serial", D, "--url", url_});
  size_t a = all.out.find("boot: keel 0.1"), b = all.out.find("root: 4 components started"),
         c = all.out.find("pump: ready");
  ASSERT_NE(a, std::string::npos) << all.out;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_NE(c, std::string::npos);
  EXPECT_NE(all.out.find("Z  boot: keel 0.1"), std::string::npos) << all.out;  // time stamp first

  auto tail = ok({"fleet", "device", "serial", D, "--tail", "2", "--url", url_});
  EXPECT_EQ(tail.out.find("boot: keel"), std::string::npos) << tail.out;
  EXPECT_NE(tail.out.find("root: 4"), std::string::npos);
  EXPECT_LT(tail.out.find("root: 4"), tail.out.find("pump: ready"));

  auto js = ok({"fleet", "device", "serial", D, "--json", "--url", url_});
  std::istringstream lines(js.out);
  std::string line;
  std::vector<json> entries;
  while (std::getline(lines, line)) entries.push_back(json::parse(line));
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[2]["text"], "pump: ready");

  EXPECT_EQ(ok({"fleet", "device", "serial", D, "--tail", "0", "--url", url_}).out, "");
  EXPECT_EQ(ok({"fleet", "device", "serial", D, "--since", "1h", "--url", url_}).out, all.out);
  EXPECT_EQ(ok({"fleet", "device", "serial", D, "--since", "2099-01-01T00:00:00Z", "--url", url_}).out, "");

  auto tr = ok({"fleet", "device", "trace", D, "--url", url_});
  EXPECT_NE(tr.out.find("sensor  restart  {\"reason\":\"fault\"}"), std::string::npos) << tr.out;
  EXPECT_NE(tr.out.find("(system)  boot"), std::string::npos) << tr.out;

  expect_fail(keel({"fleet", "device", "serial", D, "--since", "yesterday", "--url", url_}), {"--since 'yesterday'"});
  expect_fail(keel({"fleet", "device", "trace", "999999", "--url", url_}), {"Fleet answered 404"});
}

TEST_F(FleetTls, SerialFollowOverHttpsPrintsNewLinesUntilInterrupted) {
  int64_t dev = make_device();
  std::string D = std::to_string(dev);
  post("/api/v1/devices/" + D + "/serial", {{"lines", {"old line"}}});
  auto px = proxy("good");
  Spawned follow(KEEL_CLI,
                 {"fleet", "device", "serial", D, "--follow", "--interval", "0.1", "--url", "https://localhost:" + px->port(),
                  "--ca-file", dir / "ca.pem"},
                 dir / "follow.log");
  EXPECT_NE(follow.first_line(10000).find("old line"), std::string::npos) << read_text(dir / "follow.log");
  post("/api/v1/devices/" + D + "/serial", {{"lines", {"new line 1", "new line 2"}}});
  EXPECT_NE(follow.first_line(10000).find("new line 1"), std::string::npos) << read_text(dir / "follow.log");
  EXPECT_NE(follow.first_line(10000).find("new line 2"), std::string::npos);
  post("/api/v1/devices/" + D + "/trace", {{"events", {{{"event", "not-serial"}}}}});
  post("/api/v1/devices/" + D + "/serial", {{"lines", {"new line 3"}}});
  EXPECT_NE(follow.first_line(10000).find("new line 3"), std::string::npos);
  // Ctrl-C ends the follow cleanly: stdout closes, nothing more was printed.
  ::kill(follow.pid(), SIGINT);
  EXPECT_EQ(follow.first_line(5000), "");
  EXPECT_EQ(read_text(dir / "follow.log"), "");
  EXPECT_GE(px->handshakes_ok.load(), 3);  // one TLS connection per request
}

TEST_F(FleetTls, FollowSurvivesTheFleetGoingAwayForAWhile) {
  int64_t dev = make_device();
  std::string D = std::to_string(dev);
  auto px = proxy("good");
  std::string port = px->port();
  Spawned follow(KEEL_CLI,
                 {"fleet", "device", "trace", D, "--follow", "--interval", "0.1", "--url", "https://localhost:" + port,
                  "--ca-file", dir / "ca.pem"},
                 dir / "follow.log");
  post("/api/v1/devices/" + D + "/trace", {{"events", {{{"component", "pump"}, {"event", "started"}}}}});
  EXPECT_NE(follow.first_line(10000).find("pump  started"), std::string::npos) << read_text(dir / "follow.log");
  px.reset();  // the proxy goes away: connections are refused
  for (int i = 0; i < 100 && read_text(dir / "follow.log").find("still trying") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_NE(read_text(dir / "follow.log").find("still trying; Ctrl-C to stop"), std::string::npos)
      << read_text(dir / "follow.log");
  post("/api/v1/devices/" + D + "/trace", {{"events", {{{"component", "pump"}, {"event", "stopped"}}}}});
  px = proxy("good", 0, static_cast<uint16_t>(std::stoi(port)));  // back on the same port
  EXPECT_NE(follow.first_line(10000).find("pump  stopped"), std::string::npos) << read_text(dir / "follow.log");
  EXPECT_NE(read_text(dir / "follow.log").find("Fleet reachable again"), std::string::npos);
  ::kill(follow.pid(), SIGINT);
  EXPECT_EQ(follow.first_line(5000), "");
}

}  // namespace
}  // namespace keel::studio::testing

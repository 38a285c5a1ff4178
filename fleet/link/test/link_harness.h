// The device link tests' harness (link_test.cc, streams_test.cc): simulated devices made of keel_wg
// (the WireGuard engine on a UDP socket) + keel_control client sessions with real Ed25519 identity
// keys, and the in-process Fleet fixture (TestServer in studio mode + FleetLink).
#pragma once
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sodium.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "fleet_test_util.h"
#include "keel/control/auth.h"
#include "keel/control/session.h"
#include "keel/link/fleet_link.h"
#include "keel/wg/posix.h"
#include "store/db.h"

namespace keel::link {
namespace {  // each test file its own copy

using namespace std::chrono_literals;
using Buf = std::vector<uint8_t>;
using nlohmann::json;
namespace ctl = keel::control;

std::string b64(const uint8_t* p, size_t n) {
  std::vector<char> t(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL));
  sodium_bin2base64(t.data(), t.size(), p, n, sodium_base64_VARIANT_ORIGINAL);
  return t.data();
}

wg::Key random_wg_key() {
  wg::Key k;
  randombytes_buf(k.data(), k.size());
  wg::clamp(k);
  return k;
}

struct Identity {
  uint8_t pk[32], sk[64];
  Identity() { crypto_sign_keypair(pk, sk); }
};

class KeySigner final : public ctl::Signer {
 public:
  explicit KeySigner(const Identity& id) : id_(id) {}
  bool sign(ctl::Bytes t, uint8_t sig[ctl::kSigLen]) override {
    crypto_sign_detached(sig, nullptr, t.data(), t.size(), id_.sk);
    return true;
  }

 private:
  const Identity& id_;
};

class TestClock final : public ctl::Clock {
 public:
  uint64_t now_ns() override {
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count());
  }
};
class TestRandom final : public ctl::Random {
 public:
  void fill(ctl::MutBytes out) override { randombytes_buf(out.data(), out.size()); }
};

// A device: WireGuard to the gateway, a control session inside, and the agent's side of the
// messages (HELLO with a chosen identity, AUTH signed by a chosen key, commands recorded).
class Device final : public wg::Sink {
 public:
  Device(const wg::Key& priv, const wg::Key& gw_pub, uint16_t gw_port, const std::string& inner)
      : priv_(priv), engine_(priv, wclock_, wrng_, dir_, wpool_, {}) {
    dir_.add(peer);
    wg::Endpoint gw_ep;
    EXPECT_TRUE(wg::parse_endpoint(("127.0.0.1:" + std::to_string(gw_port)).c_str(), gw_ep));
    EXPECT_TRUE(engine_.init_peer(peer, gw_pub, nullptr).ok());
    gw_pub_ = gw_pub;
    peer.endpoint = gw_ep;
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    inet_pton(AF_INET, inner.c_str(), inner_);
    inet_pton(AF_INET, "10.64.0.1", fleet_);
    ctx_.timing.keepalive = 0;
  }
  ~Device() override {
    s.reset();
    close(fd_);
  }

  // wg::Sink
  void send(wg::Peer*, const wg::Endpoint& to, wg::Bytes d) override {
    sockaddr_storage ss;
    const socklen_t len = wg::endpoint_to_sockaddr(to, ss);
    (void)sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
  }
  void deliver(wg::Peer&, wg::MutBytes p) override {
    if (p.size() < 28 || p[9] != 17) return;
    const size_t total = size_t(p[2]) << 8 | p[3];
    if (total > p.size() || total < 28) return;
    ++ip_packets;
    if (s) (void)s->receive({p.data() + 28, total - 28}, ctl::Address{});
  }

  // Handshakes of one key within the gateway's replay granularity (TAI64N timestamps are
  // coarsened) are refused as replays: a new device object for the same key retries a few times.
  bool connect() {
    for (int i = 0; i < 10; ++i) {
      engine_.initiate(peer, *this, true);
      if (pump_until([&] { return peer.current != nullptr; }, 300ms)) return true;
    }
    return false;
  }

  // A new control session (new id): HELLO claiming `claimed` identity, AUTH signed by `signer`.
  void start_session(const Identity& claimed, const Identity& signer_key, uint64_t sid = 0, bool hello = true) {
    if (!sid) randombytes_buf(&sid, sizeof sid);
    sid |= 1;
    s.reset();
    extra.clear();
    outq.clear();
    s = std::make_unique<ctl::Session>(ctx_, ctl::Role::Client, sid);
    wg::Key my_pub;
    wg::public_from_private(my_pub, priv_);
    auth = std::make_unique<ctl::AuthClient>(sid, my_pub.data(), gw_pub_.data(), claimed.pk);
    signer = std::make_unique<KeySigner>(signer_key);
    in.clear();
    authed = false;
    fail_code = 0;
    ASSERT_TRUE(s->open_stream().ok());
    out.clear();
    if (!hello) return;
    uint8_t buf[128];
    auto n = ctl::encode(auth->hello(ctl::kCapSerial | ctl::kCapTrace), buf);
    ASSERT_TRUE(n.ok());
    write({buf, n.value()});
  }

  void write(ctl::Bytes m) {
    out.insert(out.end(), m.begin(), m.end());
    flush();
  }
  // A message on another stream (a console Fleet opened, a proxy this device opened).
  void write_on(uint64_t id, ctl::Bytes m, bool fin = false) {
    auto& q = outq[id];
    q.bytes.insert(q.bytes.end(), m.begin(), m.end());
    q.fin = q.fin || fin;
    flush();
  }
  // Opens a proxy stream: PROXY_OPEN(service); 0 when the session has no stream to give.
  uint64_t open_proxy(const std::string& service) {
    auto id = s->open_stream();
    if (!id.ok()) return 0;
    ctl::ProxyOpen po;
    po.service = {reinterpret_cast<const uint8_t*>(service.data()), service.size()};
    uint8_t b[128];
    auto n = ctl::encode(po, b);
    EXPECT_TRUE(n.ok());
    extra[id.value()];
    write_on(id.value(), {b, n.value()});
    return id.value();
  }
  // PROXY_DATA / CONSOLE messages of at most 4000 bytes each.
  void proxy_send(uint64_t id, const std::string& data) { send_data(id, data, true); }
  void console_send(uint64_t id, const std::string& data) { send_data(id, data, false); }
  void send_data(uint64_t id, const std::string& data, bool proxy) {
    for (size_t off = 0; off < data.size(); off += 4000) {
      const ctl::Bytes chunk{reinterpret_cast<const uint8_t*>(data.data()) + off, std::min<size_t>(4000, data.size() - off)};
      uint8_t b[4200];
      auto n = proxy ? ctl::encode_proxy_data(chunk, b) : ctl::encode_console(chunk, b);
      ASSERT_TRUE(n.ok());
      write_on(id, {b, n.value()});
    }
  }
  // The console streams Fleet has opened on this session.
  std::vector<uint64_t> consoles() const {
    std::vector<uint64_t> v;
    for (const auto& [id, st] : extra)
      if (id & 1) v.push_back(id);
    return v;
  }
  void flush() {
    if (!s) return;
    while (!out.empty() && s->state() != ctl::State::Closed) {
      auto w = s->write(0, {out.data(), out.size()});
      if (!w.ok() || w.value() == 0) break;
      out.erase(out.begin(), out.begin() + ptrdiff_t(w.value()));
    }
    for (auto& [id, q] : outq) {
      if (q.done || (q.bytes.empty() && !q.fin) || s->state() == ctl::State::Closed) continue;
      auto w = s->write(id, {q.bytes.data(), q.bytes.size()}, q.fin);
      if (!w.ok()) continue;
      q.bytes.erase(q.bytes.begin(), q.bytes.begin() + ptrdiff_t(w.value()));
      if (q.fin && q.bytes.empty()) q.done = true;
    }
    uint8_t buf[1500];
    for (size_t n; (n = s->poll_send({buf + 28, 1392})) != 0;) send_ip({buf + 28, n}, buf);
  }
  // IPv4/UDP from the device's inner address to Fleet's link port (room: 28 bytes before payload).
  void send_ip(ctl::Bytes payload, uint8_t* p, uint16_t dport = kLinkPort) {
    const size_t total = 28 + payload.size();
    std::memset(p, 0, 28);
    p[0] = 0x45, p[2] = uint8_t(total >> 8), p[3] = uint8_t(total), p[8] = 64, p[9] = 17;
    std::memcpy(p + 12, inner_, 4);
    std::memcpy(p + 16, fleet_, 4);
    p[20] = 0x9c, p[21] = 0x40;  // source port 40000
    p[22] = uint8_t(dport >> 8), p[23] = uint8_t(dport);
    p[24] = uint8_t((total - 20) >> 8), p[25] = uint8_t(total - 20);
    send_inner(Buf(p, p + total));
  }
  void send_inner(const Buf& pkt) {
    Buf o(pkt.size() + wg::kSendOverhead);
    (void)engine_.send(peer, pkt, o, *this);
  }
  void send_raw_udp(const Buf& payload, uint16_t dport = kLinkPort) {
    Buf b(28 + payload.size());
    std::memcpy(b.data() + 28, payload.data(), payload.size());
    send_ip({b.data() + 28, payload.size()}, b.data(), dport);
  }

  // Reads the control stream and acts like the agent.
  void process() {
    if (!s) return;
    for (;;) {
      uint8_t buf[4096];
      bool fin = false;
      auto r = s->read(0, buf, fin);
      if (!r.ok() || r.value() == 0) break;
      in.insert(in.end(), buf, buf + r.value());
    }
    for (;;) {
      auto m = ctl::next_message(in);
      if (!m.ok() || m.value().size == 0) break;
      const auto& v = m.value();
      if (v.type == ctl::MsgType::Challenge && silent_auth) {
        // a device that never answers its challenge
      } else if (v.type == ctl::MsgType::Challenge) {
        ctl::Challenge ch;
        EXPECT_TRUE(ctl::decode(v.body, ch).ok());
        auto a = auth->on_challenge(ch, *signer);
        if (a.ok()) {
          last_auth = a.value();
          uint8_t b[128];
          auto n = ctl::encode(replay ? *replay : a.value(), b);
          write({b, n.value()});
        }
      } else if (v.type == ctl::MsgType::AuthOk) {
        authed = true;
      } else if (v.type == ctl::MsgType::AuthFail) {
        ctl::AuthFail f;
        EXPECT_TRUE(ctl::decode(v.body, f).ok());
        fail_code = int(f.code);
      } else if (v.type == ctl::MsgType::Command) {
        ctl::Command c;
        EXPECT_TRUE(ctl::decode(v.body, c).ok());
        commands.push_back({c.id, c.kind, std::string(c.args.begin(), c.args.end())});
      }
      in.erase(in.begin(), in.begin() + ptrdiff_t(v.size));
    }
    process_streams();
    flush();
  }

  // Streams other than 0: consoles Fleet opened (their CONSOLE bytes collected, and echoed back
  // as "echo:<bytes>" when echo_console) and this device's proxies (PROXY_DATA collected,
  // PROXY_CLOSE's code recorded, then this side's FIN).
  void process_streams() {
    for (auto a = s->accept_stream(); a.ok(); a = s->accept_stream()) extra[a.value()];
    for (auto& [id, st] : extra) {
      for (;;) {
        uint8_t buf[4096];
        bool fin = false;
        auto r = s->read(id, buf, fin);
        if (r.ok()) st.in.insert(st.in.end(), buf, buf + r.value());
        if (fin || (!r.ok() && r.error() == ctl::Error::StreamReset)) st.fin = true;
        if (!r.ok() || r.value() == 0) break;
      }
      for (;;) {
        auto m = ctl::next_message(st.in);
        if (!m.ok() || m.value().size == 0) break;
        const auto& v = m.value();
        if (v.type == ctl::MsgType::Console || v.type == ctl::MsgType::ProxyData) {
          auto d = ctl::decode_data(v.body);
          EXPECT_TRUE(d.ok());
          const std::string text(d.value().begin(), d.value().end());
          st.data += text;
          if (v.type == ctl::MsgType::Console && echo_console) {
            const std::string e = "echo:" + text;
            uint8_t b[4200];
            auto n = ctl::encode_console({reinterpret_cast<const uint8_t*>(e.data()), e.size()}, b);
            if (n.ok()) {
              auto& q = outq[id];
              q.bytes.insert(q.bytes.end(), b, b + n.value());
            }
          }
        } else if (v.type == ctl::MsgType::ProxyClose) {
          ctl::ProxyClose pc;
          EXPECT_TRUE(ctl::decode(v.body, pc).ok());
          st.close = pc.code;
          outq[id].fin = true;  // this side ends too: the stream is freed
        }
        st.in.erase(st.in.begin(), st.in.begin() + ptrdiff_t(v.size));
      }
    }
  }

  bool pump_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    uint8_t buf[65536];
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, 5) > 0) {
        sockaddr_storage from{};
        socklen_t flen = sizeof from;
        const ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
        if (n > 0) (void)engine_.receive({buf, size_t(n)}, wg::endpoint_from_sockaddr(from), false, *this);
      }
      engine_.tick(peer, *this);
      if (s) {
        const uint64_t d = s->next_deadline();
        if (d && d <= clock_.now_ns()) s->tick();
      }
      process();
    }
    return true;
  }
  bool pump_for(std::chrono::milliseconds t) {
    pump_until([] { return false; }, t);
    return true;
  }

  void send_result(uint64_t id, ctl::Outcome o, const std::string& detail) {
    ctl::CommandResult r;
    r.id = id;
    r.outcome = o;
    r.detail = {reinterpret_cast<const uint8_t*>(detail.data()), detail.size()};
    uint8_t b[512];
    auto n = ctl::encode(r, b);
    ASSERT_TRUE(n.ok());
    write({b, n.value()});
  }

  struct Cmd {
    uint64_t id;
    uint16_t kind;
    std::string args;
  };
  wg::Peer peer;
  std::unique_ptr<ctl::Session> s;
  std::unique_ptr<ctl::AuthClient> auth;
  std::unique_ptr<KeySigner> signer;
  std::optional<ctl::AuthMsg> replay, last_auth;
  bool authed = false;
  bool silent_auth = false;  // the CHALLENGE is never answered
  int fail_code = 0;
  std::vector<Cmd> commands;
  Buf in, out;
  struct Extra {
    Buf in;
    std::string data;  // CONSOLE / PROXY_DATA bytes received
    int close = -1;    // PROXY_CLOSE code
    bool fin = false;  // Fleet's direction ended (FIN or reset)
  };
  std::map<uint64_t, Extra> extra;
  struct Out {
    Buf bytes;
    bool fin = false, done = false;
  };
  std::map<uint64_t, Out> outq;
  bool echo_console = true;
  int ip_packets = 0;

 private:
  wg::Key priv_, gw_pub_{};
  wg::SystemClock wclock_;
  wg::SystemRandom wrng_;
  wg::SmallDirectory<1> dir_{wrng_};
  wg::FixedKeypairPool<4> wpool_;
  wg::Engine engine_;
  TestClock clock_;
  ctl::FixedBlockPool<24> cpool_;
  ctl::Context ctx_{clock_, cpool_};
  int fd_ = -1;
  uint8_t inner_[4] = {}, fleet_[4] = {};
};

class LinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(wg::crypto_init());
    srv = std::make_unique<fleet::testing::TestServer>(fleet::testing::TestServer::studio_config(dir.path()));
    proj = create("/api/v1/projects", {{"name", "link"}}).value("id", int64_t{0});
    dep = create("/api/v1/deployments", {{"project_id", proj}, {"name", "prod"}}).value("id", int64_t{0});
  }
  void TearDown() override {
    if (link) link->stop();
  }
  json create(const std::string& t, const json& b) {
    auto r = srv->call("POST", t, b);
    EXPECT_EQ(r.status, 201) << t << " " << r.body;
    return r.j;
  }
  json get(const std::string& t) {
    auto r = srv->call("GET", t);
    EXPECT_EQ(r.status, 200) << t << " " << r.body;
    return r.j;
  }
  struct Registered {
    wg::Key tunnel;
    Identity identity;
    int64_t id = 0;
    std::string address;
  };
  std::unique_ptr<Registered> register_device(const std::string& name) {
    auto d = std::make_unique<Registered>();
    d->tunnel = random_wg_key();
    wg::Key pub;
    wg::public_from_private(pub, d->tunnel);
    auto j = create("/api/v1/devices", {{"deployment_id", dep},
                                        {"name", name},
                                        {"tunnel_public_key", b64(pub.data(), 32)},
                                        {"identity_public_key", b64(d->identity.pk, 32)}});
    d->id = j.value("id", int64_t{0});
    d->address = j.value("tunnel_address", "");
    return d;
  }
  // The link in this process, as keel-fleet runs it in studio mode: the API's command hook and
  // console opener call it directly and its changes go to the App's events — unless `changes`
  // is given (fleet/bus's tests: the link as another process would run it, told through NATS).
  void start_link(LinkConfig lc = {}, bool poke = true, ChangeSink changes = {}) {
    FleetLinkConfig cfg;
    cfg.gateway.private_key = random_wg_key();
    cfg.gateway.port = 0;
    cfg.gateway.bind_v4 = "127.0.0.1";
    cfg.gateway.bind_v6 = "";
    cfg.gateway.workers = 1;
    cfg.refresh_interval = 200ms;
    if (lc.command_poll == LinkConfig{}.command_poll) lc.command_poll = 200ms;
    lc.peer_check = 100ms;
    lc.min_new_session = 0ms;
    cfg.link = lc;
    const std::string path = (dir.path() / "fleet.db").string();
    auto& app = srv->app();
    const bool in_process = !changes;
    if (in_process)
      changes = [&app](const std::string& action, const std::string& type, int64_t id, int64_t org) {
        app.events.publish(fleet::change_event(action, type, std::to_string(id), org, fleet::now_ms()), org);
      };
    auto f = FleetLink::start(cfg, [path] { return fleet::open_sqlite(path); }, path, std::move(changes));
    ASSERT_TRUE(f.ok()) << f.error();
    link = std::move(f.value());
    if (!in_process) return;
    if (poke) app.command_queued = [this](int64_t) { link->link().poke_commands(); };
    app.console_open = [this](int64_t id, std::shared_ptr<fleet::ConsoleBridge> b) {
      return link->link().open_console(id, std::move(b));
    };
  }
  std::unique_ptr<Device> device_for(const Registered& r) {
    return std::make_unique<Device>(r.tunnel, link->gateway().public_key(), link->port(), r.address);
  }
  // Connects the tunnel and authenticates with the device's own keys.
  std::unique_ptr<Device> online(const Registered& r) {
    auto d = device_for(r);
    EXPECT_TRUE(d->connect());
    d->start_session(r.identity, r.identity);
    EXPECT_TRUE(d->pump_until([&] { return d->authed; }, 3000ms)) << "not authenticated";
    return d;
  }
  bool wait_api(const std::function<bool()>& pred, std::chrono::milliseconds t, Device* pump = nullptr) {
    const auto end = std::chrono::steady_clock::now() + t;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      if (pump) pump->pump_for(30ms);
      else std::this_thread::sleep_for(30ms);
    }
    return true;
  }

  fleet::testing::TempDir dir;
  std::unique_ptr<fleet::testing::TestServer> srv;
  std::unique_ptr<FleetLink> link;
  int64_t proj = 0, dep = 0;
};

}  // namespace
}  // namespace keel::link

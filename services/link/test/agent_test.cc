// link_agent_test: the link agent's core (services/link/src/agent.h) against a real server-side
// keel::control::Session and AuthServer — a small Fleet written here as Fleet's link does it
// (fleet/link/src/handlers.cc: one session per device, HELLO → CHALLENGE → AUTH, commands resent
// on every new session until a result is recorded, SERIAL lines deduplicated by sequence number)
// — over the simulated lossy path of proto/control/test/harness.h (loss, reordering, duplication,
// a fake clock). The device's services are fakes with a store whose records outlive the agent, so
// a reboot is "destroy the agent, build a new one on the same records".
// One file (~930 lines) on purpose: every test shares the world at the top (the fake device, the
// small Fleet, the lossy path), and splitting it would only move that harness into a header.
#include <gtest/gtest.h>
#include <sodium.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>

#include "agent.h"
#include "agent_console.h"
#include "harness.h"
#include "keel/tunnel/enrolment.h"

namespace keel::link {
namespace {

using control::test::Buf;
using control::test::FakeClock;
using control::test::Link;
namespace ctl = keel::control;
constexpr uint64_t kMs = ctl::kMs, kSec = ctl::kSec;

// The serial service's mirror as the agent sees it: a bounded ring of numbered lines.
struct Mirror {
  uint64_t next = 0;
  std::deque<std::pair<uint64_t, std::string>> ring;
  size_t cap = 4096;
  uint32_t dropped = 0;
  void print(const std::string& s) {
    ring.push_back({next++, s});
    if (ring.size() > cap) {
      ring.pop_front();
      ++dropped;
    }
  }
  void restart() {
    ring.clear();
    next = 0;
    dropped = 0;
  }
  bool read(uint64_t& first, uint32_t& d, char* buf, size_t cap_bytes, size_t& n) {
    n = 0;
    first = ring.empty() ? next : ring.front().first;
    d = dropped;
    dropped = 0;
    while (!ring.empty()) {
      const std::string& l = ring.front().second;
      const size_t need = l.size() + (n ? 1 : 0);
      if (n + need > 900 || n + need > cap_bytes) break;
      if (n) buf[n++] = '\n';
      std::memcpy(buf + n, l.data(), l.size());
      n += l.size();
      ring.pop_front();
    }
    return true;
  }
};

struct FakeComponent {
  std::string name;
  uint8_t state = 1;
  uint32_t restarts = 0, memory_kib = 64;
  uint64_t cpu_us = 0;
};

// Everything of the device but the agent; it outlives agents (a reboot keeps records).
class FakePlatform final : public Platform {
 public:
  FakeClock& clock;
  Link& up;
  std::mt19937_64 rng{7};
  std::map<uint32_t, Buf> records;
  int fail_writes_from = -1;  // record writes from this count on fail (-1: never)
  int writes = 0;
  // A power cut: after the restart numbered cut_at_restart, one more record write goes through
  // (that command's outcome), then the device is dead: writes fail and nothing is sent.
  int cut_at_restart = -1, writes_left = -1;
  int total_restarts = 0;
  bool dead() const { return writes_left == 0; }
  std::vector<FakeComponent> comps;
  int self = 0;
  std::map<int, int> restarts;  // index (-1 system) -> restarts asked
  Mirror mirror;
  std::vector<TraceRecord> trace;
  bool trace_enabled = false;
  std::vector<std::string> logs;
  uint8_t identity_pk[32], identity_sk[64], tunnel_pk[32];

  FakePlatform(FakeClock& c, Link& u) : clock(c), up(u) {
    uint8_t seed[32];
    std::memset(seed, 0x42, 32);
    crypto_sign_ed25519_seed_keypair(identity_pk, identity_sk, seed);
    std::memset(tunnel_pk, 0x17, 32);
    comps.push_back({"link"});
    for (int i = 0; i < 30; ++i) comps.push_back({"c" + std::to_string(i)});
  }
  void enrol(const uint8_t fleet_key[32]) {
    tunnel::Enrolment e;
    e.fleet_ip = 0x0a000202, e.fleet_port = 51820, e.address = 0x0a400002, e.fleet_address = 0x0a400001;
    std::memcpy(e.fleet_key, fleet_key, 32);
    char text[512];
    const size_t n = tunnel::format_enrolment(e, text, sizeof text);
    records[1] = Buf(text, text + n);
  }

  uint64_t now_ns() override { return clock.now; }
  void random(MutBytes out) override {
    for (auto& b : out) b = uint8_t(rng());
  }
  void log(std::string_view line) override {
    logs.emplace_back(line);
    mirror.print("[link] " + std::string(line));
  }
  bool send_datagram(Bytes d) override {
    if (dead()) return true;
    up.send(clock.now, control::test::addr(2, 51820), d);
    return true;
  }
  bool public_keys(uint8_t t[32], uint8_t id[32]) override {
    std::memcpy(t, tunnel_pk, 32);
    std::memcpy(id, identity_pk, 32);
    return true;
  }
  bool sign(Bytes m, uint8_t sig[64]) override {
    return crypto_sign_ed25519_detached(sig, nullptr, m.data(), m.size(), identity_sk) == 0;
  }
  RecordStatus record_read(uint32_t id, MutBytes buf, size_t& len) override {
    auto it = records.find(id);
    if (it == records.end()) return RecordStatus::NotFound;
    if (it->second.size() > buf.size()) return RecordStatus::Error;
    std::memcpy(buf.data(), it->second.data(), it->second.size());
    len = it->second.size();
    return RecordStatus::Ok;
  }
  bool record_write(uint32_t id, Bytes data) override {
    if (fail_writes_from >= 0 && writes >= fail_writes_from) return false;
    if (dead()) return false;
    if (writes_left > 0) --writes_left;
    ++writes;
    if (data.size() > 4032) return false;
    records[id] = Buf(data.begin(), data.end());
    return true;
  }
  uint32_t component_count() override { return uint32_t(comps.size()); }
  bool component(uint32_t i, ComponentInfo& out) override {
    if (i >= comps.size()) return false;
    const FakeComponent& c = comps[i];
    std::snprintf(out.name, sizeof out.name, "%s", c.name.c_str());
    out.state = c.state, out.restarts = c.restarts, out.memory_kib = c.memory_kib, out.cpu_us = c.cpu_us;
    return true;
  }
  int self_index() override { return self; }
  const char* restart(int index) override {
    if (index < -1 || index >= int(comps.size())) return "KEEL_INVALID_ARGUMENT";
    ++restarts[index];
    if (++total_restarts == cut_at_restart) writes_left = 1;
    if (index >= 0) ++comps[size_t(index)].restarts;
    return nullptr;
  }
  bool mirror_read(uint64_t& first, uint32_t& dropped, char* buf, size_t cap, size_t& n) override {
    return mirror.read(first, dropped, buf, cap, n);
  }
  const char* trace_enable(bool on, bool& was) override {
    was = trace_enabled;
    trace_enabled = on;
    return nullptr;
  }
  bool trace_read(TraceRecord* ev, size_t cap, size_t& n, uint32_t& dropped) override {
    n = 0;
    dropped = 0;
    while (n < cap && !trace.empty()) {
      ev[n++] = trace.front();
      trace.erase(trace.begin());
    }
    return true;
  }
  bool tunnel_status(TunnelInfo& out) override {
    out = TunnelInfo{};
    out.state = 2;
    return true;
  }
  // One proxy app (index 0): its two streams as byte queues.
  Buf app_to_link, link_to_app;
  std::string allowed_service = "db";
  bool app_peek(size_t app, uint8_t* buf, size_t n) override {
    if (app != 0 || app_to_link.size() < n) return false;
    std::memcpy(buf, app_to_link.data(), n);
    return true;
  }
  bool app_read(size_t app, uint8_t* hdr, size_t nh, uint8_t* body, size_t nb) override {
    if (app != 0 || app_to_link.size() < nh + nb) return false;
    std::memcpy(hdr, app_to_link.data(), nh);
    if (nb) std::memcpy(body, app_to_link.data() + nh, nb);
    app_to_link.erase(app_to_link.begin(), app_to_link.begin() + long(nh + nb));
    return true;
  }
  void app_discard(size_t) override { app_to_link.clear(); }
  bool app_send(size_t app, const uint8_t* hdr, size_t nh, const uint8_t* body, size_t nb) override {
    if (app != 0) return false;
    link_to_app.insert(link_to_app.end(), hdr, hdr + nh);
    if (nb) link_to_app.insert(link_to_app.end(), body, body + nb);
    return true;
  }
  bool proxy_allowed(std::string_view app, std::string_view service) override {
    return app == "app" && service == allowed_service;
  }
  void app_record(uint8_t type, const std::string& body) {
    app_to_link.push_back(type);
    app_to_link.push_back(uint8_t(body.size()));
    app_to_link.push_back(uint8_t(body.size() >> 8));
    app_to_link.insert(app_to_link.end(), body.begin(), body.end());
  }
};

// Fleet's link, small: what fleet/link/src/handlers.cc does with a device's session.
struct FleetSim {
  struct Cmd {
    uint64_t id;
    uint16_t kind;
    std::string args;
  };
  struct Result {
    ctl::Outcome outcome;
    std::string detail;
  };
  FakeClock& clock;
  ctl::FixedBlockPool<24> pool;
  ctl::Context ctx{clock, pool};
  std::optional<ctl::Session> s;
  std::optional<ctl::AuthServer> auth;
  uint8_t fleet_key[32];
  uint8_t registered_identity[32], device_tunnel[32];
  bool authed = false;
  bool wrong_challenge = false;   // sends a CHALLENGE naming another session
  bool silent = false;            // never answers (a Fleet that is not there)
  Buf in0, inser, out0;
  uint64_t sessions = 0, auth_ok = 0, auth_seen = 0;
  std::set<uint64_t> session_ids;
  std::vector<Cmd> queue;
  std::map<uint64_t, Result> results;
  uint64_t duplicate_results = 0;
  std::set<uint64_t> sent;
  // SERIAL as Fleet stores it.
  std::optional<uint64_t> serial_next;
  std::vector<std::string> lines;
  uint64_t dropped = 0, gaps = 0, serial_messages = 0;
  // STATUS.
  int statuses = 0;
  std::map<std::string, uint32_t> last_restarts;
  std::vector<ctl::TraceEvent> trace;
  std::vector<ctl::Error> closes;
  // Proxy streams the device opened: PROXY_OPEN's service, data received; Fleet answers "pong".
  std::map<uint64_t, std::string> proxy_service, proxy_data;
  std::map<uint64_t, Buf> proxy_in;
  // Consoles Fleet opened: stream id -> what came back.
  std::map<uint64_t, std::string> console_out;
  std::map<uint64_t, Buf> console_in;
  std::set<uint64_t> console_ended;
  uint64_t open_console(const std::string& typed) {
    auto id = s->open_stream();
    EXPECT_TRUE(id.ok());
    console_out[id.value()];
    type(id.value(), typed);
    return id.value();
  }
  void type(uint64_t id, const std::string& text) {
    uint8_t m[4200];
    auto n = ctl::encode_console({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, m);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(s->write(id, {m, n.value()}).value_or(0), n.value());
  }

  explicit FleetSim(FakeClock& c) : clock(c) { std::memset(fleet_key, 0x99, 32); }

  void receive(const Buf& d) {
    if (silent) return;
    auto sid = ctl::peek_session_id(d);
    if (!sid.ok()) return;
    if (!s || s->id() != sid.value()) {
      auto a = ctl::Session::accept(d);
      if (!a.ok()) return;  // a short header of an old session: dropped
      s.emplace(ctx, ctl::Role::Server, a.value());
      auth.emplace(a.value(), fleet_key, device_tunnel, registered_identity);
      authed = false;
      in0.clear(), inser.clear(), out0.clear();
      sent.clear();
      ++sessions;
      session_ids.insert(a.value());
    }
    (void)s->receive(d, control::test::addr(2, 51820));
  }
  void restart() {  // Fleet restarts: sessions and its memory of serial numbers are gone
    s.reset();
    auth.reset();
    serial_next.reset();
  }
  void write(ctl::Bytes m) { out0.insert(out0.end(), m.begin(), m.end()); }
  void send_commands() {
    uint8_t m[2048];
    for (const Cmd& c : queue) {
      if (results.count(c.id) || sent.count(c.id)) continue;
      auto n = ctl::encode(ctl::Command{c.id, c.kind, {reinterpret_cast<const uint8_t*>(c.args.data()), c.args.size()}}, m);
      ASSERT_TRUE(n.ok());
      write({m, n.value()});
      sent.insert(c.id);
    }
  }
  void on_message(uint64_t stream, const ctl::MessageView& mv) {
    using T = ctl::MsgType;
    uint8_t m[256];
    if (stream == 0 && mv.type == T::Hello) {
      ctl::Hello h;
      ASSERT_TRUE(ctl::decode(mv.body, h).ok());
      auto ch = auth->on_hello(h, rnd);
      ASSERT_TRUE(ch.ok());
      if (wrong_challenge) ch.value().session_id ^= 1;
      write({m, ctl::encode(ch.value(), m).value()});
    } else if (stream == 0 && mv.type == T::Auth) {
      ++auth_seen;
      ctl::AuthMsg a;
      ASSERT_TRUE(ctl::decode(mv.body, a).ok());
      ASSERT_TRUE(auth->on_auth(a).ok());
      authed = true;
      ++auth_ok;
      write({m, ctl::encode_auth_ok(m).value()});
      send_commands();
    } else if (stream == 0 && mv.type == T::Status) {
      ASSERT_TRUE(authed);
      ctl::Status st;
      ASSERT_TRUE(ctl::decode(mv.body, st).ok());
      ++statuses;
      for (size_t i = 0; i < st.count; ++i)
        last_restarts[std::string(st.components[i].name.begin(), st.components[i].name.end())] = st.components[i].restarts;
    } else if (stream == 0 && mv.type == T::CommandResult) {
      ASSERT_TRUE(authed);
      ctl::CommandResult r;
      ASSERT_TRUE(ctl::decode(mv.body, r).ok());
      if (results.count(r.id))
        ++duplicate_results;
      else
        results[r.id] = {r.outcome, std::string(r.detail.begin(), r.detail.end())};
    } else if (stream == 0 && mv.type == T::Trace) {
      ctl::Trace t;
      ASSERT_TRUE(ctl::decode(mv.body, t).ok());
      for (size_t i = 0; i < t.count; ++i) trace.push_back(t.events[i]);
    } else if (stream != 0 && mv.type == T::Serial) {
      ASSERT_TRUE(authed);
      ctl::Serial sm;
      ASSERT_TRUE(ctl::decode(mv.body, sm).ok());
      ++serial_messages;
      for (size_t i = 0; i < sm.count; ++i) {
        const uint64_t seq = sm.first_seq + i;
        if (serial_next && seq < *serial_next) continue;  // a resend: stored already
        if (serial_next && seq != *serial_next) {
          const bool explained = i == 0 && sm.dropped && seq - *serial_next <= sm.dropped;
          const bool new_start = (seq >> 32) > (*serial_next >> 32);  // the agent's next life
          if (!explained && !new_start) ++gaps;
        }
        if (i == 0 && sm.dropped && (!serial_next || seq >= *serial_next)) dropped += sm.dropped;
        lines.emplace_back(sm.lines[i].begin(), sm.lines[i].end());
        serial_next = seq + 1;
      }
    } else {
      ADD_FAILURE() << "unexpected message " << int(mv.type) << " on stream " << stream;
    }
  }
  void pump(uint64_t id, Buf& in) {
    uint8_t tmp[4096];
    bool fin = false;
    for (;;) {
      auto r = s->read(id, tmp, fin);
      if (!r.ok() || !r.value()) break;
      in.insert(in.end(), tmp, tmp + r.value());
    }
    for (;;) {
      auto v = ctl::next_message(in);
      ASSERT_TRUE(v.ok());
      if (!v.value().size) break;
      on_message(id, v.value());
      in.erase(in.begin(), in.begin() + long(v.value().size));
    }
  }
  void app() {
    if (!s || s->state() != ctl::State::Open) return;
    while (s->accept_stream().ok()) {
    }
    pump(0, in0);
    if (s->stream_open(2)) pump(2, inser);
    for (uint64_t id = 4; id < 16; id += 2) {
      if (!s->stream_open(id)) continue;
      Buf& in = proxy_in[id];
      uint8_t tmp[4096];
      bool fin = false;
      for (;;) {
        auto r = s->read(id, tmp, fin);
        if (!r.ok() || !r.value()) break;
        in.insert(in.end(), tmp, tmp + r.value());
      }
      for (;;) {
        auto v = ctl::next_message(in);
        ASSERT_TRUE(v.ok());
        if (!v.value().size) break;
        if (v.value().type == ctl::MsgType::ProxyOpen) {
          ctl::ProxyOpen po;
          ASSERT_TRUE(ctl::decode(v.value().body, po).ok());
          proxy_service[id] = std::string(po.service.begin(), po.service.end());
          uint8_t m[64];
          const std::string pong = "pong";
          auto n = ctl::encode_proxy_data({reinterpret_cast<const uint8_t*>(pong.data()), pong.size()}, m);
          EXPECT_TRUE(s->write(id, {m, n.value()}).ok());
        } else if (v.value().type == ctl::MsgType::ProxyData) {
          proxy_data[id].append(v.value().body.begin(), v.value().body.end());
        } else if (v.value().type == ctl::MsgType::Serial) {
          on_message(id, v.value());  // a serial stream opened again
        }
        in.erase(in.begin(), in.begin() + long(v.value().size));
      }
    }
    for (auto& [id, out] : console_out) {
      if (console_ended.count(id)) continue;
      uint8_t tmp[4096];
      bool fin = false;
      Buf& in = console_in[id];
      for (;;) {
        auto r = s->read(id, tmp, fin);
        if (!r.ok()) {
          console_ended.insert(id);
          break;
        }
        in.insert(in.end(), tmp, tmp + r.value());
        if (fin) console_ended.insert(id);
        if (!r.value()) break;
      }
      for (;;) {
        auto v = ctl::next_message(in);
        ASSERT_TRUE(v.ok());
        if (!v.value().size) break;
        ASSERT_EQ(v.value().type, ctl::MsgType::Console);
        out.append(v.value().body.begin(), v.value().body.end());
        in.erase(in.begin(), in.begin() + long(v.value().size));
      }
    }
    if (!out0.empty()) {
      auto w = s->write(0, out0);
      if (w.ok()) out0.erase(out0.begin(), out0.begin() + long(w.value()));
    }
  }
  struct Rnd final : ctl::Random {
    std::mt19937_64 g{3};
    void fill(ctl::MutBytes out) override {
      for (auto& b : out) b = uint8_t(g());
    }
  } rnd;
};

// The device's block pool, which a test can make refuse send buffers (a pool emptied by other
// streams).
struct GatedPool final : ctl::BlockPool {
  ctl::FixedBlockPool<12> inner;
  bool refuse_send = false;
  void* acquire(ctl::BlockUse u) override {
    return refuse_send && u == ctl::BlockUse::SendBuffer ? nullptr : inner.acquire(u);
  }
  void release(void* b) override { inner.release(b); }
  ctl::Stream* acquire_stream() override { return inner.acquire_stream(); }
  void release_stream(ctl::Stream* s) override { inner.release_stream(s); }
  size_t in_use() const { return inner.in_use(); }
};

struct World {
  FakeClock clock;
  Link up, down;
  FakePlatform dev{clock, up};
  GatedPool dpool;
  ctl::Context dctx{clock, dpool};
  AgentConfig cfg;
  AgentConsole console;
  std::optional<Agent> agent;
  FleetSim fleet{clock};

  World() {
    dev.enrol(fleet.fleet_key);
    std::memcpy(fleet.registered_identity, dev.identity_pk, 32);
    std::memcpy(fleet.device_tunnel, dev.tunnel_pk, 32);
    cfg.device_name = "dev-1";
    cfg.release = "r1";
    boot();
  }
  void lossy(double loss = 0.1, double reorder = 0.1, double dup = 0.05, uint64_t seed = 1) {
    for (Link* l : {&up, &down}) {
      l->loss = loss, l->reorder = reorder, l->duplicate = dup;
      l->rng.seed(seed++);
    }
  }
  void boot() {  // a (re)boot of the device: a new agent on the same records
    agent.reset();
    agent.emplace(dev, dctx, cfg, &console);
    console.bind(*agent);
  }
  void step(uint64_t max_step = 1 * kSec) {
    uint64_t t = clock.now + max_step;
    for (uint64_t c : {up.next(), down.next(), agent->next_deadline(), fleet.s ? fleet.s->next_deadline() : 0})
      if (c && c < t) t = c;
    if (t > clock.now) clock.now = t;
    for (auto& it : up.due(clock.now)) fleet.receive(it.data);
    for (auto& it : down.due(clock.now)) agent->on_datagram(it.data);
    if (fleet.s && fleet.s->next_deadline() && fleet.s->next_deadline() <= clock.now) fleet.s->tick();
    fleet.app();
    agent->run();
    if (fleet.s) {
      uint8_t buf[2048];
      for (size_t n; (n = fleet.s->poll_send(buf));) down.send(clock.now, control::test::addr(1, 7400), {buf, n});
    }
  }
  bool run_until(const std::function<bool()>& pred, uint64_t limit = 120 * kSec) {
    const uint64_t end = clock.now + limit;
    while (!pred() && clock.now < end) step();
    return pred();
  }
};

TEST(LinkAgent, AuthenticatesAndReportsStatusOnConnectAndOnChange) {
  World w;
  w.lossy();
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated() && w.fleet.statuses >= 1; }));
  EXPECT_EQ(w.fleet.auth_ok, 1u);
  EXPECT_EQ(w.fleet.last_restarts.size(), 31u);
  const int before = w.fleet.statuses;
  // Nothing changes: no STATUS for a while (below the 60 s refresh).
  w.run_until([] { return false; }, 20 * kSec);
  EXPECT_EQ(w.fleet.statuses, before);
  w.dev.comps[3].restarts = 7;  // a component restarted
  ASSERT_TRUE(w.run_until([&] { return w.fleet.last_restarts["c2"] == 7; }, 10 * kSec));
  EXPECT_EQ(w.fleet.statuses, before + 1);
  // The refresh comes within 60 s even without a change.
  ASSERT_TRUE(w.run_until([&] { return w.fleet.statuses == before + 2; }, 65 * kSec));
  EXPECT_EQ(w.fleet.sessions, 1u);
}

TEST(LinkAgent, NotEnrolledWaitsAndRetries) {
  World w;
  w.dev.records.erase(1);
  w.boot();
  w.run_until([] { return false; }, 12 * kSec);
  EXPECT_EQ(w.fleet.sessions, 0u);
  EXPECT_FALSE(w.agent->enrolled());
  int waiting = 0;
  for (auto& l : w.dev.logs) waiting += l.find("not enrolled") != std::string::npos;
  EXPECT_EQ(waiting, 1);  // said once
  w.dev.enrol(w.fleet.fleet_key);
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated(); }, 30 * kSec));
}

TEST(LinkAgent, SerialLinesArriveInOrderWithoutGapsAcrossLossAndReconnects) {
  World w;
  w.lossy(0.1, 0.1, 0.05, 21);
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated(); }));
  int printed = 0;
  auto print = [&](int n) {
    for (int i = 0; i < n; ++i, ++printed)
      w.dev.mirror.print("[app] line " + std::to_string(printed) + "|" + std::string(size_t(printed % 90), 'x'));
    w.agent->on_mirror();
  };
  for (int round = 0; round < 40; ++round) {
    print(50);
    w.run_until([] { return false; }, 200 * kMs);
  }
  // The session is cut (Fleet restarts: lines in flight are lost with it); the agent sends the
  // ones it still holds again and Fleet skips what it had.
  w.fleet.s.reset();
  w.fleet.auth.reset();
  print(100);
  ASSERT_TRUE(w.run_until([&] { return w.fleet.s && w.fleet.authed; }, 200 * kSec));
  print(100);
  auto app_lines = [&] {
    std::vector<std::string> v;
    for (auto& l : w.fleet.lines)
      if (l.rfind("[app] ", 0) == 0) v.push_back(l);
    return v;
  };
  ASSERT_TRUE(w.run_until([&] { return app_lines().size() >= size_t(printed); }, 120 * kSec));
  const auto v = app_lines();
  ASSERT_EQ(v.size(), size_t(printed));
  for (int i = 0; i < printed; ++i) ASSERT_EQ(v[size_t(i)].substr(11, v[size_t(i)].find('|') - 11), std::to_string(i));
  EXPECT_EQ(w.fleet.gaps, 0u);
  EXPECT_EQ(w.fleet.dropped, 0u);
  EXPECT_GE(w.fleet.sessions, 2u);
  EXPECT_GT(w.agent->stats().serial_resent, 0u);  // the new session sent the ring again
}

TEST(LinkAgent, SerialDropsWhileDownAreCountedAndARestartedSerialIsANewEpoch) {
  World w;
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated(); }));
  w.dev.mirror.cap = 100;
  w.down.down = true;  // the link is down: nothing is read, the mirror fills and drops
  w.run_until([] { return false; }, 2 * kSec);
  for (int i = 0; i < 250; ++i) w.dev.mirror.print("[app] burst " + std::to_string(i));
  w.agent->on_mirror();
  w.run_until([] { return false; }, 5 * kSec);
  w.down.down = false;
  ASSERT_TRUE(w.run_until([&] {
    return !w.fleet.lines.empty() && w.fleet.lines.back().find("burst 249") != std::string::npos;
  }, 200 * kSec));
  EXPECT_GE(w.fleet.dropped, 150u);  // the 150 the mirror dropped (and the agent's own lines meanwhile)
  EXPECT_EQ(w.fleet.gaps, 0u);
  const uint64_t before = *w.fleet.serial_next;
  // serial restarts: its numbers start at 0 again; the agent's go on.
  w.dev.mirror.restart();
  w.dev.mirror.print("[app] after restart");
  w.agent->on_mirror();
  ASSERT_TRUE(w.run_until([&] { return w.fleet.lines.back() == "[app] after restart"; }, 30 * kSec));
  EXPECT_GE(*w.fleet.serial_next, before + 1);
  EXPECT_EQ(w.fleet.gaps, 0u);
}

TEST(LinkAgent, TraceEventsReachFleet) {
  World w;
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated(); }));
  w.fleet.queue.push_back({1, ctl::kCmdTraceOn, ""});
  w.fleet.send_commands();
  ASSERT_TRUE(w.run_until([&] { return w.fleet.results.count(1) == 1; }, 10 * kSec));
  EXPECT_TRUE(w.dev.trace_enabled);
  EXPECT_EQ(w.fleet.results[1].detail, "trace was off");
  for (uint16_t i = 0; i < 100; ++i) w.dev.trace.push_back({uint64_t(1000 + i), 3, i, i * 2u});
  ASSERT_TRUE(w.run_until([&] { return w.fleet.trace.size() == 100; }, 10 * kSec));
  EXPECT_EQ(w.fleet.trace[99].event, 99);
  EXPECT_EQ(w.fleet.trace[99].arg, 198u);
  // Events read while the session cannot take their message (no block) are kept, not lost.
  w.run_until([] { return false; }, 3 * kSec);
  w.dpool.refuse_send = true;
  for (uint16_t i = 0; i < 10; ++i) w.dev.trace.push_back({uint64_t(5000 + i), 4, i, 0});
  ASSERT_TRUE(w.run_until([&] { return w.dev.trace.empty(); }, 5 * kSec));
  w.run_until([] { return false; }, 2 * kSec);
  EXPECT_EQ(w.fleet.trace.size(), 100u);
  w.dpool.refuse_send = false;
  ASSERT_TRUE(w.run_until([&] { return w.fleet.trace.size() == 110; }, 10 * kSec));
  EXPECT_EQ(w.fleet.trace[109].time_ns, 5009u);
}

// The world's commands: a restart of c<i> for i in [0, 30), so each command's execution is visible
// as one restart of its own component.
void queue_restarts(FleetSim& f, int n, uint64_t first_id = 100) {
  for (int i = 0; i < n; ++i) f.queue.push_back({first_id + uint64_t(i), ctl::kCmdRestartComponent, "c" + std::to_string(i)});
}

TEST(LinkAgent, CommandsRunExactlyOnceAcrossLossSessionLossAndReboots) {
  World w;
  w.lossy(0.1, 0.1, 0.05, 5);
  queue_restarts(w.fleet, 30);
  w.fleet.queue.push_back({200, ctl::kCmdIdentify, ""});
  w.fleet.queue.push_back({201, ctl::kCmdTraceOn, ""});
  // Cut 1: the device loses power right after its 12th command (records kept), and boots again.
  w.dev.cut_at_restart = 12;
  ASSERT_TRUE(w.run_until([&] { return w.dev.dead(); }));
  w.run_until([] { return false; }, 2 * kSec);
  w.dev.writes_left = -1;
  w.boot();
  // Cut 2: Fleet restarts after the device's 25th (results in flight are lost with the session).
  ASSERT_TRUE(w.run_until([&] { return w.dev.total_restarts >= 25; }, 300 * kSec));
  w.fleet.restart();
  ASSERT_TRUE(w.run_until([&] { return w.fleet.results.size() == w.fleet.queue.size(); }, 600 * kSec));
  for (int i = 1; i <= 30; ++i) EXPECT_EQ(w.dev.restarts[i], 1) << "c" << i - 1;
  for (auto& [id, r] : w.fleet.results) EXPECT_EQ(r.outcome, ctl::Outcome::Done) << id << " " << r.detail;
  int identify = 0;
  for (auto& l : w.dev.logs) identify += l == "identify: dev-1";
  EXPECT_EQ(identify, 3);
  EXPECT_GE(w.fleet.sessions, 3u);
  EXPECT_GT(w.agent->stats().from_journal, 0u);  // some answers came from the journal
}

TEST(LinkAgent, InterruptedCommandIsReportedFailedAndNotRunAgain) {
  World w;
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated(); }));
  // The journal write after the restart fails (as if the device lost power right then): the
  // record says "started", no result goes out.
  w.dev.fail_writes_from = w.dev.writes + 1;
  w.fleet.queue.push_back({7, ctl::kCmdRestartComponent, "c4"});
  w.fleet.send_commands();
  ASSERT_TRUE(w.run_until([&] { return w.dev.restarts[5] == 1; }, 10 * kSec));
  w.run_until([] { return false; }, 3 * kSec);
  EXPECT_EQ(w.fleet.results.count(7), 0u);
  w.dev.fail_writes_from = -1;
  w.boot();
  ASSERT_TRUE(w.run_until([&] { return w.fleet.results.count(7) == 1; }, 60 * kSec));
  EXPECT_EQ(w.fleet.results[7].outcome, ctl::Outcome::Failed);
  EXPECT_EQ(w.fleet.results[7].detail, "interrupted");
  EXPECT_EQ(w.dev.restarts[5], 1);  // not run again
}

TEST(LinkAgent, SystemRestartCutBeforeItsOutcomeIsDoneRestarted) {
  World w;
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated(); }));
  w.dev.fail_writes_from = w.dev.writes + 1;  // "started" written, then the reboot
  w.fleet.queue.push_back({9, ctl::kCmdRestartSystem, ""});
  w.fleet.send_commands();
  ASSERT_TRUE(w.run_until([&] { return w.dev.restarts[-1] == 1; }, 10 * kSec));
  w.dev.fail_writes_from = -1;
  w.boot();
  ASSERT_TRUE(w.run_until([&] { return w.fleet.results.count(9) == 1; }, 60 * kSec));
  EXPECT_EQ(w.fleet.results[9].outcome, ctl::Outcome::Done);
  EXPECT_EQ(w.fleet.results[9].detail, "restarted");
  EXPECT_EQ(w.dev.restarts[-1], 1);
}

TEST(LinkAgent, BadCommandsAreAnsweredAndNeverCrashTheAgent) {
  World w;
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated(); }));
  w.fleet.queue.push_back({11, 99, "x"});                                       // unknown kind
  w.fleet.queue.push_back({12, ctl::kCmdRestartComponent, std::string(1024, 'a')});  // huge args
  w.fleet.queue.push_back({13, ctl::kCmdRestartComponent, "nosuch"});
  w.fleet.queue.push_back({14, ctl::kCmdRestartComponent, std::string("c1\0x", 4)});
  w.fleet.send_commands();
  ASSERT_TRUE(w.run_until([&] { return w.fleet.results.size() == 4; }, 10 * kSec));
  EXPECT_EQ(w.fleet.results[11].outcome, ctl::Outcome::Unknown);
  EXPECT_EQ(w.fleet.results[12].outcome, ctl::Outcome::Refused);
  EXPECT_EQ(w.fleet.results[13].outcome, ctl::Outcome::Refused);
  EXPECT_EQ(w.fleet.results[14].outcome, ctl::Outcome::Refused);
  EXPECT_TRUE(w.dev.restarts.empty());
  // A message the device never takes (a STATUS from Fleet) and a malformed COMMAND: the session is
  // closed with the code, the agent connects again.
  uint8_t m[64];
  ctl::Status st;
  w.fleet.write({m, ctl::encode(st, m).value()});
  ASSERT_TRUE(w.run_until([&] { return w.fleet.sessions == 2 && w.fleet.authed; }, 30 * kSec));
  const uint8_t bad[] = {0x00, 0x05, 0x09, 1, 2, 3, 4};  // COMMAND with a 4-byte body
  w.fleet.write({bad, sizeof bad});
  ASSERT_TRUE(w.run_until([&] { return w.fleet.sessions == 3 && w.fleet.authed; }, 30 * kSec));
  const uint8_t unknown[] = {0x00, 0x01, 0x7f};
  w.fleet.write({unknown, sizeof unknown});
  ASSERT_TRUE(w.run_until([&] { return w.fleet.sessions == 4 && w.fleet.authed; }, 30 * kSec));
  EXPECT_GE(w.agent->stats().bad_messages, 3u);
}

TEST(LinkAgent, RandomFleetInputNeverCrashesTheAgent) {
  World w;
  std::mt19937_64 rng(77);
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated(); }));
  uint64_t next_id = 1000;
  for (int round = 0; round < 300; ++round) {
    if (!w.fleet.s || !w.fleet.authed) {
      ASSERT_TRUE(w.run_until([&] { return w.fleet.s && w.fleet.authed; }, 200 * kSec)) << round;
    }
    Buf m;
    switch (rng() % 4) {
      case 0: {  // a COMMAND of any kind with random arguments (valid or not as a name)
        std::string args(rng() % 40, 'a');
        for (auto& ch : args) ch = char(rng() % 128);
        uint8_t b[2048];
        auto n = ctl::encode(ctl::Command{next_id++, uint16_t(1 + rng() % 8), {reinterpret_cast<const uint8_t*>(args.data()), args.size()}}, b);
        ASSERT_TRUE(n.ok());
        m.assign(b, b + n.value());
        break;
      }
      case 1: {  // any type, any body
        const size_t len = 1 + rng() % 64;
        m = {uint8_t(len >> 8), uint8_t(len)};
        for (size_t i = 0; i < len; ++i) m.push_back(uint8_t(rng()));
        break;
      }
      case 2: {  // a length above the limit, or zero
        m = rng() % 2 ? Buf{0x10, 0x01, 0x09} : Buf{0x00, 0x00};
        break;
      }
      default: {  // a random datagram straight into the agent
        Buf d(1 + rng() % 200);
        for (auto& b : d) b = uint8_t(rng());
        const uint64_t sid = w.fleet.s->id();
        if (rng() % 2) std::memcpy(d.data() + 1, &sid, std::min<size_t>(8, d.size() - 1));
        w.agent->on_datagram(d);
        continue;
      }
    }
    w.fleet.write(m);
    w.run_until([] { return false; }, 300 * kMs);
  }
  // Still alive, still connecting, no block lost.
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated(); }, 200 * kSec));
  EXPECT_LE(w.dpool.in_use(), 12u);
  EXPECT_GT(w.agent->stats().bad_messages, 10u);
}

TEST(LinkAgent, ChallengeForAnotherSessionIsRefused) {
  World w;
  w.fleet.wrong_challenge = true;
  w.run_until([&] { return w.agent->stats().challenges_refused >= 1; }, 10 * kSec);
  EXPECT_EQ(w.agent->stats().challenges_refused, 1u);
  EXPECT_EQ(w.fleet.auth_seen, 0u);  // no AUTH was sent
  EXPECT_FALSE(w.agent->authenticated());
  w.fleet.wrong_challenge = false;  // the next session is answered properly
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated(); }, 30 * kSec));
  EXPECT_EQ(w.fleet.sessions, 2u);
}

TEST(LinkAgent, ReconnectBackOffGrowsWithJitterAndIsBounded) {
  World w;
  w.fleet.silent = true;  // nobody answers: every session ends at the authentication timeout
  std::vector<std::pair<uint32_t, uint64_t>> delays;  // (attempt, delay)
  uint64_t seen = 0;
  w.run_until([&] {
    if (w.agent->stats().sessions_lost != seen) {
      seen = w.agent->stats().sessions_lost;
      delays.push_back({w.agent->attempt(), w.agent->stats().last_backoff});
    }
    return delays.size() >= 14;
  }, 3600 * kSec);
  ASSERT_EQ(delays.size(), 14u);
  std::set<uint64_t> distinct;
  for (auto [attempt, d] : delays) {
    const uint64_t cap = std::min<uint64_t>(60 * kSec, kSec << (attempt - 1));
    EXPECT_LE(d, cap) << "attempt " << attempt;
    distinct.insert(d);
  }
  EXPECT_EQ(distinct.size(), delays.size());  // jittered
  uint64_t late_max = 0;
  for (size_t i = 8; i < delays.size(); ++i) late_max = std::max(late_max, delays[i].second);
  EXPECT_GT(late_max, 10 * kSec);  // it grew (caps of 60 s: six draws all below 10 s are ~0.01 % likely)
  // A new session id each time.
  w.fleet.silent = false;
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated(); }, 200 * kSec));
  EXPECT_EQ(w.agent->attempt(), 14u);
  EXPECT_EQ(w.agent->stats().sessions, 15u);
  // A session that stayed up for a while ends the back-off: Fleet restarts after 40 s, the
  // session idles out, and the next attempt comes within 1 s.
  w.run_until([] { return false; }, 40 * kSec);
  w.fleet.restart();
  ASSERT_TRUE(w.run_until([&] { return w.agent->stats().sessions_lost == 15; }, 120 * kSec));
  EXPECT_EQ(w.agent->attempt(), 0u);
  EXPECT_LE(w.agent->stats().last_backoff, 1 * kSec);
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated(); }, 30 * kSec));
}

TEST(LinkAgent, ConsoleStreamsReachTheShell) {
  World w;
  w.lossy(0.05, 0.05, 0.02, 9);
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated() && w.agent->component_count() == 31; }));
  const uint64_t a = w.fleet.open_console("components\rrestart c7\r");
  ASSERT_TRUE(w.run_until([&] { return w.dev.restarts[8] == 1 && w.fleet.console_out[a].find("c29") != std::string::npos; }, 30 * kSec));
  EXPECT_NE(w.fleet.console_out[a].find("keel> "), std::string::npos);
  const uint64_t b = w.fleet.open_console("log 3\r");
  ASSERT_TRUE(w.run_until([&] { return w.fleet.console_out[b].find("keel> ") != w.fleet.console_out[b].rfind("keel> "); }, 30 * kSec));
  EXPECT_EQ(w.console.consoles(), 2u);
  const uint64_t c = w.fleet.open_console("help\r");  // a third: refused
  ASSERT_TRUE(w.run_until([&] { return w.fleet.console_ended.count(c) == 1; }, 30 * kSec));
  EXPECT_EQ(w.console.consoles(), 2u);
  // Fleet ends console a: the agent ends its side and frees the slot.
  ASSERT_TRUE(w.fleet.s->write(a, {}, true).ok());
  ASSERT_TRUE(w.run_until([&] { return w.console.consoles() == 1; }, 30 * kSec));
  // A malformed message on a console ends only that console.
  const uint8_t bad[] = {0x00, 0x01, 0x06};  // a STATUS with no body
  ASSERT_TRUE(w.fleet.s->write(b, {bad, sizeof bad}).ok());
  ASSERT_TRUE(w.run_until([&] { return w.console.consoles() == 0; }, 30 * kSec));
  EXPECT_TRUE(w.agent->authenticated());
  EXPECT_EQ(w.fleet.sessions, 1u);
}

TEST(LinkAgent, ProxyAppReachesFleetThroughItsOwnStream) {
  World w;
  ASSERT_EQ(w.console.mux().add_app("app"), 0);
  w.lossy(0.05, 0.05, 0.02, 13);
  // While the link is not up yet, an OPEN is answered CLOSED(4) (link down).
  w.dev.app_record(1, "db");
  w.agent->run();
  ASSERT_TRUE(w.run_until([&] { return !w.dev.link_to_app.empty(); }, 1 * kSec));
  EXPECT_EQ(w.dev.link_to_app, (Buf{3, 1, 0, 4}));
  w.dev.link_to_app.clear();
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated(); }));
  w.dev.app_record(1, "db");
  w.dev.app_record(2, "ping");
  ASSERT_TRUE(w.run_until([&] { return w.fleet.proxy_data[4] == "ping"; }, 30 * kSec));
  EXPECT_EQ(w.fleet.proxy_service[4], "db");
  // OPENED, then Fleet's DATA "pong".
  ASSERT_TRUE(w.run_until([&] { return w.dev.link_to_app.size() >= 3 + 7; }, 30 * kSec));
  EXPECT_EQ(w.dev.link_to_app, (Buf{1, 0, 0, 2, 4, 0, 'p', 'o', 'n', 'g'}));
}

TEST(LinkAgent, AResultTheSessionCannotTakeNowWaitsAndGoesFirst) {
  World w;
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated() && w.fleet.statuses >= 1; }));
  w.run_until([] { return false; }, 5 * kSec);  // everything acknowledged: no send buffer held
  w.dev.mirror.cap = 0;                         // (no serial meanwhile)
  w.dpool.refuse_send = true;
  w.fleet.queue.push_back({21, ctl::kCmdRestartComponent, "c9"});
  w.fleet.send_commands();
  ASSERT_TRUE(w.run_until([&] { return w.dev.restarts[10] == 1; }, 10 * kSec));
  w.run_until([] { return false; }, 2 * kSec);
  EXPECT_EQ(w.fleet.results.count(21), 0u);  // executed, recorded, its result waits
  w.dpool.refuse_send = false;
  ASSERT_TRUE(w.run_until([&] { return w.fleet.results.count(21) == 1; }, 10 * kSec));
  EXPECT_EQ(w.fleet.results[21].outcome, ctl::Outcome::Done);
  EXPECT_EQ(w.fleet.sessions, 1u);  // in the same session
  EXPECT_EQ(w.dev.restarts[10], 1);
}

TEST(LinkAgent, ASerialStreamFleetStopsIsOpenedAgain) {
  World w;
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated(); }));
  w.dev.mirror.print("[app] one");
  w.agent->on_mirror();
  ASSERT_TRUE(w.run_until([&] { return !w.fleet.lines.empty() && w.fleet.lines.back() == "[app] one"; }, 10 * kSec));
  ASSERT_TRUE(w.fleet.s->stop_sending(2, 0).ok());
  w.run_until([] { return false; }, 2 * kSec);
  w.dev.mirror.print("[app] two");
  w.agent->on_mirror();
  ASSERT_TRUE(w.run_until([&] { return w.fleet.lines.back() == "[app] two"; }, 10 * kSec));
  EXPECT_EQ(w.fleet.gaps, 0u);
  EXPECT_EQ(w.fleet.sessions, 1u);
}

TEST(LinkAgent, MemoryIsFixed) {
  World w;
  ASSERT_TRUE(w.run_until([&] { return w.agent->authenticated(); }));
  for (int i = 0; i < 3000; ++i) w.dev.mirror.print("[app] " + std::string(200, 'y'));
  w.agent->on_mirror();
  w.run_until([] { return false; }, 60 * kSec);
  EXPECT_LE(w.dpool.in_use(), 12u);
  RecordProperty("agent_bytes", std::to_string(sizeof(Agent)));
  std::printf("sizeof(Agent) = %zu, sizeof(AgentConsole) = %zu, block pool 12 x %zu\n", sizeof(Agent),
              sizeof(AgentConsole), ctl::kBlockSize);
}

}  // namespace
}  // namespace keel::link

// The link agent's proxy mux (services/link/src/proxy.h) against a fake host: apps' record
// streams and control-protocol streams as bounded byte queues, Fleet's side decoded with the real
// message codec (keel/control/messages.h).
#include "proxy.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "keel/control/messages.h"

namespace keel::link {
namespace {

namespace ctl = keel::control;

struct FakeStream {
  std::string out;            // device → Fleet bytes
  size_t credit = 16384;      // what stream_write may take now
  bool fin_out = false;
  std::string in;             // Fleet → device bytes not yet read
  bool fin_in = false;
  bool aborted = false;
};

struct FakeApp {
  std::string to_link;        // app → link stream
  std::string to_app;         // link → app stream
  size_t to_app_cap = 16384;
};

struct Fake final : ProxyHost {
  std::vector<FakeApp> apps;
  std::map<uint64_t, FakeStream> streams;
  std::map<std::string, std::set<std::string>> allow;
  std::vector<std::string> logs;
  uint64_t next_id = 4;
  size_t max_open = 4;        // streams the session may open now
  size_t open_now() const {
    size_t n = 0;
    for (auto& [id, s] : streams)
      if (!s.aborted && !(s.fin_out && s.fin_in && s.in.empty())) ++n;
    return n;
  }

  bool app_peek(size_t a, uint8_t* buf, size_t n) override {
    if (apps[a].to_link.size() < n) return false;
    memcpy(buf, apps[a].to_link.data(), n);
    return true;
  }
  bool app_read(size_t a, uint8_t* h, size_t nh, uint8_t* b, size_t nb) override {
    std::string& s = apps[a].to_link;
    if (s.size() < nh + nb) return false;
    memcpy(h, s.data(), nh);
    if (nb > 0) memcpy(b, s.data() + nh, nb);
    s.erase(0, nh + nb);
    return true;
  }
  void app_discard(size_t a) override { apps[a].to_link.clear(); }
  bool app_send(size_t a, const uint8_t* h, size_t nh, const uint8_t* b, size_t nb) override {
    FakeApp& x = apps[a];
    if (x.to_app.size() + nh + nb > x.to_app_cap) return false;
    x.to_app.append(reinterpret_cast<const char*>(h), nh);
    if (nb > 0) x.to_app.append(reinterpret_cast<const char*>(b), nb);
    return true;
  }
  bool allowed(std::string_view app, std::string_view svc) override {
    auto it = allow.find(std::string(app));
    return it != allow.end() && it->second.count(std::string(svc)) > 0;
  }
  bool stream_open(uint64_t& id) override {
    if (open_now() >= max_open) return false;
    id = next_id;
    next_id += 2;
    streams[id] = FakeStream{};
    return true;
  }
  size_t stream_writable(uint64_t id) override {
    auto& s = streams.at(id);
    return s.fin_out || s.aborted ? 0 : s.credit;
  }
  bool stream_write(uint64_t id, const uint8_t* d, size_t n, bool fin) override {
    auto& s = streams.at(id);
    EXPECT_FALSE(s.fin_out) << "write after FIN";
    EXPECT_FALSE(s.aborted) << "write after abort";
    EXPECT_LE(n, s.credit) << "write beyond credit";
    if (n > s.credit) return false;
    s.out.append(reinterpret_cast<const char*>(d), n);
    s.credit -= n;
    if (fin) s.fin_out = true;
    return true;
  }
  size_t stream_read(uint64_t id, uint8_t* buf, size_t cap, bool& end) override {
    auto& s = streams.at(id);
    const size_t n = std::min(cap, s.in.size());
    memcpy(buf, s.in.data(), n);
    s.in.erase(0, n);
    end = s.aborted || (s.fin_in && s.in.empty());
    return n;
  }
  void stream_abort(uint64_t id) override { streams.at(id).aborted = true; }
  void log(std::string_view line) override { logs.emplace_back(line); }
};

struct Rec {
  uint8_t type;
  std::string body;
  bool operator==(const Rec&) const = default;
};
std::ostream& operator<<(std::ostream& o, const Rec& r) { return o << "{" << int(r.type) << ", " << r.body.size() << " bytes}"; }

struct ProxyTest : ::testing::Test {
  Fake host;
  ProxyMux mux{host};

  size_t add(const std::string& name, std::set<std::string> allowed = {}) {
    const int i = mux.add_app(name);
    EXPECT_GE(i, 0);
    host.apps.resize(size_t(i) + 1);
    if (!allowed.empty()) host.allow[name] = allowed;
    return size_t(i);
  }
  void app_put(size_t a, uint8_t type, const std::string& body, int len = -1) {
    uint8_t h[3];
    keel_proxy_put_header(h, type, uint16_t(len < 0 ? int(body.size()) : len));
    host.apps[a].to_link.append(reinterpret_cast<char*>(h), 3);
    host.apps[a].to_link += body;
  }
  // Records the link wrote to the app, consumed.
  std::vector<Rec> app_get(size_t a) {
    std::vector<Rec> v;
    std::string& s = host.apps[a].to_app;
    while (s.size() >= 3) {
      uint8_t t;
      uint16_t n;
      keel_proxy_get_header(reinterpret_cast<const uint8_t*>(s.data()), &t, &n);
      EXPECT_TRUE(keel_proxy_link_header_valid(t, n));
      if (s.size() < 3u + n) break;
      v.push_back({t, s.substr(3, n)});
      s.erase(0, 3u + n);
    }
    return v;
  }
  // Messages the device wrote on a control stream, consumed.
  std::vector<std::pair<ctl::MsgType, std::string>> fleet_get(uint64_t id) {
    std::vector<std::pair<ctl::MsgType, std::string>> v;
    std::string& s = host.streams.at(id).out;
    for (;;) {
      auto m = ctl::next_message(ctl::Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
      EXPECT_TRUE(m.ok());
      if (!m.ok() || m.value().size == 0) break;
      v.emplace_back(m.value().type, std::string(reinterpret_cast<const char*>(m.value().body.data()),
                                                 m.value().body.size()));
      s.erase(0, m.value().size);
    }
    return v;
  }
  void fleet_data(uint64_t id, const std::string& d) {
    uint8_t m[4200];
    auto n = ctl::encode_proxy_data(ctl::Bytes(reinterpret_cast<const uint8_t*>(d.data()), d.size()), m);
    ASSERT_TRUE(n.ok());
    host.streams.at(id).in.append(reinterpret_cast<char*>(m), n.value());
  }
  void fleet_close(uint64_t id, uint8_t code, bool fin = true) {
    uint8_t m[8];
    auto n = ctl::encode(ctl::ProxyClose{code}, m);
    ASSERT_TRUE(n.ok());
    host.streams.at(id).in.append(reinterpret_cast<char*>(m), n.value());
    host.streams.at(id).fin_in = fin;
  }
  // Opens a connection of app a to svc and returns its stream id.
  uint64_t open(size_t a, const std::string& svc) {
    const uint64_t id = host.next_id;
    app_put(a, KEEL_PROXY_OPEN, svc);
    mux.poll();
    auto f = fleet_get(id);
    EXPECT_EQ(f.size(), 1u);
    if (f.size() == 1) {
      EXPECT_EQ(f[0].first, ctl::MsgType::ProxyOpen);
      ctl::ProxyOpen po;
      EXPECT_TRUE(ctl::decode(ctl::Bytes(reinterpret_cast<const uint8_t*>(f[0].second.data()), f[0].second.size()), po).ok());
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(po.service.data()), po.service.size()), svc);
    }
    EXPECT_EQ(app_get(a), (std::vector<Rec>{{KEEL_PROXY_OPENED, ""}}));
    EXPECT_TRUE(mux.owns(id));
    EXPECT_EQ(mux.state(a), ProxyMux::State::Open);
    return id;
  }
  bool logged(const std::string& what) {
    for (auto& l : host.logs)
      if (l.find(what) != std::string::npos) return true;
    return false;
  }
};

std::string pattern(size_t n, int seed) {
  std::string s(n, 0);
  for (size_t i = 0; i < n; ++i) s[i] = char((i * 7 + size_t(seed) * 13) & 0xff);
  return s;
}

TEST_F(ProxyTest, AppNames) {
  EXPECT_EQ(mux.add_app("a"), 0);
  EXPECT_EQ(mux.add_app("a"), -1);
  EXPECT_EQ(mux.add_app(""), -1);
  EXPECT_EQ(mux.add_app(std::string(33, 'x')), -1);
  for (int i = 1; i < int(ProxyMux::kMaxApps); ++i) EXPECT_EQ(mux.add_app("app" + std::to_string(i)), i);
  EXPECT_EQ(mux.add_app("one-too-many"), -1);
}

TEST_F(ProxyTest, OpenDataBothWaysAndCloseByTheApp) {
  const size_t a = add("app", {"db", "cache"});
  mux.link_up();
  const uint64_t id = open(a, "db");
  app_put(a, KEEL_PROXY_DATA, "hello");
  mux.poll();
  auto f = fleet_get(id);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].first, ctl::MsgType::ProxyData);
  EXPECT_EQ(f[0].second, "hello");
  fleet_data(id, "world");
  mux.poll();
  EXPECT_EQ(app_get(a), (std::vector<Rec>{{KEEL_PROXY_LDATA, "world"}}));
  // The app closes: PROXY_CLOSE(0) + FIN, CLOSED(0) to the app; the stream is drained until
  // Fleet's FIN, then forgotten.
  app_put(a, KEEL_PROXY_CLOSE, "");
  mux.poll();
  f = fleet_get(id);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].first, ctl::MsgType::ProxyClose);
  EXPECT_EQ(f[0].second, std::string(1, '\0'));
  EXPECT_TRUE(host.streams[id].fin_out);
  EXPECT_EQ(app_get(a), (std::vector<Rec>{{KEEL_PROXY_CLOSED, std::string(1, '\0')}}));
  EXPECT_EQ(mux.state(a), ProxyMux::State::Idle);
  EXPECT_TRUE(mux.owns(id));  // draining
  fleet_data(id, "late");
  host.streams[id].fin_in = true;
  mux.poll();
  EXPECT_FALSE(mux.owns(id));
  EXPECT_TRUE(app_get(a).empty());  // late bytes are not delivered
  // A second connection on a new stream.
  const uint64_t id2 = open(a, "cache");
  EXPECT_NE(id2, id);
  EXPECT_EQ(mux.stats().opened, 2u);
}

TEST_F(ProxyTest, RefusedLocally) {
  const size_t a = add("app", {"db"});
  const size_t b = add("noconfig");
  mux.link_up();
  app_put(a, KEEL_PROXY_OPEN, "secret");
  app_put(b, KEEL_PROXY_OPEN, "db");
  mux.poll();
  EXPECT_TRUE(host.streams.empty());  // nothing reached Fleet
  EXPECT_EQ(app_get(a), (std::vector<Rec>{{KEEL_PROXY_CLOSED, std::string(1, char(KEEL_PROXY_REFUSED))}}));
  EXPECT_EQ(app_get(b), (std::vector<Rec>{{KEEL_PROXY_CLOSED, std::string(1, char(KEEL_PROXY_REFUSED))}}));
  EXPECT_TRUE(logged("proxy: app app (secret): refused: not in proxy.app"));
  EXPECT_EQ(mux.stats().refused_local, 2u);
  // The refusal is that connection's one CLOSED: the app may open again at once.
  open(a, "db");
}

TEST_F(ProxyTest, RefusedOrUnreachableAtFleet) {
  const size_t a = add("app", {"db"});
  mux.link_up();
  for (uint8_t code : {uint8_t(KEEL_PROXY_REFUSED), uint8_t(KEEL_PROXY_UNREACHABLE), uint8_t(KEEL_PROXY_NORMAL)}) {
    const uint64_t id = open(a, "db");
    fleet_close(id, code);
    mux.poll();
    EXPECT_EQ(app_get(a), (std::vector<Rec>{{KEEL_PROXY_CLOSED, std::string(1, char(code))}}));
    EXPECT_TRUE(host.streams[id].fin_out);    // our FIN, no message
    EXPECT_TRUE(fleet_get(id).empty());
    EXPECT_FALSE(mux.owns(id));               // both directions done
    EXPECT_EQ(mux.state(a), ProxyMux::State::Idle);
  }
  EXPECT_TRUE(logged("refused by Fleet"));
  EXPECT_TRUE(logged("unreachable"));
}

TEST_F(ProxyTest, BackPressureTowardsFleet) {
  const size_t a = add("app", {"db"});
  mux.link_up();
  const uint64_t id = open(a, "db");
  host.streams[id].credit = 1500;
  for (int i = 0; i < 4; ++i) app_put(a, KEEL_PROXY_DATA, pattern(1000, i));
  mux.poll();
  // One message fits; the rest stays in the app's stream (the app's writes block), nothing is
  // buffered in the mux.
  EXPECT_EQ(host.apps[a].to_link.size(), 3u * 1003u);
  EXPECT_EQ(fleet_get(id).size(), 1u);
  mux.poll();
  EXPECT_EQ(host.apps[a].to_link.size(), 3u * 1003u);
  host.streams[id].credit = 1 << 20;
  mux.poll();
  EXPECT_TRUE(host.apps[a].to_link.empty());
  auto f = fleet_get(id);
  ASSERT_EQ(f.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(f[size_t(i)].second, pattern(1000, i + 1));
}

TEST_F(ProxyTest, BackPressureTowardsTheApp) {
  const size_t a = add("app", {"db"});
  mux.link_up();
  const uint64_t id = open(a, "db");
  host.apps[a].to_app_cap = 2500;
  std::string sent;
  for (int i = 0; i < 8; ++i) {
    fleet_data(id, pattern(4000, i));
    sent += pattern(4000, i);
  }
  const size_t queued = host.streams[id].in.size();
  mux.poll();
  // The app's stream is full: the mux holds at most one message and reads no further, so the
  // rest stays in the control stream (whose window then stops Fleet).
  EXPECT_TRUE(host.apps[a].to_app.empty());
  EXPECT_GE(host.streams[id].in.size(), queued - ProxyMux::kMaxMsg);
  std::string got;
  size_t records = 0;
  for (int guard = 0; guard < 100 && got.size() < sent.size(); ++guard) {
    host.apps[a].to_app_cap = 4098;
    mux.poll();
    for (auto& r : app_get(a)) {
      EXPECT_EQ(r.type, KEEL_PROXY_LDATA);
      got += r.body;
      ++records;
    }
    // What the mux holds (read from the stream, not delivered) is at most one message.
    const size_t held = queued - host.streams[id].in.size() - (got.size() + 3 * records);
    EXPECT_LE(held, ProxyMux::kMaxMsg);
  }
  EXPECT_EQ(got, sent);
}

TEST_F(ProxyTest, LinkDownClosesEveryConnection) {
  const size_t a = add("a", {"db"});
  const size_t b = add("b", {"db"});
  const size_t c = add("c", {"db"});
  mux.link_up();
  const uint64_t ia = open(a, "db");
  const uint64_t ib = open(b, "db");
  mux.link_down();
  const std::vector<Rec> down{{KEEL_PROXY_CLOSED, std::string(1, char(KEEL_PROXY_LINK_DOWN))}};
  EXPECT_EQ(app_get(a), down);
  EXPECT_EQ(app_get(b), down);
  EXPECT_TRUE(app_get(c).empty());
  EXPECT_FALSE(mux.owns(ia));
  EXPECT_FALSE(mux.owns(ib));
  // Late records of the closed connection are dropped without complaint; an OPEN while the link
  // is down is answered CLOSED(4) at once.
  app_put(a, KEEL_PROXY_DATA, "late");
  app_put(a, KEEL_PROXY_CLOSE, "");
  app_put(c, KEEL_PROXY_OPEN, "db");
  mux.poll();
  EXPECT_TRUE(app_get(a).empty());
  EXPECT_TRUE(host.apps[a].to_link.empty());
  EXPECT_EQ(app_get(c), down);
  EXPECT_EQ(mux.stats().bad_records, 0u);
  // Up again: new connections on new streams.
  mux.link_up();
  const uint64_t ia2 = open(a, "db");
  EXPECT_NE(ia2, ia);
}

TEST_F(ProxyTest, LinkDownWithAFullAppStreamDeliversCLOSEDLater) {
  const size_t a = add("a", {"db"});
  mux.link_up();
  open(a, "db");
  host.apps[a].to_app_cap = 0;
  app_put(a, KEEL_PROXY_DATA, "blocked writer");
  mux.link_down();
  mux.poll();
  // The app's late DATA is consumed even while its CLOSED waits (no deadlock with a writer that
  // blocks before it reads).
  EXPECT_TRUE(host.apps[a].to_link.empty());
  EXPECT_EQ(mux.state(a), ProxyMux::State::Closing);
  // A new OPEN waits for the CLOSED before it.
  app_put(a, KEEL_PROXY_OPEN, "db");
  mux.poll();
  EXPECT_FALSE(host.apps[a].to_link.empty());
  host.apps[a].to_app_cap = 100;
  mux.poll();
  EXPECT_EQ(app_get(a), (std::vector<Rec>{{KEEL_PROXY_CLOSED, std::string(1, char(KEEL_PROXY_LINK_DOWN))},
                                          {KEEL_PROXY_CLOSED, std::string(1, char(KEEL_PROXY_LINK_DOWN))}}));
}

TEST_F(ProxyTest, HostileRecordsCloseOnlyThatApp) {
  struct Case {
    const char* what;
    uint8_t type;
    std::string body;
    int len;
    bool open_first;
  };
  const std::vector<Case> cases = {
      {"type 9", 9, "x", -1, true},
      {"type 0", 0, "", -1, false},
      {"empty DATA", KEEL_PROXY_DATA, "", -1, true},
      {"DATA too long", KEEL_PROXY_DATA, std::string(5000, 'd'), -1, true},
      {"length 65535", KEEL_PROXY_DATA, "short", 65535, true},
      {"CLOSE with a body", KEEL_PROXY_CLOSE, "x", -1, true},
      {"bad service name", KEEL_PROXY_OPEN, "Not/Valid", -1, false},
      {"service name too long", KEEL_PROXY_OPEN, std::string(65, 'a'), -1, false},
      {"OPEN while open", KEEL_PROXY_OPEN, "db", -1, true},
  };
  const size_t good = add("good", {"db"});
  const size_t bad = add("bad", {"db"});
  mux.link_up();
  const uint64_t gid = open(good, "db");
  uint64_t bad_records = 0;
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    uint64_t bid = 0;
    if (k.open_first) bid = open(bad, "db");
    app_put(bad, k.type, k.body, k.len);
    app_put(bad, KEEL_PROXY_DATA, "more junk after it");
    app_put(good, KEEL_PROXY_DATA, k.what);
    fleet_data(gid, k.what);
    mux.poll();
    EXPECT_EQ(app_get(bad), (std::vector<Rec>{{KEEL_PROXY_CLOSED, std::string(1, char(KEEL_PROXY_ERROR))}}));
    EXPECT_TRUE(host.apps[bad].to_link.empty());  // what it had queued is dropped
    EXPECT_EQ(mux.stats().bad_records, ++bad_records);
    if (k.open_first) {
      auto f = fleet_get(bid);  // Fleet is told: PROXY_CLOSE(3) + FIN
      ASSERT_FALSE(f.empty());
      EXPECT_EQ(f.back().first, ctl::MsgType::ProxyClose);
      EXPECT_EQ(f.back().second, std::string(1, char(KEEL_PROXY_ERROR)));
      EXPECT_TRUE(host.streams[bid].fin_out);
      host.streams[bid].fin_in = true;
    }
    // The good app did not notice.
    auto f = fleet_get(gid);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].second, k.what);
    EXPECT_EQ(app_get(good), (std::vector<Rec>{{KEEL_PROXY_LDATA, k.what}}));
    EXPECT_EQ(mux.state(good), ProxyMux::State::Open);
  }
  // Logged, but not without bound.
  size_t n = 0;
  for (auto& l : host.logs) n += l.find("proxy: app bad") == 0 && l.find("bad record") != std::string::npos;
  EXPECT_EQ(n, 3u);
  EXPECT_TRUE(logged("bad record: type 9, length 1"));
  // The misbehaving app may still open properly afterwards.
  mux.poll();
  open(bad, "db");
}

TEST_F(ProxyTest, DataBeforeOpened) {
  const size_t a = add("a", {"db"});
  const size_t b = add("b", {"db"});
  mux.link_up();
  // Never opened.
  app_put(a, KEEL_PROXY_DATA, "early");
  // Opened, but OPENED not given yet (no stream free).
  host.max_open = 0;
  app_put(b, KEEL_PROXY_OPEN, "db");
  app_put(b, KEEL_PROXY_DATA, "early");
  mux.poll();
  const std::vector<Rec> err{{KEEL_PROXY_CLOSED, std::string(1, char(KEEL_PROXY_ERROR))}};
  EXPECT_EQ(app_get(a), err);
  EXPECT_EQ(app_get(b), err);
  EXPECT_TRUE(logged("proxy: app a: bad record: DATA before OPENED"));
  EXPECT_TRUE(logged("proxy: app b (db): bad record: DATA before OPENED"));
  EXPECT_EQ(mux.stats().bad_records, 2u);
  // After a bad record the app's late DATA is dropped quietly until its next OPEN (it may have
  // been sent before the app saw the CLOSED).
  app_put(a, KEEL_PROXY_DATA, "late");
  mux.poll();
  EXPECT_TRUE(app_get(a).empty());
  EXPECT_EQ(mux.stats().bad_records, 2u);
}

TEST_F(ProxyTest, BadMessagesFromFleetCloseThatConnection) {
  const size_t a = add("a", {"db"});
  const size_t b = add("b", {"db"});
  mux.link_up();
  const uint64_t ia = open(a, "db");
  const uint64_t ib = open(b, "db");
  uint8_t m[16];
  auto n = ctl::encode_console(ctl::Bytes(reinterpret_cast<const uint8_t*>("hi"), 2), m);
  ASSERT_TRUE(n.ok());
  host.streams[ia].in.append(reinterpret_cast<char*>(m), n.value());
  fleet_data(ib, "fine");
  mux.poll();
  EXPECT_EQ(app_get(a), (std::vector<Rec>{{KEEL_PROXY_CLOSED, std::string(1, char(KEEL_PROXY_ERROR))}}));
  EXPECT_TRUE(host.streams[ia].aborted);
  EXPECT_FALSE(mux.owns(ia));
  EXPECT_EQ(app_get(b), (std::vector<Rec>{{KEEL_PROXY_LDATA, "fine"}}));
  // A stream that ends without PROXY_CLOSE.
  host.streams[ib].fin_in = true;
  mux.poll();
  EXPECT_EQ(app_get(b), (std::vector<Rec>{{KEEL_PROXY_CLOSED, std::string(1, char(KEEL_PROXY_ERROR))}}));
  EXPECT_EQ(mux.stats().bad_messages, 2u);
  // A bad PROXY_CLOSE code, a length beyond 4096.
  const uint64_t ia2 = open(a, "db");
  host.streams[ia2].in += std::string("\x00\x02\x0e\x09", 4);
  mux.poll();
  EXPECT_EQ(app_get(a), (std::vector<Rec>{{KEEL_PROXY_CLOSED, std::string(1, char(KEEL_PROXY_ERROR))}}));
  const uint64_t ib2 = open(b, "db");
  host.streams[ib2].in += std::string("\x10\x01\x0d", 3);
  mux.poll();
  EXPECT_EQ(app_get(b), (std::vector<Rec>{{KEEL_PROXY_CLOSED, std::string(1, char(KEEL_PROXY_ERROR))}}));
}

TEST_F(ProxyTest, WaitsForAFreeStream) {
  const size_t a = add("a", {"db"});
  mux.link_up();
  host.max_open = 0;
  app_put(a, KEEL_PROXY_OPEN, "db");
  mux.poll();
  EXPECT_EQ(mux.state(a), ProxyMux::State::Opening);
  EXPECT_TRUE(app_get(a).empty());  // no OPENED yet
  mux.poll();
  host.max_open = 4;
  const uint64_t id = host.next_id;
  mux.poll();
  EXPECT_EQ(mux.state(a), ProxyMux::State::Open);
  EXPECT_EQ(app_get(a), (std::vector<Rec>{{KEEL_PROXY_OPENED, ""}}));
  EXPECT_EQ(fleet_get(id).size(), 1u);
  // Closed by the app while waiting: no stream is used, CLOSED(0).
  host.max_open = 0;
  const size_t b = add("b", {"db"});
  app_put(b, KEEL_PROXY_OPEN, "db");
  app_put(b, KEEL_PROXY_CLOSE, "");
  mux.poll();
  EXPECT_EQ(app_get(b), (std::vector<Rec>{{KEEL_PROXY_CLOSED, std::string(1, '\0')}}));
}

TEST_F(ProxyTest, TwoAppsAreIndependent) {
  const size_t a = add("a", {"db"});
  const size_t b = add("b", {"web"});
  mux.link_up();
  const uint64_t ia = open(a, "db");
  const uint64_t ib = open(b, "web");
  host.streams[ia].credit = 0;  // a's connection is stalled towards Fleet
  host.apps[b].to_app_cap = 4098 * 4;
  host.apps[a].to_app_cap = 0;  // and a does not read
  for (int i = 0; i < 3; ++i) {
    app_put(a, KEEL_PROXY_DATA, pattern(2000, i));
    app_put(b, KEEL_PROXY_DATA, pattern(2000, i));
    fleet_data(ia, pattern(3000, i));
    fleet_data(ib, pattern(3000, i));
  }
  mux.poll();
  auto fb = fleet_get(ib);
  ASSERT_EQ(fb.size(), 3u);
  auto rb = app_get(b);
  ASSERT_EQ(rb.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(fb[size_t(i)].second, pattern(2000, i));
    EXPECT_EQ(rb[size_t(i)].body, pattern(3000, i));
  }
  EXPECT_TRUE(fleet_get(ia).empty());
  EXPECT_TRUE(app_get(a).empty());
  EXPECT_EQ(mux.state(a), ProxyMux::State::Open);
}

}  // namespace
}  // namespace keel::link

namespace keel::link {
namespace {

TEST_F(ProxyTest, PollIsBoundedAndSaysWhenWorkIsLeft) {
  const size_t a = add("a", {"db"});
  host.apps[a].to_link.reserve(1 << 16);
  mux.link_up();
  const uint64_t id = open(a, "db");
  for (int i = 0; i < 200; ++i) app_put(a, KEEL_PROXY_DATA, "r" + std::to_string(i));
  EXPECT_TRUE(mux.poll());
  EXPECT_EQ(fleet_get(id).size(), size_t(ProxyMux::kRoundsPerPoll));
  int polls = 1;
  while (mux.poll()) ++polls;
  EXPECT_LE(polls, 4);
  EXPECT_TRUE(host.apps[a].to_link.empty());
  auto f = fleet_get(id);
  ASSERT_EQ(f.size(), 200u - ProxyMux::kRoundsPerPoll);
  EXPECT_EQ(f.back().second, "r199");
  EXPECT_FALSE(mux.poll());
}

}  // namespace
}  // namespace keel::link

namespace keel::link {
namespace {

TEST(ProxyList, Contains) {
  EXPECT_TRUE(proxy_list_contains("db", "db"));
  EXPECT_TRUE(proxy_list_contains("db,web", "web"));
  EXPECT_TRUE(proxy_list_contains(" db , web ", "web"));
  EXPECT_FALSE(proxy_list_contains("db,web", "we"));
  EXPECT_FALSE(proxy_list_contains("db,web", "db,web"));
  EXPECT_FALSE(proxy_list_contains("", "db"));
  EXPECT_FALSE(proxy_list_contains("db,,web", ""));
  EXPECT_FALSE(proxy_list_contains("database", "data"));
}

}  // namespace
}  // namespace keel::link

// The link agent's proxy mux (services/link/src/proxy.h) against a fake host (proxy_fake.h):
// opening, refusals, data both ways, back-pressure, link down, hostile records.
#include <gtest/gtest.h>

#include "proxy_fake.h"

namespace keel::link::test {
namespace {

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

}  // namespace
}  // namespace keel::link::test

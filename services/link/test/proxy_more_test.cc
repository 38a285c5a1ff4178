// The link agent's proxy mux (services/link/src/proxy.h) against a fake host (proxy_fake.h):
// DATA before OPENED, bad messages from Fleet, stream limits, isolation, the poll bound, an empty
// block pool, a restarted link, the allowlist.
#include <gtest/gtest.h>

#include "proxy_fake.h"

namespace keel::link::test {
namespace {

TEST_F(ProxyTest, DataBeforeOpened) {
  const size_t a = add("a", {"db"});
  const size_t b = add("b", {"db"});
  mux.link_up();
  // After a connection the app closed itself.
  open(a, "db");
  app_put(a, KEEL_PROXY_CLOSE, "");
  mux.poll();
  EXPECT_EQ(app_get(a), (std::vector<Rec>{{KEEL_PROXY_CLOSED, std::string(1, '\0')}}));
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


TEST_F(ProxyTest, AnEmptyBlockPoolDelaysButLosesNothing) {
  const size_t a = add("a", {"db"});
  const size_t b = add("b", {"db"});
  mux.link_up();
  const uint64_t ia = open(a, "db");
  const uint64_t ib = open(b, "db");
  host.no_block = true;
  // A new connection waits with its PROXY_OPEN; data of open ones waits (one message in the mux),
  // and a CLOSE behind waiting DATA waits too.
  const size_t c = add("c", {"db"});
  const uint64_t ic = host.next_id;
  app_put(c, KEEL_PROXY_OPEN, "db");
  app_put(a, KEEL_PROXY_DATA, "a1");
  app_put(a, KEEL_PROXY_CLOSE, "");
  app_put(b, KEEL_PROXY_DATA, "b1");
  app_put(b, KEEL_PROXY_DATA, "b2");
  mux.poll();
  EXPECT_EQ(mux.state(c), ProxyMux::State::Opening);
  EXPECT_TRUE(app_get(c).empty());
  EXPECT_EQ(mux.state(a), ProxyMux::State::Open);
  EXPECT_EQ(mux.state(b), ProxyMux::State::Open);
  EXPECT_TRUE(fleet_get(ia).empty());
  EXPECT_TRUE(fleet_get(ib).empty());
  EXPECT_EQ(host.apps[a].to_link.size(), 3u);  // a1 taken, its CLOSE waits
  EXPECT_EQ(host.apps[b].to_link.size(), 10u);
  host.no_block = false;
  mux.poll();
  auto fa = fleet_get(ia);
  ASSERT_EQ(fa.size(), 2u);
  EXPECT_EQ(fa[0].second, "a1");
  EXPECT_EQ(fa[1].first, ctl::MsgType::ProxyClose);
  EXPECT_TRUE(host.streams[ia].fin_out);
  EXPECT_FALSE(host.streams[ia].aborted);
  auto fb = fleet_get(ib);
  ASSERT_EQ(fb.size(), 2u);
  EXPECT_EQ(fb[0].second, "b1");
  EXPECT_EQ(fb[1].second, "b2");
  EXPECT_EQ(fleet_get(ic).size(), 1u);  // PROXY_OPEN
  EXPECT_EQ(app_get(c), (std::vector<Rec>{{KEEL_PROXY_OPENED, ""}}));
  EXPECT_EQ(mux.stats().bad_records + mux.stats().bad_messages, 0u);
}


TEST_F(ProxyTest, ARestartedLinkDropsAnEarlierInstancesLateRecordsQuietly) {
  const size_t a = add("a", {"db"});
  mux.link_up();
  // What an app had queued for the link's previous instance: no CLOSED for it, no complaint.
  app_put(a, KEEL_PROXY_DATA, "for the old link");
  app_put(a, KEEL_PROXY_CLOSE, "");
  mux.poll();
  EXPECT_TRUE(app_get(a).empty());
  EXPECT_TRUE(host.apps[a].to_link.empty());
  EXPECT_EQ(mux.stats().bad_records, 0u);
  EXPECT_EQ(mux.stats().late_records, 2u);
  open(a, "db");
}

}  // namespace
}  // namespace keel::link::test

// The fake host of the proxy mux tests (proxy_test.cc, proxy_more_test.cc): apps' record streams
// and control-protocol streams as bounded byte queues, Fleet's side decoded with the real message
// codec (keel/control/messages.h), and the ProxyTest fixture.
#pragma once

#include "proxy.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "keel/control/messages.h"

namespace keel::link::test {

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
  bool no_block = false;      // the session's block pool is empty: writes of data fail
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
    if (no_block && n > 0) return false;
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
inline std::ostream& operator<<(std::ostream& o, const Rec& r) { return o << "{" << int(r.type) << ", " << r.body.size() << " bytes}"; }

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

inline std::string pattern(size_t n, int seed) {
  std::string s(n, 0);
  for (size_t i = 0; i < n; ++i) s[i] = char((i * 7 + size_t(seed) * 13) & 0xff);
  return s;
}

}  // namespace keel::link::test

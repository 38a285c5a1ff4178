// libkeel's proxy client (lib/keel/src/proxy.cc: keel_proxy_open/send/recv/close) end to end
// against the real proxy mux (services/link/src/proxy.h) and a fake Fleet, on the host: the
// client's stream calls, info page, clock and waits are faked here, and every wait of the client
// lets the link (the mux) and Fleet run one step — the single-threaded picture of three
// components.
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <new>
#include <string>

#include "keel/control/messages.h"
#include "keel/keel.h"
#include "keel_internal.h"
#include "proxy.h"

namespace {

namespace ctl = keel::control;
using keel::link::ProxyMux;

// ---- the world: the app's two streams, the link's control streams, Fleet ----------------------
struct Stream {
  std::string out, in;
  bool fin_out = false, fin_in = false, aborted = false;
  bool echo = false;
};

struct World final : keel::link::ProxyHost {
  std::string to_link, to_app;           // the app's proxy_tx and proxy_rx rings
  size_t to_link_cap = 8192, to_app_cap = 8192;
  std::map<uint64_t, Stream> streams;
  uint64_t next_id = 4;
  bool link_running = true;              // false: the link does not run (no poll)
  bool restarted = false;                // the next stream call answers KEEL_CHANNEL_DOWN once
  uint64_t now = 0;                      // ticks (= ms here)
  ProxyMux mux{*this};

  bool app_peek(size_t, uint8_t* b, size_t n) override {
    if (to_link.size() < n) return false;
    memcpy(b, to_link.data(), n);
    return true;
  }
  bool app_read(size_t, uint8_t* h, size_t nh, uint8_t* b, size_t nb) override {
    if (to_link.size() < nh + nb) return false;
    memcpy(h, to_link.data(), nh);
    if (nb > 0) memcpy(b, to_link.data() + nh, nb);
    to_link.erase(0, nh + nb);
    return true;
  }
  void app_discard(size_t) override { to_link.clear(); }
  bool app_send(size_t, const uint8_t* h, size_t nh, const uint8_t* b, size_t nb) override {
    if (to_app.size() + nh + nb > to_app_cap) return false;
    to_app.append(reinterpret_cast<const char*>(h), nh);
    if (nb > 0) to_app.append(reinterpret_cast<const char*>(b), nb);
    return true;
  }
  bool allowed(std::string_view app, std::string_view svc) override {
    return app == "app" && (svc == "echo" || svc == "nosuch");
  }
  bool stream_open(uint64_t& id) override {
    id = next_id;
    next_id += 2;
    streams[id] = Stream{};
    return true;
  }
  size_t stream_writable(uint64_t id) override { return streams[id].fin_out ? 0 : 16384; }
  bool stream_write(uint64_t id, const uint8_t* d, size_t n, bool fin) override {
    streams[id].out.append(reinterpret_cast<const char*>(d), n);
    if (fin) streams[id].fin_out = true;
    return true;
  }
  size_t stream_read(uint64_t id, uint8_t* b, size_t cap, bool& end) override {
    Stream& s = streams[id];
    const size_t n = std::min(cap, s.in.size());
    memcpy(b, s.in.data(), n);
    s.in.erase(0, n);
    end = s.aborted || (s.fin_in && s.in.empty());
    return n;
  }
  void stream_abort(uint64_t id) override { streams[id].aborted = true; }
  void log(std::string_view) override {}

  // Fleet: "echo" answers every PROXY_DATA upper-cased; "nosuch" is not configured.
  void fleet() {
    for (auto& [id, s] : streams) {
      for (;;) {
        auto m = ctl::next_message(ctl::Bytes(reinterpret_cast<const uint8_t*>(s.out.data()), s.out.size()));
        ASSERT_TRUE(m.ok());
        if (m.value().size == 0) break;
        const auto v = m.value();
        std::string body(reinterpret_cast<const char*>(v.body.data()), v.body.size());
        s.out.erase(0, v.size);
        uint8_t buf[4200];
        if (v.type == ctl::MsgType::ProxyOpen) {
          if (body == "\x04" "echo") {
            s.echo = true;
          } else {
            auto n = ctl::encode(ctl::ProxyClose{1}, buf);
            s.in.append(reinterpret_cast<char*>(buf), n.value());
            s.fin_in = true;
          }
        } else if (v.type == ctl::MsgType::ProxyData && s.echo) {
          for (char& c : body) c = char(toupper(static_cast<unsigned char>(c)));
          auto n = ctl::encode_proxy_data(ctl::Bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size()), buf);
          s.in.append(reinterpret_cast<char*>(buf), n.value());
        } else if (v.type == ctl::MsgType::ProxyClose) {
          s.fin_in = true;
        }
      }
    }
  }
  void step() {
    if (!link_running) return;
    mux.poll();
    fleet();
    mux.poll();
  }
};

World* w = nullptr;

// ---- the fake component environment of lib/keel/src/proxy.cc -------------------------------------
constexpr keel_channel_t kTx = 0, kRx = 1;
const char* const kStrings[] = {"", "app_proxy_tx", "proxy_tx", "link", "app_proxy_rx", "proxy_rx"};
keel_info_t g_info{};
keel_info_channel_t g_chan[2];

}  // namespace

extern "C" {
const keel_info_t* keel_info(void) { return &g_info; }
const keel_info_channel_t* keel_channel_info(keel_channel_t ch) {
  return ch == kTx || ch == kRx ? &g_chan[ch] : nullptr;
}
const char* keel_info_string(const keel_info_t*, keel_info_str_t s) { return kStrings[s.off]; }
uint64_t keel_now_ticks(void) { return w->now; }
uint64_t keel_ms_to_ticks(uint64_t ms) { return ms; }
keel_error_t keel_stream_send_record(keel_channel_t ch, const void* h, size_t nh, const void* b, size_t nb) {
  if (ch != kTx) return KEEL_INVALID_ARGUMENT;
  if (w->to_link.size() + nh + nb > w->to_link_cap) return KEEL_NO_SPACE;
  w->to_link.append(static_cast<const char*>(h), nh);
  if (nb > 0) w->to_link.append(static_cast<const char*>(b), nb);
  return KEEL_OK;
}
keel_error_t keel_stream_peek(keel_channel_t ch, void* buf, size_t n, size_t* done) {
  if (ch != kRx) return KEEL_INVALID_ARGUMENT;
  if (w->restarted) {
    w->restarted = false;
    *done = 0;
    return KEEL_CHANNEL_DOWN;
  }
  *done = w->to_app.size() >= n ? n : 0;
  if (*done > 0) memcpy(buf, w->to_app.data(), n);
  return KEEL_OK;
}
keel_error_t keel_stream_read_record(keel_channel_t ch, void* h, size_t nh, void* b, size_t nb, size_t* done) {
  if (ch != kRx) return KEEL_INVALID_ARGUMENT;
  *done = 0;
  if (w->to_app.size() < nh + nb) return KEEL_OK;
  memcpy(h, w->to_app.data(), nh);
  if (nb > 0) memcpy(b, w->to_app.data() + nh, nb);
  w->to_app.erase(0, nh + nb);
  *done = nh + nb;
  return KEEL_OK;
}
keel_error_t keel_stream_read(keel_channel_t ch, void* buf, size_t cap, size_t* done) {
  if (ch != kRx) return KEEL_INVALID_ARGUMENT;
  *done = std::min(cap, w->to_app.size());
  memcpy(buf, w->to_app.data(), *done);
  w->to_app.erase(0, *done);
  return KEEL_OK;
}
}  // extern "C"

namespace keel::detail {
// The client waits: the link and Fleet run, and a millisecond passes.
uint64_t wait_until(uint64_t, uint64_t deadline) {
  w->step();
  if (w->now < deadline) ++w->now;
  return 0;
}
}  // namespace keel::detail

namespace {

struct ProxyClient : ::testing::Test {
  World world;
  void SetUp() override {
    w = &world;
    g_info.channel_count = 2;
    g_chan[kTx] = keel_info_channel_t{};
    g_chan[kTx].name = {1, 12};
    g_chan[kTx].end = {2, 8};
    g_chan[kTx].peer = {3, 4};
    g_chan[kTx].kind = KEEL_CHANNEL_STREAM;
    g_chan[kTx].role = KEEL_ROLE_FROM;
    g_chan[kTx].notify_bit = 1u << 20;
    g_chan[kTx].size = 8192;
    g_chan[kRx] = g_chan[kTx];
    g_chan[kRx].name = {4, 12};
    g_chan[kRx].end = {5, 8};
    g_chan[kRx].role = KEEL_ROLE_TO;
    g_chan[kRx].notify_bit = 1u << 21;
    ASSERT_EQ(world.mux.add_app("app"), 0);
    world.mux.link_up();
  }
  void TearDown() override { (void)keel_proxy_close(); }
  std::string recv_all(size_t want, size_t cap) {
    std::string got;
    char buf[5000];
    while (got.size() < want) {
      size_t n = 0;
      const keel_error_t st = keel_proxy_recv(buf, cap, &n, 1000000000ull);
      EXPECT_EQ(st, KEEL_OK);
      if (st != KEEL_OK) break;
      EXPECT_LE(n, cap);
      got.append(buf, n);
    }
    return got;
  }
};

TEST_F(ProxyClient, EchoRoundTrip) {
  ASSERT_EQ(keel_proxy_open("echo"), KEEL_OK);
  EXPECT_EQ(keel_proxy_open("echo"), KEEL_ILLEGAL_OPERATION);  // one at a time
  ASSERT_EQ(keel_proxy_send("hello", 5), KEEL_OK);
  EXPECT_EQ(recv_all(5, 100), "HELLO");
  char b[8];
  size_t n = 99;
  EXPECT_EQ(keel_proxy_recv(b, sizeof b, &n, 0), KEEL_TIMEOUT);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(keel_proxy_close(), KEEL_OK);
  EXPECT_EQ(world.mux.state(0), ProxyMux::State::Idle);
  EXPECT_TRUE(world.to_app.empty());
  EXPECT_TRUE(world.streams.at(4).fin_out);
  // Again, on a new stream.
  ASSERT_EQ(keel_proxy_open("echo"), KEEL_OK);
  ASSERT_EQ(keel_proxy_send("again", 5), KEEL_OK);
  EXPECT_EQ(recv_all(5, 100), "AGAIN");
  EXPECT_EQ(world.streams.size(), 2u);
}

TEST_F(ProxyClient, ALargeTransferBothWaysInSmallPieces) {
  ASSERT_EQ(keel_proxy_open("echo"), KEEL_OK);
  std::string data(100000, 0);
  for (size_t i = 0; i < data.size(); ++i) data[i] = char('a' + i % 26);
  ASSERT_EQ(keel_proxy_send(data.data(), data.size()), KEEL_OK);  // blocks while the stream is full
  std::string want = data;
  for (char& c : want) c = char(toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(recv_all(want.size(), 777), want);
}

TEST_F(ProxyClient, RefusedLocallyThenAllowed) {
  EXPECT_EQ(keel_proxy_open("secret"), KEEL_DENIED);
  char b[8];
  size_t n = 0;
  EXPECT_EQ(keel_proxy_recv(b, sizeof b, &n, 0), KEEL_DENIED);
  EXPECT_EQ(keel_proxy_send("x", 1), KEEL_DENIED);
  EXPECT_TRUE(world.streams.empty());
  ASSERT_EQ(keel_proxy_open("echo"), KEEL_OK);
  ASSERT_EQ(keel_proxy_send("ok", 2), KEEL_OK);
  EXPECT_EQ(recv_all(2, 10), "OK");
}

TEST_F(ProxyClient, RefusedByFleet) {
  ASSERT_EQ(keel_proxy_open("nosuch"), KEEL_OK);  // the link opened it; Fleet's answer comes later
  char b[8];
  size_t n = 0;
  EXPECT_EQ(keel_proxy_recv(b, sizeof b, &n, KEEL_PROXY_FOREVER), KEEL_DENIED);
  EXPECT_EQ(keel_proxy_close(), KEEL_OK);
  ASSERT_EQ(keel_proxy_open("echo"), KEEL_OK);
  ASSERT_EQ(keel_proxy_send("next", 4), KEEL_OK);
  EXPECT_EQ(recv_all(4, 10), "NEXT");
}

TEST_F(ProxyClient, LinkDown) {
  ASSERT_EQ(keel_proxy_open("echo"), KEEL_OK);
  world.mux.link_down();
  char b[8];
  size_t n = 0;
  EXPECT_EQ(keel_proxy_recv(b, sizeof b, &n, KEEL_PROXY_FOREVER), KEEL_CHANNEL_DOWN);
  EXPECT_EQ(keel_proxy_close(), KEEL_OK);
  EXPECT_EQ(keel_proxy_open("echo"), KEEL_CHANNEL_DOWN);
  world.mux.link_up();
  ASSERT_EQ(keel_proxy_open("echo"), KEEL_OK);
}

TEST_F(ProxyClient, ALinkThatDoesNotAnswer) {
  world.link_running = false;
  EXPECT_EQ(keel_proxy_open("echo"), KEEL_TIMEOUT);
  EXPECT_GE(world.now, 10000u);
  // The link comes back: it answers the old OPEN and CLOSE first (one CLOSED), which the next
  // open skips.
  world.link_running = true;
  ASSERT_EQ(keel_proxy_open("echo"), KEEL_OK);
  ASSERT_EQ(keel_proxy_send("late", 4), KEEL_OK);
  EXPECT_EQ(recv_all(4, 10), "LATE");
}

TEST_F(ProxyClient, TheLinkRestarts) {
  ASSERT_EQ(keel_proxy_open("echo"), KEEL_OK);
  // The link's new instance: a fresh mux that knows nothing of the connection.
  world.mux.~ProxyMux();
  new (&world.mux) ProxyMux(world);
  ASSERT_EQ(world.mux.add_app("app"), 0);
  world.mux.link_up();
  world.restarted = true;
  char b[8];
  size_t n = 0;
  EXPECT_EQ(keel_proxy_recv(b, sizeof b, &n, KEEL_PROXY_FOREVER), KEEL_CHANNEL_DOWN);
  EXPECT_EQ(keel_proxy_close(), KEEL_OK);
  const uint64_t before = world.now;
  ASSERT_EQ(keel_proxy_open("echo"), KEEL_OK);  // no CLOSED is awaited from the old instance
  EXPECT_LT(world.now - before, 100u);
  ASSERT_EQ(keel_proxy_send("again", 5), KEEL_OK);
  EXPECT_EQ(recv_all(5, 10), "AGAIN");
}

TEST_F(ProxyClient, BadArguments) {
  EXPECT_EQ(keel_proxy_open(nullptr), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(keel_proxy_open(""), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(keel_proxy_open("Bad Name"), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(keel_proxy_open(std::string(65, 'a').c_str()), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(keel_proxy_send("x", 1), KEEL_INVALID_ARGUMENT);  // nothing open
  char b[4];
  size_t n = 0;
  EXPECT_EQ(keel_proxy_recv(b, sizeof b, &n, 0), KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(keel_proxy_recv(nullptr, 4, &n, 0), KEEL_INVALID_ARGUMENT);
  EXPECT_TRUE(world.to_link.empty());
}

}  // namespace

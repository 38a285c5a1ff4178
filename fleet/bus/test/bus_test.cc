// The bus (keel/bus/bus.h) and the console relay (keel/bus/console_relay.h) against a real
// nats-server: subjects and prefixes, requests, subscriptions that end cleanly; consoles relayed
// byte-exact both ways with back-pressure, ends told to the other side, and a peer that loses
// frames, breaks the credit, goes silent or sends garbage ends the console (never the process).
#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "keel/bus/bus.h"
#include "keel/bus/console_relay.h"
#include "nats_server.h"

namespace keel::bus {
namespace {

using namespace std::chrono_literals;
using fleet::ConsoleBridge;
using fleet::ConsoleOpen;
using testing::NatsServer;

template <class F>
bool wait_for(F pred, std::chrono::milliseconds t = 5000ms) {
  const auto end = std::chrono::steady_clock::now() + t;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

BusConfig config(const std::string& url, const std::string& prefix = "t") {
  BusConfig c;
  c.url = url;
  c.prefix = prefix;
  c.name = "bus_test";
  c.connect_timeout = 500ms;
  return c;
}

RelayConfig relay_config(std::chrono::milliseconds open_timeout, std::chrono::milliseconds heartbeat = 5000ms,
                         std::chrono::milliseconds silence = 15000ms) {
  RelayConfig r;
  r.open_timeout = open_timeout;
  r.heartbeat = heartbeat;
  r.silence = silence;
  return r;
}

std::unique_ptr<Bus> connect(const NatsServer& n, const std::string& prefix = "t") {
  auto b = Bus::connect(config(n.url(), prefix));
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error());
  return b.ok() ? std::move(b.value()) : nullptr;
}

TEST(Bus, ConnectFailureAndBadPrefixAreClear) {
  const uint16_t port = testing::free_tcp_port();
  auto r = Bus::connect(config("nats://127.0.0.1:" + std::to_string(port)));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("cannot connect to NATS at nats://127.0.0.1:" + std::to_string(port)), std::string::npos)
      << r.error();
  for (const char* bad : {"", "a.b", "a*", "a>", "a b", "ü"}) {
    auto p = Bus::connect(config("nats://127.0.0.1:1", bad));
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_NE(p.error().find("prefix"), std::string::npos) << p.error();
  }
  EXPECT_FALSE(Bus::connect({}).ok());
}

TEST(Bus, PublishSubscribeRequestAndPrefixes) {
  NatsServer n;
  auto a = connect(n), b = connect(n), other = connect(n, "u");
  ASSERT_TRUE(a && b && other);
  EXPECT_NE(a->node(), b->node());
  std::mutex mu;
  std::vector<std::string> got, got_other;
  auto s = b->subscribe("x.*", [&](std::string_view subj, std::string_view data, std::string_view) {
    std::lock_guard lk(mu);
    got.push_back(std::string(subj) + "=" + std::string(data));
  });
  auto so = other->subscribe("x.*", [&](std::string_view subj, std::string_view, std::string_view) {
    std::lock_guard lk(mu);
    got_other.emplace_back(subj);
  });
  ASSERT_TRUE(s && so);
  ASSERT_TRUE(b->flush(2000ms) && other->flush(2000ms));
  EXPECT_TRUE(a->publish("x.1", "one"));
  EXPECT_TRUE(a->publish("x.2", std::string("t\0w", 3)));
  EXPECT_TRUE(a->publish("y.1", "not for x"));
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard lk(mu);
    return got.size() == 2;
  }));
  std::this_thread::sleep_for(100ms);
  {
    std::lock_guard lk(mu);
    EXPECT_EQ(got[0], "t.x.1=one");
    EXPECT_EQ(got[1], std::string("t.x.2=t\0w", 9));
    EXPECT_TRUE(got_other.empty()) << "prefix u saw prefix t's traffic";
  }
  // Requests: an answer, nobody listening.
  auto responder = b->subscribe("echo", [&](std::string_view, std::string_view data, std::string_view reply) {
    b->publish_to(reply, "re:" + std::string(data));
  });
  ASSERT_TRUE(b->flush(2000ms));
  std::string answer;
  EXPECT_EQ(a->request("echo", "hi", 2000ms, answer), Bus::Reply::ok);
  EXPECT_EQ(answer, "re:hi");
  const auto r = a->request("nobody", "hi", 500ms, answer);
  EXPECT_TRUE(r == Bus::Reply::no_responders || r == Bus::Reply::timeout);
  EXPECT_TRUE(a->connected());
}

TEST(Bus, DestroyingASubscriptionWaitsForItsHandler) {
  NatsServer n;
  auto a = connect(n);
  ASSERT_TRUE(a);
  std::atomic<bool> in{false}, done{false};
  auto s = a->subscribe("slow", [&](std::string_view, std::string_view, std::string_view) {
    in = true;
    std::this_thread::sleep_for(300ms);
    done = true;
  });
  ASSERT_TRUE(a->flush(2000ms));
  a->publish("slow", "x");
  ASSERT_TRUE(wait_for([&] { return in.load(); }));
  s.reset();
  EXPECT_TRUE(done.load()) << "the handler was still running after the subscription was destroyed";
  // Nothing is delivered after it.
  a->publish("slow", "y");
  std::this_thread::sleep_for(100ms);
}

TEST(Bus, ReconnectsAfterTheServerComesBack) {
  NatsServer n;
  auto a = connect(n), b = connect(n);
  ASSERT_TRUE(a && b);
  std::atomic<int> got{0};
  auto s = b->subscribe("r", [&](std::string_view, std::string_view, std::string_view) { ++got; });
  ASSERT_TRUE(b->flush(2000ms));
  n.stop();
  ASSERT_TRUE(wait_for([&] { return !a->connected() && !b->connected(); }, 5000ms));
  n.start();
  ASSERT_TRUE(wait_for([&] { return a->connected() && b->connected(); }, 10000ms)) << "no reconnect";
  ASSERT_TRUE(b->flush(2000ms));
  a->publish("r", "after");
  EXPECT_TRUE(wait_for([&] { return got.load() >= 1; }, 3000ms)) << "the subscription did not survive";
}

// ---- the console relay --------------------------------------------------------------------------

// The link half of a bridge played by a thread: echoes what is typed with a prefix, and can also
// write `extra` bytes of device output, respecting the bridge's room (as the link does).
class FakeLink {
 public:
  explicit FakeLink(std::shared_ptr<ConsoleBridge> b) : b_(std::move(b)) {
    b_->set_link_wake([this] { cv_.notify_all(); });
    t_ = std::thread([this] { run(); });
  }
  ~FakeLink() {
    stop_ = true;
    cv_.notify_all();
    t_.join();
  }
  void write(std::string s) {
    std::lock_guard lk(mu_);
    out_ += s;
    cv_.notify_all();
  }
  std::string typed() {
    std::lock_guard lk(mu_);
    return typed_;
  }
  ConsoleBridge& bridge() { return *b_; }

 private:
  void run() {
    std::unique_lock lk(mu_);
    while (!stop_) {
      lk.unlock();
      std::string in = b_->take_input(4096);
      lk.lock();
      typed_ += in;
      out_ += in;  // the device echoes
      const size_t n = std::min(out_.size(), b_->output_room());
      if (n) {
        b_->push_output(reinterpret_cast<const uint8_t*>(out_.data()), n);
        out_.erase(0, n);
      }
      if (in.empty() && (out_.empty() || !b_->output_room())) cv_.wait_for(lk, 20ms);
    }
  }
  std::shared_ptr<ConsoleBridge> b_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string out_, typed_;
  std::atomic<bool> stop_{false};
  std::thread t_;
};

struct RelayPair {
  explicit RelayPair(const NatsServer& n, RelayConfig cfg = {}) : api_bus(connect(n)), link_bus(connect(n)) {
    api = std::make_unique<ConsoleRelay>(*api_bus, cfg);
    link = std::make_unique<ConsoleRelay>(*link_bus, cfg);
    link->serve([this](int64_t device, std::shared_ptr<ConsoleBridge> b) {
      if (device == 404) return ConsoleOpen::offline;
      if (device == 409) return ConsoleOpen::limit;
      std::lock_guard lk(mu);
      fakes.push_back(std::make_unique<FakeLink>(std::move(b)));
      return ConsoleOpen::ok;
    });
    link_bus->flush(2000ms);
  }
  FakeLink* fake(size_t i) {
    std::lock_guard lk(mu);
    return i < fakes.size() ? fakes[i].get() : nullptr;
  }
  std::unique_ptr<Bus> api_bus, link_bus;
  std::unique_ptr<ConsoleRelay> api, link;
  std::mutex mu;
  std::vector<std::unique_ptr<FakeLink>> fakes;
};

// The websocket half: types `input` as fast as the bridge takes it, collects the output.
std::string drive_client(ConsoleBridge& b, std::string_view input, size_t expect_out, std::chrono::milliseconds t) {
  std::string out;
  const auto end = std::chrono::steady_clock::now() + t;
  while ((out.size() < expect_out || !input.empty()) && std::chrono::steady_clock::now() < end) {
    if (!input.empty()) input.remove_prefix(b.send_input(input.substr(0, 1000)));
    b.take_output(out);
    std::this_thread::sleep_for(1ms);
  }
  return out;
}

TEST(ConsoleRelay, BytesBothWaysByteExactWithBackPressure) {
  NatsServer n;
  RelayPair p(n);
  auto client = std::make_shared<ConsoleBridge>();
  ASSERT_EQ(p.api->open(7, client), ConsoleOpen::ok);
  ASSERT_TRUE(wait_for([&] { return p.fake(0) != nullptr; }));
  // 1 MiB typed: every byte reaches the link in order and comes back (echo): 64 windows up and
  // 16 down, so the credit is used up and given back many times.
  std::string input(1 << 20, '\0');
  for (size_t i = 0; i < input.size(); ++i) input[i] = char(i * 7 + i / 251);
  const std::string out = drive_client(*client, input, input.size(), 60000ms);
  EXPECT_EQ(out.size(), input.size());
  EXPECT_TRUE(out == input) << "output differs from the echoed input";
  EXPECT_EQ(p.fake(0)->typed(), input);
  const RelayStats a = p.api->stats(), l = p.link->stats();
  EXPECT_EQ(a.opened, 1u);
  EXPECT_EQ(a.broken + l.broken, 0u);
  EXPECT_EQ(a.bytes_down, input.size());
  EXPECT_EQ(l.bytes_up, input.size());
  // A client that stops reading: the link's output waits in the bridges (bounded), nothing is lost.
  p.fake(0)->write(std::string(200 * 1024, 'z'));
  std::this_thread::sleep_for(500ms);
  EXPECT_LE(ConsoleBridge::kOutputCap - client->output_room(), ConsoleBridge::kOutputCap);
  const std::string rest = drive_client(*client, {}, 200 * 1024, 20000ms);
  EXPECT_EQ(rest, std::string(200 * 1024, 'z'));
  EXPECT_EQ(p.api->stats().broken + p.link->stats().broken, 0u);
}

TEST(ConsoleRelay, EndsReachTheOtherSide) {
  NatsServer n;
  RelayPair p(n);
  // The device side ends after some output: the client gets all of it, then the reason.
  auto c1 = std::make_shared<ConsoleBridge>();
  ASSERT_EQ(p.api->open(1, c1), ConsoleOpen::ok);
  ASSERT_TRUE(wait_for([&] { return p.fake(0) != nullptr; }));
  p.fake(0)->write("last words\n");
  ASSERT_TRUE(wait_for([&] { return c1->output_pending(); }));
  p.fake(0)->bridge().end("device offline");
  ASSERT_TRUE(wait_for([&] { return c1->ended().has_value(); }));
  EXPECT_EQ(*c1->ended(), "device offline");
  std::string out;
  c1->take_output(out);
  EXPECT_EQ(out, "last words\n");
  // The client closes: the link side learns it.
  auto c2 = std::make_shared<ConsoleBridge>();
  ASSERT_EQ(p.api->open(2, c2), ConsoleOpen::ok);
  ASSERT_TRUE(wait_for([&] { return p.fake(1) != nullptr; }));
  c2->close_by_client();
  EXPECT_TRUE(wait_for([&] { return p.fake(1)->bridge().client_closed(); }));
  EXPECT_TRUE(wait_for([&] { return p.api->active() == 0 && p.link->active() == 0; }));
  // Destroying a relay tells the other side of each open console.
  auto c3 = std::make_shared<ConsoleBridge>();
  ASSERT_EQ(p.api->open(3, c3), ConsoleOpen::ok);
  ASSERT_TRUE(wait_for([&] { return p.link->active() == 1; }));
  p.link.reset();
  ASSERT_TRUE(wait_for([&] { return c3->ended().has_value(); }));
  EXPECT_EQ(*c3->ended(), "Fleet process stopping");
}

TEST(ConsoleRelay, LimitOfflineAndNobody) {
  NatsServer n;
  RelayPair p(n, relay_config(400ms));
  EXPECT_EQ(p.api->open(409, std::make_shared<ConsoleBridge>()), ConsoleOpen::limit);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(p.api->open(404, std::make_shared<ConsoleBridge>()), ConsoleOpen::offline);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 350ms);  // a link without the device stays silent
  p.link.reset();
  p.link_bus->flush(1000ms);
  EXPECT_EQ(p.api->open(5, std::make_shared<ConsoleBridge>()), ConsoleOpen::offline);
  const RelayStats s = p.api->stats();
  EXPECT_EQ(s.refused, 1u);
  EXPECT_EQ(s.offline, 2u);
  EXPECT_EQ(p.api->active(), 0u);
}

// A hand-made link side: answers the open, then sends what the test wants.
struct RawLink {
  explicit RawLink(Bus& b) : bus(b) {
    sub = bus.subscribe("device.*.console", [this](std::string_view, std::string_view data, std::string_view reply) {
      cid = nlohmann::json::parse(data)["console"].get<std::string>();
      bus.publish_to(reply, R"({"result":"ok"})");
    });
    bus.flush(2000ms);
  }
  void frame(char kind, uint64_t v, int bytes, const std::string& data = {}) {
    std::string f(1, kind);
    for (int i = 0; i < bytes; ++i) f.push_back(char((v >> (8 * i)) & 0xff));
    bus.publish("console." + cid + ".down", f + data);
  }
  Bus& bus;
  std::string cid;
  std::unique_ptr<Bus::Subscription> sub;
};

TEST(ConsoleRelay, LostFramesBrokenCreditSilenceAndGarbageEndTheConsole) {
  NatsServer n;
  auto api_bus = connect(n), raw_bus = connect(n);
  ConsoleRelay api(*api_bus, relay_config(3000ms, 300ms, 1200ms));
  RawLink raw(*raw_bus);
  // A gap in the sequence.
  auto c = std::make_shared<ConsoleBridge>();
  ASSERT_EQ(api.open(1, c), ConsoleOpen::ok);
  raw.frame('D', 0, 4, "zero");
  raw.frame('D', 2, 4, "two");
  ASSERT_TRUE(wait_for([&] { return c->ended().has_value(); }));
  EXPECT_EQ(*c->ended(), "console relay lost data");
  EXPECT_TRUE(c->failed());  // the websocket closes with 1011
  std::string out;
  c->take_output(out);
  EXPECT_EQ(out, "zero");
  // More than the credit (the client reads nothing): 5 × 16 KiB > 64 KiB.
  c = std::make_shared<ConsoleBridge>();
  ASSERT_EQ(api.open(1, c), ConsoleOpen::ok);
  for (uint32_t i = 0; i < 5; ++i) raw.frame('D', i, 4, std::string(16 * 1024, 'x'));
  ASSERT_TRUE(wait_for([&] { return c->ended().has_value(); }));
  EXPECT_EQ(*c->ended(), "console relay broken");
  EXPECT_TRUE(c->failed());
  // Garbage: unknown kinds, short frames, a credit for bytes never sent.
  for (const std::string g : {"Q", "D\x01", "A\x01\x02"}) {
    c = std::make_shared<ConsoleBridge>();
    ASSERT_EQ(api.open(1, c), ConsoleOpen::ok);
    raw_bus->publish("console." + raw.cid + ".down", g);
    ASSERT_TRUE(wait_for([&] { return c->ended().has_value(); })) << g;
    EXPECT_EQ(*c->ended(), "console relay broken");
    EXPECT_TRUE(c->failed()) << g;
  }
  c = std::make_shared<ConsoleBridge>();
  ASSERT_EQ(api.open(1, c), ConsoleOpen::ok);
  raw.frame('A', 100, 8);
  ASSERT_TRUE(wait_for([&] { return c->ended().has_value(); }));
  // A peer that goes silent (a killed keel-gateway): the console ends after `silence`.
  c = std::make_shared<ConsoleBridge>();
  ASSERT_EQ(api.open(1, c), ConsoleOpen::ok);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_for([&] { return c->ended().has_value(); }, 5000ms));
  EXPECT_EQ(*c->ended(), "device link unreachable");
  EXPECT_TRUE(c->failed());  // 1011, not a normal close: the page says the server ended it
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1000ms);
  // An end reason from the peer is cleaned (printable, bounded) before it reaches a websocket.
  c = std::make_shared<ConsoleBridge>();
  ASSERT_EQ(api.open(1, c), ConsoleOpen::ok);
  raw_bus->publish("console." + raw.cid + ".down", "E" + std::string(500, 'r') + "\n\x01");
  ASSERT_TRUE(wait_for([&] { return c->ended().has_value(); }));
  EXPECT_EQ(*c->ended(), std::string(120, 'r'));
  EXPECT_FALSE(c->failed());  // the peer ended it (the device or the user): a normal close
  EXPECT_EQ(api.active(), 0u);
}

TEST(ConsoleRelay, MalformedOpenRequestsAreIgnored) {
  NatsServer n;
  auto link_bus = connect(n), evil = connect(n);
  ConsoleRelay link(*link_bus);
  std::atomic<int> opened{0};
  link.serve([&](int64_t, std::shared_ptr<ConsoleBridge>) {
    ++opened;
    return ConsoleOpen::ok;
  });
  link_bus->flush(2000ms);
  std::string answer;
  for (const auto& [subject, body] : std::vector<std::pair<std::string, std::string>>{
           {"device.1.console", "not json"},
           {"device.1.console", R"({"console": "../../etc"})"},
           {"device.1.console", R"({"console": 7})"},
           {"device.1.console", R"({"console": "ABCDEF0123456789"})"},
           {"device.x.console", R"({"console": "0123456789abcdef"})"},
           {"device.01.console", R"({"console": "0123456789abcdef"})"},
           {"device.9999999999999999999.console", R"({"console": "0123456789abcdef"})"}}) {
    EXPECT_NE(evil->request(subject, body, 300ms, answer), Bus::Reply::ok) << subject << " " << body;
  }
  EXPECT_EQ(opened.load(), 0);
  // A well-formed one is served (and the same console id twice only once).
  EXPECT_EQ(evil->request("device.1.console", R"({"console": "0123456789abcdef"})", 2000ms, answer), Bus::Reply::ok);
  EXPECT_EQ(answer, R"({"result":"ok"})");
  EXPECT_NE(evil->request("device.1.console", R"({"console": "0123456789abcdef"})", 300ms, answer), Bus::Reply::ok);
  EXPECT_EQ(opened.load(), 1);
}

}  // namespace
}  // namespace keel::bus

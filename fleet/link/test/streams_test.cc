// Consoles and proxies end to end (docs/fleet-api.md, "Device console" and "Device link"): the
// console websocket of the in-process Fleet against simulated devices (link_harness.h), and device
// proxies to a TCP echo server the test runs on loopback.
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <atomic>
#include <deque>
#include <fstream>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/beast/websocket.hpp>

#include "console_client.h"
#include "link_harness.h"

extern char** environ;

namespace keel::link {
namespace {

// A TCP echo server on 127.0.0.1 (its own thread): counts the connections it accepted.
class EchoServer {
 public:
  EchoServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~EchoServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  uint16_t port = 0;
  std::atomic<int> accepted{0};

 private:
  void run() {
    std::vector<std::thread> conns;
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) {
        if (stop_) break;
        continue;
      }
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) {
        if (stop_) break;
        continue;
      }
      ++accepted;
      conns.emplace_back([this, c] {
        char buf[4096];
        for (;;) {
          pollfd q{c, POLLIN, 0};
          if (poll(&q, 1, 50) <= 0) {
            if (stop_) break;
            continue;
          }
          const ssize_t n = recv(c, buf, sizeof buf, 0);
          if (n <= 0) break;
          if (send(c, buf, size_t(n), MSG_NOSIGNAL) != n) break;
        }
        close(c);
      });
    }
    for (auto& t : conns) t.join();
  }
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A free loopback TCP port nobody listens on (bound, then closed).
uint16_t closed_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

class StreamsTest : public LinkTest {
 protected:
  // Pumps the devices and the websocket clients until pred() or the timeout.
  bool pump_until(const std::function<bool()>& pred, std::chrono::milliseconds t, std::vector<Device*> devs,
                  std::vector<ConsoleClient*> clients = {}) {
    const auto end = std::chrono::steady_clock::now() + t;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      for (auto* d : devs) d->pump_for(5ms);
      for (auto* c : clients) c->pump(5ms);
      if (devs.empty() && clients.empty()) std::this_thread::sleep_for(5ms);
    }
    return true;
  }
  void set_proxy(int64_t deployment, const std::string& name, const std::string& host, uint16_t port) {
    auto r = srv->call("PUT", "/api/v1/deployments/" + std::to_string(deployment) + "/proxies/" + name,
                       {{"host", host}, {"port", port}});
    ASSERT_EQ(r.status, 200) << r.body;
  }
};

TEST_F(StreamsTest, ConsoleRoundTripAndLimit) {
  auto r = register_device("d1");
  start_link();
  auto d = online(*r);
  ConsoleClient a(srv->port(), r->id);
  ASSERT_EQ(a.status, 101) << a.error.message();
  // Fleet opened a console stream and announced it with a carriage return.
  ASSERT_TRUE(pump_until([&] { return d->consoles().size() == 1 && d->extra[d->consoles()[0]].data == "\r"; }, 3000ms,
                         {d.get()}, {&a}));
  const uint64_t sa = d->consoles()[0];
  // Typed bytes reach the device; its answer (the echo) and its own output reach the websocket.
  a.send("status\r");
  ASSERT_TRUE(pump_until([&] { return a.data.find("echo:status\r") != std::string::npos; }, 3000ms, {d.get()}, {&a}))
      << "got '" << a.data << "'";
  EXPECT_EQ(d->extra[sa].data, "\rstatus\r");
  std::string big(10000, 'x');  // more than one message and than half a stream window
  for (size_t i = 0; i < big.size(); ++i) big[i] = char('a' + i % 26);
  d->console_send(sa, big);
  ASSERT_TRUE(pump_until([&] { return a.data.find(big) != std::string::npos; }, 3000ms, {d.get()}, {&a}));
  // A second console is fine, a third is refused with 4409.
  ConsoleClient b(srv->port(), r->id);
  ASSERT_EQ(b.status, 101);
  ASSERT_TRUE(pump_until([&] { return d->consoles().size() == 2; }, 3000ms, {d.get()}, {&a, &b}));
  ConsoleClient c(srv->port(), r->id);
  ASSERT_EQ(c.status, 101);
  ASSERT_TRUE(pump_until([&] { return c.ended; }, 3000ms, {d.get()}, {&c}));
  EXPECT_EQ(c.close_code, 4409);
  EXPECT_EQ(c.close_reason, "console limit");
  EXPECT_EQ(link->link().stats().consoles_refused, 1u);
  // Closing one frees its place: the device sees its stream reset, a new console opens.
  a.close();
  ASSERT_TRUE(pump_until([&] { return d->extra[sa].fin; }, 3000ms, {d.get()}, {&b}));
  ConsoleClient e(srv->port(), r->id);
  ASSERT_EQ(e.status, 101);
  ASSERT_TRUE(pump_until([&] { return d->consoles().size() == 3; }, 3000ms, {d.get()}, {&b, &e}));
  EXPECT_FALSE(e.ended);
  e.send("x");
  ASSERT_TRUE(pump_until([&] { return e.data.find("echo:x") != std::string::npos; }, 3000ms, {d.get()}, {&b, &e}));
  EXPECT_EQ(b.data.find("echo:x"), std::string::npos);  // each console its own stream
}

TEST_F(StreamsTest, ConsoleOfOfflineDevice) {
  auto r = register_device("d1");
  LinkConfig lc;
  lc.idle_timeout = 800ms;
  start_link(lc);
  // Never connected: 4404 at once.
  ConsoleClient a(srv->port(), r->id);
  ASSERT_EQ(a.status, 101);
  ASSERT_TRUE(pump_until([&] { return a.ended; }, 3000ms, {}, {&a}));
  EXPECT_EQ(a.close_code, 4404);
  EXPECT_EQ(a.close_reason, "device offline");
  // A device that goes silent mid-console: 4404 when its session ends.
  auto d = online(*r);
  ConsoleClient b(srv->port(), r->id);
  ASSERT_EQ(b.status, 101);
  ASSERT_TRUE(pump_until([&] { return d->consoles().size() == 1; }, 3000ms, {d.get()}, {&b}));
  d.reset();
  ASSERT_TRUE(pump_until([&] { return b.ended; }, 5000ms, {}, {&b}));
  EXPECT_EQ(b.close_code, 4404);
  // An unknown device: refused before the upgrade.
  ConsoleClient c(srv->port(), 999999);
  EXPECT_EQ(c.status, 404);
}

// Without a device link in this process (fleet mode's API), the console answers 501.
TEST_F(StreamsTest, ConsoleWithoutTheLinkIs501) {
  auto r = register_device("d1");
  ConsoleClient a(srv->port(), r->id);
  EXPECT_EQ(a.status, 501);
  EXPECT_TRUE(a.ended);
  auto plain = srv->call("GET", "/api/v1/devices/" + std::to_string(r->id) + "/console");
  EXPECT_EQ(plain.status, 426);
}

TEST_F(StreamsTest, ProxyToAConfiguredService) {
  EchoServer echo;
  auto r = register_device("d1");
  set_proxy(dep, "echo", "127.0.0.1", echo.port);
  start_link();
  auto d = online(*r);
  const uint64_t id = d->open_proxy("echo");
  ASSERT_NE(id, 0u);
  d->proxy_send(id, "hello ");
  std::string big(20000, 'y');  // beyond one message and one stream window
  for (size_t i = 0; i < big.size(); ++i) big[i] = char('A' + i % 26);
  d->proxy_send(id, big);
  ASSERT_TRUE(pump_until([&] { return d->extra[id].data.size() >= 6 + big.size(); }, 5000ms, {d.get()}))
      << d->extra[id].data.size() << " close " << d->extra[id].close;
  EXPECT_EQ(d->extra[id].data, "hello " + big);
  EXPECT_EQ(echo.accepted.load(), 1);
  // The device closes: Fleet closes the connection and finishes the stream.
  uint8_t b[8];
  auto n = ctl::encode(ctl::ProxyClose{0}, b);
  d->write_on(id, {b, n.value()}, true);
  ASSERT_TRUE(pump_until([&] { return link->link().proxy_connections() == 0; }, 3000ms, {d.get()}));
  ASSERT_TRUE(pump_until([&] { return d->extra[id].fin; }, 3000ms, {d.get()}));
  EXPECT_EQ(link->link().stats().proxies_opened, 1u);
}

TEST_F(StreamsTest, ProxyRefusedWhenNotConfiguredOrUnreachable) {
  EchoServer echo;
  auto r = register_device("d1");
  // Configured for another deployment only, and an unreachable one for this deployment.
  const int64_t other = create("/api/v1/deployments", {{"project_id", proj}, {"name", "other"}}).value("id", int64_t{0});
  set_proxy(other, "theirs", "127.0.0.1", echo.port);
  set_proxy(dep, "gone", "127.0.0.1", closed_port());
  LinkConfig lc;
  lc.proxy_connect_timeout = 500ms;
  start_link(lc);
  auto d = online(*r);
  const uint64_t a = d->open_proxy("unknown");
  const uint64_t b = d->open_proxy("theirs");
  ASSERT_NE(a, 0u);
  ASSERT_NE(b, 0u);
  ASSERT_TRUE(pump_until([&] { return d->extra[a].close >= 0 && d->extra[b].close >= 0; }, 3000ms, {d.get()}));
  EXPECT_EQ(d->extra[a].close, 1);
  EXPECT_EQ(d->extra[b].close, 1);
  EXPECT_TRUE(d->extra[a].data.empty());
  // The streams are freed (both sides finished): the next one is unreachable.
  ASSERT_TRUE(pump_until([&] { return !d->s->stream_open(a) && !d->s->stream_open(b); }, 3000ms, {d.get()}));
  const uint64_t c = d->open_proxy("gone");
  ASSERT_NE(c, 0u);
  d->proxy_send(c, "lost");
  ASSERT_TRUE(pump_until([&] { return d->extra[c].close >= 0; }, 3000ms, {d.get()}));
  EXPECT_EQ(d->extra[c].close, 2);
  EXPECT_EQ(echo.accepted.load(), 0);  // nothing connected to the other deployment's service
  EXPECT_EQ(link->link().stats().proxies_opened, 1u);
  EXPECT_GE(link->link().stats().proxies_refused, 3u);
}

// A hostile device opens streams as fast as it can: unknown services, PROXY_DATA without
// PROXY_OPEN, CONSOLE on its own streams, real proxies flooded with data: another device's console
// and proxy work meanwhile, and the pool holds no more than the two devices' quotas.
TEST_F(StreamsTest, HostileDeviceDoesNotAffectAnother) {
  EchoServer echo;
  auto bad_r = register_device("bad");
  auto good_r = register_device("good");
  set_proxy(dep, "echo", "127.0.0.1", echo.port);
  start_link();
  auto bad = online(*bad_r);
  auto good = online(*good_r);
  ConsoleClient con(srv->port(), good_r->id);
  ASSERT_EQ(con.status, 101);
  uint64_t gp = 0;
  int opened = 0;
  const auto until = std::chrono::steady_clock::now() + 2500ms;
  std::mt19937 rng(3);
  bool console_ok = false, proxy_ok = false, pinged = false;
  while (std::chrono::steady_clock::now() < until || !console_ok || !proxy_ok) {
    if (std::chrono::steady_clock::now() > until + 5000ms) break;
    // The hostile device: unknown services, PROXY_DATA before PROXY_OPEN, CONSOLE on its own
    // streams, real proxies flooded with data it never reads.
    for (int k = 0; k < 4; ++k) {
      auto id = bad->s->open_stream();
      if (!id.ok()) break;
      ++opened;
      bad->extra[id.value()];
      uint8_t b[4200];
      const int kind = int(rng() % 4);
      if (kind == 0) {
        const std::string svc = "svc" + std::to_string(rng() % 1000);
        ctl::ProxyOpen po;
        po.service = {reinterpret_cast<const uint8_t*>(svc.data()), svc.size()};
        bad->write_on(id.value(), {b, ctl::encode(po, b).value()});
      } else if (kind == 1) {
        bad->proxy_send(id.value(), std::string(4000, 'z'));
        bad->write_on(id.value(), {}, true);
      } else if (kind == 2) {
        bad->console_send(id.value(), "rm -rf /");
        bad->write_on(id.value(), {}, true);
      } else {
        ctl::ProxyOpen po;
        const std::string svc = "echo";
        po.service = {reinterpret_cast<const uint8_t*>(svc.data()), svc.size()};
        bad->write_on(id.value(), {b, ctl::encode(po, b).value()});
        for (int j = 0; j < 8; ++j) bad->proxy_send(id.value(), std::string(4000, 'f'));
        bad->write_on(id.value(), {}, true);
      }
    }
    bad->pump_for(5ms);
    // The good device.
    good->pump_for(5ms);
    con.pump(5ms);
    if (!pinged && !good->consoles().empty() && good->extra[good->consoles()[0]].data == "\r") {
      con.send("ping");
      pinged = true;
    }
    console_ok = con.data.find("echo:ping") != std::string::npos;
    if (!gp) {
      gp = good->open_proxy("echo");
      if (gp) good->proxy_send(gp, "good bytes");
    }
    proxy_ok = gp && good->extra[gp].data == "good bytes";
  }
  EXPECT_TRUE(console_ok) << "console: '" << con.data << "'";
  EXPECT_TRUE(proxy_ok);
  EXPECT_GT(opened, 8);
  EXPECT_FALSE(con.ended);
  EXPECT_LE(link->link().blocks_in_use(), 2u * (1 + 4) + 2);
}


#ifdef KEEL_CLI
// `keel device restart` against this Fleet, the device answering: the CLI waits for the outcome,
// prints it, and its exit status says whether the restart was done.
TEST_F(StreamsTest, CliRestartWaitsForTheOutcome) {
  auto r = register_device("pump-1");
  start_link();
  auto d = online(*r);
  const std::string url = "http://127.0.0.1:" + std::to_string(srv->port());
  const std::string out = (dir.path() / "cli.out").string();
  auto spawn = [&](std::vector<std::string> args) {
    args.insert(args.begin(), KEEL_CLI);
    for (const char* x : {"--url", url.c_str(), "--interval", "0.1"}) args.push_back(x);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string cfg = "KEEL_CONFIG=" + (dir.path() / "none.json").string();
    std::vector<std::string> envs = {cfg, "HOME=" + dir.path().string(), "PATH=/usr/bin:/bin"};
    std::vector<char*> envp;
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, KEEL_CLI, &fa, nullptr, argv.data(), envp.data()), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
  };
  auto wait_exit = [&](pid_t pid) {
    int status = -1;
    pump_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 10000ms, {d.get()});
    std::ifstream f(out);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, text);
  };
  pid_t pid = spawn({"device", "restart", "pump-1", "--component", "net"});
  ASSERT_TRUE(pump_until([&] { return d->commands.size() == 1; }, 5000ms, {d.get()}));
  EXPECT_EQ(d->commands[0].kind, ctl::kCmdRestartComponent);
  EXPECT_EQ(d->commands[0].args, "net");
  d->send_result(d->commands[0].id, ctl::Outcome::Done, "restarted");
  auto [st, text] = wait_exit(pid);
  EXPECT_EQ(st, 0) << text;
  EXPECT_NE(text.find("done: done (restarted)"), std::string::npos) << text;
  // The whole system; the device reports a failure: exit status 1.
  pid = spawn({"device", "restart", std::to_string(r->id)});
  ASSERT_TRUE(pump_until([&] { return d->commands.size() == 2; }, 5000ms, {d.get()}));
  EXPECT_EQ(d->commands[1].kind, ctl::kCmdRestartSystem);
  d->send_result(d->commands[1].id, ctl::Outcome::Failed, "interrupted");
  auto [st2, text2] = wait_exit(pid);
  EXPECT_EQ(st2, 1) << text2;
  EXPECT_NE(text2.find("failed: failed (interrupted)"), std::string::npos) << text2;
  // --no-wait: queued, exit 0 at once.
  pid = spawn({"device", "restart", "pump-1", "--no-wait"});
  auto [st3, text3] = wait_exit(pid);
  EXPECT_EQ(st3, 0) << text3;
  EXPECT_NE(text3.find("queued command"), std::string::npos) << text3;
}
#endif

}  // namespace
}  // namespace keel::link

// keel-devsim — many simulated Keel devices in one process, each running the link agent's own core
// (sim_device.h: the code the QEMU device runs, on a host Platform) behind its own WireGuard
// tunnel, against a running Fleet. It registers its devices with one bulk import
// (POST /deployments/{id}/devices/import), brings them up at a bounded rate, lets them chatter on
// their consoles and answer Fleet's commands, and reports how many are online.
//
//   keel-devsim --fleet http://127.0.0.1:7780 --deployment 3 --count 2000 --seconds 60
//
// Scripted behaviours: --offline (a share registered but never powered), --flap (a share that
// loses power for a few seconds every --flap-period), --chatter (console lines per device per
// minute), --loss (datagrams lost on every path), --slow (a share behind a slow path: commands
// answered late), --hang (a share whose agent hangs: commands never answered). --sockets N puts
// the devices on N shared UDP sockets (routed by WireGuard receiver index) instead of one each. Exit status: 0 when every device meant to be online authenticated (with
// --until-online: as soon as they all have), 1 when not, 2 for bad arguments or a Fleet that
// refused the registration. docs/operations.md, "Device simulator".
#include <sodium.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "fleet_client.h"
#include "sim_device.h"

namespace {

using namespace keel;
using link::sim::DeviceKeys;
using link::sim::SimDevice;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop = 0;

struct Options {
  std::string fleet = "http://127.0.0.1:7780";
  std::string token;
  int64_t deployment = 0;
  size_t count = 100;
  std::string prefix = "sim";
  double seconds = 0;
  bool until_online = false;
  double rate = 500;           // devices brought up per second
  double offline = 0;          // percent never powered
  double flap = 0;             // percent that lose power now and then
  double flap_period = 30;     // seconds between a flapping device's power cuts (on average)
  double chatter = 6;          // console lines per device per minute
  std::string gateway;         // host:port; default: Fleet's own (GET /system)
  std::string gateway_key;     // base64; with --gateway
  size_t sockets = 0;          // shared UDP sockets (0: one per device)
  double loss = 0;             // percent of datagrams lost each way, every device
  double slow = 0;             // percent of devices behind a slow path
  double slow_ms = 2000;       // its one-way delay
  double hang = 0;             // percent of devices whose agent hangs
  double hang_after = 60;      // seconds after power-up
  std::string report;          // a JSON line per device at the end
};

uint64_t now_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

std::string b64(const uint8_t* p, size_t n) {
  std::vector<char> t(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL));
  sodium_bin2base64(t.data(), t.size(), p, n, sodium_base64_VARIANT_ORIGINAL);
  return t.data();
}

bool key_from_b64(const std::string& s, wg::Key& k) {
  size_t n = 0;
  return sodium_base642bin(k.data(), k.size(), s.data(), s.size(), nullptr, &n, nullptr,
                           sodium_base64_VARIANT_ORIGINAL) == 0 &&
         n == k.size();
}

int fail(const std::string& msg) {
  std::fprintf(stderr, "keel-devsim: error: %s\n", msg.c_str());
  return 2;
}

// One device and what the simulation does with it.
struct Sim {
  std::unique_ptr<SimDevice> dev;
  bool meant_online = true;  // not in the --offline share
  bool flaps = false, hangs = false;
  uint64_t lines = 0;
  bool ever_online = false, slow = false;
  uint64_t executed = 0;  // commands executed by its earlier agents (boots)
  uint64_t timer_at = 0;  // the Timers event in the heap for it (0: none); others are stale
};

// What the main loop does when: a device's own timers, its next console line, its next power
// change (one heap for all: nothing is scanned per device per round).
enum class Due : uint8_t { Timers, Line, Power, Hang };
struct Event {
  uint64_t at;
  size_t index;
  Due what;
  bool operator>(const Event& o) const { return at > o.at; }
};

int run(const Options& o) {
  if (sodium_init() < 0 || !wg::crypto_init()) return fail("libsodium did not start");
  auto ep = studio::parse_url(o.fleet);
  if (!ep.ok()) return fail("--fleet: " + ep.error().describe());
  studio::FleetClient fleet(ep.value(), o.token);

  // Where the devices' tunnels go.
  link::sim::Enrolment base;
  if (!o.gateway.empty()) {
    const auto colon = o.gateway.rfind(':');
    if (colon == std::string::npos) return fail("--gateway: expected HOST:PORT, got '" + o.gateway + "'");
    base.gateway_host = o.gateway.substr(0, colon);
    const int port = std::atoi(o.gateway.c_str() + colon + 1);
    if (port <= 0 || port > 65535) return fail("--gateway: bad port in '" + o.gateway + "'");
    base.gateway_port = uint16_t(port);
    if (!key_from_b64(o.gateway_key, base.gateway_public))
      return fail("--gateway-key: expected the gateway's public key (base64, 32 bytes)");
  } else {
    auto sys = fleet.get("/api/v1/system");
    if (!sys.ok()) return fail("GET /api/v1/system: " + sys.error().describe());
    const json& gw = sys.value()["gateway"];
    if (!gw.is_object())
      return fail("this Fleet process runs no WireGuard gateway (fleet mode: give --gateway HOST:PORT and "
                  "--gateway-key KEY of a keel-gateway)");
    base.gateway_host = ep.value().host == "localhost" ? "127.0.0.1" : ep.value().host;
    base.gateway_port = uint16_t(gw.value("port", 0));
    if (!key_from_b64(gw.value("public_key", ""), base.gateway_public))
      return fail("GET /api/v1/system: the gateway's public key is not a key");
  }

  // Enough file descriptors: one UDP socket per device, or the shared ones.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  const rlim_t need = rlim_t(o.sockets ? o.sockets : o.count) + 256;
  if (rl.rlim_cur < need) {
    if (rl.rlim_max < need)
      return fail(std::to_string(o.count) + " devices need " + std::to_string(need) + " open files; the limit is " +
                  std::to_string(rl.rlim_max) + " (ulimit -Hn); --sockets N shares N sockets among them");
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return fail(std::string("setrlimit: ") + std::strerror(errno));
  }

  // Keys and one bulk registration (at most 100,000 rows per request).
  std::printf("keel-devsim: %zu devices '%s-N' in deployment %lld, gateway %s:%u\n", o.count, o.prefix.c_str(),
              static_cast<long long>(o.deployment), base.gateway_host.c_str(), unsigned(base.gateway_port));
  std::fflush(stdout);
  std::vector<DeviceKeys> keys(o.count);
  for (auto& k : keys) k = DeviceKeys::generate();
  std::vector<std::string> names(o.count), addresses(o.count);
  const auto t_reg = Clock::now();
  for (size_t first = 0; first < o.count; first += 100000) {
    const size_t last = std::min(o.count, first + 100000);
    std::string csv = "name,tunnel_public_key,identity_public_key\n";
    for (size_t i = first; i < last; ++i) {
      char name[96];
      std::snprintf(name, sizeof name, "%s-%06zu", o.prefix.c_str(), i + 1);
      names[i] = name;
      csv += names[i] + "," + b64(keys[i].tunnel_public.data(), 32) + "," + b64(keys[i].identity_public, 32) + "\n";
    }
    auto r = fleet.post_body("/api/v1/deployments/" + std::to_string(o.deployment) + "/devices/import", "text/csv", csv);
    if (!r.ok()) return fail("registering the devices: " + r.error().describe());
    const json& devs = r.value()["devices"];
    if (!devs.is_array() || devs.size() != last - first) return fail("registering the devices: an unexpected answer");
    for (size_t i = first; i < last; ++i) addresses[i] = devs[i - first].value("tunnel_address", "");
  }
  std::printf("keel-devsim: registered in %.2f s\n", std::chrono::duration<double>(Clock::now() - t_reg).count());
  std::fflush(stdout);

  // The devices, and who does what.
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> u(0, 1);
  std::unique_ptr<link::sim::SharedNet> net;  // before the devices: they release their indices in it
  std::vector<Sim> sims(o.count);
  const int ep_fd = epoll_create1(EPOLL_CLOEXEC);
  if (ep_fd < 0) return fail(std::string("epoll_create1: ") + std::strerror(errno));
  constexpr uint64_t kShared = 1ull << 63;  // epoll data: a shared socket's number, else a device's index
  if (o.sockets) {
    net = std::make_unique<link::sim::SharedNet>(o.sockets);
    if (!net->ok()) return fail(std::string("a shared UDP socket: ") + std::strerror(net->error()));
    for (size_t k = 0; k < net->size(); ++k) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = kShared | k;
      if (epoll_ctl(ep_fd, EPOLL_CTL_ADD, net->fd(k), &ev) != 0)
        return fail(std::string("epoll_ctl: ") + std::strerror(errno));
    }
  }
  size_t slow_count = 0, hang_count = 0;
  // Each device its own source address when the gateway is on loopback (one address for all
  // would be one host behind a NAT to the gateway's per-address handshake limit).
  const bool own_addresses = base.gateway_host.rfind("127.", 0) == 0;
  for (size_t i = 0; i < o.count; ++i) {
    link::sim::Enrolment e = base;
    e.tunnel_address = addresses[i];
    if (own_addresses) e.source_ip = link::sim::loopback_address(i);
    sims[i].dev = std::make_unique<SimDevice>(keys[i], e, names[i], std::vector<std::string>{"link", "net", "app", "logger"},
                                              net.get(), i);
    SimDevice& d = *sims[i].dev;
    d.tag = i;
    if (d.fd() < 0) return fail("a UDP socket for device " + names[i] + ": " + std::strerror(errno));
    sims[i].meant_online = u(rng) * 100 >= o.offline;
    sims[i].flaps = sims[i].meant_online && u(rng) * 100 < o.flap;
    sims[i].hangs = sims[i].meant_online && u(rng) * 100 < o.hang;
    link::sim::Path path{o.loss / 100, 0};
    sims[i].slow = u(rng) * 100 < o.slow;
    if (sims[i].slow) path.delay_ns = uint64_t(o.slow_ms * 1e6), ++slow_count;
    hang_count += sims[i].hangs ? 1 : 0;
    d.set_path(path);
    if (net) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (epoll_ctl(ep_fd, EPOLL_CTL_ADD, d.fd(), &ev) != 0) return fail(std::string("epoll_ctl: ") + std::strerror(errno));
  }
  if (slow_count || hang_count || o.loss > 0) {
    std::printf("keel-devsim: %zu behind a slow path (%.0f ms each way), %zu will hang, %.1f %% loss on every path\n",
                slow_count, o.slow_ms, hang_count, o.loss);
    std::fflush(stdout);
  }

  std::priority_queue<Event, std::vector<Event>, std::greater<>> timers;
  // One live Timers event per device: a new one only when it is earlier than the one in the heap
  // (the one in the heap then goes stale and is skipped when it comes up).
  auto schedule = [&](size_t i) {
    const uint64_t t = sims[i].dev->next_deadline();
    if (!t || (sims[i].timer_at && sims[i].timer_at <= t)) return;
    sims[i].timer_at = t;
    timers.push({t, i, Due::Timers});
  };
  const double line_gap_ns = o.chatter > 0 ? 60e9 / o.chatter : 0;
  auto next_line = [&](uint64_t now) {
    std::exponential_distribution<double> gap(1.0 / line_gap_ns);
    return now + uint64_t(gap(rng));
  };

  const uint64_t start = now_ns();
  const uint64_t end = o.seconds > 0 ? start + uint64_t(o.seconds * 1e9) : 0;
  size_t booted = 0, online = 0, should = 0;
  for (const auto& s : sims) should += s.meant_online ? 1 : 0;
  uint64_t report_at = start + 5'000'000'000ull, check_at = start;
  std::vector<epoll_event> ready(1024);
  std::vector<size_t> touched;
  bool all_online_reported = false;

  auto count_online = [&] {
    size_t n = 0;
    for (auto& s : sims)
      if (s.dev->authenticated()) {
        ++n;
        s.ever_online = true;
      }
    return n;
  };

  while (!g_stop) {
    const uint64_t now = now_ns();
    if (end && now >= end) break;
    // Bring devices up at the rate (the rest of the fleet's reconnect storm is theirs to pace).
    const size_t due = std::min(o.count, size_t(double(now - start) / 1e9 * o.rate) + 1);
    for (; booted < due; ++booted) {
      Sim& s = sims[booted];
      if (!s.meant_online) continue;
      s.dev->boot();
      s.dev->pump();
      if (s.hangs) timers.push({now + uint64_t(o.hang_after * 1e9), booted, Due::Hang});
      if (line_gap_ns > 0) timers.push({next_line(now), booted, Due::Line});
      if (s.flaps) timers.push({now + uint64_t(u(rng) * o.flap_period * 2e9), booted, Due::Power});
      schedule(booted);
    }
    // Events due: the devices' own timers, console chatter, power cuts.
    while (!timers.empty() && timers.top().at <= now) {
      const Event e = timers.top();
      timers.pop();
      Sim& s = sims[e.index];
      if (e.what == Due::Timers) {
        if (e.at != s.timer_at) continue;  // stale: an earlier one replaced it
        s.timer_at = 0;
      } else if (e.what == Due::Hang) {
        s.dev->hang();
        continue;
      } else if (e.what == Due::Power) {
        if (s.dev->powered()) {
          if (const auto* a = s.dev->agent()) s.executed += a->stats().executed;
          s.dev->off();
          timers.push({now + uint64_t((2 + u(rng) * 3) * 1e9), e.index, Due::Power});  // off for 2-5 s
          continue;
        }
        s.dev->boot();
        timers.push({now + uint64_t(u(rng) * o.flap_period * 2e9), e.index, Due::Power});
      } else if (e.what == Due::Line) {
        timers.push({next_line(now), e.index, Due::Line});
        if (!s.dev->powered()) continue;  // nothing printed while the power is off
        s.dev->print("[app] " + s.dev->name() + " reading " + std::to_string(++s.lines));
      }
      s.dev->pump();
      schedule(e.index);
    }
    // Datagrams.
    uint64_t wake = now + 20'000'000ull;
    if (!timers.empty() && timers.top().at < wake) wake = timers.top().at;
    // Rounded up: a timer due in less than a millisecond waits for it instead of spinning.
    const int timeout_ms = int(((wake > now ? wake - now : 0) + 999'999) / 1'000'000);
    const int n = epoll_wait(ep_fd, ready.data(), int(ready.size()), timeout_ms);
    for (int k = 0; k < n; ++k) {
      const uint64_t tag = ready[size_t(k)].data.u64;
      if (tag & kShared) {
        touched.clear();
        (void)net->drain(size_t(tag & ~kShared), 4096, [&](SimDevice& d) { touched.push_back(d.tag); });
        for (size_t i : touched) {
          sims[i].dev->pump();
          schedule(i);
        }
        continue;
      }
      const size_t i = size_t(tag);
      sims[i].dev->pump();
      schedule(i);
    }
    if (now >= report_at || (o.until_online && now >= check_at)) {
      check_at = now + 200'000'000ull;  // a count is a pass over every device: 5 per second at most
      online = count_online();
      if (now >= report_at) {
        std::printf("keel-devsim: %.0f s: %zu of %zu online (%zu meant to be)\n", double(now - start) / 1e9, online,
                    o.count, should);
        std::fflush(stdout);
        report_at = now + 5'000'000'000ull;
      }
      if (o.until_online && online == should && booted >= o.count) {
        all_online_reported = true;
        break;
      }
    }
  }
  online = count_online();
  size_t ever = 0, hung = 0;
  uint64_t commands = 0, lines = 0;
  for (const auto& s : sims) {
    ever += s.ever_online ? 1 : 0;
    hung += s.dev->hung() ? 1 : 0;
    if (const auto* a = s.dev->agent()) commands += a->stats().executed, lines += a->stats().serial_lines;
  }
  std::printf("keel-devsim: %.1f s: %zu of %zu online at the end, %zu were online at some time (%zu meant to be); "
              "%llu commands executed, %llu console lines sent\n",
              double(now_ns() - start) / 1e9, online, o.count, ever, should,
              static_cast<unsigned long long>(commands), static_cast<unsigned long long>(lines));
  if (hung || net)
    std::printf("keel-devsim: %zu hung; %llu datagrams for no device\n", hung,
                static_cast<unsigned long long>(net ? net->unrouted() : 0));
  close(ep_fd);
  if (!o.report.empty()) {
    FILE* f = std::fopen(o.report.c_str(), "w");
    if (!f) return fail("--report " + o.report + ": " + std::strerror(errno));
    for (const auto& s : sims) {
      const auto* a = s.dev->agent();
      const json line = {{"name", s.dev->name()},
                         {"meant_online", s.meant_online},
                         {"online", s.dev->authenticated()},
                         {"ever_online", s.ever_online},
                         {"flaps", s.flaps},
                         {"slow", s.slow},
                         {"hung", s.dev->hung()},
                         {"executed", s.executed + (a ? a->stats().executed : 0)},
                         {"sessions", a ? a->stats().authenticated : 0}};
      std::fprintf(f, "%s\n", line.dump().c_str());
    }
    if (std::fclose(f) != 0) return fail("--report " + o.report + ": " + std::strerror(errno));
  }
  if (o.until_online) return all_online_reported ? 0 : 1;
  return ever == should ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"keel-devsim: simulated Keel devices (the link agent's own code) against a running Fleet"};
  Options o;
  app.add_option("--fleet", o.fleet, "Fleet's URL")->capture_default_str();
  app.add_option("--token", o.token, "an API token of an owner of the deployment's organisation (studio mode: none)")
      ->envname("KEEL_TOKEN");
  app.add_option("--deployment", o.deployment, "the deployment the devices are registered in (its id)")
      ->required()
      ->check(CLI::PositiveNumber);
  app.add_option("--count", o.count, "how many devices")->capture_default_str()->check(CLI::Range(1, 1000000));
  app.add_option("--prefix", o.prefix, "device names: PREFIX-000001, ...")->capture_default_str();
  app.add_option("--seconds", o.seconds, "run this long (0: until Ctrl-C)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_flag("--until-online", o.until_online, "stop as soon as every device meant to be online is");
  app.add_option("--rate", o.rate, "devices brought up per second")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--offline", o.offline, "percent of the devices registered but never powered")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--flap", o.flap, "percent of the devices that lose power for 2-5 s now and then")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--flap-period", o.flap_period, "mean seconds between a flapping device's power cuts")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--chatter", o.chatter, "console lines per device per minute")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--gateway", o.gateway, "HOST:PORT of the WireGuard gateway (default: the Fleet process's own)");
  app.add_option("--gateway-key", o.gateway_key, "the gateway's public key (base64), with --gateway");
  app.add_option("--sockets", o.sockets,
                 "share this many UDP sockets among the devices, routed by WireGuard receiver index (0: one per device)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65536));
  app.add_option("--loss", o.loss, "percent of datagrams lost each way on every device's path")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 90.0));
  app.add_option("--slow", o.slow, "percent of the devices behind a slow path (--slow-ms each way)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--slow-ms", o.slow_ms, "the slow path's one-way delay in milliseconds")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 20000.0));
  app.add_option("--hang", o.hang, "percent of the devices whose agent hangs --hang-after seconds after power-up")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--report", o.report, "write a JSON line per device at the end (name, online, slow, hung, executed, ...)");
  app.add_option("--hang-after", o.hang_after, "seconds from power-up to the hang")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (o.gateway.empty() != o.gateway_key.empty()) {
    std::fprintf(stderr, "keel-devsim: error: --gateway and --gateway-key go together\n");
    return 2;
  }
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  return run(o);
}

// udp_load: host-side UDP traffic for the network tests and benchmarks (bench/net/README.md).
//
//   udp_load echo  --port P [--sizes 0,1,1472] [--count 1] [--timeout-ms 2000]
//   udp_load burst N --port P [--rate 1000] [--size 64] [--drain-ms 2000] [--max-loss 0]
//   udp_load pps   --port P [--window 16] [--seconds 10] [--warmup-seconds 1] [--size 64]
//                  [--loss-timeout-ms 200] [--name net.udp_echo.pps]
//
// Every mode talks to one UDP echo server at --host:--port (default host 127.0.0.1; only loopback
// addresses are accepted: QEMU's host forwarding binds there, and nothing else is a target here).
//   echo   sends datagrams of each size, one at a time, and checks that each comes back byte-exact.
//   burst  sends N datagrams paced at --rate per second, then waits up to --drain-ms for the last
//          replies; reports loss and round-trip times; exits 1 if more than --max-loss were lost or
//          any reply was corrupted or duplicated.
//   pps    closed loop: keeps --window datagrams outstanding for --seconds (after --warmup-seconds)
//          and prints `BENCH <name> <replies per second> pps`. A datagram unanswered after
//          --loss-timeout-ms counts as lost and is replaced, so the window stays full.
// Datagrams of burst and pps carry a 12-byte header (magic, sequence number) and a pattern that
// depends on the sequence number; every reply is checked byte for byte.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kHeader = 12;
constexpr uint8_t kMagic[4] = {'K', 'U', 'D', 'P'};
constexpr size_t kMaxPayload = 65507;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// The payload of datagram `seq`: header (magic, little-endian seq) then a seq-dependent pattern.
void fill(std::vector<uint8_t>& buf, uint64_t seq, size_t size) {
  buf.resize(size);
  for (size_t i = 0; i < size; i++) buf[i] = static_cast<uint8_t>(seq * 131 + i * 7 + 1);
  if (size >= kHeader) {
    std::memcpy(buf.data(), kMagic, 4);
    for (int i = 0; i < 8; i++) buf[4 + i] = static_cast<uint8_t>(seq >> (8 * i));
  }
}

// The sequence number of a reply whose every byte is what fill() made for it, or -1.
int64_t check(const uint8_t* data, size_t len, size_t want_size, std::vector<uint8_t>& scratch) {
  if (len != want_size || len < kHeader || std::memcmp(data, kMagic, 4) != 0) return -1;
  uint64_t seq = 0;
  for (int i = 0; i < 8; i++) seq |= uint64_t{data[4 + i]} << (8 * i);
  fill(scratch, seq, len);
  return std::memcmp(data, scratch.data(), len) == 0 ? static_cast<int64_t>(seq) : -1;
}

struct Socket {
  int fd = -1;
  ~Socket() {
    if (fd >= 0) close(fd);
  }
};

// A UDP socket connected to host:port (so only the server's replies arrive), or an error message.
std::string open_socket(Socket& s, const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return "--host must be an IPv4 address, got '" + host + "'";
  if ((ntohl(addr.sin_addr.s_addr) >> 24) != 127)
    return "--host must be a loopback address (127.0.0.0/8): QEMU's host forwarding binds there, and this tool "
           "sends nowhere else; got " + host;
  s.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s.fd < 0) return std::string("socket: ") + std::strerror(errno);
  int size = 4 << 20;
  (void)setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  (void)setsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return "connect " + host + ":" + std::to_string(port) + ": " + std::strerror(errno);
  return {};
}

// Waits until fd is readable or `until`; true if readable.
bool wait_readable(int fd, Clock::time_point until) {
  auto left = until - Clock::now();
  if (left < Clock::duration::zero()) left = Clock::duration::zero();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
  timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  pollfd p{fd, POLLIN, 0};
  int r = ppoll(&p, 1, &ts, nullptr);
  return r > 0;
}

// recv without blocking: the length, -1 when nothing is there; errors other than EAGAIN are
// counted in *refused (ECONNREFUSED: an ICMP port unreachable came back) or reported.
ssize_t recv_now(int fd, uint8_t* buf, size_t cap, int* refused) {
  for (;;) {
    ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
    if (errno == ECONNREFUSED) {
      ++*refused;
      continue;
    }
    std::fprintf(stderr, "udp_load: recv: %s\n", std::strerror(errno));
    return -1;
  }
}

bool send_datagram(int fd, const std::vector<uint8_t>& buf, int* refused) {
  for (;;) {
    if (send(fd, buf.data(), buf.size(), 0) == static_cast<ssize_t>(buf.size())) return true;
    if (errno == EINTR) continue;
    if (errno == ECONNREFUSED) {  // an earlier datagram's port unreachable; this one was not sent
      ++*refused;
      continue;
    }
    std::fprintf(stderr, "udp_load: send: %s\n", std::strerror(errno));
    return false;
  }
}

struct RttStats {
  std::vector<double> ms;
  std::string summary() {
    if (ms.empty()) return "no round trips";
    std::sort(ms.begin(), ms.end());
    auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))]; };
    char out[160];
    std::snprintf(out, sizeof out, "rtt min/median/p99/max %.3f/%.3f/%.3f/%.3f ms", ms.front(), at(0.5), at(0.99), ms.back());
    return out;
  }
};

int run_echo(int fd, const std::vector<int>& sizes, int count, int timeout_ms) {
  std::vector<uint8_t> out, in(kMaxPayload + 1);
  int failures = 0, refused = 0;
  uint64_t k = 0;
  for (int size : sizes) {
    for (int c = 0; c < count; c++, k++) {
      fill(out, k, static_cast<size_t>(size));
      while (recv_now(fd, in.data(), in.size(), &refused) >= 0) {
      }  // nothing stale may be taken for this datagram's reply
      auto sent_at = Clock::now();
      if (!send_datagram(fd, out, &refused)) return 1;
      auto until = sent_at + std::chrono::milliseconds(timeout_ms);
      ssize_t n = -1;
      while (n < 0 && Clock::now() < until)
        if (wait_readable(fd, until)) n = recv_now(fd, in.data(), in.size(), &refused);
      double rtt = ms_between(sent_at, Clock::now());
      if (n < 0) {
        std::printf("echo: %d bytes: no reply within %d ms%s\n", size, timeout_ms,
                    refused ? " (port unreachable came back: nothing listens there?)" : "");
        failures++;
      } else if (static_cast<size_t>(n) != out.size() || (!out.empty() && std::memcmp(in.data(), out.data(), out.size()) != 0)) {
        std::printf("echo: %d bytes: reply differs (%zd bytes back)\n", size, n);
        failures++;
      } else {
        std::printf("echo: %d bytes: ok, byte-exact (rtt %.3f ms)\n", size, rtt);
      }
    }
  }
  std::printf("echo: %d of %zu datagrams came back byte-exact\n", static_cast<int>(sizes.size()) * count - failures,
              sizes.size() * static_cast<size_t>(count));
  return failures == 0 ? 0 : 1;
}

int run_burst(int fd, uint64_t n, double rate, size_t size, int drain_ms, uint64_t max_loss, const std::string& name) {
  std::vector<Clock::time_point> sent_at(n);
  std::vector<uint8_t> seen(n, 0);
  std::vector<uint8_t> out, in(kMaxPayload + 1), scratch;
  uint64_t sent = 0, received = 0, duplicates = 0, corrupted = 0;
  int refused = 0;
  RttStats rtt;
  auto drain = [&] {
    ssize_t len;
    while ((len = recv_now(fd, in.data(), in.size(), &refused)) >= 0) {
      auto now = Clock::now();
      int64_t seq = check(in.data(), static_cast<size_t>(len), size, scratch);
      if (seq < 0 || static_cast<uint64_t>(seq) >= sent) {
        corrupted++;
      } else if (seen[static_cast<size_t>(seq)]) {
        duplicates++;
      } else {
        seen[static_cast<size_t>(seq)] = 1;
        received++;
        rtt.ms.push_back(ms_between(sent_at[static_cast<size_t>(seq)], now));
      }
    }
  };
  auto start = Clock::now();
  auto interval = std::chrono::duration<double>(1.0 / rate);
  while (sent < n) {
    auto due = start + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(sent));
    if (Clock::now() < due) {
      if (wait_readable(fd, due)) drain();
      continue;
    }
    fill(out, sent, size);
    sent_at[sent] = Clock::now();
    if (!send_datagram(fd, out, &refused)) return 1;
    sent++;
    drain();
  }
  double send_s = std::chrono::duration<double>(Clock::now() - start).count();
  auto until = Clock::now() + std::chrono::milliseconds(drain_ms);
  while (received < n && Clock::now() < until)
    if (wait_readable(fd, until)) drain();
  uint64_t lost = n - received;
  std::printf("burst: sent %llu x %zu bytes in %.3f s (%.0f/s asked, %.0f/s done), received %llu, lost %llu (%.2f %%), "
              "duplicates %llu, corrupted %llu; %s\n",
              static_cast<unsigned long long>(n), size, send_s, rate, static_cast<double>(n) / send_s,
              static_cast<unsigned long long>(received), static_cast<unsigned long long>(lost),
              100.0 * static_cast<double>(lost) / static_cast<double>(n), static_cast<unsigned long long>(duplicates),
              static_cast<unsigned long long>(corrupted), rtt.summary().c_str());
  if (refused) std::printf("burst: %d port-unreachable errors came back (nothing listening?)\n", refused);
  if (!name.empty()) {
    std::printf("BENCH %s.lost %llu datagrams\n", name.c_str(), static_cast<unsigned long long>(lost));
    if (!rtt.ms.empty()) std::printf("BENCH %s.rtt_median %.1f us\n", name.c_str(), rtt.ms[rtt.ms.size() / 2] * 1000.0);
  }
  bool ok = lost <= max_loss && duplicates == 0 && corrupted == 0;
  if (!ok) std::printf("burst: FAIL (allowed loss %llu, no duplicates, no corruption)\n", static_cast<unsigned long long>(max_loss));
  return ok ? 0 : 1;
}

int run_pps(int fd, int window, double seconds, double warmup, size_t size, int loss_timeout_ms, const std::string& name) {
  std::unordered_map<uint64_t, Clock::time_point> outstanding;
  std::vector<uint8_t> out, in(kMaxPayload + 1), scratch;
  uint64_t next = 0, counted = 0, lost = 0, late = 0, corrupted = 0;
  int refused = 0;
  RttStats rtt;
  auto send_one = [&] {
    fill(out, next, size);
    outstanding[next++] = Clock::now();
    return send_datagram(fd, out, &refused);
  };
  auto start = Clock::now();
  auto measure_from = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  auto end = measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  auto loss_timeout = std::chrono::milliseconds(loss_timeout_ms);
  for (int i = 0; i < window; i++)
    if (!send_one()) return 1;
  auto next_scan = start + std::chrono::milliseconds(10);
  while (Clock::now() < end) {
    if (wait_readable(fd, std::min(end, next_scan))) {
      ssize_t len;
      while ((len = recv_now(fd, in.data(), in.size(), &refused)) >= 0) {
        auto now = Clock::now();
        int64_t seq = check(in.data(), static_cast<size_t>(len), size, scratch);
        if (seq < 0) {
          corrupted++;
          continue;
        }
        auto it = outstanding.find(static_cast<uint64_t>(seq));
        if (it == outstanding.end()) {
          late++;  // already given up as lost (or a duplicate): not counted, not replaced
          continue;
        }
        if (now >= measure_from && now < end) {
          counted++;
          rtt.ms.push_back(ms_between(it->second, now));
        }
        outstanding.erase(it);
        if (!send_one()) return 1;
      }
    }
    auto now = Clock::now();
    if (now >= next_scan) {
      next_scan = now + std::chrono::milliseconds(10);
      std::vector<uint64_t> expired;
      for (auto& [seq, at] : outstanding)
        if (now - at > loss_timeout) expired.push_back(seq);
      for (uint64_t seq : expired) {
        outstanding.erase(seq);
        lost++;
        if (!send_one()) return 1;
      }
    }
  }
  double pps = static_cast<double>(counted) / seconds;
  std::printf("pps: window %d, %zu-byte datagrams, %.1f s (after %.1f s warm-up): %llu replies, %.0f/s; lost %llu, "
              "late %llu, corrupted %llu; %s\n",
              window, size, seconds, warmup, static_cast<unsigned long long>(counted), pps,
              static_cast<unsigned long long>(lost), static_cast<unsigned long long>(late),
              static_cast<unsigned long long>(corrupted), rtt.summary().c_str());
  if (counted == 0) {
    std::fprintf(stderr, "udp_load: pps: no reply at all%s\n",
                 refused ? " (port unreachable came back: nothing listens on that port)" : "");
    return 1;
  }
  if (corrupted) {
    std::fprintf(stderr, "udp_load: pps: %llu corrupted replies\n", static_cast<unsigned long long>(corrupted));
    return 1;
  }
  std::printf("BENCH %s %.0f pps\n", name.c_str(), pps);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"udp_load: UDP echo traffic for the network tests and benchmarks (bench/net/README.md)"};
  app.require_subcommand(1);
  std::string host = "127.0.0.1";
  int port = 0;
  auto add_target = [&](CLI::App* sub) {
    sub->add_option("--host", host, "the echo server's address (loopback only)")->capture_default_str();
    sub->add_option("--port", port, "the echo server's UDP port (QEMU's forwarded host port)")
        ->required()
        ->check(CLI::Range(1, 65535));
  };

  auto* echo = app.add_subcommand("echo", "send each size, check every datagram comes back byte-exact");
  add_target(echo);
  std::vector<int> sizes{0, 1, 1472};
  int count = 1, timeout_ms = 2000;
  echo->add_option("--sizes", sizes, "datagram sizes in bytes")
      ->delimiter(',')
      ->check(CLI::Range(0, static_cast<int>(kMaxPayload)))
      ->capture_default_str();
  echo->add_option("--count", count, "datagrams per size")->check(CLI::Range(1, 1000000))->capture_default_str();
  echo->add_option("--timeout-ms", timeout_ms, "wait for each reply")->check(CLI::Range(1, 600000))->capture_default_str();

  auto* burst = app.add_subcommand("burst", "send N datagrams at a paced rate; report loss and round-trip times");
  add_target(burst);
  uint64_t n = 0, max_loss = 0;
  double rate = 1000;
  size_t size = 64;
  int drain_ms = 2000;
  std::string burst_name;
  burst->add_option("N", n, "how many datagrams")->required()->check(CLI::Range(uint64_t{1}, uint64_t{100000000}));
  burst->add_option("--rate", rate, "datagrams per second")->check(CLI::Range(1.0, 10000000.0))->capture_default_str();
  burst->add_option("--size", size, "datagram size in bytes (>= 12)")
      ->check(CLI::Range(kHeader, kMaxPayload))
      ->capture_default_str();
  burst->add_option("--drain-ms", drain_ms, "wait for the last replies")->check(CLI::Range(0, 600000))->capture_default_str();
  burst->add_option("--max-loss", max_loss, "datagrams that may be lost")->capture_default_str();
  burst->add_option("--name", burst_name, "also print BENCH <name>.lost and <name>.rtt_median lines");

  auto* pps = app.add_subcommand("pps", "closed loop, W datagrams outstanding for T seconds: BENCH <name> <pps> pps");
  add_target(pps);
  int window = 16, loss_timeout_ms = 200;
  double seconds = 10, warmup = 1;
  std::string name = "net.udp_echo.pps";
  pps->add_option("--window", window, "datagrams outstanding")->check(CLI::Range(1, 65536))->capture_default_str();
  pps->add_option("--seconds", seconds, "measured time")->check(CLI::Range(0.1, 3600.0))->capture_default_str();
  pps->add_option("--warmup-seconds", warmup, "time before measuring")->check(CLI::Range(0.0, 600.0))->capture_default_str();
  pps->add_option("--size", size, "datagram size in bytes (>= 12)")->check(CLI::Range(kHeader, kMaxPayload))->capture_default_str();
  pps->add_option("--loss-timeout-ms", loss_timeout_ms, "a datagram unanswered this long is lost and replaced")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  pps->add_option("--name", name, "the BENCH name")->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  Socket s;
  if (std::string err = open_socket(s, host, port); !err.empty()) {
    std::fprintf(stderr, "udp_load: %s\n", err.c_str());
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (echo->parsed()) return run_echo(s.fd, sizes, count, timeout_ms);
  if (burst->parsed()) return run_burst(s.fd, n, rate, size, drain_ms, max_loss, burst_name);
  return run_pps(s.fd, window, seconds, warmup, size, loss_timeout_ms, name);
}

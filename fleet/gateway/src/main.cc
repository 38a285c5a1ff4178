// keel-gateway: Fleet's tunnel gateway as a stand-alone process (until the Fleet server embeds
// it). Loads devices from a registry JSON file, serves until SIGINT/SIGTERM, logs statistics.
//
//   keel-gateway --private-key FILE --registry FILE [--port 51820] [--workers 2]
//                [--bind4 0.0.0.0] [--bind6 ::]   (an empty value disables that family)
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "keel/gateway/gateway.h"

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

// Until the control protocol (proto/control) consumes inner packets, count them.
class CountingHandler final : public keel::gateway::InnerHandler {
 public:
  void on_inner(uint32_t, keel::wg::MutBytes) override { ++packets; }
  std::atomic<uint64_t> packets{0};
};

int usage(const char* why) {
  std::fprintf(stderr,
               "keel-gateway: %s\nusage: keel-gateway --private-key FILE --registry FILE [--port N] "
               "[--workers N] [--bind4 ADDR] [--bind6 ADDR]\n",
               why);
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  keel::gateway::GatewayConfig cfg;
  std::string key_file, registry_file;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage(("missing value for " + a).c_str());
    const std::string v = argv[++i];
    if (a == "--private-key") key_file = v;
    else if (a == "--registry") registry_file = v;
    else if (a == "--port") cfg.port = uint16_t(std::stoul(v));
    else if (a == "--workers") cfg.workers = std::stoi(v);
    else if (a == "--bind4") cfg.bind_v4 = v;
    else if (a == "--bind6") cfg.bind_v6 = v;
    else return usage(("unknown option " + a).c_str());
  }
  if (key_file.empty() || registry_file.empty()) return usage("--private-key and --registry are required");
  std::ifstream kf(key_file);
  std::string key_text;
  if (!kf || !(kf >> key_text)) return usage(("cannot read " + key_file).c_str());
  if (!keel::wg::key_from_base64(key_text.c_str(), cfg.private_key))
    return usage((key_file + ": not a base64 32-byte private key").c_str());

  CountingHandler handler;
  keel::gateway::Gateway gw(cfg, handler);
  keel::gateway::JsonFileRegistry registry(registry_file);
  if (auto r = gw.load(registry); !r.ok()) {
    std::fprintf(stderr, "keel-gateway: %s\n", r.error().c_str());
    return 1;
  }
  if (auto r = gw.start(); !r.ok()) {
    std::fprintf(stderr, "keel-gateway: %s\n", r.error().c_str());
    return 1;
  }
  char pub[45];
  keel::wg::key_to_base64(gw.public_key(), pub);
  std::printf("keel-gateway: %zu devices, port %u, public key %s\n", gw.table().size(), gw.port(), pub);
  std::fflush(stdout);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  for (int t = 0; !g_stop; ++t) {
    usleep(100000);
    if (t % 100 == 99) {
      const auto s = gw.stats();
      std::printf("rx %lu tx %lu handshakes %lu cookies %lu limited %lu over-budget %lu dropped %lu inner %lu "
                  "bad-source %lu\n",
                  (unsigned long)s.rx_datagrams, (unsigned long)s.tx_datagrams,
                  (unsigned long)s.initiations_accepted, (unsigned long)s.cookies_sent,
                  (unsigned long)s.rate_limited, (unsigned long)s.overload_dropped, (unsigned long)s.dropped,
                  (unsigned long)s.inner_delivered,
                  (unsigned long)s.inner_bad_source);
      std::fflush(stdout);
    }
  }
  gw.stop();
  return 0;
}

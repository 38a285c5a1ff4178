#include "keel/link/fleet_link.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace keel::link {

Result<std::unique_ptr<FleetLink>, std::string> FleetLink::start(FleetLinkConfig cfg, OpenDb open, std::string origin,
                                                                 ChangeSink changes) {
  std::unique_ptr<FleetLink> f(new FleetLink());
  auto reg = gateway::FleetStoreRegistry::with(open, origin, cfg.tunnel_prefix);
  if (!reg.ok()) return Err{reg.error()};
  f->registry_ = std::move(reg.value());
  f->link_ = std::make_unique<LinkServer>(cfg.link, open, std::move(changes));
  f->gw_ = std::make_unique<gateway::Gateway>(cfg.gateway, *f->link_);
  if (auto l = f->gw_->load(*f->registry_); !l.ok()) return Err{l.error()};
  LinkConfig addr;
  if (auto a = fleet_inner_address(f->registry_->tunnel_prefix(), addr); !a.ok()) return Err{a.error()};
  f->link_->set_fleet_address(addr.fleet_address);
  if (auto s = f->gw_->start(); !s.ok()) return Err{s.error()};
  f->link_->start(*f->gw_);
  f->refresh_ = std::make_unique<gateway::RefreshLoop>(
      *f->gw_, *f->registry_, cfg.refresh_interval, [](const Result<gateway::RefreshResult, std::string>& r) {
        if (!r.ok()) spdlog::warn("device link: registry refresh failed: {}", r.error());
      });
  return f;
}

FleetLink::~FleetLink() { stop(); }

void FleetLink::stop() {
  if (refresh_) refresh_->stop();
  if (link_) link_->stop();
  if (gw_) gw_->stop();
}

std::string FleetLink::public_key_base64() const {
  char t[45];
  wg::key_to_base64(gw_->public_key(), t);
  return t;
}

Result<wg::Key, std::string> load_or_create_key(const std::string& path) {
  wg::Key k{};
  std::ifstream in(path);
  if (in) {
    std::string text;
    std::getline(in, text);
    if (!wg::key_from_base64(text.c_str(), k)) return Err{path + ": not a base64 WireGuard private key"};
    return k;
  }
  wg::SystemRandom rng;
  rng.fill({k.data(), k.size()});
  wg::clamp(k);
  char t[45];
  wg::key_to_base64(k, t);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Err{path + ": cannot create the gateway key"};
  const std::string line = std::string(t) + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == ssize_t(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Err{path + ": cannot write the gateway key"};
  return k;
}

}  // namespace keel::link

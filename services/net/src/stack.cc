// One interface's IPv4/UDP stack (keel/net/stack.h).
#include "keel/net/stack.h"

#include <cstring>

namespace keel::net {

namespace {

bool usable_host(Ipv4Addr a) { return !a.is_zero() && !a.is_broadcast() && !a.is_multicast() && !a.is_loopback(); }
}  // namespace

Stack::Stack(const StackConfig& config)
    : mac_(config.mac),
      mode_(config.mode),
      static_ip_(config.static_ip),
      random_(config.random),
      policy_(config.grants),
      grants_(config.grants),
      dhcp_(config.mac, config.random) {}

Result<void> Stack::start(std::uint64_t now) {
  if (mac_.is_group() || mac_.is_zero()) return Err{KEEL_INVALID_ARGUMENT};
  if (!validate(grants_, mode_ == AddressMode::kDhcp).ok()) return Err{KEEL_INVALID_ARGUMENT};
  if (mode_ == AddressMode::kStatic) {
    const IpConfig& c = static_ip_;
    if (!usable_host(c.address) || c.mask == 0 || !mask_is_contiguous(c.mask)) return Err{KEEL_INVALID_ARGUMENT};
    if (!c.gateway.is_zero() &&
        ((c.gateway.value & c.mask) != (c.address.value & c.mask) || !usable_host(c.gateway) || c.gateway == c.address))
      return Err{KEEL_INVALID_ARGUMENT};
    if (c.dns_count > kDhcpMaxDns) return Err{KEEL_INVALID_ARGUMENT};
    set_config(c);
    return Ok{};
  }
  clear_config();
  dhcp_.start(now);
  return Ok{};
}

// ---- configuration

void Stack::set_config(const IpConfig& c) {
  if (configured_ && ip_ == c) return;
  if (!configured_ || ip_.address != c.address || ip_.mask != c.mask) arp_.clear(counters_);
  ip_ = c;
  configured_ = true;
  ++generation_;
}

void Stack::clear_config() {
  if (!configured_) return;
  arp_.clear(counters_);
  ip_ = IpConfig{};
  configured_ = false;
  ++generation_;
}

void Stack::sync_dhcp(bool new_lease) {
  if (mode_ != AddressMode::kDhcp) return;
  if (!dhcp_.bound()) {
    clear_config();
    return;
  }
  const DhcpLease& l = dhcp_.lease();
  IpConfig c;
  c.address = l.address;
  c.mask = l.mask;
  c.gateway = l.router;
  c.dns_count = l.dns_count;
  for (std::size_t i = 0; i < l.dns_count && i < kDhcpMaxDns; ++i) c.dns[i] = l.dns[i];
  if (new_lease) ++counters_.dhcp_leases;
  set_config(c);
}

bool Stack::on_link(Ipv4Addr a) const {
  return configured_ && (a.value & ip_.mask) == (ip_.address.value & ip_.mask);
}

bool Stack::is_broadcast_for_us(Ipv4Addr a) const {
  if (a.is_broadcast()) return true;
  return configured_ && ip_.mask != 0xffffffffu && a.value == (ip_.address.value | ~ip_.mask);
}

// ---- receive

Rx Stack::dropped(Drop d) {
  counters_.drop(d);
  Rx r;
  r.kind = Rx::Kind::kDropped;
  r.reason = d;
  return r;
}

Rx Stack::on_frame(std::uint64_t now, Bytes frame, MutBytes out) {
  ++counters_.rx_frames;
  auto eth = parse_ethernet(frame);
  if (!eth) return dropped(eth.error());
  const EthernetFrame& e = eth.value();
  if (e.dst != mac_ && !e.dst.is_broadcast()) return dropped(Drop::kNotForUs);
  if (e.src.is_group() || e.src == mac_) return dropped(Drop::kBadAddress);
  switch (e.type) {
    case kEtherArp: return on_arp(now, e, out);
    case kEtherIpv4: return on_ipv4(now, e, out);
    default: return dropped(Drop::kUnknownEthertype);
  }
}

Rx Stack::on_arp(std::uint64_t now, const EthernetFrame& eth, MutBytes out) {
  auto parsed = parse_arp(eth.payload);
  if (!parsed) return dropped(parsed.error());
  const ArpPacket& p = parsed.value();
  if (p.sha != eth.src) return dropped(Drop::kArpSpoof);
  if (!configured_) return dropped(Drop::kNotForUs);
  if (p.spa == ip_.address) return dropped(Drop::kAddressConflict);
  // 0.0.0.0 is an address probe (RFC 5227): answered if it asks for us, never cached.
  if (!p.spa.is_zero() && (!usable_host(p.spa) || is_broadcast_for_us(p.spa))) return dropped(Drop::kBadAddress);
  const bool to_us = p.tpa == ip_.address;
  const bool answer = p.op == kArpRequest && to_us;
  Drop verdict = Drop::kCount;  // kCount: nothing to count
  if (!p.spa.is_zero() && on_link(p.spa)) {
    switch (arp_.learn(now, p.spa, p.sha, p.op, to_us, counters_)) {
      case ArpLearn::kResolved:  // its waiting frame goes out at the next poll()
      case ArpLearn::kCreated:
      case ArpLearn::kRefreshed: break;
      case ArpLearn::kIgnored: verdict = Drop::kNotForUs; break;
      case ArpLearn::kUnsolicited: verdict = Drop::kArpUnsolicited; break;
      case ArpLearn::kSpoof: verdict = Drop::kArpSpoof; break;
    }
  } else if (!answer) {
    verdict = Drop::kNotForUs;
  }
  if (answer) {
    if (verdict != Drop::kCount) counters_.drop(verdict);  // e.g. a spoof attempt, answered anyway
    const std::size_t n = write_arp_frame(out, p.sha, mac_, kArpReply, mac_, ip_.address, p.sha, p.spa);
    if (!n) return dropped(Drop::kNoBuffer);
    ++counters_.arp_replies_sent;
    ++counters_.tx_frames;
    Rx r;
    r.kind = Rx::Kind::kReply;
    r.reply_size = n;
    return r;
  }
  if (verdict != Drop::kCount) return dropped(verdict);
  Rx r;
  r.kind = Rx::Kind::kConsumed;
  return r;
}

Rx Stack::on_ipv4(std::uint64_t now, const EthernetFrame& eth, MutBytes out) {
  auto parsed = parse_ipv4(eth.payload);
  if (!parsed) return dropped(parsed.error());
  const Ipv4Packet& ip = parsed.value();
  if (ip.header_len > kIpv4Header) ++counters_.ip_options;
  if (!usable_host(ip.src) || (configured_ && (ip.src == ip_.address || is_broadcast_for_us(ip.src))))
    return dropped(Drop::kBadAddress);
  // Before an address is bound only DHCP (UDP to port 68, checked in on_udp) gets through: a
  // server may send an offer to the address it offers.
  bool dhcp_only = false;
  if (!configured_) {
    if (mode_ != AddressMode::kDhcp || ip.protocol != kProtoUdp || ip.dst.is_multicast()) return dropped(Drop::kNotForUs);
    dhcp_only = true;
  } else if (ip.dst != ip_.address && !is_broadcast_for_us(ip.dst)) {
    return dropped(Drop::kNotForUs);
  }
  switch (ip.protocol) {
    case kProtoIcmp: return on_icmp(eth, ip, out);
    case kProtoUdp: return on_udp(now, ip, dhcp_only);
    default: return dropped(Drop::kUnknownProtocol);
  }
}

Rx Stack::on_icmp(const EthernetFrame& eth, const Ipv4Packet& ip, MutBytes out) {
  auto parsed = parse_icmp(ip.payload);
  if (!parsed) return dropped(parsed.error());
  const IcmpMessage& m = parsed.value();
  if (m.type != kIcmpEchoRequest || m.code != 0) return dropped(Drop::kIcmpUnsupported);
  if (ip.dst != ip_.address) return dropped(Drop::kNotForUs);  // no answers to broadcast pings
  const std::size_t icmp_len = ip.payload.size();
  const std::size_t size = kEthHeader + kIpv4Header + icmp_len;
  if (out.size() < size) return dropped(Drop::kNoBuffer);
  write_ethernet(out, eth.src, mac_, kEtherIpv4);
  write_ipv4_header(out.subspan(kEthHeader), ip_.address, ip.src, kProtoIcmp, icmp_len);
  std::uint8_t* icmp = &out[kEthHeader + kIpv4Header];
  std::memcpy(icmp, ip.payload.data(), icmp_len);
  icmp[0] = kIcmpEchoReply;
  icmp[1] = 0;
  store16(icmp + 2, 0);
  store16(icmp + 2, checksum(Bytes(icmp, icmp_len)));
  ++counters_.echo_replies;
  ++counters_.tx_frames;
  Rx r;
  r.kind = Rx::Kind::kReply;
  r.reply_size = size;
  return r;
}

Rx Stack::on_udp(std::uint64_t now, const Ipv4Packet& ip, bool dhcp_only) {
  auto parsed = parse_udp(ip);
  if (!parsed) return dropped(parsed.error());
  const UdpDatagram& u = parsed.value();
  if (mode_ == AddressMode::kDhcp && u.dst_port == kDhcpClientPort) {
    if (u.src_port != kDhcpServerPort) return dropped(Drop::kDhcpRejected);
    const DhcpEvent ev = dhcp_.on_message(now, u.payload);
    if (ev == DhcpEvent::kIgnored) return dropped(Drop::kDhcpRejected);
    sync_dhcp(ev == DhcpEvent::kBound);
    Rx r;
    r.kind = Rx::Kind::kConsumed;
    return r;
  }
  if (dhcp_only) return dropped(Drop::kNotForUs);
  Socket* s = find_port(u.dst_port);
  if (!s) return dropped(Drop::kNoSocket);
  if (!policy_.may_receive(s->info.component, ip.src, u.src_port)) return dropped(Drop::kPolicyDenied);
  ++counters_.udp_delivered;
  Rx r;
  r.kind = Rx::Kind::kDatagram;
  r.socket = SocketId{std::uint32_t{s->generation} << 16 | static_cast<std::uint32_t>(s - sockets_ + 1)};
  r.component = s->info.component;
  r.src = ip.src;
  r.src_port = u.src_port;
  r.payload = u.payload;
  return r;
}

// ---- transmit

std::size_t Stack::arp_request(Ipv4Addr target, MutBytes out) {
  const std::size_t n = write_arp_frame(out, MacAddr::broadcast(), mac_, kArpRequest, mac_, ip_.address, MacAddr{}, target);
  if (n) {
    ++counters_.arp_requests_sent;
    ++counters_.tx_frames;
  }
  return n;
}

Result<Sent> Stack::transmit_udp(std::uint64_t now, Ipv4Addr src, Ipv4Addr dst, std::uint16_t src_port,
                                 std::uint16_t dst_port, Bytes payload, MutBytes out) {
  UdpFrameHeader h;
  h.eth_src = mac_;
  h.src = src;
  h.dst = dst;
  h.src_port = src_port;
  h.dst_port = dst_port;
  const std::size_t need = kUdpPayloadOffset + payload.size();
  Ipv4Addr next_hop = dst;
  const MacAddr* mac = nullptr;
  if (is_broadcast_for_us(dst)) {
    h.eth_dst = MacAddr::broadcast();
    mac = &h.eth_dst;
  } else {
    if (!on_link(dst)) {
      if (ip_.gateway.is_zero()) return Err{KEEL_NOT_FOUND};
      next_hop = ip_.gateway;
    }
    mac = arp_.lookup(now, next_hop);
  }
  if (mac) {
    if (out.size() < need) return Err{KEEL_NO_SPACE};
    h.eth_dst = *mac;
    const std::size_t n = write_udp_frame(out, h, payload);
    ++counters_.tx_frames;
    return Sent{Sent::Kind::kFrame, n};
  }
  if (out.size() < kArpFrame) return Err{KEEL_NO_SPACE};
  bool request = false;
  const MutBytes slot = arp_.reserve_pending(now, next_hop, &request, counters_);
  if (slot.empty()) return Err{KEEL_NO_SPACE};
  arp_.commit_pending(next_hop, write_udp_frame(slot, h, payload));  // destination MAC filled on resolution
  if (request) return Sent{Sent::Kind::kAwaitingArp, arp_request(next_hop, out)};
  return Sent{Sent::Kind::kQueued, 0};
}

Result<Sent> Stack::send_udp(std::uint64_t now, SocketId socket, Ipv4Addr dst, std::uint16_t dst_port, Bytes payload,
                             MutBytes out) {
  const Socket* s = find_socket(socket);
  if (!s) return Err{KEEL_NOT_FOUND};
  if (payload.size() > kMaxUdpPayload) return Err{KEEL_RANGE_ERROR};
  if (dst_port == 0 || dst.is_zero() || dst.is_multicast() || dst.is_loopback()) return Err{KEEL_INVALID_ARGUMENT};
  if (!configured_) return Err{KEEL_CHANNEL_DOWN};
  if (dst == ip_.address) return Err{KEEL_INVALID_ARGUMENT};
  if (!policy_.may_send(s->info.component, dst, dst_port)) return Err{KEEL_DENIED};
  Sent sent = TRY(transmit_udp(now, ip_.address, dst, s->info.port, dst_port, payload, out));
  ++counters_.udp_sent;
  return sent;
}

std::size_t Stack::poll(std::uint64_t now, MutBytes out) {
  // Each pass returns a frame or finishes one source of work; bounded by the number of
  // incomplete entries (give-ups) plus DHCP's few transitions.
  for (std::size_t guard = 0; guard < kArpEntries + 16; ++guard) {
    const Bytes ready = arp_.ready_frame();
    if (!ready.empty()) {
      if (out.size() < ready.size()) {
        counters_.drop(Drop::kNoBuffer);
        arp_.release_ready();
        continue;
      }
      std::memcpy(out.data(), ready.data(), ready.size());
      const std::size_t n = ready.size();
      arp_.release_ready();
      ++counters_.tx_frames;
      return n;
    }
    // The gateway is resolved ahead of traffic (and again when its entry expires or its requests
    // went unanswered): the first datagrams to leave the subnet would otherwise wait for ARP, and
    // only one frame per destination can wait.
    if (configured_ && !ip_.gateway.is_zero() && now >= gateway_retry_ && arp_.resolve(now, ip_.gateway, counters_)) {
      gateway_retry_ = now + kArpRetryUs * (kArpMaxRequests + 1);  // after a give-up: not before this
      const std::size_t n = arp_request(ip_.gateway, out);
      if (n) return n;
      counters_.drop(Drop::kNoBuffer);
      continue;
    }
    Ipv4Addr target;
    if (arp_.due_request(now, &target, counters_)) {
      const std::size_t n = arp_request(target, out);
      if (n) return n;
      counters_.drop(Drop::kNoBuffer);
      continue;
    }
    if (mode_ == AddressMode::kDhcp) {
      const DhcpSend s = dhcp_.poll(now, MutBytes(dhcp_buf_, sizeof dhcp_buf_));
      sync_dhcp(false);
      if (s.size) {
        ++counters_.dhcp_sent;
        auto r = transmit_udp(now, s.src, s.dst, kDhcpClientPort, kDhcpServerPort, Bytes(dhcp_buf_, s.size), out);
        if (r.ok() && r.value().size) return r.value().size;
        continue;  // queued for ARP, or no route: the retransmission timer tries again
      }
    }
    return 0;
  }
  return 0;
}

std::uint64_t Stack::next_deadline() const {
  std::uint64_t t = arp_.next_deadline();
  if (configured_ && !ip_.gateway.is_zero()) {
    const std::uint64_t live = arp_.live_until(ip_.gateway);  // 0: none; re-resolve when it expires
    const std::uint64_t due = live == 0 ? gateway_retry_ : live;
    if (due < t) t = due;
  }
  if (mode_ == AddressMode::kDhcp && dhcp_.next_deadline() < t) t = dhcp_.next_deadline();
  return t;
}

// ---- sockets

Stack::Socket* Stack::find_socket(SocketId id) {
  const std::uint32_t slot = (id.value & 0xffff);
  if (slot == 0 || slot > kMaxSockets) return nullptr;
  Socket& s = sockets_[slot - 1];
  if (!s.used || s.generation != (id.value >> 16)) return nullptr;
  return &s;
}

const SocketInfo* Stack::socket(SocketId id) const {
  const std::uint32_t slot = (id.value & 0xffff);
  if (slot == 0 || slot > kMaxSockets) return nullptr;
  const Socket& s = sockets_[slot - 1];
  return s.used && s.generation == (id.value >> 16) ? &s.info : nullptr;
}

Stack::Socket* Stack::find_port(std::uint16_t port) {
  for (Socket& s : sockets_)
    if (s.used && s.info.port == port) return &s;
  return nullptr;
}

Result<SocketId> Stack::bind(std::uint32_t component, std::uint16_t port) {
  const Grant* g = policy_.grant(component);
  if (!g) return Err{KEEL_DENIED};
  if (mode_ == AddressMode::kDhcp && port == kDhcpClientPort) return Err{KEEL_DENIED};
  if (port == 0) {
    const PortRange r = g->ephemeral;
    if (!r.valid()) return Err{KEEL_DENIED};
    const std::uint32_t count = std::uint32_t{r.last} - r.first + 1;
    const std::uint32_t start = random_() % count;
    for (std::uint32_t i = 0; i < count; ++i) {
      const auto p = static_cast<std::uint16_t>(r.first + (start + i) % count);
      if (!find_port(p) && !(mode_ == AddressMode::kDhcp && p == kDhcpClientPort)) {
        port = p;
        break;
      }
    }
    if (port == 0) return Err{KEEL_NO_SPACE};
  } else {
    TRY(policy_.may_bind(component, port));
    if (find_port(port)) return Err{KEEL_ILLEGAL_OPERATION};
  }
  for (std::size_t i = 0; i < kMaxSockets; ++i) {
    Socket& s = sockets_[i];
    if (s.used) continue;
    s.used = true;
    s.info = SocketInfo{component, port};
    return SocketId{std::uint32_t{s.generation} << 16 | static_cast<std::uint32_t>(i + 1)};
  }
  return Err{KEEL_NO_SPACE};
}

Result<void> Stack::close(SocketId id) {
  Socket* s = find_socket(id);
  if (!s) return Err{KEEL_NOT_FOUND};
  s->used = false;
  s->info = SocketInfo{};
  s->generation = static_cast<std::uint16_t>(s->generation == 0xffff ? 1 : s->generation + 1);
  return Ok{};
}

std::size_t Stack::close_component(std::uint32_t component) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < kMaxSockets; ++i) {
    Socket& s = sockets_[i];
    if (!s.used || s.info.component != component) continue;
    s.used = false;
    s.info = SocketInfo{};
    s.generation = static_cast<std::uint16_t>(s.generation == 0xffff ? 1 : s.generation + 1);
    ++n;
  }
  return n;
}

}  // namespace keel::net

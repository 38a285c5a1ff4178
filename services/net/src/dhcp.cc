// The DHCPv4 client state machine (keel/net/dhcp.h).
#include "keel/net/dhcp.h"

#include <cstring>

namespace keel::net {

namespace {

constexpr std::uint64_t kNever = ~std::uint64_t{0};
constexpr std::uint64_t kSecond = 1'000'000;

enum Option : std::uint8_t {
  kOptPad = 0,
  kOptMask = 1,
  kOptRouter = 3,
  kOptDns = 6,
  kOptRequestedIp = 50,
  kOptLease = 51,
  kOptOverload = 52,
  kOptType = 53,
  kOptServer = 54,
  kOptParams = 55,
  kOptMaxSize = 57,
  kOptT1 = 58,
  kOptT2 = 59,
  kOptClientId = 61,
  kOptEnd = 255,
};

bool usable_host(Ipv4Addr a) { return !a.is_zero() && !a.is_broadcast() && !a.is_multicast() && !a.is_loopback(); }

// RFC 1122 §3.3.1.1's classful default when the server sends no (valid) mask.
std::uint32_t classful_mask(Ipv4Addr a) {
  const std::uint32_t top = a.value >> 24;
  if (top < 128) return 0xff000000u;
  if (top < 192) return 0xffff0000u;
  return 0xffffff00u;
}

void parse_option(DhcpOptions& o, std::uint8_t code, const std::uint8_t* v, std::size_t len) {
  switch (code) {
    case kOptType:
      if (len == 1 && o.type == DhcpMessageType::kNone && v[0] >= 1 && v[0] <= 8)
        o.type = static_cast<DhcpMessageType>(v[0]);
      break;
    case kOptMask:
      if (len == 4 && !o.has_mask) o.has_mask = true, o.mask = load32(v);
      break;
    case kOptRouter:
      if (len >= 4 && len % 4 == 0 && !o.has_router) o.has_router = true, o.router = Ipv4Addr{load32(v)};
      break;
    case kOptDns:
      if (len >= 4 && len % 4 == 0 && o.dns_count == 0)
        for (std::size_t i = 0; i < len / 4 && o.dns_count < kDhcpMaxDns; ++i) o.dns[o.dns_count++] = Ipv4Addr{load32(v + 4 * i)};
      break;
    case kOptLease:
      if (len == 4 && !o.has_lease) o.has_lease = true, o.lease_s = load32(v);
      break;
    case kOptT1:
      if (len == 4 && !o.has_t1) o.has_t1 = true, o.t1_s = load32(v);
      break;
    case kOptT2:
      if (len == 4 && !o.has_t2) o.has_t2 = true, o.t2_s = load32(v);
      break;
    case kOptServer:
      if (len == 4 && !o.has_server) o.has_server = true, o.server = Ipv4Addr{load32(v)};
      break;
    default: break;  // option overload (52) included: sname and file are never read
  }
}

std::uint64_t at(std::uint64_t start, std::uint32_t seconds) { return start + std::uint64_t{seconds} * kSecond; }

}  // namespace

const char* dhcp_state_name(DhcpState s) {
  switch (s) {
    case DhcpState::kStopped: return "stopped";
    case DhcpState::kInit: return "init";
    case DhcpState::kSelecting: return "selecting";
    case DhcpState::kRequesting: return "requesting";
    case DhcpState::kBound: return "bound";
    case DhcpState::kRenewing: return "renewing";
    case DhcpState::kRebinding: return "rebinding";
  }
  return "?";
}

Parsed<DhcpMessage> parse_dhcp(Bytes p) {
  if (p.size() < kDhcpOptionsOffset) return Err{Drop::kTruncated};
  if (p[1] != 1 || p[2] != 6 || load32(&p[kDhcpFixed]) != kDhcpMagic) return Err{Drop::kMalformed};
  DhcpMessage m;
  m.op = p[0];
  m.xid = load32(&p[4]);
  m.yiaddr = Ipv4Addr{load32(&p[16])};
  std::memcpy(m.chaddr.b.data(), &p[28], 6);
  std::size_t i = kDhcpOptionsOffset;
  while (i < p.size()) {
    const std::uint8_t code = p[i];
    if (code == kOptPad) {
      ++i;
      continue;
    }
    if (code == kOptEnd) break;
    if (i + 1 >= p.size()) return Err{Drop::kTruncated};
    const std::size_t len = p[i + 1];
    if (len > p.size() - i - 2) return Err{Drop::kTruncated};
    parse_option(m.options, code, &p[i + 2], len);
    i += 2 + len;
  }
  if (m.options.type == DhcpMessageType::kNone) return Err{Drop::kMalformed};
  return m;
}

void DhcpClient::start(std::uint64_t now) { enter_init(now); }

void DhcpClient::stop() {
  state_ = DhcpState::kStopped;
  lease_ = DhcpLease{};
  deadline_ = kNever;
}

void DhcpClient::enter_init(std::uint64_t now) {
  state_ = DhcpState::kInit;
  lease_ = DhcpLease{};
  deadline_ = now;
  retry_us_ = kDhcpFirstRetryUs;
  tries_ = 0;
}

std::uint64_t DhcpClient::backoff(std::uint64_t now) {
  const std::uint64_t r = random_() % (2 * kDhcpJitterUs + 1);
  const std::uint64_t delay = retry_us_ + r - kDhcpJitterUs;  // retry_us_ >= 4 s > jitter
  retry_us_ = retry_us_ * 2 > kDhcpMaxRetryUs ? kDhcpMaxRetryUs : retry_us_ * 2;
  return now + delay;
}

std::size_t DhcpClient::build(MutBytes out, DhcpMessageType type, std::uint64_t now) const {
  if (out.size() < kDhcpMessageSize) return 0;
  std::uint8_t* p = out.data();
  std::memset(p, 0, kDhcpMessageSize);
  p[0] = 1;  // BOOTREQUEST
  p[1] = 1;
  p[2] = 6;
  store32(p + 4, xid_);
  const std::uint64_t secs = (now - acquire_start_) / kSecond;
  store16(p + 8, static_cast<std::uint16_t>(secs > 0xffff ? 0xffff : secs));
  const bool have_address = state_ == DhcpState::kRenewing || state_ == DhcpState::kRebinding;
  if (have_address) store32(p + 12, lease_.address.value);  // ciaddr
  std::memcpy(p + 28, mac_.b.data(), 6);
  store32(p + kDhcpFixed, kDhcpMagic);
  std::uint8_t* o = p + kDhcpOptionsOffset;
  *o++ = kOptType, *o++ = 1, *o++ = static_cast<std::uint8_t>(type);
  *o++ = kOptClientId, *o++ = 7, *o++ = 1;
  std::memcpy(o, mac_.b.data(), 6);
  o += 6;
  if (state_ == DhcpState::kRequesting) {
    *o++ = kOptRequestedIp, *o++ = 4;
    store32(o, offered_.value);
    o += 4;
    *o++ = kOptServer, *o++ = 4;
    store32(o, offer_server_.value);
    o += 4;
  }
  *o++ = kOptParams, *o++ = 6;
  *o++ = kOptMask, *o++ = kOptRouter, *o++ = kOptDns, *o++ = kOptLease, *o++ = kOptT1, *o++ = kOptT2;
  *o++ = kOptMaxSize, *o++ = 2;
  store16(o, static_cast<std::uint16_t>(kMtu));
  o += 2;
  *o++ = kOptEnd;
  return kDhcpMessageSize;
}

DhcpSend DhcpClient::poll(std::uint64_t now, MutBytes out) {
  // Each pass either returns or moves to a later state, so this ends (at most INIT's send).
  for (int guard = 0; guard < 8; ++guard) {
    if (state_ == DhcpState::kStopped || now < deadline_) return {};
    switch (state_) {
      case DhcpState::kStopped: return {};
      case DhcpState::kInit:
        new_xid();
        acquire_start_ = now;
        state_ = DhcpState::kSelecting;
        [[fallthrough]];
      case DhcpState::kSelecting: {
        const std::size_t n = build(out, DhcpMessageType::kDiscover, now);
        if (!n) return {};
        deadline_ = backoff(now);
        return {n, Ipv4Addr{}, Ipv4Addr::broadcast()};
      }
      case DhcpState::kRequesting: {
        if (tries_ >= kDhcpRequestTries) {
          enter_init(now);
          continue;
        }
        const std::size_t n = build(out, DhcpMessageType::kRequest, now);
        if (!n) return {};
        ++tries_;
        request_sent_ = now;
        deadline_ = backoff(now);
        return {n, Ipv4Addr{}, Ipv4Addr::broadcast()};
      }
      case DhcpState::kBound:
        state_ = DhcpState::kRenewing;
        new_xid();
        acquire_start_ = now;
        continue;
      case DhcpState::kRenewing: {
        if (now >= lease_.t2_us) {
          state_ = DhcpState::kRebinding;
          new_xid();
          continue;
        }
        const std::size_t n = build(out, DhcpMessageType::kRequest, now);
        if (!n) return {};
        request_sent_ = now;
        const std::uint64_t half = (lease_.t2_us - now) / 2;
        const std::uint64_t next = now + (half < kDhcpMinRenewRetryUs ? kDhcpMinRenewRetryUs : half);
        deadline_ = next < lease_.t2_us ? next : lease_.t2_us;
        return {n, lease_.address, lease_.server};
      }
      case DhcpState::kRebinding: {
        if (now >= lease_.expiry_us) {
          enter_init(now);
          continue;
        }
        const std::size_t n = build(out, DhcpMessageType::kRequest, now);
        if (!n) return {};
        request_sent_ = now;
        const std::uint64_t half = (lease_.expiry_us - now) / 2;
        const std::uint64_t next = now + (half < kDhcpMinRenewRetryUs ? kDhcpMinRenewRetryUs : half);
        deadline_ = next < lease_.expiry_us ? next : lease_.expiry_us;
        return {n, lease_.address, Ipv4Addr::broadcast()};
      }
    }
  }
  return {};
}

DhcpEvent DhcpClient::on_message(std::uint64_t now, Bytes payload) {
  if (state_ != DhcpState::kSelecting && state_ != DhcpState::kRequesting && state_ != DhcpState::kRenewing &&
      state_ != DhcpState::kRebinding)
    return DhcpEvent::kIgnored;
  auto parsed = parse_dhcp(payload);
  if (!parsed) return DhcpEvent::kIgnored;
  const DhcpMessage& m = parsed.value();
  const DhcpOptions& o = m.options;
  if (m.op != 2 || m.xid != xid_ || m.chaddr != mac_ || !o.has_server) return DhcpEvent::kIgnored;

  if (state_ == DhcpState::kSelecting) {
    if (o.type != DhcpMessageType::kOffer || !usable_host(m.yiaddr)) return DhcpEvent::kIgnored;
    offered_ = m.yiaddr;
    offer_server_ = o.server;
    state_ = DhcpState::kRequesting;
    tries_ = 0;
    retry_us_ = kDhcpFirstRetryUs;
    deadline_ = now;
    return DhcpEvent::kOffer;
  }
  if (o.type != DhcpMessageType::kAck && o.type != DhcpMessageType::kNak) return DhcpEvent::kIgnored;
  // REQUESTING and RENEWING talk to one server; REBINDING accepts any.
  const Ipv4Addr chosen = state_ == DhcpState::kRequesting ? offer_server_ : lease_.server;
  if (state_ != DhcpState::kRebinding && o.server != chosen) return DhcpEvent::kIgnored;
  if (o.type == DhcpMessageType::kNak) {
    enter_init(now);
    return DhcpEvent::kNak;
  }
  if (!usable_host(m.yiaddr) || !o.has_lease) return DhcpEvent::kIgnored;

  DhcpLease l;
  l.address = m.yiaddr;
  l.mask = o.has_mask && o.mask != 0 && mask_is_contiguous(o.mask) ? o.mask : classful_mask(m.yiaddr);
  // A router off our subnet (or on our own address) could never be reached: ignore it.
  if (o.has_router && o.router != l.address && usable_host(o.router) &&
      (o.router.value & l.mask) == (l.address.value & l.mask))
    l.router = o.router;
  l.server = o.server;
  l.dns_count = o.dns_count;
  for (std::size_t i = 0; i < o.dns_count; ++i) l.dns[i] = o.dns[i];
  l.lease_s = o.lease_s;
  l.start_us = request_sent_;
  if (o.lease_s == kDhcpInfiniteLease) {
    l.t1_us = l.t2_us = l.expiry_us = kNever;
  } else {
    std::uint32_t t1 = o.has_t1 ? o.t1_s : o.lease_s / 2;
    std::uint32_t t2 = o.has_t2 ? o.t2_s : static_cast<std::uint32_t>(std::uint64_t{o.lease_s} * 7 / 8);
    if (!(t1 < t2 && t2 < o.lease_s)) {
      t1 = o.lease_s / 2;
      t2 = static_cast<std::uint32_t>(std::uint64_t{o.lease_s} * 7 / 8);
    }
    l.t1_us = at(l.start_us, t1);
    l.t2_us = at(l.start_us, t2);
    l.expiry_us = at(l.start_us, o.lease_s);
  }
  lease_ = l;
  state_ = DhcpState::kBound;
  retry_us_ = kDhcpFirstRetryUs;
  tries_ = 0;
  deadline_ = l.t1_us;
  return DhcpEvent::kBound;
}

}  // namespace keel::net

// Inner IPv4/UDP building and checking (keel/tunnel/inner.h).
#include "keel/tunnel/inner.h"

#include <cstring>

#include "keel/tunnel/ctl.h"

namespace keel::tunnel {
namespace {
uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, uint16_t(v >> 16));
  put16(p + 2, uint16_t(v));
}
uint32_t sum(const uint8_t* p, size_t n, uint32_t s) {
  for (size_t i = 0; i + 1 < n; i += 2) s += be16(p + i);
  if (n & 1) s += uint32_t(p[n - 1]) << 8;
  return s;
}
uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(~s);
}
}  // namespace

uint16_t ip_checksum(const uint8_t* p, size_t n, uint32_t initial) { return fold(sum(p, n, initial)); }

uint16_t udp_checksum(uint32_t src, uint32_t dst, const uint8_t* udp, size_t n) {
  uint32_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 17 + uint32_t(n);
  uint16_t c = fold(sum(udp, n, s));
  return c == 0 ? 0xffff : c;  // 0 means "no checksum" in UDP
}

const char* to_string(InnerDrop d) {
  switch (d) {
    case InnerDrop::None: return "accepted";
    case InnerDrop::TooShort: return "too short";
    case InnerDrop::NotIpv4: return "not IPv4";
    case InnerDrop::Options: return "IPv4 options";
    case InnerDrop::TotalLength: return "bad total length";
    case InnerDrop::Fragment: return "fragment";
    case InnerDrop::HeaderChecksum: return "bad header checksum";
    case InnerDrop::NotUdp: return "not UDP";
    case InnerDrop::WrongSource: return "wrong source address";
    case InnerDrop::WrongDestination: return "wrong destination address";
    case InnerDrop::WrongPort: return "wrong port";
    case InnerDrop::UdpLength: return "bad UDP length";
    case InnerDrop::UdpChecksum: return "bad UDP checksum";
    case InnerDrop::Empty: return "empty datagram";
    case InnerDrop::TooLong: return "datagram too long";
    case InnerDrop::Count: break;
  }
  return "?";
}

size_t build_inner(const InnerAddrs& a, uint16_t id, const uint8_t* payload, size_t n, uint8_t* out, size_t cap) {
  const size_t total = kInnerOverhead + n;
  if (n == 0 || n > KEEL_TUNNEL_MAX_DATAGRAM || total > cap) return 0;
  uint8_t* ip = out;
  ip[0] = 0x45;
  ip[1] = 0;
  put16(ip + 2, uint16_t(total));
  put16(ip + 4, id);
  put16(ip + 6, 0x4000);  // DF
  ip[8] = 64;
  ip[9] = 17;
  put16(ip + 10, 0);
  put32(ip + 12, a.address);
  put32(ip + 16, a.fleet_address);
  put16(ip + 10, ip_checksum(ip, kIpv4Header));
  uint8_t* udp = out + kIpv4Header;
  put16(udp, a.port);
  put16(udp + 2, a.port);
  put16(udp + 4, uint16_t(kUdpHeader + n));
  put16(udp + 6, 0);
  std::memmove(udp + kUdpHeader, payload, n);
  put16(udp + 6, udp_checksum(a.address, a.fleet_address, udp, kUdpHeader + n));
  return total;
}

InnerDrop check_inner(const InnerAddrs& a, const uint8_t* p, size_t n, const uint8_t** payload, size_t* len) {
  if (n < kInnerOverhead) return InnerDrop::TooShort;
  if (p[0] >> 4 != 4) return InnerDrop::NotIpv4;
  if ((p[0] & 15) != 5) return InnerDrop::Options;
  if (be16(p + 2) != n) return InnerDrop::TotalLength;
  if ((be16(p + 6) & 0x3fff) != 0) return InnerDrop::Fragment;  // MF or an offset (DF allowed)
  if (ip_checksum(p, kIpv4Header) != 0) return InnerDrop::HeaderChecksum;
  if (p[9] != 17) return InnerDrop::NotUdp;
  if (be32(p + 12) != a.fleet_address) return InnerDrop::WrongSource;
  if (be32(p + 16) != a.address) return InnerDrop::WrongDestination;
  const uint8_t* udp = p + kIpv4Header;
  const size_t un = n - kIpv4Header;
  if (be16(udp) != a.port || be16(udp + 2) != a.port) return InnerDrop::WrongPort;
  if (be16(udp + 4) != un) return InnerDrop::UdpLength;
  // A zero checksum is "none" (RFC 768, allowed over IPv4): Fleet sends none, because WireGuard has
  // authenticated every byte already. A non-zero one must be right.
  if (be16(udp + 6) != 0 && fold(sum(udp, un, (a.fleet_address >> 16) + (a.fleet_address & 0xffff) +
                                                  (a.address >> 16) + (a.address & 0xffff) + 17 + uint32_t(un))) != 0)
    return InnerDrop::UdpChecksum;
  if (un == kUdpHeader) return InnerDrop::Empty;
  if (un - kUdpHeader > KEEL_TUNNEL_MAX_DATAGRAM) return InnerDrop::TooLong;
  *payload = udp + kUdpHeader;
  *len = un - kUdpHeader;
  return InnerDrop::None;
}

}  // namespace keel::tunnel

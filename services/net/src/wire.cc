// Wire formats of the net service (keel/net/wire.h).
#include "keel/net/wire.h"

#include <cstring>

namespace keel::net {

const char* drop_name(Drop d) {
  switch (d) {
    case Drop::kTruncated: return "truncated";
    case Drop::kBadLength: return "bad_length";
    case Drop::kBadChecksum: return "bad_checksum";
    case Drop::kMalformed: return "malformed";
    case Drop::kNotForUs: return "not_for_us";
    case Drop::kBadAddress: return "bad_address";
    case Drop::kVlanTagged: return "vlan_tagged";
    case Drop::kUnknownEthertype: return "unknown_ethertype";
    case Drop::kUnknownProtocol: return "unknown_protocol";
    case Drop::kFragment: return "fragment";
    case Drop::kIcmpUnsupported: return "icmp_unsupported";
    case Drop::kArpUnsolicited: return "arp_unsolicited";
    case Drop::kArpSpoof: return "arp_spoof";
    case Drop::kAddressConflict: return "address_conflict";
    case Drop::kNoSocket: return "no_socket";
    case Drop::kPolicyDenied: return "policy_denied";
    case Drop::kDhcpRejected: return "dhcp_rejected";
    case Drop::kNoBuffer: return "no_buffer";
    case Drop::kArpUnresolved: return "arp_unresolved";
    case Drop::kCount: break;
  }
  return "?";
}

std::uint32_t checksum_add(std::uint32_t sum, Bytes data) {
  const std::size_t n = data.size();
  std::size_t i = 0;
  for (; i + 1 < n; i += 2) {
    sum += load16(&data[i]);
    sum = (sum & 0xffff) + (sum >> 16);  // keep it folded: no overflow at any length
  }
  if (i < n) {
    sum += std::uint32_t{data[i]} << 8;
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return sum;
}

std::uint16_t checksum_finish(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

std::uint32_t udp_pseudo_sum(Ipv4Addr src, Ipv4Addr dst, std::uint16_t udp_length) {
  std::uint32_t s = (src.value >> 16) + (src.value & 0xffff) + (dst.value >> 16) + (dst.value & 0xffff);
  s += kProtoUdp;
  s += udp_length;
  return (s & 0xffff) + (s >> 16);
}

namespace {

MacAddr load_mac(const std::uint8_t* p) {
  MacAddr m;
  std::memcpy(m.b.data(), p, 6);
  return m;
}
void store_mac(std::uint8_t* p, const MacAddr& m) { std::memcpy(p, m.b.data(), 6); }

}  // namespace

Parsed<EthernetFrame> parse_ethernet(Bytes frame) {
  if (frame.size() < kEthHeader) return Err{Drop::kTruncated};
  if (frame.size() > kMaxFrame) return Err{Drop::kBadLength};
  EthernetFrame e;
  e.dst = load_mac(&frame[0]);
  e.src = load_mac(&frame[6]);
  e.type = load16(&frame[12]);
  if (e.type == kEtherVlan || e.type == kEtherQinQ) return Err{Drop::kVlanTagged};
  e.payload = frame.subspan(kEthHeader);
  return e;
}

Parsed<ArpPacket> parse_arp(Bytes p) {
  if (p.size() < kArpPacket) return Err{Drop::kTruncated};
  if (load16(&p[0]) != 1 || load16(&p[2]) != kEtherIpv4 || p[4] != 6 || p[5] != 4)
    return Err{Drop::kMalformed};
  ArpPacket a;
  a.op = load16(&p[6]);
  if (a.op != kArpRequest && a.op != kArpReply) return Err{Drop::kMalformed};
  a.sha = load_mac(&p[8]);
  a.spa = Ipv4Addr{load32(&p[14])};
  a.tha = load_mac(&p[18]);
  a.tpa = Ipv4Addr{load32(&p[24])};
  return a;
}

Parsed<Ipv4Packet> parse_ipv4(Bytes p) {
  if (p.size() < kIpv4Header) return Err{Drop::kTruncated};
  if ((p[0] >> 4) != 4) return Err{Drop::kMalformed};
  const std::size_t hlen = std::size_t{p[0] & 0x0fu} * 4;
  if (hlen < kIpv4Header) return Err{Drop::kBadLength};
  if (hlen > p.size()) return Err{Drop::kTruncated};
  if (checksum(p.first(hlen)) != 0) return Err{Drop::kBadChecksum};
  const std::size_t total = load16(&p[2]);
  if (total < hlen) return Err{Drop::kBadLength};
  if (total > p.size()) return Err{Drop::kTruncated};
  const std::uint16_t frag = load16(&p[6]);
  if ((frag & 0x2000) != 0 || (frag & 0x1fff) != 0) return Err{Drop::kFragment};
  Ipv4Packet ip;
  ip.ttl = p[8];
  ip.protocol = p[9];
  ip.src = Ipv4Addr{load32(&p[12])};
  ip.dst = Ipv4Addr{load32(&p[16])};
  ip.header_len = static_cast<std::uint8_t>(hlen);
  ip.payload = p.subspan(hlen, total - hlen);
  return ip;
}

Parsed<UdpDatagram> parse_udp(const Ipv4Packet& ip) {
  const Bytes p = ip.payload;
  if (p.size() < kUdpHeader) return Err{Drop::kTruncated};
  const std::size_t len = load16(&p[4]);
  if (len < kUdpHeader) return Err{Drop::kBadLength};
  if (len > p.size()) return Err{Drop::kTruncated};
  const Bytes whole = p.first(len);
  if (load16(&p[6]) != 0) {
    const std::uint32_t s = checksum_add(udp_pseudo_sum(ip.src, ip.dst, static_cast<std::uint16_t>(len)), whole);
    if (checksum_finish(s) != 0) return Err{Drop::kBadChecksum};
  }
  UdpDatagram u;
  u.src_port = load16(&p[0]);
  u.dst_port = load16(&p[2]);
  u.payload = whole.subspan(kUdpHeader);
  return u;
}

Parsed<IcmpMessage> parse_icmp(Bytes p) {
  if (p.size() < kIcmpHeader) return Err{Drop::kTruncated};
  if (checksum(p) != 0) return Err{Drop::kBadChecksum};
  IcmpMessage m;
  m.type = p[0];
  m.code = p[1];
  m.id = load16(&p[4]);
  m.seq = load16(&p[6]);
  m.data = p.subspan(kIcmpHeader);
  return m;
}

std::size_t write_ethernet(MutBytes out, MacAddr dst, MacAddr src, std::uint16_t type) {
  if (out.size() < kEthHeader) return 0;
  store_mac(&out[0], dst);
  store_mac(&out[6], src);
  store16(&out[12], type);
  return kEthHeader;
}

std::size_t write_arp_frame(MutBytes out, MacAddr eth_dst, MacAddr our_mac, std::uint16_t op,
                            MacAddr sha, Ipv4Addr spa, MacAddr tha, Ipv4Addr tpa) {
  if (out.size() < kArpFrame) return 0;
  write_ethernet(out, eth_dst, our_mac, kEtherArp);
  std::uint8_t* p = &out[kEthHeader];
  store16(p + 0, 1);
  store16(p + 2, kEtherIpv4);
  p[4] = 6;
  p[5] = 4;
  store16(p + 6, op);
  store_mac(p + 8, sha);
  store32(p + 14, spa.value);
  store_mac(p + 18, tha);
  store32(p + 24, tpa.value);
  return kArpFrame;
}

std::size_t write_ipv4_header(MutBytes out, Ipv4Addr src, Ipv4Addr dst, std::uint8_t protocol,
                              std::size_t payload_len) {
  if (out.size() < kIpv4Header || payload_len > kMtu - kIpv4Header) return 0;
  std::uint8_t* p = out.data();
  p[0] = 0x45;
  p[1] = 0;
  store16(p + 2, static_cast<std::uint16_t>(kIpv4Header + payload_len));
  store16(p + 4, 0);       // ID: atomic datagram (RFC 6864)
  store16(p + 6, 0x4000);  // DF
  p[8] = kDefaultTtl;
  p[9] = protocol;
  store16(p + 10, 0);
  store32(p + 12, src.value);
  store32(p + 16, dst.value);
  store16(p + 10, checksum(out.first(kIpv4Header)));
  return kIpv4Header;
}

std::size_t finish_udp_frame(MutBytes out, const UdpFrameHeader& h, std::size_t payload_len) {
  if (payload_len > kMaxUdpPayload || out.size() < kUdpPayloadOffset + payload_len) return 0;
  write_ethernet(out, h.eth_dst, h.eth_src, kEtherIpv4);
  const std::size_t udp_len = kUdpHeader + payload_len;
  write_ipv4_header(out.subspan(kEthHeader), h.src, h.dst, kProtoUdp, udp_len);
  std::uint8_t* u = &out[kEthHeader + kIpv4Header];
  store16(u + 0, h.src_port);
  store16(u + 2, h.dst_port);
  store16(u + 4, static_cast<std::uint16_t>(udp_len));
  store16(u + 6, 0);
  const std::uint32_t s = udp_pseudo_sum(h.src, h.dst, static_cast<std::uint16_t>(udp_len));
  std::uint16_t c = checksum_finish(checksum_add(s, out.subspan(kEthHeader + kIpv4Header, udp_len)));
  if (c == 0) c = 0xffff;  // 0 means "no checksum" in UDP
  store16(u + 6, c);
  return kUdpPayloadOffset + payload_len;
}

std::size_t write_udp_frame(MutBytes out, const UdpFrameHeader& h, Bytes payload) {
  if (payload.size() > kMaxUdpPayload || out.size() < kUdpPayloadOffset + payload.size()) return 0;
  // A payload already in place (the net service reads a component's datagram straight into the
  // transmit buffer at kUdpPayloadOffset) is not copied again.
  if (!payload.empty() && payload.data() != &out[kUdpPayloadOffset])
    std::memmove(&out[kUdpPayloadOffset], payload.data(), payload.size());
  return finish_udp_frame(out, h, payload.size());
}

}  // namespace keel::net

// Test-side frame builders for the net service's tests, written from the RFC layouts and
// independent of the code under test (their own checksum, their own byte order helpers), so a
// bug in the library's writers cannot hide the same bug in its parsers.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "keel/net/wire.h"

namespace nt {

using Frame = std::vector<std::uint8_t>;
using keel::net::Ipv4Addr;
using keel::net::MacAddr;

inline void put16(Frame& f, std::uint32_t v) {
  f.push_back(static_cast<std::uint8_t>(v >> 8));
  f.push_back(static_cast<std::uint8_t>(v));
}
inline void put32(Frame& f, std::uint32_t v) {
  put16(f, v >> 16);
  put16(f, v & 0xffff);
}
inline void put_mac(Frame& f, const MacAddr& m) { f.insert(f.end(), m.b.begin(), m.b.end()); }
inline void append(Frame& f, const Frame& g) { f.insert(f.end(), g.begin(), g.end()); }

// RFC 1071, the straightforward way: 32-bit sum of 16-bit words, folded at the end.
inline std::uint16_t csum(const Frame& b, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i < b.size(); i += 2)
    sum += std::uint32_t{b[i]} << 8 | (i + 1 < b.size() ? b[i + 1] : 0);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}
inline void set16(Frame& f, std::size_t at, std::uint16_t v) {
  f[at] = static_cast<std::uint8_t>(v >> 8);
  f[at + 1] = static_cast<std::uint8_t>(v);
}

inline Frame eth(const MacAddr& dst, const MacAddr& src, std::uint16_t type, const Frame& payload) {
  Frame f;
  put_mac(f, dst);
  put_mac(f, src);
  put16(f, type);
  append(f, payload);
  return f;
}

inline Frame arp(std::uint16_t op, const MacAddr& sha, Ipv4Addr spa, const MacAddr& tha, Ipv4Addr tpa) {
  Frame f;
  put16(f, 1);
  put16(f, 0x0800);
  f.push_back(6);
  f.push_back(4);
  put16(f, op);
  put_mac(f, sha);
  put32(f, spa.value);
  put_mac(f, tha);
  put32(f, tpa.value);
  return f;
}

struct IpOpts {
  std::uint16_t frag = 0x4000;  // flags + offset (DF)
  std::uint8_t ttl = 64;
  std::uint16_t id = 0x1234;
  Frame options;                // multiple of 4
  int total_delta = 0;          // added to the total length field
  bool bad_checksum = false;
};
inline Frame ipv4(Ipv4Addr src, Ipv4Addr dst, std::uint8_t proto, const Frame& payload, const IpOpts& o = {}) {
  Frame h;
  const std::size_t hlen = 20 + o.options.size();
  h.push_back(static_cast<std::uint8_t>(0x40 | (hlen / 4)));
  h.push_back(0);
  put16(h, static_cast<std::uint32_t>(static_cast<int>(hlen + payload.size()) + o.total_delta));
  put16(h, o.id);
  put16(h, o.frag);
  h.push_back(o.ttl);
  h.push_back(proto);
  put16(h, 0);
  put32(h, src.value);
  put32(h, dst.value);
  append(h, o.options);
  set16(h, 10, static_cast<std::uint16_t>(csum(h) ^ (o.bad_checksum ? 0x0101 : 0)));
  append(h, payload);
  return h;
}

// checksum: 1 = computed, 0 = none (zero field), -1 = wrong
inline Frame udp(Ipv4Addr src, Ipv4Addr dst, std::uint16_t sport, std::uint16_t dport, const Frame& payload,
                 int checksum = 1, int len_delta = 0) {
  Frame u;
  put16(u, sport);
  put16(u, dport);
  put16(u, static_cast<std::uint32_t>(static_cast<int>(8 + payload.size()) + len_delta));
  put16(u, 0);
  append(u, payload);
  if (checksum != 0) {
    Frame pseudo;
    put32(pseudo, src.value);
    put32(pseudo, dst.value);
    put16(pseudo, 17);
    put16(pseudo, static_cast<std::uint32_t>(u.size()));
    std::uint32_t s = 0;
    for (std::size_t i = 0; i < pseudo.size(); i += 2) s += std::uint32_t{pseudo[i]} << 8 | pseudo[i + 1];
    std::uint16_t c = csum(u, s);
    if (c == 0) c = 0xffff;
    if (checksum < 0) c = static_cast<std::uint16_t>(c ^ 0x00ff);
    set16(u, 6, c);
  }
  return u;
}

inline Frame icmp(std::uint8_t type, std::uint8_t code, std::uint16_t id, std::uint16_t seq, const Frame& data,
                  bool bad_checksum = false) {
  Frame m{type, code, 0, 0};
  put16(m, id);
  put16(m, seq);
  append(m, data);
  set16(m, 2, static_cast<std::uint16_t>(csum(m) ^ (bad_checksum ? 0x0100 : 0)));
  return m;
}

inline Frame bytes(const std::string& s) { return Frame(s.begin(), s.end()); }

// A DHCP server message (BOOTREPLY) with the given options (code, bytes...) and END.
struct DhcpOpt {
  std::uint8_t code;
  Frame value;
};
inline Frame dhcp_reply(std::uint32_t xid, const MacAddr& chaddr, Ipv4Addr yiaddr, std::initializer_list<DhcpOpt> opts,
                        std::uint8_t op = 2) {
  Frame m(236, 0);
  m[0] = op;
  m[1] = 1;
  m[2] = 6;
  m[4] = static_cast<std::uint8_t>(xid >> 24);
  m[5] = static_cast<std::uint8_t>(xid >> 16);
  m[6] = static_cast<std::uint8_t>(xid >> 8);
  m[7] = static_cast<std::uint8_t>(xid);
  for (int i = 0; i < 4; ++i) m[16 + i] = static_cast<std::uint8_t>(yiaddr.value >> (24 - 8 * i));
  for (int i = 0; i < 6; ++i) m[28 + i] = chaddr.b[i];
  put32(m, 0x63825363);
  for (const DhcpOpt& o : opts) {
    m.push_back(o.code);
    m.push_back(static_cast<std::uint8_t>(o.value.size()));
    append(m, o.value);
  }
  m.push_back(255);
  return m;
}
inline Frame be32(std::uint32_t v) {
  Frame f;
  put32(f, v);
  return f;
}
inline DhcpOpt opt_type(std::uint8_t t) { return {53, {t}}; }
inline DhcpOpt opt_addr(std::uint8_t code, Ipv4Addr a) { return {code, be32(a.value)}; }
inline DhcpOpt opt_u32(std::uint8_t code, std::uint32_t v) { return {code, be32(v)}; }

// Reads a DHCP option out of a client message (first occurrence), empty if absent.
inline Frame dhcp_option(const std::uint8_t* msg, std::size_t n, std::uint8_t code) {
  for (std::size_t i = 240; i < n;) {
    if (msg[i] == 0) {
      ++i;
      continue;
    }
    if (msg[i] == 255 || i + 1 >= n) break;
    const std::size_t len = msg[i + 1];
    if (msg[i] == code) return Frame(msg + i + 2, msg + i + 2 + len);
    i += 2 + len;
  }
  return {};
}

}  // namespace nt

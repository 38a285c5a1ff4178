// keel/tunnel/enrolment.h — the device's enrolment record (record 1 of partition `link`): Fleet's
// tunnel endpoint and WireGuard key, the device's inner address and Fleet's inner address.
//
// Text, one `key=value` per line, each line ended by '\n', keys in any order, each exactly once,
// unknown keys refused (docs/device-services.md "Tunnel"):
//   fleet_endpoint=10.0.2.2:51820
//   fleet_key=<base64 of 32 bytes>
//   address=10.64.0.2
//   fleet_address=10.64.0.1
// Portable and header-only (no heap, no OS calls, no libraries): the tunnel and the link agent
// parse it on the device, `keel device enroll` writes it on the host (format_enrolment). Errors
// say `enrolment line N: ...` (N counts from 1; a key missing at the end names the line after
// the last).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace keel::tunnel {

struct Enrolment {
  uint32_t fleet_ip = 0;  // IPv4, host order (10.0.2.2 = 0x0a000202)
  uint16_t fleet_port = 0;
  uint8_t fleet_key[32] = {};
  uint32_t address = 0;        // the device's inner IPv4 address
  uint32_t fleet_address = 0;  // Fleet's inner IPv4 address
};

struct EnrolmentError {
  char message[128] = {};  // "enrolment line N: ..."
};

inline constexpr size_t kEnrolmentMaxBytes = 512;

// Dotted quad, exactly four decimal parts 0..255 without leading zeros or signs ("0" allowed).
inline bool parse_ipv4(const char* s, size_t n, uint32_t& out) {
  uint32_t v = 0;
  size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= n || s[i] != '.') return false;
      ++i;
    }
    size_t start = i;
    uint32_t x = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3) x = x * 10 + uint32_t(s[i++] - '0');
    if (i == start || x > 255 || (i - start > 1 && s[start] == '0')) return false;
    v = v << 8 | x;
  }
  if (i != n) return false;
  out = v;
  return true;
}

// IPv4:port, port 1..65535 in decimal without leading zeros.
inline bool parse_endpoint(const char* s, size_t n, uint32_t& ip, uint16_t& port) {
  size_t colon = n;
  for (size_t i = 0; i < n; ++i)
    if (s[i] == ':') colon = i;
  if (colon == n || !parse_ipv4(s, colon, ip)) return false;
  const char* p = s + colon + 1;
  size_t pn = n - colon - 1;
  if (pn == 0 || pn > 5 || p[0] == '0') return false;
  uint32_t v = 0;
  for (size_t i = 0; i < pn; ++i) {
    if (p[i] < '0' || p[i] > '9') return false;
    v = v * 10 + uint32_t(p[i] - '0');
  }
  if (v == 0 || v > 65535) return false;
  port = uint16_t(v);
  return true;
}

inline int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 (with '=' padding, as `wg` prints keys) of exactly 32 bytes: 44 characters, the
// last '=' and the unused low bits of the 43rd zero (one spelling per key).
inline bool parse_key_base64(const char* s, size_t n, uint8_t out[32]) {
  if (n != 44 || s[43] != '=') return false;
  uint8_t tmp[33];
  size_t o = 0;
  for (size_t i = 0; i < 44; i += 4) {
    int v[4];
    for (int j = 0; j < 4; ++j) v[j] = (i + size_t(j) == 43) ? 0 : base64_value(s[i + size_t(j)]);
    for (int j = 0; j < 4; ++j)
      if (v[j] < 0) return false;
    const uint32_t w = uint32_t(v[0]) << 18 | uint32_t(v[1]) << 12 | uint32_t(v[2]) << 6 | uint32_t(v[3]);
    tmp[o++] = uint8_t(w >> 16);
    tmp[o++] = uint8_t(w >> 8);
    if (o < 33) tmp[o++] = uint8_t(w);
  }
  if ((base64_value(s[42]) & 3) != 0) return false;  // non-canonical spelling
  std::memcpy(out, tmp, 32);
  return true;
}

inline void format_key_base64(const uint8_t key[32], char out[45]) {
  static const char* const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < 32; i += 3) {
    const uint32_t w = uint32_t(key[i]) << 16 | uint32_t(key[i + 1]) << 8 | (i + 2 < 32 ? key[i + 2] : 0u);
    out[o++] = abc[w >> 18 & 63];
    out[o++] = abc[w >> 12 & 63];
    out[o++] = abc[w >> 6 & 63];
    out[o++] = i + 2 < 32 ? abc[w & 63] : '=';
  }
  out[44] = 0;
}

// What one value is checked as; also used for the tunnel's [component.config] fallback.
enum class EnrolmentKey : uint8_t { FleetEndpoint, FleetKey, Address, FleetAddress, Count };
inline const char* enrolment_key_name(EnrolmentKey k) {
  switch (k) {
    case EnrolmentKey::FleetEndpoint: return "fleet_endpoint";
    case EnrolmentKey::FleetKey: return "fleet_key";
    case EnrolmentKey::Address: return "address";
    case EnrolmentKey::FleetAddress: return "fleet_address";
    case EnrolmentKey::Count: break;
  }
  return "?";
}

// Sets one value of `e`; on failure writes what is wrong (without the line prefix) into why.
inline bool set_enrolment_value(Enrolment& e, EnrolmentKey k, const char* v, size_t n, char* why, size_t why_cap) {
  bool ok = false;
  switch (k) {
    case EnrolmentKey::FleetEndpoint:
      ok = parse_endpoint(v, n, e.fleet_ip, e.fleet_port);
      if (!ok) std::snprintf(why, why_cap, "fleet_endpoint: expected IPv4:port (e.g. 10.0.2.2:51820)");
      break;
    case EnrolmentKey::FleetKey:
      ok = parse_key_base64(v, n, e.fleet_key);
      if (!ok) std::snprintf(why, why_cap, "fleet_key: expected the base64 of 32 bytes (44 characters)");
      break;
    case EnrolmentKey::Address:
      ok = parse_ipv4(v, n, e.address) && e.address != 0;
      if (!ok) std::snprintf(why, why_cap, "address: expected an IPv4 address (e.g. 10.64.0.2)");
      break;
    case EnrolmentKey::FleetAddress:
      ok = parse_ipv4(v, n, e.fleet_address) && e.fleet_address != 0;
      if (!ok) std::snprintf(why, why_cap, "fleet_address: expected an IPv4 address (e.g. 10.64.0.1)");
      break;
    case EnrolmentKey::Count: break;
  }
  return ok;
}

// Parses the record. False with err.message set on the first problem.
inline bool parse_enrolment(const char* text, size_t n, Enrolment& out, EnrolmentError& err) {
  Enrolment e;
  unsigned line_no[size_t(EnrolmentKey::Count)] = {};
  unsigned line = 0;
  size_t i = 0;
  char why[96];
  auto fail = [&](unsigned l, const char* what) {
    std::snprintf(err.message, sizeof err.message, "enrolment line %u: %s", l, what);
    return false;
  };
  if (n > kEnrolmentMaxBytes) return fail(1, "record longer than 512 bytes");
  while (i < n) {
    ++line;
    size_t end = i;
    while (end < n && text[end] != '\n') ++end;
    if (end == n) return fail(line, "no newline at the end of the line");
    const char* l = text + i;
    const size_t ln = end - i;
    i = end + 1;
    if (ln == 0) return fail(line, "empty line");
    size_t eq = 0;
    while (eq < ln && l[eq] != '=') ++eq;
    if (eq == ln) return fail(line, "expected key=value");
    for (size_t j = 0; j < ln; ++j)
      if (l[j] == 0 || static_cast<unsigned char>(l[j]) < 0x20 || static_cast<unsigned char>(l[j]) > 0x7e ||
          l[j] == ' ')
        return fail(line, "spaces or control characters are not allowed");
    EnrolmentKey key = EnrolmentKey::Count;
    for (size_t k = 0; k < size_t(EnrolmentKey::Count); ++k) {
      const char* name = enrolment_key_name(EnrolmentKey(k));
      if (std::strlen(name) == eq && std::memcmp(name, l, eq) == 0) key = EnrolmentKey(k);
    }
    if (key == EnrolmentKey::Count) {
      char m[96];
      std::snprintf(m, sizeof m, "unknown key '%.*s'", int(eq > 40 ? 40 : eq), l);
      return fail(line, m);
    }
    if (line_no[size_t(key)] != 0) {
      char m[96];
      std::snprintf(m, sizeof m, "%s given twice (first on line %u)", enrolment_key_name(key), line_no[size_t(key)]);
      return fail(line, m);
    }
    line_no[size_t(key)] = line;
    if (!set_enrolment_value(e, key, l + eq + 1, ln - eq - 1, why, sizeof why)) return fail(line, why);
  }
  for (size_t k = 0; k < size_t(EnrolmentKey::Count); ++k)
    if (line_no[k] == 0) {
      char m[96];
      std::snprintf(m, sizeof m, "missing key '%s'", enrolment_key_name(EnrolmentKey(k)));
      return fail(line + 1, m);
    }
  out = e;
  return true;
}

inline void format_ipv4(uint32_t a, char out[16]) {
  std::snprintf(out, 16, "%u.%u.%u.%u", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255);
}

// The record's text in the canonical order; returns its length (0 if cap is too small).
inline size_t format_enrolment(const Enrolment& e, char* out, size_t cap) {
  char ep[16], a[16], fa[16], k[45];
  format_ipv4(e.fleet_ip, ep);
  format_ipv4(e.address, a);
  format_ipv4(e.fleet_address, fa);
  format_key_base64(e.fleet_key, k);
  const int n = std::snprintf(out, cap, "fleet_endpoint=%s:%u\nfleet_key=%s\naddress=%s\nfleet_address=%s\n", ep,
                              unsigned(e.fleet_port), k, a, fa);
  return n > 0 && size_t(n) < cap ? size_t(n) : 0;
}

}  // namespace keel::tunnel

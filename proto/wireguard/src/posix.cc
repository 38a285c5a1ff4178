// POSIX adapters for the WireGuard engine (clocks, randomness, addresses, key text).
#include "keel/wg/posix.h"

#include <arpa/inet.h>
#include <sodium.h>

#include <cstring>
#include <ctime>
#include <string>

namespace keel::wg {

uint64_t SystemClock::now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * kSec + uint64_t(ts.tv_nsec);
}

Tai64n SystemClock::now_tai64n() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return Tai64n::from_unix_whitened(uint64_t(ts.tv_sec), uint32_t(ts.tv_nsec));
}

void SystemRandom::fill(MutBytes out) { randombytes_buf(out.data(), out.size()); }

Endpoint endpoint_from_sockaddr(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto& s = reinterpret_cast<const sockaddr_in&>(ss);
    return Endpoint::v4(reinterpret_cast<const uint8_t*>(&s.sin_addr), ntohs(s.sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto& s = reinterpret_cast<const sockaddr_in6&>(ss);
    // A v4-mapped address (dual-stack socket) is reported as IPv4 so cookies and checks agree.
    const uint8_t* a = s.sin6_addr.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a, mapped, 12) == 0) return Endpoint::v4(a + 12, ntohs(s.sin6_port));
    return Endpoint::v6(a, ntohs(s.sin6_port));
  }
  return {};
}

socklen_t endpoint_to_sockaddr(const Endpoint& e, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (e.family == 4) {
    auto& s = reinterpret_cast<sockaddr_in&>(ss);
    s.sin_family = AF_INET;
    s.sin_port = htons(e.port);
    std::memcpy(&s.sin_addr, e.addr, 4);
    return sizeof s;
  }
  auto& s = reinterpret_cast<sockaddr_in6&>(ss);
  s.sin6_family = AF_INET6;
  s.sin6_port = htons(e.port);
  std::memcpy(&s.sin6_addr, e.addr, 16);
  return sizeof s;
}

bool parse_endpoint(const char* text, Endpoint& out) {
  std::string t(text);
  std::string host, port;
  if (!t.empty() && t[0] == '[') {
    const auto close = t.find(']');
    if (close == std::string::npos || close + 1 >= t.size() || t[close + 1] != ':') return false;
    host = t.substr(1, close - 1);
    port = t.substr(close + 2);
  } else {
    const auto colon = t.rfind(':');
    if (colon == std::string::npos) return false;
    host = t.substr(0, colon);
    port = t.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
  const unsigned long p = std::stoul(port);
  if (p == 0 || p > 65535) return false;
  uint8_t a[16];
  if (inet_pton(AF_INET, host.c_str(), a) == 1) out = Endpoint::v4(a, uint16_t(p));
  else if (inet_pton(AF_INET6, host.c_str(), a) == 1) out = Endpoint::v6(a, uint16_t(p));
  else return false;
  return true;
}

bool key_from_base64(const char* text, Key& out) {
  size_t len = 0;
  const char* end = nullptr;
  if (std::strlen(text) != 44) return false;
  if (sodium_base642bin(out.data(), out.size(), text, 44, nullptr, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0)
    return false;
  return len == 32 && end == text + 44;
}

void key_to_base64(const Key& k, char out[45]) {
  sodium_bin2base64(out, 45, k.data(), k.size(), sodium_base64_VARIANT_ORIGINAL);
}

}  // namespace keel::wg

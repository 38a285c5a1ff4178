// keel/wg/posix.h — the OS adapters for keel_wg on a POSIX host (target keel_wg_posix): the real
// clocks, libsodium's system randomness and sockaddr <-> Endpoint conversion. The protocol
// library itself never includes this.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include "keel/wg/engine.h"

namespace keel::wg {

class SystemClock final : public Clock {
 public:
  uint64_t now_ns() override;    // CLOCK_MONOTONIC
  Tai64n now_tai64n() override;  // CLOCK_REALTIME, whitened like the reference implementations
};

class SystemRandom final : public Random {
 public:
  void fill(MutBytes out) override;  // randombytes_buf (getrandom)
};

Endpoint endpoint_from_sockaddr(const sockaddr_storage& ss);
socklen_t endpoint_to_sockaddr(const Endpoint& e, sockaddr_storage& ss);
// "a.b.c.d:port" or "[v6]:port"; false if malformed.
bool parse_endpoint(const char* text, Endpoint& out);
// Base64 (the wg(8) key format) <-> Key; false if malformed.
bool key_from_base64(const char* text, Key& out);
void key_to_base64(const Key& k, char out[45]);

}  // namespace keel::wg

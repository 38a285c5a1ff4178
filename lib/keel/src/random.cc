// keel_random (keel.h "Random numbers"): random bytes from the rng service, KEEL_RNG_SERVICE_MAX_BYTES
// per request (keel/sys/rng_service.h), over the component's rpc channel to `rng` — the manifest's
// grant. Without that channel: KEEL_DENIED, logged once by this component.
#include <string.h>

#include "keel/keel.h"
#include "keel/sys/rng_service.h"
#include "keel_internal.h"

namespace {

constexpr uint64_t kWaitMs = 2000;  // keel_random: how long it waits for a restarting or unseeded service
constexpr keel_channel_t kUnknown = -2;

keel_channel_t g_rng = kUnknown;
bool g_denied_logged = false;

keel_channel_t find_rng() {
  if (g_rng != kUnknown) return g_rng;
  g_rng = -1;
  const keel_info_t* info = keel_info();
  if (info == nullptr) return -1;
  for (uint32_t i = 0; i < info->channel_count; ++i) {
    const keel_info_channel_t* c = keel_channel_info(static_cast<keel_channel_t>(i));
    if (c != nullptr && c->kind == KEEL_CHANNEL_RPC && c->role == KEEL_ROLE_FROM &&
        strcmp(keel_info_string(info, c->peer), "rng") == 0) {
      g_rng = static_cast<keel_channel_t>(i);
      break;
    }
  }
  return g_rng;
}

void wipe(void* p, size_t n) {
  volatile uint8_t* b = static_cast<volatile uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) b[i] = 0;
}

// One request of n (1..KEEL_RNG_SERVICE_MAX_BYTES) bytes.
keel_error_t request(keel_channel_t ch, uint8_t* out, size_t n) {
  keel_msg_t m;
  m.label = KEEL_RNG_SERVICE_GET;
  m.len = 1;
  m.w[0] = n;
  keel_error_t st = keel_rpc_call(ch, &m);
  if (st == KEEL_OK) st = keel_error_from_label(m.label);
  if (st == KEEL_OK && m.len != (n + 7) / 8) st = KEEL_PROTOCOL_ERROR;
  if (st == KEEL_OK) memcpy(out, m.w, n);  // little-endian words: byte i of w is the protocol's byte i
  wipe(m.w, (n + 7) / 8 * 8);
  return st;
}

keel_error_t fill(void* buf, size_t n, bool wait) {
  if (n == 0) return KEEL_OK;
  if (buf == nullptr) return KEEL_INVALID_ARGUMENT;
  if (n > KEEL_RANDOM_MAX) return KEEL_RANGE_ERROR;  // untouched: n is not the buffer's size then
  const keel_channel_t ch = find_rng();
  if (ch < 0) {
    if (!g_denied_logged) {
      g_denied_logged = true;
      keel_log("keel_random: denied: this component has no rpc channel to 'rng' (the manifest's grant of randomness)");
    }
    wipe(buf, n);
    return KEEL_DENIED;
  }
  uint8_t* out = static_cast<uint8_t*>(buf);
  const uint64_t deadline = keel_now_ticks() + keel_ms_to_ticks(kWaitMs);
  for (size_t done = 0; done < n;) {
    const size_t chunk = n - done < KEEL_RNG_SERVICE_MAX_BYTES ? n - done : KEEL_RNG_SERVICE_MAX_BYTES;
    const keel_error_t st = request(ch, out + done, chunk);
    if (st == KEEL_OK) {
      done += chunk;
      continue;
    }
    // A restarting service (CHANNEL_DOWN: libkeel opens the channel again on the next call) or one
    // not seeded yet: wait a little and ask again, up to the deadline.
    if (wait && (st == KEEL_CHANNEL_DOWN || st == KEEL_NOT_READY) && keel_now_ticks() < deadline) {
      (void)keel_sleep_ms(1);
      continue;
    }
    wipe(buf, n);
    return st;
  }
  return KEEL_OK;
}

}  // namespace

extern "C" {

keel_error_t keel_random(void* buf, size_t n) { return fill(buf, n, true); }
keel_error_t keel_random_try(void* buf, size_t n) { return fill(buf, n, false); }

}  // extern "C"

// keel_keys_* (keel.h "Keys"): the device's keys used through the keystore (keel/sys/keystore_service.h),
// over the component's rpc channel to `keystore`; what it may do is its manifest grant
// ([component.keys]). Without that channel: KEEL_DENIED, logged once by this component.
#include <string.h>

#include "keel/keel.h"
#include "keel/sys/keystore_service.h"
#include "keel_internal.h"

namespace {

constexpr keel_channel_t kUnknown = -2;
constexpr uint64_t kWaitMs = 15000;  // for a keystore that is starting, restarting or loading its keys
keel_channel_t g_keys = kUnknown;
bool g_denied_logged = false;

keel_channel_t find_keystore() {
  if (g_keys != kUnknown) return g_keys;
  g_keys = -1;
  const keel_info_t* info = keel_info();
  if (info == nullptr) return -1;
  for (uint32_t i = 0; i < info->channel_count; ++i) {
    const keel_info_channel_t* c = keel_channel_info(static_cast<keel_channel_t>(i));
    if (c != nullptr && c->kind == KEEL_CHANNEL_RPC && c->role == KEEL_ROLE_FROM &&
        strcmp(keel_info_string(info, c->peer), "keystore") == 0) {
      g_keys = static_cast<keel_channel_t>(i);
      break;
    }
  }
  return g_keys;
}

void wipe(void* p, size_t n) {
  volatile uint8_t* b = static_cast<volatile uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) b[i] = 0;
}

// One call.
keel_error_t call(keel_msg_t* m) {
  const keel_channel_t ch = find_keystore();
  if (ch < 0) {
    if (!g_denied_logged) {
      g_denied_logged = true;
      keel_log("keel_keys: denied: this component has no rpc channel to 'keystore' (the manifest's [component.keys])");
    }
    return KEEL_DENIED;
  }
  // A keystore that is starting (it waits for the rng) or restarting answers CHANNEL_DOWN until it
  // serves, and NOT_READY while it waits for the store to read its keys from: ask again, 1 ms
  // apart, for up to kWaitMs.
  keel_msg_t saved = *m;
  const uint64_t deadline = keel_now_ticks() + keel_ms_to_ticks(kWaitMs);
  keel_error_t st = keel_rpc_call(ch, m);
  if (st == KEEL_OK) st = keel_error_from_label(m->label);
  while ((st == KEEL_CHANNEL_DOWN || st == KEEL_NOT_READY) && keel_now_ticks() < deadline) {
    (void)keel_sleep_ms(1);
    *m = saved;
    st = keel_rpc_call(ch, m);
    if (st == KEEL_OK) st = keel_error_from_label(m->label);
  }
  wipe(&saved, sizeof saved);
  return st;
}

// Bytes in and out of little-endian words (the protocol's order; aarch64 is little-endian).
void put(keel_msg_t* m, uint32_t at, const void* bytes, size_t n) {
  uint64_t* w = &m->w[at];
  const uint32_t words = static_cast<uint32_t>((n + 7) / 8);
  if (words != 0) w[words - 1] = 0;
  memcpy(w, bytes, n);
  m->len = at + words;
}

}  // namespace

extern "C" {

keel_error_t keel_keys_public(keel_public_keys_t* out) {
  if (out == nullptr) return KEEL_INVALID_ARGUMENT;
  keel_msg_t m;
  m.label = KEEL_KEYS_PUBLIC;
  m.len = 0;
  keel_error_t st = call(&m);
  if (st == KEEL_OK && m.len != 9) st = KEEL_PROTOCOL_ERROR;
  if (st != KEEL_OK) return st;
  memcpy(out->tunnel_x25519, &m.w[0], 32);
  memcpy(out->identity_ed25519, &m.w[4], 32);
  out->trust_keys = static_cast<uint32_t>(m.w[8]);
  return KEEL_OK;
}

keel_error_t keel_keys_dh(const uint8_t peer_public[32], uint8_t shared[32]) {
  if (peer_public == nullptr || shared == nullptr) return KEEL_INVALID_ARGUMENT;
  keel_msg_t m;
  m.label = KEEL_KEYS_DH;
  put(&m, 0, peer_public, 32);
  keel_error_t st = call(&m);
  if (st == KEEL_OK && m.len != 4) st = KEEL_PROTOCOL_ERROR;
  if (st == KEEL_OK) memcpy(shared, m.w, 32);
  wipe(m.w, 32);
  return st;
}

keel_error_t keel_keys_sign(const void* message, size_t n, uint8_t signature[64]) {
  if ((message == nullptr && n != 0) || signature == nullptr) return KEEL_INVALID_ARGUMENT;
  if (n > KEEL_KEYS_MAX_SIGN_BYTES) return KEEL_RANGE_ERROR;
  keel_msg_t m;
  m.label = KEEL_KEYS_SIGN;
  m.w[0] = n;
  m.len = 1;
  if (n != 0) put(&m, 1, message, n);
  keel_error_t st = call(&m);
  if (st == KEEL_OK && m.len != 8) st = KEEL_PROTOCOL_ERROR;
  if (st == KEEL_OK) memcpy(signature, m.w, 64);
  return st;
}

keel_error_t keel_keys_trust(uint32_t index, uint8_t key[32], char* name, size_t name_cap) {
  if (key == nullptr || (name == nullptr && name_cap != 0)) return KEEL_INVALID_ARGUMENT;
  keel_msg_t m;
  m.label = KEEL_KEYS_TRUST;
  m.w[0] = index;
  m.len = 1;
  keel_error_t st = call(&m);
  if (st != KEEL_OK) return st;
  const uint64_t n = m.len >= 5 ? m.w[4] : ~0ull;
  if (n > KEEL_KEYS_MAX_NAME_BYTES || m.len != 5 + (n + 7) / 8) return KEEL_PROTOCOL_ERROR;
  memcpy(key, m.w, 32);
  if (name_cap != 0) {
    const size_t c = n < name_cap - 1 ? n : name_cap - 1;
    memcpy(name, &m.w[5], c);
    name[c] = '\0';
  }
  return KEEL_OK;
}

keel_error_t keel_keys_partition_key(const char* partition, uint8_t key[32]) {
  if (partition == nullptr || key == nullptr) return KEEL_INVALID_ARGUMENT;
  const size_t n = strlen(partition);
  if (n == 0 || n > KEEL_KEYS_MAX_NAME_BYTES) return KEEL_RANGE_ERROR;
  keel_msg_t m;
  m.label = KEEL_KEYS_PARTITION_KEY;
  m.w[0] = n;
  put(&m, 1, partition, n);
  keel_error_t st = call(&m);
  if (st == KEEL_OK && m.len != 4) st = KEEL_PROTOCOL_ERROR;
  if (st == KEEL_OK) memcpy(key, m.w, 32);
  wipe(m.w, 32);
  return st;
}

}  // extern "C"

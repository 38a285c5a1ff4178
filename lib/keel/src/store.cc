// Storage through the store service (keel.h "storage"; the contract: keel/sys/store_service.h).
// Control by rpc on the component's channel to `store`; data through the region store_<name>, one
// copy on this side (into or out of the region). A call that meets CHANNEL_DOWN (the store is
// restarting) is retried: requests are idempotent (a record write done twice writes the same value
// twice), and the region outlives the store's restarts.
#include <string.h>

#include "keel/keel.h"
#include "keel/sys/store_service.h"
#include "keel/error.h"
#include "keel_internal.h"

namespace {

constexpr uint64_t kRetryMs = 10, kRetryForMs = 10000;

struct Store {
  bool found = false;
  keel_channel_t ctl = -1;
  uint8_t* region = nullptr;
  size_t region_blocks = 0;
};
Store g_store;

bool find_store() {
  if (g_store.found) return true;
  const keel_info_t* info = keel_info();
  if (info == nullptr) return false;
  for (uint32_t i = 0; i < info->channel_count; ++i) {
    const keel_info_channel_t* c = keel_channel_info(static_cast<keel_channel_t>(i));
    if (c == nullptr || c->kind != KEEL_CHANNEL_RPC || c->role != KEEL_ROLE_FROM) continue;
    if (strcmp(keel_info_string(info, c->peer), "store") == 0) g_store.ctl = static_cast<keel_channel_t>(i);
  }
  if (g_store.ctl < 0) return false;
  char name[96];
  keel_snprintf(name, sizeof name, "%s%s", KEEL_STORE_REGION_PREFIX, keel_name());
  size_t size = 0;
  g_store.region = static_cast<uint8_t*>(keel_region(name, &size));
  g_store.region_blocks = g_store.region == nullptr ? 0 : size / KEEL_STORE_BLOCK_BYTES;
  if (g_store.region_blocks > KEEL_STORE_MAX_BLOCKS) g_store.region_blocks = KEEL_STORE_MAX_BLOCKS;
  g_store.found = true;
  return true;
}

// One request, retried across a store restart. The message is rebuilt from `req` at each try (a
// reply overwrites it).
keel_error_t call(const keel_msg_t& req, keel_msg_t* out) {
  if (!find_store()) return KEEL_NOT_FOUND;
  const uint64_t deadline = keel_now_ticks() + keel_ms_to_ticks(kRetryForMs);
  for (;;) {
    *out = req;
    const keel_error_t st = keel_rpc_call(g_store.ctl, out);
    if (st == KEEL_OK && out->label != KEEL_CHANNEL_DOWN) return keel::error_from_label(out->label);
    if (st != KEEL_OK && st != KEEL_CHANNEL_DOWN) return st;
    if (keel_now_ticks() > deadline) return KEEL_CHANNEL_DOWN;
    (void)keel_sleep_ms(kRetryMs);
  }
}

keel_msg_t request(uint64_t label, uint32_t len, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0) {
  keel_msg_t m{};
  m.label = label;
  m.len = len;
  m.w[0] = a;
  m.w[1] = b;
  m.w[2] = c;
  return m;
}

keel_error_t need_region() {
  if (!find_store()) return KEEL_NOT_FOUND;
  return g_store.region_blocks == 0 ? KEEL_INVALID_ARGUMENT : KEEL_OK;
}

}  // namespace

extern "C" {

keel_error_t keel_store_open(const char* partition, keel_partition_t* p) {
  if (partition == nullptr || p == nullptr) return KEEL_INVALID_ARGUMENT;
  const size_t n = strlen(partition);
  if (n == 0 || n > KEEL_STORE_MAX_NAME) return KEEL_INVALID_ARGUMENT;
  keel_msg_t req{};
  req.label = KEEL_STORE_OPEN;
  req.w[0] = n;
  for (size_t i = 0; i < n; ++i) req.w[1 + i / 8] |= static_cast<uint64_t>(static_cast<uint8_t>(partition[i])) << (8 * (i % 8));
  req.len = static_cast<uint32_t>(1 + (n + 7) / 8);
  keel_msg_t m;
  const keel_error_t e = call(req, &m);
  if (e != KEEL_OK) return e;
  *p = static_cast<keel_partition_t>(m.w[0]);
  return KEEL_OK;
}

keel_error_t keel_store_info(keel_partition_t p, keel_store_info_t* info) {
  if (p < 0 || info == nullptr) return KEEL_INVALID_ARGUMENT;
  keel_msg_t m;
  const keel_error_t e = call(request(KEEL_STORE_INFO, 1, static_cast<uint64_t>(p)), &m);
  if (e != KEEL_OK) return e;
  info->blocks = m.w[1];
  info->flags = static_cast<uint32_t>(m.w[2]);
  info->region_blocks = static_cast<uint32_t>(m.w[3]);
  return KEEL_OK;
}

keel_error_t keel_store_read(keel_partition_t p, uint64_t block, void* buf, size_t n) {
  if (p < 0 || (buf == nullptr && n != 0)) return KEEL_INVALID_ARGUMENT;
  if (const keel_error_t e = need_region(); e != KEEL_OK) return e;
  auto* out = static_cast<uint8_t*>(buf);
  while (n > 0) {
    const size_t k = n < g_store.region_blocks ? n : g_store.region_blocks;
    keel_msg_t m;
    const keel_error_t e = call(request(KEEL_STORE_READ, 3, static_cast<uint64_t>(p), block, k), &m);
    if (e != KEEL_OK) return e;
    memcpy(out, g_store.region, k * KEEL_STORE_BLOCK_BYTES);
    out += k * KEEL_STORE_BLOCK_BYTES;
    block += k;
    n -= k;
  }
  return KEEL_OK;
}

keel_error_t keel_store_write(keel_partition_t p, uint64_t block, const void* buf, size_t n) {
  if (p < 0 || (buf == nullptr && n != 0)) return KEEL_INVALID_ARGUMENT;
  if (const keel_error_t e = need_region(); e != KEEL_OK) return e;
  const auto* in = static_cast<const uint8_t*>(buf);
  while (n > 0) {
    const size_t k = n < g_store.region_blocks ? n : g_store.region_blocks;
    memcpy(g_store.region, in, k * KEEL_STORE_BLOCK_BYTES);
    keel_msg_t m;
    const keel_error_t e = call(request(KEEL_STORE_WRITE, 3, static_cast<uint64_t>(p), block, k), &m);
    if (e != KEEL_OK) return e;
    in += k * KEEL_STORE_BLOCK_BYTES;
    block += k;
    n -= k;
  }
  return KEEL_OK;
}

keel_error_t keel_store_flush(keel_partition_t p) {
  if (p < 0) return KEEL_INVALID_ARGUMENT;
  keel_msg_t m;
  return call(request(KEEL_STORE_FLUSH, 1, static_cast<uint64_t>(p)), &m);
}

keel_error_t keel_record_read(keel_partition_t p, uint32_t id, void* buf, size_t cap, size_t* len) {
  if (p < 0 || len == nullptr || (buf == nullptr && cap != 0)) return KEEL_INVALID_ARGUMENT;
  if (const keel_error_t e = need_region(); e != KEEL_OK) return e;
  keel_msg_t m;
  const keel_error_t e = call(request(KEEL_RECORD_READ, 2, static_cast<uint64_t>(p), id), &m);
  if (e != KEEL_OK) return e;
  const size_t n = m.w[0] <= KEEL_STORE_MAX_RECORD ? static_cast<size_t>(m.w[0]) : KEEL_STORE_MAX_RECORD;
  *len = n;
  if (n > cap) return KEEL_RANGE_ERROR;
  memcpy(buf, g_store.region, n);
  return KEEL_OK;
}

keel_error_t keel_record_write(keel_partition_t p, uint32_t id, const void* data, size_t len) {
  if (p < 0 || (data == nullptr && len != 0)) return KEEL_INVALID_ARGUMENT;
  if (len > KEEL_STORE_MAX_RECORD) return KEEL_RANGE_ERROR;
  if (const keel_error_t e = need_region(); e != KEEL_OK) return e;
  memcpy(g_store.region, data, len);
  keel_msg_t m;
  return call(request(KEEL_RECORD_WRITE, 3, static_cast<uint64_t>(p), id, len), &m);
}

}  // extern "C"

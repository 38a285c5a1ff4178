/* The pure part of libkeel (keel/info.h): info page checks and lookups, name packing, stream ring
 * arithmetic. No syscalls and no C library beyond the freestanding headers, so the same file is
 * built into libkeel (aarch64) and into the host unit test. C-style on purpose: it mirrors the
 * C header and must not depend on a C++ runtime. */
#include "keel/error.h"
#include "keel/info.h"

namespace {

size_t cstr_len(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

bool str_ok(const keel_info_t* info, keel_info_str_t s) {
  const char* base = reinterpret_cast<const char*>(info);
  /* off + len + 1 (the NUL) must lie inside the used area; no NUL inside the string. */
  if ((uint64_t)s.off + s.len + 1u > info->size) return false;
  if (base[s.off + s.len] != '\0') return false;
  for (uint32_t i = 0; i < s.len; ++i) {
    if (base[s.off + i] == '\0') return false;
  }
  return true;
}

bool array_ok(const keel_info_t* info, uint32_t off, uint32_t count, size_t elem) {
  if (count == 0) return true;
  if (off % 8u != 0 || off < sizeof(keel_info_t)) return false;
  return (uint64_t)off + (uint64_t)count * elem <= info->size;
}

}  // namespace

extern "C" {

#define FAIL(msg)           \
  do {                      \
    if (why) *why = (msg);  \
    return KEEL_INVALID_ARGUMENT;  \
  } while (0)

keel_error_t keel_error_from_label(uint64_t label) { return keel::error_from_label(label); }

keel_error_t keel_info_check(const keel_info_t* info, size_t mapped, const char** why) {
  if (why) *why = "ok";
  if (info == nullptr || mapped < sizeof(keel_info_t)) FAIL("info page missing or too small");
  if (info->magic != KEEL_INFO_MAGIC) FAIL("bad magic");
  if (info->version != KEEL_INFO_VERSION) FAIL("unsupported version");
  if (info->size < sizeof(keel_info_t) || info->size > mapped || info->size > KEEL_INFO_MAX_BYTES)
    FAIL("size out of range");
  if (info->component_count == 0 || info->component_count > KEEL_MAX_COMPONENTS ||
      info->index >= info->component_count)
    FAIL("component index out of range");
  if (info->channel_count > KEEL_MAX_CHANNEL_ENDS) FAIL("too many channels");
  if (info->irq_count > KEEL_MAX_IRQS) FAIL("too many irqs");
  if (!array_ok(info, info->channels_off, info->channel_count, sizeof(keel_info_channel_t)))
    FAIL("channel array out of bounds");
  if (!array_ok(info, info->devices_off, info->device_count, sizeof(keel_info_device_t)))
    FAIL("device array out of bounds");
  if (!array_ok(info, info->irqs_off, info->irq_count, sizeof(keel_info_irq_t))) FAIL("irq array out of bounds");
  if (!array_ok(info, info->regions_off, info->region_count, sizeof(keel_info_region_t)))
    FAIL("region array out of bounds");
  if (!array_ok(info, info->config_off, info->config_count, sizeof(keel_info_config_t)))
    FAIL("config array out of bounds");
  if (!str_ok(info, info->name) || info->name.len == 0) FAIL("bad component name");
  if (!str_ok(info, info->system)) FAIL("bad system name");

  const keel_info_channel_t* ch = keel_info_channels(info);
  for (uint32_t i = 0; i < info->channel_count; ++i) {
    if (!str_ok(info, ch[i].name) || !str_ok(info, ch[i].end) || !str_ok(info, ch[i].peer))
      FAIL("bad channel string");
    if (ch[i].kind > KEEL_CHANNEL_STREAM || ch[i].role > KEEL_ROLE_TO) FAIL("bad channel kind or role");
    if (ch[i].slot >= (1u << KEEL_COMPONENT_CNODE_BITS)) FAIL("channel slot out of range");
    if (ch[i].peer_index >= info->component_count) FAIL("channel peer out of range");
    if (ch[i].kind == KEEL_CHANNEL_STREAM &&
        (ch[i].size == 0 || (ch[i].size & (ch[i].size - 1u)) != 0 || ch[i].vaddr == 0))
      FAIL("bad stream ring");
  }
  const keel_info_device_t* dev = keel_info_devices(info);
  for (uint32_t i = 0; i < info->device_count; ++i) {
    if (!str_ok(info, dev[i].name)) FAIL("bad device name");
  }
  const keel_info_irq_t* irq = keel_info_irqs(info);
  for (uint32_t i = 0; i < info->irq_count; ++i) {
    if (!str_ok(info, irq[i].name)) FAIL("bad irq name");
    if (irq[i].slot >= (1u << KEEL_COMPONENT_CNODE_BITS)) FAIL("irq slot out of range");
  }
  const keel_info_region_t* reg = keel_info_regions(info);
  for (uint32_t i = 0; i < info->region_count; ++i) {
    if (!str_ok(info, reg[i].name)) FAIL("bad region name");
    if ((reg[i].perms & ~3u) != 0 || (reg[i].perms == 0 && reg[i].vaddr != 0)) FAIL("bad region perms");
    if ((reg[i].paddr & 4095u) != 0) FAIL("bad region paddr");
  }
  const keel_info_config_t* cfg = keel_info_configs(info);
  for (uint32_t i = 0; i < info->config_count; ++i) {
    if (!str_ok(info, cfg[i].key)) FAIL("bad config key");
    if (cfg[i].type > KEEL_CONFIG_STRING) FAIL("bad config type");
    if (cfg[i].type == KEEL_CONFIG_STRING && !str_ok(info, cfg[i].str_value)) FAIL("bad config string");
  }
  return KEEL_OK;
}
#undef FAIL

const char* keel_info_string(const keel_info_t* info, keel_info_str_t s) { return reinterpret_cast<const char*>(info) + s.off; }

bool keel_info_str_eq(const keel_info_t* info, keel_info_str_t s, const char* name, size_t len) {
  if (s.len != len) return false;
  const char* p = keel_info_string(info, s);
  for (size_t i = 0; i < len; ++i) {
    if (p[i] != name[i]) return false;
  }
  return true;
}

#define ARRAY(type, off) reinterpret_cast<const type*>(reinterpret_cast<const char*>(info) + (off))
const keel_info_channel_t* keel_info_channels(const keel_info_t* info) {
  return ARRAY(keel_info_channel_t, info->channels_off);
}
const keel_info_device_t* keel_info_devices(const keel_info_t* info) {
  return ARRAY(keel_info_device_t, info->devices_off);
}
const keel_info_irq_t* keel_info_irqs(const keel_info_t* info) { return ARRAY(keel_info_irq_t, info->irqs_off); }
const keel_info_region_t* keel_info_regions(const keel_info_t* info) {
  return ARRAY(keel_info_region_t, info->regions_off);
}
const keel_info_config_t* keel_info_configs(const keel_info_t* info) {
  return ARRAY(keel_info_config_t, info->config_off);
}
#undef ARRAY

int keel_info_find_channel(const keel_info_t* info, const char* name) {
  if (name == nullptr) return -1;
  size_t len = cstr_len(name);
  const keel_info_channel_t* ch = keel_info_channels(info);
  for (uint32_t i = 0; i < info->channel_count; ++i) {
    if (keel_info_str_eq(info, ch[i].name, name, len)) return int(i);
  }
  for (uint32_t i = 0; i < info->channel_count; ++i) {
    if (keel_info_str_eq(info, ch[i].end, name, len)) return int(i);
  }
  return -1;
}

#define FIND(fn, type, arr, count, field)                                         \
  int fn(const keel_info_t* info, const char* name) {                             \
    if (name == nullptr) return -1;                                                  \
    size_t len = cstr_len(name);                                                  \
    const type* a = arr(info);                                                    \
    for (uint32_t i = 0; i < info->count; ++i) {                                  \
      if (keel_info_str_eq(info, a[i].field, name, len)) return int(i);           \
    }                                                                             \
    return -1;                                                                    \
  }
FIND(keel_info_find_device, keel_info_device_t, keel_info_devices, device_count, name)
FIND(keel_info_find_region, keel_info_region_t, keel_info_regions, region_count, name)
FIND(keel_info_find_config, keel_info_config_t, keel_info_configs, config_count, key)
FIND(keel_info_find_irq, keel_info_irq_t, keel_info_irqs, irq_count, name)
#undef FIND

size_t keel_name_pack(const char* name, size_t len, uint64_t* mrs, size_t max_mrs) {
  size_t n = (len + 7u) / 8u;
  if (len == 0 || n > max_mrs) return 0;
  for (size_t i = 0; i < n; ++i) mrs[i] = 0;
  for (size_t i = 0; i < len; ++i) mrs[i / 8u] |= (uint64_t)(uint8_t)name[i] << (8u * (i % 8u));
  return n;
}

bool keel_name_unpack(const uint64_t* mrs, size_t n_mrs, uint64_t len, char* buf, size_t cap) {
  if (cap == 0) return false;
  buf[0] = '\0';
  if (len > (uint64_t)n_mrs * 8u || len + 1u > cap) return false;
  for (uint64_t i = 0; i < len; ++i) buf[i] = (char)(uint8_t)(mrs[i / 8u] >> (8u * (i % 8u)));
  buf[len] = '\0';
  return true;
}

bool keel_ring_sane(uint64_t head, uint64_t tail, uint64_t size) {
  if (size == 0 || (size & (size - 1u)) != 0) return false;
  return head - tail <= size; /* unsigned: also catches tail ahead of head */
}

uint64_t keel_ring_used(uint64_t head, uint64_t tail) { return head - tail; }

uint64_t keel_ring_free(uint64_t head, uint64_t tail, uint64_t size) { return size - (head - tail); }

void keel_ring_copy_in(uint8_t* data, uint64_t size, uint64_t pos, const void* src, size_t n) {
  const uint8_t* s = static_cast<const uint8_t*>(src);
  uint64_t at = pos & (size - 1u);
  size_t first = (size_t)(size - at) < n ? (size_t)(size - at) : n;
  for (size_t i = 0; i < first; ++i) data[at + i] = s[i];
  for (size_t i = first; i < n; ++i) data[i - first] = s[i];
}

void keel_ring_copy_out(const uint8_t* data, uint64_t size, uint64_t pos, void* dst, size_t n) {
  uint8_t* d = static_cast<uint8_t*>(dst);
  uint64_t at = pos & (size - 1u);
  size_t first = (size_t)(size - at) < n ? (size_t)(size - at) : n;
  for (size_t i = 0; i < first; ++i) d[i] = data[at + i];
  for (size_t i = first; i < n; ++i) d[i] = data[i - first];
}

}  // extern "C"

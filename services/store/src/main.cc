// keel-store — the store service (component `store`; docs/device-services.md "Store"). It owns the
// disk, through the virtio-blk driver's queue (disk.h), and serves the manifest's partitions to the
// components granted them ([component.storage]), over an rpc channel per client with the data in a
// [[shared]] region per client (keel/sys/store_service.h: why a region). Single-threaded, one
// request at a time, each bounded (at most KEEL_STORE_MAX_BLOCKS blocks, one record), so a client
// waits at most for one request of each client before it (docs/device-services.md "Store": fairness).
//
// Start: the config (part.* / grant.*, written by the manifest compiler) through load_config; the
// header record and plan_layout (new partitions erased, changed ones not served); a Volume per
// encrypted partition (its key: key_source.cc), a Window per plain one; then requests, each
// behind Policy::check. Denials and authentication failures are logged with the partition's name,
// at most kLogLinesPerSecond lines per client per second (the rest counted).
//
// Test hook (crash tests, tests/os/store): config `fault_after_requests = N` (default 0: off) makes
// the service fault deliberately (a write to 0xdead0000) when it has served N client requests, in
// its first run only (generation 0). Never set it in a product.
#include <cstring>
#include <new>

#include "disk.h"
#include "keel/keel.h"
#include "keel/sys/fatal.hh"
#include "keel/store/config_text.h"
#include "keel/store/crypt.h"
#include "keel/store/header.h"
#include "keel/store/policy.h"
#include "keel/store/record.h"
#include "keel/sys/fair.hh"
#include "keel/sys/store_service.h"
#include "key_source.h"
#include "sodium_api.h"

namespace {

using namespace keel::store;
using keel::Err;
using keel::Ok;
using keel::Result;

constexpr std::uint32_t kLogLinesPerSecond = 8;
constexpr std::size_t kMaxConfig = 64;
// Session tables (crypt.h: rollback detection within a boot), 4 bytes per encrypted block: 64K
// entries cover 64 MiB of encrypted partitions; a partition beyond that is served without
// in-session rollback detection (said at start).
constexpr std::size_t kSessionEntries = 16384;

struct Client {
  std::uint32_t component = 0;
  const char* name = "";
  keel_channel_t ctl = -1;
  std::uint8_t* region = nullptr;  // store_<name>
  std::size_t region_blocks = 0;
  std::uint64_t requests = 0;
};

struct Served {
  BlockDevice* dev = nullptr;  // the Window or the Volume; nullptr: not served
  Volume* volume = nullptr;
  PartitionPlan plan = PartitionPlan::kServe;
  const char* why = "";  // when not served
};

QueueDisk g_disk;
StoreConfig g_config;
Policy g_policy;
Client g_clients[kMaxClients];
std::uint32_t g_client_count = 0;
Served g_served[kMaxPartitions];
alignas(Window) std::uint8_t g_window_mem[kMaxPartitions][sizeof(Window)];
alignas(Volume) std::uint8_t g_volume_mem[kMaxPartitions][sizeof(Volume)];
VolumeWorkspace g_vws;
RecordWorkspace g_rws;
std::uint32_t g_session[kSessionEntries];
alignas(16) std::uint8_t g_buf[KEEL_STORE_MAX_BLOCKS][kBlockSize];  // a request's data, ours
alignas(16) const std::uint8_t g_zero[kBlockSize] = {};
keel::sys::LogLimit g_log;
std::uint64_t g_log_window = 0;
std::uint64_t g_served_requests = 0;
std::uint64_t g_fault_after = 0;
char g_names[kMaxPartitions][kMaxPartitionName + 1];

using keel::sys::fail;

bool log_for(std::uint32_t component) {
  const std::uint64_t now = keel_now_ticks();
  if (now - g_log_window >= keel_ticks_per_second()) {
    g_log_window = now;
    g_log.roll([](std::uint32_t c, std::uint32_t n) {
      for (std::uint32_t i = 0; i < g_client_count; ++i)
        if (g_clients[i].component == c) keel_logf("%s: %u more lines suppressed", g_clients[i].name, n);
    });
  }
  return g_log.allow(component);
}

// ---- set-up ------------------------------------------------------------------------------------

// Clients: every component with an rpc channel to us; its data region is store_<component>.
void find_clients() {
  const keel_info_t* info = keel_info();
  for (std::uint32_t i = 0; i < info->channel_count; ++i) {
    const keel_info_channel_t* ch = keel_channel_info(static_cast<keel_channel_t>(i));
    if (ch == nullptr || ch->kind != KEEL_CHANNEL_RPC || ch->role != KEEL_ROLE_TO) continue;
    if (g_client_count == kMaxClients) fail("more components with a channel to the store than the limit (16)");
    Client& c = g_clients[g_client_count++];
    c.component = ch->peer_index;
    c.name = keel_info_string(info, ch->peer);
    c.ctl = static_cast<keel_channel_t>(i);
    char region[80];
    keel_snprintf(region, sizeof region, "%s%s", KEEL_STORE_REGION_PREFIX, c.name);
    std::size_t size = 0;
    c.region = static_cast<std::uint8_t*>(keel_region(region, &size));
    c.region_blocks = c.region == nullptr ? 0 : size / kBlockSize;
    if (c.region_blocks > KEEL_STORE_MAX_BLOCKS) c.region_blocks = KEEL_STORE_MAX_BLOCKS;
    if (c.region_blocks == 0)
      keel_logf("%s has an rpc channel to the store but no region %s of 4 KiB or more: its data requests are refused",
                c.name, region);
  }
}

std::uint32_t component_index(void*, std::string_view name) {
  for (std::uint32_t i = 0; i < g_client_count; ++i)
    if (name == g_clients[i].name) return g_clients[i].component;
  return ~0u;
}

void load() {
  static ConfigEntry entries[kMaxConfig];
  std::size_t n = 0;
  const keel_info_t* info = keel_info();
  const keel_info_config_t* cfg = keel_info_configs(info);
  for (std::uint32_t k = 0; k < info->config_count; ++k) {
    if (cfg[k].type != KEEL_CONFIG_STRING) continue;
    if (n == kMaxConfig) fail("more than 64 string config keys");
    entries[n++] = ConfigEntry{keel_info_string(info, cfg[k].key), keel_info_string(info, cfg[k].str_value)};
  }
  auto r = load_config(std::span<const ConfigEntry>(entries, n), ComponentLookup{component_index, nullptr},
                       g_disk.blocks(), &g_config);
  if (!r.ok()) {
    char why[200];
    describe(r.error(), why, sizeof why);
    fail(why);
  }
  g_policy = Policy(g_config.partitions(), g_config.clients());
}

// The header record and plan_layout (header.h): new partitions erased, changed ones held back.
void plan() {
  Window reserved(g_disk, 0, kReservedBlocks);
  static std::uint8_t payload[kMaxRecordPayload];
  static Header old, next;
  old = Header{};
  auto r = read_record(reserved, kHeaderRecord, g_rws, payload);
  if (r.ok()) {
    auto p = parse_header(std::span<const std::uint8_t>(payload, r.value().length), &old);
    if (!p.ok()) fail("the disk's header record does not parse (not a Keel store disk?)", p.error().what);
  } else if (r.error() != KEEL_NOT_FOUND) {
    fail("cannot read the header record", keel_error_name(r.error()));
  }
  PartitionPlan plans[kMaxPartitions];
  plan_layout(old, g_config.partitions(), std::span<PartitionPlan>(plans, g_config.part_count), &next);
  unsigned erased = 0;
  for (std::size_t i = 0; i < g_config.part_count; ++i) {
    g_served[i].plan = plans[i];
    const Partition& p = g_config.parts[i];
    if (plans[i] == PartitionPlan::kPrepare) {
      if (auto e = erase_partition(g_disk, p, g_zero); !e.ok()) fail("erasing a new partition", keel_error_name(e.error()));
      ++erased;
    } else if (plans[i] != PartitionPlan::kServe) {
      keel_logf("partition '%.*s': %s: not served (reformatting it is an explicit operation)",
                static_cast<int>(p.name.size()), p.name.data(), plan_name(plans[i]));
      g_served[i].why = "its layout changed";
    }
  }
  const std::size_t len = format_header(next, payload, sizeof payload);
  if (len == 0) fail("the header record does not fit a record");
  if (auto w = write_record(reserved, kHeaderRecord, g_rws, std::span<const std::uint8_t>(payload, len)); !w.ok())
    fail("cannot write the header record", keel_error_name(w.error()));
  if (erased != 0) keel_logf("%u new partition(s) erased", erased);
}

void open_partitions() {
  std::size_t session_used = 0;
  for (std::size_t i = 0; i < g_config.part_count; ++i) {
    const Partition& p = g_config.parts[i];
    std::memcpy(g_names[i], p.name.data(), p.name.size());
    g_names[i][p.name.size()] = '\0';
    Served& s = g_served[i];
    keel_logf("partition '%s': %s, %lu blocks at disk block %lu (%lu on disk)", g_names[i],
              p.encrypted ? "encrypted" : "plain", static_cast<unsigned long>(p.blocks),
              static_cast<unsigned long>(p.start), static_cast<unsigned long>(physical_blocks(p)));
    if (s.plan != PartitionPlan::kServe && s.plan != PartitionPlan::kPrepare) continue;
    if (!p.encrypted) {
      s.dev = new (g_window_mem[i]) Window(g_disk, p.start, p.blocks);
      continue;
    }
    PartitionKey key;
    const keel_error_t e = partition_key(g_names[i], &key);
    if (e != KEEL_OK) {
      keel_logf("partition '%s': no key (%s): not served", g_names[i], keel_error_name(e));
      s.why = "no key";
      continue;
    }
    std::span<std::uint32_t> session;
    if (kSessionEntries - session_used >= p.blocks) {
      session = std::span<std::uint32_t>(g_session + session_used, p.blocks);
      session_used += p.blocks;
    } else {
      keel_logf("partition '%s': no room in the session table: served without in-session rollback detection",
                g_names[i]);
    }
    s.volume = new (g_volume_mem[i]) Volume(g_disk, p, key, nonce_source(), session, g_vws);
    s.dev = s.volume;
    sodium_memzero(key.bytes, sizeof key.bytes);
  }
}

// ---- requests ----------------------------------------------------------------------------------

Client* client_of(keel_channel_t ch) {
  for (std::uint32_t i = 0; i < g_client_count; ++i)
    if (g_clients[i].ctl == ch) return &g_clients[i];
  return nullptr;
}

std::uint64_t info_flags(const Client& c, std::size_t index) {
  const std::uint8_t a = g_policy.granted(c.component, index);
  return (g_config.parts[index].encrypted ? KEEL_STORE_INFO_ENCRYPTED : 0u) | ((a & kRead) ? KEEL_STORE_INFO_READ : 0u) |
         ((a & kWrite) ? KEEL_STORE_INFO_WRITE : 0u) | (g_served[index].dev != nullptr ? KEEL_STORE_INFO_SERVED : 0u);
}

// The grant check: KEEL_DENIED logged (rate-limited) with the partition's name.
keel_error_t allowed(const Client& c, std::size_t index, std::uint8_t want) {
  auto r = g_policy.check(c.component, index, want);
  if (r.ok()) return KEEL_OK;
  if (log_for(c.component)) {
    // describe_denial with the client's own name (a client without a grant has none in the policy).
    char line[160];
    const std::size_t n = describe_denial(c.name, g_config.parts[index].name, want,
                                          g_policy.granted(c.component, index), line, sizeof line);
    const char* text = line;
    if (n > 7 && std::strncmp(line, "store: ", 7) == 0) text += 7;  // the console prefixes [store]
    keel_log(text);
  }
  return r.error();
}

// An error from the logic, logged when it says something about the disk (authentication, I/O).
keel_error_t report(const Client& c, std::size_t index, const Served& s, keel_error_t e, const char* what,
                    std::uint64_t block) {
  if (e == KEEL_CORRUPT && s.volume != nullptr) {
    if (log_for(c.component))
      keel_logf("partition '%s' block %lu: %s by %s refused: %s", g_names[index],
                static_cast<unsigned long>(s.volume->last_fault_block()), what, c.name, fault_name(s.volume->last_fault()));
  } else if (e == KEEL_CORRUPT) {
    if (log_for(c.component))
      keel_logf("partition '%s' block %lu: %s by %s refused: no valid copy", g_names[index],
                static_cast<unsigned long>(block), what, c.name);
  } else if (e != KEEL_RANGE_ERROR && e != KEEL_NOT_FOUND && log_for(c.component)) {
    keel_logf("partition '%s': %s for %s failed: %s", g_names[index], what, c.name, keel_error_name(e));
  }
  return e;
}

keel_error_t partition_arg(const keel_msg_t* m, std::size_t* index) {
  if (m->len < 1 || m->w[0] >= g_config.part_count) return KEEL_NOT_FOUND;
  *index = static_cast<std::size_t>(m->w[0]);
  return KEEL_OK;
}

keel_error_t serve_open(Client& c, keel_msg_t* m, bool by_name) {
  std::size_t index = 0;
  if (by_name) {
    if (m->len < 1 || m->w[0] == 0 || m->w[0] > KEEL_STORE_MAX_NAME || m->len < 1 + (m->w[0] + 7) / 8)
      return KEEL_INVALID_ARGUMENT;
    char name[KEEL_STORE_MAX_NAME + 1];
    const std::size_t n = static_cast<std::size_t>(m->w[0]);
    for (std::size_t i = 0; i < n; ++i) name[i] = static_cast<char>(m->w[1 + i / 8] >> (8 * (i % 8)));
    name[n] = '\0';
    if (g_policy.find(std::string_view(name, n), &index) == nullptr) {
      if (log_for(c.component)) keel_logf("%s: no partition '%s'", c.name, name);
      return KEEL_NOT_FOUND;
    }
  } else if (const keel_error_t e = partition_arg(m, &index); e != KEEL_OK) {
    return e;
  }
  if (g_policy.granted(c.component, index) == kNoAccess) return allowed(c, index, kReadWrite);
  m->len = 4;
  m->w[0] = index;
  m->w[1] = g_config.parts[index].blocks;
  m->w[2] = info_flags(c, index);
  m->w[3] = c.region_blocks;
  return KEEL_OK;
}

keel_error_t serve_blocks(Client& c, keel_msg_t* m, bool write) {
  std::size_t index = 0;
  if (const keel_error_t e = partition_arg(m, &index); e != KEEL_OK) return e;
  if (m->len < 3) return KEEL_INVALID_ARGUMENT;
  if (const keel_error_t e = allowed(c, index, write ? kWrite : kRead); e != KEEL_OK) return e;
  Served& s = g_served[index];
  if (s.dev == nullptr) return KEEL_ILLEGAL_OPERATION;
  const std::uint64_t first = m->w[1], count = m->w[2];
  if (c.region_blocks == 0) return KEEL_INVALID_ARGUMENT;
  if (count == 0 || count > c.region_blocks) return KEEL_RANGE_ERROR;
  const std::size_t bytes = static_cast<std::size_t>(count) * kBlockSize;
  m->len = 0;
  if (write) {
    std::memcpy(g_buf, c.region, bytes);  // ours from here: the client cannot change it under us
    auto r = s.dev->write(first, static_cast<std::size_t>(count), g_buf[0]);
    if (!r.ok()) return report(c, index, s, r.error(), "write", first);
    return KEEL_OK;
  }
  auto r = s.dev->read(first, static_cast<std::size_t>(count), g_buf[0]);
  if (!r.ok()) return report(c, index, s, r.error(), "read", first);
  std::memcpy(c.region, g_buf, bytes);
  sodium_memzero(g_buf, bytes);
  return KEEL_OK;
}

keel_error_t serve_flush(Client& c, keel_msg_t* m) {
  std::size_t index = 0;
  if (const keel_error_t e = partition_arg(m, &index); e != KEEL_OK) return e;
  if (const keel_error_t e = allowed(c, index, kWrite); e != KEEL_OK) return e;
  Served& s = g_served[index];
  if (s.dev == nullptr) return KEEL_ILLEGAL_OPERATION;
  m->len = 0;
  if (auto r = s.dev->flush(); !r.ok()) return report(c, index, s, r.error(), "flush", 0);
  return KEEL_OK;
}

keel_error_t serve_record(Client& c, keel_msg_t* m, bool write) {
  std::size_t index = 0;
  if (const keel_error_t e = partition_arg(m, &index); e != KEEL_OK) return e;
  if (m->len < (write ? 3u : 2u)) return KEEL_INVALID_ARGUMENT;
  if (const keel_error_t e = allowed(c, index, write ? kWrite : kRead); e != KEEL_OK) return e;
  Served& s = g_served[index];
  if (s.dev == nullptr) return KEEL_ILLEGAL_OPERATION;
  if (c.region_blocks == 0) return KEEL_INVALID_ARGUMENT;
  const std::uint64_t id = m->w[1];
  if (id >= g_config.parts[index].blocks / 2) return KEEL_RANGE_ERROR;
  const RecordLocation at{2 * id, 2 * id + 1, static_cast<std::uint32_t>(id)};
  m->len = 0;
  if (write) {
    const std::uint64_t len = m->w[2];
    if (len > kMaxRecordPayload) return KEEL_RANGE_ERROR;
    std::memcpy(g_buf, c.region, static_cast<std::size_t>(len));
    auto r = write_record(*s.dev, at, g_rws, std::span<const std::uint8_t>(g_buf[0], static_cast<std::size_t>(len)));
    if (!r.ok()) return report(c, index, s, r.error(), "record write", 2 * id);
    m->len = 1;
    m->w[0] = r.value().sequence;
    return KEEL_OK;
  }
  auto r = read_record(*s.dev, at, g_rws, std::span<std::uint8_t>(g_buf[0], kMaxRecordPayload));
  if (!r.ok()) {
    // Neither copy valid although one was written (both torn or tampered): kCorrupt from the
    // Volume reads as "invalid copy", so a record with no valid copy is NOT_FOUND; a copy that
    // fails authentication is reported all the same (the Volume saw it).
    if (r.error() == KEEL_NOT_FOUND && s.volume != nullptr && s.volume->last_fault() != Fault::kNone)
      return report(c, index, s, KEEL_CORRUPT, "record read", 2 * id);
    return report(c, index, s, r.error(), "record read", 2 * id);
  }
  std::memcpy(c.region, g_buf, r.value().length);
  sodium_memzero(g_buf, kBlockSize);
  m->len = 2;
  m->w[0] = r.value().length;
  m->w[1] = r.value().sequence;
  return KEEL_OK;
}

void test_hook() {
  if (g_fault_after == 0 || ++g_served_requests != g_fault_after) return;
  keel_logf("test hook: fault after %lu requests", static_cast<unsigned long>(g_served_requests));
  keel_flush();
  std::uintptr_t addr = 0xdead0000;
  __asm__ volatile("" : "+r"(addr));
  *reinterpret_cast<volatile std::uint32_t*>(addr) = 1;
}

void on_call(keel_channel_t ch, keel_msg_t* m, void*) {
  Client* c = client_of(ch);
  const std::uint64_t label = m->label;
  keel_error_t e = KEEL_INVALID_ARGUMENT;
  if (c != nullptr) {
    ++c->requests;
    switch (label) {
      case KEEL_STORE_OPEN: e = serve_open(*c, m, true); break;
      case KEEL_STORE_INFO: e = serve_open(*c, m, false); break;
      case KEEL_STORE_READ: e = serve_blocks(*c, m, false); break;
      case KEEL_STORE_WRITE: e = serve_blocks(*c, m, true); break;
      case KEEL_STORE_FLUSH: e = serve_flush(*c, m); break;
      case KEEL_RECORD_READ: e = serve_record(*c, m, false); break;
      case KEEL_RECORD_WRITE: e = serve_record(*c, m, true); break;
      default: break;
    }
  }
  if (e != KEEL_OK) m->len = 0;
  m->label = e;
  test_hook();
}

void on_bits(std::uint64_t, void*) { g_disk.poll_restart(); }

}  // namespace

extern "C" int keel_main(void*) {
  g_log.init(kLogLinesPerSecond);
  if (keel_generation() == 0) g_fault_after = static_cast<std::uint64_t>(keel_config_int("fault_after_requests", 0));
  if (!crypto_init().ok()) fail("libsodium did not initialise");
  const char* why = "";
  if (!g_disk.attach(&why)) fail(why);
  g_disk.wait_for_driver();
  const keel_blk_device_t& dev = g_disk.device();
  if ((dev.flags & KEEL_BLK_FLAG_READ_ONLY) != 0) fail("the disk is read-only");
  find_clients();
  load();
  plan();
  if (const keel_error_t e = key_source_init(); e != KEEL_OK) keel_logf("keys: %s", keel_error_name(e));
  open_partitions();
  for (std::uint32_t i = 0; i < g_client_count; ++i)
    (void)keel_channel_open(keel_info_string(keel_info(), keel_channel_info(g_clients[i].ctl)->name), &g_clients[i].ctl);
  unsigned served = 0, encrypted = 0;
  for (std::size_t i = 0; i < g_config.part_count; ++i)
    if (g_served[i].dev != nullptr) {
      ++served;
      if (g_served[i].volume != nullptr) ++encrypted;
    }
  keel_logf("ready: %lu blocks, %u of %u partitions served (%u encrypted), %u clients, keys: %s%s",
            static_cast<unsigned long>(g_disk.blocks()), served, static_cast<unsigned>(g_config.part_count), encrypted,
            g_client_count, key_source_name(), keel_generation() > 0 ? " (restarted)" : "");
  const keel_error_t e = keel_serve(g_disk.done_bit(), on_call, on_bits, nullptr);
  fail("serve", keel_error_name(e));
}

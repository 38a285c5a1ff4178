// keel-keystore — the keystore (component `keystore`; docs/device-services.md "Keystore";
// services/keystore/README.md). It holds the device's tunnel (X25519) and identity (Ed25519) keys
// and uses them for the components the manifest grants ([component.keys], compiled into this
// component's config as grant.<component>), over their rpc channels (keel/sys/keystore_service.h).
// Nothing it answers carries a private key.
//
//  - the device key: the platform's `devkey` device (the board's OTP / secure element; on QEMU a
//    32-byte file loaded there by scripts/qemu_run.py --device-key), copied once at start to
//    derive the seal key and the storage master, and the copy wiped;
//  - randomness for the keys at first boot and for the seals' nonces: the rng service (its rpc
//    channel to `rng`, keel_random);
//  - the sealed records: records 0 ("identity") and 1 ("tunnel") of its partition (config
//    `partition`, default "keys"; plain — the records are sealed already, and the store's partition
//    keys come from here) through the store service (keel_record_read / _write: StoreRecords
//    below). Start in two steps, because the store asks this keystore for its partition keys at
//    its own start: unlock (the device key → seal key and storage master: partition_key is served
//    from then on), then load the records as soon as the store serves — at once if it already
//    does (a restart), else from a 10 ms timer while serving, for at most `store_wait_ms` (default
//    30,000; then fatal). Until then every other request is KEEL_NOT_READY (libkeel waits). A
//    system without an rpc channel to `store` keeps the records in memory (MemoryRecords: keys made
//    anew at every start, said so in the log);
//  - the release trust keys: config trust.<name> = 64 hex digits, served read-only.
//
// Fairness (docs/os-services.md "Fair service"): passive (`passive = true`), as the rng: a request
// runs on its caller's SchedContext (an X25519 or a signature is ~0.2-0.4 M instructions, paid by
// the client that asks), requests queue FIFO; denials are logged at most 8 lines per client per
// second.
#include <cstring>
#include <string_view>

#include "keel/keel.h"
#include "keel/sys/fatal.hh"
#include "keel/keystore/keystore.h"
#include "keel/sys/fair.hh"
#include "keel/sys/keystore_service.h"

namespace {

using namespace keel::keystore;

constexpr std::uint32_t kMaxClients = 32;
constexpr std::uint32_t kLogLinesPerSecond = 8;
constexpr char kGrantPrefix[] = "grant.";
constexpr char kTrustPrefix[] = "trust.";

struct Client {
  std::uint32_t component = 0;
  const char* name = "";
  keel_channel_t ch = -1;
};

// Sealed records in memory (a system without the store): a few fixed slots.
class MemoryRecords final : public RecordStore {
 public:
  keel::Result<std::size_t> load(std::string_view name, std::span<std::uint8_t> out) override {
    for (const Slot& s : slots_)
      if (s.used && name == std::string_view(s.name, s.name_len)) {
        if (s.len > out.size()) return keel::Err{KEEL_RANGE_ERROR};
        std::memcpy(out.data(), s.bytes, s.len);
        return s.len;
      }
    return keel::Err{KEEL_NOT_FOUND};
  }
  keel::Result<void> save(std::string_view name, std::span<const std::uint8_t> bytes) override {
    if (name.size() > kMaxRecordName || bytes.size() > kSealedBytes) return keel::Err{KEEL_RANGE_ERROR};
    Slot* free = nullptr;
    for (Slot& s : slots_) {
      if (s.used && name == std::string_view(s.name, s.name_len)) free = &s;
      if (!s.used && free == nullptr) free = &s;
    }
    if (free == nullptr) return keel::Err{KEEL_NO_SPACE};
    free->used = true;
    free->name_len = name.size();
    std::memcpy(free->name, name.data(), name.size());
    free->len = bytes.size();
    std::memcpy(free->bytes, bytes.data(), bytes.size());
    return {};
  }

 private:
  struct Slot {
    bool used = false;
    char name[kMaxRecordName] = {};
    std::size_t name_len = 0, len = 0;
    std::uint8_t bytes[kSealedBytes] = {};
  };
  Slot slots_[4];
};

// Sealed records in the store's partition: record 0 "identity", record 1 "tunnel"
// (services/keystore README "Persistence"; `keel device provision` writes the same).
class StoreRecords final : public RecordStore {
 public:
  void bind(keel_partition_t p) { p_ = p; }
  keel::Result<std::size_t> load(std::string_view name, std::span<std::uint8_t> out) override {
    const int id = record_id(name);
    if (id < 0) return keel::Err{KEEL_NOT_FOUND};
    std::size_t len = 0;
    const keel_error_t e = keel_record_read(p_, static_cast<std::uint32_t>(id), out.data(), out.size(), &len);
    if (e != KEEL_OK) return keel::Err{e};
    return len;
  }
  keel::Result<void> save(std::string_view name, std::span<const std::uint8_t> bytes) override {
    const int id = record_id(name);
    if (id < 0) return keel::Err{KEEL_INVALID_ARGUMENT};
    const keel_error_t e = keel_record_write(p_, static_cast<std::uint32_t>(id), bytes.data(), bytes.size());
    if (e != KEEL_OK) return keel::Err{e};
    return {};
  }

 private:
  static int record_id(std::string_view name) { return name == "identity" ? 0 : name == "tunnel" ? 1 : -1; }
  keel_partition_t p_ = -1;
};

Keystore g_ks;
MemoryRecords g_memory;
StoreRecords g_store_records;
keel_channel_t g_store = -1;   // this component's rpc channel to `store` (-1: none)
const char* g_partition = "keys";
std::uint64_t g_store_deadline = 0;
bool g_waiting_logged = false;
std::uint64_t g_fault_after = 0, g_requests = 0;  // the crash test's hook (generation 0 only)
Client g_clients[kMaxClients];
std::uint32_t g_client_count = 0;
Grant g_grants[kMaxGrants];
std::uint32_t g_grant_count = 0;
keel::sys::LogLimit g_log;
std::uint64_t g_log_window = 0;

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

keel_error_t rng_fill(void*, std::uint8_t* out, std::size_t n) { return keel_random(out, n); }

void hex(const std::uint8_t* b, std::size_t n, char* out) {
  const char* d = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = d[b[i] >> 4];
    out[2 * i + 1] = d[b[i] & 15];
  }
  out[2 * n] = '\0';
}

// Bytes into / out of the message's words (little-endian: aarch64's own order).
void put(keel_msg_t* m, std::uint32_t at, const void* bytes, std::size_t n) {
  const std::uint32_t words = static_cast<std::uint32_t>((n + 7) / 8);
  if (words != 0) m->w[at + words - 1] = 0;
  std::memcpy(&m->w[at], bytes, n);
  m->len = at + words;
}
// The bytes of a request "w0 = n, w1.. bytes", checked: n <= max and exactly the words it needs.
bool sized(const keel_msg_t* m, std::size_t min, std::size_t max, std::size_t* n) {
  if (m->len < 1 || m->w[0] < min || m->w[0] > max) return false;
  *n = static_cast<std::size_t>(m->w[0]);
  return m->len == 1 + (*n + 7) / 8;
}

keel_error_t handle(const Client& c, keel_msg_t* m) {
  switch (m->label) {
    case KEEL_KEYS_PUBLIC: {
      if (m->len != 0) return KEEL_INVALID_ARGUMENT;
      auto r = g_ks.public_keys(c.component);
      if (!r.ok()) return r.error();
      auto count = g_ks.trust_key_count(c.component);
      put(m, 0, r.value().tunnel_x25519, kKeyBytes);
      put(m, 4, r.value().identity_ed25519, kKeyBytes);
      m->w[8] = count.ok() ? count.value() : 0;
      m->len = 9;
      return KEEL_OK;
    }
    case KEEL_KEYS_DH: {
      if (m->len != 4) return KEEL_INVALID_ARGUMENT;
      std::uint8_t peer[kKeyBytes], shared[kKeyBytes];
      std::memcpy(peer, m->w, kKeyBytes);
      auto r = g_ks.dh(c.component, peer, shared);
      if (r.ok()) put(m, 0, shared, kKeyBytes);
      sodium_memzero(shared, sizeof shared);
      return r.ok() ? KEEL_OK : r.error();
    }
    case KEEL_KEYS_SIGN: {
      std::size_t n = 0;
      if (!sized(m, 0, KEEL_KEYS_MAX_SIGN_BYTES, &n)) return m->len >= 1 && m->w[0] > KEEL_KEYS_MAX_SIGN_BYTES ? KEEL_RANGE_ERROR : KEEL_INVALID_ARGUMENT;
      std::uint8_t msg[KEEL_KEYS_MAX_SIGN_BYTES], sig[kSignatureBytes];
      std::memcpy(msg, &m->w[1], n);
      auto r = g_ks.sign(c.component, std::span<const std::uint8_t>(msg, n), sig);
      if (!r.ok()) return r.error();
      put(m, 0, sig, sizeof sig);
      return KEEL_OK;
    }
    case KEEL_KEYS_TRUST: {
      if (m->len != 1) return KEEL_INVALID_ARGUMENT;
      auto r = g_ks.trust_key(c.component, static_cast<std::uint32_t>(m->w[0] > 0xffffffffu ? 0xffffffffu : m->w[0]));
      if (!r.ok()) return r.error();
      const std::size_t n = r.value().name.size() < KEEL_KEYS_MAX_NAME_BYTES ? r.value().name.size() : KEEL_KEYS_MAX_NAME_BYTES;
      put(m, 0, r.value().key, kKeyBytes);
      m->w[4] = n;
      put(m, 5, r.value().name.data(), n);
      if (n == 0) m->len = 5;
      return KEEL_OK;
    }
    case KEEL_KEYS_PARTITION_KEY: {
      std::size_t n = 0;
      if (!sized(m, 1, KEEL_KEYS_MAX_NAME_BYTES, &n)) return KEEL_INVALID_ARGUMENT;
      char name[KEEL_KEYS_MAX_NAME_BYTES];
      std::memcpy(name, &m->w[1], n);
      std::uint8_t key[kKeyBytes];
      auto r = g_ks.partition_key(c.component, std::string_view(name, n), key);
      if (r.ok()) put(m, 0, key, kKeyBytes);
      sodium_memzero(key, sizeof key);
      return r.ok() ? KEEL_OK : r.error();
    }
    default: return KEEL_INVALID_ARGUMENT;
  }
}

const char* request_name(std::uint64_t label) {
  switch (label) {
    case KEEL_KEYS_PUBLIC: return "public";
    case KEEL_KEYS_DH: return "dh";
    case KEEL_KEYS_SIGN: return "sign";
    case KEEL_KEYS_TRUST: return "trust";
    case KEEL_KEYS_PARTITION_KEY: return "partition_key";
    default: return "unknown";
  }
}

void test_hook();

void on_call(keel_channel_t ch, keel_msg_t* m, void*) {
  const Client* c = nullptr;
  for (std::uint32_t i = 0; i < g_client_count; ++i)
    if (g_clients[i].ch == ch) c = &g_clients[i];
  const std::uint64_t label = m->label;
  const keel_error_t e = c == nullptr ? KEEL_DENIED : handle(*c, m);
  if (e != KEEL_OK) {
    m->len = 0;
    // NOT_READY (the keys not loaded yet: libkeel asks again) is expected at boot: not logged.
    if (c != nullptr && e != KEEL_NOT_READY && log_for(c->component))
      keel_logf("%s: %s refused: %s", c->name, request_name(label), keel_error_name(e));
  }
  m->label = e;
  if (e == KEEL_OK) test_hook();
}

void find_clients() {
  const keel_info_t* info = keel_info();
  for (std::uint32_t i = 0; i < info->channel_count; ++i) {
    const keel_info_channel_t* ch = keel_channel_info(static_cast<keel_channel_t>(i));
    if (ch == nullptr || ch->kind != KEEL_CHANNEL_RPC || ch->role != KEEL_ROLE_TO) continue;
    if (g_client_count == kMaxClients) fail("more components with an rpc channel to keystore than the limit (32)");
    Client& c = g_clients[g_client_count++];
    c.component = ch->peer_index;
    c.name = keel_info_string(info, ch->peer);
    c.ch = static_cast<keel_channel_t>(i);
  }
  // grant.<component> = "dh,sign,...": the compiler wrote them (keys.cc); a client without one has
  // no grant (everything denied, logged). trust.<name> = 64 hex digits.
  const keel_info_config_t* cfg = keel_info_configs(info);
  for (std::uint32_t k = 0; k < info->config_count; ++k) {
    const char* key = keel_info_string(info, cfg[k].key);
    if (cfg[k].type != KEEL_CONFIG_STRING) continue;
    const char* text = keel_info_string(info, cfg[k].str_value);
    if (std::strncmp(key, kGrantPrefix, sizeof kGrantPrefix - 1) == 0) {
      const char* who = key + sizeof kGrantPrefix - 1;
      const Client* c = nullptr;
      for (std::uint32_t i = 0; i < g_client_count; ++i)
        if (std::strcmp(g_clients[i].name, who) == 0) c = &g_clients[i];
      if (c == nullptr) fail("a keystore grant for a component without a channel to keystore", key);
      auto ops = parse_ops(text);
      if (!ops.ok()) fail("a keystore grant that does not parse", key);
      if (g_grant_count == kMaxGrants) fail("more keystore grants than the limit (32)");
      g_grants[g_grant_count++] = Grant{c->component, std::string_view(c->name), ops.value()};
    } else if (std::strncmp(key, kTrustPrefix, sizeof kTrustPrefix - 1) == 0) {
      std::uint8_t tk[kKeyBytes];
      if (!parse_trust_key(text, tk).ok()) fail("a release trust key that is not 64 hex digits", key);
      if (!g_ks.add_trust_key(key + sizeof kTrustPrefix - 1, tk).ok()) fail("more release trust keys than the limit (8)");
    }
  }
  if (!g_ks.set_grants(std::span<const Grant>(g_grants, g_grant_count)).ok())
    fail("the keystore grants (partition_key for another component than the store, or a component twice)");
}

// Standard base64 of 32 bytes (44 characters): what Fleet's device registration takes (and `wg
// pubkey` prints).
void base64(const std::uint8_t* b, std::size_t n, char* out) {
  const char* d = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t o = 0;
  for (std::size_t i = 0; i < n; i += 3) {
    const std::uint32_t v = static_cast<std::uint32_t>(b[i]) << 16 | (i + 1 < n ? b[i + 1] << 8 : 0) | (i + 2 < n ? b[i + 2] : 0);
    out[o++] = d[v >> 18 & 63];
    out[o++] = d[v >> 12 & 63];
    out[o++] = i + 1 < n ? d[v >> 6 & 63] : '=';
    out[o++] = i + 2 < n ? d[v & 63] : '=';
  }
  out[o] = '\0';
}

// The device prints its public keys once they are loaded (provisioning: what Fleet registers).
void log_ready() {
  char t[65], id[65], tb[45], ib[45];
  hex(g_ks.own_public_keys().tunnel_x25519, kKeyBytes, t);
  hex(g_ks.own_public_keys().identity_ed25519, kKeyBytes, id);
  base64(g_ks.own_public_keys().tunnel_x25519, kKeyBytes, tb);
  base64(g_ks.own_public_keys().identity_ed25519, kKeyBytes, ib);
  keel_logf("ready: %u clients (%u granted), %u release trust key(s); keys %s%s%s%s", g_client_count, g_grant_count,
            g_ks.trust_count(), g_ks.created() ? "created at this start" : "loaded",
            g_store >= 0 ? " (partition '" : " (in memory: no store)", g_store >= 0 ? g_partition : "",
            g_store >= 0 ? "')" : "");
  // One key a line (the console wraps long lines): hex, then base64 as Fleet takes it.
  keel_logf("tunnel public key %s", t);
  keel_logf("identity public key %s", id);
  keel_logf("tunnel public key (base64) %s", tb);
  keel_logf("identity public key (base64) %s", ib);
}

void start_failed(keel_error_t e) {
  if (e == kCorrupt) fail("the sealed keys do not open: tampered, one lost, or another device's key");
  fail("loading the keys", keel_error_name(e));
}

// Loads (or at first boot creates) the keys, through the store if there is one. false: not yet
// (the store does not serve yet); fatal on anything else.
bool try_load() {
  if (g_ks.started()) return true;
  RecordStore* records = &g_memory;
  if (g_store >= 0) {
    const keel_info_channel_t* ch = keel_channel_info(g_store);
    // Without blocking: the message server answers CHANNEL_DOWN until the store opened its end.
    if (keel_channel_open(keel_info_string(keel_info(), ch->name), &g_store) != KEEL_OK) {
      if (keel_now_ticks() > g_store_deadline) fail("the store did not serve within store_wait_ms: no keys");
      if (!g_waiting_logged) keel_logf("waiting for the store (partition '%s'); partition keys served meanwhile", g_partition);
      g_waiting_logged = true;
      return false;
    }
    keel_partition_t p = -1;
    const keel_error_t e = keel_store_open(g_partition, &p);
    if (e == KEEL_NOT_FOUND) fail("the store has no keystore partition (config partition, default \"keys\")", g_partition);
    if (e == KEEL_DENIED) fail("the store denies the keystore partition (the manifest's [component.storage] partitions = { keys = \"rw\" })", g_partition);
    if (e == KEEL_ILLEGAL_OPERATION) fail("the store holds the keystore partition back (its layout changed, or no key)", g_partition);
    if (e != KEEL_OK) fail("opening the keystore partition", keel_error_name(e));
    g_store_records.bind(p);
    records = &g_store_records;
  }
  // The rng may still be seeding (keel_random waits up to 2 s per call): a few tries.
  keel::Result<void> r = keel::Err{KEEL_NOT_READY};
  for (int attempt = 0; attempt < 5 && !r.ok(); ++attempt) {
    r = g_ks.load(*records, RandomSource{rng_fill, nullptr});
    if (!r.ok() && r.error() != KEEL_NOT_READY && r.error() != KEEL_CHANNEL_DOWN) break;
  }
  if (!r.ok()) start_failed(r.error());
  log_ready();
  return true;
}

void on_bits(std::uint64_t, void*) {
  (void)keel_timer_expired();
  if (try_load()) (void)keel_timer_set(0, 0, 0);
}

// The crash test's hook (config fault_after_requests, honoured in generation 0 only, as the
// store's): a VM fault after that many requests answered KEEL_OK (before that answer is sent: its
// client meets the restart); the supervisor restarts the keystore,
// which reads its records again.
void test_hook() {
  if (g_fault_after == 0 || ++g_requests != g_fault_after) return;
  keel_logf("test hook: fault after %lu requests", static_cast<unsigned long>(g_requests));
  keel_flush();
  std::uintptr_t addr = 0xdead0000;
  __asm__ volatile("" : "+r"(addr));
  *reinterpret_cast<volatile std::uint32_t*>(addr) = 1;
}

void find_store() {
  const keel_info_t* info = keel_info();
  for (std::uint32_t i = 0; i < info->channel_count; ++i) {
    const keel_info_channel_t* ch = keel_channel_info(static_cast<keel_channel_t>(i));
    if (ch != nullptr && ch->kind == KEEL_CHANNEL_RPC && ch->role == KEEL_ROLE_FROM &&
        std::strcmp(keel_info_string(info, ch->peer), "store") == 0)
      g_store = static_cast<keel_channel_t>(i);
  }
  g_partition = keel_config_str("partition", "keys");
  const std::int64_t wait_ms = keel_config_int("store_wait_ms", 30000);
  g_store_deadline = keel_now_ticks() + keel_ms_to_ticks(wait_ms > 0 ? static_cast<std::uint64_t>(wait_ms) : 30000);
}

}  // namespace

extern "C" int keel_main(void*) {
  g_log.init(kLogLinesPerSecond);
  if (keel_generation() == 0) g_fault_after = static_cast<std::uint64_t>(keel_config_int("fault_after_requests", 0));
  std::size_t size = 0;
  const volatile std::uint8_t* dev = static_cast<const volatile std::uint8_t*>(keel_device("devkey", &size));
  if (dev == nullptr || size < kKeyBytes) fail("no device key: the platform's devkey device is not granted (manifest devices)");
  std::uint8_t device_key[kKeyBytes];
  for (std::size_t i = 0; i < kKeyBytes; ++i) device_key[i] = dev[i];
  find_clients();
  find_store();
  const keel::Result<void> unlocked = g_ks.unlock(device_key);
  sodium_memzero(device_key, sizeof device_key);
  if (!unlocked.ok()) fail("no device key: the devkey region is all zeros or all ones (qemu_run.py --device-key FILE)");
  // The store already serving (a restart of this keystore) or none: load now. Else the store may
  // be waiting for its partition keys from here: serve them, and load from the timer.
  const bool loaded = try_load();
  // Opening the first server end makes a passive component hand its SchedContext over (a timer
  // notification still wakes it on its own).
  for (std::uint32_t i = 0; i < g_client_count; ++i)
    (void)keel_channel_open(keel_info_string(keel_info(), keel_channel_info(g_clients[i].ch)->name), &g_clients[i].ch);
  if (!loaded) {
    const std::uint64_t period = keel_ms_to_ticks(10);
    if (keel_timer_set(0, keel_now_ticks() + period, period) != KEEL_OK)
      fail("no timer to wait for the store with (the keystore needs services = [\"clock\"])");
  }
  const keel_error_t e = keel_serve(loaded ? 0 : KEEL_NOTIFY_TIMER, on_call, loaded ? nullptr : on_bits, nullptr);
  fail("serve", keel_error_name(e));
}

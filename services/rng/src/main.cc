// keel-rng — the rng service (component `rng`; docs/device-services.md "Random numbers";
// services/rng/README.md). It sits between two kinds of peers:
//  - the virtio-rng driver, whose one client it is, through keel/sys/rng_queue.h (regions
//    rng_queues and rng_data — the device writes the bytes straight into rng_data, which only this
//    component maps; event ends "rng_done": the driver signals us, "rng_req": we signal it);
//  - the components the manifest gives an rpc channel to `rng` (the channel is the grant:
//    keel/sys/rng_service.h), each request at most KEEL_RNG_SERVICE_MAX_BYTES.
// The bytes come from keel::rng::Rng (a ChaCha20 fast-key-erasure DRBG seeded from the device's
// bytes and counter jitter, reseeded after 1 MiB or 60 s: keel/rng/drbg.h). Before its first seed
// every request is refused with KEEL_NOT_READY.
//
// Fairness (docs/os-services.md "Fair service"): the service is meant to run passive (manifest
// `passive = true`): a request runs on its caller's SchedContext, so a client's requests are paid
// from its own budget and a flood costs its sender; the endpoint's queue is FIFO and each request
// is bounded (at most 256 bytes: five ChaCha20 blocks), so a client waits behind at most one
// request of each other client — unless that client's budget runs out inside this service (then
// until its next period: README.md "Fair service", os.rng_fair). Refusals are logged at most 8
// lines per client per second.
//
// Test hooks (tests/os/rng; never in a product), first run (generation 0) only:
//   hold_seed_until_refused = true  the first fill is asked of the driver only once a request
//                                   has been refused with KEEL_NOT_READY (so the test sees it);
//   fault_after_requests = N        fault at the unmapped 0xdead0000 after N requests answered.
#include <cstring>
#include <new>

#include "keel/keel.h"
#include "keel/sys/fatal.hh"
#include "keel/rng/drbg.h"
#include "keel/sys/fair.hh"
#include "keel/sys/rng_queue.h"
#include "keel/sys/rng_service.h"

namespace {

using keel::rng::kFillBytes;
using keel::rng::Rng;
using keel::rng::Schedule;

constexpr std::uint32_t kMaxClients = 32;
constexpr std::uint32_t kLogLinesPerSecond = 8;
constexpr std::uint32_t kStartJitterSamples = 256;
constexpr std::uint32_t kMaxFillErrors = 8;  // then no fill until the driver restarts

struct Client {
  std::uint32_t component = 0;
  const char* name = "";
  keel_channel_t ch = -1;
  std::uint64_t requests = 0, bytes = 0, refused = 0;
};

Client g_clients[kMaxClients];
std::uint32_t g_client_count = 0;
alignas(Rng) std::uint8_t g_rng_mem[sizeof(Rng)];
Rng* g_rng = nullptr;

keel_rng_queues_t* g_q = nullptr;
std::uint8_t* g_data = nullptr;
std::size_t g_data_size = 0;
keel_channel_t g_req = -1, g_done = -1;
std::uint64_t g_done_bit = 0;

bool g_fill_pending = false;
std::uint64_t g_fill_id = 0;
std::uint32_t g_fill_errors = 0;
std::uint32_t g_driver_restarts = 0;
std::uint64_t g_reseeds_logged = 0, g_reseed_log_at = 0, g_reseeds_unlogged = 0;

std::uint64_t g_answered = 0;
std::uint64_t g_fault_after = 0;
bool g_hold_seed = false;

keel::sys::LogLimit g_log;
std::uint64_t g_log_window = 0;

using keel::sys::fail;

std::uint64_t now_us() { return keel_now_ns() / 1000; }

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

// After the driver restarted, the first signal through the old capability answers
// KEEL_CHANNEL_DOWN (libkeel forgets it) and only the next one reaches the new driver.
void signal_driver() {
  if (keel_event_signal(g_req) == KEEL_CHANNEL_DOWN) (void)keel_event_signal(g_req);
}

// One fill of kFillBytes at the start of rng_data outstanding while the pool wants bytes.
void request_fill() {
  if (g_fill_pending || g_hold_seed || g_fill_errors >= kMaxFillErrors || !g_rng->wants_device_bytes()) return;
  if (__atomic_load_n(&g_q->device.driver_epoch, __ATOMIC_ACQUIRE) != g_q->device.client_epoch) return;  // no driver yet
  if (g_q->device.client_epoch == 0) return;
  if (!keel_rng_request_push(g_q, keel_rng_request_t{++g_fill_id, 0, static_cast<std::uint32_t>(kFillBytes), 0})) return;
  g_fill_pending = true;
  signal_driver();
}

void take_completions() {
  keel_rng_completion_t c{};
  bool corrupt = false;
  while (keel_rng_completion_pop(g_q, &c, &corrupt)) {
    if (!g_fill_pending || c.id != g_fill_id) continue;  // an earlier life's, or not ours
    g_fill_pending = false;
    if (c.status != KEEL_RNG_OK || c.len > kFillBytes) {
      ++g_fill_errors;
      keel_logf("fill %lu failed: status %u, %u bytes%s", static_cast<unsigned long>(c.id), c.status, c.len,
                g_fill_errors >= kMaxFillErrors ? " (no more fills until the driver restarts)" : "");
      continue;
    }
    g_fill_errors = 0;
    g_rng->add_device(g_data, c.len);
    sodium_memzero(g_data, kFillBytes);  // the bytes live on only in the pool's digest
  }
  if (corrupt) keel_log("the driver's completion queue is corrupt: ignored");
}

// The restart handshake (keel/sys/rng_queue.h): a driver epoch we do not know is a (re)started
// driver. Its predecessor's completions still queued are valid; whatever was asked and not
// answered is asked again.
void handshake() {
  const std::uint32_t epoch = __atomic_load_n(&g_q->device.driver_epoch, __ATOMIC_ACQUIRE);
  if (epoch == g_q->device.client_epoch) return;
  if (g_q->device.client_epoch != 0 && g_fill_id != 0) {
    take_completions();
    ++g_driver_restarts;
    keel_logf("driver restarted (epoch %u): queues reset%s", epoch, g_fill_pending ? ", the fill asked again" : "");
  }
  keel_rng_queues_reset(g_q);
  g_fill_pending = false;
  g_fill_errors = 0;
  __atomic_store_n(&g_q->device.client_epoch, epoch, __ATOMIC_RELEASE);
  signal_driver();
}

void log_reseeds() {
  const std::uint64_t n = g_rng->reseeds();
  if (n == g_reseeds_logged) return;
  if (g_reseeds_logged == 0) {
    keel_logf("seeded: %u device bytes and %u timer samples (generation %lu)", static_cast<unsigned>(kFillBytes),
              kStartJitterSamples, static_cast<unsigned long>(keel_generation()));
    g_reseeds_logged = n;
    return;
  }
  // Later reseeds: at most one line a second.
  g_reseeds_unlogged += n - g_reseeds_logged;
  g_reseeds_logged = n;
  const std::uint64_t now = keel_now_ticks();
  if (now < g_reseed_log_at) return;
  g_reseed_log_at = now + keel_ticks_per_second();
  keel_logf("reseeded %lu time(s) (%lu in all, %lu bytes served, %lu requests while a reseed was overdue)",
            static_cast<unsigned long>(g_reseeds_unlogged), static_cast<unsigned long>(n - 1),
            static_cast<unsigned long>(g_rng->bytes_served()), static_cast<unsigned long>(g_rng->overdue()));
  g_reseeds_unlogged = 0;
}

// Everything the driver side may have moved.
void pass() {
  g_rng->add_jitter(keel_now_ticks());
  handshake();
  take_completions();
  (void)g_rng->maybe_reseed(now_us());
  log_reseeds();
  request_fill();
}

void on_bits(std::uint64_t, void*) { pass(); }

void on_call(keel_channel_t ch, keel_msg_t* m, void*) {
  g_rng->add_jitter(keel_now_ticks());
  Client* c = nullptr;
  for (std::uint32_t i = 0; i < g_client_count; ++i)
    if (g_clients[i].ch == ch) c = &g_clients[i];
  if (c == nullptr) {  // cannot happen: every rpc server end is a client's
    m->label = KEEL_DENIED;
    m->len = 0;
    return;
  }
  const std::uint64_t label = m->label, n = m->len != 0 ? m->w[0] : 0;
  const std::uint32_t words_in = m->len;
  std::uint32_t words = 0;
  const std::uint64_t r = keel::rng::serve_request(*g_rng, now_us(), label, m->w, m->len, m->w, &words);
  ++c->requests;
  if (r == KEEL_OK) {
    c->bytes += n;
  } else {
    ++c->refused;
    if (log_for(c->component))
      keel_logf("%s: request (label %lu, %u words, %lu bytes) refused: %s", c->name, static_cast<unsigned long>(label),
                words_in, static_cast<unsigned long>(n), keel_error_name(static_cast<keel_error_t>(r)));
    if (r == KEEL_NOT_READY && g_hold_seed) {
      g_hold_seed = false;
      keel_log("test hook: a request was refused before seeding; the first fill is asked now");
    }
  }
  m->label = r;
  m->len = words;
  log_reseeds();
  request_fill();
  if (++g_answered == g_fault_after) {
    keel_logf("test hook: fault after %lu requests", static_cast<unsigned long>(g_answered));
    keel_flush();
    std::uintptr_t addr = 0xdead0000;
    __asm__ volatile("" : "+r"(addr));
    *reinterpret_cast<volatile std::uint32_t*>(addr) = 1;
  }
}

// Clients: every component with an rpc channel to us (the channel is the grant).
void find_clients() {
  const keel_info_t* info = keel_info();
  for (std::uint32_t i = 0; i < info->channel_count; ++i) {
    const keel_info_channel_t* ch = keel_channel_info(static_cast<keel_channel_t>(i));
    if (ch == nullptr || ch->kind != KEEL_CHANNEL_RPC || ch->role != KEEL_ROLE_TO) continue;
    if (g_client_count == kMaxClients) fail("more components with an rpc channel to rng than the limit (32)");
    Client& c = g_clients[g_client_count++];
    c.component = ch->peer_index;
    c.name = keel_info_string(info, ch->peer);
    c.ch = static_cast<keel_channel_t>(i);
  }
}

Schedule schedule() {
  Schedule s;
  const std::int64_t bytes = keel_config_int("reseed_bytes", static_cast<std::int64_t>(s.reseed_bytes));
  const std::int64_t seconds = keel_config_int("reseed_seconds", static_cast<std::int64_t>(s.reseed_us / 1000000));
  if (bytes < 4096 || bytes > (std::int64_t{1} << 30)) fail("config reseed_bytes: 4096 .. 1 GiB");
  if (seconds < 1 || seconds > 86400) fail("config reseed_seconds: 1 .. 86400");
  s.reseed_bytes = static_cast<std::uint64_t>(bytes);
  s.reseed_us = static_cast<std::uint64_t>(seconds) * 1000000;
  return s;
}

}  // namespace

extern "C" int keel_main(void*) {
  g_log.init(kLogLinesPerSecond);
  if (keel_generation() == 0) {
    g_fault_after = static_cast<std::uint64_t>(keel_config_int("fault_after_requests", 0));
    g_hold_seed = keel_config_bool("hold_seed_until_refused", false);
  }
  std::size_t qsize = 0;
  g_q = static_cast<keel_rng_queues_t*>(keel_region("rng_queues", &qsize));
  if (g_q == nullptr || qsize < sizeof(keel_rng_queues_t)) fail("region rng_queues missing or too small");
  g_data = static_cast<std::uint8_t*>(keel_region("rng_data", &g_data_size));
  if (g_data == nullptr || g_data_size < kFillBytes) fail("region rng_data missing or smaller than one fill");
  if (keel_channel_open("rng_req", &g_req) != KEEL_OK && g_req < 0) fail("no channel end rng_req (to the driver)");
  if (keel_channel_open("rng_done", &g_done) != KEEL_OK) fail("cannot open channel end rng_done (from the driver)");
  g_done_bit = keel_channel_info(g_done)->notify_bit;
  const Schedule s = schedule();
  g_rng = new (g_rng_mem) Rng(s);
  // Timer jitter: the counter around a little hashing, kStartJitterSamples times (deterministic
  // under QEMU -icount; the device's bytes are what the first seed really rests on).
  {
    crypto_generichash_state st;
    crypto_generichash_init(&st, nullptr, 0, 32);
    for (std::uint32_t i = 0; i < kStartJitterSamples; ++i) {
      const std::uint64_t t = keel_now_ticks();
      crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(&t), sizeof t);
      g_rng->add_jitter(keel_now_ticks());
    }
    sodium_memzero(&st, sizeof st);
  }
  find_clients();
  // Opening the first server end makes a passive component hand its SchedContext over.
  for (std::uint32_t i = 0; i < g_client_count; ++i)
    (void)keel_channel_open(keel_info_string(keel_info(), keel_channel_info(g_clients[i].ch)->name), &g_clients[i].ch);
  keel_logf("ready: %u clients; reseed after %lu bytes or %lu s%s%s", g_client_count,
            static_cast<unsigned long>(s.reseed_bytes), static_cast<unsigned long>(s.reseed_us / 1000000),
            g_hold_seed ? "; test hook: first fill held until a request is refused" : "",
            keel_generation() > 0 ? " (restarted)" : "");
  pass();
  const keel_error_t e = keel_serve(g_done_bit, on_call, on_bits, nullptr);
  fail("serve", keel_error_name(e));
}

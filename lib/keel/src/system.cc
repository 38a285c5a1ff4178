// libkeel: time and timers (clock service), configuration, devices/regions/IRQs from the info
// page, component status (root server) and CPU use (sched service).
#include "keel/keel.h"
#include "keel_internal.h"

namespace {

constexpr uint32_t kSleepTimer = KEEL_CLOCK_TIMERS - 1;  // keel_sleep_ms's own timer
uint64_t g_expired;                                        // expiries collected but not yet returned

namespace rpc = keel::rpc;
using keel::detail::request;
using keel::detail::status;

// Asks the clock which timers fired and adds them to g_expired.
keel_error_t collect_expired() {
  auto r = request<rpc::clock::Expired>();
  if (r.ok()) g_expired |= r.value() & ((1ull << KEEL_CLOCK_TIMERS) - 1);
  return status(r);
}

const keel_info_config_t* config(const char* key, uint32_t type) {
  const keel_info_t* info = keel_info();
  if (info == nullptr) return nullptr;
  int i = keel_info_find_config(info, key);
  if (i < 0 || keel_info_configs(info)[i].type != type) return nullptr;
  return &keel_info_configs(info)[i];
}

uint64_t read_cntvct() {
  uint64_t v;
  __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
  return v;
}

}  // namespace

extern "C" {

uint64_t keel_now_ticks(void) { return read_cntvct(); }

uint64_t keel_ticks_per_second(void) {
  const keel_info_t* info = keel_info();
  if (info != nullptr && info->timer_frequency != 0) return info->timer_frequency;
  uint64_t f;
  __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(f));
  return f;
}

uint64_t keel_now_ns(void) {
  // 128-bit intermediate: ticks * 1e9 overflows 64 bits after ~5 minutes at 62.5 MHz.
  return static_cast<uint64_t>(static_cast<unsigned __int128>(read_cntvct()) * 1000000000u / keel_ticks_per_second());
}

uint64_t keel_ms_to_ticks(uint64_t ms) {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(ms) * keel_ticks_per_second() / 1000u);
}

keel_error_t keel_timer_set(uint32_t id, uint64_t deadline_ticks, uint64_t period_ticks) {
  if (id >= KEEL_CLOCK_TIMERS) return KEEL_RANGE_ERROR;
  const keel_error_t st = status(request<rpc::clock::Timeout>(id, deadline_ticks, period_ticks));
  if (st == KEEL_OK) g_expired &= ~(1ull << id);  // a re-armed timer starts afresh
  return st;
}

uint64_t keel_timer_expired(void) {
  collect_expired();
  uint64_t got = g_expired;
  g_expired = 0;
  return got;
}

keel_error_t keel_sleep_ms(uint64_t ms) {
  const uint64_t deadline = keel_now_ticks() + keel_ms_to_ticks(ms);
  if (!keel_has_service(KEEL_SERVICE_CLOCK)) {
    keel::detail::flush_reply();
    while (keel_now_ticks() < deadline) keel_yield();
    return KEEL_OK;
  }
  keel_error_t st = keel_timer_set(kSleepTimer, deadline == 0 ? 1 : deadline, 0);
  if (st != KEEL_OK) return st;
  while ((g_expired & (1ull << kSleepTimer)) == 0) {
    keel_notify_wait(KEEL_NOTIFY_TIMER);
    st = collect_expired();
    if (st != KEEL_OK) return st;
  }
  g_expired &= ~(1ull << kSleepTimer);
  return KEEL_OK;
}

}  // extern "C"

namespace keel::detail {

uint64_t wait_until(uint64_t mask, uint64_t deadline) {
  constexpr uint32_t kWaitTimer = KEEL_CLOCK_TIMERS - 2;
  if (deadline == UINT64_MAX) return keel_notify_wait(mask);
  if (!keel_has_service(KEEL_SERVICE_CLOCK)) {
    flush_reply();
    for (;;) {
      if (const uint64_t got = keel_notify_poll(mask)) return got;
      if (keel_now_ticks() >= deadline) return 0;
      keel_yield();
    }
  }
  if (const uint64_t got = keel_notify_poll(mask)) return got;
  if (keel_now_ticks() >= deadline || keel_timer_set(kWaitTimer, deadline == 0 ? 1 : deadline, 0) != KEEL_OK) return 0;
  uint64_t got = 0;
  while (got == 0 && (g_expired & (1ull << kWaitTimer)) == 0) {
    const uint64_t bits = keel_notify_wait(mask | KEEL_NOTIFY_TIMER);
    got = bits & mask;
    if ((bits & KEEL_NOTIFY_TIMER) != 0 && collect_expired() != KEEL_OK) break;
  }
  if (got != 0) (void)keel_timer_set(kWaitTimer, 0, 0);  // cancel
  g_expired &= ~(1ull << kWaitTimer);
  // Another timer's expiry collected here: its KEEL_NOTIFY_TIMER is the caller's again.
  if (g_expired != 0) pending_bits() |= KEEL_NOTIFY_TIMER;
  return got;
}

}  // namespace keel::detail

extern "C" {

keel_error_t keel_wall_ns(uint64_t* ns) {
  if (ns == nullptr) return KEEL_INVALID_ARGUMENT;
  auto r = request<rpc::clock::Wall>();
  if (r.ok()) *ns = r.value();
  return status(r);
}

int64_t keel_config_int(const char* key, int64_t fallback) {
  const keel_info_config_t* c = config(key, KEEL_CONFIG_INT);
  return c != nullptr ? c->int_value : fallback;
}

bool keel_config_bool(const char* key, bool fallback) {
  const keel_info_config_t* c = config(key, KEEL_CONFIG_BOOL);
  return c != nullptr ? c->int_value != 0 : fallback;
}

const char* keel_config_str(const char* key, const char* fallback) {
  const keel_info_config_t* c = config(key, KEEL_CONFIG_STRING);
  return c != nullptr ? keel_info_string(keel_info(), c->str_value) : fallback;
}

volatile void* keel_device(const char* name, size_t* size) {
  const keel_info_t* info = keel_info();
  int i = info != nullptr ? keel_info_find_device(info, name) : -1;
  if (i < 0) return nullptr;
  const keel_info_device_t& d = keel_info_devices(info)[i];
  if (size != nullptr) *size = static_cast<size_t>(d.size);
  return reinterpret_cast<volatile void*>(d.vaddr);
}

void* keel_region(const char* name, size_t* size) {
  const keel_info_t* info = keel_info();
  int i = info != nullptr ? keel_info_find_region(info, name) : -1;
  if (i < 0) return nullptr;
  const keel_info_region_t& r = keel_info_regions(info)[i];
  if (r.perms == 0) return nullptr;  // address only (access = "dma"): not mapped here
  if (size != nullptr) *size = static_cast<size_t>(r.size);
  return reinterpret_cast<void*>(r.vaddr);
}

uint64_t keel_region_paddr(const char* name, size_t* size) {
  const keel_info_t* info = keel_info();
  int i = info != nullptr ? keel_info_find_region(info, name) : -1;
  if (i < 0) return 0;
  const keel_info_region_t& r = keel_info_regions(info)[i];
  if (r.paddr == 0) return 0;
  if (size != nullptr) *size = static_cast<size_t>(r.size);
  return r.paddr;
}

uint64_t keel_irq_bit(const char* name) {
  const keel_info_t* info = keel_info();
  int i = info != nullptr ? keel_info_find_irq(info, name) : -1;
  return i < 0 ? 0 : keel_info_irqs(info)[i].notify_bit;
}

keel_error_t keel_irq_ack(const char* name) {
  const keel_info_t* info = keel_info();
  int i = info != nullptr ? keel_info_find_irq(info, name) : -1;
  if (i < 0) return KEEL_NOT_FOUND;
  return keel_irq_handler_ack(keel_info_irqs(info)[i].slot);
}

uint32_t keel_component_count(void) {
  const keel_info_t* info = keel_info();
  return info != nullptr ? info->component_count : 0;
}

keel_error_t keel_component_status(uint32_t index, keel_component_status_t* st) {
  if (st == nullptr) return KEEL_INVALID_ARGUMENT;
  if (index >= keel_component_count()) return KEEL_NOT_FOUND;
  auto r = request<rpc::root::Status>(index);
  if (!r.ok()) return r.error();
  const auto& [state, restarts, memory_bytes, generation, last_fault, name] = r.value();
  if (name.len >= sizeof st->name) return KEEL_PROTOCOL_ERROR;
  st->state = state;
  st->restarts = restarts;
  st->memory_bytes = memory_bytes;
  st->generation = generation;
  st->last_fault = last_fault;
  __builtin_memcpy(st->name, name.data, name.len);
  st->name[name.len] = '\0';
  return KEEL_OK;
}

int keel_component_find(const char* name) {
  if (name == nullptr) return -1;
  keel_component_status_t st;
  for (uint32_t i = 0; i < keel_component_count(); ++i) {
    if (keel_component_status(i, &st) != KEEL_OK) return -1;
    const char* a = st.name;
    const char* b = name;
    while (*a != '\0' && *a == *b) {
      ++a;
      ++b;
    }
    if (*a == *b) return static_cast<int>(i);
  }
  return -1;
}

const char* keel_state_name(uint32_t state) {
  switch (state) {
    case KEEL_STATE_NOT_STARTED: return "not started";
    case KEEL_STATE_RUNNING: return "running";
    case KEEL_STATE_RESTARTING: return "restarting";
    case KEEL_STATE_STOPPED: return "stopped";
    case KEEL_STATE_FAILED: return "failed";
    default: return "unknown";
  }
}

keel_error_t keel_cpu_usage(uint32_t index, keel_cpu_usage_t* u) {
  if (u == nullptr) return KEEL_INVALID_ARGUMENT;
  auto r = request<rpc::sched::Usage>(index);
  if (!r.ok()) return r.error();
  const auto& [used_us, budget_us, period_us, manifest_budget_us] = r.value();
  *u = keel_cpu_usage_t{used_us, budget_us, period_us, manifest_budget_us};
  return KEEL_OK;
}

keel_error_t keel_set_budget(uint32_t index, uint32_t budget_us) {
  return status(request<rpc::sched::SetBudget>(index, budget_us));
}

size_t keel_heap_size(void) {
  const keel_info_t* info = keel_info();
  return info != nullptr ? static_cast<size_t>(info->heap_size) : 0;
}

}  // extern "C"

// keel-clock — the clock server (component `clock`; docs/os-services.md "Clock").
//
// Monotonic time is the generic timer's counter (CNTVCT_EL0), which every component reads itself.
// The clock adds what needs a server:
//  * wall time: the PL031 RTC's seconds (device `rtc`) read once at start, then the counter since;
//  * timeouts: up to KEEL_CLOCK_TIMERS per client, one-shot or periodic, kept in one heap ordered
//    by deadline (timers.cc). The earliest deadline is programmed into the EL1 physical timer
//    (irq-only device `ptimer`, IRQ 30) with IRQHandler_SetDeadline; when it fires the clock
//    collects every due timer and signals each client whose timer fired through the notification
//    cap at KEEL_SLOT_PRIVILEGED + client (badge KEEL_NOTIFY_TIMER); the client asks which with
//    KEEL_CLOCK_EXPIRED.
// A client that restarted (its generation in the system page changed) loses its timers: they
// belonged to the old instance, whose notification no longer exists.
#include "keel/bootspec/reader.h"
#include "keel/clock/timers.h"
#include "keel/keel.h"
#include "keel/rt/invocations.h"
#include "keel/rt/rt.hh"
#include "keel/rt/syscall.h"
#include "keel/sys/fair_server.hh"
#include "keel/sys/service.h"
#include "keel/sys/sessions.hh"

namespace {

using keel::bootspec::Spec;

constexpr std::uint32_t kRtcDr = 0x00;  // PL031 data register: seconds since 1970

keel::clock::TimerQueue g_queue;
Spec g_spec;
std::uint32_t g_count = 0;
bool g_client[KEEL_MAX_COMPONENTS];       // the manifest gives it the 'clock' service
std::uint64_t g_gen[KEEL_MAX_COMPONENTS];  // its generation when its timers were set
keel_cptr_t g_timer = 0;                   // IRQ handler of `ptimer`
keel::sys::FairServer g_server;
constexpr std::uint64_t kMaxFiringsPerSecond = 2000;
std::uint64_t g_timer_bit = 0;
std::uint64_t g_programmed = 0;  // the deadline the user timer is armed for (0 = disarmed)
std::uint64_t g_freq = 1, g_t0 = 0, g_rtc0 = 0;

[[noreturn]] void fail(const char* what) {
  keel_logf("fatal: %s", what);
  keel_exit(1);
  for (;;) keel_yield();
}

const volatile keel_system_page_t* system_page() { return keel::sys::system_page(g_count); }
std::uint64_t generation_of(std::uint32_t c) {
  const auto* p = system_page();
  return p != nullptr ? p->components[c].generation : 0;
}
bool running(std::uint32_t c) {
  const auto* p = system_page();
  return p != nullptr && p->components[c].state == KEEL_STATE_RUNNING;
}

bool spec_has_service(std::uint32_t c, const char* name) { return keel::sys::has_service(g_spec, c, name); }

void program() {
  const std::uint64_t next = g_queue.next_deadline();
  if (next == g_programmed) return;
  const keel_error_t e = keel_irq_handler_set_deadline(g_timer, next);
  if (e != KEEL_OK) {
    keel_logf("IRQHandler_SetDeadline(%lu) failed: error %d", static_cast<unsigned long>(next), static_cast<int>(e));
    return;
  }
  g_programmed = next;
}

// A client restarted since it set its timers: they die with the old instance.
void refresh(std::uint32_t c) {
  const std::uint64_t gen = generation_of(c);
  if (gen != g_gen[c]) {
    g_queue.reset_client(c);
    g_gen[c] = gen;
  }
}

void on_timer_irq() {
  g_programmed = 0;  // the kernel disarmed it when it fired (one-shot)
  (void)keel_irq_handler_ack(g_timer);
  std::uint64_t clients = g_queue.expire(keel::rt::timer_count());
  while (clients != 0) {
    const auto c = static_cast<std::uint32_t>(__builtin_ctzll(clients));
    clients &= clients - 1;
    // Its notification cap is rebuilt by the root server when it restarts; only signal the
    // instance that set the timers, and only while it is RUNNING (an empty slot is a CapFault).
    if (!running(c) || generation_of(c) != g_gen[c]) {
      g_queue.reset_client(c);
      g_gen[c] = generation_of(c);
      continue;
    }
    keel_signal(KEEL_SLOT_PRIVILEGED + c);
  }
  program();
}

keel_word_t status_reply(keel_error_t s) { return keel_msginfo_new(s, 0, 0, 0); }

keel_word_t handle(keel_word_t badge, keel_word_t info) {
  if (badge < 1 || badge > g_count) return status_reply(KEEL_INVALID_ARGUMENT);
  const auto c = static_cast<std::uint32_t>(badge - 1);
  if (!g_client[c]) return status_reply(KEEL_DENIED);
  using namespace keel::rpc;
  switch (keel_msginfo_label(info)) {
    case KEEL_CLOCK_WALL:
      return serve<clock::Wall>(info, [&]() -> keel::Result<std::uint64_t> {
        return keel::clock::wall_ns(g_rtc0, g_t0, keel::rt::timer_count(), g_freq);
      });
    case KEEL_CLOCK_TIMEOUT:
      return serve<clock::Timeout>(info, [&](std::uint32_t id, std::uint64_t deadline, std::uint64_t period) {
        if (id >= KEEL_CLOCK_TIMERS) return keel::check(KEEL_INVALID_ARGUMENT);
        refresh(c);
        const keel_error_t s = g_queue.set(c, id, deadline, period);
        if (s == KEEL_OK) program();
        return keel::check(s);
      });
    case KEEL_CLOCK_EXPIRED:
      return serve<clock::Expired>(info, [&]() -> keel::Result<std::uint64_t> {
        refresh(c);
        return g_queue.take_expired(c);
      });
    default:
      return status_reply(KEEL_INVALID_ARGUMENT);
  }
}

void setup(const keel_info_t* info) {
  auto spec = keel::sys::read_spec_copy(info, "clock");
  if (!spec.ok()) fail(spec.error());
  g_spec = spec.value();
  g_server.init(g_spec, info->index);
  g_count = g_spec.count(keel::bootspec::Table::kComponents);
  for (std::uint32_t c = 0; c < g_count; ++c) {
    g_client[c] = spec_has_service(c, "clock");
    g_gen[c] = generation_of(c);
  }

  const int dev = keel_info_find_device(info, "rtc");
  if (dev < 0) fail("device rtc not granted (manifest: devices = [\"rtc\"])");
  const auto* rtc = reinterpret_cast<const volatile std::uint32_t*>(keel_info_devices(info)[dev].vaddr);
  const int irq = keel_info_find_irq(info, "ptimer");
  if (irq < 0 || static_cast<std::uint32_t>(irq) >= KEEL_MAX_IRQS) fail("IRQ ptimer not granted (manifest: irqs = [\"ptimer\"])");
  g_timer = keel_info_irqs(info)[irq].slot;
  g_timer_bit = keel_word_t{1} << (KEEL_NOTIFY_IRQ_SHIFT + irq);

  g_freq = info->timer_frequency != 0 ? info->timer_frequency : keel::rt::timer_frequency();
  if (g_freq == 0) fail("no timer frequency");
  g_rtc0 = rtc[kRtcDr / 4];
  g_t0 = keel::rt::timer_count();
  // Periods below 100 us, or periodic timers of one client adding up to more than 2,000 firings
  // a second, would let one client keep the clock busy (docs/os-services.md "Fair service").
  g_queue.init(g_count, g_freq / 10000 != 0 ? g_freq / 10000 : 1, g_freq, kMaxFiringsPerSecond);
  // A previous instance's deadline was cancelled when its handler went; start clean anyway.
  if (keel_irq_handler_set_deadline(g_timer, 0) != KEEL_OK) fail("ptimer is not the user timer");
  (void)keel_irq_handler_ack(g_timer);
}

}  // namespace

extern "C" int keel_main(void* start_arg) {
  const auto* info = static_cast<const keel_info_t*>(start_arg);
  if (keel_info() == nullptr || info != keel_info()) fail("no component info page");
  setup(info);
  std::uint32_t clients = 0;
  for (std::uint32_t c = 0; c < g_count; ++c) clients += g_client[c] ? 1 : 0;
  keel_logf("ready: rtc %lu s, counter %lu Hz, %u clients%s", static_cast<unsigned long>(g_rtc0),
            static_cast<unsigned long>(g_freq), clients, info->generation > 0 ? " (restarted)" : "");

  keel_word_t badge = 0;
  keel_word_t msg = g_server.next(0, &badge);
  for (;;) {
    keel_word_t reply;
    if (msg == 0) {
      // Here no message is in flight (logging is an IPC that rewrites the message registers).
      g_server.report_held([](std::uint32_t c, std::uint32_t n) {
        const auto name = g_spec.str(g_spec.component(c).name);
        keel_logf("%.*s: %u answers held (over its share of this service's time)", static_cast<int>(name.len), name.data, n);
      });
      // The bound notification (our IRQ bit), or an empty label-0 call, which gets KEEL_INVALID_ARGUMENT
      // below (with no caller waiting the reply goes nowhere). Service badges are 1..64 and
      // never carry IRQ bits (16 and up).
      if ((badge & g_timer_bit) != 0) on_timer_irq();
      reply = status_reply(KEEL_INVALID_ARGUMENT);
    } else {
      reply = handle(badge, msg);
    }
    msg = g_server.next(reply, &badge);
  }
}

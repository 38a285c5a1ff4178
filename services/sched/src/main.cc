// keel-sched — the scheduler server (component `sched`; docs/os-services.md "Scheduler").
//
// It holds every component's SchedContext at KEEL_SLOT_PRIVILEGED + i (the root server keeps
// SchedControl and configures them; budget changes go through KEEL_ROOT_SET_BUDGET) and:
//  * accumulates each component's CPU time with SchedContext_Consumed: on every KEEL_SCHED_USAGE
//    (a fresh read of that component), on every KEEL_NOTIFY_SYSTEM, and every 100 ms from a
//    periodic clock timer (when the manifest grants sched the 'clock' service). The periodic poll
//    bounds what a restart loses: a component's SchedContext dies with it, taking the time it
//    used since the last read. Without 'clock' it reads on demand only (documented limitation).
//  * answers KEEL_SCHED_USAGE and KEEL_SCHED_SET_BUDGET for components whose manifest grants
//    'sched' (table.cc: limits 10 us .. the manifest's budget; core services' budgets are fixed);
//  * re-applies a changed budget after the component restarts (the root server rebuilds its
//    SchedContext with the manifest's budget).
#include "keel/bootspec/reader.h"
#include "keel/keel.h"
#include "keel/rt/invocations.h"
#include "keel/rt/rt.hh"
#include "keel/sys/fair_server.hh"
#include "keel/sys/service.h"
#include "keel/sys/sessions.hh"
#include "keel/rt/syscall.h"
#include "keel/sched/table.h"

namespace {

using keel::bootspec::Spec;

constexpr std::uint64_t kPollMs = 100;
constexpr keel_word_t kPollTimer = 0;

Spec g_spec;
keel::sched::Table g_table;
std::uint32_t g_count = 0, g_self = 0, g_clock = 0xffffffffu;
bool g_have_clock = false;
std::uint64_t g_clock_gen = 0;
bool g_timer_armed = false;
keel::sys::FairServer g_server;

[[noreturn]] void fail(const char* what) {
  keel_logf("fatal: %s", what);
  keel_exit(1);
  for (;;) keel_yield();
}

const volatile keel_system_page_t* system_page() { return keel::sys::system_page(g_count); }
bool running(std::uint32_t c, std::uint64_t* gen) {
  const auto* p = system_page();
  if (p == nullptr) return false;
  *gen = p->components[c].generation;
  return p->components[c].state == KEEL_STATE_RUNNING;
}

bool spec_has_service(std::uint32_t c, const char* name) { return keel::sys::has_service(g_spec, c, name); }

keel_error_t root_set_budget(std::uint32_t c, std::uint32_t budget_us) {
  auto r = keel::rpc::call<keel::rpc::root::SetBudget>(c, budget_us, g_table.at(c).period_us);
  return r.ok() ? KEEL_OK : r.error();
}

// Reads component c's SchedContext (only while it is RUNNING: its slot is refilled before that,
// and an empty slot would be a CapFault). A new instance first: it may need its budget again.
void poll(std::uint32_t c) {
  std::uint64_t gen = 0;
  if (!running(c, &gen)) return;
  const std::uint32_t again = g_table.observe_generation(c, gen);
  if (again != 0) {
    const keel_error_t s = root_set_budget(c, again);
    const auto n = g_spec.str(g_spec.component(c).name);
    if (s == KEEL_OK) {
      keel_logf("%.*s restarted: budget %u us applied again", static_cast<int>(n.len), n.data, again);
    } else {
      keel_logf("%.*s restarted: applying budget %u us again failed (%s)", static_cast<int>(n.len), n.data, again,
                keel_error_name(s));
      g_table.applied(c, g_table.at(c).manifest_budget_us);  // what its new SchedContext has
    }
  }
  keel_word_t us = 0;
  if (keel_sched_context_consumed(KEEL_SLOT_PRIVILEGED + c, &us) == KEEL_OK) g_table.add_consumed(c, us);
}

void poll_all() {
  for (std::uint32_t c = 0; c < g_count; ++c) poll(c);
}

// The periodic poll timer (clock timer 0). Re-armed when the clock restarted (its timers died).
void arm_timer() {
  if (!g_have_clock) return;
  std::uint64_t gen = 0;
  if (g_clock < g_count && !running(g_clock, &gen)) return;
  if (g_timer_armed && gen == g_clock_gen) return;
  const std::uint64_t period = keel::rt::timer_frequency() / 1000 * kPollMs;
  g_timer_armed = keel::rpc::call<keel::rpc::clock::Timeout>(kPollTimer, keel::rt::timer_count() + period, period).ok();
  g_clock_gen = gen;
}

void on_timer() {
  // Collect (and so clear) the expiry; only timer 0 is ours.
  (void)keel::rpc::call<keel::rpc::clock::Expired>();
  poll_all();
}

keel_word_t status_reply(keel_error_t s) { return keel_msginfo_new(s, 0, 0, 0); }

keel_word_t handle(keel_word_t badge, keel_word_t info) {
  namespace rpc = keel::rpc;
  if (badge < 1 || badge > g_count) return status_reply(KEEL_INVALID_ARGUMENT);
  const auto caller = static_cast<std::uint32_t>(badge - 1);
  switch (keel_msginfo_label(info)) {
    case KEEL_SCHED_USAGE:
      return rpc::serve<rpc::sched::Usage>(info, [&](std::uint64_t target) -> keel::Result<rpc::sched::Usage::Value> {
        TRY(keel::check(g_table.check_usage(caller, target)));
        const auto t = static_cast<std::uint32_t>(target);
        poll(t);
        const auto& e = g_table.at(t);
        rpc::sched::Usage::Value v;
        v.get<0>() = e.total_us;
        v.get<1>() = e.budget_us;
        v.get<2>() = e.period_us;
        v.get<3>() = e.manifest_budget_us;
        return v;
      });
    case KEEL_SCHED_SET_BUDGET:
      return rpc::serve<rpc::sched::SetBudget>(info, [&](std::uint64_t target, std::uint64_t budget) -> keel::Result<void> {
        keel_error_t s = g_table.check_set_budget(caller, target, budget);
        const auto who = g_spec.str(g_spec.component(caller).name);
        if (s != KEEL_OK) {
          keel_logf("refused: %.*s asked for budget %lu us of component %lu (%s)", static_cast<int>(who.len), who.data,
                    static_cast<unsigned long>(budget), static_cast<unsigned long>(target), keel_error_name(s));
          return keel::Err{s};
        }
        const auto t = static_cast<std::uint32_t>(target);
        poll(t);  // its use so far counts at the old budget
        s = root_set_budget(t, static_cast<std::uint32_t>(budget));
        if (s == KEEL_OK) g_table.applied(t, static_cast<std::uint32_t>(budget));
        const auto n = g_spec.str(g_spec.component(t).name);
        keel_logf("%.*s: budget %lu/%u us (asked by %.*s): %s", static_cast<int>(n.len), n.data,
                  static_cast<unsigned long>(budget), g_table.at(t).period_us, static_cast<int>(who.len), who.data,
                  keel_error_name(s));
        return keel::check(s);
      });
    default:
      return status_reply(KEEL_INVALID_ARGUMENT);
  }
}

void setup(const keel_info_t* info) {
  auto spec = keel::sys::read_spec_copy(info, "sched");
  if (!spec.ok()) fail(spec.error());
  g_spec = spec.value();
  g_server.init(g_spec, info->index);
  g_count = g_spec.count(keel::bootspec::Table::kComponents);
  g_self = info->index;
  g_table.init(g_count);
  for (std::uint32_t c = 0; c < g_count; ++c) {
    const auto& rec = g_spec.component(c);
    std::uint64_t gen = 0;
    (void)running(c, &gen);
    g_table.describe(c, rec.budget_us, rec.period_us, spec_has_service(c, "sched"), keel::sys::is_core_service(g_spec, c), gen);
    if (g_spec.str(rec.name) == "clock") g_clock = c;
  }
  g_have_clock = (info->services & KEEL_SERVICE_CLOCK) != 0 && g_clock < g_count;
}

}  // namespace

extern "C" int keel_main(void* start_arg) {
  const auto* info = static_cast<const keel_info_t*>(start_arg);
  if (keel_info() == nullptr || info != keel_info()) fail("no component info page");
  setup(info);
  arm_timer();
  keel_logf("ready: %u components, CPU use polled every %lu ms%s%s", g_count, static_cast<unsigned long>(kPollMs),
            g_have_clock ? (g_timer_armed ? " (clock timer)" : " (clock timer failed: on demand)") : " (no clock: on demand)",
            info->generation > 0 ? " (restarted)" : "");

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
      // The bound notification (timer, system page), or an empty label-0 call, which gets
      // KEEL_INVALID_ARGUMENT below. Such a call's badge (1..64) can look like TIMER/SYSTEM bits: the
      // worst it does is trigger an extra poll.
      if ((badge & KEEL_NOTIFY_TIMER) != 0) on_timer();
      if ((badge & KEEL_NOTIFY_SYSTEM) != 0) {
        poll_all();
        arm_timer();
      }
      reply = status_reply(KEEL_INVALID_ARGUMENT);
    } else {
      reply = handle(badge, msg);
    }
    msg = g_server.next(reply, &badge);
  }
}

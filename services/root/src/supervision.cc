// Supervision and fairness of the root server: carrying out the Supervisor's decisions (restart
// with back-off, stop, the safe state) and the fairness rule for the root's own time (shares,
// held answers, log limits, the ticker's windows). docs/os-services.md "Supervision (root)" and
// "Fair service"; main.cc receives the faults and requests and calls in here.
#include <cstdint>

#include "keel/rt/printf.h"
#include "keel/rt/rt.hh"
#include "keel/rt/syscall.h"
#include "root.h"

namespace keel::root {
namespace {

// Fairness (keel/sys/fair.hh, docs/os-services.md "Fair service"): the root server's time spent
// for one component (its faults and requests) is at most kShareUs per kWindowUs; past it, the
// component's next answer waits for the next window. Per component at most kLogLines log lines
// per kLogWindowUs, the rest summed up in one line.
constexpr std::uint64_t kWindowUs = 10000, kShareUs = 200;
constexpr std::uint64_t kRequestCostUs = 2;  // the least a fault or request is charged (Shares::init)
constexpr std::uint64_t kLogWindowUs = 1000000;
constexpr std::uint32_t kLogLines = 8;
constexpr std::uint32_t kTickerBudgetUs = 100;
// Restart back-off (supervisor.h Backoff): 10 ms doubling to 1 s for a component that fails again
// within 1 s of its start; 100 ms doubling to 5 s for system restarts within 30 s of each other;
// the 5th system restart in such a row is replaced by the safe state.
constexpr std::uint64_t kBackoffBaseMs = 10, kBackoffCapMs = 1000, kStableMs = 1000;
constexpr std::uint64_t kSystemBaseMs = 100, kSystemCapMs = 5000, kSystemStableMs = 30000;
constexpr std::uint32_t kSafeAfter = 5;
constexpr int kSafeStateExit = 5;  // the run's exit status in the safe state (debug kernels)

bool ticker_armed = false;     // the ticker was signalled and has not woken the root yet
bool window_rolled = false;    // the fairness window rolled since the last housekeeping
std::uint64_t log_window_end = 0;
std::uint32_t held_count[KEEL_MAX_COMPONENTS];  // answers held per component since the last report
bool held_unreported = false;

std::uint64_t ms(std::uint64_t v) { return v * g.freq / 1000; }

}  // namespace

void print_name(std::uint32_t c) {
  const auto n = g.spec.str(g.spec.component(c).name);
  keel_printf("%.*s", static_cast<int>(n.len), n.data);
}

std::uint64_t now() { return keel::rt::timer_count(); }

void report(std::uint32_t c, keel_error_t e) {
  keel_printf("root: ");
  print_name(c);
  keel_printf(": %s failed: %s\n", g.failed_step, keel_error_name(e));
}


// "root: <name>" for a line about component c, unless c used up its log lines (LogLimit).
bool say(std::uint32_t c, const char* prefix) {
  if (!g.log.allow(c)) return false;
  keel_printf("root: %s", prefix);
  print_name(c);
  return true;
}

void want_tick() {
  if (ticker_armed) return;
  ticker_armed = true;
  arm_ticker();
}

namespace {

// A component going down forgets what the fairness rule held for it.
void forget_held(std::uint32_t c) {
  (void)g.held.drop(c);
  g.held_resume &= ~bit(c);
  g.tick_wanted &= ~bit(c);
}

// Destroys the set `s` (it is RESTARTING until bring_up).
void take_down(Set s) {
  for (std::uint32_t c = g.count; c-- > 0;) {
    if (!(s & bit(c)) || !g.comp[c].valid) continue;
    g.comp[c].state = KEEL_STATE_RESTARTING;
    forget_held(c);
    if (auto r = destroy(c); !r.ok()) report(c, r.error());
    publish(c);
  }
  notify_system();  // msg tears down the channels of everything in `s` before anything restarts
}

// Rebuilds and restarts the set `s` (dependency order). Components that cannot be rebuilt are
// reported and left stopped; the rest of the system keeps running.
void bring_up(Set s, bool count_restart) {
  for (std::uint32_t c = 0; c < g.count; ++c) {
    if (!(s & bit(c))) continue;
    Comp& k = g.comp[c];
    ++k.generation;
    if (count_restart) ++k.restarts;
    if (auto r = build(c); !r.ok()) {
      report(c, r.error());
      k.state = KEEL_STATE_FAILED;
      publish(c);
      continue;
    }
  }
  for (std::uint32_t c = 0; c < g.count; ++c)
    if ((s & bit(c)) && g.comp[c].state == KEEL_STATE_RESTARTING)
      if (auto r = wire(c); !r.ok()) report(c, r.error());
  for (std::uint32_t c = 0; c < g.count; ++c) {
    if (!(s & bit(c)) || g.comp[c].state != KEEL_STATE_RESTARTING) continue;
    g.comp[c].state = KEEL_STATE_RUNNING;
    publish(c);
    if (auto r = start(c); !r.ok()) report(c, r.error());
  }
  g.sup.started(s, now());
  notify_system();
}

void restart_set(Set s, bool count_restart) {
  take_down(s);
  bring_up(s, count_restart);
}

void stop_set(Set s) {
  for (std::uint32_t c = 0; c < g.count; ++c) {
    if (!(s & bit(c)) || !g.comp[c].valid) continue;
    if (auto r = destroy(c); !r.ok()) report(c, r.error());
    g.comp[c].state = KEEL_STATE_STOPPED;
    publish(c);
    keel_printf("root: ");
    print_name(c);
    keel_printf(" stopped (not restarted)\n");
  }
  notify_system();
}

// The system kept failing at the top: every component stops, the system page says so, and the
// run ends (halt(): a debug kernel stops the machine; on a release kernel the root server
// suspends itself and serial stays to print the report).
void enter_safe_state() {
  keel_printf("root: SAFE STATE: %u system restarts in a row, each within %lu s of the last; stopping every component\n",
              g.sup.system_streak(), static_cast<unsigned long>(kSystemStableMs / 1000));
  g.pending_restart = 0;
  for (std::uint32_t c = 0; c < g.count; ++c) forget_held(c);
  // A release kernel has no console but serial: it keeps running (if it is) to print this report.
  Set stop = g.sup.all();
  const std::uint32_t serial = provider(Provider::kSerial);
  if (!log_has_console() && serial < g.count && g.comp[serial].state == KEEL_STATE_RUNNING) stop &= ~bit(serial);
  stop_set(stop);
  g.safe_state = true;
  g.sys->safe_state = 1;
  ++g.sys->sequence;
  std::uint32_t restarts = 0;
  for (std::uint32_t c = 0; c < g.count; ++c) restarts += g.comp[c].restarts;
  const std::uint64_t up_ms = now() * 1000 / g.freq;
  keel_printf("root: safe state reached after %u restarts in %lu ms: BENCH os.crash_loop.restarts_per_s %lu restarts/s\n",
              restarts, static_cast<unsigned long>(up_ms),
              static_cast<unsigned long>(up_ms == 0 ? 0 : std::uint64_t{restarts} * 1000 / up_ms));
  keel_printf("root: the system stays stopped until it is reset\n");
  halt(kSafeStateExit);
}

}  // namespace

void handle_event(std::uint32_t c, Event e) {
  if (g.safe_state) return;
  const Decision d = g.sup.on_event(c, e, now());
  if (d.escalations != 0) {
    const auto& from = g.spec.group(d.escalated_from);
    const auto gn = g.spec.str(from.name);
    keel_printf("root: group %.*s exceeded its restart intensity (%u in %u s): ", static_cast<int>(gn.len), gn.data,
                from.intensity, from.period_s);
    if (d.system_restart) {
      keel_printf("escalated past the top group: restarting the system\n");
    } else {
      const auto to = g.spec.str(g.spec.group(d.escalated_to).name);
      keel_printf("escalated to group %.*s\n", static_cast<int>(to.len), to.data);
    }
  }
  if (d.safe_state) {
    enter_safe_state();
    return;
  }
  if (d.stop) stop_set(d.stop);
  if (d.system_restart) {
    ++g.system_restarts;
    g.sup.reset_intensity();
  }
  if (d.restart) {
    keel_printf("root: restarting");
    for (std::uint32_t i = 0; i < g.count; ++i)
      if (d.restart & bit(i)) {
        keel_printf(" ");
        print_name(i);
      }
    if (d.delay != 0) keel_printf(" in %lu ms (back-off)", static_cast<unsigned long>(d.delay * 1000 / g.freq));
    keel_printf("\n");
    if (d.delay == 0 && g.pending_restart == 0) {
      restart_set(d.restart, true);
    } else {
      // Down now, up when the back-off has passed (the ticker wakes the root server).
      take_down(d.restart);
      g.pending_restart |= d.restart;
      const std::uint64_t at = now() + d.delay;
      if (at > g.restart_at) g.restart_at = at;
      want_tick();
    }
  }
}

void restart_on_request(std::uint32_t by, std::uint32_t target) {
  if (g.safe_state) return;
  const Decision d = g.sup.on_request(target);
  // Temporary components swept along stop; those already down are left as they are.
  Set stop = 0;
  for (std::uint32_t i = 0; i < g.count; ++i)
    if ((d.stop & bit(i)) && g.comp[i].state != KEEL_STATE_STOPPED) stop |= bit(i);
  if (stop) stop_set(stop);
  if (d.system_restart) {
    ++g.system_restarts;
    g.sup.reset_intensity();
  }
  if (d.restart == 0) return;
  keel_printf("root: restarting");
  if (d.system_restart) {
    keel_printf(" the system");
  } else {
    for (std::uint32_t i = 0; i < g.count; ++i)
      if (d.restart & bit(i)) {
        keel_printf(" ");
        print_name(i);
      }
  }
  keel_printf(" (asked by ");
  print_name(by);
  keel_printf(")\n");
  // A restart waiting for its back-off: this set joins it (down now, up with it); a component
  // already down in it simply stays in it.
  if (g.pending_restart == 0) {
    restart_set(d.restart, true);
  } else {
    take_down(d.restart & ~g.pending_restart);
    g.pending_restart |= d.restart;
    want_tick();
  }
}

namespace {

// Everything that waits for time: a new fairness window (held answers go out, core services that
// asked get KEEL_NOTIFY_TICK), the log window's summaries, restarts whose back-off has passed.
void housekeeping(std::uint64_t t) {
  if (g.shares.roll(t) || window_rolled) {
    window_rolled = false;
    g.held.release_all([](const sys::Held& h) {
      keel_word_t* mr = keel_get_ipc_buffer()->msg;
      for (std::uint32_t i = 0; i < h.len; ++i) mr[i] = h.words[i];
      reply_via(h.reply, h.info);
    });
    for (std::uint32_t c = 0; c < g.count; ++c) {
      if (g.held_resume & bit(c)) (void)keel_tcb_resume(comp_slot(c, kSlotTcb));
      if (g.tick_wanted & bit(c)) signal_bits(c, KEEL_NOTIFY_TICK);
    }
    g.held_resume = 0;
    g.tick_wanted = 0;
  }
  if (t >= log_window_end) {
    g.log.roll([](std::uint32_t c, std::uint32_t n) {
      keel_printf("root: ");
      print_name(c);
      keel_printf(": %u more lines suppressed\n", n);
    });
    for (std::uint32_t c = 0; c < g.count; ++c)
      if (held_count[c] != 0) {
        keel_printf("root: ");
        print_name(c);
        keel_printf(": %u answers held (over its share of the root server's time)\n", held_count[c]);
        held_count[c] = 0;
      }
    held_unreported = false;
    log_window_end = t + kLogWindowUs * g.freq / 1000000;
  }
  if (g.pending_restart != 0 && t >= g.restart_at) {
    const Set s = g.pending_restart;
    g.pending_restart = 0;
    g.restart_at = 0;
    bring_up(s, true);
  }
  if (g.held.count() != 0 || g.held_resume != 0 || g.tick_wanted != 0 || g.pending_restart != 0 || g.log.pending() || held_unreported)
    want_tick();
}


}  // namespace

void note_held(std::uint32_t c) {
  if (c < KEEL_MAX_COMPONENTS && held_count[c] != ~std::uint32_t{0}) ++held_count[c];
  held_unreported = true;
}

void init_fairness() {
  g.sup.set_backoff(Backoff{ms(kBackoffBaseMs), ms(kBackoffCapMs), ms(kStableMs), ms(kSystemBaseMs),
                            ms(kSystemCapMs), ms(kSystemStableMs), kSafeAfter});
  g.shares.init(kWindowUs * g.freq / 1000000, kShareUs * g.freq / 1000000, now(), kRequestCostUs * g.freq / 1000000);
  g.log.init(kLogLines);
  for (std::uint32_t c = 0; c < g.count; ++c)
    if (is_provider(c)) g.shares.exempt(c);  // core services: their own budgets bound them, as in fair_server.hh
  log_window_end = now() + kLogWindowUs * g.freq / 1000000;
}

Result<void> start_fairness() {
  keel_cptr_t spares[KEEL_MAX_COMPONENTS];
  for (std::uint32_t c = 0; c < g.count; ++c) spares[c] = g.spare_base + c;
  g.held.init(spares, g.count);
  return start_ticker(static_cast<std::uint32_t>(kWindowUs), kTickerBudgetUs);
}

void on_tick(std::uint64_t t) {
  ticker_armed = false;
  housekeeping(t);
}

keel_word_t charge(std::uint32_t c, std::uint64_t t0, keel_word_t reply) {
  // Housekeeping waits for the ticker: it would overwrite the message registers, which hold the
  // reply now. A new window is only noted here.
  if (g.shares.roll(t0)) window_rolled = true;
  g.shares.charge(c, now() - t0);
  if (reply != 0 && g.shares.over(c)) {
    keel_word_t* mr = keel_get_ipc_buffer()->msg;
    const keel_cptr_t spare = g.held.hold(c, g.reply, reply, mr, static_cast<std::uint32_t>(keel_msginfo_length(reply)));
    if (spare != 0) {
      g.reply = spare;
      reply = 0;
      note_held(c);
    }
  }
  if (window_rolled || g.held.count() != 0 || g.held_resume != 0 || g.tick_wanted != 0 || g.pending_restart != 0 ||
      g.log.pending() || held_unreported)
    want_tick();
  return reply;
}

}  // namespace keel::root

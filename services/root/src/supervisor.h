// Supervision decisions of the root server (OTP-style), as pure logic: given the group tree, the
// components' restart types, groups and dependencies, and what just happened to one component,
// decide which components are restarted, which stop, and whether the system restarts. No kernel
// calls here: services/root/src/main.cc carries the decision out; test/supervisor_test.cc checks
// every strategy, intensity and escalation on the host.
#pragma once

#include <cstdint>

#include "keel/bootspec/limits.h"

namespace keel::root {

inline constexpr std::uint32_t kMaxComponents = bootspec::limits::kMaxComponents;
inline constexpr std::uint32_t kMaxGroups = bootspec::limits::kMaxGroups;
inline constexpr std::uint32_t kNoGroup = 0xffffffffu;
// Restarts remembered per group: the compiler refuses an intensity above kMaxRestartIntensity.
inline constexpr std::uint32_t kMaxIntensityWindow = bootspec::limits::kMaxRestartIntensity + 1;

using Set = std::uint64_t;  // a set of component indices
inline constexpr Set bit(std::uint32_t i) { return Set{1} << i; }

enum class RestartType : std::uint8_t { kPermanent = 0, kTransient = 1, kTemporary = 2 };
enum class Strategy : std::uint8_t { kOneForOne = 0, kOneForAll = 1, kRestForOne = 2 };

struct GroupDef {
  std::uint32_t parent = kNoGroup;
  Strategy strategy = Strategy::kOneForOne;
  std::uint32_t intensity = 3;  // restarts allowed ...
  std::uint64_t period = 5;     // ... within this many time units (the caller's clock: ticks)
};

struct ComponentDef {
  std::uint32_t group = 0;
  RestartType restart = RestartType::kPermanent;
  Set depends_on = 0;  // direct dependencies (all have smaller indices)
};

enum class Event : std::uint8_t {
  kFault,          // a fault (any kind) — abnormal
  kAbnormalExit,   // keel_exit(non-zero)
  kNormalExit,     // keel_exit(0) / return 0 from keel_main
};

// Restart back-off, in the caller's time units (ticks). A component that fails within `stable` of
// its start for the second time in a row or more waits base, 2·base, 4·base ... (at most `cap`)
// before its next start; the first such failure, and one after a run of `stable` or longer,
// restart at once. A system restart within `system_stable` of
// the previous one waits system_base, 2·system_base ... (at most system_cap); the
// `safe_after`-th system restart in such a row is not done: the system goes to its safe state.
struct Backoff {
  std::uint64_t base = 0, cap = 0, stable = 0;
  std::uint64_t system_base = 0, system_cap = 0, system_stable = 0;
  std::uint32_t safe_after = 5;
};

struct Decision {
  Set restart = 0;       // components to rebuild and start again (dependency order = index order)
  std::uint64_t delay = 0;   // wait this long before rebuilding `restart` (back-off)
  bool safe_state = false;   // the system keeps failing at the top: stop everything, report
  Set stop = 0;          // components that stay down (temporary, or transient after a normal exit)
  bool system_restart = false;  // escalation went past the top group: rebuild everything
  std::uint32_t escalated_from = kNoGroup;  // the first (innermost) group whose intensity was exceeded
  std::uint32_t escalated_to = kNoGroup;    // the group that restarted it (kNoGroup: system restart)
  std::uint32_t escalations = 0;            // how many groups gave up on the way
};

class Supervisor {
 public:
  // groups[0] is the top group (parent kNoGroup); every other group's parent has a smaller index.
  // Returns false if the definition is inconsistent (the boot spec reader has checked this already;
  // the root server refuses to boot rather than supervise a broken tree).
  bool init(const GroupDef* groups, std::uint32_t group_count, const ComponentDef* comps, std::uint32_t count);
  void set_backoff(const Backoff& b) { backoff_ = b; }
  // The components in `s` were started (or restarted) at `now`: the back-off measures from here.
  void started(Set s, std::uint64_t now);
  std::uint32_t system_streak() const { return system_streak_; }

  // Something happened to component c at time `now` (same units as GroupDef::period).
  Decision on_event(std::uint32_t c, Event e, std::uint64_t now);
  // A restart of component c (or of the system: kSystem) was asked for (KEEL_ROOT_RESTART by a
  // `control = true` component). The same strategy and dependents as a fault of c, but it is no
  // failure: nothing is recorded towards any group's intensity or the back-off / safe-state
  // streaks, and it never escalates. Temporary components swept along stop; c itself (asked for
  // by name) restarts whatever its restart type.
  static constexpr std::uint32_t kSystem = 0xffffffffu;
  Decision on_request(std::uint32_t c) const;

  // Every component that depends on something in `s`, transitively, plus `s`.
  Set with_dependents(Set s) const;
  // Every component in group g or any group below it.
  Set subtree(std::uint32_t g) const { return subtree_[g]; }
  Set all() const { return count_ == 64 ? ~Set{0} : bit(count_) - 1; }
  std::uint32_t restarts_in_window(std::uint32_t g, std::uint64_t now) const;
  void reset_intensity();  // after a system restart

 private:
  // Records a restart of group g's member at `now`; false if that exceeds g's intensity.
  bool record(std::uint32_t g, std::uint64_t now);
  // The member of group g (a component or a direct child group) that contains component c.
  Set member_of(std::uint32_t g, std::uint32_t c) const;
  // Applies g's strategy for a failed member `failed` (a set: one component or one subgroup).
  Set apply_strategy(std::uint32_t g, Set failed) const;

  // The back-off of a restart of `s` decided at `now` (and the streaks it counts).
  std::uint64_t component_delay(Set s, std::uint64_t now);

  Backoff backoff_;
  std::uint64_t started_at_[kMaxComponents] = {};
  std::uint32_t streak_[kMaxComponents] = {};  // quick failures in a row
  std::uint64_t last_system_restart_ = 0;
  std::uint32_t system_streak_ = 0;            // system restarts in a row, each within system_stable
  bool any_system_restart_ = false;
  GroupDef groups_[kMaxGroups] = {};
  ComponentDef comps_[kMaxComponents] = {};
  Set subtree_[kMaxGroups] = {};
  std::uint32_t group_count_ = 0, count_ = 0;
  // Ring of restart times per group.
  std::uint64_t times_[kMaxGroups][kMaxIntensityWindow] = {};
  std::uint32_t next_[kMaxGroups] = {};
  std::uint32_t filled_[kMaxGroups] = {};
};

}  // namespace keel::root

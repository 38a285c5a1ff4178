#include "supervisor.h"

namespace keel::root {

bool Supervisor::init(const GroupDef* groups, std::uint32_t group_count, const ComponentDef* comps,
                      std::uint32_t count) {
  if (group_count == 0 || group_count > kMaxGroups || count > kMaxComponents) return false;
  if (groups[0].parent != kNoGroup) return false;
  for (std::uint32_t g = 1; g < group_count; ++g)
    if (groups[g].parent >= g) return false;
  for (std::uint32_t c = 0; c < count; ++c) {
    if (comps[c].group >= group_count) return false;
    if (comps[c].depends_on & ~(c == 0 ? Set{0} : bit(c) - 1)) return false;  // only earlier ones
  }
  group_count_ = group_count;
  count_ = count;
  for (std::uint32_t g = 0; g < group_count; ++g) {
    groups_[g] = groups[g];
    if (groups_[g].intensity > kMaxIntensityWindow - 1) groups_[g].intensity = kMaxIntensityWindow - 1;
    subtree_[g] = 0;
  }
  for (std::uint32_t c = 0; c < count; ++c) comps_[c] = comps[c];
  // Children have larger indices than their parents: accumulate bottom-up.
  for (std::uint32_t c = 0; c < count; ++c) subtree_[comps_[c].group] |= bit(c);
  for (std::uint32_t g = group_count; g-- > 1;) subtree_[groups_[g].parent] |= subtree_[g];
  reset_intensity();
  return true;
}

void Supervisor::reset_intensity() {
  for (std::uint32_t g = 0; g < kMaxGroups; ++g) next_[g] = filled_[g] = 0;
}

Set Supervisor::with_dependents(Set s) const {
  // Dependencies point to smaller indices: one pass in index order closes the set.
  for (std::uint32_t c = 0; c < count_; ++c)
    if (comps_[c].depends_on & s) s |= bit(c);
  return s;
}

std::uint32_t Supervisor::restarts_in_window(std::uint32_t g, std::uint64_t now) const {
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; i < filled_[g]; ++i) {
    const std::uint64_t t = times_[g][i];
    if (t <= now && now - t < groups_[g].period) ++n;
  }
  return n;
}

bool Supervisor::record(std::uint32_t g, std::uint64_t now) {
  // "At most `intensity` restarts in `period`": the restart about to happen is counted; one more
  // than allowed escalates. intensity 0 means the group never restarts anything.
  const std::uint32_t before = restarts_in_window(g, now);
  if (before + 1 > groups_[g].intensity) return false;
  times_[g][next_[g]] = now;
  next_[g] = (next_[g] + 1) % kMaxIntensityWindow;
  if (filled_[g] < kMaxIntensityWindow) ++filled_[g];
  return true;
}

Set Supervisor::member_of(std::uint32_t g, std::uint32_t c) const {
  // Walk up from c's group to the direct child of g.
  std::uint32_t h = comps_[c].group;
  if (h == g) return bit(c);
  while (h != kNoGroup && groups_[h].parent != g) h = groups_[h].parent;
  return h == kNoGroup ? bit(c) : subtree_[h];
}

Set Supervisor::apply_strategy(std::uint32_t g, Set failed) const {
  switch (groups_[g].strategy) {
    case Strategy::kOneForOne:
      return failed;
    case Strategy::kOneForAll:
      return subtree_[g];
    case Strategy::kRestForOne: {
      // The failed member and every member after it, in dependency (= index) order: a member is
      // "after" if its first component comes after the failed member's first component.
      std::uint32_t first = 0;
      while (first < 64 && !(failed & bit(first))) ++first;
      Set out = failed;
      for (std::uint32_t c = 0; c < count_; ++c) {
        if (!(subtree_[g] & bit(c))) continue;
        const Set m = member_of(g, c);
        std::uint32_t mf = 0;
        while (mf < 64 && !(m & bit(mf))) ++mf;
        if (mf > first) out |= m;
      }
      return out;
    }
  }
  return failed;
}

void Supervisor::started(Set s, std::uint64_t now) {
  for (std::uint32_t c = 0; c < count_; ++c)
    if (s & bit(c)) started_at_[c] = now;
}

namespace {
std::uint64_t doubled(std::uint64_t base, std::uint32_t times, std::uint64_t cap) {
  std::uint64_t d = base;
  for (std::uint32_t i = 0; i < times && d < cap; ++i) d *= 2;
  return d < cap ? d : cap;
}
}  // namespace

std::uint64_t Supervisor::component_delay(Set s, std::uint64_t now) {
  std::uint64_t delay = 0;
  for (std::uint32_t c = 0; c < count_; ++c) {
    if (!(s & bit(c))) continue;
    // Only a component that failed itself counts: those swept along by a strategy did not fail.
    const bool quick = now - started_at_[c] < backoff_.stable;
    streak_[c] = quick ? streak_[c] + 1 : 0;
    // The first quick failure restarts at once (a component may fail once at start-up).
    if (streak_[c] < 2 || backoff_.base == 0) continue;
    const std::uint64_t d = doubled(backoff_.base, streak_[c] - 2, backoff_.cap);
    if (d > delay) delay = d;
  }
  return delay;
}

Decision Supervisor::on_request(std::uint32_t c) const {
  Decision d;
  if (c == kSystem) {
    d.system_restart = true;
    d.restart = all();
  } else if (c < count_) {
    d.restart = with_dependents(apply_strategy(comps_[c].group, bit(c)));
  } else {
    return d;
  }
  for (std::uint32_t i = 0; i < count_; ++i) {
    if ((d.restart & bit(i)) && comps_[i].restart == RestartType::kTemporary && i != c) {
      d.restart &= ~bit(i);
      d.stop |= bit(i);
    }
  }
  return d;
}

Decision Supervisor::on_event(std::uint32_t c, Event e, std::uint64_t now) {
  Decision d;
  if (c >= count_) return d;
  const ComponentDef& cd = comps_[c];
  const bool abnormal = e != Event::kNormalExit;
  const bool restart = cd.restart == RestartType::kPermanent ||
                       (cd.restart == RestartType::kTransient && abnormal);
  if (!restart) {
    // Stays down. Its dependents lose what they depend on: they are restarted (and will find its
    // channels down) only if they are themselves restartable; OTP leaves siblings alone.
    d.stop = bit(c);
    return d;
  }
  std::uint32_t g = cd.group;
  Set failed = bit(c);
  for (;;) {
    if (record(g, now)) {
      d.restart = apply_strategy(g, failed);
      if (d.escalations != 0) d.escalated_to = g;
      break;
    }
    // Intensity exceeded: the whole group has failed; its parent sees one failed member.
    if (d.escalations == 0) d.escalated_from = g;
    ++d.escalations;
    if (groups_[g].parent == kNoGroup) {
      d.system_restart = true;
      d.restart = all();
      break;
    }
    failed = subtree_[g];
    g = groups_[g].parent;
  }
  d.restart = with_dependents(d.restart);
  if (d.system_restart) {
    const bool quick = any_system_restart_ && now - last_system_restart_ < backoff_.system_stable;
    system_streak_ = quick ? system_streak_ + 1 : 1;
    any_system_restart_ = true;
    last_system_restart_ = now;
    if (backoff_.safe_after != 0 && system_streak_ >= backoff_.safe_after) {
      d.safe_state = true;
      d.restart = 0;
      d.stop = all();
      return d;
    }
    d.delay = system_streak_ <= 1 || backoff_.system_base == 0
                  ? 0
                  : doubled(backoff_.system_base, system_streak_ - 2, backoff_.system_cap);
    for (std::uint32_t i = 0; i < count_; ++i) streak_[i] = 0;
  } else {
    d.delay = component_delay(bit(c), now);
  }
  // Temporary components are never restarted, even when a strategy sweeps them along: they stop.
  for (std::uint32_t i = 0; i < count_; ++i) {
    if ((d.restart & bit(i)) && comps_[i].restart == RestartType::kTemporary && i != c) {
      d.restart &= ~bit(i);
      d.stop |= bit(i);
    }
  }
  return d;
}

}  // namespace keel::root

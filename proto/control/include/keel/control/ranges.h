// keel/control/ranges.h — a fixed-capacity set of half-open ranges [lo, hi) of 64-bit numbers,
// kept sorted and merged. Used for received packet numbers, a stream's received bytes, and a
// stream's acknowledged and lost bytes. Never grows: add() reports when the set is full.
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::control {

template <size_t N>
struct RangeSet {
  uint64_t lo[N];
  uint64_t hi[N];
  uint8_t n = 0;

  bool empty() const { return n == 0; }
  void clear() { n = 0; }
  bool contains(uint64_t v) const {
    for (size_t i = 0; i < n; ++i)
      if (v >= lo[i] && v < hi[i]) return true;
    return false;
  }
  // Adds [a, b). Returns false (set unchanged) when it would need an (N+1)th range.
  bool add(uint64_t a, uint64_t b) {
    if (a >= b) return true;
    size_t i = 0;
    while (i < n && hi[i] < a) ++i;  // first range that touches or follows [a, b)
    size_t j = i;
    while (j < n && lo[j] <= b) ++j;  // ranges [i, j) touch [a, b): merge them
    if (i == j) {
      if (n == N) return false;
      for (size_t k = n; k > i; --k) lo[k] = lo[k - 1], hi[k] = hi[k - 1];
      lo[i] = a, hi[i] = b;
      ++n;
      return true;
    }
    const uint64_t nlo = a < lo[i] ? a : lo[i];
    const uint64_t nhi = b > hi[j - 1] ? b : hi[j - 1];
    lo[i] = nlo, hi[i] = nhi;
    const size_t gone = j - i - 1;
    for (size_t k = i + 1; k + gone < n; ++k) lo[k] = lo[k + gone], hi[k] = hi[k + gone];
    n = uint8_t(n - gone);
    return true;
  }
  // Adds [a, b); when full, widens to the hull of the nearest ranges instead (never fails; used
  // where over-covering is safe, e.g. bytes to retransmit).
  void add_hull(uint64_t a, uint64_t b) {
    if (add(a, b)) return;
    const uint64_t nlo = a < lo[0] ? a : lo[0];
    const uint64_t nhi = b > hi[n - 1] ? b : hi[n - 1];
    n = 1, lo[0] = nlo, hi[0] = nhi;
  }
  // Drops the lowest range (used for received packet numbers when the set is full).
  void drop_lowest() {
    if (!n) return;
    for (size_t k = 1; k < n; ++k) lo[k - 1] = lo[k], hi[k - 1] = hi[k];
    --n;
  }
  // Removes everything below v.
  void remove_below(uint64_t v) {
    size_t k = 0;
    while (k < n && hi[k] <= v) ++k;
    if (k) {
      for (size_t m = k; m < n; ++m) lo[m - k] = lo[m], hi[m - k] = hi[m];
      n = uint8_t(n - k);
    }
    if (n && lo[0] < v) lo[0] = v;
  }
  // Removes [a, b) (may split a range; returns false if that needed an (N+1)th range: then the
  // set keeps a superset, which callers treat as "still to do").
  bool remove(uint64_t a, uint64_t b) {
    for (size_t i = 0; i < n; ++i) {
      if (hi[i] <= a || lo[i] >= b) continue;
      if (lo[i] >= a && hi[i] <= b) {  // wholly inside: delete
        for (size_t k = i + 1; k < n; ++k) lo[k - 1] = lo[k], hi[k - 1] = hi[k];
        --n;
        --i;
      } else if (lo[i] < a && hi[i] > b) {  // split
        if (n == N) return false;
        for (size_t k = n; k > i + 1; --k) lo[k] = lo[k - 1], hi[k] = hi[k - 1];
        lo[i + 1] = b, hi[i + 1] = hi[i];
        hi[i] = a;
        ++n;
        return true;
      } else if (lo[i] < a) {
        hi[i] = a;
      } else {
        lo[i] = b;
      }
    }
    return true;
  }
};

}  // namespace keel::control

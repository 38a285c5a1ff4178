// Unit tests of the serial server's console mirror and trace ring (services/serial/src/mirror.cc):
// sequence numbers, whole lines per read, the 16 KiB bound with dropped counts, signal
// suppression, the reply size limit, and the trace ring's on/off, order and overflow.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "keel/serial/mirror.h"

using keel::serial::Mirror;
using keel::serial::TraceEvent;
using keel::serial::TraceRing;

namespace {

struct Got {
  std::uint64_t first;
  std::uint32_t dropped;
  std::vector<std::string> lines;
};

Got read_all(Mirror& m, std::uint32_t max = KEEL_SERIAL_MIRROR_MAX) {
  std::vector<char> buf(max + 16, '#');
  const Mirror::Read r = m.read(buf.data(), max);
  EXPECT_LE(r.bytes, max);
  EXPECT_EQ(buf[r.bytes], '#') << "nothing written past the reply";
  Got g{r.first, r.dropped, {}};
  std::string s(buf.data(), r.bytes);
  if (r.bytes == 0) return g;
  EXPECT_NE(s.back(), '\n');
  std::size_t at = 0;
  for (;;) {
    const std::size_t nl = s.find('\n', at);
    g.lines.push_back(s.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return g;
}

std::string line(int i) { return "[w] line " + std::to_string(i); }

}  // namespace

TEST(Mirror, LinesInOrderWithSequenceNumbers) {
  auto m = std::make_unique<Mirror>();
  Got g = read_all(*m);
  EXPECT_EQ(g.first, 0u);
  EXPECT_TRUE(g.lines.empty());
  for (int i = 0; i < 5; ++i) m->push(line(i).data(), line(i).size());
  g = read_all(*m);
  EXPECT_EQ(g.first, 0u);
  EXPECT_EQ(g.dropped, 0u);
  ASSERT_EQ(g.lines.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(g.lines[i], line(i));
  m->push("x", 1);
  g = read_all(*m);
  EXPECT_EQ(g.first, 5u);
  ASSERT_EQ(g.lines.size(), 1u);
  EXPECT_EQ(g.lines[0], "x");
  g = read_all(*m);
  EXPECT_EQ(g.first, 6u);  // none: the next line's number
  EXPECT_TRUE(g.lines.empty());
}

TEST(Mirror, ReadsWholeLinesUpToTheReplySize) {
  auto m = std::make_unique<Mirror>();
  const std::string l(99, 'a');  // 100 bytes each with its separator
  for (int i = 0; i < 20; ++i) m->push(l.data(), l.size());
  std::uint64_t next = 0;
  std::size_t total = 0;
  for (int reads = 0; total < 20; ++reads) {
    ASSERT_LT(reads, 10);
    const Got g = read_all(*m);
    EXPECT_EQ(g.first, next);
    ASSERT_FALSE(g.lines.empty());
    EXPECT_LE(g.lines.size(), 9u);  // 9 * 100 - 1 = 899 <= 900
    for (const auto& s : g.lines) EXPECT_EQ(s, l);
    next += g.lines.size();
    total += g.lines.size();
  }
  EXPECT_EQ(m->size(), 0u);
}

TEST(Mirror, FullRingDropsTheOldestAndCountsThem) {
  auto m = std::make_unique<Mirror>();
  int pushed = 0;
  std::size_t bytes = 0;
  // More than 16 KiB of lines while nobody reads.
  while (bytes < 3 * KEEL_SERIAL_MIRROR_BYTES) {
    const std::string l = line(pushed++);
    m->push(l.data(), l.size());
    bytes += l.size() + 1;
    EXPECT_LE(m->size(), KEEL_SERIAL_MIRROR_BYTES);
  }
  EXPECT_GT(m->size(), KEEL_SERIAL_MIRROR_BYTES - 20u);  // full up to less than one line
  const std::uint32_t kept = m->lines();
  Got g = read_all(*m);
  EXPECT_EQ(g.dropped, static_cast<std::uint32_t>(pushed) - kept);
  EXPECT_EQ(g.first, g.dropped);  // the oldest lines went, in order
  ASSERT_FALSE(g.lines.empty());
  EXPECT_EQ(g.lines[0], line(static_cast<int>(g.first)));
  std::uint64_t next = g.first + g.lines.size();
  // The rest follows with consecutive numbers and no new drops.
  while (!g.lines.empty()) {
    g = read_all(*m);
    EXPECT_EQ(g.dropped, 0u);
    EXPECT_EQ(g.first, next);
    for (std::size_t i = 0; i < g.lines.size(); ++i) EXPECT_EQ(g.lines[i], line(static_cast<int>(next + i)));
    next += g.lines.size();
  }
  EXPECT_EQ(next, static_cast<std::uint64_t>(pushed));
  EXPECT_EQ(m->dropped_total(), static_cast<std::uint64_t>(pushed) - kept);
}

TEST(Mirror, LongLinesAreCutAndNewlinesCannotForgeLines) {
  auto m = std::make_unique<Mirror>();
  const std::string big(1000, 'b');
  m->push(big.data(), big.size());
  m->push("a\nb", 3);
  const Got g = read_all(*m);
  ASSERT_EQ(g.lines.size(), 2u);
  EXPECT_EQ(g.lines[0], std::string(keel::serial::kMirrorLineMax, 'b'));
  EXPECT_EQ(g.lines[1], "a b");
  EXPECT_EQ(g.first, 0u);
}

TEST(Mirror, SignalOnlyAfterTheReaderReadEverything) {
  auto m = std::make_unique<Mirror>();
  EXPECT_TRUE(m->push("1", 1));   // never read: the first line signals
  EXPECT_FALSE(m->push("2", 1));  // not read yet: no second signal
  const std::string l(99, 'c');
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(m->push(l.data(), l.size()));
  read_all(*m);                   // a partial read (more left): still no signal armed
  EXPECT_FALSE(m->push("3", 1));
  while (!read_all(*m).lines.empty()) {
  }
  EXPECT_TRUE(m->push("4", 1));   // read everything: the next line signals
  EXPECT_FALSE(m->push("5", 1));
  m->rearm();                     // the reader restarted
  EXPECT_TRUE(m->push("6", 1));
}

TEST(TraceRing, OnlyWhileOnInOrderWithOverflowCounted) {
  auto t = std::make_unique<TraceRing>();
  t->record(1, 3, 7, 9);
  EXPECT_EQ(t->size(), 0u);
  EXPECT_EQ(t->off_count(), 1u);
  EXPECT_FALSE(t->set(true));
  EXPECT_TRUE(t->set(true));
  for (std::uint32_t i = 0; i < KEEL_SERIAL_TRACE_EVENTS + 10; ++i) t->record(100 + i, i % 64, static_cast<std::uint16_t>(i), i * 2);
  EXPECT_EQ(t->size(), KEEL_SERIAL_TRACE_EVENTS);
  TraceEvent ev[KEEL_SERIAL_TRACE_READ_MAX];
  std::uint32_t dropped = 0;
  std::uint32_t n = t->read(ev, KEEL_SERIAL_TRACE_READ_MAX, &dropped);
  EXPECT_EQ(n, KEEL_SERIAL_TRACE_READ_MAX);
  EXPECT_EQ(dropped, 10u);
  EXPECT_EQ(ev[0].time_ns, 110u);
  EXPECT_EQ(ev[0].event, 10u);
  EXPECT_EQ(ev[0].component, 10u);
  EXPECT_EQ(ev[0].argument, 20u);
  std::uint64_t last = ev[n - 1].time_ns, total = n;
  while ((n = t->read(ev, KEEL_SERIAL_TRACE_READ_MAX, &dropped)) != 0) {
    EXPECT_EQ(dropped, 0u);
    EXPECT_EQ(ev[0].time_ns, last + 1);
    last = ev[n - 1].time_ns;
    total += n;
  }
  EXPECT_EQ(total, KEEL_SERIAL_TRACE_EVENTS);
  EXPECT_TRUE(t->set(false));
  t->record(5, 1, 1, 1);
  EXPECT_EQ(t->size(), 0u);
  EXPECT_EQ(t->off_count(), 2u);
}

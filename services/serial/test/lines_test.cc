// Unit tests of the serial server's buffering logic (services/serial/src/lines.cc): line
// assembly per component, prefixes, no interleaving, forced flushes, restart flushes, output
// sanitising, the console input ring and the message layouts.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "keel/serial/lines.h"

using keel::serial::InputRing;
using keel::serial::Lines;

namespace {

struct Sink {
  std::vector<std::string> lines;  // one entry per emit call
  static void emit(void* ctx, const char* p, std::size_t n) { static_cast<Sink*>(ctx)->lines.emplace_back(p, n); }
};

struct Fixture {
  Fixture() : lines(std::make_unique<Lines>()) {
    lines->set_name(0, "sensor", 6);
    lines->set_name(1, "controller", 10);
    lines->set_name(2, "actuator", 8);
  }
  void write(std::uint32_t c, const std::string& s, std::uint64_t gen = 0) {
    EXPECT_EQ(lines->write(c, gen, reinterpret_cast<const std::uint8_t*>(s.data()), s.size(), Sink::emit, &sink),
              s.size());
  }
  std::unique_ptr<Lines> lines;
  Sink sink;
};

TEST(SerialLines, WholeLinesWithPrefixes) {
  Fixture f;
  f.write(0, "temp 21\n");
  EXPECT_EQ(f.sink.lines, std::vector<std::string>{"[sensor] temp 21\n"});
  f.write(1, "a\nb\n\n");
  EXPECT_EQ(f.sink.lines.size(), 4u);
  EXPECT_EQ(f.sink.lines[1], "[controller] a\n");
  EXPECT_EQ(f.sink.lines[2], "[controller] b\n");
  EXPECT_EQ(f.sink.lines[3], "[controller] \n");
}

TEST(SerialLines, PartialWritesOfThreeComponentsDoNotInterleave) {
  Fixture f;
  f.write(0, "sen");
  f.write(1, "con");
  f.write(2, "act");
  EXPECT_TRUE(f.sink.lines.empty());
  f.write(1, "troller says hi\nnext");
  f.write(0, "sor reads 5");
  f.write(2, "uator moved\n");
  f.write(0, "\n");
  f.write(1, " line\n");
  std::vector<std::string> want = {"[controller] controller says hi\n", "[actuator] actuator moved\n",
                                   "[sensor] sensor reads 5\n", "[controller] next line\n"};
  EXPECT_EQ(f.sink.lines, want);
}

TEST(SerialLines, CarriageReturnsAreDropped) {
  Fixture f;
  f.write(0, "dos line\r\n");
  EXPECT_EQ(f.sink.lines, std::vector<std::string>{"[sensor] dos line\n"});
}

TEST(SerialLines, FullBufferIsFlushedAsALine) {
  Fixture f;
  std::string big(keel::serial::kLineMax * 2 + 5, 'x');
  f.write(2, big);
  ASSERT_EQ(f.sink.lines.size(), 2u);
  EXPECT_EQ(f.sink.lines[0], "[actuator] " + std::string(keel::serial::kLineMax, 'x') + "\n");
  EXPECT_EQ(f.lines->pending(2), 5u);
  f.lines->flush(2, Sink::emit, &f.sink);
  EXPECT_EQ(f.sink.lines.back(), "[actuator] xxxxx\n");
  EXPECT_EQ(f.lines->pending(2), 0u);
  f.lines->flush(2, Sink::emit, &f.sink);  // nothing pending: nothing emitted
  EXPECT_EQ(f.sink.lines.size(), 3u);
}

TEST(SerialLines, RestartedComponentStartsANewLine) {
  Fixture f;
  f.write(0, "half a li", 0);
  f.write(0, "fresh start\n", 1);
  std::vector<std::string> want = {"[sensor] half a li\n", "[sensor] fresh start\n"};
  EXPECT_EQ(f.sink.lines, want);
}

TEST(SerialLines, ControlCharactersCannotReachTheTerminal) {
  Fixture f;
  // Clear screen + cursor home, then a forged prefix after a bare CR, a BEL and a DEL.
  f.write(1, "\x1b[2J\x1b[H\x07ok\x7f\n");
  EXPECT_EQ(f.sink.lines, std::vector<std::string>{"[controller] ?[2J?[H?ok?\n"});
  f.sink.lines.clear();
  f.write(1, "tab\tkept\n");
  EXPECT_EQ(f.sink.lines[0], "[controller] tab\tkept\n");
}

TEST(SerialLines, Utf8IsKeptButC1AndMalformedAreNot) {
  auto s = [](const std::string& in) {
    std::string out(in.size(), '\0');
    keel::serial::sanitize(reinterpret_cast<const std::uint8_t*>(in.data()), in.size(), out.data());
    return out;
  };
  EXPECT_EQ(s("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(s("\xc2\x9b"), "??");          // C1 CSI
  EXPECT_EQ(s("\xc2\xa0"), "\xc2\xa0");    // NBSP is fine
  EXPECT_EQ(s("\xc0\xaf"), "??");          // overlong '/'
  EXPECT_EQ(s("\xe0\x80\xaf"), "???");     // overlong
  EXPECT_EQ(s("\xed\xa0\x80"), "???");     // surrogate
  EXPECT_EQ(s("\xf4\x90\x80\x80"), "????");  // above U+10FFFF
  EXPECT_EQ(s("\xe2\x82"), "??");          // truncated
  EXPECT_EQ(s("\x9b[31m"), "?[31m");       // raw C1 byte
  EXPECT_EQ(s(std::string("a\0b", 3)), "a?b");
}

TEST(SerialLines, LongNamesAreCutAndUnnamedComponentsMarked) {
  Fixture f;
  std::string longname(40, 'n');
  f.lines->set_name(3, longname.data(), longname.size());
  f.write(3, "x\n");
  f.write(4, "y\n");
  EXPECT_EQ(f.sink.lines[0], "[" + std::string(keel::serial::kNameMax, 'n') + "] x\n");
  EXPECT_EQ(f.sink.lines[1], "[?] y\n");
  EXPECT_EQ(f.lines->write(KEEL_MAX_COMPONENTS, 0, reinterpret_cast<const std::uint8_t*>("z\n"), 2, Sink::emit, &f.sink),
            0u);
}

TEST(SerialInput, RingKeepsOldestAndCountsDrops) {
  auto r = std::make_unique<InputRing>();
  for (std::uint32_t i = 0; i < keel::serial::kInputSize; ++i) EXPECT_TRUE(r->push(static_cast<std::uint8_t>(i)));
  EXPECT_FALSE(r->push(0xaa));
  EXPECT_EQ(r->dropped(), 1u);
  std::uint8_t out[8];
  EXPECT_EQ(r->read(out, 3), 3u);
  EXPECT_EQ(out[0], 0u);
  EXPECT_EQ(out[2], 2u);
  EXPECT_TRUE(r->push(0x55));
  std::vector<std::uint8_t> all(2 * keel::serial::kInputSize);
  EXPECT_EQ(r->size(), keel::serial::kInputSize - 2);
  EXPECT_EQ(r->read(all.data(), all.size()), keel::serial::kInputSize - 2);
  EXPECT_EQ(all[0], 3u);
  EXPECT_EQ(all[keel::serial::kInputSize - 3], 0x55u);
  EXPECT_EQ(r->read(out, 8), 0u);
}

}  // namespace

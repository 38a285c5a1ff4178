// Host unit tests of the keel_printf format engine (lib/rt/src/format.cc).
#include <gtest/gtest.h>

#include <cstdarg>
#include <cstdint>
#include <string>

#include "keel/rt/printf.h"

namespace {

// Through keel_vsnprintf (no format attribute) so that malformed formats can be tested too.
std::string fmt(const char* f, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, f);
  int n = keel_vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  EXPECT_EQ(n, static_cast<int>(std::string(buf).size()));
  return buf;
}

TEST(RtFormat, Integers) {
  EXPECT_EQ(fmt("%d %i %u", -42, 7, 4000000000u), "-42 7 4000000000");
  EXPECT_EQ(fmt("%ld", static_cast<long>(INT64_MIN)), "-9223372036854775808");
  EXPECT_EQ(fmt("%lu %llu", static_cast<unsigned long>(UINT64_MAX), 0ull), "18446744073709551615 0");
  EXPECT_EQ(fmt("%zu %x %X %o", static_cast<size_t>(12), 255u, 255u, 8u), "12 ff FF 10");
  EXPECT_EQ(fmt("%lx", 0xdeadbeefcafeull), "deadbeefcafe");
}

TEST(RtFormat, WidthPaddingPrecision) {
  EXPECT_EQ(fmt("[%5d]", 42), "[   42]");
  EXPECT_EQ(fmt("[%-5d]", 42), "[42   ]");
  EXPECT_EQ(fmt("[%05d]", -42), "[-0042]");
  EXPECT_EQ(fmt("[%08lx]", 0xabcul), "[00000abc]");
  EXPECT_EQ(fmt("[%*d]", 4, 1), "[   1]");
  EXPECT_EQ(fmt("[%.3s]", "abcdef"), "[abc]");
  EXPECT_EQ(fmt("[%-4s|%4s]", "ab", "cd"), "[ab  |  cd]");
  EXPECT_EQ(fmt("[%c%3c]", 'x', 'y'), "[x  y]");
}

TEST(RtFormat, StringsPointersPercent) {
  EXPECT_EQ(fmt("%s", static_cast<const char*>(nullptr)), "(null)");
  EXPECT_EQ(fmt("%p", reinterpret_cast<void*>(0x1000)), "0x1000");
  EXPECT_EQ(fmt("100%%"), "100%");
}

TEST(RtFormat, TruncatesButReportsFullLength) {
  char buf[8];
  int n = keel_snprintf(buf, sizeof buf, "%s", "0123456789");
  EXPECT_EQ(n, 10);
  EXPECT_STREQ(buf, "0123456");
  char one[1] = {'x'};
  EXPECT_EQ(keel_snprintf(one, 1, "abc"), 3);
  EXPECT_EQ(one[0], '\0');
  EXPECT_EQ(keel_snprintf(nullptr, 0, "abc"), 3);
}

// Unknown conversions are printed verbatim (a visible mistake, not a crash); a lone '%' at the
// end prints nothing.
TEST(RtFormat, MalformedFormats) {
  EXPECT_EQ(fmt("a%qb"), "a%qb");
  EXPECT_EQ(fmt("end%"), "end");
}

}  // namespace

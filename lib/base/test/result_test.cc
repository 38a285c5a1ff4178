#include "keel/result.h"

#include <gtest/gtest.h>

#include <string>

namespace {

enum class Code { kBad = 1, kWorse = 2 };

keel::Result<int, Code> parse(int x) {
  if (x < 0) return keel::Err{Code::kBad};
  return x * 2;
}

keel::Result<std::string, Code> twice(int x) {
  int v = TRY(parse(x));
  return std::to_string(v);
}

keel::Result<void, Code> check(int x) {
  if (x == 0) return keel::Err{Code::kWorse};
  return keel::Ok{};
}

keel::Result<int, Code> chain(int x) {
  TRY(check(x));
  return TRY(parse(x)) + 1;
}

TEST(Result, ValueAndError) {
  auto r = parse(3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), 6);
  auto e = parse(-1);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error(), Code::kBad);
  EXPECT_EQ(e.value_or(7), 7);
}

TEST(Result, TryPropagates) {
  EXPECT_EQ(twice(4).value(), "8");
  EXPECT_EQ(twice(-4).error(), Code::kBad);
  EXPECT_EQ(chain(0).error(), Code::kWorse);
  EXPECT_EQ(chain(-2).error(), Code::kBad);
  EXPECT_EQ(chain(5).value(), 11);
}

TEST(Result, CopyAndMoveKeepState) {
  keel::Result<std::string, Code> a = std::string("hello");
  auto b = a;
  auto c = std::move(a);
  EXPECT_EQ(b.value(), "hello");
  EXPECT_EQ(c.value(), "hello");
  keel::Result<std::string, Code> d = keel::Err{Code::kWorse};
  d = b;
  EXPECT_EQ(d.value(), "hello");
  b = keel::Result<std::string, Code>(keel::Err{Code::kBad});
  EXPECT_FALSE(b.ok());
}

}  // namespace

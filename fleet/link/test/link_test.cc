#include <gtest/gtest.h>
TEST(Link, Placeholder) {}

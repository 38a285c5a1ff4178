#include <gtest/gtest.h>

#include "keel/analyze/analyze.h"

TEST(Analyze, Placeholder) { SUCCEED(); }

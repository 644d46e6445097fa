#include "core/rate_limited_log.h"

#include "gtest/gtest.h"

namespace fstun {
namespace {

TEST(LogRateLimiterTest, BurstThenQuietThenTellsHowManyWereHeldBack) {
  LogRateLimiter limiter(/*burst=*/3, absl::Seconds(10));
  absl::Time t = absl::FromUnixSeconds(1000);
  uint64_t held = 99;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.AllowAt(t, &held));
    EXPECT_EQ(held, 0);
  }
  // A flood: 10000 more in the same period, none logged.
  int allowed = 0;
  for (int i = 0; i < 10000; ++i) allowed += limiter.AllowAt(t + absl::Seconds(9), &held);
  EXPECT_EQ(allowed, 0);
  // The next period: the first line says what was held back.
  EXPECT_TRUE(limiter.AllowAt(t + absl::Seconds(10), &held));
  EXPECT_EQ(held, 10000);
  EXPECT_EQ(HeldBackNote(held), " (10000 similar lines held back)");
  EXPECT_TRUE(limiter.AllowAt(t + absl::Seconds(11), &held));
  EXPECT_EQ(held, 0);
  EXPECT_EQ(HeldBackNote(0), "");
  EXPECT_EQ(HeldBackNote(1), " (1 similar line held back)");
}

TEST(LogRateLimiterTest, RealClock) {
  LogRateLimiter limiter(2, absl::Hours(1));
  EXPECT_TRUE(limiter.Allow());
  EXPECT_TRUE(limiter.Allow());
  EXPECT_FALSE(limiter.Allow());
}

}  // namespace
}  // namespace fstun

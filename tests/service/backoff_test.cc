#include "service/backoff.h"

#include <vector>

#include "gtest/gtest.h"
#include "tests/service/test_support.h"

namespace wxvault::service {
namespace {

TEST(BackoffTest, CapsGrowExponentiallyUpToMax) {
  BackoffPolicy policy;  // 100 ms, x2, max 2 s
  testing::FixedJitter almost_one(0.999999);
  ExponentialBackoff backoff(policy, &almost_one);
  std::vector<int64_t> caps_ms;
  for (int i = 0; i < 7; ++i) {
    caps_ms.push_back(absl::ToInt64Milliseconds(backoff.NextCap()));
    absl::Duration d = backoff.NextDelay();
    EXPECT_LE(d, absl::Milliseconds(caps_ms.back()));
    EXPECT_GE(d, absl::Milliseconds(caps_ms.back()) * 0.999);
  }
  EXPECT_EQ(caps_ms, (std::vector<int64_t>{100, 200, 400, 800, 1600, 2000, 2000}));
  EXPECT_EQ(backoff.retries(), 7);
}

TEST(BackoffTest, FullJitterSpansZeroToCap) {
  BackoffPolicy policy;
  testing::FixedJitter zero(0.0);
  ExponentialBackoff none(policy, &zero);
  EXPECT_EQ(none.NextDelay(), absl::ZeroDuration());
  testing::FixedJitter half(0.5);
  ExponentialBackoff mid(policy, &half);
  EXPECT_EQ(mid.NextDelay(), absl::Milliseconds(50));
  EXPECT_EQ(mid.NextDelay(), absl::Milliseconds(100));
  // Real randomness stays within [0, cap] and is not constant.
  std::vector<absl::Duration> seen;
  for (int i = 0; i < 20; ++i) {
    ExponentialBackoff b(policy, BitGenJitterSource::Default());
    absl::Duration d = b.NextDelay();
    EXPECT_GE(d, absl::ZeroDuration());
    EXPECT_LE(d, absl::Milliseconds(100));
    seen.push_back(d);
  }
  EXPECT_NE(seen.front(), seen.back());
}

TEST(BackoffTest, HugeRetryCountsDoNotOverflow) {
  BackoffPolicy policy;
  policy.multiplier = 10;
  testing::FixedJitter one(1.0);
  ExponentialBackoff backoff(policy, &one);
  for (int i = 0; i < 1000; ++i) backoff.NextDelay();
  EXPECT_EQ(backoff.NextDelay(), absl::Seconds(2));
}

TEST(BackoffTest, PolicyValidation) {
  EXPECT_TRUE(BackoffPolicy().Validate().ok());
  BackoffPolicy p;
  p.initial_delay = absl::ZeroDuration();
  EXPECT_FALSE(p.Validate().ok());
  p = BackoffPolicy();
  p.max_delay = absl::Milliseconds(10);
  EXPECT_FALSE(p.Validate().ok());
  p = BackoffPolicy();
  p.multiplier = 0.5;
  EXPECT_FALSE(p.Validate().ok());
}

}  // namespace
}  // namespace wxvault::service

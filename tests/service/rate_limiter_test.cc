#include "service/rate_limiter.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "service/error_reason.h"

namespace wxvault::service {
namespace {

struct LimiterHarness {
  explicit LimiterHarness(double qps, double burst = 0)
      : limiter(Options(qps, burst), &clock, &sleeper) {}
  static RateLimiterOptions Options(double qps, double burst) {
    RateLimiterOptions o;
    o.qps = qps;
    o.burst = burst;
    return o;
  }
  FakeClock clock;
  FakeSleeper sleeper{&clock};
  RateLimiter limiter;
};

TEST(RateLimiterTest, BurstThenRate) {
  LimiterHarness h(/*qps=*/10, /*burst=*/3);
  EXPECT_TRUE(h.limiter.TryAcquire());
  EXPECT_TRUE(h.limiter.TryAcquire());
  EXPECT_TRUE(h.limiter.TryAcquire());
  EXPECT_FALSE(h.limiter.TryAcquire());
  h.clock.Advance(absl::Milliseconds(99));
  EXPECT_FALSE(h.limiter.TryAcquire());
  h.clock.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(h.limiter.TryAcquire());
  // A long quiet period refills only up to the burst.
  h.clock.Advance(absl::Hours(1));
  int taken = 0;
  while (h.limiter.TryAcquire()) ++taken;
  EXPECT_EQ(taken, 3);
}

TEST(RateLimiterTest, DefaultBurstIsOneSecondOfQps) {
  LimiterHarness h(/*qps=*/50);
  int taken = 0;
  while (h.limiter.TryAcquire()) ++taken;
  EXPECT_EQ(taken, 50);
}

TEST(RateLimiterTest, AcquireWaitsThroughTheSleeper) {
  LimiterHarness h(/*qps=*/10, /*burst=*/1);
  absl::Time far = h.clock.Now() + absl::Hours(1);
  EXPECT_TRUE(h.limiter.Acquire(far).ok());
  EXPECT_TRUE(h.sleeper.sleeps().empty());
  EXPECT_TRUE(h.limiter.Acquire(far).ok());
  EXPECT_TRUE(h.limiter.Acquire(far).ok());
  EXPECT_EQ(h.sleeper.sleeps(), (std::vector<absl::Duration>{
                                    absl::Milliseconds(100),
                                    absl::Milliseconds(100)}));
}

TEST(RateLimiterTest, LongRunRateNeverExceedsQps) {
  LimiterHarness h(/*qps=*/50, /*burst=*/5);
  absl::Time start = h.clock.Now();
  for (int i = 0; i < 105; ++i) {
    ASSERT_TRUE(h.limiter.Acquire(start + absl::Hours(1)).ok());
  }
  // 5 from the burst, 100 more at 50/s.
  EXPECT_NEAR(absl::ToDoubleSeconds(h.clock.Now() - start), 2.0, 1e-6);
}

TEST(RateLimiterTest, AcquireFailsFastWhenTheDeadlineIsTooClose) {
  LimiterHarness h(/*qps=*/2, /*burst=*/1);
  ASSERT_TRUE(h.limiter.TryAcquire());
  absl::Status s = h.limiter.Acquire(h.clock.Now() + absl::Milliseconds(100));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ReasonOf(s), "UPSTREAM_RATE_LIMITED");
  EXPECT_EQ(RetryAfterOf(s), absl::Milliseconds(500));
  EXPECT_TRUE(h.sleeper.sleeps().empty());
  // Nothing was reserved by the failed call.
  h.clock.Advance(absl::Milliseconds(500));
  EXPECT_TRUE(h.limiter.TryAcquire());
}

TEST(RateLimiterTest, ConcurrentTryAcquireNeverOverspends) {
  LimiterHarness h(/*qps=*/1, /*burst=*/25);
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (h.limiter.TryAcquire()) taken.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(taken.load(), 25);
}

TEST(RateLimiterTest, PauseFailsFastUntilItEnds) {
  LimiterHarness h(/*qps=*/10);
  const char* kPath = "/sns/oauth2/refresh_token";
  EXPECT_TRUE(h.limiter.CheckNotPaused(kPath).ok());
  h.limiter.PauseEndpoint(kPath, h.clock.Now() + absl::Seconds(60));
  // A shorter pause does not shorten it.
  h.limiter.PauseEndpoint(kPath, h.clock.Now() + absl::Seconds(5));
  absl::Status s = h.limiter.CheckNotPaused(kPath);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ReasonOf(s), "UPSTREAM_RATE_LIMITED");
  EXPECT_EQ(WeChatErrcodeOf(s), 45011);
  EXPECT_EQ(RetryAfterOf(s), absl::Seconds(60));
  EXPECT_EQ(h.limiter.PausedUntil(kPath), h.clock.Now() + absl::Seconds(60));
  EXPECT_TRUE(h.limiter.CheckNotPaused("/sns/auth").ok());
  h.clock.Advance(absl::Seconds(60));
  EXPECT_TRUE(h.limiter.CheckNotPaused(kPath).ok());
  EXPECT_EQ(h.limiter.PausedUntil(kPath), absl::nullopt);
}

TEST(RateLimiterTest, OptionsValidation) {
  EXPECT_TRUE(RateLimiterOptions().Validate().ok());
  EXPECT_FALSE(LimiterHarness::Options(0, 0).Validate().ok());
  EXPECT_FALSE(LimiterHarness::Options(-1, 0).Validate().ok());
  EXPECT_FALSE(LimiterHarness::Options(1, -1).Validate().ok());
}

}  // namespace
}  // namespace wxvault::service

#include "vault/clock.h"

#include "gtest/gtest.h"

namespace wxvault {
namespace {

TEST(FakeClockTest, MovesOnlyWhenTold) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  EXPECT_EQ(clock.NowMillis(), 1'000'000);
  clock.Advance(absl::Hours(24 * 180));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(1000) + absl::Hours(24 * 180));
}

TEST(RealClockTest, IsNearSystemTime) {
  absl::Duration skew = RealClock::Get()->Now() - absl::Now();
  EXPECT_LT(absl::AbsDuration(skew), absl::Seconds(5));
}

}  // namespace
}  // namespace wxvault

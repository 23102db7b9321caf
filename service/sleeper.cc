#include "service/sleeper.h"

#include "absl/time/clock.h"

namespace wxvault::service {

void RealSleeper::SleepFor(absl::Duration d) {
  if (d > absl::ZeroDuration()) absl::SleepFor(d);
}

RealSleeper* RealSleeper::Get() {
  static RealSleeper* const sleeper = new RealSleeper();
  return sleeper;
}

}  // namespace wxvault::service

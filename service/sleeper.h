// Sleeper: the one way wxvault code waits for time to pass.
//
// Backoff between retries and waiting for a rate-limiter token both sleep
// through a Sleeper passed to their constructors, so tests swap in
// FakeSleeper, which advances a FakeClock instead of blocking: a test of a
// 10-second backoff schedule runs in microseconds. Only main() and tests
// choose the implementation.
//
// Thread safety: SleepFor() may be called from any thread on both
// implementations.
#ifndef WXVAULT_SERVICE_SLEEPER_H_
#define WXVAULT_SERVICE_SLEEPER_H_

#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "vault/clock.h"

namespace wxvault::service {

class Sleeper {
 public:
  virtual ~Sleeper() = default;
  // Returns after `d` has passed (immediately for d <= 0).
  virtual void SleepFor(absl::Duration d) = 0;
};

// Really blocks the calling thread.
class RealSleeper final : public Sleeper {
 public:
  void SleepFor(absl::Duration d) override;
  // A process-wide instance; never destroyed.
  static RealSleeper* Get();
};

// Advances a FakeClock by the requested duration and records it. For tests.
class FakeSleeper final : public Sleeper {
 public:
  explicit FakeSleeper(FakeClock* clock) : clock_(clock) {}
  void SleepFor(absl::Duration d) override {
    if (d <= absl::ZeroDuration()) return;
    {
      absl::MutexLock lock(&mu_);
      sleeps_.push_back(d);
    }
    clock_->Advance(d);
  }
  // Every positive duration slept so far, in order.
  std::vector<absl::Duration> sleeps() const {
    absl::MutexLock lock(&mu_);
    return sleeps_;
  }

 private:
  FakeClock* const clock_;
  mutable absl::Mutex mu_;
  std::vector<absl::Duration> sleeps_ ABSL_GUARDED_BY(mu_);
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_SLEEPER_H_

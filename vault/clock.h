// Clock: the one source of "now" for wxvault.
//
// Everything that reads time takes a Clock* in its constructor so tests can
// run 180 days of a token's life in a millisecond with FakeClock. Only main()
// builds a RealClock.
//
// Thread safety: all methods of both implementations are safe to call
// concurrently.
#ifndef WXVAULT_VAULT_CLOCK_H_
#define WXVAULT_VAULT_CLOCK_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace wxvault {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time now.
  virtual absl::Time Now() const = 0;
  // Unix epoch milliseconds of Now(); the unit stored in vault records.
  int64_t NowMillis() const { return absl::ToUnixMillis(Now()); }
};

// The system clock.
class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // A process-wide instance; never destroyed.
  static RealClock* Get();
};

// A clock that moves only when told to. For tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'750'000'000))
      : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace wxvault

#endif  // WXVAULT_VAULT_CLOCK_H_

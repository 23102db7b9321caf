// backoff: exponential backoff with full jitter for retrying WeChat calls.
//
// Retry n (0-based) waits a uniformly random time in
//   [0, min(max_delay, initial_delay * multiplier^n)]
// ("full jitter"): concurrent callers that failed together spread out
// instead of retrying in lockstep. The randomness comes from an injected
// JitterSource so tests can pin it.
//
// Thread safety: BitGenJitterSource is thread-safe. An ExponentialBackoff is
// per retry loop: use one from one thread at a time.
#ifndef WXVAULT_SERVICE_BACKOFF_H_
#define WXVAULT_SERVICE_BACKOFF_H_

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace wxvault::service {

struct BackoffPolicy {
  absl::Duration initial_delay = absl::Milliseconds(100);
  absl::Duration max_delay = absl::Seconds(2);
  double multiplier = 2.0;
  // INVALID_ARGUMENT unless 0 < initial_delay <= max_delay and
  // multiplier >= 1.
  absl::Status Validate() const;
};

// A source of uniform fractions in [0, 1). Implementations must be
// thread-safe.
class JitterSource {
 public:
  virtual ~JitterSource() = default;
  virtual double NextFraction() = 0;
};

// absl::BitGen behind a mutex.
class BitGenJitterSource final : public JitterSource {
 public:
  double NextFraction() override;
  // A process-wide instance; never destroyed.
  static BitGenJitterSource* Default();

 private:
  absl::Mutex mu_;
  absl::BitGen gen_ ABSL_GUARDED_BY(mu_);
};

class ExponentialBackoff {
 public:
  // `policy` must be valid; `jitter` must outlive this object.
  ExponentialBackoff(const BackoffPolicy& policy, JitterSource* jitter)
      : policy_(policy), jitter_(jitter) {}
  // The upper bound of the next delay, before jitter.
  absl::Duration NextCap() const;
  // The delay before the next retry; advances the retry count.
  absl::Duration NextDelay();
  int retries() const { return retries_; }

 private:
  BackoffPolicy policy_;
  JitterSource* jitter_;
  int retries_ = 0;
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_BACKOFF_H_

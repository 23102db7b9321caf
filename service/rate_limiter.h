// RateLimiter: the process-wide ceiling on calls to WeChat (--upstream_qps),
// plus per-endpoint pauses after WeChat's minute quota (errcode 45011).
//
// A token bucket: it holds at most `burst` tokens and gains `qps` tokens per
// second; every upstream call takes one. Acquire() reserves a token and waits
// (through the injected Sleeper) until it is due, so waiters are served in
// arrival order and the long-run rate never exceeds qps. A caller whose
// deadline would pass before its token is due gets RESOURCE_EXHAUSTED at once
// instead of waiting in vain.
//
// Pauses (DESIGN §6a): after 45011, PauseEndpoint(path, until) makes
// CheckNotPaused(path) fail with RESOURCE_EXHAUSTED/UPSTREAM_RATE_LIMITED and
// a retry-after until `until`, so RPCs needing that endpoint fail fast and the
// refresher can defer its work past PausedUntil().
//
// Stats() counts what the limiter did since construction (for metrics).
//
// Thread safety: all methods are thread-safe. Clock and Sleeper are not
// owned and must outlive the limiter.
#ifndef WXVAULT_SERVICE_RATE_LIMITER_H_
#define WXVAULT_SERVICE_RATE_LIMITER_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "service/sleeper.h"
#include "vault/clock.h"

namespace wxvault::service {

struct RateLimiterOptions {
  // Sustained calls per second, all callers together (--upstream_qps).
  double qps = 50;
  // Bucket size: calls allowed back to back after a quiet period. 0 means
  // max(1, qps).
  double burst = 0;
  // INVALID_ARGUMENT unless qps > 0 and burst >= 0.
  absl::Status Validate() const;
};

struct RateLimiterStats {
  int64_t acquired = 0;           // call slots taken (Acquire and TryAcquire)
  int64_t waited = 0;             // Acquire calls that had to wait for their slot
  absl::Duration total_wait;      // the waits those calls were given, summed
  int64_t rejected_deadline = 0;  // Acquire refused: slot due after the deadline
  int64_t rejected_paused = 0;    // CheckNotPaused refused: endpoint paused
};

class RateLimiter {
 public:
  // `options` must be valid. The bucket starts full.
  RateLimiter(const RateLimiterOptions& options, Clock* clock,
              Sleeper* sleeper);

  // Takes a token if one is available now; never waits.
  bool TryAcquire();

  // Takes a token, waiting until it is due. OK once the token is had.
  // Errors: RESOURCE_EXHAUSTED/UPSTREAM_RATE_LIMITED with a retry-after when
  // the token would only be due after `deadline` (nothing is consumed then).
  absl::Status Acquire(absl::Time deadline);

  // Pauses `endpoint` until `until`. A pause never shortens an existing one.
  void PauseEndpoint(absl::string_view endpoint, absl::Time until);

  // When `endpoint` is paused now, the end of the pause; else nullopt.
  absl::optional<absl::Time> PausedUntil(absl::string_view endpoint) const;

  // OK, or RESOURCE_EXHAUSTED/UPSTREAM_RATE_LIMITED (errcode 45011 attached,
  // retry-after = time left) while `endpoint` is paused.
  absl::Status CheckNotPaused(absl::string_view endpoint) const;

  // Counters since construction.
  RateLimiterStats Stats() const;

 private:
  void RefillLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const double qps_;
  const double burst_;
  Clock* const clock_;
  Sleeper* const sleeper_;

  mutable absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);  // negative: reserved by waiters
  absl::Time last_refill_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::Time> paused_until_
      ABSL_GUARDED_BY(mu_);
  mutable RateLimiterStats stats_ ABSL_GUARDED_BY(mu_);  // CheckNotPaused counts too
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_RATE_LIMITER_H_

#include "service/rate_limiter.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "service/error_reason.h"

namespace wxvault::service {

absl::Status RateLimiterOptions::Validate() const {
  if (!(qps > 0) || !std::isfinite(qps)) {
    return absl::InvalidArgumentError("upstream_qps must be a positive number");
  }
  if (!(burst >= 0) || !std::isfinite(burst)) {
    return absl::InvalidArgumentError("burst must be >= 0");
  }
  return absl::OkStatus();
}

RateLimiter::RateLimiter(const RateLimiterOptions& options, Clock* clock,
                         Sleeper* sleeper)
    : qps_(options.qps),
      burst_(options.burst > 0 ? options.burst : std::max(1.0, options.qps)),
      clock_(clock),
      sleeper_(sleeper),
      tokens_(burst_),
      last_refill_(clock->Now()) {}

void RateLimiter::RefillLocked(absl::Time now) {
  if (now > last_refill_) {
    double gained = absl::ToDoubleSeconds(now - last_refill_) * qps_;
    tokens_ = std::min(burst_, tokens_ + gained);
    last_refill_ = now;
  }
}

bool RateLimiter::TryAcquire() {
  absl::MutexLock lock(&mu_);
  RefillLocked(clock_->Now());
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  ++stats_.acquired;
  return true;
}

absl::Status RateLimiter::Acquire(absl::Time deadline) {
  absl::Duration wait;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_->Now();
    RefillLocked(now);
    if (tokens_ >= 1.0) {
      tokens_ -= 1.0;
      ++stats_.acquired;
      return absl::OkStatus();
    }
    wait = absl::Seconds((1.0 - tokens_) / qps_);
    if (now + wait > deadline) {
      ++stats_.rejected_deadline;
      return WithRetryAfter(
          MakeError(absl::StatusCode::kResourceExhausted,
                    absl::StrCat("upstream_qps ceiling of ", qps_,
                                 "/s reached; next call slot in ",
                                 absl::FormatDuration(wait)),
                    reason::kUpstreamRateLimited),
          wait);
    }
    tokens_ -= 1.0;  // reserve: later callers queue behind this one
    ++stats_.acquired;
    ++stats_.waited;
    stats_.total_wait += wait;
  }
  sleeper_->SleepFor(wait);
  return absl::OkStatus();
}

void RateLimiter::PauseEndpoint(absl::string_view endpoint, absl::Time until) {
  absl::MutexLock lock(&mu_);
  absl::Time& current = paused_until_[endpoint];
  current = std::max(current, until);
}

absl::optional<absl::Time> RateLimiter::PausedUntil(
    absl::string_view endpoint) const {
  absl::MutexLock lock(&mu_);
  auto it = paused_until_.find(endpoint);
  if (it == paused_until_.end() || it->second <= clock_->Now()) {
    return absl::nullopt;
  }
  return it->second;
}

absl::Status RateLimiter::CheckNotPaused(absl::string_view endpoint) const {
  absl::Duration left;
  {
    absl::MutexLock lock(&mu_);
    auto it = paused_until_.find(endpoint);
    const absl::Time now = clock_->Now();
    if (it == paused_until_.end() || it->second <= now) return absl::OkStatus();
    left = it->second - now;
    ++stats_.rejected_paused;
  }
  absl::Status status = MakeError(
      absl::StatusCode::kResourceExhausted,
      absl::StrCat("WeChat ", endpoint, " paused after minute quota (45011) for ",
                   absl::FormatDuration(absl::Ceil(left, absl::Seconds(1)))),
      reason::kUpstreamRateLimited);
  return WithRetryAfter(WithWeChatErrcode(std::move(status), 45011), left);
}

RateLimiterStats RateLimiter::Stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace wxvault::service

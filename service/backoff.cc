#include "service/backoff.h"

#include <algorithm>
#include <cmath>

namespace wxvault::service {

absl::Status BackoffPolicy::Validate() const {
  if (initial_delay <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("backoff initial_delay must be positive");
  }
  if (max_delay < initial_delay) {
    return absl::InvalidArgumentError(
        "backoff max_delay must be >= initial_delay");
  }
  if (!(multiplier >= 1.0) || !std::isfinite(multiplier)) {
    return absl::InvalidArgumentError("backoff multiplier must be >= 1");
  }
  return absl::OkStatus();
}

double BitGenJitterSource::NextFraction() {
  absl::MutexLock lock(&mu_);
  return absl::Uniform<double>(gen_, 0.0, 1.0);
}

BitGenJitterSource* BitGenJitterSource::Default() {
  static BitGenJitterSource* const source = new BitGenJitterSource();
  return source;
}

absl::Duration ExponentialBackoff::NextCap() const {
  double factor = std::pow(policy_.multiplier, retries_);
  double cap_seconds = absl::ToDoubleSeconds(policy_.initial_delay) * factor;
  double max_seconds = absl::ToDoubleSeconds(policy_.max_delay);
  if (!std::isfinite(cap_seconds) || cap_seconds > max_seconds) {
    return policy_.max_delay;
  }
  return absl::Seconds(cap_seconds);
}

absl::Duration ExponentialBackoff::NextDelay() {
  absl::Duration cap = NextCap();
  ++retries_;
  double fraction = std::clamp(jitter_->NextFraction(), 0.0, 1.0);
  return cap * fraction;
}

}  // namespace wxvault::service

#include "service/error_reason.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace wxvault::service {
namespace {

absl::optional<int64_t> IntPayload(const absl::Status& status,
                                   absl::string_view type_url) {
  absl::optional<absl::Cord> payload = status.GetPayload(type_url);
  if (!payload.has_value()) return absl::nullopt;
  int64_t value = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &value)) return absl::nullopt;
  return value;
}

}  // namespace

absl::Status WithReason(absl::Status status, absl::string_view reason) {
  status.SetPayload(kReasonTypeUrl, absl::Cord(reason));
  return status;
}

absl::Status WithWeChatErrcode(absl::Status status, int errcode) {
  status.SetPayload(kWeChatErrcodeTypeUrl, absl::Cord(absl::StrCat(errcode)));
  return status;
}

absl::Status WithRetryAfter(absl::Status status, absl::Duration retry_after) {
  int64_t millis =
      absl::ToInt64Milliseconds(std::max(retry_after, absl::ZeroDuration()));
  status.SetPayload(kRetryAfterTypeUrl, absl::Cord(absl::StrCat(millis)));
  return status;
}

absl::Status MakeError(absl::StatusCode code, absl::string_view message,
                       absl::string_view reason) {
  return WithReason(absl::Status(code, message), reason);
}

absl::Status VaultFailure(const absl::Status& status) {
  if (status.ok() || !ReasonOf(status).empty()) return status;
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      return WithReason(status, "STORAGE_UNAVAILABLE");
    case absl::StatusCode::kDataLoss:
      return WithReason(status, "RECORD_UNREADABLE");
    case absl::StatusCode::kNotFound:
      return WithReason(status, reason::kTokenNotFound);
    default:
      return WithReason(absl::InternalError(status.message()), "INTERNAL");
  }
}

std::string ReasonOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kReasonTypeUrl);
  return payload.has_value() ? std::string(*payload) : std::string();
}

absl::optional<int> WeChatErrcodeOf(const absl::Status& status) {
  absl::optional<int64_t> value = IntPayload(status, kWeChatErrcodeTypeUrl);
  if (!value.has_value()) return absl::nullopt;
  return static_cast<int>(*value);
}

absl::optional<absl::Duration> RetryAfterOf(const absl::Status& status) {
  absl::optional<int64_t> value = IntPayload(status, kRetryAfterTypeUrl);
  if (!value.has_value()) return absl::nullopt;
  return absl::Milliseconds(*value);
}

}  // namespace wxvault::service

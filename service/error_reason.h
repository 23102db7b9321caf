// error_reason: the machine-readable half of every wxvault error.
//
// DESIGN §3: every error carries a `wxvault-reason` (UPPER_SNAKE) and, where
// WeChat answered with an error, the `wechat-errcode`. Inside the server both
// ride on the absl::Status as payloads; the gRPC layer copies them into
// trailing metadata in one place. RESOURCE_EXHAUSTED errors also carry a
// retry-after hint (how long until the call can succeed).
//
// Payload type URLs (values are ASCII):
//   type.wxvault.dev/reason          e.g. "CODE_ALREADY_USED"
//   type.wxvault.dev/wechat-errcode  decimal, e.g. "40163" or "-1"
//   type.wxvault.dev/retry-after     whole milliseconds, decimal
//
// Thread safety: all functions are pure and safe to call concurrently.
// Attaching to an OK status is a no-op (absl::Status ignores payloads on OK).
#ifndef WXVAULT_SERVICE_ERROR_REASON_H_
#define WXVAULT_SERVICE_ERROR_REASON_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace wxvault::service {

inline constexpr absl::string_view kReasonTypeUrl = "type.wxvault.dev/reason";
inline constexpr absl::string_view kWeChatErrcodeTypeUrl =
    "type.wxvault.dev/wechat-errcode";
inline constexpr absl::string_view kRetryAfterTypeUrl =
    "type.wxvault.dev/retry-after";

// The reasons this module and the WeChat client produce. Other modules may
// add their own; keep them UPPER_SNAKE.
namespace reason {
inline constexpr absl::string_view kInvalidArgument = "INVALID_ARGUMENT";
inline constexpr absl::string_view kInvalidCode = "INVALID_CODE";
inline constexpr absl::string_view kCodeAlreadyUsed = "CODE_ALREADY_USED";
inline constexpr absl::string_view kCodeExpired = "CODE_EXPIRED";
inline constexpr absl::string_view kAccessTokenInvalid = "ACCESS_TOKEN_INVALID";
inline constexpr absl::string_view kReauthRequired = "REAUTH_REQUIRED";
inline constexpr absl::string_view kAppCredentialsInvalid =
    "APP_CREDENTIALS_INVALID";
inline constexpr absl::string_view kUpstreamRateLimited =
    "UPSTREAM_RATE_LIMITED";
inline constexpr absl::string_view kUpstreamUnavailable =
    "UPSTREAM_UNAVAILABLE";
inline constexpr absl::string_view kUpstreamError = "UPSTREAM_ERROR";
inline constexpr absl::string_view kUpstreamBadRequest = "UPSTREAM_BAD_REQUEST";
inline constexpr absl::string_view kScopeNotGranted = "SCOPE_NOT_GRANTED";
inline constexpr absl::string_view kUnauthorizedApi = "UNAUTHORIZED_API";
inline constexpr absl::string_view kTokenNotFound = "TOKEN_NOT_FOUND";
inline constexpr absl::string_view kUnknownApp = "UNKNOWN_APP";
}  // namespace reason

// Returns `status` with its reason set (replacing any earlier one).
absl::Status WithReason(absl::Status status, absl::string_view reason);
// Returns `status` with the WeChat errcode attached.
absl::Status WithWeChatErrcode(absl::Status status, int errcode);
// Returns `status` with a retry-after hint; negative durations become zero.
absl::Status WithRetryAfter(absl::Status status, absl::Duration retry_after);

// Shorthand: absl::Status(code, message) with `reason` attached.
absl::Status MakeError(absl::StatusCode code, absl::string_view message,
                       absl::string_view reason);

// Gives a vault failure (storage or sealing) the reason a caller can act on,
// keeping a reason already attached: UNAVAILABLE -> STORAGE_UNAVAILABLE,
// DATA_LOSS -> RECORD_UNREADABLE, NOT_FOUND -> TOKEN_NOT_FOUND; anything else
// becomes INTERNAL / INTERNAL (same message).
absl::Status VaultFailure(const absl::Status& status);

// The attached reason, or "" when there is none (and for OK).
std::string ReasonOf(const absl::Status& status);
// The attached WeChat errcode, if any.
absl::optional<int> WeChatErrcodeOf(const absl::Status& status);
// The attached retry-after hint, if any.
absl::optional<absl::Duration> RetryAfterOf(const absl::Status& status);

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_ERROR_REASON_H_

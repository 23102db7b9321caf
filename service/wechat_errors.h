// wechat_errors: the one table that says what each WeChat errcode means for
// the caller.
//
// WeChat answers errors with HTTP 200 and {"errcode":N,"errmsg":"..."}. This
// module turns N (never errmsg) into a class (what the caller should do), an
// absl::StatusCode and a wxvault-reason (DESIGN §3), and builds the Status the
// rest of the server sees. Every Status built here carries the
// `wechat-errcode` payload; quota errors also carry a retry-after hint.
//
// The table (see KnownWeChatErrors() and docs/wechat-upstream.md):
//   40029                -> INVALID_ARGUMENT     INVALID_CODE
//   40163                -> INVALID_ARGUMENT     CODE_ALREADY_USED
//   42003                -> INVALID_ARGUMENT     CODE_EXPIRED
//   40001 40014 42001    -> UNAUTHENTICATED      ACCESS_TOKEN_INVALID
//                           (internal: the service refreshes and retries once;
//                           it must not reach a gRPC client as is)
//   40030 42002 42007    -> FAILED_PRECONDITION  REAUTH_REQUIRED
//   40013 40125          -> FAILED_PRECONDITION  APP_CREDENTIALS_INVALID
//   45009 45011          -> RESOURCE_EXHAUSTED   UPSTREAM_RATE_LIMITED
//                           (45011: retry after >= 60 s and pause the
//                           endpoint; 45009: retry after the next midnight,
//                           Beijing time, when WeChat resets daily quotas)
//   -1                   -> UNAVAILABLE          UPSTREAM_UNAVAILABLE (retry)
//   48001 50002          -> PERMISSION_DENIED    UNAUTHORIZED_API
//   50001                -> PERMISSION_DENIED    SCOPE_NOT_GRANTED
//   40003                -> NOT_FOUND            TOKEN_NOT_FOUND
//   41001..41009         -> INTERNAL             UPSTREAM_BAD_REQUEST (our bug)
//   anything else        -> UNAVAILABLE          UPSTREAM_ERROR (not retried
//                           by the client; callers may retry later)
//
// Thread safety: all functions are pure and safe to call concurrently.
#ifndef WXVAULT_SERVICE_WECHAT_ERRORS_H_
#define WXVAULT_SERVICE_WECHAT_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace wxvault::service {

// What the caller should do about an error.
enum class WeChatErrorClass {
  kInvalidCode,         // the code is wrong: ask the app for a new one
  kCodeUsed,            // the code was already exchanged
  kCodeExpired,         // the code is older than its 5-10 minutes
  kAccessTokenInvalid,  // refresh the access token, then retry once
  kReauthRequired,      // the refresh token is dead: the user must log in
  kAppMisconfigured,    // app id or secret wrong: operator must fix config
  kDailyQuota,          // come back tomorrow (Beijing time)
  kMinuteQuota,         // pause this endpoint >= 60 s
  kBusy,                // transient: retry with backoff
  kPermission,          // the app or user lacks the right to this API
  kInvalidOpenid,       // WeChat does not know this openid for the token
  kMissingParameter,    // we sent a bad request: a bug in wxvault
  kUnknown,             // an errcode not in the table
};

// A short snake_case name for `error_class`, used as a metric label:
// invalid_code, code_used, code_expired, access_token_invalid, reauth,
// app_misconfigured, rate_limited (daily and minute quota), unavailable
// (busy), permission_denied, invalid_openid, bad_request (missing
// parameter), unknown_errcode.
absl::string_view WeChatErrorClassName(WeChatErrorClass error_class);

struct WeChatErrorInfo {
  int errcode;
  WeChatErrorClass error_class;
  absl::StatusCode code;
  absl::string_view reason;
  // Whether the WeChat client retries this errcode itself (with backoff,
  // never for the code exchange). Only kBusy.
  bool retryable;
  absl::string_view meaning;  // short English description for messages
};

// The table entry for `errcode`; unknown errcodes get a kUnknown entry whose
// `errcode` field is the one asked for.
WeChatErrorInfo ClassifyWeChatErrcode(int errcode);

// Every errcode DESIGN §5 names, in table order.
absl::Span<const WeChatErrorInfo> KnownWeChatErrors();

// The minimum pause after 45011 (WeChat's minute quota).
inline constexpr absl::Duration kMinuteQuotaPause = absl::Seconds(60);

// How long until WeChat's daily quotas reset (next 00:00 UTC+8) from `now`.
absl::Duration TimeUntilDailyQuotaReset(absl::Time now);

// The Status for an error answer from WeChat: code and reason from the table,
// the `wechat-errcode` payload, a retry-after hint for quotas (45011: 60 s;
// 45009: until the daily reset, from `now`). `endpoint` is the path, e.g.
// "/sns/auth". `errmsg` is reduced to a short, sanitized excerpt with long
// alphanumeric runs (which could be echoed tokens) removed.
absl::Status WeChatErrorStatus(int errcode, absl::string_view errmsg,
                               absl::string_view endpoint, absl::Time now);

// errmsg as it may appear in a message: at most 80 bytes of
// [A-Za-z0-9 ,.:;_-()[]], runs of 16+ word characters replaced by "*".
std::string SanitizeErrmsg(absl::string_view errmsg);

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_WECHAT_ERRORS_H_

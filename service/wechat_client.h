// WeChatClient: typed calls to WeChat's mobile-app OAuth endpoints.
//
//   ExchangeCode      /sns/oauth2/access_token   code -> tokens
//   RefreshToken      /sns/oauth2/refresh_token  refresh token -> tokens
//   CheckAccessToken  /sns/auth                  is an access token valid?
//   GetUserInfo       /sns/userinfo              the user's profile
//
// Every call passes the shared RateLimiter (one token per HTTP attempt) and
// fails fast with RESOURCE_EXHAUSTED while its endpoint is paused after
// errcode 45011 (which pauses the endpoint for `minute_quota_pause`).
//
// Time bounds: each call finishes by min(deadline, start + max_call_duration)
// (max_call_duration <= 15 s, DESIGN §6a), retries and backoff included. Each
// HTTP attempt gets min(per_attempt_timeout, time left).
//
// Retry policy (see docs/wechat-upstream.md):
//   * RefreshToken, CheckAccessToken and GetUserInfo retry, up to
//     retry.max_attempts attempts in all, on retryable failures only: errcode
//     -1 (busy), HTTP 5xx/429, transport errors (connect, reset, timeout),
//     garbage or truncated bodies. Waits are exponential with full jitter
//     (backoff.h); a retry whose wait would end past the deadline is not
//     made and the last error is returned.
//   * ExchangeCode is NOT retried once the request may have reached WeChat:
//     WeChat may have consumed the single-use code, and a retry would answer
//     40163 (code used) and lose the user's login. It is retried only when the
//     HTTP client reports that nothing was sent (DNS, connect or TLS
//     failure). Errcode -1 on an exchange is returned, not retried.
//   * Nothing else is retried here. ACCESS_TOKEN_INVALID (40001/40014/42001)
//     is returned to the caller, which refreshes the token and retries once.
//
// Errors (code / wxvault-reason; WeChat errors also carry wechat-errcode):
//   the errcode table of wechat_errors.h for WeChat error answers;
//   UNAVAILABLE/UPSTREAM_UNAVAILABLE: transport failures, HTTP 5xx, bodies
//     that are not the expected JSON, errcode -1;
//   UNAVAILABLE/UPSTREAM_ERROR: other non-200 statuses, unknown errcodes;
//   RESOURCE_EXHAUSTED/UPSTREAM_RATE_LIMITED: quota (45009/45011), paused
//     endpoint, or no rate-limiter slot before the deadline (retry-after set);
//   DEADLINE_EXCEEDED/UPSTREAM_UNAVAILABLE: the deadline passed before any
//     attempt could be made;
//   INVALID_ARGUMENT: empty or oversized inputs (INVALID_CODE for codes).
// Status messages and log lines name endpoints by path only; they never
// contain a code, token or app secret.
//
// Thread safety: all methods are thread-safe. The dependencies are not owned
// and must outlive the client.
#ifndef WXVAULT_SERVICE_WECHAT_CLIENT_H_
#define WXVAULT_SERVICE_WECHAT_CLIENT_H_

#include <initializer_list>
#include <memory>
#include <string>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "service/backoff.h"
#include "service/http_client.h"
#include "service/rate_limiter.h"
#include "service/sleeper.h"
#include "service/wechat_response.h"
#include "vault/clock.h"

namespace wxvault::service {

// One WeChat Open Platform app.
struct WeChatApp {
  std::string app_id;
  std::string secret;
};

// Told about every HTTP attempt to WeChat, for metrics. Implementations must
// be thread-safe and cheap (they run on the calling thread).
class WeChatCallObserver {
 public:
  virtual ~WeChatCallObserver() = default;
  // `status`: the attempt's outcome as the client classified it (OK, or the
  // error with its reason and wechat-errcode payloads; never a secret).
  // `elapsed`: wall time of the HTTP exchange and the parsing of its body.
  virtual void OnAttempt(WeChatEndpoint endpoint, const absl::Status& status, absl::Duration elapsed) = 0;
};

struct WeChatRetryPolicy {
  // Attempts per call, the first included. 1 disables retries.
  int max_attempts = 4;
  BackoffPolicy backoff;
};

struct WeChatClientOptions {
  // Scheme and host (optionally port and path prefix), no trailing slash
  // needed (--wechat_api_base).
  std::string api_base = "https://api.weixin.qq.com";
  // Timeout for one HTTP attempt.
  absl::Duration per_attempt_timeout = absl::Seconds(5);
  // Upper bound for a whole call, retries included; at most 15 s.
  absl::Duration max_call_duration = absl::Seconds(15);
  // How long an endpoint stays paused after 45011; at least 60 s.
  absl::Duration minute_quota_pause = absl::Seconds(60);
  WeChatRetryPolicy retry;

  // INVALID_ARGUMENT naming the first bad field, or OK.
  absl::Status Validate() const;
};

class WeChatClient {
 public:
  struct Deps {
    HttpClient* http = nullptr;
    Clock* clock = nullptr;
    RateLimiter* limiter = nullptr;
    Sleeper* sleeper = RealSleeper::Get();
    JitterSource* jitter = BitGenJitterSource::Default();
    WeChatCallObserver* observer = nullptr;  // optional
  };

  // Errors: INVALID_ARGUMENT for invalid options or a missing dependency.
  static absl::StatusOr<std::unique_ptr<WeChatClient>> Create(
      const Deps& deps, WeChatClientOptions options);

  // Exchanges a login code for tokens (GET /sns/oauth2/access_token).
  absl::StatusOr<OAuthTokenResult> ExchangeCode(const WeChatApp& app,
                                                absl::string_view code,
                                                absl::Time deadline);

  // Renews the access token (GET /sns/oauth2/refresh_token; no secret). On
  // success `refresh_token` may be "" (WeChat omitted it: keep the old one).
  absl::StatusOr<OAuthTokenResult> RefreshToken(absl::string_view app_id,
                                                absl::string_view refresh_token,
                                                absl::Time deadline);

  // OK when WeChat says the access token is valid for `openid` (/sns/auth).
  absl::Status CheckAccessToken(absl::string_view access_token,
                                absl::string_view openid, absl::Time deadline);

  // The user's profile (/sns/userinfo). `lang`: "", "zh_CN", "zh_TW" or "en".
  absl::StatusOr<UserProfile> GetUserInfo(absl::string_view access_token,
                                          absl::string_view openid,
                                          absl::string_view lang,
                                          absl::Time deadline);

 private:
  WeChatClient(const Deps& deps, WeChatClientOptions options);

  // Runs the attempt loop for one call. `handle_body` parses a 200 body and
  // returns its Status (and stores the typed result).
  absl::Status Call(WeChatEndpoint endpoint, const std::string& url,
                    absl::Time deadline,
                    absl::FunctionRef<absl::Status(absl::string_view)>
                        handle_body);
  // Call() for endpoints with a typed result built by `parse`.
  template <typename T>
  absl::StatusOr<T> CallFor(WeChatEndpoint endpoint, const std::string& url,
                            absl::Time deadline,
                            absl::StatusOr<T> (*parse)(absl::string_view body,
                                                       absl::Time now));
  bool ShouldRetry(WeChatEndpoint endpoint, const absl::Status& status) const;
  std::string Url(WeChatEndpoint endpoint,
                  std::initializer_list<std::pair<absl::string_view,
                                                  absl::string_view>>
                      params) const;

  const Deps deps_;
  const WeChatClientOptions options_;
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_WECHAT_CLIENT_H_

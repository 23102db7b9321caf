#include "service/wechat_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/types/optional.h"
#include "service/error_reason.h"
#include "service/log.h"
#include "service/wechat_errors.h"

namespace wxvault::service {
namespace {

constexpr size_t kMaxCodeBytes = 256;
constexpr size_t kMaxTokenBytes = 512;
constexpr size_t kMaxIdBytes = 128;

// Checks a value that goes into a query string. The value itself never
// appears in the message.
absl::Status CheckParam(absl::string_view name, absl::string_view value,
                        size_t max_bytes, absl::StatusCode code,
                        absl::string_view why) {
  bool printable = std::all_of(value.begin(), value.end(), [](char c) {
    return c > 0x20 && c < 0x7F;
  });
  if (value.empty() || value.size() > max_bytes || !printable) {
    return MakeError(code,
                     absl::StrCat(name, " must be 1..", max_bytes,
                                  " printable ASCII characters"),
                     why);
  }
  return absl::OkStatus();
}

absl::Status CheckInput(absl::string_view name, absl::string_view value,
                        size_t max_bytes) {
  return CheckParam(name, value, max_bytes, absl::StatusCode::kInvalidArgument,
                    reason::kInvalidArgument);
}

absl::Status CheckTokenAndOpenid(absl::string_view access_token,
                                 absl::string_view openid) {
  absl::Status s = CheckInput("access_token", access_token, kMaxTokenBytes);
  return s.ok() ? CheckInput("openid", openid, kMaxIdBytes) : s;
}

void AppendPercentEncoded(absl::string_view value, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : value) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out->push_back(c);
    } else {
      unsigned char u = static_cast<unsigned char>(c);
      out->push_back('%');
      out->push_back(kHex[u >> 4]);
      out->push_back(kHex[u & 0xF]);
    }
  }
}

// Non-200 answers. WeChat itself answers errors with 200; anything else came
// from a gateway or proxy in between.
absl::Status StatusFromHttpCode(WeChatEndpoint endpoint, int status_code) {
  bool transient = status_code >= 500 || status_code == 429;
  return MakeError(absl::StatusCode::kUnavailable,
                   absl::StrCat("WeChat ", EndpointPath(endpoint), ": HTTP ",
                                status_code),
                   transient ? reason::kUpstreamUnavailable
                             : reason::kUpstreamError);
}

bool IsCallerSide(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
      return true;
    default:
      return false;
  }
}

}  // namespace

absl::Status WeChatClientOptions::Validate() const {
  if (!absl::StartsWith(api_base, "https://") &&
      !absl::StartsWith(api_base, "http://")) {
    return absl::InvalidArgumentError(
        "wechat_api_base must start with https:// or http://");
  }
  if (api_base.find_first_of("?#") != std::string::npos) {
    return absl::InvalidArgumentError(
        "wechat_api_base must not have a query or fragment");
  }
  if (per_attempt_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("per_attempt_timeout must be positive");
  }
  if (max_call_duration <= absl::ZeroDuration() ||
      max_call_duration > absl::Seconds(15)) {
    return absl::InvalidArgumentError("max_call_duration must be in (0, 15s]");
  }
  if (minute_quota_pause < kMinuteQuotaPause) {
    return absl::InvalidArgumentError("minute_quota_pause must be >= 60s");
  }
  if (retry.max_attempts < 1) {
    return absl::InvalidArgumentError("retry.max_attempts must be >= 1");
  }
  return retry.backoff.Validate();
}

absl::StatusOr<std::unique_ptr<WeChatClient>> WeChatClient::Create(
    const Deps& deps, WeChatClientOptions options) {
  if (deps.http == nullptr || deps.clock == nullptr ||
      deps.limiter == nullptr || deps.sleeper == nullptr ||
      deps.jitter == nullptr) {
    return absl::InvalidArgumentError("WeChatClient: a dependency is null");
  }
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  while (!options.api_base.empty() && options.api_base.back() == '/') {
    options.api_base.pop_back();
  }
  return std::unique_ptr<WeChatClient>(
      new WeChatClient(deps, std::move(options)));
}

WeChatClient::WeChatClient(const Deps& deps, WeChatClientOptions options)
    : deps_(deps), options_(std::move(options)) {}

std::string WeChatClient::Url(
    WeChatEndpoint endpoint,
    std::initializer_list<std::pair<absl::string_view, absl::string_view>>
        params) const {
  std::string url = absl::StrCat(options_.api_base, EndpointPath(endpoint));
  char sep = '?';
  for (const auto& [name, value] : params) {
    url.push_back(sep);
    sep = '&';
    absl::StrAppend(&url, name, "=");
    AppendPercentEncoded(value, &url);
  }
  return url;
}

bool WeChatClient::ShouldRetry(WeChatEndpoint endpoint,
                               const absl::Status& status) const {
  if (endpoint == WeChatEndpoint::kExchangeCode) {
    // WeChat may have consumed the code: retry only what never left here.
    return RequestNotSent(status);
  }
  return RequestNotSent(status) ||
         ReasonOf(status) == reason::kUpstreamUnavailable;
}

absl::Status WeChatClient::Call(
    WeChatEndpoint endpoint, const std::string& url, absl::Time deadline,
    absl::FunctionRef<absl::Status(absl::string_view)> handle_body) {
  const absl::string_view path = EndpointPath(endpoint);
  const absl::Time end =
      std::min(deadline, deps_.clock->Now() + options_.max_call_duration);
  const int max_attempts = options_.retry.max_attempts;
  ExponentialBackoff backoff(options_.retry.backoff, deps_.jitter);
  absl::Status last;
  for (int attempt = 1;; ++attempt) {
    if (absl::Status paused = deps_.limiter->CheckNotPaused(path);
        !paused.ok()) {
      return last.ok() ? paused : last;
    }
    if (absl::Status slot = deps_.limiter->Acquire(end); !slot.ok()) {
      return last.ok() ? slot : last;
    }
    absl::Time now = deps_.clock->Now();
    if (now >= end) {
      if (!last.ok()) return last;
      return MakeError(absl::StatusCode::kDeadlineExceeded,
                       absl::StrCat("WeChat ", path,
                                    ": deadline passed before the call"),
                       reason::kUpstreamUnavailable);
    }
    HttpRequest request{url, std::min(options_.per_attempt_timeout, end - now)};
    const absl::Time attempt_start = absl::Now();  // wall time, for metrics only
    absl::StatusOr<HttpResponse> response = deps_.http->Get(request);
    absl::Status status;
    if (!response.ok()) {
      status = response.status();
    } else if (response->status_code != 200) {
      status = StatusFromHttpCode(endpoint, response->status_code);
    } else {
      status = handle_body(response->body);
    }
    if (deps_.observer != nullptr) deps_.observer->OnAttempt(endpoint, status, absl::Now() - attempt_start);
    if (status.ok()) return status;
    if (WeChatErrcodeOf(status) == 45011) {
      deps_.limiter->PauseEndpoint(
          path, deps_.clock->Now() + options_.minute_quota_pause);
      status = WithRetryAfter(std::move(status), options_.minute_quota_pause);
    }
    last = status;
    bool retry = attempt < max_attempts && ShouldRetry(endpoint, status);
    absl::Duration delay = retry ? backoff.NextDelay() : absl::ZeroDuration();
    if (retry && deps_.clock->Now() + delay >= end) retry = false;
    if (!retry) {
      if (IsCallerSide(status.code())) {
        WXV_LOG(INFO) << "WeChat " << path << " failed: " << status;
      } else {
        WXV_LOG(WARNING) << "WeChat " << path << " attempt " << attempt << "/"
                         << max_attempts << " failed, giving up: " << status;
      }
      return status;
    }
    WXV_LOG(WARNING) << "WeChat " << path << " attempt " << attempt << "/"
                     << max_attempts << " failed, retrying in "
                     << absl::FormatDuration(delay) << ": " << status;
    deps_.sleeper->SleepFor(delay);
  }
}

template <typename T>
absl::StatusOr<T> WeChatClient::CallFor(
    WeChatEndpoint endpoint, const std::string& url, absl::Time deadline,
    absl::StatusOr<T> (*parse)(absl::string_view body, absl::Time now)) {
  absl::optional<T> result;
  absl::Status status =
      Call(endpoint, url, deadline, [&](absl::string_view body) {
        absl::StatusOr<T> parsed = parse(body, deps_.clock->Now());
        if (!parsed.ok()) return parsed.status();
        result = *std::move(parsed);
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return *std::move(result);
}

absl::StatusOr<OAuthTokenResult> WeChatClient::ExchangeCode(
    const WeChatApp& app, absl::string_view code, absl::Time deadline) {
  if (absl::Status s = CheckParam("code", code, kMaxCodeBytes,
                                  absl::StatusCode::kInvalidArgument,
                                  reason::kInvalidCode);
      !s.ok()) {
    return s;
  }
  for (auto [name, value] : {std::pair<absl::string_view, absl::string_view>{
                                 "app_id", app.app_id},
                             {"app secret", app.secret}}) {
    if (absl::Status s = CheckParam(name, value, kMaxIdBytes,
                                    absl::StatusCode::kFailedPrecondition,
                                    reason::kAppCredentialsInvalid);
        !s.ok()) {
      return s;
    }
  }
  const WeChatEndpoint endpoint = WeChatEndpoint::kExchangeCode;
  std::string url = Url(endpoint, {{"appid", app.app_id},
                                   {"secret", app.secret},
                                   {"code", code},
                                   {"grant_type", "authorization_code"}});
  return CallFor<OAuthTokenResult>(
      endpoint, url, deadline, [](absl::string_view body, absl::Time now) {
        return ParseTokenResponse(WeChatEndpoint::kExchangeCode, body, now);
      });
}

absl::StatusOr<OAuthTokenResult> WeChatClient::RefreshToken(
    absl::string_view app_id, absl::string_view refresh_token,
    absl::Time deadline) {
  if (absl::Status s = CheckParam("app_id", app_id, kMaxIdBytes,
                                  absl::StatusCode::kFailedPrecondition,
                                  reason::kAppCredentialsInvalid);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckInput("refresh_token", refresh_token,
                                  kMaxTokenBytes);
      !s.ok()) {
    return s;
  }
  const WeChatEndpoint endpoint = WeChatEndpoint::kRefreshToken;
  std::string url = Url(endpoint, {{"appid", app_id},
                                   {"grant_type", "refresh_token"},
                                   {"refresh_token", refresh_token}});
  return CallFor<OAuthTokenResult>(
      endpoint, url, deadline, [](absl::string_view body, absl::Time now) {
        return ParseTokenResponse(WeChatEndpoint::kRefreshToken, body, now);
      });
}

absl::Status WeChatClient::CheckAccessToken(absl::string_view access_token,
                                            absl::string_view openid,
                                            absl::Time deadline) {
  if (absl::Status s = CheckTokenAndOpenid(access_token, openid); !s.ok()) {
    return s;
  }
  const WeChatEndpoint endpoint = WeChatEndpoint::kAuth;
  std::string url =
      Url(endpoint, {{"access_token", access_token}, {"openid", openid}});
  return Call(endpoint, url, deadline, [&](absl::string_view body) {
    return ParseAuthResponse(body, deps_.clock->Now());
  });
}

absl::StatusOr<UserProfile> WeChatClient::GetUserInfo(
    absl::string_view access_token, absl::string_view openid,
    absl::string_view lang, absl::Time deadline) {
  if (absl::Status s = CheckTokenAndOpenid(access_token, openid); !s.ok()) {
    return s;
  }
  if (!lang.empty() && lang != "zh_CN" && lang != "zh_TW" && lang != "en") {
    return MakeError(absl::StatusCode::kInvalidArgument,
                     "lang must be one of zh_CN, zh_TW, en",
                     reason::kInvalidArgument);
  }
  const WeChatEndpoint endpoint = WeChatEndpoint::kUserInfo;
  std::string url =
      lang.empty()
          ? Url(endpoint, {{"access_token", access_token}, {"openid", openid}})
          : Url(endpoint, {{"access_token", access_token},
                           {"openid", openid},
                           {"lang", lang}});
  return CallFor<UserProfile>(endpoint, url, deadline, &ParseUserInfoResponse);
}

}  // namespace wxvault::service

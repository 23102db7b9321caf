#include "service/wechat_errors.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "service/error_reason.h"

namespace wxvault::service {
namespace {

using C = WeChatErrorClass;
using Code = absl::StatusCode;

constexpr WeChatErrorInfo kTable[] = {
    {-1, C::kBusy, Code::kUnavailable, reason::kUpstreamUnavailable, true,
     "system busy"},
    {40001, C::kAccessTokenInvalid, Code::kUnauthenticated,
     reason::kAccessTokenInvalid, false, "invalid credential"},
    {40014, C::kAccessTokenInvalid, Code::kUnauthenticated,
     reason::kAccessTokenInvalid, false, "invalid access_token"},
    {42001, C::kAccessTokenInvalid, Code::kUnauthenticated,
     reason::kAccessTokenInvalid, false, "access_token expired"},
    {40029, C::kInvalidCode, Code::kInvalidArgument, reason::kInvalidCode,
     false, "invalid code"},
    {40163, C::kCodeUsed, Code::kInvalidArgument, reason::kCodeAlreadyUsed,
     false, "code been used"},
    {42003, C::kCodeExpired, Code::kInvalidArgument, reason::kCodeExpired,
     false, "code expired"},
    {40030, C::kReauthRequired, Code::kFailedPrecondition,
     reason::kReauthRequired, false, "invalid refresh_token"},
    {42002, C::kReauthRequired, Code::kFailedPrecondition,
     reason::kReauthRequired, false, "refresh_token expired"},
    {42007, C::kReauthRequired, Code::kFailedPrecondition,
     reason::kReauthRequired, false, "user changed password"},
    {40003, C::kInvalidOpenid, Code::kNotFound, reason::kTokenNotFound, false,
     "invalid openid"},
    {40013, C::kAppMisconfigured, Code::kFailedPrecondition,
     reason::kAppCredentialsInvalid, false, "invalid appid"},
    {40125, C::kAppMisconfigured, Code::kFailedPrecondition,
     reason::kAppCredentialsInvalid, false, "invalid appsecret"},
    {45009, C::kDailyQuota, Code::kResourceExhausted,
     reason::kUpstreamRateLimited, false, "daily quota reached"},
    {45011, C::kMinuteQuota, Code::kResourceExhausted,
     reason::kUpstreamRateLimited, false, "minute quota reached"},
    {48001, C::kPermission, Code::kPermissionDenied, reason::kScopeNotGranted,
     false, "api unauthorized (scope not granted)"},
    {50001, C::kPermission, Code::kPermissionDenied, reason::kUnauthorizedApi,
     false, "user unauthorized for this api"},
    {50002, C::kPermission, Code::kPermissionDenied, reason::kUnauthorizedApi,
     false, "user limited"},
    {41001, C::kMissingParameter, Code::kInternal, reason::kUpstreamBadRequest,
     false, "missing access_token"},
    {41002, C::kMissingParameter, Code::kInternal, reason::kUpstreamBadRequest,
     false, "missing appid"},
    {41003, C::kMissingParameter, Code::kInternal, reason::kUpstreamBadRequest,
     false, "missing refresh_token"},
    {41004, C::kMissingParameter, Code::kInternal, reason::kUpstreamBadRequest,
     false, "missing secret"},
    {41005, C::kMissingParameter, Code::kInternal, reason::kUpstreamBadRequest,
     false, "missing media data"},
    {41006, C::kMissingParameter, Code::kInternal, reason::kUpstreamBadRequest,
     false, "missing media_id"},
    {41007, C::kMissingParameter, Code::kInternal, reason::kUpstreamBadRequest,
     false, "missing sub_menu data"},
    {41008, C::kMissingParameter, Code::kInternal, reason::kUpstreamBadRequest,
     false, "missing oauth code"},
    {41009, C::kMissingParameter, Code::kInternal, reason::kUpstreamBadRequest,
     false, "missing openid"},
};

bool IsWordChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

bool IsKeptPunctuation(char c) {
  switch (c) {
    case ' ': case ',': case '.': case ':': case ';': case '_': case '-':
    case '(': case ')': case '[': case ']':
      return true;
    default:
      return false;
  }
}

}  // namespace

absl::string_view WeChatErrorClassName(WeChatErrorClass error_class) {
  switch (error_class) {
    case C::kInvalidCode:
      return "invalid_code";
    case C::kCodeUsed:
      return "code_used";
    case C::kCodeExpired:
      return "code_expired";
    case C::kAccessTokenInvalid:
      return "access_token_invalid";
    case C::kReauthRequired:
      return "reauth";
    case C::kAppMisconfigured:
      return "app_misconfigured";
    case C::kDailyQuota:
    case C::kMinuteQuota:
      return "rate_limited";
    case C::kBusy:
      return "unavailable";
    case C::kPermission:
      return "permission_denied";
    case C::kInvalidOpenid:
      return "invalid_openid";
    case C::kMissingParameter:
      return "bad_request";
    case C::kUnknown:
      break;
  }
  return "unknown_errcode";
}

WeChatErrorInfo ClassifyWeChatErrcode(int errcode) {
  for (const WeChatErrorInfo& info : kTable) {
    if (info.errcode == errcode) return info;
  }
  return {errcode, C::kUnknown, Code::kUnavailable, reason::kUpstreamError,
          false, "unknown errcode"};
}

absl::Span<const WeChatErrorInfo> KnownWeChatErrors() { return kTable; }

absl::Duration TimeUntilDailyQuotaReset(absl::Time now) {
  const absl::TimeZone beijing = absl::FixedTimeZone(8 * 60 * 60);
  absl::CivilDay today = absl::ToCivilDay(now, beijing);
  absl::Time next_midnight = absl::FromCivil(today + 1, beijing);
  return next_midnight - now;
}

std::string SanitizeErrmsg(absl::string_view errmsg) {
  std::string out;
  size_t i = 0;
  while (i < errmsg.size() && out.size() < 80) {
    if (IsWordChar(errmsg[i])) {
      size_t j = i;
      while (j < errmsg.size() && IsWordChar(errmsg[j])) ++j;
      if (j - i >= 16) {
        out.push_back('*');
      } else {
        out.append(errmsg.data() + i, j - i);
      }
      i = j;
      continue;
    }
    if (IsKeptPunctuation(errmsg[i])) out.push_back(errmsg[i]);
    ++i;
  }
  if (out.size() > 80) out.resize(80);
  return out;
}

absl::Status WeChatErrorStatus(int errcode, absl::string_view errmsg,
                               absl::string_view endpoint, absl::Time now) {
  WeChatErrorInfo info = ClassifyWeChatErrcode(errcode);
  std::string message = absl::StrCat("WeChat ", endpoint, ": errcode ", errcode,
                                     " (", info.meaning, ")");
  std::string excerpt = SanitizeErrmsg(errmsg);
  if (!excerpt.empty()) absl::StrAppend(&message, ": ", excerpt);
  absl::Status status =
      WithWeChatErrcode(MakeError(info.code, message, info.reason), errcode);
  if (info.error_class == C::kMinuteQuota) {
    status = WithRetryAfter(std::move(status), kMinuteQuotaPause);
  } else if (info.error_class == C::kDailyQuota) {
    status = WithRetryAfter(std::move(status), TimeUntilDailyQuotaReset(now));
  }
  return status;
}

}  // namespace wxvault::service

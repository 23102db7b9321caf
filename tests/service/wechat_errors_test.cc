// The errcode classification table: every errcode DESIGN §5 names, and the
// Status payloads the gRPC layer reads.
#include "service/wechat_errors.h"

#include <set>

#include "gtest/gtest.h"
#include "service/error_reason.h"

namespace wxvault::service {
namespace {

using ::absl::StatusCode;
using C = WeChatErrorClass;

struct Expected {
  int errcode;
  C error_class;
  StatusCode code;
  const char* reason;
  bool retryable;
};

// DESIGN §5, errcode by errcode.
constexpr Expected kDesignErrcodes[] = {
    {-1, C::kBusy, StatusCode::kUnavailable, "UPSTREAM_UNAVAILABLE", true},
    {40001, C::kAccessTokenInvalid, StatusCode::kUnauthenticated,
     "ACCESS_TOKEN_INVALID", false},
    {40014, C::kAccessTokenInvalid, StatusCode::kUnauthenticated,
     "ACCESS_TOKEN_INVALID", false},
    {42001, C::kAccessTokenInvalid, StatusCode::kUnauthenticated,
     "ACCESS_TOKEN_INVALID", false},
    {40029, C::kInvalidCode, StatusCode::kInvalidArgument, "INVALID_CODE",
     false},
    {40163, C::kCodeUsed, StatusCode::kInvalidArgument, "CODE_ALREADY_USED",
     false},
    {42003, C::kCodeExpired, StatusCode::kInvalidArgument, "CODE_EXPIRED",
     false},
    {40030, C::kReauthRequired, StatusCode::kFailedPrecondition,
     "REAUTH_REQUIRED", false},
    {42002, C::kReauthRequired, StatusCode::kFailedPrecondition,
     "REAUTH_REQUIRED", false},
    {42007, C::kReauthRequired, StatusCode::kFailedPrecondition,
     "REAUTH_REQUIRED", false},
    {40003, C::kInvalidOpenid, StatusCode::kNotFound, "TOKEN_NOT_FOUND", false},
    {40013, C::kAppMisconfigured, StatusCode::kFailedPrecondition,
     "APP_CREDENTIALS_INVALID", false},
    {40125, C::kAppMisconfigured, StatusCode::kFailedPrecondition,
     "APP_CREDENTIALS_INVALID", false},
    {45009, C::kDailyQuota, StatusCode::kResourceExhausted,
     "UPSTREAM_RATE_LIMITED", false},
    {45011, C::kMinuteQuota, StatusCode::kResourceExhausted,
     "UPSTREAM_RATE_LIMITED", false},
    {48001, C::kPermission, StatusCode::kPermissionDenied, "SCOPE_NOT_GRANTED",
     false},
    {50001, C::kPermission, StatusCode::kPermissionDenied, "UNAUTHORIZED_API",
     false},
    {50002, C::kPermission, StatusCode::kPermissionDenied, "UNAUTHORIZED_API",
     false},
};

TEST(WeChatErrorsTest, EveryDesignErrcodeIsClassified) {
  for (const Expected& e : kDesignErrcodes) {
    SCOPED_TRACE(e.errcode);
    WeChatErrorInfo info = ClassifyWeChatErrcode(e.errcode);
    EXPECT_EQ(info.errcode, e.errcode);
    EXPECT_EQ(info.error_class, e.error_class);
    EXPECT_EQ(info.code, e.code);
    EXPECT_EQ(info.reason, e.reason);
    EXPECT_EQ(info.retryable, e.retryable);
  }
  for (int errcode = 41001; errcode <= 41009; ++errcode) {
    SCOPED_TRACE(errcode);
    WeChatErrorInfo info = ClassifyWeChatErrcode(errcode);
    EXPECT_EQ(info.error_class, C::kMissingParameter);
    EXPECT_EQ(info.code, StatusCode::kInternal);
    EXPECT_EQ(info.reason, "UPSTREAM_BAD_REQUEST");
  }
}

TEST(WeChatErrorsTest, TableHasNoDuplicatesAndCoversDesign) {
  std::set<int> seen;
  for (const WeChatErrorInfo& info : KnownWeChatErrors()) {
    EXPECT_TRUE(seen.insert(info.errcode).second) << info.errcode;
    EXPECT_NE(info.error_class, C::kUnknown);
  }
  for (const Expected& e : kDesignErrcodes) EXPECT_EQ(seen.count(e.errcode), 1u);
  EXPECT_EQ(seen.size(), std::size(kDesignErrcodes) + 9);
}

TEST(WeChatErrorsTest, UnknownErrcodeIsUnavailableUpstreamError) {
  WeChatErrorInfo info = ClassifyWeChatErrcode(61234);
  EXPECT_EQ(info.errcode, 61234);
  EXPECT_EQ(info.error_class, C::kUnknown);
  EXPECT_EQ(info.code, StatusCode::kUnavailable);
  EXPECT_EQ(info.reason, "UPSTREAM_ERROR");
  EXPECT_FALSE(info.retryable);
}

TEST(WeChatErrorsTest, StatusCarriesReasonErrcodeAndRetryAfter) {
  absl::Time now = absl::FromCivil(absl::CivilSecond(2025, 1, 1, 12, 30, 0),
                                   absl::FixedTimeZone(8 * 3600));
  absl::Status used = WeChatErrorStatus(
      40163, "code been used, rid: 6650a1b2-3c4d5e6f", "/sns/oauth2/access_token",
      now);
  EXPECT_EQ(used.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReasonOf(used), "CODE_ALREADY_USED");
  EXPECT_EQ(WeChatErrcodeOf(used), 40163);
  EXPECT_EQ(RetryAfterOf(used), absl::nullopt);
  EXPECT_NE(used.message().find("rid: 6650a1b2-3c4d5e6f"), std::string::npos);

  absl::Status minute = WeChatErrorStatus(45011, "", "/sns/auth", now);
  EXPECT_EQ(RetryAfterOf(minute), absl::Seconds(60));
  absl::Status daily = WeChatErrorStatus(45009, "", "/sns/auth", now);
  EXPECT_EQ(RetryAfterOf(daily), absl::Hours(11) + absl::Minutes(30));
}

TEST(WeChatErrorsTest, DailyResetIsBeijingMidnight) {
  absl::TimeZone beijing = absl::FixedTimeZone(8 * 3600);
  EXPECT_EQ(TimeUntilDailyQuotaReset(absl::FromCivil(
                absl::CivilSecond(2025, 3, 1, 23, 59, 59), beijing)),
            absl::Seconds(1));
  EXPECT_EQ(TimeUntilDailyQuotaReset(
                absl::FromCivil(absl::CivilSecond(2025, 3, 1, 0, 0, 0), beijing)),
            absl::Hours(24));
}

TEST(WeChatErrorsTest, ErrmsgIsSanitized) {
  EXPECT_EQ(SanitizeErrmsg("invalid code, rid: 6650a1b2-3c4d5e6f"),
            "invalid code, rid: 6650a1b2-3c4d5e6f");
  // Long word runs (possible echoed tokens) and odd bytes are dropped.
  EXPECT_EQ(SanitizeErrmsg("bad token 0123456789abcdefXYZ\n\x01<script>"),
            "bad token *script");
  EXPECT_LE(SanitizeErrmsg(std::string(500, 'a') + std::string(500, ' ')).size(),
            80u);
}

TEST(ErrorReasonTest, PayloadsRoundTrip) {
  absl::Status s = MakeError(StatusCode::kUnavailable, "x", "UPSTREAM_ERROR");
  s = WithWeChatErrcode(std::move(s), -1);
  s = WithRetryAfter(std::move(s), absl::Milliseconds(1500));
  EXPECT_EQ(ReasonOf(s), "UPSTREAM_ERROR");
  EXPECT_EQ(WeChatErrcodeOf(s), -1);
  EXPECT_EQ(RetryAfterOf(s), absl::Milliseconds(1500));
  s = WithReason(std::move(s), "OTHER");
  EXPECT_EQ(ReasonOf(s), "OTHER");
  EXPECT_EQ(ReasonOf(absl::OkStatus()), "");
  EXPECT_EQ(WeChatErrcodeOf(absl::InternalError("y")), absl::nullopt);
  EXPECT_EQ(RetryAfterOf(WithRetryAfter(absl::InternalError("z"),
                                        -absl::Seconds(3))),
            absl::ZeroDuration());
}

}  // namespace
}  // namespace wxvault::service

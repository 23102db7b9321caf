// WeChatClient against the fake WeChat with injected faults: errcodes only
// fault injection can produce, HTTP failures, transport failures, and the
// retry policy (which calls retry, how often, how long they wait).
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "service/error_reason.h"
#include "service/http_client.h"
#include "service/wechat_errors.h"
#include "tests/service/test_support.h"

namespace wxvault::service {
namespace {

using ::absl::StatusCode;
using fake::Fault;
using fake::FaultKind;
using fake::FakeEndpoint;
using testing::IsError;
using testing::MakeHarness;

Fault Errcode(int errcode, int count = 1, bool after = false) {
  Fault f;
  f.kind = FaultKind::kErrcode;
  f.errcode = errcode;
  f.count = count;
  f.after_processing = after;
  return f;
}

Fault Kind(FaultKind kind, int count = 1) {
  Fault f;
  f.kind = kind;
  f.count = count;
  return f;
}

struct InjectedCase {
  int errcode;
  StatusCode code;
  const char* reason;
};

TEST(WeChatClientFaultsTest, InjectedErrcodesAreClassifiedAndNotRetried) {
  const std::vector<InjectedCase> cases = {
      {45009, StatusCode::kResourceExhausted, "UPSTREAM_RATE_LIMITED"},
      {50001, StatusCode::kPermissionDenied, "UNAUTHORIZED_API"},
      {50002, StatusCode::kPermissionDenied, "UNAUTHORIZED_API"},
      {41001, StatusCode::kInternal, "UPSTREAM_BAD_REQUEST"},
      {41002, StatusCode::kInternal, "UPSTREAM_BAD_REQUEST"},
      {41003, StatusCode::kInternal, "UPSTREAM_BAD_REQUEST"},
      {41004, StatusCode::kInternal, "UPSTREAM_BAD_REQUEST"},
      {41005, StatusCode::kInternal, "UPSTREAM_BAD_REQUEST"},
      {41006, StatusCode::kInternal, "UPSTREAM_BAD_REQUEST"},
      {41007, StatusCode::kInternal, "UPSTREAM_BAD_REQUEST"},
      {41008, StatusCode::kInternal, "UPSTREAM_BAD_REQUEST"},
      {41009, StatusCode::kInternal, "UPSTREAM_BAD_REQUEST"},
      {99999, StatusCode::kUnavailable, "UPSTREAM_ERROR"},
  };
  auto h = MakeHarness();
  OAuthTokenResult login = h->Login("oF1");
  for (const InjectedCase& c : cases) {
    SCOPED_TRACE(c.errcode);
    h->fake->Reset();
    h->fake->InjectFault(FakeEndpoint::kUserInfo, Errcode(c.errcode));
    absl::Status status =
        h->client->GetUserInfo(login.access_token, "oF1", "", h->Deadline())
            .status();
    EXPECT_TRUE(IsError(status, c.code, c.reason, c.errcode));
    EXPECT_EQ(h->fake->CallCount(FakeEndpoint::kUserInfo), 1);
  }
}

TEST(WeChatClientFaultsTest, BusyIsRetriedWithJitteredBackoff) {
  auto h = MakeHarness();
  OAuthTokenResult login = h->Login("oF2");
  h->fake->InjectFault(FakeEndpoint::kRefreshToken, Errcode(-1, 2));
  absl::Time start = h->clock.Now();
  auto refreshed =
      h->client->RefreshToken(h->app.app_id, login.refresh_token, h->Deadline());
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  EXPECT_EQ(h->fake->CallCount(FakeEndpoint::kRefreshToken), 3);
  // Full jitter pinned at 0.5: caps 100 ms, 200 ms -> waits 50 ms, 100 ms.
  EXPECT_EQ(h->sleeper.sleeps(), (std::vector<absl::Duration>{
                                     absl::Milliseconds(50),
                                     absl::Milliseconds(100)}));
  EXPECT_EQ(h->clock.Now() - start, absl::Milliseconds(150));
}

TEST(WeChatClientFaultsTest, RetriesStopAfterMaxAttempts) {
  auto h = MakeHarness();
  OAuthTokenResult login = h->Login("oF3");
  h->fake->InjectFault(FakeEndpoint::kAuth, Errcode(-1, 10));
  EXPECT_TRUE(IsError(
      h->client->CheckAccessToken(login.access_token, "oF3", h->Deadline()),
      StatusCode::kUnavailable, "UPSTREAM_UNAVAILABLE", -1));
  EXPECT_EQ(h->fake->CallCount(FakeEndpoint::kAuth), 4);
  EXPECT_EQ(h->sleeper.sleeps().size(), 3u);
}

TEST(WeChatClientFaultsTest, ExchangeIsNotRetriedOnBusy) {
  auto h = MakeHarness();
  std::string code = h->fake->MintCode("oF4");
  h->fake->InjectFault(FakeEndpoint::kAccessToken, Errcode(-1));
  EXPECT_TRUE(
      IsError(h->client->ExchangeCode(h->app, code, h->Deadline()).status(),
              StatusCode::kUnavailable, "UPSTREAM_UNAVAILABLE", -1));
  EXPECT_EQ(h->fake->CallCount(FakeEndpoint::kAccessToken), 1);
  // The fault came before processing: the code is still good.
  EXPECT_TRUE(h->client->ExchangeCode(h->app, code, h->Deadline()).ok());
}

TEST(WeChatClientFaultsTest, LostExchangeAnswerWouldMakeARetrySee40163) {
  // Why the exchange is not retried: WeChat consumed the code, the answer was
  // lost, and a second attempt answers 40163.
  auto h = MakeHarness();
  std::string code = h->fake->MintCode("oF5");
  h->fake->InjectFault(FakeEndpoint::kAccessToken,
                       Errcode(-1, 1, /*after=*/true));
  EXPECT_TRUE(
      IsError(h->client->ExchangeCode(h->app, code, h->Deadline()).status(),
              StatusCode::kUnavailable, "UPSTREAM_UNAVAILABLE", -1));
  EXPECT_EQ(h->fake->CallCount(FakeEndpoint::kAccessToken), 1);
  EXPECT_TRUE(
      IsError(h->client->ExchangeCode(h->app, code, h->Deadline()).status(),
              StatusCode::kInvalidArgument, "CODE_ALREADY_USED", 40163));
}

TEST(WeChatClientFaultsTest, ExchangeRetriesOnlyWhatWasNeverSent) {
  auto h = MakeHarness();
  std::string code = h->fake->MintCode("oF6");
  // Reset mid-answer: the request was sent, so no retry.
  h->fake->InjectFault(FakeEndpoint::kAccessToken, Kind(FaultKind::kReset));
  absl::Status status =
      h->client->ExchangeCode(h->app, code, h->Deadline()).status();
  EXPECT_TRUE(IsError(status, StatusCode::kUnavailable, "UPSTREAM_UNAVAILABLE",
                      absl::nullopt));
  EXPECT_FALSE(RequestNotSent(status));
  EXPECT_EQ(h->http->calls(), 1);
  // Nothing listening: connect fails before sending, so it retries.
  h->fake->Stop();
  status = h->client->ExchangeCode(h->app, code, h->Deadline()).status();
  EXPECT_TRUE(IsError(status, StatusCode::kUnavailable, "UPSTREAM_UNAVAILABLE",
                      absl::nullopt));
  EXPECT_TRUE(RequestNotSent(status));
  EXPECT_EQ(h->http->calls(), 1 + 4);
}

TEST(WeChatClientFaultsTest, MinuteQuotaPausesTheEndpoint) {
  auto h = MakeHarness();
  OAuthTokenResult login = h->Login("oF7");
  h->fake->InjectFault(FakeEndpoint::kRefreshToken, Errcode(45011));
  absl::Status status =
      h->client->RefreshToken(h->app.app_id, login.refresh_token, h->Deadline())
          .status();
  EXPECT_TRUE(IsError(status, StatusCode::kResourceExhausted,
                      "UPSTREAM_RATE_LIMITED", 45011));
  EXPECT_EQ(RetryAfterOf(status), absl::Seconds(60));
  // Paused: fails at once without calling WeChat.
  h->clock.Advance(absl::Seconds(59));
  status =
      h->client->RefreshToken(h->app.app_id, login.refresh_token, h->Deadline())
          .status();
  EXPECT_TRUE(IsError(status, StatusCode::kResourceExhausted,
                      "UPSTREAM_RATE_LIMITED", 45011));
  EXPECT_EQ(RetryAfterOf(status), absl::Seconds(1));
  EXPECT_EQ(h->fake->CallCount(FakeEndpoint::kRefreshToken), 1);
  // Other endpoints are not paused.
  EXPECT_TRUE(
      h->client->CheckAccessToken(login.access_token, "oF7", h->Deadline())
          .ok());
  h->clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(
      h->client->RefreshToken(h->app.app_id, login.refresh_token, h->Deadline())
          .ok());
}

TEST(WeChatClientFaultsTest, DailyQuotaRetryAfterIsNextBeijingMidnight) {
  auto h = MakeHarness();
  // 2025-06-15 15:00:00 UTC is 23:00 in Beijing: one hour to the reset.
  h->clock.Set(absl::FromCivil(absl::CivilSecond(2025, 6, 15, 15, 0, 0),
                               absl::UTCTimeZone()));
  OAuthTokenResult login = h->Login("oF8");
  h->fake->InjectFault(FakeEndpoint::kUserInfo, Errcode(45009));
  absl::Status status =
      h->client->GetUserInfo(login.access_token, "oF8", "", h->Deadline())
          .status();
  EXPECT_TRUE(IsError(status, StatusCode::kResourceExhausted,
                      "UPSTREAM_RATE_LIMITED", 45009));
  EXPECT_EQ(RetryAfterOf(status), absl::Hours(1));
}

TEST(WeChatClientFaultsTest, HttpErrorsAndBadBodies) {
  auto h = MakeHarness();
  OAuthTokenResult login = h->Login("oF9");
  auto userinfo = [&] {
    return h->client->GetUserInfo(login.access_token, "oF9", "", h->Deadline());
  };
  // 5xx, garbage, truncated, reset: retried, then fine.
  for (FaultKind kind : {FaultKind::kHttpStatus, FaultKind::kGarbage,
                         FaultKind::kTruncated, FaultKind::kReset}) {
    h->fake->Reset();
    h->fake->InjectFault(FakeEndpoint::kUserInfo, Kind(kind, 2));
    auto profile = userinfo();
    EXPECT_TRUE(profile.ok()) << static_cast<int>(kind) << profile.status();
    EXPECT_EQ(h->fake->CallCount(FakeEndpoint::kUserInfo), 3);
  }
  // Persistent garbage: UNAVAILABLE after all attempts.
  h->fake->Reset();
  h->fake->InjectFault(FakeEndpoint::kUserInfo, Kind(FaultKind::kGarbage, 9));
  EXPECT_TRUE(IsError(userinfo().status(), StatusCode::kUnavailable,
                      "UPSTREAM_UNAVAILABLE", absl::nullopt));
  // A 404 from something in between: not WeChat, not retried.
  h->fake->Reset();
  Fault not_found = Kind(FaultKind::kHttpStatus);
  not_found.http_status = 404;
  h->fake->InjectFault(FakeEndpoint::kUserInfo, not_found);
  EXPECT_TRUE(IsError(userinfo().status(), StatusCode::kUnavailable,
                      "UPSTREAM_ERROR", absl::nullopt));
  EXPECT_EQ(h->fake->CallCount(FakeEndpoint::kUserInfo), 1);
}

TEST(WeChatClientFaultsTest, ExchangeGarbageIsUnavailableAndNotRetried) {
  auto h = MakeHarness();
  std::string code = h->fake->MintCode("oF10");
  h->fake->InjectFault(FakeEndpoint::kAccessToken, Kind(FaultKind::kGarbage));
  EXPECT_TRUE(
      IsError(h->client->ExchangeCode(h->app, code, h->Deadline()).status(),
              StatusCode::kUnavailable, "UPSTREAM_UNAVAILABLE", absl::nullopt));
  EXPECT_EQ(h->fake->CallCount(FakeEndpoint::kAccessToken), 1);
}

TEST(WeChatClientFaultsTest, OversizeBodyIsCutAtOneMebibyte) {
  auto h = MakeHarness();
  OAuthTokenResult login = h->Login("oF11");
  h->fake->InjectFault(FakeEndpoint::kAuth, Kind(FaultKind::kOversize, 9));
  absl::Status status =
      h->client->CheckAccessToken(login.access_token, "oF11", h->Deadline());
  EXPECT_TRUE(IsError(status, StatusCode::kUnavailable, "UPSTREAM_UNAVAILABLE",
                      absl::nullopt));
  EXPECT_NE(status.message().find("larger than 1048576 bytes"),
            std::string::npos)
      << status;
}

TEST(WeChatClientFaultsTest, StallHitsThePerAttemptTimeout) {
  WeChatClientOptions options;
  options.per_attempt_timeout = absl::Milliseconds(200);
  options.retry.max_attempts = 1;
  auto h = MakeHarness(fake::FakeWeChatOptions(), options);
  OAuthTokenResult login = h->Login("oF12");
  Fault stall = Kind(FaultKind::kStall);
  stall.stall = absl::Milliseconds(800);
  h->fake->InjectFault(FakeEndpoint::kAuth, stall);
  absl::Time real_start = absl::Now();
  absl::Status status =
      h->client->CheckAccessToken(login.access_token, "oF12", h->Deadline());
  absl::Duration took = absl::Now() - real_start;
  EXPECT_TRUE(IsError(status, StatusCode::kUnavailable, "UPSTREAM_UNAVAILABLE",
                      absl::nullopt));
  EXPECT_NE(status.message().find("Timeout"), std::string::npos) << status;
  EXPECT_GE(took, absl::Milliseconds(190));
  EXPECT_LT(took, absl::Milliseconds(700));
}

TEST(WeChatClientRealTimeTest, CallerDeadlineBoundsRetriesOnTheRealClock) {
  // Real clock and sleeper: every attempt stalls; the whole call must still
  // end at the caller's 300 ms deadline.
  auto fake = fake::FakeWeChat::Start(fake::FakeWeChatOptions());
  ASSERT_TRUE(fake.ok());
  auto curl = CurlHttpClient::Create();
  ASSERT_TRUE(curl.ok());
  RateLimiter limiter(RateLimiterOptions(), RealClock::Get(),
                      RealSleeper::Get());
  WeChatClientOptions options;
  options.api_base = (*fake)->base_url();
  options.retry.backoff.initial_delay = absl::Milliseconds(20);
  WeChatClient::Deps deps;
  deps.http = curl->get();
  deps.clock = RealClock::Get();
  deps.limiter = &limiter;
  auto client = WeChatClient::Create(deps, options);
  ASSERT_TRUE(client.ok());
  Fault stall = Kind(FaultKind::kStall, 9);
  stall.stall = absl::Milliseconds(900);
  (*fake)->InjectFault(FakeEndpoint::kAuth, stall);
  absl::Time start = absl::Now();
  absl::Status status = (*client)->CheckAccessToken(
      "someAccessToken", "oX", start + absl::Milliseconds(300));
  absl::Duration took = absl::Now() - start;
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status;
  EXPECT_GE(took, absl::Milliseconds(250));
  EXPECT_LT(took, absl::Milliseconds(600));
}

TEST(WeChatClientRealTimeTest, ConcurrentCallersShareTheClient) {
  auto h = MakeHarness();
  OAuthTokenResult login = h->Login("oConcurrent");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        absl::Status s = h->client->CheckAccessToken(
            login.access_token, "oConcurrent", h->Deadline());
        if (!s.ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(h->fake->CallCount(FakeEndpoint::kAuth), 100);
}

}  // namespace
}  // namespace wxvault::service

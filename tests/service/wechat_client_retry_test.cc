// The WeChat client's attempt loop with a scripted HttpClient and a fake
// clock: deadlines, per-attempt timeouts, backoff timing, limiter interplay.
// No network and no real sleeping.
#include <deque>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "service/error_reason.h"
#include "service/http_client.h"
#include "tests/service/test_support.h"

namespace wxvault::service {
namespace {

using ::absl::StatusCode;
using testing::IsError;

// Answers from a script; each call costs `latency` of fake time.
class ScriptedHttpClient final : public HttpClient {
 public:
  explicit ScriptedHttpClient(FakeClock* clock) : clock_(clock) {}
  void Push(absl::StatusOr<HttpResponse> r) { script_.push_back(std::move(r)); }
  void PushBody(const std::string& body, int status = 200) {
    HttpResponse r;
    r.status_code = status;
    r.body = body;
    Push(r);
  }
  absl::StatusOr<HttpResponse> Get(const HttpRequest& request) override {
    requests_.push_back(request);
    clock_->Advance(latency_);
    if (script_.empty()) return absl::InternalError("script exhausted");
    absl::StatusOr<HttpResponse> r = std::move(script_.front());
    script_.pop_front();
    return r;
  }
  const std::vector<HttpRequest>& requests() const { return requests_; }
  void set_latency(absl::Duration d) { latency_ = d; }

 private:
  FakeClock* clock_;
  absl::Duration latency_;
  std::deque<absl::StatusOr<HttpResponse>> script_;
  std::vector<HttpRequest> requests_;
};

constexpr char kBusy[] = R"({"errcode":-1,"errmsg":"system error"})";
constexpr char kAuthOk[] = R"({"errcode":0,"errmsg":"ok"})";
constexpr char kTokens[] =
    R"({"access_token":"AT","expires_in":7200,"refresh_token":"RT","openid":"o","scope":"snsapi_userinfo"})";

class RetryTest : public ::testing::Test {
 protected:
  void Build(WeChatClientOptions options = WeChatClientOptions(),
             RateLimiterOptions limiter_options = RateLimiterOptions()) {
    limiter_ = std::make_unique<RateLimiter>(limiter_options, &clock_,
                                             &sleeper_);
    WeChatClient::Deps deps;
    deps.http = &http_;
    deps.clock = &clock_;
    deps.limiter = limiter_.get();
    deps.sleeper = &sleeper_;
    deps.jitter = &jitter_;
    options.api_base = "https://wechat.test/";
    auto client = WeChatClient::Create(deps, options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }
  absl::Status Auth(absl::Duration deadline_in = absl::Seconds(30)) {
    return client_->CheckAccessToken("AT", "o", clock_.Now() + deadline_in);
  }

  FakeClock clock_;
  FakeSleeper sleeper_{&clock_};
  testing::FixedJitter jitter_{0.5};
  ScriptedHttpClient http_{&clock_};
  std::unique_ptr<RateLimiter> limiter_;
  std::unique_ptr<WeChatClient> client_;
};

TEST_F(RetryTest, BuildsUrlsWithEscapedParameters) {
  Build();
  http_.PushBody(kTokens);
  ASSERT_TRUE(client_
                  ->ExchangeCode({"wxapp", "s3cr&t=/"}, "c+de",
                                 clock_.Now() + absl::Seconds(5))
                  .ok());
  EXPECT_EQ(http_.requests()[0].url,
            "https://wechat.test/sns/oauth2/access_token?appid=wxapp&secret="
            "s3cr%26t%3D%2F&code=c%2Bde&grant_type=authorization_code");
}

TEST_F(RetryTest, BackoffScheduleWithPinnedJitter) {
  WeChatClientOptions options;
  options.retry.max_attempts = 5;
  Build(options);
  for (int i = 0; i < 4; ++i) http_.PushBody(kBusy);
  http_.PushBody(kAuthOk);
  EXPECT_TRUE(Auth().ok());
  EXPECT_EQ(sleeper_.sleeps(),
            (std::vector<absl::Duration>{
                absl::Milliseconds(50), absl::Milliseconds(100),
                absl::Milliseconds(200), absl::Milliseconds(400)}));
}

TEST_F(RetryTest, StopsRetryingWhenTheBackoffWouldPassTheDeadline) {
  Build();
  http_.set_latency(absl::Milliseconds(10));
  for (int i = 0; i < 4; ++i) http_.PushBody(kBusy);
  // 10 ms call + 50 ms wait + 10 ms call = 70 ms; the next wait (100 ms)
  // would end past the 120 ms deadline.
  EXPECT_TRUE(IsError(Auth(absl::Milliseconds(120)), StatusCode::kUnavailable,
                      "UPSTREAM_UNAVAILABLE", -1));
  EXPECT_EQ(http_.requests().size(), 2u);
  // The second attempt got only the time left: 120 - 60 = 60 ms.
  EXPECT_EQ(http_.requests()[0].timeout, absl::Milliseconds(120));
  EXPECT_EQ(http_.requests()[1].timeout, absl::Milliseconds(60));
}

TEST_F(RetryTest, PerAttemptTimeoutAndFifteenSecondCap) {
  WeChatClientOptions options;
  options.per_attempt_timeout = absl::Seconds(10);
  Build(options);
  http_.set_latency(absl::Seconds(10));
  http_.Push(MarkRequestNotSent(absl::UnavailableError("connect timeout")));
  http_.PushBody(kAuthOk);
  // A caller deadline of an hour is capped at 15 s in all.
  absl::Status s = Auth(absl::Hours(1));
  EXPECT_TRUE(s.ok()) << s;
  ASSERT_EQ(http_.requests().size(), 2u);
  EXPECT_EQ(http_.requests()[0].timeout, absl::Seconds(10));
  EXPECT_EQ(http_.requests()[1].timeout,
            absl::Seconds(5) - absl::Milliseconds(50));
}

TEST_F(RetryTest, PassedDeadlineMakesNoCall) {
  Build();
  EXPECT_TRUE(IsError(Auth(-absl::Seconds(1)), StatusCode::kDeadlineExceeded,
                      "UPSTREAM_UNAVAILABLE", absl::nullopt));
  EXPECT_TRUE(http_.requests().empty());
}

TEST_F(RetryTest, ExchangeRetriesOnlyUnsentRequests) {
  Build();
  http_.Push(MarkRequestNotSent(absl::UnavailableError("refused")));
  http_.PushBody(kTokens);
  EXPECT_TRUE(client_->ExchangeCode({"a", "s"}, "c", clock_.Now() + absl::Seconds(5)).ok());
  EXPECT_EQ(http_.requests().size(), 2u);
  // Sent, then the connection broke: not retried.
  http_.Push(WithReason(absl::UnavailableError("reset"), "UPSTREAM_UNAVAILABLE"));
  EXPECT_FALSE(client_->ExchangeCode({"a", "s"}, "c", clock_.Now() + absl::Seconds(5)).ok());
  EXPECT_EQ(http_.requests().size(), 3u);
  // HTTP 503 is not retried for the exchange either.
  http_.PushBody("", 503);
  EXPECT_TRUE(IsError(client_->ExchangeCode({"a", "s"}, "c",
                                            clock_.Now() + absl::Seconds(5))
                          .status(),
                      StatusCode::kUnavailable, "UPSTREAM_UNAVAILABLE",
                      absl::nullopt));
  EXPECT_EQ(http_.requests().size(), 4u);
}

TEST_F(RetryTest, LimiterWithoutSlotBeforeDeadlineFailsWithoutCalling) {
  RateLimiterOptions limiter_options;
  limiter_options.qps = 1;
  limiter_options.burst = 1;
  Build(WeChatClientOptions(), limiter_options);
  http_.PushBody(kAuthOk);
  EXPECT_TRUE(Auth().ok());
  absl::Status s = Auth(absl::Milliseconds(500));
  EXPECT_TRUE(IsError(s, StatusCode::kResourceExhausted,
                      "UPSTREAM_RATE_LIMITED", absl::nullopt));
  EXPECT_EQ(RetryAfterOf(s), absl::Seconds(1));
  EXPECT_EQ(http_.requests().size(), 1u);
  // With time to wait, the limiter waits (on the fake sleeper) and calls.
  http_.PushBody(kAuthOk);
  EXPECT_TRUE(Auth(absl::Seconds(5)).ok());
  EXPECT_EQ(sleeper_.sleeps(), std::vector<absl::Duration>{absl::Seconds(1)});
}

TEST_F(RetryTest, MinuteQuotaPausesForConfiguredPause) {
  WeChatClientOptions options;
  options.minute_quota_pause = absl::Seconds(90);
  Build(options);
  http_.PushBody(R"({"errcode":45011,"errmsg":"api minute-quota reach limit"})");
  absl::Status s = Auth();
  EXPECT_EQ(RetryAfterOf(s), absl::Seconds(90));
  EXPECT_EQ(limiter_->PausedUntil("/sns/auth"), clock_.Now() + absl::Seconds(90));
  EXPECT_EQ(http_.requests().size(), 1u);
}

TEST_F(RetryTest, OptionsValidation) {
  EXPECT_TRUE(WeChatClientOptions().Validate().ok());
  WeChatClientOptions o;
  o.max_call_duration = absl::Seconds(16);
  EXPECT_FALSE(o.Validate().ok());
  o = WeChatClientOptions();
  o.minute_quota_pause = absl::Seconds(59);
  EXPECT_FALSE(o.Validate().ok());
  o = WeChatClientOptions();
  o.api_base = "ftp://x";
  EXPECT_FALSE(o.Validate().ok());
  o = WeChatClientOptions();
  o.api_base = "https://x/?a=b";
  EXPECT_FALSE(o.Validate().ok());
  o = WeChatClientOptions();
  o.retry.max_attempts = 0;
  EXPECT_FALSE(o.Validate().ok());
  EXPECT_FALSE(WeChatClient::Create(WeChatClient::Deps(), WeChatClientOptions()).ok());
}

}  // namespace
}  // namespace wxvault::service

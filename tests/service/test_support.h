// Shared test fixtures for the WeChat upstream tests: a fake WeChat on
// loopback, the real libcurl client, a fake clock/sleeper and pinned jitter.
#ifndef WXVAULT_TESTS_SERVICE_TEST_SUPPORT_H_
#define WXVAULT_TESTS_SERVICE_TEST_SUPPORT_H_

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "service/backoff.h"
#include "service/curl_http_client.h"
#include "service/error_reason.h"
#include "service/rate_limiter.h"
#include "service/sleeper.h"
#include "service/wechat_client.h"
#include "tests/fake_wechat/fake_wechat.h"
#include "vault/clock.h"

namespace wxvault::service::testing {

// Checks code, wxvault-reason and wechat-errcode (nullopt: none attached).
inline ::testing::AssertionResult IsError(const absl::Status& status,
                                          absl::StatusCode code,
                                          absl::string_view reason,
                                          absl::optional<int> errcode) {
  if (status.code() == code && ReasonOf(status) == reason &&
      WeChatErrcodeOf(status) == errcode) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "got " << status << "; want " << absl::StatusCodeToString(code)
         << " reason " << reason << " errcode "
         << (errcode.has_value() ? std::to_string(*errcode) : "none");
}

// Always the same jitter fraction: backoff delays become cap * fraction.
class FixedJitter final : public JitterSource {
 public:
  explicit FixedJitter(double fraction) : fraction_(fraction) {}
  double NextFraction() override { return fraction_; }

 private:
  double fraction_;
};

// An HttpClient wrapper that counts calls and records request timeouts.
class RecordingHttpClient final : public HttpClient {
 public:
  explicit RecordingHttpClient(HttpClient* inner) : inner_(inner) {}
  absl::StatusOr<HttpResponse> Get(const HttpRequest& request) override {
    {
      absl::MutexLock lock(&mu_);
      timeouts_.push_back(request.timeout);
    }
    return inner_->Get(request);
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(timeouts_.size());
  }
  std::vector<absl::Duration> timeouts() const {
    absl::MutexLock lock(&mu_);
    return timeouts_;
  }

 private:
  HttpClient* inner_;
  mutable absl::Mutex mu_;
  std::vector<absl::Duration> timeouts_ ABSL_GUARDED_BY(mu_);
};

// Everything a client-vs-fake test needs, wired together. The fake WeChat's
// clock is based on `clock`, so Advance() moves both sides.
struct Harness {
  FakeClock clock;
  FakeSleeper sleeper{&clock};
  FixedJitter jitter{0.5};
  std::unique_ptr<fake::FakeWeChat> fake;
  std::unique_ptr<CurlHttpClient> curl;
  std::unique_ptr<RecordingHttpClient> http;
  std::unique_ptr<RateLimiter> limiter;
  std::unique_ptr<WeChatClient> client;
  WeChatApp app{"wxfakeapp0000001", "fake-secret-0001"};

  absl::Time Deadline() const { return clock.Now() + absl::Seconds(10); }

  // Mints a code and exchanges it; fails the test on error.
  OAuthTokenResult Login(absl::string_view openid,
                         absl::string_view scope = "snsapi_userinfo") {
    std::string code = fake->MintCode(openid, scope);
    absl::StatusOr<OAuthTokenResult> result =
        client->ExchangeCode(app, code, Deadline());
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : OAuthTokenResult{};
  }
};

inline std::unique_ptr<Harness> MakeHarness(
    fake::FakeWeChatOptions fake_options = fake::FakeWeChatOptions(),
    WeChatClientOptions client_options = WeChatClientOptions(),
    RateLimiterOptions limiter_options = RateLimiterOptions(),
    fake::FakeServerConfig server_config = fake::FakeServerConfig()) {
  auto h = std::make_unique<Harness>();
  server_config.clock = &h->clock;
  auto fake = fake::FakeWeChat::Start(std::move(fake_options), server_config);
  EXPECT_TRUE(fake.ok()) << fake.status();
  h->fake = *std::move(fake);
  auto curl = CurlHttpClient::Create();
  EXPECT_TRUE(curl.ok()) << curl.status();
  h->curl = *std::move(curl);
  h->http = std::make_unique<RecordingHttpClient>(h->curl.get());
  h->limiter = std::make_unique<RateLimiter>(limiter_options, &h->clock,
                                             &h->sleeper);
  client_options.api_base = h->fake->base_url();
  WeChatClient::Deps deps;
  deps.http = h->http.get();
  deps.clock = &h->clock;
  deps.limiter = h->limiter.get();
  deps.sleeper = &h->sleeper;
  deps.jitter = &h->jitter;
  auto client = WeChatClient::Create(deps, std::move(client_options));
  EXPECT_TRUE(client.ok()) << client.status();
  h->client = *std::move(client);
  return h;
}

}  // namespace wxvault::service::testing

#endif  // WXVAULT_TESTS_SERVICE_TEST_SUPPORT_H_

// Drives every failing path of the WeChat client (and the fake, logging its
// requests) while capturing all of stderr, then checks that no app secret,
// code, access token or refresh token appears in any log line or Status,
// and that every log line of wxvault's is one JSON object.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "service/json.h"
#include "service/log.h"
#include "tests/service/test_support.h"

namespace wxvault::service {
namespace {

using fake::FakeEndpoint;
using fake::Fault;
using fake::FaultKind;

TEST(NoSecretsTest, NoSecretInAnyLogLineOrStatus) {
  SetMinLogLevel(LogLevel::kDebug);
  ::testing::internal::CaptureStderr();
  std::vector<std::string> secrets;
  std::vector<absl::Status> statuses;
  {
    fake::FakeServerConfig server;
    server.log_requests = true;
    WeChatClientOptions options;
    options.per_attempt_timeout = absl::Milliseconds(150);
    auto h = testing::MakeHarness(fake::FakeWeChatOptions(), options,
                                  RateLimiterOptions(), server);
    secrets.push_back(h->app.secret);
    auto record = [&](const absl::Status& s) {
      if (!s.ok()) statuses.push_back(s);
    };
    auto inject = [&](FakeEndpoint e, FaultKind kind, bool after = false) {
      Fault f;
      f.kind = kind;
      f.errcode = -1;
      f.after_processing = after;
      f.count = 9;
      f.stall = absl::Milliseconds(400);
      h->fake->Reset();
      h->fake->InjectFault(e, f);
    };
    OAuthTokenResult login = h->Login("oSecretUser");
    secrets.insert(secrets.end(), {login.access_token, login.refresh_token});

    // Code paths: invalid, used, expired, wrong app/secret, faults.
    std::string code = h->fake->MintCode("oSecretUser");
    secrets.push_back(code);
    record(h->client->ExchangeCode(h->app, code + "x", h->Deadline()).status());
    record(h->client->ExchangeCode({h->app.app_id, "wrong-" + h->app.secret},
                                   code, h->Deadline()).status());
    record(h->client->ExchangeCode({"wxnope", h->app.secret}, code,
                                   h->Deadline()).status());
    for (FaultKind kind : {FaultKind::kErrcode, FaultKind::kHttpStatus,
                           FaultKind::kReset, FaultKind::kStall,
                           FaultKind::kGarbage, FaultKind::kTruncated,
                           FaultKind::kOversize}) {
      std::string c = h->fake->MintCode("oSecretUser");
      secrets.push_back(c);
      inject(FakeEndpoint::kAccessToken, kind, /*after=*/true);
      record(h->client->ExchangeCode(h->app, c, h->Deadline()).status());
      h->fake->Reset();
      record(h->client->ExchangeCode(h->app, c, h->Deadline()).status());
    }
    h->clock.Advance(absl::Minutes(11));
    record(h->client->ExchangeCode(h->app, code, h->Deadline()).status());

    // Token paths with every fault kind, then errcode paths.
    for (FaultKind kind : {FaultKind::kErrcode, FaultKind::kHttpStatus,
                           FaultKind::kReset, FaultKind::kGarbage,
                           FaultKind::kTruncated, FaultKind::kOversize}) {
      inject(FakeEndpoint::kRefreshToken, kind, /*after=*/true);
      record(h->client->RefreshToken(h->app.app_id, login.refresh_token,
                                     h->Deadline()).status());
      inject(FakeEndpoint::kUserInfo, kind, /*after=*/true);
      record(h->client->GetUserInfo(login.access_token, "oSecretUser", "",
                                    h->Deadline()).status());
    }
    h->fake->Reset();
    record(h->client->CheckAccessToken(login.access_token, "oOther",
                                       h->Deadline()));
    record(h->client->RefreshToken(h->app.app_id, login.refresh_token + "x",
                                   h->Deadline()).status());
    h->clock.Advance(absl::Hours(3));
    record(h->client->CheckAccessToken(login.access_token, "oSecretUser",
                                       h->Deadline()));
    h->fake->ChangePassword("oSecretUser");
    record(h->client->RefreshToken(h->app.app_id, login.refresh_token,
                                   h->Deadline()).status());
    // Input validation and a dead upstream.
    record(h->client->ExchangeCode(h->app, code + "\n", h->Deadline()).status());
    h->fake->Stop();
    record(h->client->ExchangeCode(h->app, code, h->Deadline()).status());
    record(h->client->GetUserInfo(login.access_token, "oSecretUser", "",
                                  h->Deadline()).status());
  }
  std::string logs = ::testing::internal::GetCapturedStderr();
  SetMinLogLevel(LogLevel::kInfo);

  std::string all = logs;
  for (const absl::Status& s : statuses) all += "\n" + s.ToString();
  EXPECT_GT(statuses.size(), 30u);
  EXPECT_NE(logs.find("/sns/oauth2/access_token"), std::string::npos);
  EXPECT_NE(logs.find("fake-wechat: GET /sns/userinfo"), std::string::npos);
  for (const std::string& secret : secrets) {
    ASSERT_GE(secret.size(), 16u);
    EXPECT_EQ(all.find(secret), std::string::npos) << "leaked " << secret;
  }
  for (const char* query : {"secret=", "?code=", "&code=", "access_token=",
                            "refresh_token=", "?appid"}) {
    EXPECT_EQ(all.find(query), std::string::npos) << "leaked query " << query;
  }
  // Every wxvault line is one JSON object (the fake logs plain text).
  size_t json_lines = 0;
  for (absl::string_view line : absl::StrSplit(logs, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "fake-wechat: ")) continue;
    absl::StatusOr<JsonValue> record = ParseJson(line);
    ASSERT_TRUE(record.ok() && record->is_object()) << line;
    ASSERT_NE(record->Find("msg"), nullptr) << line;
    ++json_lines;
  }
  EXPECT_GT(json_lines, 10u);
}

TEST(NoSecretsTest, RedactUrlDropsQueryFragmentAndUserinfo) {
  EXPECT_EQ(RedactUrl("https://api.weixin.qq.com/sns/auth?access_token=A&openid=B"),
            "https://api.weixin.qq.com/sns/auth");
  EXPECT_EQ(RedactUrl("http://u:p@host:8080/p#frag"), "http://host:8080/p");
  EXPECT_EQ(RedactUrl("http://host?x=1"), "http://host");
  EXPECT_EQ(SanitizeForLog("a\nb\x01" "c", 10), "a?b?c");
  EXPECT_EQ(SanitizeForLog("abcdef", 3), "abc...");
}

}  // namespace
}  // namespace wxvault::service

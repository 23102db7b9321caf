// WeChatClient against the fake WeChat over real loopback HTTP: every errcode
// the fake produces by its own semantics, and the happy paths with quirks.
#include <string>

#include "gtest/gtest.h"
#include "service/error_reason.h"
#include "tests/service/test_support.h"

namespace wxvault::service {
namespace {

using ::absl::StatusCode;
using fake::FakeEndpoint;
using testing::IsError;
using testing::MakeHarness;

TEST(WeChatClientTest, ExchangeReturnsTypedTokensDespiteQuirks) {
  auto h = MakeHarness();  // text/plain, trailing comma, unionid
  std::string code = h->fake->MintCode("oUser1");
  auto result = h->client->ExchangeCode(h->app, code, h->Deadline());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->openid, "oUser1");
  EXPECT_EQ(result->expires_in_seconds, 7200);
  EXPECT_FALSE(result->access_token.empty());
  EXPECT_FALSE(result->refresh_token.empty());
  EXPECT_EQ(result->scopes, std::vector<std::string>{"snsapi_userinfo"});
  ASSERT_TRUE(result->unionid.has_value());
  EXPECT_FALSE(result->unionid->empty());
}

TEST(WeChatClientTest, ExchangeWithoutUnionidAndJsonContentType) {
  fake::FakeWeChatOptions options;
  options.quirks.include_unionid = false;
  options.quirks.text_plain_content_type = false;
  options.quirks.trailing_comma_in_scope = false;
  auto h = MakeHarness(options);
  OAuthTokenResult result = h->Login("oUser2", "snsapi_base");
  EXPECT_FALSE(result.unionid.has_value());
  EXPECT_EQ(result.scopes, std::vector<std::string>{"snsapi_base"});
}

TEST(WeChatClientTest, CodeErrors) {
  auto h = MakeHarness();
  // 40029: never issued.
  EXPECT_TRUE(IsError(
      h->client->ExchangeCode(h->app, "notARealCode", h->Deadline()).status(),
      StatusCode::kInvalidArgument, "INVALID_CODE", 40029));
  // 40163: used twice.
  std::string code = h->fake->MintCode("oUser3");
  ASSERT_TRUE(h->client->ExchangeCode(h->app, code, h->Deadline()).ok());
  EXPECT_TRUE(
      IsError(h->client->ExchangeCode(h->app, code, h->Deadline()).status(),
              StatusCode::kInvalidArgument, "CODE_ALREADY_USED", 40163));
  // 42003: older than 10 minutes.
  std::string old_code = h->fake->MintCode("oUser3");
  h->clock.Advance(absl::Minutes(10) + absl::Seconds(1));
  EXPECT_TRUE(
      IsError(h->client->ExchangeCode(h->app, old_code, h->Deadline()).status(),
              StatusCode::kInvalidArgument, "CODE_EXPIRED", 42003));
  // Bad input never reaches WeChat.
  int calls = h->http->calls();
  EXPECT_TRUE(IsError(
      h->client->ExchangeCode(h->app, "", h->Deadline()).status(),
      StatusCode::kInvalidArgument, "INVALID_CODE", absl::nullopt));
  EXPECT_TRUE(IsError(h->client
                          ->ExchangeCode(h->app, std::string(300, 'c'),
                                         h->Deadline())
                          .status(),
                      StatusCode::kInvalidArgument, "INVALID_CODE",
                      absl::nullopt));
  EXPECT_EQ(h->http->calls(), calls);
}

TEST(WeChatClientTest, CodeOfAnotherAppIsInvalid) {
  fake::FakeWeChatOptions options;
  options.apps = {{"wxappA", "secretA"}, {"wxappB", "secretB"}};
  auto h = MakeHarness(options);
  std::string code = h->fake->MintCode("oUser4", "snsapi_userinfo", "wxappA");
  EXPECT_TRUE(IsError(
      h->client->ExchangeCode({"wxappB", "secretB"}, code, h->Deadline())
          .status(),
      StatusCode::kInvalidArgument, "INVALID_CODE", 40029));
  EXPECT_TRUE(
      h->client->ExchangeCode({"wxappA", "secretA"}, code, h->Deadline()).ok());
}

TEST(WeChatClientTest, AppCredentialErrors) {
  auto h = MakeHarness();
  std::string code = h->fake->MintCode("oUser5");
  EXPECT_TRUE(IsError(
      h->client->ExchangeCode({"wxunknownapp", "s"}, code, h->Deadline())
          .status(),
      StatusCode::kFailedPrecondition, "APP_CREDENTIALS_INVALID", 40013));
  EXPECT_TRUE(IsError(
      h->client->ExchangeCode({h->app.app_id, "wrong-secret"}, code,
                              h->Deadline())
          .status(),
      StatusCode::kFailedPrecondition, "APP_CREDENTIALS_INVALID", 40125));
  EXPECT_TRUE(IsError(
      h->client->RefreshToken("wxunknownapp", "rt", h->Deadline()).status(),
      StatusCode::kFailedPrecondition, "APP_CREDENTIALS_INVALID", 40013));
  // The failed attempts did not consume the code.
  EXPECT_TRUE(h->client->ExchangeCode(h->app, code, h->Deadline()).ok());
}

TEST(WeChatClientTest, RefreshRenewsSameAccessTokenWhileUnexpired) {
  auto h = MakeHarness();
  OAuthTokenResult login = h->Login("oUser6");
  h->clock.Advance(absl::Hours(1));
  auto refreshed =
      h->client->RefreshToken(h->app.app_id, login.refresh_token, h->Deadline());
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  EXPECT_EQ(refreshed->access_token, login.access_token);
  EXPECT_EQ(refreshed->refresh_token, login.refresh_token);  // not rotated
  EXPECT_EQ(refreshed->openid, "oUser6");
  EXPECT_FALSE(refreshed->unionid.has_value());
  // The expiry was renewed: 1 h + 1.5 h is past the first expiry.
  h->clock.Advance(absl::Minutes(90));
  EXPECT_TRUE(h->client
                  ->CheckAccessToken(login.access_token, "oUser6",
                                     h->Deadline())
                  .ok());
  // Once expired, a refresh issues a new access token.
  h->clock.Advance(absl::Hours(2));
  auto renewed =
      h->client->RefreshToken(h->app.app_id, login.refresh_token, h->Deadline());
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_NE(renewed->access_token, login.access_token);
}

TEST(WeChatClientTest, RefreshTokenRotationAndReauthErrors) {
  fake::FakeWeChatOptions options;
  options.rotate_refresh_tokens = true;
  options.refresh_token_ttl = absl::Hours(24 * 30);
  auto h = MakeHarness(options);
  OAuthTokenResult login = h->Login("oUser7");
  auto rotated =
      h->client->RefreshToken(h->app.app_id, login.refresh_token, h->Deadline());
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_NE(rotated->refresh_token, login.refresh_token);
  // 40030: the old refresh token died with the rotation.
  EXPECT_TRUE(IsError(h->client
                          ->RefreshToken(h->app.app_id, login.refresh_token,
                                         h->Deadline())
                          .status(),
                      StatusCode::kFailedPrecondition, "REAUTH_REQUIRED",
                      40030));
  // 42002: the new one expires 30 days after its issue.
  h->clock.Advance(absl::Hours(24 * 30));
  EXPECT_TRUE(IsError(h->client
                          ->RefreshToken(h->app.app_id, rotated->refresh_token,
                                         h->Deadline())
                          .status(),
                      StatusCode::kFailedPrecondition, "REAUTH_REQUIRED",
                      42002));
}

TEST(WeChatClientTest, PasswordChangeKillsTokens) {
  auto h = MakeHarness();
  OAuthTokenResult login = h->Login("oUser8");
  h->fake->ChangePassword("oUser8");
  EXPECT_TRUE(IsError(h->client
                          ->RefreshToken(h->app.app_id, login.refresh_token,
                                         h->Deadline())
                          .status(),
                      StatusCode::kFailedPrecondition, "REAUTH_REQUIRED",
                      42007));
  EXPECT_TRUE(IsError(
      h->client->CheckAccessToken(login.access_token, "oUser8", h->Deadline()),
      StatusCode::kUnauthenticated, "ACCESS_TOKEN_INVALID", 40001));
}

TEST(WeChatClientTest, AccessTokenErrors) {
  auto h = MakeHarness();
  OAuthTokenResult login = h->Login("oUser9");
  EXPECT_TRUE(
      h->client->CheckAccessToken(login.access_token, "oUser9", h->Deadline())
          .ok());
  // 40003: the token belongs to another openid.
  EXPECT_TRUE(IsError(
      h->client->CheckAccessToken(login.access_token, "oOther", h->Deadline()),
      StatusCode::kNotFound, "TOKEN_NOT_FOUND", 40003));
  // 40014: unknown token.
  EXPECT_TRUE(IsError(
      h->client->GetUserInfo("unknownToken", "oUser9", "", h->Deadline())
          .status(),
      StatusCode::kUnauthenticated, "ACCESS_TOKEN_INVALID", 40014));
  // 42001: expired after 7200 s.
  h->clock.Advance(absl::Seconds(7200));
  EXPECT_TRUE(IsError(
      h->client->CheckAccessToken(login.access_token, "oUser9", h->Deadline()),
      StatusCode::kUnauthenticated, "ACCESS_TOKEN_INVALID", 42001));
  EXPECT_EQ(h->fake->CallCount(FakeEndpoint::kAuth), 3);  // never retried
}

TEST(WeChatClientTest, UserInfoQuirks) {
  fake::FakeWeChatOptions options;
  options.quirks.control_chars_in_nickname = true;
  options.quirks.sex_as_string = true;
  auto h = MakeHarness(options);
  fake::FakeUser user;
  user.openid = "oUser10";
  user.unionid = "oUnion10";
  user.nickname = "Li \xF0\x9F\x90\xBC Lei";  // 🐼, a 4-byte emoji
  user.sex = 2;
  user.city = "Shenzhen";
  user.privilege = {"chinaunicom"};
  h->fake->SetUser(user);
  OAuthTokenResult login = h->Login("oUser10");
  auto profile =
      h->client->GetUserInfo(login.access_token, "oUser10", "en", h->Deadline());
  ASSERT_TRUE(profile.ok()) << profile.status();
  EXPECT_EQ(profile->openid, "oUser10");
  EXPECT_EQ(profile->unionid, "oUnion10");
  EXPECT_EQ(profile->nickname, "Li \xF0\x9F\x90\xBC Lei");  // controls gone
  EXPECT_EQ(profile->sex, 2);
  EXPECT_EQ(profile->city, "Shenzhen");
  EXPECT_EQ(profile->headimgurl,
            "https://thirdwx.qlogo.cn/mmopen/vi_32/fake/132");  // \/ decoded
  EXPECT_EQ(profile->privilege, std::vector<std::string>{"chinaunicom"});
  EXPECT_EQ(profile->language, "en");
}

TEST(WeChatClientTest, UserInfoWithoutOptionalFields) {
  fake::FakeWeChatOptions options;
  options.quirks.include_unionid = false;
  options.quirks.include_language = false;
  options.quirks.escape_slashes = false;
  auto h = MakeHarness(options);
  OAuthTokenResult login = h->Login("oUser11");
  auto profile =
      h->client->GetUserInfo(login.access_token, "oUser11", "", h->Deadline());
  ASSERT_TRUE(profile.ok()) << profile.status();
  EXPECT_FALSE(profile->unionid.has_value());
  EXPECT_EQ(profile->language, "");
  EXPECT_EQ(profile->sex, 0);
  EXPECT_EQ(profile->nickname, "\xE5\xBE\xAE\xE4\xBF\xA1\xE7\x94\xA8\xE6\x88\xB7 "
                               "\xF0\x9F\x98\x80");
  EXPECT_TRUE(IsError(h->client
                          ->GetUserInfo(login.access_token, "oUser11", "fr",
                                        h->Deadline())
                          .status(),
                      StatusCode::kInvalidArgument, "INVALID_ARGUMENT",
                      absl::nullopt));
}

TEST(WeChatClientTest, UserInfoNeedsUserinfoScope) {
  auto h = MakeHarness();
  OAuthTokenResult login = h->Login("oUser12", "snsapi_base");
  EXPECT_TRUE(IsError(h->client
                          ->GetUserInfo(login.access_token, "oUser12", "",
                                        h->Deadline())
                          .status(),
                      StatusCode::kPermissionDenied, "SCOPE_NOT_GRANTED", 48001));
}

}  // namespace
}  // namespace wxvault::service

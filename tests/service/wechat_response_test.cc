// Parsing WeChat bodies directly: every quirk of DESIGN §5 and every kind of
// malformed answer.
#include "service/wechat_response.h"

#include <string>

#include "gtest/gtest.h"
#include "service/error_reason.h"

namespace wxvault::service {
namespace {

using ::absl::StatusCode;

const absl::Time kNow = absl::FromUnixSeconds(1750000000);

void ExpectMalformed(const absl::Status& status) {
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status;
  EXPECT_EQ(ReasonOf(status), "UPSTREAM_UNAVAILABLE") << status;
  EXPECT_EQ(WeChatErrcodeOf(status), absl::nullopt) << status;
}

TEST(WeChatResponseTest, TokenResponseWithQuirks) {
  auto r = ParseTokenResponse(
      WeChatEndpoint::kExchangeCode,
      R"({"access_token":"AT","expires_in":"7200","refresh_token":"RT",)"
      R"("openid":"o1","scope":"snsapi_base, snsapi_userinfo,,",)"
      R"("unionid":"u1","is_snapshotuser":0,"extra":{"nested":[1,2]}})",
      kNow);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->access_token, "AT");
  EXPECT_EQ(r->expires_in_seconds, 7200);
  EXPECT_EQ(r->refresh_token, "RT");
  EXPECT_EQ(r->openid, "o1");
  EXPECT_EQ(r->scopes,
            (std::vector<std::string>{"snsapi_base", "snsapi_userinfo"}));
  EXPECT_EQ(r->unionid, "u1");
}

TEST(WeChatResponseTest, RefreshMayOmitFieldsExchangeMayNot) {
  const char* minimal = R"({"access_token":"AT","expires_in":7200})";
  auto refresh =
      ParseTokenResponse(WeChatEndpoint::kRefreshToken, minimal, kNow);
  ASSERT_TRUE(refresh.ok()) << refresh.status();
  EXPECT_EQ(refresh->refresh_token, "");
  EXPECT_TRUE(refresh->scopes.empty());
  EXPECT_FALSE(refresh->unionid.has_value());
  ExpectMalformed(
      ParseTokenResponse(WeChatEndpoint::kExchangeCode, minimal, kNow).status());
  ExpectMalformed(ParseTokenResponse(WeChatEndpoint::kExchangeCode,
                                     R"({"access_token":"AT","expires_in":7200,)"
                                     R"("refresh_token":"RT"})",
                                     kNow)
                      .status());
}

TEST(WeChatResponseTest, BadTokenFields) {
  for (const char* body :
       {R"({"expires_in":7200})", R"({"access_token":"","expires_in":7200})",
        R"({"access_token":7,"expires_in":7200})",
        R"({"access_token":"AT"})", R"({"access_token":"AT","expires_in":0})",
        R"({"access_token":"AT","expires_in":-5})",
        R"({"access_token":"AT","expires_in":1e3})",
        R"({"access_token":"AT","expires_in":99999999999})",
        R"({"access_token":"AT","expires_in":"soon"})"}) {
    SCOPED_TRACE(body);
    ExpectMalformed(
        ParseTokenResponse(WeChatEndpoint::kRefreshToken, body, kNow).status());
  }
}

TEST(WeChatResponseTest, ErrcodeBodiesOnEveryEndpoint) {
  const char* body = R"({"errcode":40029,"errmsg":"invalid code, rid: 1-2"})";
  absl::Status a =
      ParseTokenResponse(WeChatEndpoint::kExchangeCode, body, kNow).status();
  EXPECT_EQ(a.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(WeChatErrcodeOf(a), 40029);
  EXPECT_NE(a.message().find("/sns/oauth2/access_token"), std::string::npos);
  EXPECT_EQ(WeChatErrcodeOf(ParseAuthResponse(body, kNow)), 40029);
  EXPECT_EQ(WeChatErrcodeOf(ParseUserInfoResponse(body, kNow).status()), 40029);
  // errcode as a string, errmsg missing, errmsg that lies: errcode wins.
  EXPECT_EQ(WeChatErrcodeOf(ParseAuthResponse(R"({"errcode":"42001"})", kNow)),
            42001);
  absl::Status lying =
      ParseAuthResponse(R"({"errcode":-1,"errmsg":"ok"})", kNow);
  EXPECT_EQ(lying.code(), StatusCode::kUnavailable);
  EXPECT_EQ(WeChatErrcodeOf(lying), -1);
  ExpectMalformed(ParseAuthResponse(R"({"errcode":"x"})", kNow));
  ExpectMalformed(ParseAuthResponse(R"({"errcode":99999999999})", kNow));
}

TEST(WeChatResponseTest, AuthNeedsErrcodeZero) {
  EXPECT_TRUE(ParseAuthResponse(R"({"errcode":0,"errmsg":"ok"})", kNow).ok());
  ExpectMalformed(ParseAuthResponse(R"({"errmsg":"ok"})", kNow));
}

TEST(WeChatResponseTest, UserInfoWithQuirks) {
  std::string body =
      "{\"openid\":\"o1\",\"nickname\":\"\x01Li\\u0007 \\ud83d\\ude00\x1f\","
      "\"sex\":\"1\",\"language\":\"zh_CN\",\"city\":\"\",\"province\":\"\","
      "\"country\":\"CN\",\"headimgurl\":\"https:\\/\\/thirdwx.qlogo.cn\\/a\","
      "\"privilege\":[\"p1\",2,null,\"p2\"],\"unionid\":\"u1\",\"new\":true}";
  auto p = ParseUserInfoResponse(body, kNow);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->openid, "o1");
  EXPECT_EQ(p->nickname, "Li \xF0\x9F\x98\x80");
  EXPECT_EQ(p->sex, 1);
  EXPECT_EQ(p->language, "zh_CN");
  EXPECT_EQ(p->country, "CN");
  EXPECT_EQ(p->headimgurl, "https://thirdwx.qlogo.cn/a");
  EXPECT_EQ(p->privilege, (std::vector<std::string>{"p1", "p2"}));
  EXPECT_EQ(p->unionid, "u1");
}

TEST(WeChatResponseTest, UserInfoToleratesOddTypes) {
  auto p = ParseUserInfoResponse(
      R"({"openid":"o1","sex":7,"nickname":5,"privilege":{"a":"b"}})", kNow);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->sex, 0);
  EXPECT_EQ(p->nickname, "");
  EXPECT_TRUE(p->privilege.empty());
  EXPECT_FALSE(p->unionid.has_value());
  ExpectMalformed(ParseUserInfoResponse(R"({"nickname":"x"})", kNow).status());
}

TEST(WeChatResponseTest, NonJsonBodies) {
  for (const char* body :
       {"", "<html>502 Bad Gateway</html>", "[]", "\"x\"", "null",
        R"({"access_token":"AT","expires_in":72)", "{\"a\":1}garbage"}) {
    SCOPED_TRACE(body);
    ExpectMalformed(
        ParseTokenResponse(WeChatEndpoint::kRefreshToken, body, kNow).status());
    ExpectMalformed(ParseAuthResponse(body, kNow));
    ExpectMalformed(ParseUserInfoResponse(body, kNow).status());
  }
}

TEST(WeChatResponseTest, StripControlCharacters) {
  EXPECT_EQ(StripControlCharacters("a\x01" "b\x7f" "c\xC2\x85" "d\xC2\xA9"),
            "abcd\xC2\xA9");
}

}  // namespace
}  // namespace wxvault::service

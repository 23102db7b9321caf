// Observability of the real wxvaultd: Prometheus /metrics on
// --metrics_listen=127.0.0.1:0 after a run of RPCs (counters, histograms,
// tokens by state, upstream calls; never a token, code, openid or secret),
// and stderr as JSON lines (request ids, audit lines, no secrets).
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fixture.h"
#include "tests/testing/prometheus_text.h"

namespace wxvault::integration {
namespace {

namespace v1 = wxvault::v1;
using ::testing::HasSubstr;
using ::testing::Not;
using wxvault::service::JsonValue;

class ObservabilityTest : public VaultTest {
 protected:
  void SetUp() override {
    stderr_file_ = dir_.Sub("wxvaultd.stderr");
    VaultTest::SetUp();
  }
  std::vector<std::string> ServerArgs() override { return {"--metrics_listen=127.0.0.1:0", "--log_level=debug"}; }

  std::string Scrape() {
    std::string body;
    std::string content_type;
    EXPECT_EQ(HttpGet(server_->metrics_url(), &body, &content_type), 200);
    EXPECT_EQ(content_type, "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(wxvault::testing::FirstMalformedLine(body), "");
    return body;
  }

  // Exchange of a fresh code for `openid`; the code and access token go to
  // `secrets`.
  void ExchangeFor(const std::string& openid, std::vector<std::string>* secrets,
                   const std::string& request_id = "") {
    v1::ExchangeRequest request;
    request.set_code(fake_->MintCode(openid));
    v1::ExchangeResponse response;
    auto ctx = Context();
    if (!request_id.empty()) ctx->AddMetadata("x-request-id", request_id);
    ASSERT_TRUE(vault_->Exchange(ctx.get(), request, &response).ok());
    secrets->push_back(request.code());
    secrets->push_back(response.access_token());
    last_request_id_ = Trailer(*ctx, "x-request-id");
  }

  std::string last_request_id_;
};

std::string StringField(const JsonValue& record, const std::string& key) {
  const JsonValue* value = record.Find(key);
  return value != nullptr && value->is_string() ? value->string_value() : "";
}

TEST_F(ObservabilityTest, MetricsCountRpcsAndHoldNoSecrets) {
  ASSERT_THAT(server_->metrics_url(), ::testing::MatchesRegex("http://127\\.0\\.0\\.1:[0-9]+/metrics"));
  std::vector<std::string> secrets = {FakeWeChatProcess::kSecret};
  ExchangeFor("o_metrics_user", &secrets);
  v1::GetAccessTokenRequest get;
  get.set_openid("o_metrics_user");
  v1::GetAccessTokenResponse token;
  auto ctx = Context();
  ASSERT_TRUE(vault_->GetAccessToken(ctx.get(), get, &token).ok());
  secrets.push_back(token.access_token());
  // Errors: a code WeChat does not know, and an openid the vault does not.
  v1::ExchangeRequest bad;
  bad.set_code("NotARealCodeFromWeChat0123456789");
  v1::ExchangeResponse ignored;
  ctx = Context();
  EXPECT_TRUE(IsRpcError(vault_->Exchange(ctx.get(), bad, &ignored), *ctx, grpc::StatusCode::INVALID_ARGUMENT,
                         "INVALID_CODE", "40029"));
  get.set_openid("o_nobody_here");
  ctx = Context();
  EXPECT_EQ(vault_->GetAccessToken(ctx.get(), get, &token).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::GetVaultStatusResponse status;
  ctx = Context();
  ASSERT_TRUE(admin_->GetVaultStatus(ctx.get(), v1::GetVaultStatusRequest(), &status).ok());

  const std::string text = Scrape();
  const std::string exchange = "method=\"/wxvault.v1.TokenVault/Exchange\"";
  const std::string get_token = "method=\"/wxvault.v1.TokenVault/GetAccessToken\"";
  EXPECT_THAT(text, HasSubstr("wxvault_rpc_total{" + exchange + ",code=\"OK\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_rpc_total{" + exchange + ",code=\"INVALID_ARGUMENT\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_rpc_total{" + get_token + ",code=\"OK\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_rpc_total{" + get_token + ",code=\"NOT_FOUND\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_rpc_total{method=\"/wxvault.v1.VaultAdmin/GetVaultStatus\",code=\"OK\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_rpc_duration_seconds_count{" + exchange + "} 2\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_rpc_duration_seconds_bucket{" + exchange + ",le=\"+Inf\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_rpc_duration_seconds_count{" + get_token + "} 2\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_tokens{state=\"active\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_tokens{state=\"revoked\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_upstream_calls_total{endpoint=\"/sns/oauth2/access_token\",class=\"ok\","
                              "wechat_errcode=\"\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_upstream_calls_total{endpoint=\"/sns/oauth2/access_token\","
                              "class=\"invalid_code\",wechat_errcode=\"40029\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_upstream_duration_seconds_count{endpoint=\"/sns/oauth2/access_token\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_upstream_limiter_acquired_total 2\n"));
  EXPECT_THAT(text, ::testing::ContainsRegex("wxvault_sealed_payloads\\{key_id=\"k1\"\\} [1-9]"));
  EXPECT_THAT(text, ::testing::ContainsRegex("wxvault_vault_data_bytes [1-9]"));
  EXPECT_THAT(text, ::testing::ContainsRegex("wxvault_events_newest_sequence [1-9]"));
  EXPECT_THAT(text, HasSubstr("wxvault_refresher_backlog 0\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_build_info{version=\""));
  for (const std::string& secret : secrets) {
    ASSERT_GE(secret.size(), 16u);
    EXPECT_THAT(text, Not(HasSubstr(secret)));
  }
  for (const char* never : {"o_metrics_user", "o_nobody", "NotARealCode", FakeWeChatProcess::kAppId}) {
    EXPECT_THAT(text, Not(HasSubstr(never)));
  }
}

TEST_F(ObservabilityTest, StderrIsJsonLinesWithRequestIdsAuditAndNoSecrets) {
  std::vector<std::string> secrets = {FakeWeChatProcess::kSecret};
  ExchangeFor("o_logs_user", &secrets, "it-req.0001_A");
  EXPECT_EQ(last_request_id_, "it-req.0001_A");
  ExchangeFor("o_logs_user2", &secrets);
  EXPECT_THAT(last_request_id_, ::testing::MatchesRegex("[0-9a-f]{32}"));
  ExchangeFor("o_logs_user3", &secrets, "not valid: spaces");
  EXPECT_THAT(last_request_id_, ::testing::MatchesRegex("[0-9a-f]{32}"));
  v1::ExchangeRequest bad;
  bad.set_code("NotARealCodeFromWeChat0123456789");
  v1::ExchangeResponse ignored;
  auto ctx = Context();
  EXPECT_FALSE(vault_->Exchange(ctx.get(), bad, &ignored).ok());
  EXPECT_THAT(Trailer(*ctx, "x-request-id"), ::testing::MatchesRegex("[0-9a-f]{32}"));
  v1::GetVaultStatusResponse status;
  ctx = Context("not-the-admin-token-but-never-logged");
  ASSERT_TRUE(admin_->GetVaultStatus(ctx.get(), v1::GetVaultStatusRequest(), &status).ok());
  const std::string admin_request_id = Trailer(*ctx, "x-request-id");
  StopServer();

  const std::string stderr_text = ReadFile(stderr_file_);
  const LogLines log = ParseLogLines(stderr_text);
  EXPECT_THAT(log.bad, ::testing::IsEmpty());
  ASSERT_GT(log.records.size(), 5u);
  bool traced = false;
  bool audited = false;
  for (const JsonValue& record : log.records) {
    EXPECT_THAT(StringField(record, "time"),
                ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"));
    EXPECT_THAT(StringField(record, "level"), ::testing::AnyOf("debug", "info", "warning", "error"));
    if (StringField(record, "request_id") == "it-req.0001_A" && StringField(record, "msg") == "rpc finished") {
      traced = true;
      EXPECT_EQ(StringField(record, "method"), "/wxvault.v1.TokenVault/Exchange");
      EXPECT_EQ(StringField(record, "code"), "OK");
      EXPECT_THAT(StringField(record, "peer"), HasSubstr("unix:"));
    }
    const JsonValue* audit = record.Find("audit");
    if (audit != nullptr && audit->bool_value()) {
      audited = true;
      EXPECT_EQ(StringField(record, "level"), "info");
      EXPECT_EQ(StringField(record, "what"), "/wxvault.v1.VaultAdmin/GetVaultStatus");
      EXPECT_EQ(StringField(record, "result"), "OK");
      EXPECT_EQ(StringField(record, "credential"), "bearer");
      EXPECT_THAT(StringField(record, "who"), HasSubstr("unix:"));
      EXPECT_EQ(StringField(record, "request_id"), admin_request_id);
    }
  }
  EXPECT_TRUE(traced) << stderr_text;
  EXPECT_TRUE(audited) << stderr_text;
  secrets.push_back("not-the-admin-token-but-never-logged");
  secrets.push_back("NotARealCodeFromWeChat0123456789");
  for (const std::string& secret : secrets) EXPECT_THAT(stderr_text, Not(HasSubstr(secret)));
  for (const char* query : {"secret=", "?code=", "&code=", "access_token=", "refresh_token="}) {
    EXPECT_THAT(stderr_text, Not(HasSubstr(query)));
  }
}

TEST_F(ObservabilityTest, StdoutHoldsOnlyTheAnnouncements) {
  const std::string stdout_text = server_->child().Output();
  EXPECT_THAT(stdout_text, HasSubstr("wxvaultd: metrics on " + server_->metrics_url() + "\n"));
  EXPECT_THAT(stdout_text, HasSubstr("wxvaultd: serving on " + server_->address() + "\n"));
  for (absl::string_view line : absl::StrSplit(stdout_text, '\n', absl::SkipEmpty())) {
    EXPECT_TRUE(absl::StartsWith(line, "wxvaultd: ")) << line;
  }
}

// At the default log level: which calls carry x-request-id back.
class RequestIdTrailerTest : public VaultTest {};

TEST_F(RequestIdTrailerTest, EveryCallButASilentAnswerFromMemoryReturnsItsId) {
  Login("o_trailer_user");
  v1::GetAccessTokenRequest request;
  request.set_openid("o_trailer_user");
  // The first calls read the vault (and record the use for keep-warm): they
  // log on failure, so they carry a generated id. Once the token is cached
  // the answer comes from memory, logs nothing and carries none.
  bool answered_silently = false;
  for (int i = 0; i < 6 && !answered_silently; ++i) {
    v1::GetAccessTokenResponse response;
    auto ctx = Context();
    ASSERT_TRUE(vault_->GetAccessToken(ctx.get(), request, &response).ok());
    const std::string id = Trailer(*ctx, "x-request-id");
    if (id.empty()) {
      answered_silently = true;
    } else {
      EXPECT_THAT(id, ::testing::MatchesRegex("[0-9a-f]{32}"));
    }
  }
  EXPECT_TRUE(answered_silently) << "a warm token never came from memory";
  // A client's own id is always echoed, from memory too.
  {
    v1::GetAccessTokenResponse response;
    auto ctx = Context();
    ctx->AddMetadata("x-request-id", "client-trace-7");
    ASSERT_TRUE(vault_->GetAccessToken(ctx.get(), request, &response).ok());
    EXPECT_EQ(Trailer(*ctx, "x-request-id"), "client-trace-7");
  }
  // Errors always carry one.
  {
    v1::GetAccessTokenRequest unknown;
    unknown.set_openid("o_nobody_here");
    v1::GetAccessTokenResponse response;
    auto ctx = Context();
    EXPECT_FALSE(vault_->GetAccessToken(ctx.get(), unknown, &response).ok());
    EXPECT_THAT(Trailer(*ctx, "x-request-id"), ::testing::MatchesRegex("[0-9a-f]{32}"));
  }
}

}  // namespace
}  // namespace wxvault::integration

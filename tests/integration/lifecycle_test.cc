// wxvaultd's life: restarts, keys (wrong key, rotation + RewrapAll, dropping
// the old key), bad flags, --demo, graceful shutdown.
#include <fstream>
#include <thread>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/fixture.h"

namespace wxvault::integration {
namespace {

namespace v1 = wxvault::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// The non-empty lines of `output`.
std::vector<std::string> Lines(const std::string& output) {
  return absl::StrSplit(output, '\n', absl::SkipWhitespace());
}

TEST_F(VaultTest, TokensAndEventsSurviveARestart) {
  const std::string access_token = Login("o_restart").access_token();
  StopServer();
  StartServer();
  v1::GetAccessTokenRequest get;
  get.set_openid("o_restart");
  v1::GetAccessTokenResponse token;
  auto ctx = Context();
  ASSERT_TRUE(vault_->GetAccessToken(ctx.get(), get, &token).ok());
  EXPECT_EQ(token.access_token(), access_token);
  auto watch_ctx = Context();
  auto reader = vault_->WatchEvents(watch_ctx.get(), v1::WatchEventsRequest());
  v1::TokenEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.type(), v1::TOKEN_EVENT_TYPE_CREATED);
  EXPECT_EQ(event.openid(), "o_restart");
  watch_ctx->TryCancel();
  reader->Finish();
}

TEST_F(VaultTest, AWrongOrMissingKeyRefusesStartUp) {
  Login("o_keys");
  StopServer();
  const std::vector<std::string> base = {"--data_dir=" + data_dir_, "--listen=unix:" + dir_.Sub("refused.sock"),
                                         "--wechat_api_base=" + fake_->base_url(),
                                         absl::StrCat("--app_id=", FakeWeChatProcess::kAppId),
                                         "--app_secret_file=" + secret_file_};
  // Same id, other bytes.
  WriteFile(dir_.Sub("wrong.keys"), NewKeyLine("k1") + "\n");
  std::vector<std::string> args = base;
  args.push_back("--master_key_file=" + dir_.Sub("wrong.keys"));
  std::string output;
  EXPECT_NE(WxvaultdProcess::RunToExit(args, &output), 0);
  ASSERT_THAT(Lines(output), ::testing::SizeIs(1)) << output;
  EXPECT_THAT(output, HasSubstr("--master_key_file"));
  EXPECT_THAT(output, HasSubstr("'k1'"));
  // The key the records need is missing.
  WriteFile(dir_.Sub("other.keys"), NewKeyLine("k2") + "\n");
  args.back() = "--master_key_file=" + dir_.Sub("other.keys");
  EXPECT_NE(WxvaultdProcess::RunToExit(args, &output), 0);
  ASSERT_THAT(Lines(output), ::testing::SizeIs(1)) << output;
  EXPECT_THAT(output, HasSubstr("k1"));
  // Nothing was changed: the right key still opens the vault.
  StartServer();
}

TEST_F(VaultTest, KeyRotationWithRewrapAllLetsTheOldKeyGo) {
  std::string k1;
  std::getline(std::ifstream(key_file_), k1);  // the fixture's key
  Login("o_rot1", /*include_user_info=*/true);
  Login("o_rot2");
  StopServer();
  const std::string k2 = NewKeyLine("k2");
  WriteFile(key_file_, k1 + "\n" + k2 + "\n");
  StartServer();

  v1::RewrapAllRequest request;
  request.set_max_records(1);
  v1::RewrapAllResponse first;
  auto ctx = Context();
  ASSERT_TRUE(admin_->RewrapAll(ctx.get(), request, &first).ok());
  EXPECT_EQ(first.active_key_id(), "k2");
  EXPECT_EQ(first.scanned(), 1u);
  EXPECT_EQ(first.rewrapped(), 1u);
  ASSERT_THAT(first.resume_token(), Not(IsEmpty()));
  request.set_max_records(0);
  request.set_resume_token(first.resume_token());
  v1::RewrapAllResponse rest;
  ctx = Context();
  ASSERT_TRUE(admin_->RewrapAll(ctx.get(), request, &rest).ok());
  EXPECT_EQ(rest.rewrapped(), 2u);  // the other token and the profile
  EXPECT_EQ(rest.failed(), 0u);
  EXPECT_THAT(rest.resume_token(), IsEmpty());
  EXPECT_THAT(rest.key_ids_in_use(), ElementsAre("k2"));

  v1::GetVaultStatusResponse status;
  ctx = Context();
  ASSERT_TRUE(admin_->GetVaultStatus(ctx.get(), v1::GetVaultStatusRequest(), &status).ok());
  ASSERT_EQ(status.keys_size(), 2);
  EXPECT_EQ(status.keys(0).key_id(), "k1");
  EXPECT_EQ(status.keys(0).record_count(), 0u);

  StopServer();
  WriteFile(key_file_, k2 + "\n");
  StartServer();
  for (const std::string openid : {"o_rot1", "o_rot2"}) {
    v1::GetAccessTokenRequest get;
    get.set_openid(openid);
    v1::GetAccessTokenResponse token;
    ctx = Context();
    EXPECT_TRUE(vault_->GetAccessToken(ctx.get(), get, &token).ok()) << openid;
  }
  v1::GetUserInfoRequest info_request;
  info_request.set_openid("o_rot1");
  info_request.set_max_age_seconds(3600);
  v1::GetUserInfoResponse info;
  ctx = Context();
  ASSERT_TRUE(vault_->GetUserInfo(ctx.get(), info_request, &info).ok());
  EXPECT_TRUE(info.cached());
}

TEST(WxvaultdFlags, ABadFlagStopsStartUpWithOneLineNamingIt) {
  testing::TempDir dir;
  WriteFile(dir.Sub("k"), NewKeyLine("k1") + "\n");
  WriteFile(dir.Sub("s"), "secret\n");
  const std::vector<std::string> good = {"--master_key_file=" + dir.Sub("k"), "--app_id=wxfakeapp0000001",
                                         "--app_secret_file=" + dir.Sub("s"), "--data_dir=" + dir.Sub("d"),
                                         "--listen=unix:" + dir.Sub("s.sock")};
  struct Case {
    std::string flag;
    std::string expected_start;
  };
  const std::vector<Case> cases = {
      {"--renew_before=5000h", "--renew_before:"},
      {"--refresh_token_ttl=soon", "--refresh_token_ttl:"},
      {"--upstream_qps=-1", "--upstream_qps:"},
      {"--no_such_flag=1", "--no_such_flag:"},
      {"--app_secret_file=" + dir.Sub("missing"), "--app_secret_file:"},
      {"--master_key_file=" + dir.Sub("missing"), "--master_key_file:"},
      {"--admin_token_file=" + dir.path(), "--admin_token_file:"},
      {"--listen=nonsense", "--listen:"},
      {"--metrics_listen=unix:/tmp/m.sock", "--metrics_listen:"},
      {"--tls_cert_file=" + dir.Sub("k"), "--tls_key_file:"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = good;
    args.push_back(c.flag);
    std::string output;
    EXPECT_NE(WxvaultdProcess::RunToExit(args, &output), 0) << c.flag;
    // One JSON error line (stderr is JSON lines) whose msg starts with the flag.
    ASSERT_THAT(Lines(output), ::testing::SizeIs(1)) << c.flag << ": " << output;
    const LogLines log = ParseLogLines(output);
    ASSERT_EQ(log.records.size(), 1u) << c.flag << ": " << output;
    EXPECT_EQ(log.records[0].Find("level")->string_value(), "error") << output;
    EXPECT_EQ(log.records[0].Find("msg")->string_value().rfind(c.expected_start, 0), 0u) << c.flag << ": " << output;
  }
  std::string help;
  EXPECT_EQ(WxvaultdProcess::RunToExit({"--help"}, &help), 0);
  for (const std::string flag : {"--listen", "--health_listen", "--data_dir", "--master_key_file", "--app_id",
                                 "--app_secret_file", "--apps_file", "--wechat_api_base", "--refresh_token_ttl",
                                 "--renew_before", "--access_token_min_ttl", "--upstream_qps",
                                 "--admin_token_file", "--metrics_listen", "--tls_cert_file", "--tls_key_file",
                                 "--tls_client_ca_file", "--demo", "WXVAULT_RENEW_BEFORE"}) {
    EXPECT_THAT(help, HasSubstr(flag));
  }
}

// The must-show: --demo with --metrics_listen serves Prometheus text
// with RPC metrics, and stderr is JSON lines (the banner is on stdout).
TEST(WxvaultdDemo, ServesTheBannerCommandsFlow) {
  testing::TempDir dir;
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start({WxvaultdBinary(), "--demo", "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
                           "--data_dir=" + dir.Sub("demo")},
                          dir.Sub("stderr"));
  ASSERT_TRUE(child.ok());
  std::optional<std::string> serving = (*child)->WaitForLine("wxvaultd: serving on ", kStartTimeout);
  ASSERT_TRUE(serving.has_value()) << (*child)->Output();
  const std::string banner = (*child)->Output();
  EXPECT_THAT(banner, HasSubstr("DEMO MODE"));
  EXPECT_THAT(banner, HasSubstr("wxvault.v1.TokenVault/Exchange"));
  EXPECT_THAT(banner, HasSubstr("wxvault.v1.VaultAdmin/ListTokens"));
  std::smatch fake;
  ASSERT_TRUE(std::regex_search(banner, fake, std::regex("curl -s '(http://127\\.0\\.0\\.1:[0-9]+)/control/code")));
  const std::string address = serving->substr(serving->find("serving on ") + 11);
  auto channel = PlaintextChannel(address);
  // Mint a code at the in-process fake the way the banner does.
  std::string code;
  {
    absl::StatusOr<std::unique_ptr<ChildProcess>> curl =
        ChildProcess::Start({"/usr/bin/curl", "-s", fake[1].str() + "/control/code?openid=o_demo_user_1"});
    ASSERT_TRUE(curl.ok());
    ASSERT_EQ((*curl)->WaitForExit(kStartTimeout), 0);
    std::smatch match;
    const std::string body = (*curl)->Output();
    ASSERT_TRUE(std::regex_search(body, match, std::regex("\"code\":\"([^\"]+)\""))) << body;
    code = match[1];
  }
  v1::ExchangeRequest exchange;
  exchange.set_code(code);
  exchange.set_include_user_info(true);
  v1::ExchangeResponse login;
  auto ctx = Context();
  ASSERT_TRUE(v1::TokenVault::NewStub(channel)->Exchange(ctx.get(), exchange, &login).ok());
  EXPECT_EQ(login.token().app_id(), "wxdemoapp0000001");
  v1::ListTokensResponse tokens;
  ctx = Context();
  ASSERT_TRUE(v1::VaultAdmin::NewStub(channel)->ListTokens(ctx.get(), v1::ListTokensRequest(), &tokens).ok());
  EXPECT_EQ(tokens.tokens_size(), 1);
  const std::string metrics_url = PrintedMetricsUrl(banner);
  ASSERT_FALSE(metrics_url.empty()) << banner;
  std::string metrics;
  ASSERT_EQ(HttpGet(metrics_url, &metrics), 200);
  EXPECT_THAT(metrics, HasSubstr("# TYPE wxvault_rpc_total counter\n"));
  EXPECT_THAT(metrics, HasSubstr("wxvault_rpc_total{method=\"/wxvault.v1.TokenVault/Exchange\",code=\"OK\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("wxvault_rpc_total{method=\"/wxvault.v1.VaultAdmin/ListTokens\",code=\"OK\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("wxvault_rpc_duration_seconds_count{method=\"/wxvault.v1.TokenVault/Exchange\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("wxvault_tokens{state=\"active\"} 1\n"));
  EXPECT_THAT(metrics, Not(HasSubstr("o_demo_user_1")));
  EXPECT_THAT(metrics, Not(HasSubstr(login.access_token())));
  EXPECT_EQ((*child)->Terminate(), 0);
  const LogLines log = ParseLogLines(ReadFile(dir.Sub("stderr")));
  EXPECT_THAT(log.bad, IsEmpty());
  EXPECT_GE(log.records.size(), 3u);
  EXPECT_THAT(ReadFile(dir.Sub("stderr")), Not(HasSubstr(login.access_token())));
}

TEST_F(VaultTest, ShutdownEndsWatchStreamsAndExitsCleanly) {
  auto watch_ctx = Context();
  auto reader = vault_->WatchEvents(watch_ctx.get(), v1::WatchEventsRequest());
  Login("o_bye");
  v1::TokenEvent event;
  ASSERT_TRUE(reader->Read(&event));
  // A client that keeps reading sees its stream end at once.
  grpc::Status status;
  std::thread client([&] {
    v1::TokenEvent more;
    while (reader->Read(&more)) {
    }
    status = reader->Finish();
  });
  const absl::Time start = absl::Now();
  EXPECT_EQ(server_->child().Terminate(), 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));  // well under --shutdown_grace=5s
  client.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(server_->child().Output(), HasSubstr("received SIGTERM"));
  server_.reset();
}

}  // namespace
}  // namespace wxvault::integration

// The fake WeChat itself: its HTTP control surface (as other-language tests
// and the demo drive it), its raw endpoint semantics, and the standalone
// binary.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "service/curl_http_client.h"
#include "service/json.h"
#include "tests/fake_wechat/fake_wechat.h"

namespace wxvault::fake {
namespace {

using service::CurlHttpClient;
using service::HttpResponse;
using service::JsonValue;

class FakeWeChatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeWeChatOptions options;
    options.apps = {{"wxapp1", "secret1"}};
    auto fake = FakeWeChat::Start(options, FakeServerConfig{"127.0.0.1", 0, &clock_});
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = *std::move(fake);
    auto http = CurlHttpClient::Create();
    ASSERT_TRUE(http.ok());
    http_ = *std::move(http);
  }

  HttpResponse Call(absl::string_view path_and_query) {
    auto r = http_->Get({absl::StrCat(fake_->base_url(), path_and_query),
                         absl::Seconds(5)});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : HttpResponse();
  }
  JsonValue CallJson(absl::string_view path_and_query) {
    auto json = service::ParseJson(Call(path_and_query).body);
    EXPECT_TRUE(json.ok()) << json.status();
    return json.ok() ? *json : JsonValue();
  }
  int64_t Errcode(absl::string_view path_and_query) {
    JsonValue v = CallJson(path_and_query);
    const JsonValue* e = v.Find("errcode");
    return e == nullptr ? 0 : e->AsInt64().value_or(-999);
  }
  std::string MintCode(absl::string_view openid) {
    return CallJson(absl::StrCat("/control/code?openid=", openid))
        .Find("code")->string_value();
  }
  std::string Exchange(absl::string_view code) {
    return absl::StrCat("/sns/oauth2/access_token?appid=wxapp1&secret=secret1",
                        "&grant_type=authorization_code&code=", code);
  }

  FakeClock clock_;
  std::unique_ptr<FakeWeChat> fake_;
  std::unique_ptr<CurlHttpClient> http_;
};

TEST_F(FakeWeChatTest, MintExchangeAndCount) {
  std::string code = MintCode("oA");
  EXPECT_EQ(code.size(), 32u);
  JsonValue tokens = CallJson(Exchange(code));
  EXPECT_EQ(tokens.Find("openid")->string_value(), "oA");
  EXPECT_EQ(tokens.Find("expires_in")->AsInt64(), 7200);
  EXPECT_EQ(tokens.Find("scope")->string_value(), "snsapi_userinfo,");
  EXPECT_EQ(Errcode(Exchange(code)), 40163);
  JsonValue stats = CallJson("/control/stats");
  EXPECT_EQ(stats.Find("calls")->Find("access_token")->AsInt64(), 2);
  EXPECT_EQ(stats.Find("calls")->Find("auth")->AsInt64(), 0);
  EXPECT_EQ(fake_->CallCount(FakeEndpoint::kAccessToken), 2);
  // A code minted without openid makes a new user.
  JsonValue fresh = CallJson("/control/code");
  EXPECT_FALSE(fresh.Find("openid")->string_value().empty());
}

TEST_F(FakeWeChatTest, ClockControlExpiresCodes) {
  std::string code = MintCode("oB");
  JsonValue now = CallJson("/control/clock?advance=10m1s");
  EXPECT_EQ(now.Find("now_unix")->AsInt64(),
            absl::ToUnixSeconds(clock_.Now()) + 601);
  EXPECT_EQ(Errcode(Exchange(code)), 42003);
  now = CallJson("/control/clock?set_unix=1800000000");
  EXPECT_EQ(now.Find("now_unix")->AsInt64(), 1800000000);
  EXPECT_EQ(absl::ToUnixSeconds(fake_->Now()), 1800000000);
  EXPECT_EQ(Call("/control/clock?advance=soon").status_code, 400);
}

TEST_F(FakeWeChatTest, FaultControl) {
  ASSERT_EQ(Call("/control/fault?endpoint=auth&kind=errcode&errcode=45011&count=2")
                .status_code,
            200);
  const char* auth = "/sns/auth?access_token=x&openid=y";
  EXPECT_EQ(Errcode(auth), 45011);
  EXPECT_EQ(Errcode(auth), 45011);
  EXPECT_EQ(Errcode(auth), 40014);
  Call("/control/fault?endpoint=auth&kind=http&status=502");
  EXPECT_EQ(Call(auth).status_code, 502);
  Call("/control/fault?endpoint=auth&kind=garbage");
  EXPECT_FALSE(service::ParseJson(Call(auth).body).ok());
  Call("/control/fault?endpoint=auth&kind=truncated");
  EXPECT_FALSE(service::ParseJson(Call(auth).body).ok());
  EXPECT_EQ(Call("/control/fault?endpoint=nope").status_code, 400);
  EXPECT_EQ(Call("/control/fault?endpoint=auth&kind=nope").status_code, 400);
  EXPECT_EQ(Call("/control/fault?endpoint=auth&count=0").status_code, 400);
  EXPECT_EQ(Call("/control/unknown").status_code, 404);
  // Reset clears queued faults and counters.
  Call("/control/fault?endpoint=auth&kind=errcode&count=5");
  Call("/control/reset");
  EXPECT_EQ(Errcode(auth), 40014);
  EXPECT_EQ(fake_->CallCount(FakeEndpoint::kAuth), 1);
}

TEST_F(FakeWeChatTest, QuirksAndUserControl) {
  Call("/control/user?openid=oC&nickname=Zh%C5%8Dng&unionid=&sex=1&city=Xi");
  std::string code = MintCode("oC");
  JsonValue tokens = CallJson(Exchange(code));
  EXPECT_EQ(tokens.Find("unionid"), nullptr);  // unionid= empty: none
  std::string at = tokens.Find("access_token")->string_value();
  std::string userinfo =
      absl::StrCat("/sns/userinfo?openid=oC&lang=en&access_token=", at);
  HttpResponse r = Call(userinfo);
  EXPECT_EQ(r.content_type, "text/plain");
  EXPECT_NE(r.body.find("https:\\/\\/thirdwx"), std::string::npos);
  EXPECT_NE(r.body.find("\"sex\":1"), std::string::npos);
  EXPECT_NE(r.body.find("\"language\":\"en\""), std::string::npos);
  Call("/control/quirks?text_plain=0&escape_slashes=0&sex_as_string=1&"
       "language=0&control_chars=1");
  r = Call(userinfo);
  EXPECT_EQ(r.content_type, "application/json; encoding=utf-8");
  EXPECT_NE(r.body.find("https://thirdwx"), std::string::npos);
  EXPECT_NE(r.body.find("\"sex\":\"1\""), std::string::npos);
  EXPECT_EQ(r.body.find("language"), std::string::npos);
  EXPECT_NE(r.body.find('\x01'), std::string::npos);
  JsonValue profile = *service::ParseJson(r.body);
  EXPECT_EQ(profile.Find("nickname")->string_value(), "Zh\xC5\x8Dng");
  // Password change: 40001 on access, 42007 on refresh.
  Call("/control/change_password?openid=oC");
  EXPECT_EQ(Errcode(userinfo), 40001);
  EXPECT_EQ(Errcode(absl::StrCat(
                "/sns/oauth2/refresh_token?appid=wxapp1&grant_type=refresh_token"
                "&refresh_token=",
                tokens.Find("refresh_token")->string_value())),
            42007);
}

TEST_F(FakeWeChatTest, MissingParameters) {
  EXPECT_EQ(Errcode("/sns/oauth2/access_token?secret=s&code=c"), 41002);
  EXPECT_EQ(Errcode("/sns/oauth2/access_token?appid=wxapp1&code=c"), 41004);
  EXPECT_EQ(Errcode("/sns/oauth2/access_token?appid=wxapp1&secret=secret1"),
            41008);
  EXPECT_EQ(Errcode("/sns/oauth2/refresh_token?appid=wxapp1"), 41003);
  EXPECT_EQ(Errcode("/sns/oauth2/refresh_token?refresh_token=r"), 41002);
  EXPECT_EQ(Errcode("/sns/auth?openid=o"), 41001);
  EXPECT_EQ(Errcode("/sns/userinfo?access_token=a"), 41009);
}

TEST_F(FakeWeChatTest, ResetAllForgetsTokens) {
  std::string code = MintCode("oD");
  Call("/control/reset?all=1");
  EXPECT_EQ(Errcode(Exchange(code)), 40029);
}

// Many clients connecting at the same moment (wxvaultd's refresher workers
// on their first batch) are all accepted at once: none waits out a 1 s SYN
// retransmission because the listen backlog overflowed (cpp-httplib's own
// backlog is 5).
TEST_F(FakeWeChatTest, AcceptsABurstOfConnections) {
  constexpr int kClients = 64;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(fake_->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<pollfd> fds;
  for (int i = 0; i < kClients; ++i) {  // back to back, before the fake accepts
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
    fds.push_back({fd, POLLOUT, 0});
  }
  int connected = 0;
  const absl::Time give_up = absl::Now() + absl::Milliseconds(500);
  while (connected < kClients && absl::Now() < give_up) {
    poll(fds.data(), fds.size(), 10);
    connected = 0;
    for (pollfd& p : fds) {
      int error = -1;
      socklen_t len = sizeof(error);
      if (p.events != 0 && (p.revents & POLLOUT) != 0 &&
          getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0) {
        p.events = 0;  // connected: stop polling it
      }
      if (p.events == 0) ++connected;
    }
  }
  for (const pollfd& p : fds) close(p.fd);
  EXPECT_EQ(connected, kClients) << "connections still waiting after 500 ms";
}

// Runs the real binary, reads its "listening" line, drives it, stops it.
TEST(FakeWeChatBinaryTest, RunsStandaloneAndDocumentsItsControlSurface) {
  std::string help_cmd = absl::StrCat(WXVAULT_FAKE_WECHAT_BIN, " --help");
  FILE* help = popen(help_cmd.c_str(), "r");
  ASSERT_NE(help, nullptr);
  std::string text;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), help)) text.append(buf, n);
  EXPECT_EQ(pclose(help), 0);
  for (const char* needle : {"/control/code", "/control/clock", "/control/fault",
                             "/control/stats", "/control/reset", "--listen",
                             "--rotate_refresh_tokens", "--refresh_token_ttl"}) {
    EXPECT_NE(text.find(needle), std::string::npos) << needle;
  }

  int out[2];
  ASSERT_EQ(pipe(out), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    execl(WXVAULT_FAKE_WECHAT_BIN, WXVAULT_FAKE_WECHAT_BIN,
          "--listen=127.0.0.1:0", "--apps=wxbin:binsecret",
          "--rotate_refresh_tokens", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  FILE* stdout_of_child = fdopen(out[0], "r");
  char line[256] = {0};
  ASSERT_NE(fgets(line, sizeof(line), stdout_of_child), nullptr);
  std::string listening(line);
  ASSERT_EQ(listening.rfind("listening http://127.0.0.1:", 0), 0u) << listening;
  std::string base = listening.substr(10, listening.find('\n') - 10);
  auto http = CurlHttpClient::Create();
  ASSERT_TRUE(http.ok());
  auto stats = (*http)->Get({base + "/control/stats", absl::Seconds(5)});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_NE(stats->body.find("\"calls\""), std::string::npos);
  auto bad_app = (*http)->Get(
      {base + "/sns/oauth2/access_token?appid=wxother&secret=s&code=c",
       absl::Seconds(5)});
  ASSERT_TRUE(bad_app.ok());
  EXPECT_NE(bad_app->body.find("40013"), std::string::npos);
  http->reset();  // close the keep-alive connection first
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  fclose(stdout_of_child);
}

TEST(FakeWeChatBinaryTest, RejectsBadFlags) {
  for (const char* args : {" --listen=nope", " --apps=noseparator",
                           " --refresh_token_ttl=forever", " --bogus"}) {
    std::string cmd =
        absl::StrCat(WXVAULT_FAKE_WECHAT_BIN, args, " 2>/dev/null");
    EXPECT_EQ(WEXITSTATUS(system(cmd.c_str())), 2) << args;
  }
}

}  // namespace
}  // namespace wxvault::fake

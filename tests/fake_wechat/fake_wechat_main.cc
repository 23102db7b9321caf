// wxvault-fake-wechat: the fake WeChat OAuth API as a standalone server.
// See kUsage below (printed by --help) and docs/wechat-upstream.md.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "tests/fake_wechat/fake_wechat.h"

namespace {

constexpr char kUsage[] = R"(wxvault-fake-wechat: a fake WeChat OAuth API (api.weixin.qq.com) for tests
and demos. Plain HTTP on loopback; never expose it.

Usage: wxvault-fake-wechat [flags]

Flags:
  --listen=HOST:PORT            address to serve on (default 127.0.0.1:0, any
                                free port; the bound port is printed)
  --apps=ID:SECRET[,ID:SECRET]  apps and their secrets
                                (default wxfakeapp0000001:fake-secret-0001)
  --refresh_token_ttl=DUR       refresh token lifetime (default 720h)
  --access_token_ttl=DUR        access token lifetime (default 7200s)
  --code_ttl=DUR                code lifetime (default 10m)
  --rotate_refresh_tokens       issue a new refresh token on every refresh
                                (default: the same one comes back)
  --log_requests                one stderr line per request (path only)
  --help                        this text

On start it prints one line:  listening http://HOST:PORT
and serves until SIGINT or SIGTERM.

WeChat endpoints (GET, query parameters, JSON answers, Content-Type text/plain):
  /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code
  /sns/oauth2/refresh_token?appid&grant_type=refresh_token&refresh_token
  /sns/auth?access_token&openid
  /sns/userinfo?access_token&openid&lang
Errcodes it answers by itself: 40013 40125 40029 40163 42003 40030 42002 42007
40001 40014 42001 40003 48001 41001 41002 41003 41004 41008 41009; any other
(-1, 45009, 45011, 50001, ...) by fault injection.

Control surface (GET or POST, query parameters, JSON answers):
  /control/code?openid=O&scope=snsapi_userinfo|snsapi_base&app_id=A
      mint a single-use code -> {"code":"...","openid":"..."}
      (no openid: a new user; no app_id: the first app)
  /control/user?openid=O&nickname=N&unionid=U&sex=0|1|2&province=P&city=C
               &country=C&headimgurl=URL&privilege=a,b
      create or replace a user's profile (unionid= empty: no unionid)
  /control/change_password?openid=O
      the user's refresh tokens answer 42007, access tokens 40001
  /control/ttl?access_token=60s
      lifetime of access tokens issued from now on (exchanges and refreshes)
  /control/clock?advance=90s   or   /control/clock?set_unix=1750000000
      move the fake's clock (codes, tokens expire by it) -> {"now_unix":N}
  /control/fault?endpoint=E&kind=K&count=N[&errcode=C][&status=S]
                [&stall_ms=M][&after=1]
      the next N calls (default 1) to endpoint E fail as K:
        E: access_token | refresh_token | auth | userinfo
        K: errcode   answer {"errcode":C} (default -1; e.g. 45011, 45009)
           http      HTTP status S (default 503) with an HTML body
           reset     send headers, then close the connection mid-body
           stall     wait M ms (default 500), then answer normally
           garbage   HTTP 200 with an HTML body
           truncated HTTP 200 with the JSON cut in half
           oversize  HTTP 200 with a 2 MiB body
        after=1: process the call first (the code is consumed), then fail
  /control/quirks?text_plain=0|1&escape_slashes=0|1&trailing_comma=0|1
                 &unionid=0|1&language=0|1&control_chars=0|1&sex_as_string=0|1
      response quirks (defaults: 1 1 1 1 1 0 0)
  /control/stats
      -> {"calls":{"access_token":N,"refresh_token":N,"auth":N,"userinfo":N},
          "now_unix":N}
  /control/reset[?all=1]
      clear faults and call counts; all=1 also forgets codes, tokens, users
      and the clock offset

Example:
  CODE=$(curl -s 'http://127.0.0.1:PORT/control/code?openid=o1' | jq -r .code)
  curl -s "http://127.0.0.1:PORT/sns/oauth2/access_token?appid=wxfakeapp0000001&secret=fake-secret-0001&code=$CODE&grant_type=authorization_code"
)";

bool FlagValue(absl::string_view arg, absl::string_view name,
               std::string* value) {
  std::string prefix = std::string("--") + std::string(name) + "=";
  if (!absl::StartsWith(arg, prefix)) return false;
  *value = std::string(arg.substr(prefix.size()));
  return true;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "wxvault-fake-wechat: %s (see --help)\n",
               message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using wxvault::fake::FakeApp;
  wxvault::fake::FakeWeChatOptions options;
  wxvault::fake::FakeServerConfig config;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    std::string value;
    absl::Duration d;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--rotate_refresh_tokens") {
      options.rotate_refresh_tokens = true;
    } else if (arg == "--log_requests") {
      config.log_requests = true;
    } else if (FlagValue(arg, "listen", &value)) {
      size_t colon = value.rfind(':');
      if (colon == std::string::npos ||
          !absl::SimpleAtoi(value.substr(colon + 1), &config.port) ||
          config.port < 0 || config.port > 65535) {
        return Fail("--listen: expected HOST:PORT");
      }
      config.host = value.substr(0, colon);
    } else if (FlagValue(arg, "apps", &value)) {
      options.apps.clear();
      for (absl::string_view pair : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        std::vector<std::string> parts = absl::StrSplit(pair, absl::MaxSplits(':', 1));
        if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
          return Fail("--apps: expected APP_ID:SECRET[,APP_ID:SECRET]");
        }
        options.apps.push_back(FakeApp{parts[0], parts[1]});
      }
      if (options.apps.empty()) return Fail("--apps: no app given");
    } else if (FlagValue(arg, "refresh_token_ttl", &value) ||
               FlagValue(arg, "access_token_ttl", &value) ||
               FlagValue(arg, "code_ttl", &value)) {
      if (!absl::ParseDuration(value, &d) || d <= absl::ZeroDuration()) {
        return Fail(std::string(arg.substr(0, arg.find('='))) +
                    ": expected a positive duration like 720h");
      }
      if (absl::StartsWith(arg, "--refresh")) options.refresh_token_ttl = d;
      if (absl::StartsWith(arg, "--access")) options.access_token_ttl = d;
      if (absl::StartsWith(arg, "--code")) options.code_ttl = d;
    } else {
      return Fail("unknown flag " + std::string(arg));
    }
  }

  // Block the stop signals before any thread starts, then wait for one.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto fake = wxvault::fake::FakeWeChat::Start(options, config);
  if (!fake.ok()) return Fail(std::string(fake.status().message()));
  std::printf("listening %s\n", (*fake)->base_url().c_str());
  std::fflush(stdout);
  int signal = 0;
  sigwait(&stop_signals, &signal);
  (*fake)->Stop();
  return 0;
}

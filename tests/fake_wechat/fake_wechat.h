// FakeWeChat: a faithful fake of WeChat's mobile OAuth API on a real HTTP
// server (cpp-httplib) on loopback, for tests, the --demo mode and anyone
// driving wxvault by hand.
//
// It serves GET (and POST) /sns/oauth2/access_token, /sns/oauth2/refresh_token,
// /sns/auth and /sns/userinfo with the semantics of FakeWeChatState, plus a
// control surface to steer it, in C++ (the methods below) and over HTTP
// (handy from other languages and shell scripts; every answer is JSON):
//
//   /control/code?openid=O&scope=S&app_id=A   mint a code -> {"code","openid"}
//   /control/user?openid=O&nickname=N&unionid=U&sex=1&province=..&city=..
//                &country=..&headimgurl=..    create/replace a profile
//   /control/change_password?openid=O       user's tokens die (42007/40001)
//   /control/ttl?access_token=60s          lifetime of access tokens issued
//                                           from now on
//   /control/clock?advance=90s | ?set_unix=N   move the fake's clock
//                                              -> {"now_unix"}
//   /control/fault?endpoint=E&kind=K&count=N&errcode=C&status=S&stall_ms=M
//                 &after=1                  inject a fault for the next N calls
//   /control/quirks?text_plain=0|1&escape_slashes=..&trailing_comma=..
//                  &unionid=..&language=..&control_chars=..&sex_as_string=..
//   /control/stats                          -> {"calls":{E:N,...},"now_unix"}
//   /control/reset[?all=1]                  clear faults and counts (all=1:
//                                           also codes, tokens, users, clock)
// E is access_token, refresh_token, auth or userinfo. K is errcode (any
// errcode: -1, 45009, 45011, ...), http (status S, default 503), reset
// (headers, then the connection closes mid-body), stall (wait M ms of real
// time, then answer normally), garbage (200 with an HTML body), truncated
// (200 with JSON cut short) or oversize (200 with a 2 MiB body). after=1
// processes the call first (a code gets consumed) and then answers with the
// fault: WeChat did the work but the answer was lost.
//
// Secrets: the fake never logs query strings, codes, tokens or secrets.
//
// Thread safety: all methods are thread-safe. Stop() (and the destructor)
// wait for in-flight requests; stalls are cut short by Stop().
#ifndef WXVAULT_TESTS_FAKE_WECHAT_FAKE_WECHAT_H_
#define WXVAULT_TESTS_FAKE_WECHAT_FAKE_WECHAT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/fake_wechat/fake_wechat_state.h"
#include "vault/clock.h"

namespace wxvault::fake {

enum class FaultKind {
  kErrcode,
  kHttpStatus,
  kReset,
  kStall,
  kGarbage,
  kTruncated,
  kOversize,
};

struct Fault {
  FaultKind kind = FaultKind::kErrcode;
  int errcode = -1;                                 // kErrcode
  int http_status = 503;                            // kHttpStatus
  absl::Duration stall = absl::Milliseconds(500);   // kStall (real time)
  int count = 1;  // applies to the next `count` calls to the endpoint
  bool after_processing = false;
};

// Parses the /control/fault parameters (all but `endpoint`).
absl::StatusOr<Fault> ParseFault(const FakeParams& params);

struct FakeServerConfig {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
  // The fake's clock base; nullptr: the real clock. The control surface moves
  // the fake's own clock by an offset on top of this base.
  Clock* clock = nullptr;
  // Log one line per request (method and path only) to stderr.
  bool log_requests = false;
};

class FakeWeChat {
 public:
  // Binds and starts serving. Errors: UNAVAILABLE when the address cannot be
  // bound.
  static absl::StatusOr<std::unique_ptr<FakeWeChat>> Start(
      FakeWeChatOptions options, FakeServerConfig config = FakeServerConfig());
  ~FakeWeChat();
  FakeWeChat(const FakeWeChat&) = delete;
  FakeWeChat& operator=(const FakeWeChat&) = delete;

  // Stops serving; idempotent.
  void Stop();
  int port() const;
  // "http://127.0.0.1:<port>": pass as --wechat_api_base.
  std::string base_url() const;

  // See FakeWeChatState::MintCode.
  std::string MintCode(absl::string_view openid = "",
                       absl::string_view scope = "snsapi_userinfo",
                       absl::string_view app_id = "",
                       std::string* openid_out = nullptr);
  void SetUser(FakeUser user);
  void ChangePassword(absl::string_view openid);
  void SetQuirks(const FakeQuirks& quirks);
  FakeQuirks quirks() const;

  // Queues `fault` for `endpoint`; queued faults apply in order.
  void InjectFault(FakeEndpoint endpoint, Fault fault);
  // Calls received by `endpoint` since start or the last Reset().
  int CallCount(FakeEndpoint endpoint) const;

  // The fake's clock: base clock plus an offset.
  absl::Time Now() const;
  void AdvanceClock(absl::Duration d);
  void SetClock(absl::Time t);

  // Clears faults and counters; `all` also forgets codes, tokens, users and
  // the clock offset.
  void Reset(bool all = false);

  FakeWeChatState& state();

 private:
  struct Impl;
  explicit FakeWeChat(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wxvault::fake

#endif  // WXVAULT_TESTS_FAKE_WECHAT_FAKE_WECHAT_H_

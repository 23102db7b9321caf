// FakeWeChatState: the semantics of WeChat's four mobile OAuth endpoints,
// without HTTP. FakeWeChat (fake_wechat.h) serves it over loopback.
//
// Modelled on DESIGN §5:
//   * codes are minted for an openid (MintCode), single-use (40163 on reuse),
//     expire after `code_ttl` (42003), are bound to one app (40029 otherwise);
//   * per-app secrets: unknown appid 40013, wrong secret 40125;
//   * access tokens live `access_token_ttl` (7200 s); a refresh while the
//     current one is unexpired returns the same token with a renewed expiry;
//     expired -> 42001, unknown -> 40014, revoked by a password change ->
//     40001; wrong openid for the token -> 40003;
//   * refresh tokens live `refresh_token_ttl` from issue (42002 after); with
//     `rotate_refresh_tokens` every refresh issues a new one and the old one
//     answers 40030; unknown -> 40030; after ChangePassword -> 42007;
//   * /sns/userinfo with a snsapi_base token -> 48001;
//   * missing parameters -> 41001 (access_token), 41002 (appid),
//     41003 (refresh_token), 41004 (secret), 41008 (code), 41009 (openid).
// Response quirks (FakeQuirks) are on by default where WeChat shows them.
//
// Thread safety: all methods are thread-safe. The clock is not owned.
#ifndef WXVAULT_TESTS_FAKE_WECHAT_FAKE_WECHAT_STATE_H_
#define WXVAULT_TESTS_FAKE_WECHAT_FAKE_WECHAT_STATE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "vault/clock.h"

namespace wxvault::fake {

enum class FakeEndpoint { kAccessToken, kRefreshToken, kAuth, kUserInfo };
inline constexpr FakeEndpoint kAllFakeEndpoints[] = {
    FakeEndpoint::kAccessToken, FakeEndpoint::kRefreshToken,
    FakeEndpoint::kAuth, FakeEndpoint::kUserInfo};

// "access_token", "refresh_token", "auth", "userinfo".
absl::string_view FakeEndpointName(FakeEndpoint endpoint);
// "/sns/oauth2/access_token", ...
absl::string_view FakeEndpointPath(FakeEndpoint endpoint);
// Parses a name as FakeEndpointName() returns it.
absl::optional<FakeEndpoint> ParseFakeEndpoint(absl::string_view name);

struct FakeQuirks {
  bool text_plain_content_type = true;  // else application/json
  bool escape_slashes = true;           // "https:\/\/..."
  bool trailing_comma_in_scope = true;  // "snsapi_userinfo,"
  bool include_unionid = true;          // on exchange and userinfo
  bool include_language = true;         // undocumented userinfo field
  bool control_chars_in_nickname = false;  // raw U+0001..U+001F
  bool sex_as_string = false;              // "sex":"1"
};

struct FakeApp {
  std::string app_id;
  std::string secret;
};

struct FakeUser {
  std::string openid;
  std::string unionid;  // "" = this user has none
  std::string nickname = "\xE5\xBE\xAE\xE4\xBF\xA1\xE7\x94\xA8\xE6\x88\xB7 "
                         "\xF0\x9F\x98\x80";  // "微信用户 😀" (4-byte emoji)
  int sex = 0;
  std::string province;
  std::string city;
  std::string country;
  std::string headimgurl =
      "https://thirdwx.qlogo.cn/mmopen/vi_32/fake/132";
  std::vector<std::string> privilege;
};

struct FakeWeChatOptions {
  std::vector<FakeApp> apps = {{"wxfakeapp0000001", "fake-secret-0001"}};
  absl::Duration code_ttl = absl::Minutes(10);
  absl::Duration access_token_ttl = absl::Seconds(7200);
  absl::Duration refresh_token_ttl = absl::Hours(24 * 30);
  bool rotate_refresh_tokens = false;
  FakeQuirks quirks;
};

struct FakeResponse {
  int http_status = 200;
  std::string content_type;
  std::string body;
};

using FakeParams = std::map<std::string, std::string>;

class FakeWeChatState {
 public:
  FakeWeChatState(FakeWeChatOptions options, Clock* clock);

  // Mints a code for `openid` of `app_id` ("" = the first app) with `scope`
  // ("snsapi_userinfo" or "snsapi_base"). An unknown openid gets a user with
  // default profile (and a unionid). Empty openid: a new random one. Returns
  // the code; *openid_out (if set) receives the openid.
  std::string MintCode(absl::string_view app_id, absl::string_view openid,
                       absl::string_view scope, std::string* openid_out);
  // Creates or replaces a user's profile.
  void SetUser(FakeUser user);
  // The user's tokens stop working: refresh -> 42007, access -> 40001.
  void ChangePassword(absl::string_view openid);

  void SetQuirks(const FakeQuirks& quirks);
  // Lifetime of access tokens issued from now on (initially
  // options.access_token_ttl). Lets a test issue a short-lived token, then
  // have refreshes return long-lived ones.
  void SetAccessTokenTtl(absl::Duration ttl);
  FakeQuirks quirks() const;
  const FakeWeChatOptions& options() const { return options_; }

  // Forgets every code, token and user.
  void Clear();

  // Answers one API call as WeChat would.
  FakeResponse Handle(FakeEndpoint endpoint, const FakeParams& params);

  // An errcode body as WeChat writes it (with a random rid).
  FakeResponse ErrorResponse(int errcode);

 private:
  struct Code {
    std::string app_id;
    std::string openid;
    std::string scope;
    absl::Time issued;
    bool used = false;
  };
  struct AccessToken {
    std::string app_id;
    std::string openid;
    std::string scope;
    absl::Time expires;
    int password_epoch = 0;
  };
  struct RefreshToken {
    std::string app_id;
    std::string openid;
    std::string scope;
    absl::Time issued;
    std::string access_token;  // the latest one issued with it
    int password_epoch = 0;
  };
  struct User {
    FakeUser profile;
    int password_epoch = 0;
  };

  FakeResponse Exchange(const FakeParams& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  FakeResponse Refresh(const FakeParams& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  FakeResponse Auth(const FakeParams& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  FakeResponse UserInfo(const FakeParams& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Checks access_token + openid; on error returns the errcode.
  int CheckAccess(const FakeParams& params, const AccessToken** token)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  FakeResponse TokenResponse(const std::string& access_token,
                             const std::string& refresh_token,
                             const std::string& openid,
                             const std::string& scope, bool with_unionid)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  FakeResponse ErrorLocked(int errcode) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  FakeResponse Json(std::string body) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string RandomToken(size_t length) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  User& UserFor(absl::string_view openid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const FakeApp* FindApp(absl::string_view app_id) const;

  const FakeWeChatOptions options_;
  Clock* const clock_;

  mutable absl::Mutex mu_;
  FakeQuirks quirks_ ABSL_GUARDED_BY(mu_);
  absl::Duration access_token_ttl_ ABSL_GUARDED_BY(mu_);
  absl::BitGen gen_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Code> codes_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, AccessToken> access_tokens_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, RefreshToken> refresh_tokens_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, User> users_ ABSL_GUARDED_BY(mu_);
};

}  // namespace wxvault::fake

#endif  // WXVAULT_TESTS_FAKE_WECHAT_FAKE_WECHAT_STATE_H_

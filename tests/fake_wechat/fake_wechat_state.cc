#include "tests/fake_wechat/fake_wechat_state.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "tests/fake_wechat/json_writer.h"

namespace wxvault::fake {
namespace {

constexpr absl::string_view kTokenAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

// errmsg texts as WeChat writes them (before ", rid: ...").
absl::string_view ErrmsgFor(int errcode) {
  switch (errcode) {
    case -1: return "system error";
    case 40001: return "invalid credential, access_token is invalid or not latest";
    case 40003: return "invalid openid";
    case 40013: return "invalid appid";
    case 40014: return "invalid access_token";
    case 40029: return "invalid code";
    case 40030: return "invalid refresh_token";
    case 40125: return "invalid appsecret";
    case 40163: return "code been used";
    case 41001: return "access_token missing";
    case 41002: return "appid missing";
    case 41003: return "refresh_token missing";
    case 41004: return "appsecret missing";
    case 41008: return "missing code";
    case 41009: return "missing openid";
    case 42001: return "access_token expired";
    case 42002: return "refresh_token expired";
    case 42003: return "code expired";
    case 42007: return "access_token and refresh_token exception";
    case 45009: return "reach max api daily quota limit";
    case 45011: return "api minute-quota reach limit  mustslower  retry next minute";
    case 48001: return "api unauthorized";
    case 50001: return "user unauthorized";
    case 50002: return "user limited";
    default: return "unknown error";
  }
}

std::string Param(const FakeParams& params, absl::string_view key) {
  auto it = params.find(std::string(key));
  return it == params.end() ? std::string() : it->second;
}

}  // namespace

absl::string_view FakeEndpointName(FakeEndpoint endpoint) {
  switch (endpoint) {
    case FakeEndpoint::kAccessToken: return "access_token";
    case FakeEndpoint::kRefreshToken: return "refresh_token";
    case FakeEndpoint::kAuth: return "auth";
    case FakeEndpoint::kUserInfo: return "userinfo";
  }
  return "unknown";
}

absl::string_view FakeEndpointPath(FakeEndpoint endpoint) {
  switch (endpoint) {
    case FakeEndpoint::kAccessToken: return "/sns/oauth2/access_token";
    case FakeEndpoint::kRefreshToken: return "/sns/oauth2/refresh_token";
    case FakeEndpoint::kAuth: return "/sns/auth";
    case FakeEndpoint::kUserInfo: return "/sns/userinfo";
  }
  return "/unknown";
}

absl::optional<FakeEndpoint> ParseFakeEndpoint(absl::string_view name) {
  for (FakeEndpoint e : kAllFakeEndpoints) {
    if (FakeEndpointName(e) == name) return e;
  }
  return absl::nullopt;
}

FakeWeChatState::FakeWeChatState(FakeWeChatOptions options, Clock* clock)
    : options_(std::move(options)),
      clock_(clock),
      quirks_(options_.quirks),
      access_token_ttl_(options_.access_token_ttl) {}

void FakeWeChatState::SetAccessTokenTtl(absl::Duration ttl) {
  absl::MutexLock lock(&mu_);
  access_token_ttl_ = ttl;
}

const FakeApp* FakeWeChatState::FindApp(absl::string_view app_id) const {
  for (const FakeApp& app : options_.apps) {
    if (app.app_id == app_id) return &app;
  }
  return nullptr;
}

std::string FakeWeChatState::RandomToken(size_t length) {
  std::string out(length, 'x');
  for (char& c : out) {
    c = kTokenAlphabet[absl::Uniform<size_t>(gen_, 0, kTokenAlphabet.size())];
  }
  return out;
}

FakeWeChatState::User& FakeWeChatState::UserFor(absl::string_view openid) {
  auto [it, inserted] = users_.try_emplace(openid);
  if (inserted) {
    it->second.profile.openid = std::string(openid);
    it->second.profile.unionid = "o6_b" + RandomToken(24);
  }
  return it->second;
}

std::string FakeWeChatState::MintCode(absl::string_view app_id,
                                      absl::string_view openid,
                                      absl::string_view scope,
                                      std::string* openid_out) {
  absl::MutexLock lock(&mu_);
  std::string id = openid.empty() ? "oFake" + RandomToken(23)
                                  : std::string(openid);
  UserFor(id);
  std::string code = RandomToken(32);
  codes_[code] = Code{
      app_id.empty() && !options_.apps.empty() ? options_.apps[0].app_id
                                               : std::string(app_id),
      id, scope.empty() ? "snsapi_userinfo" : std::string(scope),
      clock_->Now(), false};
  if (openid_out != nullptr) *openid_out = id;
  return code;
}

void FakeWeChatState::SetUser(FakeUser user) {
  absl::MutexLock lock(&mu_);
  std::string openid = user.openid;
  users_[openid].profile = std::move(user);
}

void FakeWeChatState::ChangePassword(absl::string_view openid) {
  absl::MutexLock lock(&mu_);
  ++UserFor(openid).password_epoch;
}

void FakeWeChatState::SetQuirks(const FakeQuirks& quirks) {
  absl::MutexLock lock(&mu_);
  quirks_ = quirks;
}

FakeQuirks FakeWeChatState::quirks() const {
  absl::MutexLock lock(&mu_);
  return quirks_;
}

void FakeWeChatState::Clear() {
  absl::MutexLock lock(&mu_);
  codes_.clear();
  access_tokens_.clear();
  refresh_tokens_.clear();
  users_.clear();
}

FakeResponse FakeWeChatState::Json(std::string body) const {
  return FakeResponse{200,
                      quirks_.text_plain_content_type
                          ? "text/plain"
                          : "application/json; encoding=utf-8",
                      std::move(body)};
}

FakeResponse FakeWeChatState::ErrorResponse(int errcode) {
  absl::MutexLock lock(&mu_);
  return ErrorLocked(errcode);
}

FakeResponse FakeWeChatState::ErrorLocked(int errcode) {
  std::string rid = absl::StrCat(absl::Hex(absl::Uniform<uint32_t>(gen_)), "-",
                                 absl::Hex(absl::Uniform<uint32_t>(gen_)));
  return Json(JsonWriter(false)
                  .Int("errcode", errcode)
                  .String("errmsg",
                          absl::StrCat(ErrmsgFor(errcode), ", rid: ", rid))
                  .Finish());
}

FakeResponse FakeWeChatState::Handle(FakeEndpoint endpoint,
                                     const FakeParams& params) {
  absl::MutexLock lock(&mu_);
  switch (endpoint) {
    case FakeEndpoint::kAccessToken: return Exchange(params);
    case FakeEndpoint::kRefreshToken: return Refresh(params);
    case FakeEndpoint::kAuth: return Auth(params);
    case FakeEndpoint::kUserInfo: return UserInfo(params);
  }
  return ErrorLocked(-1);
}

FakeResponse FakeWeChatState::TokenResponse(const std::string& access_token,
                                            const std::string& refresh_token,
                                            const std::string& openid,
                                            const std::string& scope,
                                            bool with_unionid) {
  JsonWriter w(quirks_.escape_slashes);
  w.String("access_token", access_token)
      .Int("expires_in", absl::ToInt64Seconds(access_token_ttl_))
      .String("refresh_token", refresh_token)
      .String("openid", openid)
      .String("scope", quirks_.trailing_comma_in_scope ? scope + "," : scope);
  if (with_unionid && quirks_.include_unionid) {
    const std::string& unionid = users_[openid].profile.unionid;
    if (!unionid.empty()) w.String("unionid", unionid);
  }
  return Json(w.Finish());
}

FakeResponse FakeWeChatState::Exchange(const FakeParams& params) {
  std::string app_id = Param(params, "appid");
  std::string secret = Param(params, "secret");
  std::string code_text = Param(params, "code");
  if (app_id.empty()) return ErrorLocked(41002);
  if (secret.empty()) return ErrorLocked(41004);
  if (code_text.empty()) return ErrorLocked(41008);
  const FakeApp* app = FindApp(app_id);
  if (app == nullptr) return ErrorLocked(40013);
  if (app->secret != secret) return ErrorLocked(40125);
  auto it = codes_.find(code_text);
  if (it == codes_.end() || it->second.app_id != app_id) return ErrorLocked(40029);
  Code& code = it->second;
  if (code.used) return ErrorLocked(40163);
  absl::Time now = clock_->Now();
  if (now - code.issued > options_.code_ttl) return ErrorLocked(42003);
  code.used = true;
  int epoch = UserFor(code.openid).password_epoch;
  std::string access_token = RandomToken(89);
  std::string refresh_token = RandomToken(89);
  access_tokens_[access_token] =
      AccessToken{app_id, code.openid, code.scope,
                  now + access_token_ttl_, epoch};
  refresh_tokens_[refresh_token] = RefreshToken{
      app_id, code.openid, code.scope, now, access_token, epoch};
  return TokenResponse(access_token, refresh_token, code.openid, code.scope,
                       /*with_unionid=*/true);
}

FakeResponse FakeWeChatState::Refresh(const FakeParams& params) {
  std::string app_id = Param(params, "appid");
  std::string rt_text = Param(params, "refresh_token");
  if (app_id.empty()) return ErrorLocked(41002);
  if (rt_text.empty()) return ErrorLocked(41003);
  if (FindApp(app_id) == nullptr) return ErrorLocked(40013);
  auto it = refresh_tokens_.find(rt_text);
  if (it == refresh_tokens_.end() || it->second.app_id != app_id) {
    return ErrorLocked(40030);
  }
  RefreshToken rt = it->second;
  if (UserFor(rt.openid).password_epoch != rt.password_epoch) {
    return ErrorLocked(42007);
  }
  absl::Time now = clock_->Now();
  if (now - rt.issued >= options_.refresh_token_ttl) return ErrorLocked(42002);
  // Same access token with a renewed expiry while it is unexpired.
  auto at = access_tokens_.find(rt.access_token);
  if (at == access_tokens_.end() || at->second.expires <= now) {
    rt.access_token = RandomToken(89);
    access_tokens_[rt.access_token] =
        AccessToken{app_id, rt.openid, rt.scope, now, rt.password_epoch};
    at = access_tokens_.find(rt.access_token);
  }
  at->second.expires = now + access_token_ttl_;
  std::string out_rt = rt_text;
  if (options_.rotate_refresh_tokens) {
    refresh_tokens_.erase(it);
    out_rt = RandomToken(89);
    rt.issued = now;
  }
  refresh_tokens_[out_rt] = rt;
  return TokenResponse(rt.access_token, out_rt, rt.openid, rt.scope,
                       /*with_unionid=*/false);
}

int FakeWeChatState::CheckAccess(const FakeParams& params,
                                 const AccessToken** token) {
  std::string at_text = Param(params, "access_token");
  std::string openid = Param(params, "openid");
  if (at_text.empty()) return 41001;
  if (openid.empty()) return 41009;
  auto it = access_tokens_.find(at_text);
  if (it == access_tokens_.end()) return 40014;
  const AccessToken& at = it->second;
  if (UserFor(at.openid).password_epoch != at.password_epoch) return 40001;
  if (at.expires <= clock_->Now()) return 42001;
  if (at.openid != openid) return 40003;
  *token = &at;
  return 0;
}

FakeResponse FakeWeChatState::Auth(const FakeParams& params) {
  const AccessToken* token = nullptr;
  if (int errcode = CheckAccess(params, &token); errcode != 0) {
    return ErrorLocked(errcode);
  }
  return Json(JsonWriter(false).Int("errcode", 0).String("errmsg", "ok").Finish());
}

FakeResponse FakeWeChatState::UserInfo(const FakeParams& params) {
  const AccessToken* token = nullptr;
  if (int errcode = CheckAccess(params, &token); errcode != 0) {
    return ErrorLocked(errcode);
  }
  if (token->scope.find("snsapi_userinfo") == std::string::npos) {
    return ErrorLocked(48001);
  }
  const FakeUser& user = UserFor(token->openid).profile;
  std::string nickname = user.nickname;
  if (quirks_.control_chars_in_nickname) {
    nickname = absl::StrCat("\x01", nickname, "\x1f\n");
  }
  std::string lang = Param(params, "lang");
  JsonWriter w(quirks_.escape_slashes);
  w.String("openid", user.openid)
      .String("nickname", nickname, quirks_.control_chars_in_nickname);
  if (quirks_.sex_as_string) {
    w.String("sex", absl::StrCat(user.sex));
  } else {
    w.Int("sex", user.sex);
  }
  if (quirks_.include_language) {
    w.String("language", lang.empty() ? "zh_CN" : lang);
  }
  w.String("city", user.city)
      .String("province", user.province)
      .String("country", user.country)
      .String("headimgurl", user.headimgurl)
      .StringArray("privilege", user.privilege);
  if (quirks_.include_unionid && !user.unionid.empty()) {
    w.String("unionid", user.unionid);
  }
  return Json(w.Finish());
}

}  // namespace wxvault::fake

#include "service/wechat_response.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "service/error_reason.h"
#include "service/json.h"
#include "service/wechat_errors.h"

namespace wxvault::service {
namespace {

constexpr int64_t kMaxExpiresInSeconds = 365 * 24 * 3600;

absl::Status Malformed(WeChatEndpoint endpoint, absl::string_view what) {
  return MakeError(absl::StatusCode::kUnavailable,
                   absl::StrCat("WeChat ", EndpointPath(endpoint),
                                ": malformed response: ", what),
                   reason::kUpstreamUnavailable);
}

// An integer given as a JSON integer or as a string of decimal digits.
absl::optional<int64_t> IntField(const JsonValue& object,
                                 absl::string_view key) {
  const JsonValue* v = object.Find(key);
  if (v == nullptr) return absl::nullopt;
  if (v->is_number()) return v->AsInt64();
  int64_t value = 0;
  if (v->is_string() &&
      absl::SimpleAtoi(absl::StripAsciiWhitespace(v->string_value()), &value)) {
    return value;
  }
  return absl::nullopt;
}

// The string member `key`, or "" when absent or not a string.
std::string StringField(const JsonValue& object, absl::string_view key) {
  const JsonValue* v = object.Find(key);
  return v != nullptr && v->is_string() ? v->string_value() : std::string();
}

absl::optional<std::string> OptionalStringField(const JsonValue& object,
                                                absl::string_view key) {
  const JsonValue* v = object.Find(key);
  if (v == nullptr || !v->is_string() || v->string_value().empty()) {
    return absl::nullopt;
  }
  return v->string_value();
}

// Parses `body` into a JSON object and turns an errcode body into its Status.
absl::StatusOr<JsonValue> ParseEnvelope(WeChatEndpoint endpoint,
                                        absl::string_view body,
                                        absl::Time now) {
  absl::StatusOr<JsonValue> json = ParseJson(body);
  if (!json.ok()) return Malformed(endpoint, json.status().message());
  if (!json->is_object()) return Malformed(endpoint, "not a JSON object");
  if (json->Find("errcode") != nullptr) {
    absl::optional<int64_t> errcode = IntField(*json, "errcode");
    if (!errcode.has_value() || *errcode < INT32_MIN || *errcode > INT32_MAX) {
      return Malformed(endpoint, "errcode is not an integer");
    }
    if (*errcode != 0) {
      return WeChatErrorStatus(static_cast<int>(*errcode),
                               StringField(*json, "errmsg"),
                               EndpointPath(endpoint), now);
    }
  }
  return json;
}

absl::Status RequireString(WeChatEndpoint endpoint, const JsonValue& object,
                           absl::string_view key, std::string* out) {
  *out = StringField(object, key);
  if (out->empty()) {
    return Malformed(endpoint, absl::StrCat("missing \"", key, "\""));
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view EndpointPath(WeChatEndpoint endpoint) {
  switch (endpoint) {
    case WeChatEndpoint::kExchangeCode:
      return "/sns/oauth2/access_token";
    case WeChatEndpoint::kRefreshToken:
      return "/sns/oauth2/refresh_token";
    case WeChatEndpoint::kAuth:
      return "/sns/auth";
    case WeChatEndpoint::kUserInfo:
      return "/sns/userinfo";
  }
  return "/sns/unknown";
}

std::vector<std::string> SplitScopes(absl::string_view scope) {
  std::vector<std::string> scopes;
  for (absl::string_view part : absl::StrSplit(scope, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) scopes.emplace_back(part);
  }
  return scopes;
}

std::string StripControlCharacters(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) continue;
    // C1 controls are U+0080..U+009F: 0xC2 0x80..0x9F in UTF-8.
    if (c == 0xC2 && i + 1 < text.size()) {
      unsigned char next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9F) {
        ++i;
        continue;
      }
    }
    out.push_back(static_cast<char>(c));
  }
  return out;
}

absl::StatusOr<OAuthTokenResult> ParseTokenResponse(WeChatEndpoint endpoint,
                                                    absl::string_view body,
                                                    absl::Time now) {
  absl::StatusOr<JsonValue> json = ParseEnvelope(endpoint, body, now);
  if (!json.ok()) return json.status();
  OAuthTokenResult result;
  if (absl::Status s =
          RequireString(endpoint, *json, "access_token", &result.access_token);
      !s.ok()) {
    return s;
  }
  absl::optional<int64_t> expires_in = IntField(*json, "expires_in");
  if (!expires_in.has_value() || *expires_in <= 0 ||
      *expires_in > kMaxExpiresInSeconds) {
    return Malformed(endpoint, "missing or out-of-range \"expires_in\"");
  }
  result.expires_in_seconds = *expires_in;
  result.refresh_token = StringField(*json, "refresh_token");
  result.openid = StringField(*json, "openid");
  result.scopes = SplitScopes(StringField(*json, "scope"));
  result.unionid = OptionalStringField(*json, "unionid");
  if (endpoint == WeChatEndpoint::kExchangeCode) {
    if (result.refresh_token.empty()) {
      return Malformed(endpoint, "missing \"refresh_token\"");
    }
    if (result.openid.empty()) return Malformed(endpoint, "missing \"openid\"");
  }
  return result;
}

absl::Status ParseAuthResponse(absl::string_view body, absl::Time now) {
  absl::StatusOr<JsonValue> json =
      ParseEnvelope(WeChatEndpoint::kAuth, body, now);
  if (!json.ok()) return json.status();
  if (!IntField(*json, "errcode").has_value()) {
    return Malformed(WeChatEndpoint::kAuth, "missing \"errcode\"");
  }
  return absl::OkStatus();
}

absl::StatusOr<UserProfile> ParseUserInfoResponse(absl::string_view body,
                                                  absl::Time now) {
  const WeChatEndpoint endpoint = WeChatEndpoint::kUserInfo;
  absl::StatusOr<JsonValue> json = ParseEnvelope(endpoint, body, now);
  if (!json.ok()) return json.status();
  UserProfile profile;
  if (absl::Status s = RequireString(endpoint, *json, "openid", &profile.openid);
      !s.ok()) {
    return s;
  }
  auto text = [&](absl::string_view key) {
    return StripControlCharacters(StringField(*json, key));
  };
  profile.unionid = OptionalStringField(*json, "unionid");
  profile.nickname = text("nickname");
  absl::optional<int64_t> sex = IntField(*json, "sex");
  profile.sex = sex.has_value() && *sex >= 0 && *sex <= 2
                    ? static_cast<int>(*sex) : 0;
  profile.province = text("province");
  profile.city = text("city");
  profile.country = text("country");
  profile.headimgurl = text("headimgurl");
  profile.language = text("language");
  if (const JsonValue* privilege = json->Find("privilege");
      privilege != nullptr && privilege->is_array()) {
    for (const JsonValue& item : privilege->items()) {
      if (item.is_string()) {
        profile.privilege.push_back(StripControlCharacters(item.string_value()));
      }
    }
  }
  return profile;
}

}  // namespace wxvault::service

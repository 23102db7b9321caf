// wechat_response: typed results of WeChat's OAuth endpoints and the parsers
// that build them from response bodies.
//
// The parsers survive every quirk in DESIGN §5: the body is parsed as JSON
// whatever the Content-Type said; "\/" escapes, 4-byte emoji and raw control
// characters in strings; a trailing comma in `scope`; missing `unionid`;
// unknown extra fields (ignored); `sex` and numeric fields as numbers or
// numeric strings; an errcode body ({"errcode":N,...}, N != 0) on any
// endpoint. A body that is not a JSON object, or lacks a required field, is
// UNAVAILABLE/UPSTREAM_UNAVAILABLE (WeChat misbehaved; retryable).
//
// Profile text fields have every control character removed and are valid
// UTF-8. Error messages never contain body bytes except a sanitized errmsg
// excerpt (see wechat_errors.h).
//
// Thread safety: all functions are pure and reentrant.
#ifndef WXVAULT_SERVICE_WECHAT_RESPONSE_H_
#define WXVAULT_SERVICE_WECHAT_RESPONSE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace wxvault::service {

enum class WeChatEndpoint { kExchangeCode, kRefreshToken, kAuth, kUserInfo };

// The URL path of `endpoint`, e.g. "/sns/oauth2/access_token".
absl::string_view EndpointPath(WeChatEndpoint endpoint);

// /sns/oauth2/access_token and /sns/oauth2/refresh_token.
struct OAuthTokenResult {
  std::string access_token;     // always present
  int64_t expires_in_seconds;   // always present, 1 .. 1 year
  // Present on an exchange. On a refresh, "" means WeChat omitted it and the
  // caller keeps its stored value (DESIGN §6).
  std::string refresh_token;
  std::string openid;
  // `scope` split on commas, empties dropped ("a,b," -> {"a","b"}). Empty on
  // a refresh that omitted `scope`.
  std::vector<std::string> scopes;
  absl::optional<std::string> unionid;  // absent on refreshes and some apps
};

// /sns/userinfo.
struct UserProfile {
  std::string openid;
  absl::optional<std::string> unionid;
  std::string nickname;
  int sex = 0;  // 0 unknown (always since 2021), 1 male, 2 female
  std::string province;
  std::string city;
  std::string country;
  std::string headimgurl;
  std::vector<std::string> privilege;
  std::string language;  // undocumented; "" when absent
};

// Parses a token answer. `endpoint` is kExchangeCode (access_token,
// refresh_token, openid and expires_in required) or kRefreshToken
// (access_token and expires_in required). `now` dates quota retry-after hints.
// Errors: the errcode's Status (wechat_errors.h) for an errcode body;
// UNAVAILABLE/UPSTREAM_UNAVAILABLE for anything malformed.
absl::StatusOr<OAuthTokenResult> ParseTokenResponse(WeChatEndpoint endpoint,
                                                    absl::string_view body,
                                                    absl::Time now);

// Parses a /sns/auth answer: OK only for errcode 0. Errors as above.
absl::Status ParseAuthResponse(absl::string_view body, absl::Time now);

// Parses a /sns/userinfo answer (openid required). Errors as above.
absl::StatusOr<UserProfile> ParseUserInfoResponse(absl::string_view body,
                                                  absl::Time now);

// Splits WeChat's comma separated scope list, trimming spaces and dropping
// empty entries.
std::vector<std::string> SplitScopes(absl::string_view scope);

// Removes C0 controls, DEL and C1 controls (U+0080..U+009F) from valid UTF-8.
std::string StripControlCharacters(absl::string_view text);

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_WECHAT_RESPONSE_H_

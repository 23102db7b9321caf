#include "service/token_validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "service/error_reason.h"

namespace wxvault::service {

absl::Status ValidateOpenid(absl::string_view openid) {
  bool ok = !openid.empty() && openid.size() <= kMaxOpenidLength;
  for (char c : openid) {
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  }
  if (ok) return absl::OkStatus();
  return MakeError(absl::StatusCode::kInvalidArgument,
                   absl::StrCat("openid must be 1..", kMaxOpenidLength, " characters of [A-Za-z0-9_-]"),
                   reason::kInvalidArgument);
}

absl::Status ValidateCode(absl::string_view code) {
  bool ok = !code.empty() && code.size() <= kMaxCodeLength;
  for (char c : code) ok = ok && c >= 0x21 && c <= 0x7e;
  if (ok) return absl::OkStatus();
  return MakeError(absl::StatusCode::kInvalidArgument,
                   absl::StrCat("code must be 1..", kMaxCodeLength, " visible ASCII characters"),
                   reason::kInvalidCode);
}

absl::Status ValidateLang(absl::string_view lang) {
  if (lang.empty() || lang == "zh_CN" || lang == "zh_TW" || lang == "en") return absl::OkStatus();
  return MakeError(absl::StatusCode::kInvalidArgument, "lang must be zh_CN, zh_TW or en (empty: zh_CN)",
                   reason::kInvalidArgument);
}

}  // namespace wxvault::service

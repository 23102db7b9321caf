// Input checks for everything a client sends about a token. Every value from
// the network is length- and charset-checked here before it reaches WeChat
// or the vault. Failures are INVALID_ARGUMENT with wxvault-reason
// INVALID_ARGUMENT (INVALID_CODE for codes) and never echo the input.
//
// Thread safety: pure functions.
#ifndef WXVAULT_SERVICE_TOKEN_VALIDATION_H_
#define WXVAULT_SERVICE_TOKEN_VALIDATION_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace wxvault::service {

inline constexpr size_t kMaxOpenidLength = 64;
inline constexpr size_t kMaxCodeLength = 128;

// openid: 1..64 characters of [A-Za-z0-9_-].
absl::Status ValidateOpenid(absl::string_view openid);
// code: 1..128 visible ASCII characters (0x21..0x7E).
absl::Status ValidateCode(absl::string_view code);
// lang: "", "zh_CN", "zh_TW" or "en".
absl::Status ValidateLang(absl::string_view lang);

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_TOKEN_VALIDATION_H_

// libFuzzer entry point for everything that reads WeChat response bytes: the
// JSON parser and the three typed response parsers. Besides "no crash, no
// leak, no UB" it checks the parsers' promises and traps when one breaks:
// decoded strings are valid UTF-8 without NUL, profile text has no control
// characters, token lifetimes are in range.
//
// Built two ways: with clang -fsanitize=fuzzer (WXVAULT_FUZZ=ON) as a real
// fuzzer, and with any compiler into response_fuzz_replay_test, which runs the
// seed corpus and a few thousand mutated inputs through it under ctest.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "service/json.h"
#include "service/wechat_response.h"

namespace {

using wxvault::service::JsonValue;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

bool ValidUtf8NoNul(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0) return false;
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3
                 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

bool PlainText(absl::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return false;
  }
  return ValidUtf8NoNul(s);
}

void CheckJson(const JsonValue& v, int depth) {
  Check(depth <= 40);
  if (v.is_string()) Check(ValidUtf8NoNul(v.string_value()));
  for (const std::string& key : v.keys()) Check(ValidUtf8NoNul(key));
  if (v.is_object()) Check(v.keys().size() == v.items().size());
  for (const JsonValue& item : v.items()) CheckJson(item, depth + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace svc = wxvault::service;
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  const absl::Time now = absl::FromUnixSeconds(1750000000);

  absl::StatusOr<JsonValue> json = svc::ParseJson(input);
  if (json.ok()) CheckJson(*json, 0);

  for (svc::WeChatEndpoint e : {svc::WeChatEndpoint::kExchangeCode,
                                svc::WeChatEndpoint::kRefreshToken}) {
    auto tokens = svc::ParseTokenResponse(e, input, now);
    if (tokens.ok()) {
      Check(!tokens->access_token.empty());
      Check(tokens->expires_in_seconds > 0 &&
            tokens->expires_in_seconds <= 365 * 24 * 3600);
      for (const std::string& scope : tokens->scopes) Check(!scope.empty());
    } else {
      Check(!tokens.status().ok());
    }
  }
  (void)svc::ParseAuthResponse(input, now);
  auto profile = svc::ParseUserInfoResponse(input, now);
  if (profile.ok()) {
    Check(!profile->openid.empty());
    Check(profile->sex >= 0 && profile->sex <= 2);
    for (const std::string* s :
         {&profile->nickname, &profile->province, &profile->city,
          &profile->country, &profile->headimgurl, &profile->language}) {
      Check(PlainText(*s));
    }
    for (const std::string& p : profile->privilege) Check(PlainText(p));
  }
  return 0;
}

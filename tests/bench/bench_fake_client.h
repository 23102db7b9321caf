// Calls of the standalone fake WeChat's HTTP surface over one keep-alive
// httplib client (the integration harness opens a connection per call, which
// is too slow for thousands of calls), for grpc_bench and scale_bench.
#ifndef WXVAULT_TESTS_BENCH_BENCH_FAKE_CLIENT_H_
#define WXVAULT_TESTS_BENCH_BENCH_FAKE_CLIENT_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "tests/integration/harness.h"

namespace wxvault::bench {

// Mints a code for `openid` of the fake's default app; "" on failure.
inline std::string MintCode(httplib::Client& control, const std::string& openid) {
  auto response = control.Get(absl::StrCat("/control/code?openid=", openid).c_str());
  if (!response || response->status != 200) return "";
  const std::string& body = response->body;
  const size_t start = body.find("\"code\":\"");
  if (start == std::string::npos) return "";
  const size_t from = start + 8;
  return body.substr(from, body.find('"', from) - from);
}

// The fake's /sns/oauth2/access_token path exchanging `code` for the default
// app, called directly (not through wxvaultd).
inline std::string DirectExchangePath(const std::string& code) {
  using integration::FakeWeChatProcess;
  return absl::StrCat("/sns/oauth2/access_token?appid=", FakeWeChatProcess::kAppId,
                      "&secret=", FakeWeChatProcess::kSecret, "&code=", code, "&grant_type=authorization_code");
}

}  // namespace wxvault::bench

#endif  // WXVAULT_TESTS_BENCH_BENCH_FAKE_CLIENT_H_

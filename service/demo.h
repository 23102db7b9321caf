// Demo mode (--demo): everything a newcomer needs to try wxvault with one
// command and no WeChat account.
//
//   * an in-process fake WeChat (tests/fake_wechat) on a loopback port, with
//     one app, wxdemoapp0000001;
//   * a throwaway keyring in the data directory (<data_dir>/demo.keys, 0600,
//     generated on first use and reused so the demo vault survives restarts);
//   * a banner with copy-paste commands (curl to mint a code at the fake,
//     grpcurl / buf curl for the RPCs) that work verbatim.
// Never for production: the key lives next to the data it protects.
//
// Thread safety: StartDemo and DemoBanner are not meant to race; the
// environment is immutable after StartDemo (the fake itself is thread-safe).
#ifndef WXVAULT_SERVICE_DEMO_H_
#define WXVAULT_SERVICE_DEMO_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "service/wechat_client.h"
#include "tests/fake_wechat/fake_wechat.h"

namespace wxvault::service {

inline constexpr char kDemoAppId[] = "wxdemoapp0000001";
inline constexpr char kDemoOpenid[] = "o_demo_user_1";
// Data directory of --demo unless --data_dir is given.
inline constexpr char kDemoDataDir[] = "./wxvault-demo-data";

struct DemoEnvironment {
  std::unique_ptr<fake::FakeWeChat> fake;
  std::string key_file;  // the keyring to load
  WeChatApp app;         // the demo app and its secret
};

// Creates `data_dir` if needed, writes the demo keyring there unless it
// exists (or uses `key_file` when not empty), and starts the fake WeChat.
// Errors: INVALID_ARGUMENT "--data_dir: ..." when the directory or key file
// cannot be written; UNAVAILABLE when the fake cannot bind a port.
absl::StatusOr<std::unique_ptr<DemoEnvironment>> StartDemo(const std::string& data_dir, const std::string& key_file);

// The banner: what runs, where, and commands to try against `grpc_address`
// (as printed in "serving on", e.g. 127.0.0.1:50051 or unix:/path).
std::string DemoBanner(const DemoEnvironment& demo, const std::string& grpc_address, const std::string& data_dir);

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_DEMO_H_

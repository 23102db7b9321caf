#include "service/demo.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "vault/keyring.h"
#include "vault/secret_string.h"

namespace wxvault::service {
namespace {

constexpr char kDemoSecret[] = "demo-app-secret-not-for-production";
constexpr char kDemoKeyFile[] = "demo.keys";

absl::Status WriteNewKeyFile(const std::string& path) {
  std::string line = absl::StrCat(vault::Keyring::GenerateKeyLine("demo-1"), "\n");
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  if (fd >= 0) ok = (fsync(fd) == 0) && ok && close(fd) == 0;
  vault::WipeString(line);
  if (!ok) return absl::InvalidArgumentError(absl::StrCat("--data_dir: cannot write the demo keyring ", path));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<DemoEnvironment>> StartDemo(const std::string& data_dir, const std::string& key_file) {
  auto demo = std::make_unique<DemoEnvironment>();
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--data_dir: cannot create ", data_dir, ": ", ec.message()));
  demo->key_file = key_file;
  if (demo->key_file.empty()) {
    demo->key_file = (std::filesystem::path(data_dir) / kDemoKeyFile).string();
    if (!std::filesystem::exists(demo->key_file, ec)) {
      if (absl::Status s = WriteNewKeyFile(demo->key_file); !s.ok()) return s;
    }
  }
  demo->app = WeChatApp{kDemoAppId, kDemoSecret};
  fake::FakeWeChatOptions options;
  options.apps = {fake::FakeApp{kDemoAppId, kDemoSecret}};
  absl::StatusOr<std::unique_ptr<fake::FakeWeChat>> started = fake::FakeWeChat::Start(options);
  if (!started.ok()) return started.status();
  demo->fake = *std::move(started);
  return demo;
}

std::string DemoBanner(const DemoEnvironment& demo, const std::string& grpc_address, const std::string& data_dir) {
  // grpcurl takes its flags before the address, and spells a Unix socket as
  // -unix <path>; buf curl takes a URL.
  std::string grpcurl = "grpcurl -plaintext";
  std::string target = grpc_address;
  std::string buf_url = absl::StrCat("http://", grpc_address);
  std::string buf_flags;
  if (absl::StartsWith(grpc_address, "unix:")) {
    grpcurl += " -unix";
    target = grpc_address.substr(5);
    buf_url = "http://localhost";
    buf_flags = absl::StrCat(" --unix-socket ", target);
  }
  auto call = [&](absl::string_view data, absl::string_view method) {
    return absl::StrCat("  ", grpcurl, data.empty() ? "" : " -d ", data, " ", target, " ", method, "\n");
  };
  const std::string fake = demo.fake->base_url();
  const std::string user = absl::StrCat("'{\"openid\":\"", kDemoOpenid, "\"}'");
  const std::string rule(78, '=');
  return absl::StrCat(
      rule, "\n", "  wxvaultd --demo: DEMO MODE, NOT FOR PRODUCTION\n",
      "  fake WeChat (in-process): ", fake, "   app ", kDemoAppId, "\n",
      "  throwaway key: ", demo.key_file, "\n", "  vault: ", data_dir, "\n",
      "  VaultAdmin: allowed without a token (demo)\n\n",
      "  Try it (copy-paste; grpcurl and buf curl use server reflection):\n",
      "  CODE=$(curl -s '", fake, "/control/code?openid=", kDemoOpenid,
      "' | sed -E 's/.*\"code\":\"([^\"]+)\".*/\\1/')\n",
      call("\"{\\\"code\\\":\\\"$CODE\\\",\\\"include_user_info\\\":true}\"", "wxvault.v1.TokenVault/Exchange"),
      call(user, "wxvault.v1.TokenVault/GetUserInfo"), call(user, "wxvault.v1.TokenVault/GetAccessToken"),
      call("", "wxvault.v1.VaultAdmin/ListTokens"), call(user, "wxvault.v1.TokenVault/Revoke"), call("", "list"),
      "  buf curl --protocol grpc --http2-prior-knowledge", buf_flags, " -d ", user, " ", buf_url,
      "/wxvault.v1.TokenVault/GetAccessToken\n", rule, "\n");
}

}  // namespace wxvault::service

// VaultTest: a temp dir, the standalone fake WeChat and a wxvaultd on a Unix
// socket in that dir, with keyring "k1" and the fake's default app.
#ifndef WXVAULT_TESTS_INTEGRATION_FIXTURE_H_
#define WXVAULT_TESTS_INTEGRATION_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"
#include "tests/testing/temp_dir.h"

namespace wxvault::integration {

// Checks a failed call: status code, wxvault-reason, and (when not empty)
// wechat-errcode.
inline ::testing::AssertionResult IsRpcError(const grpc::Status& status, const grpc::ClientContext& ctx,
                                             grpc::StatusCode code, const std::string& reason,
                                             const std::string& errcode = "") {
  const std::string got_reason = Trailer(ctx, "wxvault-reason");
  const std::string got_errcode = Trailer(ctx, "wechat-errcode");
  if (status.error_code() == code && got_reason == reason && (errcode.empty() || got_errcode == errcode)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "got code " << status.error_code() << " (" << status.error_message()
                                       << ") reason '" << got_reason << "' errcode '" << got_errcode
                                       << "'; want code " << code << " reason '" << reason << "' errcode '"
                                       << errcode << "'";
}

class VaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = dir_.Sub("vault");
    key_file_ = dir_.Sub("master.keys");
    secret_file_ = dir_.Sub("app.secret");
    WriteFile(secret_file_, FakeWeChatProcess::kSecret);
    WriteFile(key_file_, NewKeyLine("k1") + "\n");
    absl::StatusOr<std::unique_ptr<FakeWeChatProcess>> fake = FakeWeChatProcess::Start(FakeArgs());
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = *std::move(fake);
    StartServer(ServerArgs());
  }

  virtual std::vector<std::string> FakeArgs() { return {}; }
  // Extra flags of the server SetUp starts.
  virtual std::vector<std::string> ServerArgs() { return {}; }

  // (Re)starts wxvaultd on the same data dir and key file.
  void StartServer(const std::vector<std::string>& extra_args = {}, const std::string& listen = "") {
    server_.reset();
    WxvaultdOptions options{data_dir_, key_file_, fake_->base_url(), listen, extra_args, stderr_file_};
    absl::StatusOr<std::unique_ptr<WxvaultdProcess>> server = WxvaultdProcess::Start(options, secret_file_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    vault_ = server_->TokenVault();
    admin_ = server_->VaultAdmin();
  }

  // Stops wxvaultd (SIGTERM) and expects a clean exit.
  void StopServer() {
    vault_.reset();
    admin_.reset();
    EXPECT_EQ(server_->Stop(), 0) << server_->child().Output();
    server_.reset();
  }

  // Exchanges a fresh code for `openid`; returns the response.
  wxvault::v1::ExchangeResponse Login(const std::string& openid, bool include_user_info = false,
                                      const std::string& scope = "snsapi_userinfo") {
    wxvault::v1::ExchangeRequest request;
    request.set_code(fake_->MintCode(openid, scope));
    request.set_include_user_info(include_user_info);
    wxvault::v1::ExchangeResponse response;
    auto ctx = Context();
    grpc::Status status = vault_->Exchange(ctx.get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  testing::TempDir dir_;
  std::string data_dir_;
  std::string key_file_;
  std::string secret_file_;
  std::string stderr_file_;  // set before SetUp to keep wxvaultd's stderr apart
  std::unique_ptr<FakeWeChatProcess> fake_;
  std::unique_ptr<WxvaultdProcess> server_;
  std::unique_ptr<wxvault::v1::TokenVault::Stub> vault_;
  std::unique_ptr<wxvault::v1::VaultAdmin::Stub> admin_;
};

}  // namespace wxvault::integration

#endif  // WXVAULT_TESTS_INTEGRATION_FIXTURE_H_

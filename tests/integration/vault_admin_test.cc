// VaultAdmin, health and reflection over gRPC against the real wxvaultd.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/fixture.h"

namespace wxvault::integration {
namespace {

namespace v1 = wxvault::v1;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;

TEST_F(VaultTest, AdminOverTcpNeedsTheBearerToken) {
  WriteFile(dir_.Sub("admin.token"), "s3cret-admin-token\n");
  StartServer({"--admin_token_file=" + dir_.Sub("admin.token")}, "127.0.0.1:0");
  v1::GetVaultStatusRequest request;
  v1::GetVaultStatusResponse status;
  auto ctx = Context();
  EXPECT_TRUE(IsRpcError(admin_->GetVaultStatus(ctx.get(), request, &status), *ctx,
                         grpc::StatusCode::UNAUTHENTICATED, "ADMIN_CREDENTIAL_MISSING"));
  ctx = Context("wrong-token");
  EXPECT_TRUE(IsRpcError(admin_->GetVaultStatus(ctx.get(), request, &status), *ctx,
                         grpc::StatusCode::PERMISSION_DENIED, "ADMIN_CREDENTIAL_INVALID"));
  ctx = Context("s3cret-admin-token");
  ASSERT_TRUE(admin_->GetVaultStatus(ctx.get(), request, &status).ok());
  EXPECT_EQ(status.active_key_id(), "k1");
  // The audit log names the calls and their results, never the token.
  const std::string log = server_->child().Output();
  EXPECT_THAT(log, ::testing::HasSubstr("audit: admin GetVaultStatus"));
  EXPECT_THAT(log, ::testing::HasSubstr("\"audit\":true"));
  EXPECT_THAT(log, ::testing::HasSubstr("\"what\":\"/wxvault.v1.VaultAdmin/GetVaultStatus\""));
  EXPECT_THAT(log, ::testing::HasSubstr("\"credential\":\"bearer\""));
  EXPECT_THAT(log, ::testing::HasSubstr("ADMIN_CREDENTIAL_INVALID"));
  EXPECT_THAT(log, Not(::testing::HasSubstr("s3cret-admin-token")));
}

TEST_F(VaultTest, AdminOverTcpWithoutATokenIsDisabled) {
  StartServer({}, "127.0.0.1:0");
  v1::GetVaultStatusRequest request;
  v1::GetVaultStatusResponse status;
  auto ctx = Context();
  EXPECT_TRUE(IsRpcError(admin_->GetVaultStatus(ctx.get(), request, &status), *ctx,
                         grpc::StatusCode::PERMISSION_DENIED, "ADMIN_DISABLED"));
}

TEST_F(VaultTest, ListTokensPagesAndFilters) {
  for (const std::string openid : {"o_a", "o_b", "o_c"}) Login(openid);
  v1::RevokeRequest revoke;
  revoke.set_openid("o_b");
  v1::RevokeResponse revoked;
  auto ctx = Context();
  ASSERT_TRUE(vault_->Revoke(ctx.get(), revoke, &revoked).ok());

  v1::ListTokensRequest request;
  request.set_page_size(2);
  v1::ListTokensResponse page;
  ctx = Context();
  ASSERT_TRUE(admin_->ListTokens(ctx.get(), request, &page).ok());
  ASSERT_EQ(page.tokens_size(), 2);
  EXPECT_EQ(page.tokens(0).openid(), "o_a");
  ASSERT_THAT(page.next_page_token(), Not(IsEmpty()));
  request.set_page_token(page.next_page_token());
  ctx = Context();
  ASSERT_TRUE(admin_->ListTokens(ctx.get(), request, &page).ok());
  ASSERT_EQ(page.tokens_size(), 1);
  EXPECT_EQ(page.tokens(0).openid(), "o_c");
  EXPECT_THAT(page.next_page_token(), IsEmpty());

  v1::ListTokensRequest revoked_only;
  revoked_only.set_state(v1::TOKEN_STATE_REVOKED);
  ctx = Context();
  ASSERT_TRUE(admin_->ListTokens(ctx.get(), revoked_only, &page).ok());
  ASSERT_EQ(page.tokens_size(), 1);
  EXPECT_EQ(page.tokens(0).openid(), "o_b");

  v1::ListTokensRequest bad;
  bad.set_page_token("not-a-token");
  ctx = Context();
  EXPECT_TRUE(IsRpcError(admin_->ListTokens(ctx.get(), bad, &page), *ctx, grpc::StatusCode::INVALID_ARGUMENT,
                         "INVALID_ARGUMENT"));
  bad.Clear();
  bad.set_page_size(-1);
  ctx = Context();
  EXPECT_TRUE(IsRpcError(admin_->ListTokens(ctx.get(), bad, &page), *ctx, grpc::StatusCode::INVALID_ARGUMENT,
                         "INVALID_ARGUMENT"));
  bad.Clear();
  bad.set_app_id("wxnotconfigured01");
  ctx = Context();
  EXPECT_TRUE(IsRpcError(admin_->ListTokens(ctx.get(), bad, &page), *ctx, grpc::StatusCode::NOT_FOUND,
                         "UNKNOWN_APP"));
}

TEST_F(VaultTest, GetTokenAndVaultStatus) {
  Login("o_d", /*include_user_info=*/true);
  v1::GetTokenRequest request;
  request.set_openid("o_d");
  v1::GetTokenResponse token;
  auto ctx = Context();
  ASSERT_TRUE(admin_->GetToken(ctx.get(), request, &token).ok());
  EXPECT_EQ(token.token().state(), v1::TOKEN_STATE_ACTIVE);
  EXPECT_EQ(token.key_id(), "k1");
  EXPECT_GE(token.generation(), 1u);
  EXPECT_TRUE(token.has_next_refresh_at());
  EXPECT_TRUE(token.has_renew_at());
  EXPECT_TRUE(token.has_profile_fetched_at());
  EXPECT_EQ(token.failure_count(), 0u);

  request.set_openid("o_nobody");
  ctx = Context();
  EXPECT_TRUE(IsRpcError(admin_->GetToken(ctx.get(), request, &token), *ctx, grpc::StatusCode::NOT_FOUND,
                         "TOKEN_NOT_FOUND"));

  v1::GetVaultStatusResponse status;
  ctx = Context();
  ASSERT_TRUE(admin_->GetVaultStatus(ctx.get(), v1::GetVaultStatusRequest(), &status).ok());
  EXPECT_EQ(status.token_counts().active(), 1u);
  EXPECT_EQ(status.active_key_id(), "k1");
  ASSERT_EQ(status.keys_size(), 1);
  EXPECT_EQ(status.keys(0).record_count(), 2u);  // token secrets + profile
  EXPECT_EQ(status.newest_event_sequence(), 1u);
  ASSERT_EQ(status.apps_size(), 1);
  EXPECT_EQ(status.apps(0).app_id(), FakeWeChatProcess::kAppId);
  EXPECT_GT(status.data_size_bytes(), 0u);
  EXPECT_FALSE(status.demo());
}

TEST_F(VaultTest, BackupRestoresOnANewServer) {
  const std::string access_token = Login("o_e").access_token();
  v1::CreateBackupRequest request;
  request.set_directory(dir_.Sub("backups"));
  v1::CreateBackupResponse backup;
  auto ctx = Context();
  ASSERT_TRUE(admin_->CreateBackup(ctx.get(), request, &backup).ok());
  EXPECT_EQ(backup.backup_id(), 1u);
  EXPECT_THAT(backup.key_ids(), ElementsAre("k1"));
  EXPECT_EQ(backup.backup_count(), 1u);
  EXPECT_GT(backup.size_bytes(), 0u);

  request.set_directory("relative/dir");
  ctx = Context();
  EXPECT_TRUE(IsRpcError(admin_->CreateBackup(ctx.get(), request, &backup), *ctx,
                         grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT"));
  request.set_directory(data_dir_ + "/inside");
  ctx = Context();
  EXPECT_TRUE(IsRpcError(admin_->CreateBackup(ctx.get(), request, &backup), *ctx,
                         grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT"));

  v1::CompactResponse compacted;
  ctx = Context();
  ASSERT_TRUE(admin_->Compact(ctx.get(), v1::CompactRequest(), &compacted).ok());
  EXPECT_GT(compacted.data_size_bytes_before(), 0u);

  // Restore (documented in README): stop, copy the backup over --data_dir, start.
  StopServer();
  std::filesystem::remove_all(data_dir_);
  std::filesystem::copy(dir_.Sub("backups/backup-1"), data_dir_, std::filesystem::copy_options::recursive);
  StartServer();
  v1::GetAccessTokenRequest get;
  get.set_openid("o_e");
  v1::GetAccessTokenResponse token;
  ctx = Context();
  ASSERT_TRUE(vault_->GetAccessToken(ctx.get(), get, &token).ok());
  EXPECT_EQ(token.access_token(), access_token);
}

TEST_F(VaultTest, HealthOnTheMainAndTheHealthListener) {
  StartServer({"--health_listen=127.0.0.1:0"});
  std::optional<std::string> line = server_->child().WaitForLine("wxvaultd: health serving on ", kStartTimeout);
  ASSERT_TRUE(line.has_value());
  const std::string health_address = line->substr(line->find("health serving on ") + 18);
  for (const std::string& address : {health_address, server_->address()}) {
    SCOPED_TRACE(address);
    auto health = grpc::health::v1::Health::NewStub(PlaintextChannel(address));
    for (const std::string service : {"", "wxvault.v1.TokenVault", "wxvault.v1.VaultAdmin"}) {
      grpc::health::v1::HealthCheckRequest request;
      request.set_service(service);
      grpc::health::v1::HealthCheckResponse response;
      auto ctx = Context();
      ASSERT_TRUE(health->Check(ctx.get(), request, &response).ok());
      EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
    }
    grpc::health::v1::HealthCheckRequest unknown;
    unknown.set_service("no.such.Service");
    grpc::health::v1::HealthCheckResponse response;
    auto ctx = Context();
    EXPECT_EQ(health->Check(ctx.get(), unknown, &response).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  // The probe listener serves Health only.
  v1::RevokeRequest revoke;
  revoke.set_openid("o_x");
  v1::RevokeResponse revoked;
  auto ctx = Context();
  EXPECT_EQ(v1::TokenVault::NewStub(PlaintextChannel(health_address))->Revoke(ctx.get(), revoke, &revoked)
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

// Reads a whole file.
std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_F(VaultTest, TlsAndMutualTls) {
  // A self-signed certificate for localhost, made with the openssl CLI.
  absl::StatusOr<std::unique_ptr<ChildProcess>> openssl = ChildProcess::Start(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir_.Sub("tls.key"), "-out",
       dir_.Sub("tls.crt"), "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"});
  ASSERT_TRUE(openssl.ok());
  ASSERT_EQ((*openssl)->WaitForExit(kStartTimeout), 0) << (*openssl)->Output();
  const std::string cert = ReadAll(dir_.Sub("tls.crt"));
  const std::string key = ReadAll(dir_.Sub("tls.key"));
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto revoke = [](const std::shared_ptr<grpc::Channel>& channel) {
    v1::RevokeRequest request;
    request.set_openid("o_tls");
    v1::RevokeResponse response;
    auto ctx = Context();
    return v1::TokenVault::NewStub(channel)->Revoke(ctx.get(), request, &response);
  };

  StartServer({"--tls_cert_file=" + dir_.Sub("tls.crt"), "--tls_key_file=" + dir_.Sub("tls.key")}, "127.0.0.1:0");
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = cert;
  EXPECT_TRUE(revoke(grpc::CreateCustomChannel(server_->address(), grpc::SslCredentials(tls), args)).ok());
  EXPECT_FALSE(revoke(PlaintextChannel(server_->address())).ok());

  // mTLS: the same certificate doubles as the client CA and client identity.
  StartServer({"--tls_cert_file=" + dir_.Sub("tls.crt"), "--tls_key_file=" + dir_.Sub("tls.key"),
               "--tls_client_ca_file=" + dir_.Sub("tls.crt")},
              "127.0.0.1:0");
  EXPECT_FALSE(revoke(grpc::CreateCustomChannel(server_->address(), grpc::SslCredentials(tls), args)).ok());
  grpc::SslCredentialsOptions mtls = tls;
  mtls.pem_private_key = key;
  mtls.pem_cert_chain = cert;
  EXPECT_TRUE(revoke(grpc::CreateCustomChannel(server_->address(), grpc::SslCredentials(mtls), args)).ok());
}

TEST_F(VaultTest, ReflectionListsAndDescribesEveryService) {
  namespace reflection = grpc::reflection::v1alpha;
  auto stub = reflection::ServerReflection::NewStub(server_->channel());
  auto ctx = Context();
  auto stream = stub->ServerReflectionInfo(ctx.get());
  reflection::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  reflection::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::vector<std::string> services;
  for (const auto& service : response.list_services_response().service()) services.push_back(service.name());
  EXPECT_THAT(services, Contains("wxvault.v1.TokenVault"));
  EXPECT_THAT(services, Contains("wxvault.v1.VaultAdmin"));
  EXPECT_THAT(services, Contains("grpc.health.v1.Health"));
  for (const std::string symbol : {"wxvault.v1.TokenVault", "wxvault.v1.VaultAdmin", "grpc.health.v1.Health",
                                   "wxvault.v1.ErrorReason"}) {
    request.set_file_containing_symbol(symbol);
    ASSERT_TRUE(stream->Write(request));
    ASSERT_TRUE(stream->Read(&response));
    EXPECT_GT(response.file_descriptor_response().file_descriptor_proto_size(), 0) << symbol;
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

}  // namespace
}  // namespace wxvault::integration

// TokenVault over gRPC against the real wxvaultd and the standalone fake
// WeChat: every RPC, every error class, idempotency, single-flight, revoke
// races, bad input and WatchEvents.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "tests/integration/fixture.h"

namespace wxvault::integration {
namespace {

namespace v1 = wxvault::v1;
using ::testing::IsEmpty;
using ::testing::Not;

TEST_F(VaultTest, EveryTokenVaultRpc) {
  v1::ExchangeResponse login = Login("o_alice", /*include_user_info=*/true);
  EXPECT_EQ(login.token().openid(), "o_alice");
  EXPECT_EQ(login.token().app_id(), FakeWeChatProcess::kAppId);
  EXPECT_EQ(login.token().state(), v1::TOKEN_STATE_ACTIVE);
  EXPECT_THAT(login.token().scopes(), ::testing::ElementsAre("snsapi_userinfo"));
  EXPECT_THAT(login.access_token(), Not(IsEmpty()));
  EXPECT_EQ(login.user_info().openid(), "o_alice");
  EXPECT_FALSE(login.replayed());

  v1::GetAccessTokenRequest get;
  get.set_openid("o_alice");
  v1::GetAccessTokenResponse token;
  auto ctx = Context();
  ASSERT_TRUE(vault_->GetAccessToken(ctx.get(), get, &token).ok());
  EXPECT_EQ(token.access_token(), login.access_token());
  EXPECT_FALSE(token.refreshed());
  EXPECT_EQ(token.expires_at().seconds(), login.token().access_token_expires_at().seconds());

  v1::GetUserInfoRequest info_request;
  info_request.set_openid("o_alice");
  info_request.set_max_age_seconds(3600);
  v1::GetUserInfoResponse info;
  ctx = Context();
  ASSERT_TRUE(vault_->GetUserInfo(ctx.get(), info_request, &info).ok());
  EXPECT_TRUE(info.cached());
  const int userinfo_calls = fake_->CallCount("userinfo");
  info_request.set_max_age_seconds(0);
  ctx = Context();
  ASSERT_TRUE(vault_->GetUserInfo(ctx.get(), info_request, &info).ok());
  EXPECT_FALSE(info.cached());
  EXPECT_EQ(fake_->CallCount("userinfo"), userinfo_calls + 1);

  v1::RefreshRequest refresh;
  refresh.set_openid("o_alice");
  v1::RefreshResponse refreshed;
  ctx = Context();
  ASSERT_TRUE(vault_->Refresh(ctx.get(), refresh, &refreshed).ok());
  EXPECT_EQ(fake_->CallCount("refresh_token"), 1);
  EXPECT_TRUE(refreshed.token().has_last_refreshed_at());

  v1::RevokeRequest revoke;
  revoke.set_openid("o_alice");
  v1::RevokeResponse revoked;
  ctx = Context();
  ASSERT_TRUE(vault_->Revoke(ctx.get(), revoke, &revoked).ok());
  EXPECT_TRUE(revoked.existed());
}

TEST_F(VaultTest, ExchangeIsIdempotentForTheSameCode) {
  v1::ExchangeRequest request;
  request.set_code(fake_->MintCode("o_bob"));
  v1::ExchangeResponse first;
  v1::ExchangeResponse second;
  auto ctx = Context();
  ASSERT_TRUE(vault_->Exchange(ctx.get(), request, &first).ok());
  ctx = Context();
  ASSERT_TRUE(vault_->Exchange(ctx.get(), request, &second).ok());
  EXPECT_EQ(second.token().openid(), first.token().openid());
  EXPECT_EQ(second.access_token(), first.access_token());
  EXPECT_TRUE(second.replayed());
  EXPECT_EQ(fake_->CallCount("access_token"), 1);
}

TEST_F(VaultTest, CodeErrors) {
  v1::ExchangeRequest request;
  v1::ExchangeResponse response;
  request.set_code("not-a-code-the-fake-issued");
  auto ctx = Context();
  EXPECT_TRUE(IsRpcError(vault_->Exchange(ctx.get(), request, &response), *ctx, grpc::StatusCode::INVALID_ARGUMENT,
                         "INVALID_CODE", "40029"));

  // WeChat consumed the code but the answer was lost; the retry finds it used.
  request.set_code(fake_->MintCode("o_carol"));
  fake_->Fault("access_token", "garbage", 1, "&after=1");
  ctx = Context();
  EXPECT_TRUE(IsRpcError(vault_->Exchange(ctx.get(), request, &response), *ctx, grpc::StatusCode::UNAVAILABLE,
                         "UPSTREAM_UNAVAILABLE"));
  ctx = Context();
  EXPECT_TRUE(IsRpcError(vault_->Exchange(ctx.get(), request, &response), *ctx, grpc::StatusCode::INVALID_ARGUMENT,
                         "CODE_ALREADY_USED", "40163"));

  request.set_code(fake_->MintCode("o_carol"));
  fake_->Control("clock?advance=11m");
  ctx = Context();
  EXPECT_TRUE(IsRpcError(vault_->Exchange(ctx.get(), request, &response), *ctx, grpc::StatusCode::INVALID_ARGUMENT,
                         "CODE_EXPIRED", "42003"));

  request.set_app_id("wxnotconfigured01");
  ctx = Context();
  EXPECT_TRUE(IsRpcError(vault_->Exchange(ctx.get(), request, &response), *ctx, grpc::StatusCode::NOT_FOUND,
                         "UNKNOWN_APP"));
}

TEST_F(VaultTest, UnknownOpenidIsNotFound) {
  auto ctx = Context();
  v1::GetAccessTokenRequest get;
  get.set_openid("o_nobody");
  v1::GetAccessTokenResponse token;
  EXPECT_TRUE(IsRpcError(vault_->GetAccessToken(ctx.get(), get, &token), *ctx, grpc::StatusCode::NOT_FOUND,
                         "TOKEN_NOT_FOUND"));
  ctx = Context();
  v1::GetUserInfoRequest info_request;
  info_request.set_openid("o_nobody");
  v1::GetUserInfoResponse info;
  EXPECT_TRUE(IsRpcError(vault_->GetUserInfo(ctx.get(), info_request, &info), *ctx, grpc::StatusCode::NOT_FOUND,
                         "TOKEN_NOT_FOUND"));
  ctx = Context();
  v1::RevokeRequest revoke;
  revoke.set_openid("o_nobody");
  v1::RevokeResponse revoked;
  ASSERT_TRUE(vault_->Revoke(ctx.get(), revoke, &revoked).ok());
  EXPECT_FALSE(revoked.existed());
}

TEST_F(VaultTest, PasswordChangeRequiresReauth) {
  Login("o_dave");
  fake_->Control("change_password?openid=o_dave");
  v1::RefreshRequest refresh;
  refresh.set_openid("o_dave");
  v1::RefreshResponse refreshed;
  auto ctx = Context();
  EXPECT_TRUE(IsRpcError(vault_->Refresh(ctx.get(), refresh, &refreshed), *ctx,
                         grpc::StatusCode::FAILED_PRECONDITION, "REAUTH_REQUIRED", "42007"));
  v1::GetAccessTokenRequest get;
  get.set_openid("o_dave");
  v1::GetAccessTokenResponse token;
  ctx = Context();
  EXPECT_TRUE(IsRpcError(vault_->GetAccessToken(ctx.get(), get, &token), *ctx,
                         grpc::StatusCode::FAILED_PRECONDITION, "REAUTH_REQUIRED"));
}

TEST_F(VaultTest, UpstreamFaultsAreRetryableAndTheServerStaysUp) {
  Login("o_erin");
  v1::RefreshRequest refresh;
  refresh.set_openid("o_erin");
  v1::RefreshResponse refreshed;
  for (const std::string kind : {"errcode", "http", "reset", "garbage", "truncated", "oversize"}) {
    SCOPED_TRACE(kind);
    fake_->Fault("refresh_token", kind, 10);  // more than the client's attempts
    auto ctx = Context();
    EXPECT_TRUE(IsRpcError(vault_->Refresh(ctx.get(), refresh, &refreshed), *ctx, grpc::StatusCode::UNAVAILABLE,
                           "UPSTREAM_UNAVAILABLE"));
    fake_->Control("reset");
  }
  // A stall longer than the caller's deadline: the call ends by its deadline.
  fake_->Fault("refresh_token", "stall", 1, "&stall_ms=3000");
  grpc::ClientContext short_ctx;
  short_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  grpc::Status stalled = vault_->Refresh(&short_ctx, refresh, &refreshed);
  EXPECT_THAT(stalled.error_code(), ::testing::AnyOf(grpc::StatusCode::DEADLINE_EXCEEDED,
                                                      grpc::StatusCode::UNAVAILABLE));
  fake_->Control("reset");
  auto ctx = Context();
  EXPECT_TRUE(vault_->Refresh(ctx.get(), refresh, &refreshed).ok());
}

TEST_F(VaultTest, MinuteQuotaIsResourceExhaustedAndPausesTheEndpoint) {
  Login("o_frank");
  fake_->Fault("refresh_token", "errcode", 1, "&errcode=45011");
  v1::RefreshRequest refresh;
  refresh.set_openid("o_frank");
  v1::RefreshResponse refreshed;
  auto ctx = Context();
  EXPECT_TRUE(IsRpcError(vault_->Refresh(ctx.get(), refresh, &refreshed), *ctx,
                         grpc::StatusCode::RESOURCE_EXHAUSTED, "UPSTREAM_RATE_LIMITED", "45011"));
  EXPECT_GE(std::stoi(Trailer(*ctx, "retry-after-ms")), 59'000);
  const int calls = fake_->CallCount("refresh_token");
  ctx = Context();
  EXPECT_TRUE(IsRpcError(vault_->Refresh(ctx.get(), refresh, &refreshed), *ctx,
                         grpc::StatusCode::RESOURCE_EXHAUSTED, "UPSTREAM_RATE_LIMITED"));
  EXPECT_EQ(fake_->CallCount("refresh_token"), calls);  // answered without calling WeChat
}

TEST_F(VaultTest, ConcurrentGetAccessTokenSharesOneRefresh) {
  fake_->Control("ttl?access_token=60s");  // below the 300 s default min TTL
  const v1::ExchangeResponse login = Login("o_grace");
  fake_->Control("ttl?access_token=7200s");
  // The refresh takes a while, so all 16 callers are waiting for it.
  fake_->Fault("refresh_token", "stall", 1, "&stall_ms=300");
  std::vector<std::thread> threads;
  std::vector<grpc::Status> statuses(16);
  std::vector<v1::GetAccessTokenResponse> responses(16);
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      v1::GetAccessTokenRequest get;
      get.set_openid("o_grace");
      auto ctx = Context();
      statuses[i] = vault_->GetAccessToken(ctx.get(), get, &responses[i]);
    });
  }
  for (std::thread& t : threads) t.join();
  int refreshed = 0;
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    // Callers still queued for a worker when the refresh landed get a warm answer.
    refreshed += responses[i].refreshed() ? 1 : 0;
    EXPECT_GT(responses[i].expires_at().seconds(), login.token().access_token_expires_at().seconds() + 3600);
  }
  EXPECT_GE(refreshed, 1);
  EXPECT_EQ(fake_->CallCount("refresh_token"), 1);
}

TEST_F(VaultTest, RevokeThenGetAccessTokenIsNotFound) {
  Login("o_heidi");
  v1::RevokeRequest revoke;
  revoke.set_openid("o_heidi");
  v1::RevokeResponse revoked;
  auto ctx = Context();
  ASSERT_TRUE(vault_->Revoke(ctx.get(), revoke, &revoked).ok());
  EXPECT_TRUE(revoked.existed());
  v1::GetAccessTokenRequest get;
  get.set_openid("o_heidi");
  v1::GetAccessTokenResponse token;
  ctx = Context();
  EXPECT_TRUE(IsRpcError(vault_->GetAccessToken(ctx.get(), get, &token), *ctx, grpc::StatusCode::NOT_FOUND,
                         "TOKEN_NOT_FOUND"));
  ctx = Context();
  ASSERT_TRUE(vault_->Revoke(ctx.get(), revoke, &revoked).ok());
  EXPECT_FALSE(revoked.existed());
}

// Warm GetAccessToken answers come from wxvaultd's in-memory cache (the
// third call on: the first arms keep-warm, the second fills the cache). A
// Refresh or Revoke must be seen by the very next call.
grpc::Status GetAccessToken(v1::TokenVault::Stub& vault, const std::string& openid,
                            v1::GetAccessTokenResponse* response, std::unique_ptr<grpc::ClientContext>* ctx) {
  v1::GetAccessTokenRequest get;
  get.set_openid(openid);
  *ctx = Context();
  return vault.GetAccessToken(ctx->get(), get, response);
}

TEST_F(VaultTest, WarmGetAccessTokenAnswersAlikeAndSeesARefreshAtOnce) {
  const v1::ExchangeResponse login = Login("o_wendy");
  std::unique_ptr<grpc::ClientContext> ctx;
  std::vector<v1::GetAccessTokenResponse> answers(5);
  for (v1::GetAccessTokenResponse& answer : answers) {
    ASSERT_TRUE(GetAccessToken(*vault_, "o_wendy", &answer, &ctx).ok());
    EXPECT_EQ(answer.access_token(), login.access_token());
    EXPECT_EQ(answer.expires_at().seconds(), login.token().access_token_expires_at().seconds());
    EXPECT_FALSE(answer.refreshed());
  }
  // From the second answer on nothing is written: every field agrees,
  // whichever path answered.
  for (size_t i = 2; i < answers.size(); ++i) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(answers[i].token(), answers[1].token()))
        << i << ": " << answers[i].token().ShortDebugString() << " vs " << answers[1].token().ShortDebugString();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(answers[i], answers[1])) << i;
  }
  EXPECT_EQ(fake_->CallCount("refresh_token"), 0);

  // Past the fake's access-token lifetime (wxvaultd's own clock does not
  // move), a refresh gets a new access token string.
  fake_->Control("clock?advance=7201s");
  v1::RefreshRequest refresh;
  refresh.set_openid("o_wendy");
  v1::RefreshResponse refreshed;
  ctx = Context();
  ASSERT_TRUE(vault_->Refresh(ctx.get(), refresh, &refreshed).ok());
  ASSERT_NE(refreshed.access_token(), login.access_token());
  for (int i = 0; i < 3; ++i) {
    v1::GetAccessTokenResponse after;
    ASSERT_TRUE(GetAccessToken(*vault_, "o_wendy", &after, &ctx).ok());
    EXPECT_EQ(after.access_token(), refreshed.access_token()) << "call " << i << " after the refresh";
    EXPECT_EQ(after.expires_at().seconds(), refreshed.token().access_token_expires_at().seconds());
  }
}

TEST_F(VaultTest, WarmGetAccessTokenSeesARevokeAtOnce) {
  const v1::ExchangeResponse login = Login("o_walter");
  std::unique_ptr<grpc::ClientContext> ctx;
  for (int i = 0; i < 4; ++i) {
    v1::GetAccessTokenResponse token;
    ASSERT_TRUE(GetAccessToken(*vault_, "o_walter", &token, &ctx).ok());
    EXPECT_EQ(token.access_token(), login.access_token());
  }
  v1::RevokeRequest revoke;
  revoke.set_openid("o_walter");
  v1::RevokeResponse revoked;
  ctx = Context();
  ASSERT_TRUE(vault_->Revoke(ctx.get(), revoke, &revoked).ok());
  EXPECT_TRUE(revoked.existed());
  for (int i = 0; i < 2; ++i) {
    v1::GetAccessTokenResponse token;
    const grpc::Status status = GetAccessToken(*vault_, "o_walter", &token, &ctx);
    EXPECT_TRUE(IsRpcError(status, *ctx, grpc::StatusCode::NOT_FOUND, "TOKEN_NOT_FOUND"))
        << "call " << i << " after the revoke";
    EXPECT_THAT(token.access_token(), IsEmpty());
  }
}

TEST_F(VaultTest, RevokeWinsOverARefreshInFlight) {
  Login("o_ivan");
  fake_->Fault("refresh_token", "stall", 1, "&stall_ms=1000");
  grpc::Status refresh_status;
  std::thread refresher([&] {
    v1::RefreshRequest refresh;
    refresh.set_openid("o_ivan");
    v1::RefreshResponse refreshed;
    auto ctx = Context();
    refresh_status = vault_->Refresh(ctx.get(), refresh, &refreshed);
  });
  // Wait (bounded) until the refresh has reached WeChat, then revoke.
  for (int i = 0; i < 500 && fake_->CallCount("refresh_token") < 1; ++i) absl::SleepFor(absl::Milliseconds(2));
  ASSERT_EQ(fake_->CallCount("refresh_token"), 1);
  v1::RevokeRequest revoke;
  revoke.set_openid("o_ivan");
  v1::RevokeResponse revoked;
  auto ctx = Context();
  ASSERT_TRUE(vault_->Revoke(ctx.get(), revoke, &revoked).ok());
  EXPECT_TRUE(revoked.existed());
  refresher.join();
  EXPECT_EQ(refresh_status.error_code(), grpc::StatusCode::NOT_FOUND);
  v1::GetTokenRequest get;
  get.set_openid("o_ivan");
  v1::GetTokenResponse stored;
  ctx = Context();
  ASSERT_TRUE(admin_->GetToken(ctx.get(), get, &stored).ok());
  EXPECT_EQ(stored.token().state(), v1::TOKEN_STATE_REVOKED);
  EXPECT_THAT(stored.key_id(), IsEmpty());
}

TEST_F(VaultTest, ScopeNotGrantedIsPermissionDenied) {
  Login("o_judy", false, "snsapi_base");
  v1::GetUserInfoRequest request;
  request.set_openid("o_judy");
  v1::GetUserInfoResponse info;
  auto ctx = Context();
  grpc::Status status = vault_->GetUserInfo(ctx.get(), request, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Trailer(*ctx, "wechat-errcode"), "48001");
  EXPECT_EQ(Trailer(*ctx, "wxvault-reason"), "SCOPE_NOT_GRANTED");
}

TEST_F(VaultTest, BadInputIsInvalidArgument) {
  auto expect_invalid = [&](const std::string& code, const std::string& app_id, const std::string& reason) {
    v1::ExchangeRequest request;
    request.set_code(code);
    request.set_app_id(app_id);
    v1::ExchangeResponse response;
    auto ctx = Context();
    EXPECT_TRUE(IsRpcError(vault_->Exchange(ctx.get(), request, &response), *ctx,
                           grpc::StatusCode::INVALID_ARGUMENT, reason))
        << "code of " << code.size() << " bytes, app_id '" << app_id << "'";
  };
  expect_invalid("", "", "INVALID_CODE");
  expect_invalid(std::string(10 * 1024, 'c'), "", "INVALID_CODE");
  expect_invalid("has space", "", "INVALID_CODE");
  expect_invalid("abc", "wx/../etc", "INVALID_ARGUMENT");
  for (const std::string& openid : std::vector<std::string>{"", "a/b", "../etc/passwd", "..", std::string(65, 'o'), "o\xff"}) {
    v1::GetAccessTokenRequest get;
    get.set_openid(openid);
    v1::GetAccessTokenResponse token;
    auto ctx = Context();
    grpc::Status status = vault_->GetAccessToken(ctx.get(), get, &token);
    // Invalid UTF-8 is caught when the request is parsed; the rest by the
    // openid rule. Both are INVALID_ARGUMENT with a reason.
    EXPECT_TRUE(IsRpcError(status, *ctx, grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT")) << openid;
  }
  v1::GetAccessTokenRequest get;
  get.set_openid("o_valid");
  get.set_min_ttl_seconds(4000);
  v1::GetAccessTokenResponse token;
  auto ctx = Context();
  EXPECT_TRUE(IsRpcError(vault_->GetAccessToken(ctx.get(), get, &token), *ctx, grpc::StatusCode::INVALID_ARGUMENT,
                         "INVALID_ARGUMENT"));
  v1::GetUserInfoRequest info_request;
  info_request.set_openid("o_valid");
  info_request.set_lang("fr");
  v1::GetUserInfoResponse info;
  ctx = Context();
  EXPECT_TRUE(IsRpcError(vault_->GetUserInfo(ctx.get(), info_request, &info), *ctx,
                         grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT"));

  // Larger than the 64 KiB message limit: refused by the gRPC runtime.
  v1::ExchangeRequest huge;
  huge.set_code(std::string(100 * 1024, 'c'));
  v1::ExchangeResponse response;
  ctx = Context();
  EXPECT_EQ(vault_->Exchange(ctx.get(), huge, &response).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  // Bytes that are not a protobuf message at all.
  grpc::GenericStub generic(server_->channel());
  grpc::ClientContext raw_ctx;
  raw_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  const std::string garbage = "\xff\xff\xff\xff\x0f";
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer reply;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status raw_status;
  generic.UnaryCall(&raw_ctx, "/wxvault.v1.TokenVault/Revoke", grpc::StubOptions(), &request, &reply,
                    [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(mu);
                      raw_status = s;
                      done = true;
                      cv.notify_one();
                    });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  EXPECT_TRUE(IsRpcError(raw_status, raw_ctx, grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT"));

  // Still serving.
  Login("o_after_bad_input");
}

// Reads events from `reader` until `count` arrived (or the stream ended).
std::vector<v1::TokenEvent> ReadEvents(grpc::ClientReader<v1::TokenEvent>* reader, size_t count) {
  std::vector<v1::TokenEvent> events;
  v1::TokenEvent event;
  while (events.size() < count && reader->Read(&event)) events.push_back(event);
  return events;
}

TEST_F(VaultTest, WatchEventsStreamsTheLogInOrderAndResumes) {
  v1::WatchEventsRequest request;
  auto ctx = Context();
  std::unique_ptr<grpc::ClientReader<v1::TokenEvent>> reader = vault_->WatchEvents(ctx.get(), request);
  Login("o_kate");
  v1::RevokeRequest revoke;
  revoke.set_openid("o_kate");
  v1::RevokeResponse revoked;
  auto revoke_ctx = Context();
  ASSERT_TRUE(vault_->Revoke(revoke_ctx.get(), revoke, &revoked).ok());
  std::vector<v1::TokenEvent> events = ReadEvents(reader.get(), 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type(), v1::TOKEN_EVENT_TYPE_CREATED);
  EXPECT_EQ(events[1].type(), v1::TOKEN_EVENT_TYPE_REVOKED);
  EXPECT_EQ(events[0].openid(), "o_kate");
  EXPECT_LT(events[0].sequence(), events[1].sequence());
  ctx->TryCancel();
  reader->Finish();

  request.set_after_sequence(events[0].sequence());
  auto resume_ctx = Context();
  reader = vault_->WatchEvents(resume_ctx.get(), request);
  std::vector<v1::TokenEvent> resumed = ReadEvents(reader.get(), 1);
  ASSERT_EQ(resumed.size(), 1u);
  EXPECT_EQ(resumed[0].sequence(), events[1].sequence());
  resume_ctx->TryCancel();
  reader->Finish();

  request.set_after_sequence(1'000'000);
  auto far_ctx = Context();
  reader = vault_->WatchEvents(far_ctx.get(), request);
  EXPECT_TRUE(ReadEvents(reader.get(), 1).empty());
  EXPECT_TRUE(IsRpcError(reader->Finish(), *far_ctx, grpc::StatusCode::OUT_OF_RANGE, "SEQUENCE_OUT_OF_RANGE"));

  request.set_after_sequence(0);
  request.set_app_id("wxnotconfigured01");
  auto app_ctx = Context();
  reader = vault_->WatchEvents(app_ctx.get(), request);
  EXPECT_TRUE(ReadEvents(reader.get(), 1).empty());
  EXPECT_TRUE(IsRpcError(reader->Finish(), *app_ctx, grpc::StatusCode::NOT_FOUND, "UNKNOWN_APP"));
}

}  // namespace
}  // namespace wxvault::integration

// TokenService against the real libcurl WeChatClient, the fake WeChat over
// loopback and a real RocksDB vault; time is a FakeClock shared by both sides.
#include "service/token_service.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/service/token_service_harness.h"
#include "tests/testing/temp_dir.h"
#include "vault/keyring.h"
#include "vault/record_sealing.h"
#include "vault/rocks_token_store.h"

namespace wxvault::service {
namespace {

using fake::FakeEndpoint;
using testing::IsError;

using testing::kApp;

class TokenServiceTest : public testing::TokenServiceHarness {};

TEST_F(TokenServiceTest, ExchangeStoresSealedTokensAndSchedulesRenewal) {
  const int64_t now_ms = harness_->clock.NowMillis();
  ExchangeResult result = Login("alice");
  EXPECT_FALSE(result.access_token.empty());
  EXPECT_FALSE(result.replayed);
  const vault::TokenRecord& r = result.record;
  EXPECT_EQ(r.state(), vault::RECORD_STATE_ACTIVE);
  EXPECT_EQ(r.generation(), 1u);
  EXPECT_EQ(r.access_token_expires_at_ms(), now_ms + 7200 * 1000);
  const int64_t end = now_ms + absl::ToInt64Milliseconds(absl::Hours(4320));
  EXPECT_EQ(r.refresh_token_expires_at_ms(), end);
  const int64_t renew_before = absl::ToInt64Milliseconds(absl::Hours(168));
  EXPECT_GE(r.renew_at_ms(), end - renew_before);
  EXPECT_LE(r.renew_at_ms(), end - renew_before / 2);
  EXPECT_EQ(r.next_due_at_ms(), r.renew_at_ms());
  auto stored = store_->GetToken({kApp, "alice"});
  ASSERT_TRUE(stored.ok());
  auto secrets = vault::OpenSecrets(*sealer_, *stored);
  ASSERT_TRUE(secrets.ok());
  EXPECT_EQ(secrets->access_token(), result.access_token);
  EXPECT_FALSE(secrets->refresh_token().empty());
  EXPECT_THAT(EventTypes(), ::testing::ElementsAre(vault::EVENT_TYPE_CREATED));
}

TEST_F(TokenServiceTest, RenewalTimesAreJitteredAcrossThePeriodsFirstHalf) {
  std::set<int64_t> offsets;
  for (int i = 0; i < 20; ++i) {
    ExchangeResult r = Login(absl::StrCat("user", i));
    offsets.insert(r.record.refresh_token_expires_at_ms() - r.record.renew_at_ms());
  }
  EXPECT_GT(offsets.size(), 15u) << "renewal times should not collide";
}

TEST_F(TokenServiceTest, ExchangeRetryWithTheSameCodeIsAnsweredFromTheVault) {
  const std::string code = harness_->fake->MintCode("bob");
  auto first = service_->Exchange(kApp, code, false, "", Deadline());
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = service_->Exchange(kApp, code, false, "", Deadline());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->replayed);
  EXPECT_EQ(second->access_token, first->access_token);
  EXPECT_EQ(second->record.openid(), "bob");
  EXPECT_EQ(Calls(FakeEndpoint::kAccessToken), 1);
  // The idempotency window ends: WeChat is asked again and says "used".
  harness_->clock.Advance(absl::Minutes(11));
  EXPECT_TRUE(IsError(service_->Exchange(kApp, code, false, "", Deadline()).status(),
                      absl::StatusCode::kInvalidArgument, "CODE_ALREADY_USED", 40163));
}

TEST_F(TokenServiceTest, ConcurrentExchangesOfOneCodeCallWeChatOnce) {
  const std::string code = harness_->fake->MintCode("carol");
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (service_->Exchange(kApp, code, false, "", Deadline()).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(Calls(FakeEndpoint::kAccessToken), 1);
}

TEST_F(TokenServiceTest, ExchangeErrorsCarryReasonsAndErrcodes) {
  EXPECT_TRUE(IsError(service_->Exchange(kApp, "no-such-code", false, "", Deadline()).status(),
                      absl::StatusCode::kInvalidArgument, "INVALID_CODE", 40029));
  const std::string used = harness_->fake->MintCode("dave");
  ASSERT_TRUE(harness_->client->ExchangeCode(harness_->app, used, Deadline()).ok());  // someone else used it
  EXPECT_TRUE(IsError(service_->Exchange(kApp, used, false, "", Deadline()).status(),
                      absl::StatusCode::kInvalidArgument, "CODE_ALREADY_USED", 40163));
  const std::string expired = harness_->fake->MintCode("erin");
  harness_->clock.Advance(absl::Minutes(11));
  EXPECT_TRUE(IsError(service_->Exchange(kApp, expired, false, "", Deadline()).status(),
                      absl::StatusCode::kInvalidArgument, "CODE_EXPIRED", 42003));
  EXPECT_TRUE(IsError(service_->Exchange("wxotherapp000001", "c", false, "", Deadline()).status(),
                      absl::StatusCode::kNotFound, "UNKNOWN_APP", absl::nullopt));
  EXPECT_TRUE(IsError(service_->Exchange(kApp, std::string(129, 'c'), false, "", Deadline()).status(),
                      absl::StatusCode::kInvalidArgument, "INVALID_CODE", absl::nullopt));
  EXPECT_TRUE(IsError(service_->Exchange(kApp, "bad code", false, "", Deadline()).status(),
                      absl::StatusCode::kInvalidArgument, "INVALID_CODE", absl::nullopt));
  EXPECT_TRUE(IsError(service_->Exchange(kApp, "c", false, "fr", Deadline()).status(),
                      absl::StatusCode::kInvalidArgument, "INVALID_ARGUMENT", absl::nullopt));
  harness_->fake->InjectFault(FakeEndpoint::kAccessToken, fake::Fault{});  // errcode -1
  EXPECT_EQ(service_->Exchange(kApp, harness_->fake->MintCode("f"), false, "", Deadline()).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(TokenServiceTest, BadIdentifiersAreRejectedBeforeAnyLookup) {
  for (const std::string& openid : std::vector<std::string>{"", std::string(65, 'a'), std::string("../etc"), std::string("a/b"),
                                   std::string("a\0b", 3), std::string("\xff\xfe")}) {
    EXPECT_TRUE(IsError(service_->GetAccessToken(kApp, openid, absl::ZeroDuration(), Deadline()).status(),
                        absl::StatusCode::kInvalidArgument, "INVALID_ARGUMENT", absl::nullopt));
  }
  EXPECT_TRUE(IsError(service_->GetAccessToken(kApp, "nobody", absl::ZeroDuration(), Deadline()).status(),
                      absl::StatusCode::kNotFound, "TOKEN_NOT_FOUND", absl::nullopt));
  EXPECT_TRUE(IsError(service_->Revoke("not-an-app", "x").status(), absl::StatusCode::kInvalidArgument,
                      "INVALID_ARGUMENT", absl::nullopt));
}

TEST_F(TokenServiceTest, WarmAccessTokenNeedsNoUpstreamCall) {
  ExchangeResult login = Login("alice");
  auto token = service_->GetAccessToken("", "alice", absl::ZeroDuration(), Deadline());  // "" = the only app
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->access_token, login.access_token);
  EXPECT_FALSE(token->refreshed);
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 0);
}

TEST_F(TokenServiceTest, ConcurrentCallersShareOneRefresh) {
  Login("alice");
  harness_->clock.Advance(absl::Seconds(7200 - 100));  // 100 s left < 300 s default
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      auto token = service_->GetAccessToken(kApp, "alice", absl::ZeroDuration(), Deadline());
      if (token.ok() && token->record.access_token_expires_at_ms() > harness_->clock.NowMillis() + 300'000) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16);
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 1);
  EXPECT_THAT(EventTypes(), ::testing::ElementsAre(vault::EVENT_TYPE_CREATED, vault::EVENT_TYPE_REFRESHED));
}

TEST_F(TokenServiceTest, ConcurrentForcedRefreshesShareOneUpstreamCall) {
  Login("alice");
  // The first refresh stays at WeChat long enough for every caller to have
  // asked before it finishes (a caller that asks after a refresh finished
  // rightly gets a new one).
  fake::Fault slow;
  slow.kind = fake::FaultKind::kStall;
  slow.stall = absl::Milliseconds(300);
  harness_->fake->InjectFault(FakeEndpoint::kRefreshToken, slow);
  absl::Notification go;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      go.WaitForNotification();
      if (service_->Refresh(kApp, "alice", Deadline()).ok()) ++ok;
    });
  }
  go.Notify();
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 1);
}

TEST_F(TokenServiceTest, RefreshWithoutRotationKeepsTheWindow) {
  ExchangeResult login = Login("alice");
  harness_->clock.Advance(absl::Hours(3));
  auto refreshed = service_->Refresh(kApp, "alice", Deadline());
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  EXPECT_EQ(refreshed->record.refresh_token_expires_at_ms(), login.record.refresh_token_expires_at_ms());
  EXPECT_EQ(refreshed->record.renew_at_ms(), login.record.renew_at_ms());
  EXPECT_GT(refreshed->record.access_token_expires_at_ms(), login.record.access_token_expires_at_ms());
  EXPECT_EQ(refreshed->record.unionid(), login.record.unionid()) << "a refresh omitting unionid keeps it";
}

TEST_F(TokenServiceTest, RotatedRefreshTokenRestartsTheWindow) {
  fake::FakeWeChatOptions rotating;
  rotating.rotate_refresh_tokens = true;
  Build(rotating, TokenServiceOptions());
  ExchangeResult login = Login("alice");
  harness_->clock.Advance(absl::Hours(3));
  auto refreshed = service_->Refresh(kApp, "alice", Deadline());
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  EXPECT_EQ(refreshed->record.refresh_token_expires_at_ms(),
            login.record.refresh_token_expires_at_ms() + absl::ToInt64Milliseconds(absl::Hours(3)));
  EXPECT_EQ(refreshed->record.refresh_token_issued_at_ms(), harness_->clock.NowMillis());
}

TEST_F(TokenServiceTest, WindowEndMeansReauthEvenWithAccessTokenTimeLeft) {
  TokenServiceOptions short_window;
  short_window.refresh_token_ttl = absl::Hours(1);
  short_window.renew_before = absl::Minutes(10);
  Build(fake::FakeWeChatOptions(), short_window);
  Login("alice");
  harness_->clock.Advance(absl::Hours(1));  // the access token still has 1 h left
  EXPECT_TRUE(IsError(service_->GetAccessToken(kApp, "alice", absl::ZeroDuration(), Deadline()).status(),
                      absl::StatusCode::kFailedPrecondition, "REAUTH_REQUIRED", absl::nullopt));
  auto record = store_->GetToken({kApp, "alice"});
  EXPECT_EQ(record->state(), vault::RECORD_STATE_REAUTH_REQUIRED);
  EXPECT_TRUE(record->sealed_secrets().empty());
  EXPECT_THAT(EventTypes(), ::testing::ElementsAre(vault::EVENT_TYPE_CREATED, vault::EVENT_TYPE_REAUTH_REQUIRED));
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 0);
}

TEST_F(TokenServiceTest, PermanentRefreshFailureWipesSecretsAndAsksForLogin) {
  Login("alice", /*include_user_info=*/true);
  harness_->fake->ChangePassword("alice");  // refresh now answers 42007
  EXPECT_TRUE(IsError(service_->Refresh(kApp, "alice", Deadline()).status(), absl::StatusCode::kFailedPrecondition,
                      "REAUTH_REQUIRED", 42007));
  auto record = store_->GetToken({kApp, "alice"});
  EXPECT_EQ(record->state(), vault::RECORD_STATE_REAUTH_REQUIRED);
  EXPECT_TRUE(record->sealed_secrets().empty());
  EXPECT_EQ(record->last_wechat_errcode(), 42007);
  EXPECT_TRUE(absl::IsNotFound(store_->GetProfile({kApp, "alice"}).status()));
  absl::StatusOr<std::vector<vault::EventRecord>> events = store_->ReadEvents(0, 10);
  ASSERT_TRUE(events.ok() && !events->empty());
  EXPECT_EQ(events->back().type(), vault::EVENT_TYPE_REAUTH_REQUIRED);
  EXPECT_EQ(events->back().wechat_errcode(), 42007);
  // Later calls answer at once, without WeChat.
  EXPECT_TRUE(IsError(service_->GetAccessToken(kApp, "alice", absl::ZeroDuration(), Deadline()).status(),
                      absl::StatusCode::kFailedPrecondition, "REAUTH_REQUIRED", absl::nullopt));
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 1);
  // A new login brings the user back.
  EXPECT_EQ(Login("alice").record.state(), vault::RECORD_STATE_ACTIVE);
}

TEST_F(TokenServiceTest, TransientRefreshFailureKeepsTheToken) {
  Login("alice");
  fake::Fault busy;
  busy.count = 10;
  harness_->fake->InjectFault(FakeEndpoint::kRefreshToken, busy);
  EXPECT_TRUE(IsError(service_->Refresh(kApp, "alice", Deadline()).status(), absl::StatusCode::kUnavailable,
                      "UPSTREAM_UNAVAILABLE", -1));
  EXPECT_EQ(store_->GetToken({kApp, "alice"})->state(), vault::RECORD_STATE_ACTIVE);
}

TEST_F(TokenServiceTest, RevokeIsIdempotentAndFinal) {
  Login("alice", /*include_user_info=*/true);
  EXPECT_TRUE(*service_->Revoke(kApp, "alice"));
  EXPECT_FALSE(*service_->Revoke(kApp, "alice"));
  EXPECT_FALSE(*service_->Revoke(kApp, "never-seen"));
  auto record = store_->GetToken({kApp, "alice"});
  EXPECT_EQ(record->state(), vault::RECORD_STATE_REVOKED);
  EXPECT_TRUE(record->sealed_secrets().empty());
  EXPECT_TRUE(absl::IsNotFound(store_->GetProfile({kApp, "alice"}).status()));
  EXPECT_TRUE(IsError(service_->GetAccessToken(kApp, "alice", absl::ZeroDuration(), Deadline()).status(),
                      absl::StatusCode::kNotFound, "TOKEN_NOT_FOUND", absl::nullopt));
  EXPECT_TRUE(IsError(service_->Refresh(kApp, "alice", Deadline()).status(), absl::StatusCode::kNotFound,
                      "TOKEN_NOT_FOUND", absl::nullopt));
  EXPECT_THAT(EventTypes(), ::testing::ElementsAre(vault::EVENT_TYPE_CREATED, vault::EVENT_TYPE_REVOKED));
}

TEST_F(TokenServiceTest, RevokeDuringARefreshWins) {
  Login("alice");
  fake::Fault stall;
  stall.kind = fake::FaultKind::kStall;
  stall.stall = absl::Milliseconds(300);
  harness_->fake->InjectFault(FakeEndpoint::kRefreshToken, stall);
  std::thread refresher([&] {
    auto result = service_->Refresh(kApp, "alice", Deadline());
    EXPECT_TRUE(absl::IsNotFound(result.status())) << result.status();
  });
  // Wait (bounded) until the refresh is at WeChat, then revoke.
  for (int i = 0; i < 2000 && Calls(FakeEndpoint::kRefreshToken) == 0; ++i) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(Calls(FakeEndpoint::kRefreshToken), 1);
  ASSERT_TRUE(*service_->Revoke(kApp, "alice"));
  refresher.join();
  auto record = store_->GetToken({kApp, "alice"});
  EXPECT_EQ(record->state(), vault::RECORD_STATE_REVOKED);
  EXPECT_TRUE(record->sealed_secrets().empty());
}

TEST_F(TokenServiceTest, UserInfoCacheHonoursMaxAge) {
  ExchangeResult login = Login("alice", /*include_user_info=*/true);
  ASSERT_TRUE(login.user_info.has_value());
  EXPECT_EQ(login.user_info->openid(), "alice");
  EXPECT_EQ(Calls(FakeEndpoint::kUserInfo), 1);
  harness_->clock.Advance(absl::Seconds(30));
  auto cached = service_->GetUserInfo(kApp, "alice", "", absl::Seconds(60), Deadline());
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_TRUE(cached->cached);
  EXPECT_EQ(cached->user_info.nickname(), login.user_info->nickname());
  EXPECT_EQ(Calls(FakeEndpoint::kUserInfo), 1);
  auto too_old = service_->GetUserInfo(kApp, "alice", "", absl::Seconds(10), Deadline());
  ASSERT_TRUE(too_old.ok());
  EXPECT_FALSE(too_old->cached);
  auto fresh = service_->GetUserInfo(kApp, "alice", "en", absl::ZeroDuration(), Deadline());
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->user_info.lang(), "en");
  EXPECT_EQ(Calls(FakeEndpoint::kUserInfo), 3);
}

TEST_F(TokenServiceTest, InvalidAccessTokenAtUserInfoRefreshesOnceAndRetries) {
  Login("alice");
  fake::Fault invalid;
  invalid.errcode = 40001;
  harness_->fake->InjectFault(FakeEndpoint::kUserInfo, invalid);
  auto info = service_->GetUserInfo(kApp, "alice", "", absl::ZeroDuration(), Deadline());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 1);
  EXPECT_EQ(Calls(FakeEndpoint::kUserInfo), 2);
}

TEST(TokenServiceOptionsTest, ValidateNamesTheFlag) {
  TokenServiceOptions options;
  EXPECT_TRUE(options.Validate().ok());
  options.renew_before = options.refresh_token_ttl;
  EXPECT_THAT(std::string(options.Validate().message()), ::testing::HasSubstr("--renew_before"));
  options = TokenServiceOptions();
  options.max_upstream_wait = absl::Seconds(30);
  EXPECT_FALSE(options.Validate().ok());
}

}  // namespace
}  // namespace wxvault::service

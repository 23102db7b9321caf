// The refresher over 180 days of a token's life, in milliseconds: a FakeClock
// shared by the service and the fake WeChat, the real vault and real HTTP.
// RunOnce() drives each step so nothing sleeps to wait for time.
#include "service/refresher.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/service/token_service_harness.h"

namespace wxvault::service {
namespace {

using ::testing::ElementsAre;
using fake::FakeEndpoint;
using testing::kApp;

constexpr absl::Duration kDay = absl::Hours(24);

class RefresherTest : public testing::TokenServiceHarness {
 protected:
  void SetUp() override { Rebuild(fake::FakeWeChatOptions(), TokenServiceOptions()); }

  void Rebuild(fake::FakeWeChatOptions fake_options, TokenServiceOptions options,
               RefresherOptions refresher_options = RefresherOptions(),
               RateLimiterOptions limiter = RateLimiterOptions()) {
    refresher_.reset();
    fake_options.refresh_token_ttl = 200 * kDay;  // WeChat itself outlives our window
    Build(std::move(fake_options), options, limiter);
    refresher_options.workers = 1;  // deterministic order within a pass
    if (keep_all_events_) refresher_options.event_retention = 1000 * kDay;
    refresher_ = std::make_unique<Refresher>(service_.get(), store_.get(), &harness_->clock, refresher_options);
  }

  vault::TokenRecord Record(const std::string& openid) {
    auto record = store_->GetToken({kApp, openid});
    EXPECT_TRUE(record.ok()) << record.status();
    return record.ok() ? *record : vault::TokenRecord();
  }

  void AdvanceTo(int64_t unix_ms) { harness_->clock.Set(absl::FromUnixMillis(unix_ms)); }

  // Logs in user0..user<n-1> and moves the clock to the last renewal time:
  // all n are due.
  void LoginDueUsers(int n) {
    int64_t latest_renewal = 0;
    for (int i = 0; i < n; ++i) {
      latest_renewal = std::max(latest_renewal, Login(absl::StrCat("user", i)).record.renew_at_ms());
    }
    AdvanceTo(latest_renewal);
  }

  // A refresher over the harness with `workers` threads that reads
  // `batch_size` due entries at a time (refresher_ has one worker).
  std::unique_ptr<Refresher> ConcurrentRefresher(int workers, size_t batch_size) {
    RefresherOptions options;
    options.workers = workers;
    options.batch_size = batch_size;
    return std::make_unique<Refresher>(service_.get(), store_.get(), &harness_->clock, options);
  }

  size_t Run() {
    auto processed = refresher_->RunOnce();
    EXPECT_TRUE(processed.ok()) << processed.status();
    return processed.ok() ? *processed : 0;
  }

  std::unique_ptr<Refresher> refresher_;
  bool keep_all_events_ = true;  // these tests read the whole event history
};

TEST_F(RefresherTest, NonRotatingTokenLivesItsWindowThenNeedsLogin) {
  const vault::TokenRecord login = Login("alice").record;
  // Nothing is due before the renewal time.
  AdvanceTo(login.renew_at_ms() - 1);
  EXPECT_EQ(Run(), 0u);
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 0);
  // Renewal: one refresh, same refresh token back -> EXPIRING_SOON once.
  AdvanceTo(login.renew_at_ms());
  EXPECT_EQ(Run(), 1u);
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 1);
  vault::TokenRecord renewed = Record("alice");
  EXPECT_TRUE(renewed.expiring_soon_notified());
  EXPECT_EQ(renewed.refresh_token_expires_at_ms(), login.refresh_token_expires_at_ms());
  EXPECT_EQ(renewed.next_due_at_ms(), login.refresh_token_expires_at_ms());
  EXPECT_EQ(Run(), 0u) << "EXPIRING_SOON is sent once";
  // Window end: REAUTH_REQUIRED at once, secrets wiped, no upstream call.
  AdvanceTo(login.refresh_token_expires_at_ms());
  EXPECT_EQ(Run(), 1u);
  vault::TokenRecord ended = Record("alice");
  EXPECT_EQ(ended.state(), vault::RECORD_STATE_REAUTH_REQUIRED);
  EXPECT_TRUE(ended.sealed_secrets().empty());
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 1);
  EXPECT_TRUE(testing::IsError(service_->GetAccessToken(kApp, "alice", absl::ZeroDuration(), Deadline()).status(),
                               absl::StatusCode::kFailedPrecondition, "REAUTH_REQUIRED", absl::nullopt));
  EXPECT_THAT(EventTypes(), ElementsAre(vault::EVENT_TYPE_CREATED, vault::EVENT_TYPE_REFRESHED,
                                        vault::EVENT_TYPE_EXPIRING_SOON, vault::EVENT_TYPE_REAUTH_REQUIRED));
  // The tombstone is purged after its retention.
  harness_->clock.Advance(TokenServiceOptions().tombstone_retention);
  EXPECT_EQ(Run(), 1u);
  EXPECT_TRUE(absl::IsNotFound(store_->GetToken({kApp, "alice"}).status()));
  EXPECT_EQ(*store_->NextDueAt(), std::nullopt);
}

TEST_F(RefresherTest, RotatingTokenRestartsItsWindowAtRenewal) {
  fake::FakeWeChatOptions rotating;
  rotating.rotate_refresh_tokens = true;
  Rebuild(rotating, TokenServiceOptions());
  const vault::TokenRecord login = Login("alice").record;
  AdvanceTo(login.renew_at_ms());
  EXPECT_EQ(Run(), 1u);
  vault::TokenRecord renewed = Record("alice");
  EXPECT_EQ(renewed.refresh_token_expires_at_ms(),
            login.renew_at_ms() + absl::ToInt64Milliseconds(TokenServiceOptions().refresh_token_ttl));
  EXPECT_FALSE(renewed.expiring_soon_notified());
  EXPECT_EQ(renewed.next_due_at_ms(), renewed.renew_at_ms());
  EXPECT_GT(renewed.renew_at_ms(), login.refresh_token_expires_at_ms());
  EXPECT_THAT(EventTypes(), ElementsAre(vault::EVENT_TYPE_CREATED, vault::EVENT_TYPE_REFRESHED));
  // A year later the token is still alive: each renewal rotated it.
  for (int i = 0; i < 3; ++i) {
    AdvanceTo(Record("alice").renew_at_ms());
    EXPECT_EQ(Run(), 1u);
  }
  EXPECT_EQ(Record("alice").state(), vault::RECORD_STATE_ACTIVE);
  EXPECT_GT(harness_->clock.Now() - absl::FromUnixMillis(login.created_at_ms()), 365 * kDay);
}

TEST_F(RefresherTest, TransientFailuresBackOffUntilTheWindowEnds) {
  TokenServiceOptions short_window;
  short_window.refresh_token_ttl = kDay;
  short_window.renew_before = absl::Hours(4);
  Rebuild(fake::FakeWeChatOptions(), short_window);
  const vault::TokenRecord login = Login("alice").record;
  fake::Fault busy;
  busy.count = 1'000'000;
  harness_->fake->InjectFault(FakeEndpoint::kRefreshToken, busy);
  AdvanceTo(login.renew_at_ms());
  std::vector<int64_t> delays;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    EXPECT_EQ(Run(), 1u);
    vault::TokenRecord failed = Record("alice");
    EXPECT_EQ(failed.failure_count(), static_cast<uint32_t>(attempt));
    EXPECT_EQ(failed.last_wechat_errcode(), -1);
    EXPECT_EQ(failed.state(), vault::RECORD_STATE_ACTIVE);
    delays.push_back(failed.next_due_at_ms() - harness_->clock.NowMillis());
    AdvanceTo(failed.next_due_at_ms());
  }
  // Full backoff: attempt n waits in [15 s * 2^(n-1), 30 s * 2^(n-1)].
  for (size_t i = 0; i < delays.size(); ++i) {
    EXPECT_GE(delays[i], 15'000 << i) << "attempt " << i + 1;
    EXPECT_LE(delays[i], 30'000 << i) << "attempt " << i + 1;
  }
  // Keep failing until the window ends: then REAUTH_REQUIRED.
  for (int i = 0; i < 100 && Record("alice").state() == vault::RECORD_STATE_ACTIVE; ++i) {
    AdvanceTo(Record("alice").next_due_at_ms());
    Run();
  }
  EXPECT_EQ(Record("alice").state(), vault::RECORD_STATE_REAUTH_REQUIRED);
  EXPECT_LE(harness_->clock.NowMillis(), login.refresh_token_expires_at_ms());
  auto types = EventTypes();
  EXPECT_EQ(std::count(types.begin(), types.end(), vault::EVENT_TYPE_EXPIRING_SOON), 1);
  EXPECT_GE(std::count(types.begin(), types.end(), vault::EVENT_TYPE_REFRESH_FAILED), 4);
  EXPECT_EQ(types.back(), vault::EVENT_TYPE_REAUTH_REQUIRED);
}

TEST_F(RefresherTest, PermanentFailureAtRenewalNeedsLogin) {
  const vault::TokenRecord login = Login("alice").record;
  harness_->fake->ChangePassword("alice");
  AdvanceTo(login.renew_at_ms());
  EXPECT_EQ(Run(), 1u);
  vault::TokenRecord record = Record("alice");
  EXPECT_EQ(record.state(), vault::RECORD_STATE_REAUTH_REQUIRED);
  EXPECT_EQ(record.last_wechat_errcode(), 42007);
  EXPECT_TRUE(record.sealed_secrets().empty());
}

TEST_F(RefresherTest, QuotaPauseDefersPastThePause) {
  const vault::TokenRecord login = Login("alice").record;
  fake::Fault quota;
  quota.errcode = 45011;
  harness_->fake->InjectFault(FakeEndpoint::kRefreshToken, quota);
  AdvanceTo(login.renew_at_ms());
  EXPECT_EQ(Run(), 1u);
  vault::TokenRecord deferred = Record("alice");
  EXPECT_GE(deferred.next_due_at_ms() - harness_->clock.NowMillis(), 60'000);
  EXPECT_EQ(refresher_->Status().outcomes[ScheduledOutcome::kDeferred], 1);
  AdvanceTo(deferred.next_due_at_ms());
  EXPECT_EQ(Run(), 1u);
  EXPECT_EQ(Record("alice").failure_count(), 0u);
}

TEST_F(RefresherTest, RevokedTokenIsNeverRefreshedAndIsPurgedAfterRetention) {
  Login("alice");
  ASSERT_TRUE(*service_->Revoke(kApp, "alice"));
  harness_->clock.Advance(TokenServiceOptions().tombstone_retention - absl::Seconds(1));
  EXPECT_EQ(Run(), 0u);
  EXPECT_EQ(Record("alice").state(), vault::RECORD_STATE_REVOKED);
  harness_->clock.Advance(absl::Seconds(1));
  EXPECT_EQ(Run(), 1u);
  EXPECT_TRUE(absl::IsNotFound(store_->GetToken({kApp, "alice"}).status()));
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 0);
}

TEST_F(RefresherTest, KeepWarmRefreshesTokensInUseAndOnlyThose) {
  Login("alice");
  Login("bob");
  // alice is used; bob is not.
  ASSERT_TRUE(service_->GetAccessToken(kApp, "alice", absl::ZeroDuration(), Deadline()).ok());
  harness_->clock.Advance(absl::Minutes(90));
  ASSERT_TRUE(service_->GetAccessToken(kApp, "alice", absl::ZeroDuration(), Deadline()).ok());
  const vault::TokenRecord armed = Record("alice");
  // Due 300 s + 60 s before the access token's end.
  EXPECT_EQ(armed.next_due_at_ms(), armed.access_token_expires_at_ms() - 360'000);
  AdvanceTo(armed.next_due_at_ms());
  EXPECT_EQ(Run(), 1u);
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 1);
  const vault::TokenRecord warm = Record("alice");
  EXPECT_GT(warm.access_token_expires_at_ms(), armed.access_token_expires_at_ms());
  // The caller never waits: GetAccessToken now needs no upstream call.
  auto token = service_->GetAccessToken(kApp, "alice", absl::ZeroDuration(), Deadline());
  ASSERT_TRUE(token.ok());
  EXPECT_FALSE(token->refreshed);
  // Unused for longer than the keep-warm window by its next keep-warm time:
  // rescheduled to its renewal, no refresh.
  AdvanceTo(Record("alice").next_due_at_ms());
  EXPECT_EQ(Run(), 1u);
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 1);
  EXPECT_EQ(Record("alice").next_due_at_ms(), Record("alice").renew_at_ms());
  EXPECT_EQ(Record("bob").last_used_at_ms(), 0);
  EXPECT_EQ(Record("bob").next_due_at_ms(), Record("bob").renew_at_ms());
}

TEST_F(RefresherTest, BacklogIsWorkedOldestDueFirstAndVisible) {
  std::vector<std::string> users = {"u1", "u2", "u3", "u4", "u5"};
  for (const std::string& user : users) Login(user);
  // Move every renewal time into the past, in reverse login order.
  int64_t latest = 0;
  for (size_t i = 0; i < users.size(); ++i) {
    vault::TokenRecord r = Record(users[i]);
    vault::TokenWrite write;
    write.key = {kApp, users[i]};
    write.put = r;
    write.put->set_renew_at_ms(harness_->clock.NowMillis() + 1000 - static_cast<int64_t>(i) * 10);
    write.put->set_next_due_at_ms(write.put->renew_at_ms());
    latest = std::max(latest, write.put->renew_at_ms());
    ASSERT_TRUE(store_->Commit(write).ok());
  }
  AdvanceTo(latest);
  RefresherStatus before = refresher_->Status();
  EXPECT_EQ(before.backlog, 5);
  ASSERT_TRUE(before.oldest_overdue_at_ms.has_value());
  EXPECT_EQ(Run(), 5u);
  std::vector<std::string> order;
  absl::StatusOr<std::vector<vault::EventRecord>> events = store_->ReadEvents(5, 100);
  ASSERT_TRUE(events.ok());
  for (const vault::EventRecord& e : *events) {
    if (e.type() == vault::EVENT_TYPE_REFRESHED) order.push_back(e.openid());
  }
  EXPECT_THAT(order, ElementsAre("u5", "u4", "u3", "u2", "u1"));
  EXPECT_EQ(refresher_->Status().backlog, 0);
}

TEST_F(RefresherTest, EveryUpstreamCallPassesTheSharedLimiter) {
  RateLimiterOptions slow;
  slow.qps = 10;
  slow.burst = 1;
  Rebuild(fake::FakeWeChatOptions(), TokenServiceOptions(), RefresherOptions(), slow);
  LoginDueUsers(20);
  const absl::Time start = harness_->clock.Now();
  const size_t sleeps_before = harness_->sleeper.sleeps().size();
  EXPECT_EQ(Run(), 20u);
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 20);
  // 10 qps with a burst of 1: 20 refreshes take at least 1.9 s of (fake) time,
  // spent waiting in the limiter.
  EXPECT_GE(harness_->clock.Now() - start, absl::Milliseconds(1900));
  EXPECT_GE(harness_->sleeper.sleeps().size() - sleeps_before, 19u);
}

TEST_F(RefresherTest, BackgroundThreadWakesForDueWork) {
  const vault::TokenRecord login = Login("alice").record;
  refresher_->Start();
  AdvanceTo(login.renew_at_ms());
  refresher_->Wake(login.renew_at_ms());
  // Bounded wait for the background pass (real time, not clock time).
  for (int i = 0; i < 5000 && Calls(FakeEndpoint::kRefreshToken) == 0; ++i) absl::SleepFor(absl::Milliseconds(1));
  refresher_->Stop();
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 1);
  EXPECT_TRUE(Record("alice").expiring_soon_notified());
}

// Outcomes recorded by `refresher` since it started, all kinds together.
int64_t Finished(const Refresher& refresher) {
  int64_t total = 0;
  for (const auto& [outcome, count] : refresher.Status().outcomes) total += count;
  return total;
}

TEST_F(RefresherTest, OneStalledCallDoesNotIdleTheOtherWorkers) {
  constexpr int kTokens = 20;
  LoginDueUsers(kTokens);
  // Four workers; the backlog spans several reads.
  std::unique_ptr<Refresher> refresher = ConcurrentRefresher(4, 4);
  // The first refresh call stalls (real time) until its 5 s attempt timeout
  // or until the fake stops; every other call answers at once.
  fake::Fault stall;
  stall.kind = fake::FaultKind::kStall;
  stall.stall = absl::Minutes(10);
  harness_->fake->InjectFault(FakeEndpoint::kRefreshToken, stall);

  absl::StatusOr<size_t> processed;
  std::thread pass([&] { processed = refresher->RunOnce(); });
  // Bounded real-time wait: until every other token is done, or the stalled
  // attempt timed out and was retried (a call beyond one per token).
  for (int i = 0; i < 20'000 && Finished(*refresher) < kTokens - 1 && Calls(FakeEndpoint::kRefreshToken) <= kTokens;
       ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  // While the stalled call is still in flight, the other workers did all the
  // rest, and the stalled token (still due) was not handed to anyone else.
  EXPECT_EQ(Finished(*refresher), kTokens - 1);
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), kTokens);
  EXPECT_EQ(refresher->InFlight(), 1);
  EXPECT_EQ(refresher->Status().backlog, 1);

  harness_->fake->Stop();  // ends the stall
  pass.join();
  ASSERT_TRUE(processed.ok()) << processed.status();
  EXPECT_EQ(*processed, static_cast<size_t>(kTokens));
  EXPECT_EQ(Finished(*refresher), kTokens);
  EXPECT_EQ(refresher->InFlight(), 0);
}

TEST_F(RefresherTest, NoTokenIsWorkedTwiceInAPass) {
  // Many workers and tiny reads: every read returns the tokens still in
  // flight first, and none may be handed out again.
  constexpr int kTokens = 40;
  LoginDueUsers(kTokens);
  std::unique_ptr<Refresher> refresher = ConcurrentRefresher(8, 2);
  absl::StatusOr<size_t> processed = refresher->RunOnce();
  ASSERT_TRUE(processed.ok()) << processed.status();
  // Each token exactly once: a second hand-out would add an outcome (not_due
  // after the first one rescheduled it, or a second refresh).
  EXPECT_EQ(*processed, static_cast<size_t>(kTokens));
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), kTokens);
  RefresherStatus status = refresher->Status();
  EXPECT_EQ(status.outcomes[ScheduledOutcome::kExpiringSoon], kTokens);
  EXPECT_EQ(Finished(*refresher), kTokens);
  EXPECT_EQ(status.outcomes[ScheduledOutcome::kNotDue], 0);
  EXPECT_EQ(status.passes, 1);
  EXPECT_EQ(status.backlog, 0);
  EXPECT_EQ(refresher->InFlight(), 0);
}

TEST_F(RefresherTest, HousekeepingTrimsOldEventsAndExpiredExchanges) {
  keep_all_events_ = false;
  Rebuild(fake::FakeWeChatOptions(), TokenServiceOptions());
  Login("alice");
  harness_->clock.Advance(8 * kDay);
  Login("bob");
  Run();
  auto events = store_->ReadEvents(0, 100);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u) << "the 8-day-old CREATED event is trimmed";
  EXPECT_EQ((*events)[0].openid(), "bob");
}

}  // namespace
}  // namespace wxvault::service

// TokenService::GetAccessTokenCached: the warm answer from memory. It must
// be exactly what GetAccessToken would answer at that moment, or nothing;
// never a token older than the last acknowledged write. Same harness as
// token_service_test.cc (real RocksDB, fake WeChat over loopback, FakeClock).
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "service/token_service.h"
#include "tests/service/token_service_harness.h"
#include "vault/token_store.h"

namespace wxvault::service {
namespace {

using fake::FakeEndpoint;
using google::protobuf::util::MessageDifferencer;
using testing::IsError;
using testing::kApp;

// A copy of a GetAccessTokenCached answer (whose pointer is valid only
// until this thread's next call).
struct Answer {
  vault::TokenRecord record;
  std::string access_token;
};

// A store that can hold one GetToken after its read, as if the reading
// thread lost the CPU between reading a record and caching it.
class PausingStore final : public vault::TokenStore {
 public:
  explicit PausingStore(vault::TokenStore* inner) : inner_(inner) {}

  void PauseNextGet() {
    absl::MutexLock lock(&mu_);
    pause_ = true;
    read_ = false;
    released_ = false;
  }
  void WaitForPausedRead() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&read_));
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }

  absl::StatusOr<vault::TokenRecord> GetToken(const vault::TokenKey& key) override {
    absl::StatusOr<vault::TokenRecord> record = inner_->GetToken(key);
    absl::MutexLock lock(&mu_);
    if (pause_) {
      pause_ = false;
      read_ = true;
      mu_.Await(absl::Condition(&released_));
    }
    return record;
  }
  absl::StatusOr<vault::CommitResult> Commit(const vault::TokenWrite& write) override { return inner_->Commit(write); }
  absl::StatusOr<vault::TokenPage> ListTokens(const vault::ListTokensOptions& options) override {
    return inner_->ListTokens(options);
  }
  absl::StatusOr<std::vector<vault::DueEntry>> ReadDue(int64_t now_ms, size_t limit) override {
    return inner_->ReadDue(now_ms, limit);
  }
  absl::StatusOr<std::optional<int64_t>> NextDueAt() override { return inner_->NextDueAt(); }
  absl::StatusOr<vault::ExchangeEntry> GetExchange(absl::string_view digest, int64_t now_ms) override {
    return inner_->GetExchange(digest, now_ms);
  }
  absl::StatusOr<size_t> PurgeExpiredExchanges(int64_t now_ms, size_t limit) override {
    return inner_->PurgeExpiredExchanges(now_ms, limit);
  }
  absl::StatusOr<vault::ProfileEntry> GetProfile(const vault::TokenKey& key) override {
    return inner_->GetProfile(key);
  }
  absl::StatusOr<std::vector<vault::EventRecord>> ReadEvents(uint64_t after_sequence, size_t limit) override {
    return inner_->ReadEvents(after_sequence, limit);
  }
  void SetEventListener(std::function<void(uint64_t)> listener) override {
    inner_->SetEventListener(std::move(listener));
  }
  void SetCommitListener(std::function<void(const vault::TokenKey&)> listener) override {
    inner_->SetCommitListener(std::move(listener));
  }
  absl::StatusOr<size_t> TrimEvents(int64_t before_ms, size_t limit) override {
    return inner_->TrimEvents(before_ms, limit);
  }
  absl::StatusOr<std::vector<std::string>> KeyIdsInUse() override { return inner_->KeyIdsInUse(); }
  absl::StatusOr<std::vector<vault::SealedRef>> ListSealedByKey(absl::string_view key_id,
                                                                const std::optional<vault::SealedRef>& after,
                                                                size_t limit) override {
    return inner_->ListSealedByKey(key_id, after, limit);
  }
  absl::StatusOr<std::string> GetMeta(absl::string_view name) override { return inner_->GetMeta(name); }
  absl::StatusOr<std::map<std::string, std::string>> ListMeta(absl::string_view prefix) override {
    return inner_->ListMeta(prefix);
  }
  absl::Status PutMeta(absl::string_view name, absl::string_view value) override {
    return inner_->PutMeta(name, value);
  }
  absl::Status DeleteMeta(absl::string_view name) override { return inner_->DeleteMeta(name); }
  absl::StatusOr<vault::StoreStats> Stats() override { return inner_->Stats(); }
  absl::Status Compact() override { return inner_->Compact(); }
  absl::StatusOr<vault::BackupInfo> CreateBackup(const std::string& directory) override {
    return inner_->CreateBackup(directory);
  }

 private:
  vault::TokenStore* const inner_;
  absl::Mutex mu_;
  bool pause_ ABSL_GUARDED_BY(mu_) = false;
  bool read_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

class TokenServiceCacheTest : public testing::TokenServiceHarness {
 protected:
  // The service may use pausing_: it goes first.
  ~TokenServiceCacheTest() override { service_.reset(); }

  static TokenServiceOptions KeepWarm(absl::Duration window) {
    TokenServiceOptions options;
    options.keep_warm_window = window;
    return options;
  }

  std::optional<Answer> Cached(absl::string_view openid, absl::Duration min_ttl = absl::ZeroDuration(),
                               absl::string_view app = kApp) {
    const CachedAccessToken* hit = service_->GetAccessTokenCached(app, openid, min_ttl);
    if (hit == nullptr) return std::nullopt;
    return Answer{hit->record, std::string(hit->access_token.view())};
  }

  AccessTokenResult Get(const std::string& openid) {
    absl::StatusOr<AccessTokenResult> result = service_->GetAccessToken(kApp, openid, absl::ZeroDuration(), Deadline());
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *std::move(result) : AccessTokenResult{};
  }

  // Serves `openid` until the cache holds it: the first GetAccessToken arms
  // keep-warm (a write, which drops its own answer), the second fills.
  AccessTokenResult Warm(const std::string& openid) {
    Get(openid);
    AccessTokenResult second = Get(openid);
    EXPECT_TRUE(Cached(openid).has_value()) << "not warm after two GetAccessToken calls";
    return second;
  }

  uint64_t StoredGeneration(const std::string& openid) {
    absl::StatusOr<vault::TokenRecord> record = store_->GetToken({kApp, openid});
    EXPECT_TRUE(record.ok()) << record.status();
    return record.ok() ? record->generation() : 0;
  }

  std::unique_ptr<PausingStore> pausing_;  // when a test routes the service through one
};

TEST_F(TokenServiceCacheTest, WarmTokenIsServedExactlyAsGetAccessTokenServesIt) {
  ExchangeResult login = Login("alice");
  EXPECT_FALSE(Cached("alice").has_value()) << "never served yet";
  Get("alice");
  EXPECT_EQ(StoredGeneration("alice"), 2u) << "the first use arms keep-warm with a write";
  EXPECT_FALSE(Cached("alice").has_value()) << "that write drops the first answer";
  AccessTokenResult second = Get("alice");
  EXPECT_EQ(StoredGeneration("alice"), 2u) << "the second use writes nothing";

  std::optional<Answer> cached = Cached("alice");
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->access_token, login.access_token);
  EXPECT_EQ(cached->access_token, second.access_token);
  EXPECT_TRUE(MessageDifferencer::Equals(cached->record, second.record));
  EXPECT_TRUE(MessageDifferencer::Equals(cached->record, *store_->GetToken({kApp, "alice"})));
  EXPECT_EQ(cached->record.generation(), 2u);
  EXPECT_EQ(cached->record.state(), vault::RECORD_STATE_ACTIVE);
  EXPECT_EQ(cached->record.access_token_expires_at_ms(), login.record.access_token_expires_at_ms());
  EXPECT_GT(cached->record.last_used_at_ms(), 0);
  EXPECT_TRUE(cached->record.sealed_secrets().size() > 0);

  // "" names the only configured app, as for GetAccessToken.
  std::optional<Answer> by_default_app = Cached("alice", absl::ZeroDuration(), "");
  ASSERT_TRUE(by_default_app.has_value());
  EXPECT_EQ(by_default_app->access_token, login.access_token);

  // Later calls still agree, and nothing went upstream.
  harness_->clock.Advance(absl::Minutes(5));
  cached = Cached("alice");
  ASSERT_TRUE(cached.has_value());
  AccessTokenResult third = Get("alice");
  EXPECT_EQ(cached->access_token, third.access_token);
  EXPECT_TRUE(MessageDifferencer::Equals(cached->record, third.record));
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 0);
}

TEST_F(TokenServiceCacheTest, WithoutKeepWarmTheFirstAnswerFillsTheCache) {
  Build(fake::FakeWeChatOptions(), KeepWarm(absl::ZeroDuration()));
  ExchangeResult login = Login("alice");
  Get("alice");
  EXPECT_EQ(StoredGeneration("alice"), 1u);
  std::optional<Answer> cached = Cached("alice");
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->access_token, login.access_token);
  EXPECT_EQ(cached->record.generation(), 1u);
}

TEST_F(TokenServiceCacheTest, RevokeDropsTheCachedToken) {
  Login("alice");
  Login("bob");
  Warm("alice");
  Warm("bob");
  ASSERT_TRUE(*service_->Revoke(kApp, "alice"));
  EXPECT_FALSE(Cached("alice").has_value());
  EXPECT_TRUE(IsError(service_->GetAccessToken(kApp, "alice", absl::ZeroDuration(), Deadline()).status(),
                      absl::StatusCode::kNotFound, "TOKEN_NOT_FOUND", absl::nullopt));
  EXPECT_FALSE(Cached("alice").has_value());
  EXPECT_TRUE(Cached("bob").has_value()) << "another token stays cached";
}

TEST_F(TokenServiceCacheTest, RefreshReplacesTheCachedToken) {
  Login("alice");
  AccessTokenResult old = Warm("alice");
  harness_->clock.Advance(absl::Minutes(10));  // so the refreshed expiry differs
  absl::StatusOr<AccessTokenResult> refreshed = service_->Refresh(kApp, "alice", Deadline());
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  ASSERT_GT(refreshed->record.generation(), old.record.generation());
  ASSERT_GT(refreshed->record.access_token_expires_at_ms(), old.record.access_token_expires_at_ms());
  // The fake hands back the same, unexpired access token with a new expiry:
  // the record tells the old answer from the new one.
  std::optional<Answer> cached = Cached("alice");
  if (cached.has_value()) {
    EXPECT_EQ(cached->record.generation(), refreshed->record.generation()) << "served the pre-refresh record";
    EXPECT_EQ(cached->access_token, refreshed->access_token);
  }
  AccessTokenResult after = Get("alice");
  EXPECT_EQ(after.record.generation(), refreshed->record.generation());
  EXPECT_EQ(after.access_token, refreshed->access_token);
  cached = Cached("alice");
  ASSERT_TRUE(cached.has_value()) << "the refreshed token is cached once served";
  EXPECT_TRUE(MessageDifferencer::Equals(cached->record, after.record));
  EXPECT_EQ(cached->record.access_token_expires_at_ms(), refreshed->record.access_token_expires_at_ms());
}

TEST_F(TokenServiceCacheTest, BackgroundKeepWarmRefreshDropsTheCachedToken) {
  // A 4 h window so that the use at t0 still counts when keep-warm comes due.
  Build(fake::FakeWeChatOptions(), KeepWarm(absl::Hours(4)));
  Login("alice");
  AccessTokenResult old = Warm("alice");
  const int64_t due_ms = old.record.next_due_at_ms();
  ASSERT_GT(due_ms, harness_->clock.NowMillis());
  harness_->clock.Advance(absl::Milliseconds(due_ms - harness_->clock.NowMillis()));
  std::optional<Answer> before = Cached("alice");
  ASSERT_TRUE(before.has_value()) << "the old token is still servable when keep-warm runs";
  ASSERT_EQ(before->record.generation(), old.record.generation());

  absl::StatusOr<ScheduledOutcome> outcome = service_->ProcessScheduled({kApp, "alice"}, Deadline());
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_EQ(*outcome, ScheduledOutcome::kRefreshed);
  const uint64_t now_generation = StoredGeneration("alice");
  ASSERT_GT(now_generation, old.record.generation());
  std::optional<Answer> cached = Cached("alice");
  if (cached.has_value()) {
    EXPECT_EQ(cached->record.generation(), now_generation) << "served the pre-refresh record";
  }
  AccessTokenResult after = Get("alice");
  EXPECT_EQ(after.record.generation(), now_generation);
  EXPECT_GT(after.record.access_token_expires_at_ms(), old.record.access_token_expires_at_ms());
}

TEST_F(TokenServiceCacheTest, ANewExchangeOfTheSameOpenidDropsTheCachedToken) {
  ExchangeResult first = Login("alice");
  Warm("alice");
  ExchangeResult again = Login("alice");
  ASSERT_NE(again.access_token, first.access_token);
  std::optional<Answer> cached = Cached("alice");
  if (cached.has_value()) {
    EXPECT_EQ(cached->access_token, again.access_token) << "served the previous login's token";
  }
  EXPECT_EQ(Get("alice").access_token, again.access_token);
  cached = Cached("alice");
  if (cached.has_value()) {
    EXPECT_EQ(cached->access_token, again.access_token);
  }
}

TEST_F(TokenServiceCacheTest, DeclinesWhenMinTtlIsNotMet) {
  Build(fake::FakeWeChatOptions(), KeepWarm(absl::ZeroDuration()));  // only the TTL matters here
  Login("alice");
  AccessTokenResult served = Get("alice");
  const int64_t expires_ms = served.record.access_token_expires_at_ms();
  // An explicit min_ttl, up to the 1 h maximum.
  EXPECT_TRUE(Cached("alice", absl::Hours(1)).has_value());
  harness_->clock.Advance(absl::Milliseconds(expires_ms - harness_->clock.NowMillis()) - absl::Hours(1) +
                          absl::Milliseconds(1));
  EXPECT_FALSE(Cached("alice", absl::Hours(1)).has_value());
  EXPECT_TRUE(Cached("alice").has_value()) << "the default 300 s is still met";
  // The default min_ttl (300 s): exactly 300 s left is enough, as for
  // GetAccessToken; one millisecond less is not.
  harness_->clock.Advance(absl::Milliseconds(expires_ms - harness_->clock.NowMillis()) - absl::Seconds(300));
  std::optional<Answer> at_limit = Cached("alice");
  ASSERT_TRUE(at_limit.has_value());
  EXPECT_EQ(at_limit->access_token, served.access_token);
  harness_->clock.Advance(absl::Milliseconds(1));
  EXPECT_FALSE(Cached("alice").has_value());
  EXPECT_TRUE(Cached("alice", absl::Seconds(1)).has_value()) << "a small explicit min_ttl is met";
  // GetAccessToken agrees: it refreshes now.
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 0);
  absl::StatusOr<AccessTokenResult> refreshed =
      service_->GetAccessToken(kApp, "alice", absl::ZeroDuration(), Deadline());
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  EXPECT_TRUE(refreshed->refreshed);
  EXPECT_EQ(Calls(FakeEndpoint::kRefreshToken), 1);
}

TEST_F(TokenServiceCacheTest, DeclinesOnceTheRefreshWindowEnded) {
  TokenServiceOptions options = KeepWarm(absl::Hours(4));
  options.refresh_token_ttl = absl::Hours(1);
  options.renew_before = absl::Minutes(10);
  Build(fake::FakeWeChatOptions(), options);
  ExchangeResult login = Login("alice");
  Warm("alice");
  const int64_t end_ms = login.record.refresh_token_expires_at_ms();
  harness_->clock.Advance(absl::Milliseconds(end_ms - 1 - harness_->clock.NowMillis()));
  EXPECT_TRUE(Cached("alice").has_value()) << "the access token has an hour left and the window 1 ms";
  harness_->clock.Advance(absl::Milliseconds(1));
  EXPECT_FALSE(Cached("alice").has_value());
  EXPECT_TRUE(IsError(service_->GetAccessToken(kApp, "alice", absl::ZeroDuration(), Deadline()).status(),
                      absl::StatusCode::kFailedPrecondition, "REAUTH_REQUIRED", absl::nullopt));
  EXPECT_FALSE(Cached("alice").has_value());
}

TEST_F(TokenServiceCacheTest, DeclinesInvalidArguments) {
  Login("alice");
  Warm("alice");
  ASSERT_TRUE(Cached("alice", absl::Hours(1)).has_value());
  EXPECT_FALSE(Cached("alice", absl::ZeroDuration(), "wxotherapp000001").has_value());
  EXPECT_FALSE(Cached("alice", absl::ZeroDuration(), "not-an-app").has_value());
  for (const std::string& openid : std::vector<std::string>{"", std::string(65, 'a'), "a/b", std::string("a\0b", 3)}) {
    EXPECT_FALSE(Cached(openid).has_value()) << openid;
  }
  EXPECT_FALSE(Cached("nobody").has_value());
  // GetAccessToken answers INVALID_ARGUMENT outside 0..1 h; so must this.
  EXPECT_FALSE(Cached("alice", absl::Seconds(3601)).has_value());
  EXPECT_FALSE(Cached("alice", absl::Seconds(-1)).has_value());
  EXPECT_TRUE(Cached("alice").has_value());
}

TEST_F(TokenServiceCacheTest, DeclinesWhenKeepWarmWouldRecordTheUse) {
  // Default keep-warm window 1 h: a use is recorded (written) when the last
  // recorded one is half a window old.
  ASSERT_EQ(service_->options().keep_warm_window, absl::Hours(1));
  Login("alice");
  AccessTokenResult warm = Warm("alice");
  const int64_t last_used_ms = warm.record.last_used_at_ms();
  harness_->clock.Advance(absl::Milliseconds(last_used_ms + 30 * 60 * 1000 - 1 - harness_->clock.NowMillis()));
  EXPECT_TRUE(Cached("alice").has_value());
  harness_->clock.Advance(absl::Milliseconds(1));
  EXPECT_FALSE(Cached("alice").has_value()) << "GetAccessToken would write the use now";
  const uint64_t generation = StoredGeneration("alice");
  AccessTokenResult recorded = Get("alice");
  EXPECT_EQ(StoredGeneration("alice"), generation + 1) << "and it did";
  EXPECT_FALSE(Cached("alice").has_value());
  Get("alice");
  std::optional<Answer> cached = Cached("alice");
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->record.generation(), generation + 1);
  EXPECT_EQ(cached->record.last_used_at_ms(), harness_->clock.NowMillis());
  EXPECT_EQ(cached->access_token, recorded.access_token);
}

TEST_F(TokenServiceCacheTest, ZeroEntriesDisablesTheCache) {
  TokenServiceOptions options = KeepWarm(absl::ZeroDuration());
  options.access_token_cache_entries = 0;
  Build(fake::FakeWeChatOptions(), options);
  Login("alice");
  for (int i = 0; i < 3; ++i) {
    Get("alice");
    EXPECT_FALSE(Cached("alice").has_value()) << "call " << i;
  }
}

// The race the epoch guards against, made deterministic: a GetAccessToken
// reads generation N, a Refresh commits N+1 (and is acknowledged), and only
// then does the reader try to cache what it read. It must not land.
TEST_F(TokenServiceCacheTest, AReadThatRacedARefreshIsNotCached) {
  Login("alice");
  Warm("alice");
  // The same vault behind a store that can pause a read; one TokenService
  // per store, so the harness's goes first.
  service_.reset();
  pausing_ = std::make_unique<PausingStore>(store_.get());
  absl::StatusOr<std::unique_ptr<TokenService>> service =
      TokenService::Create(ServiceDeps(pausing_.get()), TokenServiceOptions());
  ASSERT_TRUE(service.ok()) << service.status();
  service_ = *std::move(service);
  const AccessTokenResult old = Get("alice");
  ASSERT_TRUE(Cached("alice").has_value());

  pausing_->PauseNextGet();
  AccessTokenResult raced;
  std::thread reader([&] { raced = Get("alice"); });
  pausing_->WaitForPausedRead();
  absl::StatusOr<AccessTokenResult> refreshed = service_->Refresh(kApp, "alice", Deadline());
  EXPECT_TRUE(refreshed.ok()) << refreshed.status();
  EXPECT_FALSE(Cached("alice").has_value()) << "the refresh's commit drops the entry";
  pausing_->Release();
  reader.join();
  ASSERT_TRUE(refreshed.ok());
  EXPECT_EQ(raced.record.generation(), old.record.generation()) << "the reader answered from its earlier read";
  std::optional<Answer> cached = Cached("alice");
  if (cached.has_value()) {
    EXPECT_EQ(cached->record.generation(), refreshed->record.generation()) << "the raced read was cached";
  }
}

// Forced refreshes race GetAccessToken (which fills the cache) and cached
// lookups: a lookup never returns a generation older than the newest
// refresh acknowledged before it started.
TEST_F(TokenServiceCacheTest, RefreshesRacingReadersNeverServeAnAcknowledgedOldRecord) {
  Login("alice");
  Warm("alice");
  std::atomic<uint64_t> acknowledged{StoredGeneration("alice")};
  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  std::atomic<int> hits{0};
  std::thread refresher([&] {
    for (int i = 0; i < 25; ++i) {
      // Each refresh replaces a version the checker has seen cached (waiting
      // at most 1 s for it, so a loaded machine cannot leave it unscheduled).
      const int seen = hits.load();
      for (int wait = 0; wait < 1000 && hits.load() == seen; ++wait) absl::SleepFor(absl::Milliseconds(1));
      absl::StatusOr<AccessTokenResult> refreshed = service_->Refresh(kApp, "alice", Deadline());
      EXPECT_TRUE(refreshed.ok()) << refreshed.status();
      if (refreshed.ok()) acknowledged.store(refreshed->record.generation());
    }
    done.store(true);
  });
  std::thread filler([&] {
    while (!done.load()) {
      absl::StatusOr<AccessTokenResult> got =
          service_->GetAccessToken(kApp, "alice", absl::ZeroDuration(), Deadline());
      EXPECT_TRUE(got.ok()) << got.status();
    }
  });
  std::thread checker([&] {
    while (!done.load()) {
      const uint64_t floor = acknowledged.load();
      std::optional<Answer> cached = Cached("alice");
      if (!cached.has_value()) continue;
      ++hits;
      if (cached->record.generation() < floor) ++violations;
    }
  });
  refresher.join();
  filler.join();
  checker.join();
  EXPECT_EQ(violations.load(), 0) << "of " << hits.load() << " hits";
  EXPECT_GT(hits.load(), 0);
  std::optional<Answer> cached = Cached("alice");
  if (cached.has_value()) {
    EXPECT_EQ(cached->record.generation(), StoredGeneration("alice"));
  }
}

}  // namespace
}  // namespace wxvault::service

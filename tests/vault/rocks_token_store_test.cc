#include "vault/rocks_token_store.h"

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "vault/store_keys.h"

namespace wxvault::vault {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

TokenRecord MakeRecord(const TokenKey& key, int64_t next_due_ms, const std::string& key_id = "k1") {
  TokenRecord record;
  record.set_app_id(key.app_id);
  record.set_openid(key.openid);
  record.set_state(RECORD_STATE_ACTIVE);
  record.set_sealed_secrets("sealed-bytes");
  record.set_key_id(key_id);
  record.set_next_due_at_ms(next_due_ms);
  return record;
}

TokenWrite PutWrite(const TokenKey& key, int64_t next_due_ms, std::optional<uint64_t> expected = std::nullopt) {
  TokenWrite write;
  write.key = key;
  write.expected_generation = expected;
  write.put = MakeRecord(key, next_due_ms);
  return write;
}

EventRecord MakeEvent(EventType type, const TokenKey& key, int64_t at_ms) {
  EventRecord event;
  event.set_type(type);
  event.set_app_id(key.app_id);
  event.set_openid(key.openid);
  event.set_at_ms(at_ms);
  return event;
}

class RocksTokenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen(bool read_only = false) {
    store_.reset();
    RocksTokenStoreOptions options;
    options.path = dir_.Sub("vault");
    options.read_only = read_only;
    auto opened = RocksTokenStore::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = *std::move(opened);
  }

  wxvault::testing::TempDir dir_;
  std::unique_ptr<RocksTokenStore> store_;
};

TEST_F(RocksTokenStoreTest, PutGetAndGenerations) {
  TokenKey key{"wxapp", "openid-1"};
  EXPECT_TRUE(absl::IsNotFound(store_->GetToken(key).status()));
  auto first = store_->Commit(PutWrite(key, 1000, /*expected=*/0));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->generation, 1u);
  auto second = store_->Commit(PutWrite(key, 2000, /*expected=*/1));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->generation, 2u);
  auto record = store_->GetToken(key);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->generation(), 2u);
  EXPECT_EQ(record->next_due_at_ms(), 2000);
  EXPECT_EQ(record->sealed_secrets(), "sealed-bytes");
}

TEST_F(RocksTokenStoreTest, RejectsMalformedKeysAndWrites) {
  EXPECT_TRUE(absl::IsInvalidArgument(store_->GetToken({"", "x"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store_->GetToken({"a", std::string(129, 'x')}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store_->GetToken({"a", std::string("x\0y", 3)}).status()));
  TokenWrite both = PutWrite({"a", "b"}, 0);
  both.erase = true;
  EXPECT_TRUE(absl::IsInvalidArgument(store_->Commit(both).status()));
  TokenWrite mismatched = PutWrite({"a", "b"}, 0);
  mismatched.key.openid = "c";
  EXPECT_TRUE(absl::IsInvalidArgument(store_->Commit(mismatched).status()));
  TokenWrite keyless = PutWrite({"a", "b"}, 0);
  keyless.put->clear_key_id();
  EXPECT_TRUE(absl::IsInvalidArgument(store_->Commit(keyless).status()));
}

TEST_F(RocksTokenStoreTest, ConditionalWriteConflictChangesNothing) {
  TokenKey key{"wxapp", "o1"};
  ASSERT_TRUE(store_->Commit(PutWrite(key, 1000, 0)).ok());
  // Must-not-exist on an existing record.
  EXPECT_TRUE(absl::IsAborted(store_->Commit(PutWrite(key, 5, 0)).status()));
  // Stale generation, with events and an exchange entry riding along.
  TokenWrite stale = PutWrite(key, 5, /*expected=*/7);
  stale.events.push_back(MakeEvent(EVENT_TYPE_REFRESHED, key, 1));
  stale.exchange_digest = "digest";
  stale.exchange.emplace().set_expires_at_ms(1'000'000);
  EXPECT_TRUE(absl::IsAborted(store_->Commit(stale).status()));
  EXPECT_EQ(store_->GetToken(key)->next_due_at_ms(), 1000);
  EXPECT_THAT(*store_->ReadDue(10'000, 10), SizeIs(1));
  EXPECT_THAT(*store_->ReadEvents(0, 10), IsEmpty());
  EXPECT_TRUE(absl::IsNotFound(store_->GetExchange("digest", 0).status()));
}

TEST_F(RocksTokenStoreTest, RevokeWinsOverALateRefresh) {
  // The refresher read generation 1, then a revoke committed generation 2;
  // the refresher's write must not bring the secrets back.
  TokenKey key{"wxapp", "o1"};
  ASSERT_TRUE(store_->Commit(PutWrite(key, 1000, 0)).ok());
  TokenWrite revoke;
  revoke.key = key;
  revoke.put = MakeRecord(key, 0, "");
  revoke.put->set_state(RECORD_STATE_REVOKED);
  revoke.put->clear_sealed_secrets();
  ASSERT_TRUE(store_->Commit(revoke).ok());
  EXPECT_TRUE(absl::IsAborted(store_->Commit(PutWrite(key, 2000, /*expected=*/1)).status()));
  auto record = store_->GetToken(key);
  EXPECT_EQ(record->state(), RECORD_STATE_REVOKED);
  EXPECT_TRUE(record->sealed_secrets().empty());
}

TEST_F(RocksTokenStoreTest, ConcurrentConditionalUpdatesSerialize) {
  TokenKey key{"wxapp", "hot"};
  ASSERT_TRUE(store_->Commit(PutWrite(key, 1, 0)).ok());
  std::atomic<int> successes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        auto current = store_->GetToken(key);
        if (!current.ok()) continue;
        if (store_->Commit(PutWrite(key, i + 2, current->generation())).ok()) ++successes;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(successes.load(), 0);
  EXPECT_EQ(store_->GetToken(key)->generation(), 1u + successes.load());
  // Exactly one schedule entry survives all the moves.
  EXPECT_THAT(*store_->ReadDue(1'000'000, 100), SizeIs(1));
}

TEST_F(RocksTokenStoreTest, ScheduleIndexFollowsTheRecord) {
  TokenKey a{"wxapp", "a"}, b{"wxapp", "b"}, c{"wxapp", "c"};
  ASSERT_TRUE(store_->Commit(PutWrite(a, 3000)).ok());
  ASSERT_TRUE(store_->Commit(PutWrite(b, 1000)).ok());
  ASSERT_TRUE(store_->Commit(PutWrite(c, 2000)).ok());
  EXPECT_EQ(**store_->NextDueAt(), 1000);
  auto due = store_->ReadDue(2500, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_THAT(*due, SizeIs(2));
  EXPECT_EQ((*due)[0].key, b);
  EXPECT_EQ((*due)[0].due_at_ms, 1000);
  EXPECT_EQ((*due)[1].key, c);
  // Move b later: its old entry disappears.
  ASSERT_TRUE(store_->Commit(PutWrite(b, 5000)).ok());
  due = store_->ReadDue(2500, 10);
  ASSERT_THAT(*due, SizeIs(1));
  EXPECT_EQ((*due)[0].key, c);
  // Unschedule c (next_due 0) and erase a.
  ASSERT_TRUE(store_->Commit(PutWrite(c, 0)).ok());
  TokenWrite erase;
  erase.key = a;
  erase.erase = true;
  ASSERT_TRUE(store_->Commit(erase).ok());
  due = store_->ReadDue(1'000'000, 10);
  ASSERT_THAT(*due, SizeIs(1));
  EXPECT_EQ((*due)[0].key, b);
  EXPECT_EQ((*due)[0].due_at_ms, 5000);
  // Limit is honoured.
  EXPECT_THAT(*store_->ReadDue(1'000'000, 0), IsEmpty());
}

TEST_F(RocksTokenStoreTest, ReadDueExaminesOnlyDueEntries) {
  constexpr int kNotDue = 10'000;
  for (int i = 0; i < kNotDue; ++i) {
    TokenWrite w = PutWrite({"wxapp", absl::StrCat("later-", i)}, 1'000'000 + i);
    ASSERT_TRUE(store_->Commit(w).ok());
  }
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->Commit(PutWrite({"wxapp", absl::StrCat("due-", i)}, 100 + i)).ok());
  }
  const uint64_t before = store_->Stats()->schedule_entries_examined;
  auto due = store_->ReadDue(500, 100);
  ASSERT_TRUE(due.ok());
  EXPECT_THAT(*due, SizeIs(5));
  EXPECT_EQ(store_->Stats()->schedule_entries_examined - before, 5u);
}

TEST_F(RocksTokenStoreTest, RecordAndIndexesStayConsistentAcrossReopen) {
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(store_->Commit(PutWrite({"wxapp", absl::StrCat("u", i)}, 100 + i)).ok());
  }
  for (int i = 0; i < 50; i += 2) {
    ASSERT_TRUE(store_->Commit(PutWrite({"wxapp", absl::StrCat("u", i)}, 10'000 + i)).ok());
  }
  Reopen();
  auto due = store_->ReadDue(1'000'000, 1000);
  ASSERT_THAT(*due, SizeIs(50));
  for (const DueEntry& entry : *due) {
    auto record = store_->GetToken(entry.key);
    ASSERT_TRUE(record.ok());
    EXPECT_EQ(record->next_due_at_ms(), entry.due_at_ms);
  }
  EXPECT_EQ(store_->Stats()->tokens_by_state[RECORD_STATE_ACTIVE], 50);
}

TEST_F(RocksTokenStoreTest, CountsByStateTrackEveryChange) {
  TokenKey a{"wxapp", "a"}, b{"wxapp", "b"};
  ASSERT_TRUE(store_->Commit(PutWrite(a, 0)).ok());
  ASSERT_TRUE(store_->Commit(PutWrite(b, 0)).ok());
  TokenWrite reauth = PutWrite(b, 0);
  reauth.put->set_state(RECORD_STATE_REAUTH_REQUIRED);
  ASSERT_TRUE(store_->Commit(reauth).ok());
  auto stats = store_->Stats();
  EXPECT_EQ(stats->tokens_by_state[RECORD_STATE_ACTIVE], 1);
  EXPECT_EQ(stats->tokens_by_state[RECORD_STATE_REAUTH_REQUIRED], 1);
  EXPECT_EQ(stats->total_tokens, 2);
  TokenWrite erase;
  erase.key = a;
  erase.erase = true;
  ASSERT_TRUE(store_->Commit(erase).ok());
  // Erasing an absent record changes no count.
  ASSERT_TRUE(store_->Commit(erase).ok());
  Reopen();
  stats = store_->Stats();
  EXPECT_EQ(stats->tokens_by_state[RECORD_STATE_ACTIVE], 0);
  EXPECT_EQ(stats->total_tokens, 1);
  EXPECT_GT(stats->data_size_bytes, 0u);
}

TEST_F(RocksTokenStoreTest, ExchangeEntriesExpireAndPurge) {
  TokenKey key{"wxapp", "o1"};
  TokenWrite write = PutWrite(key, 0);
  write.exchange_digest = "d1";
  write.exchange.emplace();
  write.exchange->set_app_id("wxapp");
  write.exchange->set_openid("o1");
  write.exchange->set_expires_at_ms(1000);
  ASSERT_TRUE(store_->Commit(write).ok());
  TokenWrite second;
  second.key = key;
  second.exchange_digest = "d2";
  second.exchange.emplace().set_expires_at_ms(5000);
  ASSERT_TRUE(store_->Commit(second).ok());

  auto hit = store_->GetExchange("d1", 999);
  ASSERT_TRUE(hit.ok());
  EXPECT_EQ(hit->openid(), "o1");
  EXPECT_TRUE(absl::IsNotFound(store_->GetExchange("d1", 1000).status()));
  EXPECT_TRUE(absl::IsNotFound(store_->GetExchange("nope", 0).status()));

  EXPECT_EQ(*store_->PurgeExpiredExchanges(1000, 100), 1u);
  EXPECT_TRUE(store_->GetExchange("d2", 1000).ok());
  EXPECT_EQ(*store_->PurgeExpiredExchanges(1000, 100), 0u);
  EXPECT_EQ(*store_->PurgeExpiredExchanges(6000, 100), 1u);
  EXPECT_TRUE(absl::IsNotFound(store_->GetExchange("d2", 0).status()));
}

TEST_F(RocksTokenStoreTest, PurgeKeepsADigestReusedWithLaterExpiry) {
  TokenWrite first;
  first.key = {"wxapp", "o1"};
  first.exchange_digest = "d";
  first.exchange.emplace().set_expires_at_ms(1000);
  ASSERT_TRUE(store_->Commit(first).ok());
  first.exchange->set_expires_at_ms(9000);
  ASSERT_TRUE(store_->Commit(first).ok());
  EXPECT_EQ(*store_->PurgeExpiredExchanges(2000, 100), 1u);  // the stale expiry key
  EXPECT_TRUE(store_->GetExchange("d", 2000).ok());
}

TEST_F(RocksTokenStoreTest, EventLogIsOrderedResumableAndDurable) {
  TokenKey key{"wxapp", "o1"};
  for (int i = 0; i < 5; ++i) {
    TokenWrite write = PutWrite(key, 0);
    write.events.push_back(MakeEvent(EVENT_TYPE_REFRESHED, key, 100 + i));
    auto result = store_->Commit(write);
    ASSERT_TRUE(result.ok());
    EXPECT_THAT(result->event_sequences, ElementsAre(static_cast<uint64_t>(i + 1)));
  }
  auto events = store_->ReadEvents(0, 100);
  ASSERT_THAT(*events, SizeIs(5));
  for (int i = 0; i < 5; ++i) EXPECT_EQ((*events)[i].sequence(), static_cast<uint64_t>(i + 1));
  events = store_->ReadEvents(3, 100);
  ASSERT_THAT(*events, SizeIs(2));
  EXPECT_EQ((*events)[0].sequence(), 4u);
  EXPECT_EQ((*events)[0].at_ms(), 103);
  EXPECT_THAT(*store_->ReadEvents(1, 2), SizeIs(2));

  Reopen();
  TokenWrite write;
  write.key = key;
  write.events.push_back(MakeEvent(EVENT_TYPE_REVOKED, key, 200));
  auto result = store_->Commit(write);
  ASSERT_TRUE(result.ok());
  EXPECT_THAT(result->event_sequences, ElementsAre(6u));
  EXPECT_THAT(*store_->ReadEvents(5, 10), SizeIs(1));
}

TEST_F(RocksTokenStoreTest, EventListenerHearsEveryEventCommit) {
  std::vector<uint64_t> heard;
  store_->SetEventListener([&heard](uint64_t readable) { heard.push_back(readable); });
  TokenKey key{"wxapp", "o1"};
  TokenWrite with_events = PutWrite(key, 0);
  with_events.events.push_back(MakeEvent(EVENT_TYPE_CREATED, key, 1));
  with_events.events.push_back(MakeEvent(EVENT_TYPE_REFRESHED, key, 2));
  ASSERT_TRUE(store_->Commit(with_events).ok());
  ASSERT_TRUE(store_->Commit(PutWrite(key, 5)).ok());  // no events: no call
  EXPECT_THAT(heard, ElementsAre(2u));
  store_->SetEventListener(nullptr);
  ASSERT_TRUE(store_->Commit(with_events).ok());
  EXPECT_THAT(heard, SizeIs(1));
}

TEST_F(RocksTokenStoreTest, TrimEventsKeepsTheNewestSoSequencesNeverRepeat) {
  TokenKey key{"wxapp", "o1"};
  for (int i = 0; i < 4; ++i) {
    TokenWrite write;
    write.key = key;
    write.events.push_back(MakeEvent(EVENT_TYPE_REFRESHED, key, 100 + i));
    ASSERT_TRUE(store_->Commit(write).ok());
  }
  EXPECT_EQ(*store_->TrimEvents(102, 100), 2u);
  EXPECT_EQ(store_->Stats()->first_event_sequence, 3u);
  EXPECT_EQ(*store_->TrimEvents(1'000'000, 100), 1u);  // the newest stays
  Reopen();
  TokenWrite write;
  write.key = key;
  write.events.push_back(MakeEvent(EVENT_TYPE_REVOKED, key, 500));
  EXPECT_THAT(store_->Commit(write)->event_sequences, ElementsAre(5u));
}

TEST_F(RocksTokenStoreTest, ConcurrentEventWritersNeverExposeAGap) {
  constexpr int kThreads = 8, kPerThread = 50;
  std::atomic<bool> done{false};
  std::vector<uint64_t> seen;
  std::thread reader([&] {
    uint64_t after = 0;
    while (!done.load() || after < kThreads * kPerThread) {
      auto events = store_->ReadEvents(after, 1000);
      ASSERT_TRUE(events.ok());
      for (const EventRecord& e : *events) {
        ASSERT_EQ(e.sequence(), after + 1) << "reader skipped an event";
        after = e.sequence();
        seen.push_back(after);
      }
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        TokenKey key{"wxapp", absl::StrCat("t", t, "-", i)};
        TokenWrite write = PutWrite(key, 0);
        write.events.push_back(MakeEvent(EVENT_TYPE_CREATED, key, i));
        ASSERT_TRUE(store_->Commit(write).ok());
      }
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  reader.join();
  EXPECT_THAT(seen, SizeIs(kThreads * kPerThread));
}

TEST_F(RocksTokenStoreTest, ListTokensPagesFiltersAndRejectsBadTokens) {
  for (int i = 0; i < 15; ++i) ASSERT_TRUE(store_->Commit(PutWrite({"wxa", absl::StrCat("u", 10 + i)}, 0)).ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store_->Commit(PutWrite({"wxb", absl::StrCat("u", 10 + i)}, 0)).ok());
  TokenWrite reauth = PutWrite({"wxb", "u12"}, 0);
  reauth.put->set_state(RECORD_STATE_REAUTH_REQUIRED);
  ASSERT_TRUE(store_->Commit(reauth).ok());

  ListTokensOptions options;
  options.page_size = 10;
  std::vector<std::string> all;
  for (int page = 0; page < 10; ++page) {
    auto result = store_->ListTokens(options);
    ASSERT_TRUE(result.ok()) << result.status();
    for (const auto& r : result->records) all.push_back(absl::StrCat(r.app_id(), "/", r.openid()));
    if (result->next_page_token.empty()) break;
    options.page_token = result->next_page_token;
  }
  EXPECT_THAT(all, SizeIs(25));
  EXPECT_EQ(all.front(), "wxa/u10");
  EXPECT_EQ(all.back(), "wxb/u19");

  ListTokensOptions by_app;
  by_app.app_id = "wxb";
  by_app.page_size = 100;
  EXPECT_THAT(store_->ListTokens(by_app)->records, SizeIs(10));
  by_app.state = RECORD_STATE_REAUTH_REQUIRED;
  auto reauth_page = store_->ListTokens(by_app);
  ASSERT_THAT(reauth_page->records, SizeIs(1));
  EXPECT_EQ(reauth_page->records[0].openid(), "u12");

  ListTokensOptions bad;
  bad.page_token = "%%%not-a-token";
  EXPECT_TRUE(absl::IsInvalidArgument(store_->ListTokens(bad).status()));
  bad.page_token.clear();
  bad.page_size = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(store_->ListTokens(bad).status()));
}

TEST_F(RocksTokenStoreTest, KeyIndexTracksSecretsAndProfiles) {
  TokenKey a{"wxapp", "a"}, b{"wxapp", "b"};
  ASSERT_TRUE(store_->Commit(PutWrite(a, 0)).ok());  // k1
  TokenWrite with_profile;
  with_profile.key = b;
  with_profile.put = MakeRecord(b, 0, "k2");
  with_profile.profile.emplace();
  with_profile.profile->set_sealed_profile("sealed-profile");
  with_profile.profile->set_key_id("k1");
  ASSERT_TRUE(store_->Commit(with_profile).ok());
  EXPECT_THAT(*store_->KeyIdsInUse(), ElementsAre("k1", "k2"));
  EXPECT_THAT(store_->Stats()->sealed_by_key,
              ::testing::UnorderedElementsAre(::testing::Pair("k1", 2), ::testing::Pair("k2", 1)));
  auto refs = store_->ListSealedByKey("k1", std::nullopt, 10);
  ASSERT_THAT(*refs, SizeIs(2));
  auto page = store_->ListSealedByKey("k1", (*refs)[0], 10);
  ASSERT_THAT(*page, SizeIs(1));
  EXPECT_EQ((*page)[0].key, (*refs)[1].key);

  // Re-seal a under k2 and drop b's profile: k1 is no longer in use.
  ASSERT_TRUE(store_->Commit(PutWrite(a, 0)).ok());
  TokenWrite resealed;
  resealed.key = a;
  resealed.put = MakeRecord(a, 0, "k2");
  ASSERT_TRUE(store_->Commit(resealed).ok());
  TokenWrite drop_profile;
  drop_profile.key = b;
  drop_profile.erase_profile = true;
  ASSERT_TRUE(store_->Commit(drop_profile).ok());
  EXPECT_TRUE(absl::IsNotFound(store_->GetProfile(b).status()));
  EXPECT_THAT(*store_->KeyIdsInUse(), ElementsAre("k2"));
  EXPECT_THAT(store_->Stats()->sealed_by_key, ::testing::ElementsAre(::testing::Pair("k2", 2)));
}

TEST_F(RocksTokenStoreTest, EraseRemovesProfileToo) {
  TokenKey key{"wxapp", "o"};
  TokenWrite write = PutWrite(key, 10);
  write.profile.emplace();
  write.profile->set_sealed_profile("p");
  write.profile->set_key_id("k1");
  write.profile->set_fetched_at_ms(42);
  ASSERT_TRUE(store_->Commit(write).ok());
  EXPECT_EQ(store_->GetProfile(key)->fetched_at_ms(), 42);
  TokenWrite erase;
  erase.key = key;
  erase.erase = true;
  ASSERT_TRUE(store_->Commit(erase).ok());
  EXPECT_TRUE(absl::IsNotFound(store_->GetProfile(key).status()));
  EXPECT_TRUE(absl::IsNotFound(store_->GetToken(key).status()));
  EXPECT_THAT(*store_->KeyIdsInUse(), IsEmpty());
  EXPECT_THAT(*store_->ReadDue(1000, 10), IsEmpty());
}

TEST_F(RocksTokenStoreTest, MetaRoundTrip) {
  ASSERT_TRUE(store_->PutMeta("keycheck/k1", "v1").ok());
  ASSERT_TRUE(store_->PutMeta("keycheck/k2", "v2").ok());
  ASSERT_TRUE(store_->PutMeta("other", "x").ok());
  EXPECT_EQ(*store_->GetMeta("keycheck/k1"), "v1");
  EXPECT_THAT(*store_->ListMeta("keycheck/"), SizeIs(2));
  ASSERT_TRUE(store_->DeleteMeta("keycheck/k1").ok());
  EXPECT_TRUE(absl::IsNotFound(store_->GetMeta("keycheck/k1").status()));
}

TEST_F(RocksTokenStoreTest, ReadOnlyOpenRefusesWritesAndCreatesNothing) {
  ASSERT_TRUE(store_->Commit(PutWrite({"wxapp", "o"}, 0)).ok());
  Reopen(/*read_only=*/true);
  EXPECT_TRUE(store_->GetToken({"wxapp", "o"}).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(store_->Commit(PutWrite({"wxapp", "p"}, 0)).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(store_->PutMeta("x", "y")));

  RocksTokenStoreOptions options;
  options.path = dir_.Sub("absent");
  options.read_only = true;
  EXPECT_TRUE(absl::IsNotFound(RocksTokenStore::Open(options).status()));
  EXPECT_FALSE(std::filesystem::exists(options.path));
}

TEST_F(RocksTokenStoreTest, SecondOpenOfTheSameDirectoryIsUnavailable) {
  RocksTokenStoreOptions options;
  options.path = dir_.Sub("vault");
  EXPECT_TRUE(absl::IsUnavailable(RocksTokenStore::Open(options).status()));
}

TEST_F(RocksTokenStoreTest, BackupIsAnOpenableCopy) {
  ASSERT_TRUE(store_->Commit(PutWrite({"wxapp", "o"}, 77)).ok());
  auto backup = store_->CreateBackup(dir_.Sub("backup1"));
  ASSERT_TRUE(backup.ok()) << backup.status();
  EXPECT_GT(backup->size_bytes, 0u);
  EXPECT_TRUE(absl::IsAlreadyExists(store_->CreateBackup(dir_.Sub("backup1")).status()));
  // Later writes do not reach the backup.
  ASSERT_TRUE(store_->Commit(PutWrite({"wxapp", "later"}, 0)).ok());
  RocksTokenStoreOptions options;
  options.path = backup->directory;
  auto restored = RocksTokenStore::Open(options);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ((*restored)->GetToken({"wxapp", "o"})->next_due_at_ms(), 77);
  EXPECT_TRUE(absl::IsNotFound((*restored)->GetToken({"wxapp", "later"}).status()));
}

TEST_F(RocksTokenStoreTest, CompactKeepsData) {
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(store_->Commit(PutWrite({"wxapp", absl::StrCat(i)}, i + 1)).ok());
  ASSERT_TRUE(store_->Compact().ok());
  EXPECT_EQ(store_->Stats()->total_tokens, 100);
  EXPECT_THAT(*store_->ReadDue(1000, 1000), SizeIs(100));
}

TEST(RocksTokenStoreOptionsTest, ValidateNamesTheBadField) {
  RocksTokenStoreOptions options;
  EXPECT_THAT(std::string(options.Validate().message()), ::testing::HasSubstr("path"));
  options.path = "/tmp/x";
  EXPECT_TRUE(options.Validate().ok());
  options.block_cache_bytes = 1;
  EXPECT_THAT(std::string(options.Validate().message()), ::testing::HasSubstr("block_cache_bytes"));
}

TEST(StoreKeysTest, EncodingsRoundTripAndSortNumerically) {
  namespace keys = store_keys;
  TokenKey key{"wxapp", "openid"};
  EXPECT_EQ(*keys::ParseTokenKeyBytes(keys::TokenKeyBytes(key)), key);
  EXPECT_LT(keys::ScheduleKey(255, key), keys::ScheduleKey(256, key));
  auto entry = keys::ParseScheduleKey(keys::ScheduleKey(123456789, key));
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->due_at_ms, 123456789);
  EXPECT_EQ(entry->key, key);
  EXPECT_EQ(*keys::DecodePageToken(keys::EncodePageToken(key)), key);
  EXPECT_FALSE(keys::DecodePageToken("!!").has_value());
  auto parsed = keys::ParseKeyIndexKey(keys::KeyIndexKey("k1", SealedKind::kProfile, key));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->first, "k1");
  EXPECT_EQ(parsed->second.kind, SealedKind::kProfile);
  EXPECT_EQ(parsed->second.key, key);
}

}  // namespace
}  // namespace wxvault::vault

// AccessTokenCache on its own: lookups, the epoch check that keeps a read
// racing a write from planting a stale record, generations, the capacity
// bound, and a stress run against a simulated store.
#include "service/access_token_cache.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace wxvault::service {
namespace {

constexpr char kApp[] = "wxfakeapp0000001";

vault::TokenRecord Record(const std::string& openid, uint64_t generation) {
  vault::TokenRecord record;
  record.set_app_id(kApp);
  record.set_openid(openid);
  record.set_state(vault::RECORD_STATE_ACTIVE);
  record.set_generation(generation);
  record.set_access_token_expires_at_ms(1'000'000 + static_cast<int64_t>(generation));
  return record;
}

vault::TokenKey Key(const std::string& openid) { return {kApp, openid}; }

// Epoch, then Insert: what a reader with nothing racing it does.
void Fill(AccessTokenCache& cache, const std::string& openid, uint64_t generation, const std::string& token) {
  const uint64_t epoch = cache.Epoch(Key(openid));
  cache.Insert(epoch, Record(openid, generation), token);
}

TEST(AccessTokenCacheTest, LookupFindsWhatWasInserted) {
  AccessTokenCache cache(100);
  EXPECT_EQ(cache.Lookup(kApp, "alice"), nullptr);
  Fill(cache, "alice", 3, "at-alice-3");
  Fill(cache, "bob", 1, "at-bob-1");
  std::shared_ptr<const CachedAccessToken> hit = cache.Lookup(kApp, "alice");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->access_token.view(), "at-alice-3");
  EXPECT_EQ(hit->record.openid(), "alice");
  EXPECT_EQ(hit->record.generation(), 3u);
  EXPECT_EQ(hit->record.access_token_expires_at_ms(), 1'000'003);
  // A lookup shares the entry: it stays cached.
  std::shared_ptr<const CachedAccessToken> again = cache.Lookup(kApp, "alice");
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->access_token.view(), "at-alice-3");
  hit = cache.Lookup(kApp, "bob");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->access_token.view(), "at-bob-1");
  EXPECT_EQ(cache.Lookup(kApp, "carol"), nullptr);
  EXPECT_EQ(cache.Lookup("wxotherapp000001", "alice"), nullptr) << "the app is part of the key";
  EXPECT_EQ(cache.size(), 2u);
}

TEST(AccessTokenCacheTest, InvalidateForgetsTheEntry) {
  AccessTokenCache cache(100);
  Fill(cache, "alice", 1, "at-1");
  Fill(cache, "bob", 1, "at-bob");
  std::shared_ptr<const CachedAccessToken> held = cache.Lookup(kApp, "bob");
  cache.Invalidate(Key("alice"));
  EXPECT_EQ(cache.Lookup(kApp, "alice"), nullptr);
  EXPECT_NE(cache.Lookup(kApp, "bob"), nullptr) << "only the invalidated key goes";
  EXPECT_EQ(cache.size(), 1u);
  cache.Invalidate(Key("nobody"));  // nothing cached: harmless
  EXPECT_EQ(cache.size(), 1u);
  // A reader still holding an entry keeps it intact after the invalidation.
  cache.Invalidate(Key("bob"));
  EXPECT_EQ(cache.Lookup(kApp, "bob"), nullptr);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->access_token.view(), "at-bob");
  EXPECT_EQ(held->record.openid(), "bob");
}

TEST(AccessTokenCacheTest, TheRenderedAnswerIsPerEntryAndBuiltOnce) {
  AccessTokenCache cache(100);
  Fill(cache, "alice", 1, "at-1");
  int renders = 0;
  std::shared_ptr<const CachedAccessToken> first = cache.Lookup(kApp, "alice");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->Rendered([&] { ++renders; return std::string("answer-1"); }), "answer-1");
  std::shared_ptr<const CachedAccessToken> again = cache.Lookup(kApp, "alice");
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->Rendered([&] { ++renders; return std::string("other"); }), "answer-1");
  EXPECT_EQ(renders, 1);
  // A new version of the token (after a write) is a new entry, rendered anew:
  // the old answer is never sent for it.
  cache.Invalidate(Key("alice"));
  Fill(cache, "alice", 2, "at-2");
  std::shared_ptr<const CachedAccessToken> second = cache.Lookup(kApp, "alice");
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->Rendered([&] { ++renders; return std::string("answer-2"); }), "answer-2");
  EXPECT_EQ(renders, 2);
  // So is a newer generation that replaces an entry without an invalidation.
  Fill(cache, "alice", 3, "at-3");
  std::shared_ptr<const CachedAccessToken> third = cache.Lookup(kApp, "alice");
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(third->Rendered([&] { ++renders; return std::string("answer-3"); }), "answer-3");
}

TEST(AccessTokenCacheTest, LookupOnThisThreadNeverReturnsAnInvalidatedEntry) {
  AccessTokenCache cache(100);
  Fill(cache, "alice", 1, "at-1");
  const CachedAccessToken* hit = cache.LookupOnThisThread(kApp, "alice");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->access_token.view(), "at-1");
  EXPECT_EQ(cache.LookupOnThisThread(kApp, "alice"), hit) << "a repeated hit is the remembered entry";
  // Another thread commits a write of the token.
  std::thread([&cache] { cache.Invalidate(Key("alice")); }).join();
  EXPECT_EQ(cache.LookupOnThisThread(kApp, "alice"), nullptr) << "served the remembered, invalidated entry";
  Fill(cache, "alice", 2, "at-2");
  hit = cache.LookupOnThisThread(kApp, "alice");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->record.generation(), 2u);
  EXPECT_EQ(hit->access_token.view(), "at-2");
}

TEST(AccessTokenCacheTest, LookupOnThisThreadSeesANewerGenerationReplaceTheRememberedOne) {
  AccessTokenCache cache(100);
  Fill(cache, "alice", 1, "at-1");
  ASSERT_NE(cache.LookupOnThisThread(kApp, "alice"), nullptr);
  // Replaced by another thread, without an invalidation.
  std::thread([&cache] { Fill(cache, "alice", 2, "at-2"); }).join();
  const CachedAccessToken* hit = cache.LookupOnThisThread(kApp, "alice");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->record.generation(), 2u);
  EXPECT_EQ(hit->access_token.view(), "at-2");
}

TEST(AccessTokenCacheTest, LookupOnThisThreadKeepsKeysAndCachesApart) {
  // Many more keys than a thread remembers: each lookup is its own key's.
  AccessTokenCache cache(1000);
  for (int i = 0; i < 100; ++i) Fill(cache, absl::StrCat("user", i), 1, absl::StrCat("at-", i));
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 100; ++i) {
      const CachedAccessToken* hit = cache.LookupOnThisThread(kApp, absl::StrCat("user", i));
      ASSERT_NE(hit, nullptr) << i;
      ASSERT_EQ(hit->access_token.view(), absl::StrCat("at-", i));
    }
  }
  EXPECT_EQ(cache.LookupOnThisThread(kApp, "nobody"), nullptr);
  EXPECT_EQ(cache.LookupOnThisThread("wxotherapp000001", "user1"), nullptr);
  // Another cache: never what this thread remembered from the first one.
  ASSERT_NE(cache.LookupOnThisThread(kApp, "user1"), nullptr);
  AccessTokenCache other(100);
  EXPECT_EQ(other.LookupOnThisThread(kApp, "user1"), nullptr);
  Fill(other, "user1", 1, "other-at");
  const CachedAccessToken* hit = other.LookupOnThisThread(kApp, "user1");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->access_token.view(), "other-at");
  hit = cache.LookupOnThisThread(kApp, "user1");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->access_token.view(), "at-1");
}

TEST(AccessTokenCacheTest, InsertAfterAnInvalidationSinceItsEpochIsDropped) {
  // The read/write race: a reader takes the epoch and reads generation 1; a
  // writer commits generation 2 and invalidates; the reader's insert of the
  // record it read must not land.
  AccessTokenCache cache(100);
  const uint64_t before_read = cache.Epoch(Key("alice"));
  cache.Invalidate(Key("alice"));
  cache.Insert(before_read, Record("alice", 1), "at-stale");
  std::shared_ptr<const CachedAccessToken> hit;
  hit = cache.Lookup(kApp, "alice");
  EXPECT_EQ(hit, nullptr);
  EXPECT_EQ(cache.size(), 0u);
  // Also when an entry was there: the invalidation removes it and the late
  // insert does not put it (or its older copy) back.
  Fill(cache, "alice", 2, "at-2");
  const uint64_t stale_epoch = cache.Epoch(Key("alice"));
  cache.Invalidate(Key("alice"));
  cache.Insert(stale_epoch, Record("alice", 2), "at-2");
  hit = cache.Lookup(kApp, "alice");
  EXPECT_EQ(hit, nullptr);
  // A reader that starts after the invalidation fills the cache again.
  EXPECT_NE(cache.Epoch(Key("alice")), stale_epoch);
  Fill(cache, "alice", 3, "at-3");
  hit = cache.Lookup(kApp, "alice");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->access_token.view(), "at-3");
}

TEST(AccessTokenCacheTest, AnOlderGenerationNeverReplacesANewerOne) {
  AccessTokenCache cache(100);
  Fill(cache, "alice", 5, "at-5");
  Fill(cache, "alice", 4, "at-4");
  std::shared_ptr<const CachedAccessToken> hit;
  hit = cache.Lookup(kApp, "alice");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->record.generation(), 5u);
  EXPECT_EQ(hit->access_token.view(), "at-5");
  Fill(cache, "alice", 6, "at-6");
  hit = cache.Lookup(kApp, "alice");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->record.generation(), 6u);
  EXPECT_EQ(hit->access_token.view(), "at-6");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(AccessTokenCacheTest, SizeStaysWithinTheCapacityRoundedUpToShards) {
  constexpr size_t kShards = 16;
  for (size_t capacity : {size_t{1}, size_t{40}, size_t{64}}) {
    SCOPED_TRACE(capacity);
    AccessTokenCache cache(capacity);
    const size_t bound = (capacity + kShards - 1) / kShards * kShards;
    for (int i = 0; i < 2000; ++i) {
      const std::string openid = absl::StrCat("user", i);
      const std::string token = absl::StrCat("at-", i);
      Fill(cache, openid, 1, token);
      // Eviction makes room before the insert: the newest entry is there.
      std::shared_ptr<const CachedAccessToken> hit;
      hit = cache.Lookup(kApp, openid);
      ASSERT_NE(hit, nullptr) << openid;
      ASSERT_EQ(hit->access_token.view(), token);
      ASSERT_LE(cache.size(), bound) << "after " << i + 1 << " inserts";
    }
    // 2000 keys over 16 shards fill every shard.
    EXPECT_EQ(cache.size(), bound);
    // What survived eviction is still each key's own entry.
    for (int i = 0; i < 2000; ++i) {
      std::shared_ptr<const CachedAccessToken> hit;
      hit = cache.Lookup(kApp, absl::StrCat("user", i));
      if (hit != nullptr) {
        EXPECT_EQ(hit->access_token.view(), absl::StrCat("at-", i));
        EXPECT_EQ(hit->record.openid(), absl::StrCat("user", i));
      }
    }
  }
}

TEST(AccessTokenCacheTest, CapacityZeroKeepsNothing) {
  AccessTokenCache cache(0);
  for (int i = 0; i < 100; ++i) Fill(cache, absl::StrCat("user", i), 1, "at");
  EXPECT_EQ(cache.size(), 0u);
  std::shared_ptr<const CachedAccessToken> hit;
  hit = cache.Lookup(kApp, "user0");
  EXPECT_EQ(hit, nullptr);
  hit = cache.Lookup(kApp, "user99");
  EXPECT_EQ(hit, nullptr);
}

// Several threads on the same few keys, against a simulated store whose
// Commit applies the write, invalidates (the commit listener), then
// acknowledges. Readers fill the cache the way GetAccessToken does (epoch,
// read, insert); checkers assert that a lookup never returns a generation
// older than the newest write acknowledged before the lookup began.
TEST(AccessTokenCacheTest, ConcurrentReadersNeverPlantARecordOlderThanAnAcknowledgedWrite) {
  constexpr int kKeys = 3;
  constexpr int kWrites = 3000;
  constexpr int kReaders = 3;
  struct SimKey {
    absl::Mutex write_mu;                // the store's per-key write lock
    std::atomic<uint64_t> stored{1};     // generation in the "store"
    std::atomic<uint64_t> acknowledged{1};
  };
  std::vector<std::unique_ptr<SimKey>> sim;
  for (int k = 0; k < kKeys; ++k) sim.push_back(std::make_unique<SimKey>());
  auto openid = [](int k) { return absl::StrCat("user", k); };
  auto token = [](int k, uint64_t generation) { return absl::StrCat("at-", k, "-", generation); };

  AccessTokenCache cache(64);
  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  std::atomic<int64_t> hits{0};
  std::atomic<int64_t> fills{0};

  std::vector<std::thread> threads;
  // The writer: Commit = apply, notify, return (acknowledge).
  threads.emplace_back([&] {
    // At least kWrites writes, and on until the checker found entries often
    // enough for the run to mean something (bounded).
    for (int i = 0; i < 100 * kWrites && (i < kWrites || hits.load() < 2000); ++i) {
      const int k = i % kKeys;
      SimKey& key = *sim[k];
      absl::MutexLock lock(&key.write_mu);
      const uint64_t next = key.stored.load() + 1;
      key.stored.store(next);
      cache.Invalidate(Key(openid(k)));
      key.acknowledged.store(next);
      if (i % 8 == 0) std::this_thread::yield();
    }
    done.store(true);
  });
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      for (uint64_t i = 0; !done.load(); ++i) {
        const int k = static_cast<int>((i + r) % kKeys);
        if (r == 0) {
          // A checker, through both lookups (the thread-local one mostly
          // answers from what it remembered, without the lock).
          const uint64_t floor = sim[k]->acknowledged.load();
          std::shared_ptr<const CachedAccessToken> shared;
          const CachedAccessToken* hit = nullptr;
          if (i % 3 == 0) {
            shared = cache.Lookup(kApp, openid(k));
            hit = shared.get();
          } else {
            hit = cache.LookupOnThisThread(kApp, openid(k));
          }
          if (hit != nullptr) {
            ++hits;
            if (hit->record.generation() < floor || hit->access_token.view() != token(k, hit->record.generation())) {
              ++violations;
            }
          }
        } else {
          // A filler: epoch, read, (maybe lose the CPU), insert.
          const uint64_t epoch = cache.Epoch(Key(openid(k)));
          const uint64_t read = sim[k]->stored.load();
          if (i % 2 == 0) std::this_thread::yield();
          cache.Insert(epoch, Record(openid(k), read), token(k, read));
          ++fills;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(violations.load(), 0) << hits.load() << " hits, " << fills.load() << " fills";
  EXPECT_GT(hits.load(), 0) << "the run never found a cached entry: it tested nothing";
  // Quiescent: whatever is cached is the last acknowledged write.
  for (int k = 0; k < kKeys; ++k) {
    std::shared_ptr<const CachedAccessToken> hit;
    hit = cache.Lookup(kApp, openid(k));
    if (hit != nullptr) {
      EXPECT_EQ(hit->record.generation(), sim[k]->acknowledged.load()) << openid(k);
      EXPECT_EQ(hit->access_token.view(), token(k, hit->record.generation()));
    }
  }
}

}  // namespace
}  // namespace wxvault::service

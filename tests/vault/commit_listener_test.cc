// RocksTokenStore::SetCommitListener: who is told about which Commit, and
// when (vault/token_store.h). The access-token cache relies on it to drop a
// record before the write that replaced it is acknowledged.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "vault/rocks_token_store.h"

namespace wxvault::vault {
namespace {

TokenWrite PutWrite(const TokenKey& key, std::optional<uint64_t> expected = std::nullopt) {
  TokenWrite write;
  write.key = key;
  write.expected_generation = expected;
  TokenRecord& record = write.put.emplace();
  record.set_app_id(key.app_id);
  record.set_openid(key.openid);
  record.set_state(RECORD_STATE_ACTIVE);
  record.set_sealed_secrets("sealed-bytes");
  record.set_key_id("k1");
  record.set_next_due_at_ms(1000);
  return write;
}

// One listener call: the key, and the generation the store held for it at
// that moment (0 when absent).
struct Call {
  std::string app_id;
  std::string openid;
  uint64_t stored_generation;
};

class CommitListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RocksTokenStoreOptions options;
    options.path = dir_.Sub("vault");
    auto opened = RocksTokenStore::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = *std::move(opened);
  }

  // A listener that records each call. It peeks at the store with GetToken,
  // which takes none of the locks Commit holds while notifying, to check
  // that the write is already applied when the listener runs.
  void Listen() {
    store_->SetCommitListener([this](const TokenKey& key) {
      absl::StatusOr<TokenRecord> stored = store_->GetToken(key);
      absl::MutexLock lock(&mu_);
      calls_.push_back({key.app_id, key.openid, stored.ok() ? stored->generation() : 0});
    });
  }

  std::vector<Call> Calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

  wxvault::testing::TempDir dir_;
  std::unique_ptr<RocksTokenStore> store_;
  absl::Mutex mu_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
};

TEST_F(CommitListenerTest, CalledOncePerAppliedCommitWithItsKeyAfterTheWrite) {
  Listen();
  const TokenKey alice{"wxapp", "alice"};
  const TokenKey bob{"wxapp", "bob"};
  ASSERT_TRUE(store_->Commit(PutWrite(alice, 0)).ok());
  // Synchronous: by the time Commit returns the listener has run.
  ASSERT_EQ(Calls().size(), 1u);
  EXPECT_EQ(Calls()[0].app_id, "wxapp");
  EXPECT_EQ(Calls()[0].openid, "alice");
  EXPECT_EQ(Calls()[0].stored_generation, 1u) << "the listener ran before the write was applied";

  ASSERT_TRUE(store_->Commit(PutWrite(bob)).ok());
  ASSERT_TRUE(store_->Commit(PutWrite(alice, 1)).ok());  // conditional, matching: applied
  TokenWrite erase;
  erase.key = bob;
  erase.erase = true;
  ASSERT_TRUE(store_->Commit(erase).ok());
  std::vector<Call> calls = Calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[1].openid, "bob");
  EXPECT_EQ(calls[1].stored_generation, 1u);
  EXPECT_EQ(calls[2].openid, "alice");
  EXPECT_EQ(calls[2].stored_generation, 2u);
  EXPECT_EQ(calls[3].openid, "bob");
  EXPECT_EQ(calls[3].stored_generation, 0u) << "the erase was not applied yet when the listener ran";
}

TEST_F(CommitListenerTest, NotCalledForACommitRejectedBeforeWriting) {
  const TokenKey alice{"wxapp", "alice"};
  ASSERT_TRUE(store_->Commit(PutWrite(alice, 0)).ok());  // generation 1, before listening
  Listen();
  // Generation mismatch: ABORTED, nothing written, nobody told.
  EXPECT_TRUE(absl::IsAborted(store_->Commit(PutWrite(alice, 7)).status()));
  // Must-not-exist on an existing record: ABORTED too.
  EXPECT_TRUE(absl::IsAborted(store_->Commit(PutWrite(alice, 0)).status()));
  // An invalid write (put and erase at once).
  TokenWrite both = PutWrite(alice);
  both.erase = true;
  EXPECT_TRUE(absl::IsInvalidArgument(store_->Commit(both).status()));
  EXPECT_TRUE(Calls().empty());
  EXPECT_EQ(store_->GetToken(alice)->generation(), 1u);
  // The next applied commit is reported as usual.
  ASSERT_TRUE(store_->Commit(PutWrite(alice, 1)).ok());
  ASSERT_EQ(Calls().size(), 1u);
  EXPECT_EQ(Calls()[0].stored_generation, 2u);
}

TEST_F(CommitListenerTest, AnEmptyFunctionOrNullClearsTheListener) {
  const TokenKey alice{"wxapp", "alice"};
  Listen();
  ASSERT_TRUE(store_->Commit(PutWrite(alice)).ok());
  ASSERT_EQ(Calls().size(), 1u);
  store_->SetCommitListener(std::function<void(const TokenKey&)>());
  ASSERT_TRUE(store_->Commit(PutWrite(alice)).ok());
  EXPECT_EQ(Calls().size(), 1u);
  Listen();
  ASSERT_TRUE(store_->Commit(PutWrite(alice)).ok());
  EXPECT_EQ(Calls().size(), 2u);
  store_->SetCommitListener(nullptr);  // what ~TokenService does
  ASSERT_TRUE(store_->Commit(PutWrite(alice)).ok());
  EXPECT_EQ(Calls().size(), 2u);
}

TEST_F(CommitListenerTest, ANewListenerReplacesTheOldOne) {
  const TokenKey alice{"wxapp", "alice"};
  int first = 0;
  int second = 0;
  store_->SetCommitListener([&first](const TokenKey&) { ++first; });
  ASSERT_TRUE(store_->Commit(PutWrite(alice)).ok());
  store_->SetCommitListener([&second](const TokenKey&) { ++second; });
  ASSERT_TRUE(store_->Commit(PutWrite(alice)).ok());
  ASSERT_TRUE(store_->Commit(PutWrite(alice)).ok());
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 2);
  store_->SetCommitListener(nullptr);
}

}  // namespace
}  // namespace wxvault::vault

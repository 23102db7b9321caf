#include "vault/key_check.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "vault/keyring.h"
#include "vault/record_sealing.h"

namespace wxvault::vault {
namespace {

using ::testing::HasSubstr;

std::string KeyBytes(char fill) { return std::string(kKeyBytes, fill); }

std::unique_ptr<Keyring> MakeKeyring(const std::vector<std::pair<std::string, std::string>>& keys) {
  auto keyring = Keyring::FromRawKeys(keys);
  EXPECT_TRUE(keyring.ok()) << keyring.status();
  return keyring.ok() ? *std::move(keyring) : nullptr;
}

// Every file's name and contents, to prove a refused open changed nothing.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    files[entry.path().string()] =
        std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  return files;
}

class KeyCheckTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::unique_ptr<RocksTokenStore>> Open(const Keyring& keyring) {
    Sealer sealer(&keyring);
    RocksTokenStoreOptions options;
    options.path = dir_.Sub("vault");
    return OpenVerifiedVault(options, sealer);
  }

  // Stores a token for `openid` sealed under `keyring`'s active key.
  void StoreToken(TokenStore& store, const Keyring& keyring, const std::string& openid) {
    Sealer sealer(&keyring);
    TokenWrite write;
    write.key = {"wxapp", openid};
    TokenRecord& record = write.put.emplace();
    record.set_app_id("wxapp");
    record.set_openid(openid);
    record.set_state(RECORD_STATE_ACTIVE);
    TokenSecrets secrets;
    secrets.set_access_token("at-" + openid);
    secrets.set_refresh_token("rt-" + openid);
    ASSERT_TRUE(SealSecretsInto(sealer, secrets, &record).ok());
    ASSERT_TRUE(store.Commit(write).ok());
  }

  wxvault::testing::TempDir dir_;
};

TEST_F(KeyCheckTest, FreshVaultRecordsAKeyCheckPerKey) {
  auto keyring = MakeKeyring({{"k1", KeyBytes(1)}, {"k2", KeyBytes(2)}});
  auto store = Open(*keyring);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_THAT(*(*store)->ListMeta("keycheck/"), ::testing::SizeIs(2));
  store->reset();
  EXPECT_TRUE(Open(*keyring).ok());
}

TEST_F(KeyCheckTest, WrongKeyMaterialRefusesAndTouchesNothing) {
  auto good = MakeKeyring({{"k1", KeyBytes(1)}});
  {
    auto store = Open(*good);
    ASSERT_TRUE(store.ok());
    StoreToken(**store, *good, "alice");
  }
  const auto before = Snapshot(dir_.Sub("vault"));
  auto wrong = MakeKeyring({{"k1", KeyBytes(9)}});
  auto refused = Open(*wrong);
  ASSERT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("'k1'"));
  EXPECT_EQ(Snapshot(dir_.Sub("vault")), before);
  // The right key still opens everything afterwards.
  auto reopened = Open(*good);
  ASSERT_TRUE(reopened.ok());
  auto record = (*reopened)->GetToken({"wxapp", "alice"});
  Sealer sealer(good.get());
  EXPECT_EQ(OpenSecrets(sealer, *record)->refresh_token(), "rt-alice");
}

TEST_F(KeyCheckTest, MissingKeyStillInUseIsNamed) {
  auto old_keys = MakeKeyring({{"old", KeyBytes(1)}});
  {
    auto store = Open(*old_keys);
    ASSERT_TRUE(store.ok());
    StoreToken(**store, *old_keys, "alice");
  }
  const auto before = Snapshot(dir_.Sub("vault"));
  auto new_only = MakeKeyring({{"new", KeyBytes(2)}});
  auto refused = Open(*new_only);
  ASSERT_TRUE(absl::IsFailedPrecondition(refused.status()));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("old"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("RewrapAll"));
  EXPECT_EQ(Snapshot(dir_.Sub("vault")), before);
}

TEST_F(KeyCheckTest, PayloadSealedUnderWrongMaterialIsCaughtWithoutKeyCheckRecord) {
  // A vault whose key-check record is gone (e.g. written by an older build):
  // the probe of a stored payload still catches wrong key material.
  auto good = MakeKeyring({{"k1", KeyBytes(1)}});
  {
    auto store = Open(*good);
    ASSERT_TRUE(store.ok());
    StoreToken(**store, *good, "alice");
    ASSERT_TRUE((*store)->DeleteMeta("keycheck/k1").ok());
  }
  auto wrong = MakeKeyring({{"k1", KeyBytes(7)}});
  EXPECT_TRUE(absl::IsFailedPrecondition(Open(*wrong).status()));
}

TEST_F(KeyCheckTest, RotationThenRewrapLetsTheOldKeyBeDropped) {
  auto v1 = MakeKeyring({{"k1", KeyBytes(1)}});
  {
    auto store = Open(*v1);
    ASSERT_TRUE(store.ok());
    StoreToken(**store, *v1, "alice");
  }
  // Rotate: k2 becomes active, k1 still opens.
  auto v2 = MakeKeyring({{"k1", KeyBytes(1)}, {"k2", KeyBytes(2)}});
  {
    auto store = Open(*v2);
    ASSERT_TRUE(store.ok()) << store.status();
    StoreToken(**store, *v2, "bob");
    EXPECT_THAT(*(*store)->KeyIdsInUse(), ::testing::ElementsAre("k1", "k2"));
    // Re-seal everything still under k1 (what RewrapAll does).
    Sealer sealer(v2.get());
    auto refs = (*store)->ListSealedByKey("k1", std::nullopt, 100);
    ASSERT_TRUE(refs.ok());
    for (const SealedRef& ref : *refs) {
      auto record = (*store)->GetToken(ref.key);
      auto secrets = OpenSecrets(sealer, *record);
      ASSERT_TRUE(secrets.ok());
      TokenWrite write;
      write.key = ref.key;
      write.expected_generation = record->generation();
      write.put = *record;
      ASSERT_TRUE(SealSecretsInto(sealer, *secrets, &*write.put).ok());
      ASSERT_TRUE((*store)->Commit(write).ok());
    }
    EXPECT_THAT(*(*store)->KeyIdsInUse(), ::testing::ElementsAre("k2"));
  }
  // Drop k1 from the keyring: start-up succeeds and every token opens.
  auto v3 = MakeKeyring({{"k2", KeyBytes(2)}});
  auto store = Open(*v3);
  ASSERT_TRUE(store.ok()) << store.status();
  Sealer sealer(v3.get());
  for (const char* openid : {"alice", "bob"}) {
    auto record = (*store)->GetToken({"wxapp", openid});
    EXPECT_EQ(OpenSecrets(sealer, *record)->access_token(), absl::StrCat("at-", openid));
  }
  EXPECT_THAT(*(*store)->ListMeta("keycheck/"), ::testing::SizeIs(1));
}

TEST_F(KeyCheckTest, SecretsMovedToAnotherRecordDoNotOpen) {
  auto keyring = MakeKeyring({{"k1", KeyBytes(1)}});
  auto store = Open(*keyring);
  ASSERT_TRUE(store.ok());
  StoreToken(**store, *keyring, "alice");
  StoreToken(**store, *keyring, "mallory");
  auto alice = (*store)->GetToken({"wxapp", "alice"});
  auto mallory = (*store)->GetToken({"wxapp", "mallory"});
  TokenRecord stolen = *mallory;
  stolen.set_sealed_secrets(alice->sealed_secrets());
  Sealer sealer(keyring.get());
  EXPECT_TRUE(absl::IsDataLoss(OpenSecrets(sealer, stolen).status()));
  TokenRecord wiped = *alice;
  wiped.clear_sealed_secrets();
  EXPECT_TRUE(absl::IsFailedPrecondition(OpenSecrets(sealer, wiped).status()));
}

}  // namespace
}  // namespace wxvault::vault

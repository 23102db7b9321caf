// No plaintext secret on disk: writes tokens, profiles and exchange entries
// carrying known marker secrets through the vault's sealing path, then scans
// every byte of every file in the data directory (WAL, SST, MANIFEST, LOG,
// OPTIONS) for the markers, both before and after a flush + compaction.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "vault/key_check.h"
#include "vault/keyring.h"
#include "vault/record_sealing.h"

namespace wxvault::vault {
namespace {

constexpr char kAccessMarker[] = "ACCESSTOKEN-PLAINTEXT-MARKER";
constexpr char kRefreshMarker[] = "REFRESHTOKEN-PLAINTEXT-MARKER";
constexpr char kCodeMarker[] = "WECHATCODE-PLAINTEXT-MARKER";
constexpr char kNicknameMarker[] = "NICKNAME-PLAINTEXT-MARKER";

// Files under `dir` (recursively) that contain `needle`.
std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle) {
  std::vector<std::string> hits;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) hits.push_back(entry.path().filename().string());
  }
  return hits;
}

class PlaintextScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keyring = Keyring::FromRawKeys({{"k1", std::string(32, '\x5a')}});
    ASSERT_TRUE(keyring.ok());
    keyring_ = *std::move(keyring);
    sealer_ = std::make_unique<Sealer>(keyring_.get());
    RocksTokenStoreOptions options;
    options.path = dir_.Sub("vault");
    auto store = OpenVerifiedVault(options, *sealer_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  void WriteMarkedRecords() {
    for (int i = 0; i < 200; ++i) {
      TokenKey key{"wxscan", absl::StrCat("user-", i)};
      TokenWrite write;
      write.key = key;
      TokenRecord& record = write.put.emplace();
      record.set_app_id(key.app_id);
      record.set_openid(key.openid);
      record.set_state(RECORD_STATE_ACTIVE);
      TokenSecrets secrets;
      secrets.set_access_token(absl::StrCat(kAccessMarker, "-", i));
      secrets.set_refresh_token(absl::StrCat(kRefreshMarker, "-", i));
      ASSERT_TRUE(SealSecretsInto(*sealer_, secrets, &record).ok());
      ProfileEntry& profile = write.profile.emplace();
      ASSERT_TRUE(SealProfileInto(*sealer_, key, absl::StrCat("{\"nickname\":\"", kNicknameMarker, "\"}"), &profile)
                      .ok());
      write.exchange_digest = sealer_->KeyedDigest("exchange-code", absl::StrCat(kCodeMarker, "-", i));
      write.exchange.emplace().set_expires_at_ms(1'000'000);
      ASSERT_TRUE(store_->Commit(write).ok());
    }
  }

  void ExpectNoMarkerOnDisk() {
    for (const char* marker : {kAccessMarker, kRefreshMarker, kCodeMarker, kNicknameMarker}) {
      EXPECT_THAT(FilesContaining(dir_.Sub("vault"), marker), ::testing::IsEmpty()) << marker;
    }
  }

  wxvault::testing::TempDir dir_;
  std::unique_ptr<Keyring> keyring_;
  std::unique_ptr<Sealer> sealer_;
  std::unique_ptr<RocksTokenStore> store_;
};

TEST_F(PlaintextScanTest, ScannerFindsAPlaintextCanary) {
  // Proves the scan can fail: a value written in plaintext is found.
  ASSERT_TRUE(store_->PutMeta("canary", "CANARY-PLAINTEXT-VALUE").ok());
  EXPECT_THAT(FilesContaining(dir_.Sub("vault"), "CANARY-PLAINTEXT-VALUE"), ::testing::Not(::testing::IsEmpty()));
}

TEST_F(PlaintextScanTest, NoSecretInTheWriteAheadLog) {
  WriteMarkedRecords();
  ExpectNoMarkerOnDisk();
}

TEST_F(PlaintextScanTest, NoSecretAfterFlushAndCompaction) {
  WriteMarkedRecords();
  ASSERT_TRUE(store_->Compact().ok());
  store_.reset();
  ExpectNoMarkerOnDisk();
}

}  // namespace
}  // namespace wxvault::vault

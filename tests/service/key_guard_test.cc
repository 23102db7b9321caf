#include "service/key_guard.h"

#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/vault/keyring_test_peer.h"
#include "vault/keyring.h"

namespace wxvault::service {
namespace {

using vault::Keyring;
using vault::KeyringTestPeer;

std::unique_ptr<Keyring> MakeKeyring() {
  auto keyring = Keyring::FromRawKeys({{"k1", std::string(vault::kKeyBytes, '\x07')}});
  EXPECT_TRUE(keyring.ok());
  return *std::move(keyring);
}

TEST(KeyGuardTest, LocksIdleKeysAwayWithinTwoPeriods) {
  std::unique_ptr<Keyring> keyring = MakeKeyring();
  EXPECT_EQ(KeyringTestPeer::KeyBytes(*keyring, "k1"), std::string(vault::kKeyBytes, '\x07'));
  ASSERT_TRUE(KeyringTestPeer::Readable(*keyring));
  KeyGuard guard(keyring.get(), absl::Milliseconds(1));
  // The guard runs on real time: wait for its thread, bounded generously.
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (KeyringTestPeer::Readable(*keyring) && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_FALSE(KeyringTestPeer::Readable(*keyring));
  // Keys still work afterwards.
  EXPECT_EQ(KeyringTestPeer::KeyBytes(*keyring, "k1"), std::string(vault::kKeyBytes, '\x07'));
}

TEST(KeyGuardTest, StopLeavesIdleKeysLockedAway) {
  std::unique_ptr<Keyring> keyring = MakeKeyring();
  KeyGuard guard(keyring.get(), absl::Hours(1));  // never ticks by itself
  EXPECT_EQ(KeyringTestPeer::KeyBytes(*keyring, "k1").size(), vault::kKeyBytes);
  ASSERT_TRUE(KeyringTestPeer::Readable(*keyring));
  guard.Stop();
  EXPECT_FALSE(KeyringTestPeer::Readable(*keyring));
  guard.Stop();  // idempotent
}

}  // namespace
}  // namespace wxvault::service

#include "vault/sealer.h"

#include <sodium.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/vault/keyring_test_peer.h"

namespace wxvault {
namespace vault {

namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Key(unsigned char seed) {
  std::string k(kKeyBytes, '\0');
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<char>(seed * 31 + i);
  return k;
}

std::unique_ptr<Keyring> MakeKeyring(
    std::vector<std::pair<std::string, std::string>> keys) {
  auto keyring = Keyring::FromRawKeys(keys);
  EXPECT_TRUE(keyring.ok()) << keyring.status();
  return keyring.ok() ? *std::move(keyring) : nullptr;
}

const RecordIdentity kAlice{"wxapp1", "o_alice", RecordKind::kTokenSecrets};

class SealerTest : public ::testing::Test {
 protected:
  SealerTest()
      : keyring_(MakeKeyring({{"k1", Key(1)}})), sealer_(keyring_.get()) {}

  std::string SealOrDie(const RecordIdentity& id, absl::string_view plain) {
    absl::StatusOr<std::string> env = sealer_.Seal(id, plain);
    EXPECT_TRUE(env.ok()) << env.status();
    return env.ok() ? *env : "";
  }

  std::unique_ptr<Keyring> keyring_;
  Sealer sealer_;
};

TEST_F(SealerTest, RoundTripsEmptySmallAndLargePlaintexts) {
  std::string large(64 * 1024, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 7);
  for (const std::string& plain : {std::string(), std::string("x"), large}) {
    SCOPED_TRACE(plain.size());
    const std::string env = SealOrDie(kAlice, plain);
    EXPECT_EQ(env.size(), plain.size() + Sealer::EnvelopeOverhead(2));
    EXPECT_EQ(env.size(), plain.size() + 1 + 1 + 2 + 24 + 16);
    absl::StatusOr<SecretString> opened = sealer_.Open(kAlice, env);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(opened->view(), plain);
  }
}

TEST_F(SealerTest, EnvelopeHeaderLayout) {
  auto keyring = MakeKeyring({{"key.2025-06", Key(3)}});
  Sealer sealer(keyring.get());
  absl::StatusOr<std::string> env = sealer.Seal(kAlice, "secret");
  ASSERT_TRUE(env.ok());
  ASSERT_EQ(env->size(), 6 + Sealer::EnvelopeOverhead(11));
  EXPECT_EQ((*env)[0], 1);
  EXPECT_EQ((*env)[1], 11);
  EXPECT_EQ(env->substr(2, 11), "key.2025-06");
  EXPECT_THAT(*env, Not(HasSubstr("secret")));
  absl::StatusOr<std::string> key_id = Sealer::KeyIdOf(*env);
  ASSERT_TRUE(key_id.ok()) << key_id.status();
  EXPECT_EQ(*key_id, "key.2025-06");
}

TEST_F(SealerTest, SealingTwiceGivesDifferentEnvelopes) {
  const std::string a = SealOrDie(kAlice, "same plaintext");
  const std::string b = SealOrDie(kAlice, "same plaintext");
  EXPECT_NE(a, b);
  // The nonces differ, not just the ciphertexts.
  EXPECT_NE(a.substr(4, 24), b.substr(4, 24));
}

TEST_F(SealerTest, WrongKeyBytesUnderSameIdIsDataLoss) {
  const std::string env = SealOrDie(kAlice, "refresh-token");
  auto other = MakeKeyring({{"k1", Key(2)}});
  Sealer other_sealer(other.get());
  absl::StatusOr<SecretString> opened = other_sealer.Open(kAlice, env);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(opened.status().message(), HasSubstr("token_secrets"));
  EXPECT_THAT(opened.status().message(), HasSubstr("wxapp1"));
  EXPECT_THAT(opened.status().message(), Not(HasSubstr("refresh-token")));
}

TEST_F(SealerTest, EnvelopeMovedToAnotherIdentityIsDataLoss) {
  const std::string env = SealOrDie(kAlice, "refresh-token");
  const std::vector<RecordIdentity> others = {
      {"wxapp1", "o_bob", RecordKind::kTokenSecrets},
      {"wxapp2", "o_alice", RecordKind::kTokenSecrets},
      {"wxapp1", "o_alice", RecordKind::kProfile},
      {"wxapp1", "o_alice", RecordKind::kKeyCheck},
      {"", "wxapp1o_alice", RecordKind::kTokenSecrets},
      {"wxapp1o", "_alice", RecordKind::kTokenSecrets},
  };
  for (const RecordIdentity& id : others) {
    SCOPED_TRACE(
        absl::StrCat(id.app_id, "/", id.openid, "/", RecordKindName(id.kind)));
    absl::StatusOr<SecretString> opened = sealer_.Open(id, env);
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(opened.status().message(), HasSubstr(RecordKindName(id.kind)));
    EXPECT_THAT(opened.status().message(), Not(HasSubstr("refresh-token")));
  }
  EXPECT_TRUE(sealer_.Open(kAlice, env).ok());
}

TEST_F(SealerTest, LengthPrefixesSeparateFieldBoundaries) {
  const RecordIdentity ab_c{"ab", "c", RecordKind::kProfile};
  const RecordIdentity a_bc{"a", "bc", RecordKind::kProfile};
  const std::string env = SealOrDie(ab_c, "profile");
  EXPECT_TRUE(sealer_.Open(ab_c, env).ok());
  EXPECT_EQ(sealer_.Open(a_bc, env).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(SealerTest, EveryFlippedBitFailsToOpen) {
  const std::string env = SealOrDie(kAlice, "a 20-byte plaintext!");
  for (size_t bit = 0; bit < env.size() * 8; ++bit) {
    std::string tampered = env;
    tampered[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    absl::StatusOr<SecretString> opened = sealer_.Open(kAlice, tampered);
    ASSERT_FALSE(opened.ok()) << "bit " << bit << " opened";
    // A flip inside the key id may name another (unknown) key.
    ASSERT_THAT(opened.status().code(),
                AnyOf(absl::StatusCode::kDataLoss,
                      absl::StatusCode::kFailedPrecondition))
        << "bit " << bit << ": " << opened.status();
  }
}

TEST_F(SealerTest, FlippedKeyIdBitNamingAnotherKeyIsDataLoss) {
  // "k1" -> "k3" by flipping one bit; both keys exist.
  auto keyring = MakeKeyring({{"k1", Key(1)}, {"k3", Key(3)}});
  Sealer sealer(keyring.get());
  absl::StatusOr<std::string> env = sealer.SealWithKey("k1", kAlice, "x");
  ASSERT_TRUE(env.ok());
  std::string tampered = *env;
  tampered[3] ^= 0x02;
  ASSERT_EQ(tampered.substr(2, 2), "k3");
  EXPECT_EQ(sealer.Open(kAlice, tampered).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(SealerTest, EveryTruncationFailsWithoutCrashing) {
  const std::string env = SealOrDie(kAlice, "some token bytes");
  for (size_t len = 0; len < env.size(); ++len) {
    // A fresh heap copy, so ASan sees any read past the end.
    const std::string truncated = env.substr(0, len);
    absl::StatusOr<SecretString> opened = sealer_.Open(kAlice, truncated);
    ASSERT_EQ(opened.status().code(), absl::StatusCode::kDataLoss)
        << "length " << len << ": " << opened.status();
    if (len < Sealer::EnvelopeOverhead(2)) {
      ASSERT_EQ(Sealer::KeyIdOf(truncated).status().code(),
                absl::StatusCode::kDataLoss)
          << "length " << len;
    }
  }
  EXPECT_EQ(sealer_.Open(kAlice, env + "x").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(SealerTest, UnknownFormatVersionIsDataLoss) {
  const std::string env = SealOrDie(kAlice, "token");
  for (int version : {0, 2, 255}) {
    std::string other = env;
    other[0] = static_cast<char>(version);
    absl::StatusOr<SecretString> opened = sealer_.Open(kAlice, other);
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(opened.status().message(),
                HasSubstr(absl::StrCat("version ", version)));
    EXPECT_EQ(Sealer::KeyIdOf(other).status().code(),
              absl::StatusCode::kDataLoss);
  }
}

TEST_F(SealerTest, MalformedKeyIdHeaderIsDataLoss) {
  const std::string env = SealOrDie(kAlice, "token");
  std::string zero_len = env;
  zero_len[1] = 0;
  EXPECT_EQ(sealer_.Open(kAlice, zero_len).status().code(),
            absl::StatusCode::kDataLoss);
  std::string huge_len = env;
  huge_len[1] = static_cast<char>(200);
  EXPECT_EQ(sealer_.Open(kAlice, huge_len).status().code(),
            absl::StatusCode::kDataLoss);
  std::string bad_char = env;
  bad_char[2] = '/';
  EXPECT_EQ(sealer_.Open(kAlice, bad_char).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Sealer::KeyIdOf(bad_char).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(SealerTest, KeyIdNotInKeyringIsFailedPrecondition) {
  auto old_keyring = MakeKeyring({{"retired-2023", Key(9)}});
  Sealer old_sealer(old_keyring.get());
  absl::StatusOr<std::string> env = old_sealer.Seal(kAlice, "token");
  ASSERT_TRUE(env.ok());
  absl::StatusOr<SecretString> opened = sealer_.Open(kAlice, *env);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(opened.status().message(), HasSubstr("'retired-2023'"));

  absl::StatusOr<std::string> sealed =
      sealer_.SealWithKey("retired-2023", kAlice, "token");
  EXPECT_EQ(sealed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(sealed.status().message(),
              HasSubstr("key id 'retired-2023' is not in the keyring"));
}

TEST_F(SealerTest, SealWithKeyUsesTheNamedKey) {
  auto keyring = MakeKeyring({{"old", Key(1)}, {"new", Key(2)}});
  Sealer sealer(keyring.get());
  const RecordIdentity check{"", "", RecordKind::kKeyCheck};
  absl::StatusOr<std::string> env = sealer.SealWithKey("old", check, "check");
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(*Sealer::KeyIdOf(*env), "old");
  absl::StatusOr<SecretString> opened = sealer.Open(check, *env);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->view(), "check");
  // Only the "old" key can open it: a keyring holding a different "old"
  // cannot.
  auto impostor = MakeKeyring({{"old", Key(2)}});
  EXPECT_EQ(Sealer(impostor.get()).Open(check, *env).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(SealerTest, RotationSealsUnderNewKeyAndOldEnvelopesStillOpen) {
  const std::string before = SealOrDie(kAlice, "sealed before rotation");
  EXPECT_EQ(*Sealer::KeyIdOf(before), "k1");

  auto rotated = MakeKeyring({{"k1", Key(1)}, {"k2", Key(2)}});
  Sealer sealer(rotated.get());
  absl::StatusOr<std::string> after = sealer.Seal(kAlice, "sealed after");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*Sealer::KeyIdOf(*after), "k2");

  absl::StatusOr<SecretString> old_opened = sealer.Open(kAlice, before);
  ASSERT_TRUE(old_opened.ok()) << old_opened.status();
  EXPECT_EQ(old_opened->view(), "sealed before rotation");
  absl::StatusOr<SecretString> new_opened = sealer.Open(kAlice, *after);
  ASSERT_TRUE(new_opened.ok()) << new_opened.status();
  EXPECT_EQ(new_opened->view(), "sealed after");
  // The pre-rotation keyring cannot open the new envelope.
  EXPECT_EQ(sealer_.Open(kAlice, *after).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(SealerTest, FileKeyringAndRawKeyringInteroperate) {
  const std::string raw = Key(5);
  std::string b64(
      sodium_base64_encoded_len(raw.size(), sodium_base64_VARIANT_ORIGINAL),
      '\0');
  sodium_bin2base64(b64.data(), b64.size(),
                    reinterpret_cast<const unsigned char*>(raw.data()),
                    raw.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.resize(b64.size() - 1);
  auto parsed = Keyring::Parse(absl::StrCat("k5:", b64, "\n"), "inline");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  auto from_raw = MakeKeyring({{"k5", raw}});
  absl::StatusOr<std::string> env = Sealer(parsed->get()).Seal(kAlice, "p");
  ASSERT_TRUE(env.ok());
  absl::StatusOr<SecretString> opened =
      Sealer(from_raw.get()).Open(kAlice, *env);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->view(), "p");
}

TEST_F(SealerTest, KeyedDigest) {
  const std::string d1 = sealer_.KeyedDigest("exchange-code", "CODE123");
  EXPECT_EQ(d1.size(), 32u);
  EXPECT_EQ(sealer_.KeyedDigest("exchange-code", "CODE123"), d1);
  // Same keyring contents in another object: same digest.
  auto same = MakeKeyring({{"k1", Key(1)}});
  EXPECT_EQ(Sealer(same.get()).KeyedDigest("exchange-code", "CODE123"), d1);

  EXPECT_NE(sealer_.KeyedDigest("exchange-code", "CODE124"), d1);
  EXPECT_NE(sealer_.KeyedDigest("other-domain", "CODE123"), d1);
  EXPECT_NE(sealer_.KeyedDigest("", "CODE123"), d1);
  EXPECT_EQ(sealer_.KeyedDigest("exchange-code", "").size(), 32u);
  // A different active key (same id or not) gives a different digest.
  auto other_bytes = MakeKeyring({{"k1", Key(2)}});
  EXPECT_NE(Sealer(other_bytes.get()).KeyedDigest("exchange-code", "CODE123"),
            d1);
  auto rotated = MakeKeyring({{"k1", Key(1)}, {"k2", Key(2)}});
  EXPECT_NE(Sealer(rotated.get()).KeyedDigest("exchange-code", "CODE123"), d1);
  // Not a plain unkeyed hash of the data.
  std::string unkeyed(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(unkeyed.data()), 32,
                     reinterpret_cast<const unsigned char*>("CODE123"), 7,
                     nullptr, 0);
  EXPECT_NE(unkeyed, d1);
}

TEST_F(SealerTest, RecordKindNames) {
  EXPECT_EQ(RecordKindName(RecordKind::kTokenSecrets), "token_secrets");
  EXPECT_EQ(RecordKindName(RecordKind::kProfile), "profile");
  EXPECT_EQ(RecordKindName(RecordKind::kKeyCheck), "key_check");
  EXPECT_EQ(RecordKindName(static_cast<RecordKind>(9)), "kind_9");
}

TEST(SealerConcurrencyTest, ConcurrentSealAndOpenFromEightThreads) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto keyring = MakeKeyring({{"k1", Key(1)}, {"k2", Key(2)}});
  Sealer sealer(keyring.get());
  // Envelopes under the non-active key, sealed up front.
  std::vector<std::string> old_envelopes;
  for (int i = 0; i < 8; ++i) {
    const std::string openid = absl::StrCat("o", i);
    absl::StatusOr<std::string> env = sealer.SealWithKey(
        "k1", {"app", openid, RecordKind::kTokenSecrets}, openid);
    ASSERT_TRUE(env.ok());
    old_envelopes.push_back(*env);
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const std::string openid = absl::StrCat("o", t);
      const RecordIdentity id{"app", openid, RecordKind::kTokenSecrets};
      for (int i = 0; i < 400; ++i) {
        const std::string plain = absl::StrCat("thread ", t, " value ", i);
        absl::StatusOr<std::string> env = sealer.Seal(id, plain);
        if (!env.ok()) {
          ++failures;
          continue;
        }
        absl::StatusOr<SecretString> opened = sealer.Open(id, *env);
        if (!opened.ok() || opened->view() != plain) ++failures;
        absl::StatusOr<SecretString> old = sealer.Open(id, old_envelopes[t]);
        if (!old.ok() || old->view() != openid) ++failures;
        if (sealer.KeyedDigest("d", plain).size() != 32) ++failures;
      }
    });
  }
  // A protector racing the sealers, as the server's KeyGuard does: it must
  // never make the keys inaccessible under a running access (that would
  // crash this test).
  std::atomic<bool> sealing{true};
  std::thread protector([&] {
    while (sealing.load()) keyring->ProtectIfIdle();
  });
  for (std::thread& th : threads) th.join();
  sealing = false;
  protector.join();
  EXPECT_EQ(failures.load(), 0);
  // Every access was released; one idle period later the keys are locked
  // away again.
  EXPECT_EQ(KeyringTestPeer::Readers(*keyring), 0);
  keyring->ProtectIfIdle();
  EXPECT_TRUE(keyring->ProtectIfIdle());
  const volatile unsigned char* region = KeyringTestPeer::Region(*keyring);
  EXPECT_DEATH({ std::printf("%d\n", region[0]); }, "");
}

}  // namespace
}  // namespace vault
}  // namespace wxvault

#include "vault/keyring.h"

#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
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

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

std::string Bytes(size_t n, unsigned char first) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(first + i);
  return s;
}

std::string Base64(absl::string_view bin) {
  std::string out(
      sodium_base64_encoded_len(bin.size(), sodium_base64_VARIANT_ORIGINAL),
      '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(bin.data()),
                    bin.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // Drop the NUL.
  return out;
}

class KeyringFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "keyring_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const std::string& f : files_) ::unlink(f.c_str());
    ::rmdir(dir_.c_str());
  }
  // Writes `text` to a fresh file with `mode` and returns its path.
  std::string Write(absl::string_view name, absl::string_view text,
                    mode_t mode = 0600) {
    std::string path = absl::StrCat(dir_, "/", name);
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << text;
    }
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    files_.push_back(path);
    return path;
  }

  std::string dir_;
  std::vector<std::string> files_;
};

TEST_F(KeyringFileTest, LoadsMultiKeyFileLastLineActive) {
  const std::string k1 = Bytes(32, 1), k2 = Bytes(32, 50), k3 = Bytes(32, 100);
  const std::string text = absl::StrCat(
      "# wxvault master keys\n"
      "\n",
      "2024-01:", Base64(k1), "\n",
      "   # indented comment\n"
      "  old_key.v2 : ",
      Base64(k2), "  \r\n", "\t\n",
      "K-3:", Base64(k3));  // No trailing newline.
  const std::string path = Write("keys", text);
  std::vector<std::string> warnings;
  absl::StatusOr<std::unique_ptr<Keyring>> keyring =
      Keyring::LoadFile(path, &warnings);
  ASSERT_TRUE(keyring.ok()) << keyring.status();
  EXPECT_THAT(warnings, IsEmpty());
  EXPECT_EQ((*keyring)->active_key_id(), "K-3");
  EXPECT_THAT((*keyring)->key_ids(),
              ElementsAre("2024-01", "old_key.v2", "K-3"));
  EXPECT_TRUE((*keyring)->Contains("old_key.v2"));
  EXPECT_FALSE((*keyring)->Contains("k-3"));
  EXPECT_FALSE((*keyring)->Contains(""));
  EXPECT_EQ(KeyringTestPeer::KeyBytes(**keyring, "2024-01"), k1);
  EXPECT_EQ(KeyringTestPeer::KeyBytes(**keyring, "old_key.v2"), k2);
  EXPECT_EQ(KeyringTestPeer::KeyBytes(**keyring, "K-3"), k3);
}

TEST_F(KeyringFileTest, SingleKeyIsActive) {
  auto keyring =
      Keyring::Parse(absl::StrCat("only:", Base64(Bytes(32, 9))), "t");
  ASSERT_TRUE(keyring.ok()) << keyring.status();
  EXPECT_EQ((*keyring)->active_key_id(), "only");
  EXPECT_THAT((*keyring)->key_ids(), ElementsAre("only"));
}

TEST_F(KeyringFileTest, MissingFileIsNotFound) {
  const std::string path = dir_ + "/does-not-exist";
  auto keyring = Keyring::LoadFile(path, nullptr);
  EXPECT_EQ(keyring.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(keyring.status().message(), HasSubstr(path));
}

TEST_F(KeyringFileTest, UnreadableFileIsPermissionDenied) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root: chmod 000 does not stop root reading";
  }
  const std::string path =
      Write("locked", absl::StrCat("k1:", Base64(Bytes(32, 1))), 0000);
  auto keyring = Keyring::LoadFile(path, nullptr);
  EXPECT_EQ(keyring.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(keyring.status().message(), HasSubstr(path));
}

TEST_F(KeyringFileTest, DirectoryIsInvalidArgument) {
  auto keyring = Keyring::LoadFile(dir_, nullptr);
  EXPECT_EQ(keyring.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(keyring.status().message(), HasSubstr(dir_));
}

TEST_F(KeyringFileTest, BadBase64NamesFileAndLine) {
  const std::string good = Base64(Bytes(32, 1));
  std::string bad = Base64(Bytes(32, 7));
  bad[5] = '!';
  const std::string path =
      Write("keys", absl::StrCat("# c\nk1:", good, "\nk2:", bad, "\n"));
  auto keyring = Keyring::LoadFile(path, nullptr);
  ASSERT_EQ(keyring.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(keyring.status().message(), HasSubstr(path + ":3:"));
  EXPECT_THAT(keyring.status().message(), HasSubstr("base64"));
}

TEST_F(KeyringFileTest, UnpaddedAndUrlSafeBase64AreRejected) {
  std::string unpadded = Base64(Bytes(32, 1));
  ASSERT_EQ(unpadded.back(), '=');
  unpadded.pop_back();
  auto keyring = Keyring::Parse(absl::StrCat("k1:", unpadded), "t");
  EXPECT_EQ(keyring.status().code(), absl::StatusCode::kInvalidArgument);

  std::string url_safe = Base64(std::string(32, '\xfb'));
  ASSERT_NE(url_safe.find_first_of("+/"), std::string::npos);
  for (char& c : url_safe) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  keyring = Keyring::Parse(absl::StrCat("k1:", url_safe), "t");
  EXPECT_EQ(keyring.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(KeyringFileTest, WrongDecodedLengthSaysExpectedAndGot) {
  for (size_t n : {0, 1, 31, 33, 64}) {
    SCOPED_TRACE(n);
    const std::string b64 = Base64(Bytes(n, 3));
    auto keyring = Keyring::Parse(absl::StrCat("\nk1:", b64, "\n"), "keys.txt");
    ASSERT_EQ(keyring.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(keyring.status().message(), HasSubstr("keys.txt:2:"));
    if (n > 0) {
      EXPECT_THAT(keyring.status().message(), HasSubstr("expected 32"));
      EXPECT_THAT(keyring.status().message(),
                  HasSubstr(absl::StrCat("got ", n)));
    }
  }
}

TEST_F(KeyringFileTest, BadKeyIdsAreRejected) {
  const std::string b64 = Base64(Bytes(32, 1));
  const std::vector<std::string> bad_ids = {
      "", "k 1", "k/1", "k+1", "k:", "ключ", "k\x01", std::string(65, 'a')};
  for (const std::string& id : bad_ids) {
    SCOPED_TRACE(id);
    auto keyring = Keyring::Parse(absl::StrCat(id, ":", b64), "src");
    ASSERT_EQ(keyring.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(keyring.status().message(), HasSubstr("src:1:"));
  }
  // The longest valid id and every allowed character class.
  auto keyring = Keyring::Parse(
      absl::StrCat(std::string(64, 'z'), ":", b64, "\nAz09._-:", b64), "src");
  ASSERT_TRUE(keyring.ok()) << keyring.status();
  EXPECT_EQ((*keyring)->active_key_id(), "Az09._-");
}

TEST_F(KeyringFileTest, LineWithoutColonIsRejected) {
  auto keyring = Keyring::Parse(Base64(Bytes(32, 1)), "src");
  ASSERT_EQ(keyring.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(keyring.status().message(), HasSubstr("src:1:"));
}

TEST_F(KeyringFileTest, DuplicateKeyIdsAreRejected) {
  const std::string text =
      absl::StrCat("k1:", Base64(Bytes(32, 1)), "\nk2:", Base64(Bytes(32, 2)),
                   "\nk1:", Base64(Bytes(32, 3)), "\n");
  auto keyring = Keyring::Parse(text, "src");
  ASSERT_EQ(keyring.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(keyring.status().message(), HasSubstr("src:3:"));
  EXPECT_THAT(keyring.status().message(), HasSubstr("duplicate key id 'k1'"));
  EXPECT_THAT(keyring.status().message(), HasSubstr("src:1"));
}

TEST_F(KeyringFileTest, EmptyAndCommentOnlyFilesAreRejected) {
  for (absl::string_view text : {"", "\n\n  \n", "# only a comment\n#k1:x\n"}) {
    SCOPED_TRACE(text);
    const std::string path = Write("keys", text);
    auto keyring = Keyring::LoadFile(path, nullptr);
    ASSERT_EQ(keyring.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(keyring.status().message(), HasSubstr(path));
    EXPECT_THAT(keyring.status().message(), HasSubstr("no keys"));
  }
}

TEST_F(KeyringFileTest, GroupOrWorldReadableFileWarns) {
  const std::string text = absl::StrCat("k1:", Base64(Bytes(32, 1)), "\n");
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    SCOPED_TRACE(mode);
    const std::string path = Write(absl::StrCat("keys", mode), text, mode);
    std::vector<std::string> warnings;
    auto keyring = Keyring::LoadFile(path, &warnings);
    ASSERT_TRUE(keyring.ok()) << keyring.status();
    ASSERT_THAT(warnings, SizeIs(1));
    EXPECT_THAT(warnings[0], HasSubstr(path));
    EXPECT_THAT(warnings[0], HasSubstr("chmod 600"));
    // A null sink is allowed.
    EXPECT_TRUE(Keyring::LoadFile(path, nullptr).ok());
  }
  for (mode_t mode : {0600, 0400}) {
    SCOPED_TRACE(mode);
    const std::string path = Write(absl::StrCat("private", mode), text, mode);
    std::vector<std::string> warnings;
    ASSERT_TRUE(Keyring::LoadFile(path, &warnings).ok());
    EXPECT_THAT(warnings, IsEmpty());
  }
}

// Asserts that no 8-character run of `secret` appears in `message`.
void ExpectNoFragmentOf(absl::string_view message, absl::string_view secret) {
  for (size_t i = 0; i + 8 <= secret.size(); ++i) {
    ASSERT_THAT(std::string(message),
                Not(HasSubstr(std::string(secret.substr(i, 8)))));
  }
}

TEST_F(KeyringFileTest, ErrorMessagesNeverContainKeyText) {
  const std::string b64 = Base64(Bytes(32, 77));
  const std::string b64_31 = Base64(Bytes(31, 77));
  const std::string b64_33 = Base64(Bytes(33, 77));
  std::string bad_b64 = b64;
  bad_b64[10] = '*';
  struct Case {
    std::string text;
    std::string secret;
  };
  const std::vector<Case> cases = {
      {absl::StrCat("k1:", b64_31), b64_31},
      {absl::StrCat("k1:", b64_33), b64_33},
      {absl::StrCat("k1:", bad_b64), bad_b64},
      {absl::StrCat(b64, ":k1"), b64},  // Fields written the wrong way round.
      {b64, b64},                       // Id forgotten.
      {absl::StrCat("k 1:", b64), b64},
      {absl::StrCat("k1:", b64, "\nk1:", b64), b64},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text.substr(0, 3));
    const std::string path = Write("keys", c.text);
    auto keyring = Keyring::LoadFile(path, nullptr);
    ASSERT_EQ(keyring.status().code(), absl::StatusCode::kInvalidArgument);
    ExpectNoFragmentOf(keyring.status().message(), c.secret);
  }
}

TEST_F(KeyringFileTest, GenerateKeyLineRoundTripsThroughParse) {
  const std::string line1 = Keyring::GenerateKeyLine("gen-1");
  const std::string line2 = Keyring::GenerateKeyLine("gen-2");
  EXPECT_EQ(line1.rfind("gen-1:", 0), 0u);
  EXPECT_EQ(line1.size(), 6u + 44u);  // 32 bytes -> 44 base64 characters.
  auto keyring = Keyring::Parse(absl::StrCat(line1, "\n", line2, "\n"), "gen");
  ASSERT_TRUE(keyring.ok()) << keyring.status();
  EXPECT_THAT((*keyring)->key_ids(), ElementsAre("gen-1", "gen-2"));
  EXPECT_EQ(KeyringTestPeer::KeyBytes(**keyring, "gen-1").size(), kKeyBytes);
  // Fresh randomness each time.
  EXPECT_NE(KeyringTestPeer::KeyBytes(**keyring, "gen-1"),
            KeyringTestPeer::KeyBytes(**keyring, "gen-2"));
  EXPECT_NE(line1.substr(6), line2.substr(6));
}

TEST(KeyringRawTest, FromRawKeysValidates) {
  const std::string k = Bytes(32, 1);
  auto ok = Keyring::FromRawKeys({{"a", k}, {"b", Bytes(32, 2)}});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)->active_key_id(), "b");
  EXPECT_EQ(KeyringTestPeer::KeyBytes(**ok, "a"), k);

  EXPECT_EQ(Keyring::FromRawKeys({}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Keyring::FromRawKeys({{"a", Bytes(31, 1)}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Keyring::FromRawKeys({{"a", Bytes(33, 1)}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Keyring::FromRawKeys({{"a b", k}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto dup = Keyring::FromRawKeys({{"a", k}, {"a", Bytes(32, 2)}});
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dup.status().message(), HasSubstr("duplicate key id 'a'"));
}

TEST(KeyringIdTest, IsValidKeyId) {
  EXPECT_TRUE(IsValidKeyId("a"));
  EXPECT_TRUE(IsValidKeyId(std::string(64, '9')));
  EXPECT_FALSE(IsValidKeyId(std::string(65, '9')));
  EXPECT_FALSE(IsValidKeyId(""));
  EXPECT_FALSE(IsValidKeyId(absl::string_view("a\0b", 3)));
}

TEST(KeyringProtectionTest, KeyBytesAreInaccessibleBeforeFirstUse) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto keyring = Keyring::FromRawKeys({{"k1", Bytes(32, 1)}});
  ASSERT_TRUE(keyring.ok());
  EXPECT_FALSE(KeyringTestPeer::Readable(**keyring));
  const volatile unsigned char* region = KeyringTestPeer::Region(**keyring);
  EXPECT_DEATH({ std::printf("%d\n", region[0]); }, "");
}

TEST(KeyringProtectionTest, ProtectIfIdleWaitsForAWholeIdlePeriod) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto keyring = Keyring::FromRawKeys({{"k1", Bytes(32, 1)}});
  ASSERT_TRUE(keyring.ok());
  EXPECT_EQ(KeyringTestPeer::KeyBytes(**keyring, "k1"), Bytes(32, 1));
  EXPECT_EQ(KeyringTestPeer::Readers(**keyring), 0);
  // Used during this period: stays readable (no mprotect per access).
  EXPECT_TRUE(KeyringTestPeer::Readable(**keyring));
  EXPECT_FALSE((*keyring)->ProtectIfIdle());
  EXPECT_TRUE(KeyringTestPeer::Readable(**keyring));
  // A whole period without access: inaccessible again, and reads fault.
  EXPECT_TRUE((*keyring)->ProtectIfIdle());
  EXPECT_FALSE(KeyringTestPeer::Readable(**keyring));
  const volatile unsigned char* region = KeyringTestPeer::Region(**keyring);
  EXPECT_DEATH({ std::printf("%d\n", region[0]); }, "");
  // The next access makes it readable again with the same bytes.
  EXPECT_EQ(KeyringTestPeer::KeyBytes(**keyring, "k1"), Bytes(32, 1));
  EXPECT_TRUE(KeyringTestPeer::Readable(**keyring));
}

TEST(KeyringProtectionTest, ProtectIfIdleNeverProtectsDuringAnAccess) {
  auto keyring = Keyring::FromRawKeys({{"k1", Bytes(32, 1)}});
  ASSERT_TRUE(keyring.ok());
  KeyringTestPeer::WithAccess(**keyring, [&](const unsigned char* key) {
    for (int i = 0; i < 3; ++i) EXPECT_FALSE((*keyring)->ProtectIfIdle());
    // Still readable: this read would fault otherwise.
    EXPECT_EQ(key[0], 1);
  });
  EXPECT_FALSE((*keyring)->ProtectIfIdle());  // used during the period
  EXPECT_TRUE((*keyring)->ProtectIfIdle());
}

}  // namespace
}  // namespace vault
}  // namespace wxvault

#include "vault/sealer.h"

#include <sodium.h>

#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace wxvault {
namespace vault {
namespace {

constexpr absl::string_view kSealLabel = "wxvault.seal.v1";
constexpr absl::string_view kDigestLabel = "wxvault.digest.v1";
constexpr size_t kHeaderFixedBytes = 2;  // Version, key id length.

static_assert(Sealer::kNonceBytes ==
              crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(Sealer::kTagBytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kKeyBytes >= crypto_generichash_KEYBYTES_MIN &&
              kKeyBytes <= crypto_generichash_KEYBYTES_MAX);
static_assert(crypto_generichash_BYTES == 32);
static_assert(kMaxKeyIdLength <= 255, "key id length is stored in one byte");

void AppendU64Le(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

void AppendLengthPrefixed(std::string& out, absl::string_view s) {
  AppendU64Le(out, s.size());
  out.append(s.data(), s.size());
}

// The associated data binding an envelope to its record (see sealer.h).
std::string AssociatedData(const RecordIdentity& id, absl::string_view key_id) {
  std::string ad;
  ad.reserve(kSealLabel.size() + 1 + 8 + id.app_id.size() + 8 +
             id.openid.size() + 1 + 1 + key_id.size());
  ad.append(kSealLabel.data(), kSealLabel.size());
  ad.push_back(static_cast<char>(Sealer::kFormatVersion));
  AppendLengthPrefixed(ad, id.app_id);
  AppendLengthPrefixed(ad, id.openid);
  ad.push_back(static_cast<char>(id.kind));
  ad.push_back(static_cast<char>(key_id.size()));
  ad.append(key_id.data(), key_id.size());
  return ad;
}

// The parts of a structurally valid envelope; views into it.
struct ParsedEnvelope {
  absl::string_view key_id;
  const unsigned char* nonce;
  absl::string_view ciphertext;  // Ciphertext and tag.
};

// Checks the header; the error text has no prefix (callers add context).
absl::StatusOr<ParsedEnvelope> ParseEnvelope(absl::string_view envelope) {
  if (envelope.empty()) return absl::DataLossError("envelope is empty");
  const uint8_t version = static_cast<uint8_t>(envelope[0]);
  if (version != Sealer::kFormatVersion) {
    return absl::DataLossError(absl::StrCat(
        "unsupported envelope format version ", version,
        " (this build reads version ", Sealer::kFormatVersion, ")"));
  }
  if (envelope.size() < kHeaderFixedBytes) {
    return absl::DataLossError("envelope truncated inside its header");
  }
  const size_t key_id_length = static_cast<uint8_t>(envelope[1]);
  if (key_id_length == 0 || key_id_length > kMaxKeyIdLength) {
    return absl::DataLossError(
        absl::StrCat("envelope has an invalid key id length ", key_id_length));
  }
  const size_t min_size = Sealer::EnvelopeOverhead(key_id_length);
  if (envelope.size() < min_size) {
    return absl::DataLossError(
        absl::StrCat("envelope truncated: ", envelope.size(),
                     " bytes, the minimum is ", min_size));
  }
  ParsedEnvelope parsed;
  parsed.key_id = envelope.substr(kHeaderFixedBytes, key_id_length);
  if (!IsValidKeyId(parsed.key_id)) {
    return absl::DataLossError("envelope key id has invalid characters");
  }
  parsed.nonce = reinterpret_cast<const unsigned char*>(envelope.data()) +
                 kHeaderFixedBytes + key_id_length;
  parsed.ciphertext =
      envelope.substr(kHeaderFixedBytes + key_id_length + Sealer::kNonceBytes);
  return parsed;
}

absl::Status NotInKeyring(absl::string_view key_id) {
  if (!IsValidKeyId(key_id)) {
    return absl::FailedPreconditionError(
        absl::StrCat("key id (", key_id.size(),
                     " characters, not a valid key id) is not in "
                     "the keyring"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("key id '", key_id, "' is not in the keyring"));
}

std::string Describe(const RecordIdentity& id) {
  // The openid is left out on purpose: it is a per-user identifier.
  return absl::StrCat("sealed ", RecordKindName(id.kind), " record of app '",
                      id.app_id, "'");
}

absl::StatusOr<std::string> SealWithKeyBytes(const unsigned char* key,
                                             absl::string_view key_id,
                                             const RecordIdentity& id,
                                             absl::string_view plaintext) {
  if (plaintext.size() >
      crypto_aead_xchacha20poly1305_ietf_messagebytes_max()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "plaintext of ", plaintext.size(), " bytes is too large to seal"));
  }
  const std::string ad = AssociatedData(id, key_id);
  std::string out(Sealer::EnvelopeOverhead(key_id.size()) + plaintext.size(),
                  '\0');
  unsigned char* p = reinterpret_cast<unsigned char*>(out.data());
  p[0] = Sealer::kFormatVersion;
  p[1] = static_cast<unsigned char>(key_id.size());
  std::memcpy(p + kHeaderFixedBytes, key_id.data(), key_id.size());
  unsigned char* nonce = p + kHeaderFixedBytes + key_id.size();
  randombytes_buf(nonce, Sealer::kNonceBytes);
  unsigned long long ciphertext_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + Sealer::kNonceBytes, &ciphertext_len,
      reinterpret_cast<const unsigned char*>(plaintext.data()),
      plaintext.size(), reinterpret_cast<const unsigned char*>(ad.data()),
      ad.size(), /*nsec=*/nullptr, nonce, key);
  return out;
}

}  // namespace

std::string RecordKindName(RecordKind kind) {
  switch (kind) {
    case RecordKind::kTokenSecrets:
      return "token_secrets";
    case RecordKind::kProfile:
      return "profile";
    case RecordKind::kKeyCheck:
      return "key_check";
  }
  return absl::StrCat("kind_", static_cast<int>(kind));
}

Sealer::Sealer(const Keyring* keyring) : keyring_(keyring) {}

absl::StatusOr<std::string> Sealer::Seal(const RecordIdentity& id,
                                         absl::string_view plaintext) const {
  Keyring::KeyAccess access(*keyring_);
  return SealWithKeyBytes(access.Active(), keyring_->active_key_id(), id,
                          plaintext);
}

absl::StatusOr<std::string> Sealer::SealWithKey(
    absl::string_view key_id, const RecordIdentity& id,
    absl::string_view plaintext) const {
  if (!keyring_->Contains(key_id)) return NotInKeyring(key_id);
  Keyring::KeyAccess access(*keyring_);
  return SealWithKeyBytes(access.Find(key_id), key_id, id, plaintext);
}

absl::StatusOr<SecretString> Sealer::Open(const RecordIdentity& id,
                                          absl::string_view envelope) const {
  absl::StatusOr<ParsedEnvelope> parsed = ParseEnvelope(envelope);
  if (!parsed.ok()) {
    return absl::DataLossError(absl::StrCat("cannot open ", Describe(id), ": ",
                                            parsed.status().message()));
  }
  if (!keyring_->Contains(parsed->key_id)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", Describe(id),
                     ": it was sealed under key "
                     "id '",
                     parsed->key_id, "', which is not in the keyring"));
  }
  const std::string ad = AssociatedData(id, parsed->key_id);
  std::string plain(parsed->ciphertext.size() - kTagBytes, '\0');
  unsigned long long plain_len = 0;
  int rc;
  {
    Keyring::KeyAccess access(*keyring_);
    rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
        reinterpret_cast<unsigned char*>(plain.data()), &plain_len,
        /*nsec=*/nullptr,
        reinterpret_cast<const unsigned char*>(parsed->ciphertext.data()),
        parsed->ciphertext.size(),
        reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
        parsed->nonce, access.Find(parsed->key_id));
  }
  if (rc != 0 || plain_len != plain.size()) {
    WipeString(plain);
    return absl::DataLossError(absl::StrCat(
        "cannot open ", Describe(id), " sealed under key id '", parsed->key_id,
        "': authentication failed (wrong key bytes for that key id, a value "
        "belonging to another record, or corrupted data)"));
  }
  SecretString result(std::move(plain));
  WipeString(plain);  // A short plaintext is copied, not stolen, by the move.
  return result;
}

absl::StatusOr<std::string> Sealer::KeyIdOf(absl::string_view envelope) {
  absl::StatusOr<ParsedEnvelope> parsed = ParseEnvelope(envelope);
  if (!parsed.ok()) return parsed.status();
  return std::string(parsed->key_id);
}

std::string Sealer::KeyedDigest(absl::string_view domain,
                                absl::string_view data) const {
  std::string label;
  label.reserve(kDigestLabel.size() + 8 + domain.size());
  label.append(kDigestLabel.data(), kDigestLabel.size());
  AppendLengthPrefixed(label, domain);

  unsigned char subkey[crypto_generichash_BYTES];
  {
    Keyring::KeyAccess access(*keyring_);
    crypto_generichash(subkey, sizeof(subkey),
                       reinterpret_cast<const unsigned char*>(label.data()),
                       label.size(), access.Active(), kKeyBytes);
  }
  std::string digest(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(digest.data()),
                     digest.size(),
                     reinterpret_cast<const unsigned char*>(data.data()),
                     data.size(), subkey, sizeof(subkey));
  sodium_memzero(subkey, sizeof(subkey));
  return digest;
}

}  // namespace vault
}  // namespace wxvault

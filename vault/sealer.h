// Sealer: authenticated encryption of vault records under the keyring.
//
// Every secret the vault writes to disk (token secrets, cached profiles, the
// per-key check records) goes through Seal, and comes back only through Open.
// Sealing is XChaCha20-Poly1305 (libsodium crypto_aead_xchacha20poly1305_ietf)
// with a fresh random 24-byte nonce per call, and the record's identity as
// associated data: a sealed value copied or moved to another record (another
// app id, openid, kind) or re-labelled with another key id fails to open, as
// does any change to any bit.
//
// Envelope format, version 1 (all an envelope holds; stored as the value):
//
//   offset        size  field
//   0             1     format version, = 1
//   1             1     L, length of the key id (1..64)
//   2             L     key id (ASCII [A-Za-z0-9._-]) of the key that sealed it
//   2+L           24    nonce (random)
//   26+L          n+16  ciphertext of the n plaintext bytes, then the 16-byte
//                       Poly1305 tag
//
// Overhead: 1 + 1 + L + 24 + 16 bytes (EnvelopeOverhead(L)).
//
// Associated data (authenticated, not stored), in this order:
//   "wxvault.seal.v1" (15 bytes), the format version byte,
//   u64le(len(app_id)) app_id, u64le(len(openid)) openid,
//   the RecordKind byte, u8(L) key id.
// The length prefixes make the encoding injective: ("ab","c") and ("a","bc")
// are different identities.
//
// A new format gets a new version byte; Open rejects versions it does not
// know with DATA_LOSS, so an old binary never misreads a newer record.
//
// Thread safety: all methods are const and safe to call concurrently from any
// number of threads. Key bytes are read only inside each call, through the
// keyring's scoped accessor (see keyring.h).
#ifndef WXVAULT_VAULT_SEALER_H_
#define WXVAULT_VAULT_SEALER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vault/keyring.h"
#include "vault/secret_string.h"

namespace wxvault {
namespace vault {

// What a sealed record holds. The byte value is part of the associated data;
// never renumber.
enum class RecordKind : uint8_t {
  kTokenSecrets = 1,  // Refresh token, access token.
  kProfile = 2,       // Cached WeChat user info.
  kKeyCheck = 3,  // Known plaintext sealed under each key, checked at start.
};

// "token_secrets", "profile", "key_check", or "kind_<n>" for other values.
std::string RecordKindName(RecordKind kind);

// The identity a record is bound to. The views must stay valid for the call.
struct RecordIdentity {
  absl::string_view app_id;
  absl::string_view openid;
  RecordKind kind;
};

class Sealer {
 public:
  // Envelope format version written by Seal and accepted by Open.
  static constexpr uint8_t kFormatVersion = 1;
  static constexpr size_t kNonceBytes = 24;
  static constexpr size_t kTagBytes = 16;
  // Envelope size minus plaintext size, for a key id of `key_id_length`.
  static constexpr size_t EnvelopeOverhead(size_t key_id_length) {
    return 1 + 1 + key_id_length + kNonceBytes + kTagBytes;
  }

  // `keyring` is not owned and must outlive the Sealer. It must not be null.
  // A Sealer holds nothing but the pointer; copies share the keyring.
  explicit Sealer(const Keyring* keyring);

  // Seals `plaintext` for the record `id` under the keyring's active key and
  // returns the envelope (format above), EnvelopeOverhead(active id length)
  // bytes longer than `plaintext`. Two calls never return the same envelope.
  // Errors: INVALID_ARGUMENT if `plaintext` exceeds libsodium's message size
  // limit (~2^64 bytes; not reachable in practice).
  // Thread safety: safe to call concurrently.
  absl::StatusOr<std::string> Seal(const RecordIdentity& id,
                                   absl::string_view plaintext) const;

  // Like Seal, under the key named `key_id` instead of the active key (used
  // for the per-key check records).
  // Errors: FAILED_PRECONDITION "key id '<key_id>' is not in the keyring"
  // (the id is quoted only if it is a valid key id); INVALID_ARGUMENT as Seal.
  // Thread safety: safe to call concurrently.
  absl::StatusOr<std::string> SealWithKey(absl::string_view key_id,
                                          const RecordIdentity& id,
                                          absl::string_view plaintext) const;

  // Opens `envelope` as the record `id` and returns its plaintext.
  // Errors:
  //   DATA_LOSS  the envelope is malformed or truncated, has an unknown
  //              format version, or fails authentication (wrong key bytes
  //              under the right key id, an envelope of another record, any
  //              flipped bit). The message names the record kind, app id and
  //              key id, never the openid or any contents.
  //   FAILED_PRECONDITION  the envelope was sealed under a key id that is not
  //              in the keyring; the message names the key id.
  // Nothing is returned unless authentication succeeded.
  // Thread safety: safe to call concurrently.
  absl::StatusOr<SecretString> Open(const RecordIdentity& id,
                                    absl::string_view envelope) const;

  // The key id recorded in `envelope`'s header, without decrypting or
  // authenticating anything (a tampered header shows up only at Open).
  // Errors: DATA_LOSS if the header is malformed, the envelope is shorter
  // than a header plus nonce and tag, or the format version is unknown.
  // Thread safety: safe to call concurrently.
  static absl::StatusOr<std::string> KeyIdOf(absl::string_view envelope);

  // Keyed BLAKE2b-256 (crypto_generichash, 32-byte raw output) of `data`
  // under a subkey of the ACTIVE key for `domain` (e.g. "exchange-code").
  // The subkey is BLAKE2b-256 keyed by the master key over
  // "wxvault.digest.v1" || u64le(len(domain)) || domain. Deterministic for a
  // given active key, domain and data; different domains or keys give
  // unrelated digests. Rotating the active key changes every digest, so use
  // it only for values whose lookups may be lost at a key rotation (such as
  // short-lived codes). Never fails.
  // Thread safety: safe to call concurrently.
  std::string KeyedDigest(absl::string_view domain,
                          absl::string_view data) const;

  // The keyring this Sealer uses.
  const Keyring& keyring() const { return *keyring_; }

 private:
  const Keyring* const keyring_;
};

}  // namespace vault
}  // namespace wxvault

#endif  // WXVAULT_VAULT_SEALER_H_

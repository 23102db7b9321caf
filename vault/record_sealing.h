// Record sealing: how token secrets and profiles become the Sealer envelopes
// a TokenStore holds, and back.
//
// The one place that decides which identity (app id, openid, record kind)
// binds each envelope, so a ciphertext copied into another user's record, or
// from a profile into a token, fails to open.
//
// Thread safety: stateless functions; safe to call concurrently (Sealer is
// thread-safe). Plaintext temporaries are wiped before returning.
#ifndef WXVAULT_VAULT_RECORD_SEALING_H_
#define WXVAULT_VAULT_RECORD_SEALING_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vault/sealer.h"
#include "vault/secret_string.h"
#include "vault/token_record.pb.h"
#include "vault/token_store.h"

namespace wxvault::vault {

// Seals `secrets` under the active key into record->sealed_secrets and sets
// record->key_id. record->app_id/openid must already be set.
// Errors: those of Sealer::Seal.
absl::Status SealSecretsInto(const Sealer& sealer, const TokenSecrets& secrets, TokenRecord* record);

// Opens record.sealed_secrets.
// Errors: FAILED_PRECONDITION when the record holds no secrets (wiped:
// revoked or re-login required) or its key is not in the keyring; DATA_LOSS
// when the envelope fails to open (tampered, moved, wrong key).
absl::StatusOr<TokenSecrets> OpenSecrets(const Sealer& sealer, const TokenRecord& record);

// Seals a serialized profile for `key` into entry->sealed_profile/key_id.
absl::Status SealProfileInto(const Sealer& sealer, const TokenKey& key, absl::string_view serialized_profile,
                             ProfileEntry* entry);

// Opens a cached profile. Errors as OpenSecrets.
absl::StatusOr<SecretString> OpenProfile(const Sealer& sealer, const TokenKey& key, const ProfileEntry& entry);

// Wipes both secrets (sodium_memzero) and clears them.
void WipeSecrets(TokenSecrets* secrets);

}  // namespace wxvault::vault

#endif  // WXVAULT_VAULT_RECORD_SEALING_H_

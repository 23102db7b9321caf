// Key check: proves at start-up that the keyring opens the vault, before
// anything is written.
//
// For every key id the vault has seen, the vault holds a key-check record: a
// fixed plaintext sealed under that key (meta "keycheck/<key_id>"). At open:
//   * every key id that still seals a stored payload must be in the keyring
//     (otherwise start-up names the missing id);
//   * every keyring key with a key-check record must open it (otherwise the
//     key material is wrong for that id);
//   * one stored payload per key id in use is opened as well, which also
//     covers vaults whose payloads predate their key-check record.
// OpenVerifiedVault runs these checks on a read-only open, so a keyring that
// cannot open the vault refuses start-up and changes nothing on disk; only
// then does it open read-write and record checks for new keys.
//
// Thread safety: call before serving; not meant to race other writers.
#ifndef WXVAULT_VAULT_KEY_CHECK_H_
#define WXVAULT_VAULT_KEY_CHECK_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vault/rocks_token_store.h"
#include "vault/sealer.h"
#include "vault/token_store.h"

namespace wxvault::vault {

// Checks that `sealer`'s keyring opens everything in `store`. Reads only.
// Errors: FAILED_PRECONDITION naming the key id that is missing from the
// keyring or whose material is wrong; storage errors as TokenStore.
absl::Status VerifyKeyring(TokenStore& store, const Sealer& sealer);

// Writes key-check records for keyring keys that have none and removes those
// of keys that are neither in the keyring nor in use. Call after
// VerifyKeyring succeeded.
absl::Status RecordKeyChecks(TokenStore& store, const Sealer& sealer);

// Opens (or creates) the RocksDB vault at options.path with the keyring
// verified first on a read-only open (see file comment). `sealer` must outlive
// nothing here; it is only used during the call.
// Errors: those of RocksTokenStore::Open, VerifyKeyring and RecordKeyChecks.
absl::StatusOr<std::unique_ptr<RocksTokenStore>> OpenVerifiedVault(const RocksTokenStoreOptions& options,
                                                                  const Sealer& sealer);

}  // namespace wxvault::vault

#endif  // WXVAULT_VAULT_KEY_CHECK_H_

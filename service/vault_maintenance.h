// VaultMaintenance: the long-running VaultAdmin operations: RewrapAll,
// CreateBackup and Compact. No gRPC in here; the admin service calls these
// on a worker thread and converts the messages.
//
// RewrapAll re-seals every payload (token secrets, cached profiles) that is
// sealed under a key other than the active one, found through the store's
// key index (TokenStore::ListSealedByKey: O(records to rewrap), no scan).
// Each record is re-sealed under TokenService::RunExclusive (no refresh of it
// in flight) and committed on its own, conditional on the record's
// generation (a lost race is re-read and retried), so the work is safe while
// serving and survives a crash or a cancelled call. A call stops early, with
// a resume token, after `max_records` records or shortly before its deadline.
//
// CreateBackup writes a consistent, openable copy of the vault (a RocksDB
// checkpoint: hard links where the filesystem allows) into a new numbered
// subdirectory `<directory>/backup-<id>`, optionally pruning the oldest.
// Restore (server stopped): copy `<directory>/backup-<id>` to --data_dir.
//
// Errors, besides the store's (STORAGE_UNAVAILABLE for I/O):
//   ABORTED / OPERATION_IN_PROGRESS   the same operation is already running
//   INVALID_ARGUMENT / INVALID_ARGUMENT  bad request fields (named)
//
// Thread safety: all methods are thread-safe; each operation runs at most
// once at a time. Dependencies are not owned and must outlive this object.
#ifndef WXVAULT_SERVICE_VAULT_MAINTENANCE_H_
#define WXVAULT_SERVICE_VAULT_MAINTENANCE_H_

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "service/token_service.h"
#include "vault/clock.h"
#include "vault/sealer.h"
#include "vault/token_store.h"
#include "wxvault/v1/vault_admin.pb.h"

namespace wxvault::service {

class VaultMaintenance {
 public:
  struct Deps {
    vault::TokenStore* store = nullptr;
    const vault::Sealer* sealer = nullptr;
    TokenService* tokens = nullptr;
    Clock* clock = nullptr;
    std::string data_dir;  // absolute; backups may not go inside it
  };
  explicit VaultMaintenance(Deps deps) : deps_(std::move(deps)) {}

  absl::Status RewrapAll(const wxvault::v1::RewrapAllRequest& request, absl::Time deadline,
                         wxvault::v1::RewrapAllResponse* response);
  absl::Status CreateBackup(const wxvault::v1::CreateBackupRequest& request,
                            wxvault::v1::CreateBackupResponse* response);
  absl::Status Compact(wxvault::v1::CompactResponse* response);

 private:
  enum class Outcome { kRewrapped, kCurrent, kFailed };
  // Re-seals one payload sealed under `old_key`; fills *error on kFailed.
  Outcome RewrapOne(const vault::SealedRef& ref, const std::string& old_key, bool dry_run, absl::Time deadline,
                    std::string* error);
  Outcome RewrapSecrets(const vault::TokenKey& key, const std::string& old_key, bool dry_run, std::string* error);
  Outcome RewrapProfile(const vault::TokenKey& key, const std::string& old_key, bool dry_run, std::string* error);

  const Deps deps_;
  std::atomic<bool> rewrap_running_{false};
  std::atomic<bool> backup_running_{false};
  std::atomic<bool> compact_running_{false};
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_VAULT_MAINTENANCE_H_

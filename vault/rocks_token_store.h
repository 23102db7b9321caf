// RocksTokenStore: the embedded RocksDB implementation of TokenStore.
//
// One RocksDB database with a column family per kind of entry (layout in
// vault/store_keys.h). Every Commit is one WriteBatch written with
// sync=true, so an acknowledged write survives kill -9; concurrent commits to
// different tokens share WAL syncs through RocksDB's group commit. Commits to
// one token are serialized by a striped lock, which is what makes the
// generation compare-and-write atomic.
//
// Per-state token counts are kept in a counters family updated by a merge
// operator inside the same batch as the record, so GetVaultStatus never
// scans and start-up never counts.
//
// Thread safety: all methods are thread-safe (see TokenStore).
// Ownership: the store owns the database; destroying it closes RocksDB
// cleanly (memtables stay in the synced WAL and are replayed on next open).
#ifndef WXVAULT_VAULT_ROCKS_TOKEN_STORE_H_
#define WXVAULT_VAULT_ROCKS_TOKEN_STORE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "vault/token_store.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Status;
class WriteBatch;
struct WriteOptions;
}  // namespace rocksdb

namespace wxvault::vault {

struct RocksTokenStoreOptions {
  // Directory of the database. Required.
  std::string path;
  // Open without write access: nothing in `path` is created or changed, and
  // every mutating call fails with FAILED_PRECONDITION. Used to verify a
  // keyring against a vault before touching it. Default: false.
  bool read_only = false;
  // Create the database when `path` holds none. Default: true.
  bool create_if_missing = true;
  // Sync the WAL before acknowledging a write. Default: true. Only
  // benchmarks turn this off, to measure the cost of durability.
  bool sync_writes = true;
  // Shared block cache for all families. Default: 32 MiB.
  size_t block_cache_bytes = 32u << 20;
  // Memtable size of the tokens family. Default: 16 MiB.
  size_t write_buffer_bytes = 16u << 20;
  // Ceiling on all memtables together. Default: 64 MiB.
  size_t total_write_buffer_bytes = 64u << 20;
  // WAL size that forces a flush, bounding recovery time. Default: 64 MiB.
  size_t max_total_wal_bytes = 64u << 20;
  // Flush and compaction threads. Default: 2.
  int max_background_jobs = 2;

  // INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;
};

class RocksTokenStore final : public TokenStore {
 public:
  // Opens (or creates) the database at options.path.
  // Errors: INVALID_ARGUMENT bad options; NOT_FOUND no database and
  // create_if_missing (or read_only) forbids creating one; UNAVAILABLE the
  // directory is locked by another process or I/O failed; DATA_LOSS
  // corruption; FAILED_PRECONDITION a vault written by an unknown format.
  static absl::StatusOr<std::unique_ptr<RocksTokenStore>> Open(const RocksTokenStoreOptions& options);

  ~RocksTokenStore() override;
  RocksTokenStore(const RocksTokenStore&) = delete;
  RocksTokenStore& operator=(const RocksTokenStore&) = delete;

  absl::StatusOr<TokenRecord> GetToken(const TokenKey& key) override;
  absl::StatusOr<CommitResult> Commit(const TokenWrite& write) override;
  absl::StatusOr<TokenPage> ListTokens(const ListTokensOptions& options) override;
  absl::StatusOr<std::vector<DueEntry>> ReadDue(int64_t now_ms, size_t limit) override;
  absl::StatusOr<std::optional<int64_t>> NextDueAt() override;
  absl::StatusOr<ExchangeEntry> GetExchange(absl::string_view digest, int64_t now_ms) override;
  absl::StatusOr<size_t> PurgeExpiredExchanges(int64_t now_ms, size_t limit) override;
  absl::StatusOr<ProfileEntry> GetProfile(const TokenKey& key) override;
  absl::StatusOr<std::vector<EventRecord>> ReadEvents(uint64_t after_sequence, size_t limit) override;
  void SetEventListener(std::function<void(uint64_t readable_sequence)> listener) override;
  void SetCommitListener(std::function<void(const TokenKey& key)> listener) override;
  absl::StatusOr<size_t> TrimEvents(int64_t before_ms, size_t limit) override;
  absl::StatusOr<std::vector<std::string>> KeyIdsInUse() override;
  absl::StatusOr<std::vector<SealedRef>> ListSealedByKey(absl::string_view key_id,
                                                         const std::optional<SealedRef>& after,
                                                         size_t limit) override;
  absl::StatusOr<std::string> GetMeta(absl::string_view name) override;
  absl::StatusOr<std::map<std::string, std::string>> ListMeta(absl::string_view prefix) override;
  absl::Status PutMeta(absl::string_view name, absl::string_view value) override;
  absl::Status DeleteMeta(absl::string_view name) override;
  absl::StatusOr<StoreStats> Stats() override;
  absl::Status Compact() override;
  absl::StatusOr<BackupInfo> CreateBackup(const std::string& directory) override;

 private:
  struct Families {
    rocksdb::ColumnFamilyHandle* meta = nullptr;
    rocksdb::ColumnFamilyHandle* tokens = nullptr;
    rocksdb::ColumnFamilyHandle* schedule = nullptr;
    rocksdb::ColumnFamilyHandle* exchanges = nullptr;
    rocksdb::ColumnFamilyHandle* exchange_expiry = nullptr;
    rocksdb::ColumnFamilyHandle* profiles = nullptr;
    rocksdb::ColumnFamilyHandle* events = nullptr;
    rocksdb::ColumnFamilyHandle* key_index = nullptr;
    rocksdb::ColumnFamilyHandle* counters = nullptr;
  };
  static constexpr size_t kLockStripes = 256;

  RocksTokenStore(RocksTokenStoreOptions options, std::unique_ptr<rocksdb::DB> db,
                  std::vector<rocksdb::ColumnFamilyHandle*> handles);
  absl::Status InitAfterOpen();
  absl::Status CheckWritable() const;
  // Write options of every mutation: synced unless options_.sync_writes is off.
  rocksdb::WriteOptions DurableWrite() const;
  absl::Mutex& StripeFor(absl::string_view token_key_bytes);
  // Appends `write`'s changes to `batch`. Called with the token's stripe held.
  absl::StatusOr<CommitResult> BuildBatch(const TokenWrite& write, rocksdb::WriteBatch* batch);
  // Keeps the profile and its key-index entry in step for `write`.
  void AddKeyIndexChange(const std::string& before_key, const std::string& after_key, SealedKind kind,
                         const TokenKey& key, rocksdb::WriteBatch* batch, std::vector<rocksdb::Status>* statuses);
  absl::Status AddProfileChanges(const TokenWrite& write, rocksdb::WriteBatch* batch);
  // Highest sequence below which every event write has finished.
  uint64_t ReadableEventWatermark() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(event_mu_);
  // Calls the commit listener, if any, with `key`.
  void NotifyCommitListener(const TokenKey& key) const;

  const RocksTokenStoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  Families cf_;
  std::array<absl::Mutex, kLockStripes> stripes_;

  mutable absl::Mutex event_mu_;
  uint64_t next_event_sequence_ ABSL_GUARDED_BY(event_mu_) = 1;
  std::set<uint64_t> events_in_flight_ ABSL_GUARDED_BY(event_mu_);
  std::shared_ptr<const std::function<void(uint64_t)>> event_listener_ ABSL_GUARDED_BY(event_mu_);

  mutable absl::Mutex commit_listener_mu_;
  std::shared_ptr<const std::function<void(const TokenKey&)>> commit_listener_ ABSL_GUARDED_BY(commit_listener_mu_);

  std::atomic<uint64_t> schedule_entries_examined_{0};
};

}  // namespace wxvault::vault

#endif  // WXVAULT_VAULT_ROCKS_TOKEN_STORE_H_

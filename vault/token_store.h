// TokenStore: the persistence interface of the token vault.
//
// What it is for
//   Everything wxvault must not lose lives behind this interface: the sealed
//   token records, the refresher's schedule index, the Exchange idempotency
//   table, the sealed profile cache, the lifecycle event log and a little
//   metadata (key-check records). The only implementation today is
//   RocksTokenStore (vault/rocks_token_store.h), an embedded RocksDB. The
//   interface deliberately holds no RocksDB types so that a shared SQL backend
//   (PostgreSQL: one table per family, `generation` as an optimistic-lock
//   column, a btree index on next_due_at_ms) can implement it later for
//   multi-replica deployments.
//
// What it is not
//   The store never sees a plaintext secret: callers hand it Sealer envelopes
//   (vault/sealer.h). It does not read the clock either: every time-dependent
//   call takes "now" as an argument, so tests are deterministic.
//
// Durability
//   Every mutating call returns only after its changes are durable (for
//   RocksDB: one WriteBatch written with sync=true). A call that returned OK
//   survives kill -9 and power loss; a call that failed or was interrupted
//   left either all or none of its changes.
//
// Thread safety
//   All methods are safe to call concurrently from any thread. Commits to the
//   same token are serialized; commits to different tokens proceed in
//   parallel (and share WAL syncs: group commit).
//
// Errors (common to all methods)
//   INVALID_ARGUMENT   a malformed key or write (empty/oversized app_id or
//                      openid, both put and erase, ...)
//   ABORTED            a conditional write lost a race (generation mismatch);
//                      re-read and decide again
//   NOT_FOUND          the looked-up entry does not exist (or has expired)
//   FAILED_PRECONDITION a write on a store opened read-only
//   DATA_LOSS          a stored entry cannot be parsed (corruption)
//   UNAVAILABLE        the storage engine failed an I/O operation (retry)
//   INTERNAL           anything else the storage engine reports
#ifndef WXVAULT_VAULT_TOKEN_STORE_H_
#define WXVAULT_VAULT_TOKEN_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vault/token_record.pb.h"

namespace wxvault::vault {

// Identity of one token record: one WeChat user (openid) of one app.
struct TokenKey {
  std::string app_id;
  std::string openid;

  friend bool operator==(const TokenKey& a, const TokenKey& b) {
    return a.app_id == b.app_id && a.openid == b.openid;
  }
  friend bool operator!=(const TokenKey& a, const TokenKey& b) { return !(a == b); }
  friend bool operator<(const TokenKey& a, const TokenKey& b) {
    return a.app_id != b.app_id ? a.app_id < b.app_id : a.openid < b.openid;
  }
};

// Limits the store enforces on identifiers (the gRPC layer enforces tighter
// charset rules; these only keep the on-disk encoding unambiguous).
inline constexpr size_t kMaxIdentifierBytes = 128;

// Kinds of sealed payload tracked in the key index (see ListSealedByKey).
enum class SealedKind : uint8_t {
  kTokenSecrets = 1,
  kProfile = 2,
};

// One atomic change to the vault, centred on one token. Everything in it is
// written in one batch: either all of it is durable or none of it.
struct TokenWrite {
  TokenKey key;

  // Condition on the stored record:
  //   std::nullopt  unconditional
  //   0             the record must not exist (generations start at 1)
  //   N             the stored record's generation must be exactly N
  // A mismatch fails the whole write with ABORTED and changes nothing.
  std::optional<uint64_t> expected_generation;

  // At most one of `put` / `erase`; neither leaves the record untouched
  // (the condition is still checked).
  // `put`: stores the record. The store sets `generation` (old + 1, or 1)
  //   and keeps the schedule index (next_due_at_ms) and the key index
  //   (key_id) in step with it. record.app_id/openid must equal `key`.
  std::optional<TokenRecord> put;
  // `erase`: removes the record, its schedule entry, its key-index entry and
  //   its cached profile.
  bool erase = false;

  // Cached profile: put (`profile`) or remove (`erase_profile`), not both.
  std::optional<ProfileEntry> profile;
  bool erase_profile = false;

  // Exchange idempotency entry keyed by `exchange_digest` (a keyed hash of the
  // WeChat code, never the code itself). Both set or both empty.
  std::string exchange_digest;
  std::optional<ExchangeEntry> exchange;

  // Events appended to the log in order; the store assigns `sequence`.
  std::vector<EventRecord> events;
};

struct CommitResult {
  // Generation of the record after the write (0 when erased or absent).
  uint64_t generation = 0;
  // Sequences assigned to TokenWrite::events, in order.
  std::vector<uint64_t> event_sequences;
};

// One entry of the schedule index.
struct DueEntry {
  int64_t due_at_ms = 0;
  TokenKey key;
};

// A sealed payload found through the key index.
struct SealedRef {
  SealedKind kind = SealedKind::kTokenSecrets;
  TokenKey key;
};

struct ListTokensOptions {
  std::string app_id;  // empty: all apps
  RecordState state = RECORD_STATE_UNSPECIFIED;  // UNSPECIFIED: any state
  size_t page_size = 100;                        // 1..1000
  std::string page_token;  // empty: first page; else a previous next_page_token
  // Upper bound on records examined per call when filtering by state, so an
  // admin listing never turns into an unbounded scan. A page may come back
  // short (even empty) with a next_page_token; keep paging.
  size_t max_examined = 10'000;
};

struct TokenPage {
  std::vector<TokenRecord> records;
  std::string next_page_token;  // empty: no more records
};

struct StoreStats {
  std::map<RecordState, int64_t> tokens_by_state;
  int64_t total_tokens = 0;
  // Sealed payloads (token secrets + profiles) per key id; ids with none are
  // absent. Kept as counters, so this never scans.
  std::map<std::string, int64_t> sealed_by_key;
  uint64_t first_event_sequence = 0;  // 0 when the log is empty
  uint64_t last_event_sequence = 0;
  uint64_t data_size_bytes = 0;       // live files on disk + memtables
  // Schedule-index entries examined by ReadDue since open; lets tests and
  // operators confirm reads are O(due).
  uint64_t schedule_entries_examined = 0;
};

struct BackupInfo {
  std::string directory;
  uint64_t size_bytes = 0;
  uint64_t last_event_sequence = 0;
};

class TokenStore {
 public:
  virtual ~TokenStore() = default;

  // ---- token records ----

  // Returns the record for `key`. NOT_FOUND if absent.
  virtual absl::StatusOr<TokenRecord> GetToken(const TokenKey& key) = 0;

  // Applies `write` atomically and durably. ABORTED on a generation mismatch.
  virtual absl::StatusOr<CommitResult> Commit(const TokenWrite& write) = 0;

  // Pages through records in key order (app_id, then openid).
  // INVALID_ARGUMENT for a bad page_size or page_token.
  virtual absl::StatusOr<TokenPage> ListTokens(const ListTokensOptions& options) = 0;

  // ---- schedule index ----

  // Entries with due_at_ms <= now_ms, earliest first, at most `limit`.
  // Reads only those entries (plus one to find the end): O(due), never a scan.
  virtual absl::StatusOr<std::vector<DueEntry>> ReadDue(int64_t now_ms, size_t limit) = 0;

  // Earliest due time in the index; nullopt when nothing is scheduled.
  virtual absl::StatusOr<std::optional<int64_t>> NextDueAt() = 0;

  // ---- exchange idempotency ----

  // The entry for `digest` if present and expires_at_ms > now_ms; NOT_FOUND
  // otherwise (an expired entry is treated as absent even before purge).
  virtual absl::StatusOr<ExchangeEntry> GetExchange(absl::string_view digest, int64_t now_ms) = 0;

  // Deletes up to `limit` entries with expires_at_ms <= now_ms, oldest first,
  // reading only those. Returns how many were deleted.
  virtual absl::StatusOr<size_t> PurgeExpiredExchanges(int64_t now_ms, size_t limit) = 0;

  // ---- profile cache ----

  // The cached sealed profile of `key`. NOT_FOUND if none.
  virtual absl::StatusOr<ProfileEntry> GetProfile(const TokenKey& key) = 0;

  // ---- event log ----

  // Events with sequence > after_sequence, in sequence order, at most `limit`.
  // Only events whose write has completed are returned, and never one after a
  // gap still being written: a reader that resumes from the last sequence it
  // saw never misses an event.
  virtual absl::StatusOr<std::vector<EventRecord>> ReadEvents(uint64_t after_sequence,
                                                              size_t limit) = 0;

  // Registers a function called after every commit that appended events,
  // with the highest sequence now readable (ReadEvents returns up to it).
  // Called on the committing thread outside the store's locks: it must be
  // quick and must not call back into Commit. An empty function clears it.
  virtual void SetEventListener(std::function<void(uint64_t readable_sequence)> listener) = 0;

  // Registers a function called by every Commit with the written key, once
  // the write is applied (or has failed) and before Commit returns; readers
  // that keep copies of records (service/access_token_cache.h) drop them
  // there. Called on the committing thread while the key's write lock is
  // held: it must be quick and must not call into the store. An empty
  // function clears it.
  virtual void SetCommitListener(std::function<void(const TokenKey& key)> listener) = 0;

  // Deletes events with at_ms < before_ms, oldest first, at most `limit`.
  // Returns how many were deleted.
  virtual absl::StatusOr<size_t> TrimEvents(int64_t before_ms, size_t limit) = 0;

  // ---- keys ----

  // Distinct key ids that seal at least one stored payload. O(number of
  // distinct key ids).
  virtual absl::StatusOr<std::vector<std::string>> KeyIdsInUse() = 0;

  // Payloads sealed under `key_id`, in key order, starting after `after`
  // (empty: from the start), at most `limit`. Used by RewrapAll.
  virtual absl::StatusOr<std::vector<SealedRef>> ListSealedByKey(absl::string_view key_id,
                                                                 const std::optional<SealedRef>& after,
                                                                 size_t limit) = 0;

  // ---- metadata ----

  // Small named values (key-check records, format version). NOT_FOUND if absent.
  virtual absl::StatusOr<std::string> GetMeta(absl::string_view name) = 0;
  // Names that start with `prefix`, with their values.
  virtual absl::StatusOr<std::map<std::string, std::string>> ListMeta(absl::string_view prefix) = 0;
  virtual absl::Status PutMeta(absl::string_view name, absl::string_view value) = 0;
  virtual absl::Status DeleteMeta(absl::string_view name) = 0;

  // ---- operations ----

  virtual absl::StatusOr<StoreStats> Stats() = 0;
  // Full manual compaction of every family. Blocks until done.
  virtual absl::Status Compact() = 0;
  // A consistent, openable copy of the vault in `directory`, which must not
  // exist yet (ALREADY_EXISTS otherwise). The copy holds sealed data only.
  virtual absl::StatusOr<BackupInfo> CreateBackup(const std::string& directory) = 0;
};

}  // namespace wxvault::vault

#endif  // WXVAULT_VAULT_TOKEN_STORE_H_

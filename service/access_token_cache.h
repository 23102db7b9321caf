// AccessTokenCache: access tokens recently handed out, already opened, so
// that GetAccessToken on a warm token is answered from memory.
//
// Why: a warm GetAccessToken used to read the record from RocksDB and open
// its sealed secrets on a worker thread, at ~0.45x the throughput of a bare
// Health/Check (BENCHMARKS.md). Served from here it runs inline on the gRPC
// callback thread, with no thread hop, no read and no decryption.
//
// Consistency: the cache is a read-through copy of the vault that never
// serves a record older than the last *acknowledged* write of its token.
//   * Every token write (TokenStore::Commit, whoever makes it) calls
//     Invalidate(key) once the write is applied and before Commit returns,
//     through the store's commit listener. So an acknowledged Revoke or
//     refresh is never followed by the old access token.
//   * A reader fills the cache in three steps: Epoch(key) *before* it reads
//     the store, then the read, then Insert(epoch, ...). Insert drops the
//     entry when any invalidation of the key's shard happened since that
//     epoch, so a read that raced a write can never plant the older record.
//
// Security: entries hold plaintext access tokens (never refresh tokens), the
// same value GetAccessToken returns to callers. They are wiped on eviction,
// invalidation and destruction (vault::SecretString). The number of entries
// is bounded by `capacity`; a full shard evicts an arbitrary entry.
//
// Thread safety: all methods are thread-safe. Each takes one shard's lock,
// except a repeated hit of LookupOnThisThread, which takes none.
#ifndef WXVAULT_SERVICE_ACCESS_TOKEN_CACHE_H_
#define WXVAULT_SERVICE_ACCESS_TOKEN_CACHE_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "vault/secret_string.h"
#include "vault/token_record.pb.h"
#include "vault/token_store.h"

namespace wxvault::service {

// One cached token: immutable once cached, shared with the callers reading it.
struct CachedAccessToken {
  CachedAccessToken(vault::TokenRecord r, vault::SecretString token)
      : record(std::move(r)), access_token(std::move(token)) {}

  // The wire answer for this entry, built by `render` on the first call and
  // kept (the gRPC handler serializes its response once per token version,
  // not once per call). Every caller must pass an equivalent `render`. The
  // answer holds the access token, so it is kept as a secret too.
  // Thread-safe.
  absl::string_view Rendered(absl::FunctionRef<std::string()> render) const {
    absl::call_once(rendered_once_, [&] { rendered_ = vault::SecretString(render()); });
    return rendered_.view();
  }

  const vault::TokenRecord record;        // as read from the vault (sealed fields included)
  const vault::SecretString access_token;  // opened; wiped when the last holder drops it

 private:
  mutable absl::once_flag rendered_once_;
  mutable vault::SecretString rendered_;
};

class AccessTokenCache {
 public:
  // `capacity`: most entries held (0 disables the cache: nothing is kept).
  explicit AccessTokenCache(size_t capacity);
  AccessTokenCache(const AccessTokenCache&) = delete;
  AccessTokenCache& operator=(const AccessTokenCache&) = delete;

  // The invalidation epoch of `key`'s shard. Take it before reading the
  // record that will be passed to Insert.
  uint64_t Epoch(const vault::TokenKey& key) const;

  // Caches `record` with its opened `access_token` unless `key`'s shard was
  // invalidated since `epoch`. Replaces an older generation of the token,
  // never a newer one.
  void Insert(uint64_t epoch, const vault::TokenRecord& record, std::string access_token);

  // The entry of (app_id, openid), or null. Allocates nothing.
  std::shared_ptr<const CachedAccessToken> Lookup(absl::string_view app_id, absl::string_view openid) const;

  // Lookup for the hot path: the entry of (app_id, openid), or null, valid
  // until this thread's next LookupOnThisThread call. Each thread keeps its
  // last few hits in a small thread-local table, checked against the shard's
  // epoch with one plain atomic load: a repeated hit takes no lock and
  // writes no shared memory (a shared lock and reference count bounced
  // between the two CPUs on every call of a hot token). An entry invalidated
  // or replaced since it was remembered is never returned; it stays in the
  // thread's table (not served, at most kThreadSlots per thread) until the
  // thread reuses that slot. An entry evicted for capacity (no write
  // happened, so it is still current) may go on being served from a
  // thread's table until then. Allocates nothing on a repeated hit.
  const CachedAccessToken* LookupOnThisThread(absl::string_view app_id, absl::string_view openid) const;

  // Forgets `key` (wiping its access token) and starts a new epoch for its
  // shard. Called for every committed token write.
  void Invalidate(const vault::TokenKey& key);

  // Entries held now (for tests and metrics).
  size_t size() const;

 private:
  struct Shard {
    mutable absl::Mutex mu;
    // Bumped (under mu) by every invalidation and replacement; read without
    // mu by LookupOnThisThread.
    std::atomic<uint64_t> epoch{0};
    absl::flat_hash_map<std::string, std::shared_ptr<const CachedAccessToken>> entries ABSL_GUARDED_BY(mu);
  };
  static constexpr size_t kShards = 16;
  // Remembered hits per thread (LookupOnThisThread).
  static constexpr size_t kThreadSlots = 16;

  Shard& ShardFor(absl::string_view key_bytes) const;
  // Lookup under the shard's lock; *epoch = the shard's epoch then.
  std::shared_ptr<const CachedAccessToken> LookupLocked(Shard& shard, absl::string_view key_bytes,
                                                        uint64_t* epoch) const;

  const uint64_t instance_;  // process-unique: thread tables never mix caches
  const size_t capacity_per_shard_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_ACCESS_TOKEN_CACHE_H_

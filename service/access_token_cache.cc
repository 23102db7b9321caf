#include "service/access_token_cache.h"

#include <array>
#include <atomic>
#include <string>
#include <utility>

#include "absl/hash/hash.h"
#include "vault/store_keys.h"

namespace wxvault::service {

namespace keys = vault::store_keys;

namespace {

std::atomic<uint64_t> next_instance{1};

// One remembered hit of LookupOnThisThread.
struct ThreadSlot {
  uint64_t instance = 0;  // AccessTokenCache::instance_; 0: empty
  uint64_t epoch = 0;     // the shard's epoch when remembered
  std::string key_bytes;
  std::shared_ptr<const CachedAccessToken> entry;
};

}  // namespace

AccessTokenCache::AccessTokenCache(size_t capacity)
    : instance_(next_instance.fetch_add(1)),
      capacity_per_shard_(capacity == 0 ? 0 : (capacity + kShards - 1) / kShards) {}

AccessTokenCache::Shard& AccessTokenCache::ShardFor(absl::string_view key_bytes) const {
  return shards_[absl::HashOf(key_bytes) % kShards];
}

uint64_t AccessTokenCache::Epoch(const vault::TokenKey& key) const {
  Shard& shard = ShardFor(keys::TokenKeyBytes(key));
  absl::MutexLock lock(&shard.mu);
  return shard.epoch.load();
}

void AccessTokenCache::Insert(uint64_t epoch, const vault::TokenRecord& record, std::string access_token) {
  vault::SecretString secret(std::move(access_token));
  if (capacity_per_shard_ == 0) return;
  const std::string key_bytes = keys::TokenKeyBytes({record.app_id(), record.openid()});
  Shard& shard = ShardFor(key_bytes);
  // Built outside the lock (a proto copy).
  auto entry = std::make_shared<const CachedAccessToken>(record, std::move(secret));
  std::shared_ptr<const CachedAccessToken> dropped;  // released after the lock
  absl::MutexLock lock(&shard.mu);
  if (shard.epoch.load() != epoch) return;  // a write raced this read: the record may be stale
  auto it = shard.entries.find(key_bytes);
  if (it != shard.entries.end()) {
    if (it->second->record.generation() >= record.generation()) return;
    dropped = std::exchange(it->second, std::move(entry));
    shard.epoch.fetch_add(1);  // threads' remembered copies of the old one lapse
    return;
  }
  if (shard.entries.size() >= capacity_per_shard_) {
    dropped = std::move(shard.entries.begin()->second);
    shard.entries.erase(shard.entries.begin());
  }
  shard.entries.emplace(key_bytes, std::move(entry));
}

std::shared_ptr<const CachedAccessToken> AccessTokenCache::Lookup(absl::string_view app_id,
                                                                  absl::string_view openid) const {
  if (capacity_per_shard_ == 0) return nullptr;
  thread_local std::string key_bytes;  // reused: no allocation per lookup
  keys::AssignTokenKeyBytes(app_id, openid, &key_bytes);
  uint64_t epoch = 0;
  return LookupLocked(ShardFor(key_bytes), key_bytes, &epoch);
}

std::shared_ptr<const CachedAccessToken> AccessTokenCache::LookupLocked(Shard& shard, absl::string_view key_bytes,
                                                                        uint64_t* epoch) const {
  absl::MutexLock lock(&shard.mu);
  *epoch = shard.epoch.load();
  auto it = shard.entries.find(key_bytes);
  return it == shard.entries.end() ? nullptr : it->second;
}

const CachedAccessToken* AccessTokenCache::LookupOnThisThread(absl::string_view app_id,
                                                             absl::string_view openid) const {
  if (capacity_per_shard_ == 0) return nullptr;
  thread_local std::string key_bytes;
  thread_local std::array<ThreadSlot, kThreadSlots> slots;
  keys::AssignTokenKeyBytes(app_id, openid, &key_bytes);
  const size_t hash = absl::HashOf(absl::string_view(key_bytes));
  Shard& shard = shards_[hash % kShards];
  ThreadSlot& slot = slots[(hash / kShards) % kThreadSlots];
  // Acquire: pairs with the bump made after an entry is removed or replaced.
  const uint64_t epoch = shard.epoch.load(std::memory_order_acquire);
  if (slot.instance == instance_ && slot.epoch == epoch && slot.entry != nullptr && slot.key_bytes == key_bytes) {
    return slot.entry.get();
  }
  uint64_t locked_epoch = 0;
  std::shared_ptr<const CachedAccessToken> entry = LookupLocked(shard, key_bytes, &locked_epoch);
  slot.instance = instance_;
  slot.epoch = locked_epoch;
  slot.key_bytes.assign(key_bytes);
  slot.entry = std::move(entry);  // drops (and may wipe) what the slot held
  return slot.entry.get();
}

void AccessTokenCache::Invalidate(const vault::TokenKey& key) {
  const std::string key_bytes = keys::TokenKeyBytes(key);
  Shard& shard = ShardFor(key_bytes);
  std::shared_ptr<const CachedAccessToken> dropped;  // wiped after the lock
  absl::MutexLock lock(&shard.mu);
  shard.epoch.fetch_add(1);
  auto it = shard.entries.find(key_bytes);
  if (it == shard.entries.end()) return;
  dropped = std::move(it->second);
  shard.entries.erase(it);
}

size_t AccessTokenCache::size() const {
  size_t total = 0;
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    total += shard.entries.size();
  }
  return total;
}

}  // namespace wxvault::service

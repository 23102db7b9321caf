#include "service/access_token_cache.h"

#include <utility>

#include "absl/hash/hash.h"
#include "vault/store_keys.h"

namespace wxvault::service {

namespace keys = vault::store_keys;

AccessTokenCache::AccessTokenCache(size_t capacity)
    : capacity_per_shard_(capacity == 0 ? 0 : (capacity + kShards - 1) / kShards) {}

AccessTokenCache::Shard& AccessTokenCache::ShardFor(absl::string_view key_bytes) const {
  return shards_[absl::HashOf(key_bytes) % kShards];
}

uint64_t AccessTokenCache::Epoch(const vault::TokenKey& key) const {
  Shard& shard = ShardFor(keys::TokenKeyBytes(key));
  absl::MutexLock lock(&shard.mu);
  return shard.epoch;
}

void AccessTokenCache::Insert(uint64_t epoch, const vault::TokenRecord& record, std::string access_token) {
  vault::SecretString secret(std::move(access_token));
  if (capacity_per_shard_ == 0) return;
  const std::string key_bytes = keys::TokenKeyBytes({record.app_id(), record.openid()});
  Shard& shard = ShardFor(key_bytes);
  {
    absl::MutexLock lock(&shard.mu);
    if (shard.epoch != epoch) return;  // a write raced this read: the record may be stale
    auto it = shard.entries.find(key_bytes);
    if (it != shard.entries.end() && it->second->record.generation() >= record.generation()) return;
  }
  // Built outside the lock (a proto copy); the epoch is checked again.
  auto entry = std::make_shared<const CachedAccessToken>(record, std::move(secret));
  std::shared_ptr<const CachedAccessToken> dropped;  // released after the lock
  absl::MutexLock lock(&shard.mu);
  if (shard.epoch != epoch) return;
  auto it = shard.entries.find(key_bytes);
  if (it != shard.entries.end()) {
    if (it->second->record.generation() >= record.generation()) return;
    dropped = std::exchange(it->second, std::move(entry));
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
  Shard& shard = ShardFor(key_bytes);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.entries.find(absl::string_view(key_bytes));
  return it == shard.entries.end() ? nullptr : it->second;
}

void AccessTokenCache::Invalidate(const vault::TokenKey& key) {
  const std::string key_bytes = keys::TokenKeyBytes(key);
  Shard& shard = ShardFor(key_bytes);
  std::shared_ptr<const CachedAccessToken> dropped;  // wiped after the lock
  absl::MutexLock lock(&shard.mu);
  ++shard.epoch;
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

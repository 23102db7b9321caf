#include "service/access_token_cache.h"

#include <utility>

#include "absl/hash/hash.h"
#include "vault/store_keys.h"

namespace wxvault::service {

namespace keys = vault::store_keys;

AccessTokenCache::AccessTokenCache(size_t capacity)
    : capacity_per_shard_(capacity == 0 ? 0 : (capacity + kShards - 1) / kShards) {}

AccessTokenCache::Shard& AccessTokenCache::ShardFor(const std::string& key_bytes) const {
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
  absl::MutexLock lock(&shard.mu);
  if (shard.epoch != epoch) return;  // a write raced this read: the record may be stale
  auto it = shard.entries.find(key_bytes);
  if (it != shard.entries.end()) {
    if (it->second.record.generation() >= record.generation()) return;
    it->second = Entry{record, std::move(secret)};
    return;
  }
  if (shard.entries.size() >= capacity_per_shard_) shard.entries.erase(shard.entries.begin());
  shard.entries.emplace(key_bytes, Entry{record, std::move(secret)});
}

bool AccessTokenCache::Lookup(const vault::TokenKey& key, Hit* hit) const {
  if (capacity_per_shard_ == 0) return false;
  const std::string key_bytes = keys::TokenKeyBytes(key);
  Shard& shard = ShardFor(key_bytes);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.entries.find(key_bytes);
  if (it == shard.entries.end()) return false;
  hit->record = it->second.record;
  hit->access_token.assign(it->second.access_token.view().data(), it->second.access_token.size());
  return true;
}

void AccessTokenCache::Invalidate(const vault::TokenKey& key) {
  const std::string key_bytes = keys::TokenKeyBytes(key);
  Shard& shard = ShardFor(key_bytes);
  absl::MutexLock lock(&shard.mu);
  ++shard.epoch;
  shard.entries.erase(key_bytes);
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

#include "service/keyed_locks.h"

namespace wxvault::service {

bool KeyedLocks::Acquire(const std::string& key, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  Entry* entry = &entries_[key];
  ++entry->users;
  // Entries are only erased when users drops to 0, and we are a user, so the
  // pointer stays valid while we wait (flat_hash_map may rehash, though:
  // look the entry up again after waiting).
  auto is_free = [this, &key]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !entries_[key].held; };
  const bool got = mu_.AwaitWithDeadline(absl::Condition(&is_free), deadline);
  entry = &entries_[key];
  if (!got) {
    if (--entry->users == 0) entries_.erase(key);
    return false;
  }
  entry->held = true;
  return true;
}

void KeyedLocks::Release(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  it->second.held = false;
  if (--it->second.users == 0) entries_.erase(it);
}

size_t KeyedLocks::ActiveKeys() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace wxvault::service

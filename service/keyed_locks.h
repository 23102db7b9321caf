// KeyedLocks: one mutual-exclusion lock per string key, created on demand.
//
// The single-flight primitive of TokenService: callers that need the same
// token refreshed (or the same code exchanged) take the key's lock; the first
// does the upstream call, the others wait, then re-read the vault and usually
// find the work done. Waiting is bounded by a deadline so an RPC never waits
// longer than its gRPC deadline.
//
// Thread safety: all methods are thread-safe. Memory is proportional to the
// number of keys currently held or waited on.
#ifndef WXVAULT_SERVICE_KEYED_LOCKS_H_
#define WXVAULT_SERVICE_KEYED_LOCKS_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace wxvault::service {

class KeyedLocks {
 public:
  // Takes `key`'s lock, waiting until it is free or `deadline` (real time,
  // absl::Now()) passes. Returns false, holding nothing, on timeout.
  bool Acquire(const std::string& key, absl::Time deadline);
  // Releases a lock taken by Acquire.
  void Release(const std::string& key);
  // Keys currently held or waited on (for status pages and tests).
  size_t ActiveKeys() const;

  // RAII holder: `held()` says whether the lock was taken.
  class Holder {
   public:
    Holder(KeyedLocks& locks, std::string key, absl::Time deadline)
        : locks_(locks), key_(std::move(key)), held_(locks_.Acquire(key_, deadline)) {}
    ~Holder() {
      if (held_) locks_.Release(key_);
    }
    Holder(const Holder&) = delete;
    Holder& operator=(const Holder&) = delete;
    bool held() const { return held_; }

   private:
    KeyedLocks& locks_;
    const std::string key_;
    const bool held_;
  };

 private:
  struct Entry {
    bool held = false;
    int users = 0;  // holder + waiters
  };
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_KEYED_LOCKS_H_

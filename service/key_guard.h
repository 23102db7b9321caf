// KeyGuard: the thread that locks the master keys away while they are idle.
//
// vault::Keyring leaves its key region readable after a use (re-protecting
// it on every access costs a TLB shootdown per seal; see vault/keyring.h) and
// relies on a periodic vault::Keyring::ProtectIfIdle call to make it
// inaccessible again. KeyGuard makes that call every `period` on a thread of
// its own, so the keys of a server that has not sealed or opened anything for
// one to two periods are PROT_NONE.
//
// The period is real time on purpose: this is a hardening measure with no
// effect on results, and nothing in it is scheduled by the vault's Clock.
//
// Thread safety: Stop and the destructor may be called from any one thread.
#ifndef WXVAULT_SERVICE_KEY_GUARD_H_
#define WXVAULT_SERVICE_KEY_GUARD_H_

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "vault/keyring.h"

namespace wxvault::service {

class KeyGuard {
 public:
  // Default period: keys of an idle server are locked away within 2 s.
  static constexpr absl::Duration kDefaultPeriod = absl::Seconds(1);

  // Starts the thread. `keyring` must outlive the KeyGuard (or Stop).
  explicit KeyGuard(const vault::Keyring* keyring, absl::Duration period = kDefaultPeriod);
  KeyGuard(const KeyGuard&) = delete;
  KeyGuard& operator=(const KeyGuard&) = delete;
  // Stops the thread and leaves the keys PROT_NONE if they are idle.
  ~KeyGuard();

  // Stops the thread; idempotent.
  void Stop();

 private:
  void Run();

  const vault::Keyring* const keyring_;
  const absl::Duration period_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_KEY_GUARD_H_

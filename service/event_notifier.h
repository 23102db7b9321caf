// EventNotifier: fans the vault's "new events are readable" signal out to
// every open WatchEvents stream.
//
// The store calls Notify() on the committing thread after each commit that
// appended events (TokenStore::SetEventListener). Notify() only records the
// new high-water mark and tells each subscriber, whose OnEventsReadable must
// return at once (schedule work, never block or write): a slow consumer can
// therefore never slow a writer down, it only falls behind and catches up by
// reading the durable log.
//
// Thread safety: all methods are thread-safe. Subscriber callbacks run with
// the notifier's lock held: they must not call back into the notifier.
// After Unsubscribe(s) returns, no callback of `s` is running or will run.
#ifndef WXVAULT_SERVICE_EVENT_NOTIFIER_H_
#define WXVAULT_SERVICE_EVENT_NOTIFIER_H_

#include <cstdint>
#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace wxvault::service {

class EventSubscriber {
 public:
  virtual ~EventSubscriber() = default;
  // Events up to `readable_sequence` can be read. Must return at once.
  virtual void OnEventsReadable(uint64_t readable_sequence) = 0;
  // The server is shutting down: end the stream. Must return at once.
  virtual void OnShutdown() = 0;
};

class EventNotifier {
 public:
  // `readable_sequence`: the newest event in the log at start-up.
  explicit EventNotifier(uint64_t readable_sequence) : readable_(readable_sequence) {}

  // Records `readable_sequence` (never moves backwards) and tells every
  // subscriber.
  void Notify(uint64_t readable_sequence);

  // The highest sequence announced so far.
  uint64_t readable_sequence() const;

  // Adds `subscriber` (not owned). Returns false, adding nothing, once
  // Shutdown() has been called.
  bool Subscribe(EventSubscriber* subscriber);
  void Unsubscribe(EventSubscriber* subscriber);

  // Calls OnShutdown on every subscriber; later Subscribe calls fail.
  void Shutdown();

 private:
  mutable absl::Mutex mu_;
  uint64_t readable_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  std::set<EventSubscriber*> subscribers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_EVENT_NOTIFIER_H_

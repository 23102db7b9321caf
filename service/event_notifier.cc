#include "service/event_notifier.h"

#include <algorithm>

namespace wxvault::service {

void EventNotifier::Notify(uint64_t readable_sequence) {
  absl::MutexLock lock(&mu_);
  readable_ = std::max(readable_, readable_sequence);
  for (EventSubscriber* subscriber : subscribers_) subscriber->OnEventsReadable(readable_);
}

uint64_t EventNotifier::readable_sequence() const {
  absl::MutexLock lock(&mu_);
  return readable_;
}

bool EventNotifier::Subscribe(EventSubscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return false;
  subscribers_.insert(subscriber);
  return true;
}

void EventNotifier::Unsubscribe(EventSubscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(subscriber);
}

void EventNotifier::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (EventSubscriber* subscriber : subscribers_) subscriber->OnShutdown();
}

}  // namespace wxvault::service

#include "service/key_guard.h"

namespace wxvault::service {

KeyGuard::KeyGuard(const vault::Keyring* keyring, absl::Duration period)
    : keyring_(keyring), period_(period), thread_([this] { Run(); }) {}

KeyGuard::~KeyGuard() { Stop(); }

void KeyGuard::Stop() {
  if (!thread_.joinable()) return;
  stop_.Notify();
  thread_.join();
}

void KeyGuard::Run() {
  while (!stop_.WaitForNotificationWithTimeout(period_)) keyring_->ProtectIfIdle();
  // Two calls in a row: an idle keyring ends PROT_NONE even if it was used
  // during the last period.
  keyring_->ProtectIfIdle();
  keyring_->ProtectIfIdle();
}

}  // namespace wxvault::service

// TokenService, second half: what happens to a token when its schedule entry
// comes due (DESIGN §6a). The refresher (service/refresher.h) calls
// ProcessScheduled for each due entry; the rules are documented in
// token_service.h.
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "service/error_reason.h"
#include "service/token_service.h"
#include "service/token_service_internal.h"
#include "vault/record_sealing.h"

namespace wxvault::service {
namespace {

using token_internal::MakeEvent;
using token_internal::ReauthRequired;
using token_internal::ToMillis;
using token_internal::RefreshLockName;
using vault::TokenKey;
using vault::TokenRecord;
using vault::TokenWrite;

// Commits `write`; a lost race (ABORTED) means someone else changed the
// token, and their write scheduled it: report kNotDue.
absl::StatusOr<ScheduledOutcome> CommitOutcome(vault::TokenStore& store, const TokenWrite& write,
                                               ScheduledOutcome outcome) {
  absl::StatusOr<vault::CommitResult> committed = store.Commit(write);
  if (absl::IsAborted(committed.status())) return ScheduledOutcome::kNotDue;
  if (!committed.ok()) return VaultFailure(committed.status());
  return outcome;
}

}  // namespace

absl::string_view ScheduledOutcomeName(ScheduledOutcome outcome) {
  switch (outcome) {
    case ScheduledOutcome::kNotDue:
      return "not_due";
    case ScheduledOutcome::kRefreshed:
      return "refreshed";
    case ScheduledOutcome::kRotated:
      return "rotated";
    case ScheduledOutcome::kExpiringSoon:
      return "expiring_soon";
    case ScheduledOutcome::kRetryScheduled:
      return "retry_scheduled";
    case ScheduledOutcome::kDeferred:
      return "deferred";
    case ScheduledOutcome::kReauthRequired:
      return "reauth_required";
    case ScheduledOutcome::kPurged:
      return "purged";
    case ScheduledOutcome::kRescheduled:
      return "rescheduled";
  }
  return "unknown";
}

absl::Duration TokenService::RetryDelay(uint32_t failures) {
  const double exponent = std::min<double>(failures > 0 ? failures - 1 : 0, 30);
  const absl::Duration cap = std::min(options_.retry_max_delay, options_.retry_initial_delay * std::pow(2.0, exponent));
  double fraction;
  {
    absl::MutexLock lock(&random_mu_);
    fraction = absl::Uniform<double>(random_, 0.5, 1.0);
  }
  return cap * fraction;
}

absl::StatusOr<ScheduledOutcome> TokenService::ProcessScheduled(const TokenKey& key, absl::Time deadline) {
  const int64_t now_ms = deps_.clock->NowMillis();
  absl::StatusOr<TokenRecord> record = deps_.store->GetToken(key);
  if (absl::IsNotFound(record.status())) return ScheduledOutcome::kNotDue;
  if (!record.ok()) return VaultFailure(record.status());
  if (record->next_due_at_ms() == 0 || record->next_due_at_ms() > now_ms) return ScheduledOutcome::kNotDue;

  if (record->state() != vault::RECORD_STATE_ACTIVE) {
    // A tombstone (REVOKED or REAUTH_REQUIRED) past its retention.
    TokenWrite purge;
    purge.key = key;
    purge.expected_generation = record->generation();
    purge.erase = true;
    return CommitOutcome(*deps_.store, purge, ScheduledOutcome::kPurged);
  }
  if (now_ms >= record->refresh_token_expires_at_ms()) {
    absl::Status s = MarkReauthRequired(key, *record, ReauthRequired("the refresh token's window has ended"));
    if (absl::IsAborted(s)) return ScheduledOutcome::kNotDue;
    if (!s.ok()) return s;
    return ScheduledOutcome::kReauthRequired;
  }
  const bool renewal_due =
      !record->expiring_soon_notified() && record->renew_at_ms() > 0 && now_ms >= record->renew_at_ms();
  const bool keep_warm_due = options_.keep_warm_window > absl::ZeroDuration() && record->last_used_at_ms() > 0 &&
                             now_ms - record->last_used_at_ms() <= ToMillis(options_.keep_warm_window) &&
                             now_ms >= KeepWarmAt(*record);
  const bool retry_due = record->failure_count() > 0;
  if (!renewal_due && !keep_warm_due && !retry_due) {
    TokenWrite reschedule;
    reschedule.key = key;
    reschedule.expected_generation = record->generation();
    TokenRecord& updated = reschedule.put.emplace(*record);
    updated.set_next_due_at_ms(std::max(NextDueFor(*record, now_ms), now_ms + 1));
    return CommitOutcome(*deps_.store, reschedule, ScheduledOutcome::kRescheduled);
  }
  // Same single-flight lock as the RPC path: never two refreshes at once.
  KeyedLocks::Holder flight(locks_, RefreshLockName(key),
                            LockWaitDeadline(UpstreamDeadline(deadline)));
  if (!flight.held()) return ScheduledOutcome::kNotDue;
  absl::StatusOr<TokenRecord> current = deps_.store->GetToken(key);
  if (!current.ok() || current->generation() != record->generation()) return ScheduledOutcome::kNotDue;
  return RenewScheduled(key, *current, renewal_due, deadline);
}

absl::StatusOr<ScheduledOutcome> TokenService::RenewScheduled(const TokenKey& key, const TokenRecord& seen,
                                                              bool renewal_due, absl::Time deadline) {
  absl::StatusOr<vault::TokenSecrets> secrets = vault::OpenSecrets(*deps_.sealer, seen);
  if (!secrets.ok()) return RecordRefreshFailure(key, seen, renewal_due, VaultFailure(secrets.status()));
  absl::StatusOr<OAuthTokenResult> renewed =
      deps_.wechat->RefreshToken(key.app_id, secrets->refresh_token(), UpstreamDeadline(deadline));
  if (!renewed.ok()) {
    vault::WipeSecrets(&*secrets);
    if (ReasonOf(renewed.status()) == reason::kReauthRequired) {
      absl::Status s = MarkReauthRequired(key, seen, renewed.status());
      if (absl::IsAborted(s)) return ScheduledOutcome::kNotDue;
      if (!s.ok()) return s;
      return ScheduledOutcome::kReauthRequired;
    }
    return RecordRefreshFailure(key, seen, renewal_due, renewed.status());
  }
  const int64_t now_ms = deps_.clock->NowMillis();
  bool rotated = false;
  absl::StatusOr<TokenRecord> record = ApplyRefresh(seen, &*secrets, *renewed, now_ms, &rotated);
  vault::WipeSecrets(&*secrets);
  if (!record.ok()) return record.status();
  TokenWrite write;
  write.key = key;
  write.expected_generation = seen.generation();
  write.events.push_back(MakeEvent(vault::EVENT_TYPE_REFRESHED, key, now_ms,
                                   rotated ? "renewed: new refresh token, window restarted" : "access token refreshed"));
  ScheduledOutcome outcome = rotated ? ScheduledOutcome::kRotated : ScheduledOutcome::kRefreshed;
  if (renewal_due && !rotated) {
    // Renewal period entered and WeChat kept the same refresh token: the
    // window cannot be extended; tell services once.
    record->set_expiring_soon_notified(true);
    write.events.push_back(MakeEvent(
        vault::EVENT_TYPE_EXPIRING_SOON, key, now_ms,
        absl::StrCat("refresh window ends at unix ms ", record->refresh_token_expires_at_ms(), "; log in again before")));
    outcome = ScheduledOutcome::kExpiringSoon;
  }
  record->set_next_due_at_ms(NextDueFor(*record, now_ms));
  write.put = *std::move(record);
  absl::StatusOr<ScheduledOutcome> committed = CommitOutcome(*deps_.store, write, outcome);
  if (committed.ok() && *committed != ScheduledOutcome::kNotDue) NotifyScheduled(write.put->next_due_at_ms());
  return committed;
}

absl::StatusOr<ScheduledOutcome> TokenService::RecordRefreshFailure(const TokenKey& key, const TokenRecord& seen,
                                                                    bool renewal_due, const absl::Status& cause) {
  const int64_t now_ms = deps_.clock->NowMillis();
  TokenWrite write;
  write.key = key;
  write.expected_generation = seen.generation();
  TokenRecord& record = write.put.emplace(seen);
  record.set_failure_count(seen.failure_count() + 1);
  record.set_last_error(ReasonOf(cause).empty() ? std::string(absl::StatusCodeToString(cause.code()))
                                                : ReasonOf(cause));
  absl::optional<int> errcode = WeChatErrcodeOf(cause);
  record.set_last_wechat_errcode(errcode.value_or(0));
  ScheduledOutcome outcome = ScheduledOutcome::kRetryScheduled;
  int64_t retry_at = now_ms + ToMillis(RetryDelay(record.failure_count()));
  if (absl::optional<absl::Duration> pause = RetryAfterOf(cause);
      pause.has_value() && cause.code() == absl::StatusCode::kResourceExhausted) {
    // WeChat's quota paused the endpoint: come back after the pause.
    retry_at = now_ms + ToMillis(*pause) + ToMillis(RetryDelay(1)) / 30;
    outcome = ScheduledOutcome::kDeferred;
  }
  // Never past the window end: that moment has its own rule.
  record.set_next_due_at_ms(std::min(retry_at, record.refresh_token_expires_at_ms()));
  write.events.push_back(MakeEvent(vault::EVENT_TYPE_REFRESH_FAILED, key, now_ms,
                                   absl::StrCat("attempt ", record.failure_count(), " failed; retrying"), cause));
  if (renewal_due && !record.expiring_soon_notified()) {
    record.set_expiring_soon_notified(true);
    write.events.push_back(MakeEvent(vault::EVENT_TYPE_EXPIRING_SOON, key, now_ms,
                                     absl::StrCat("refresh window ends at unix ms ",
                                                  record.refresh_token_expires_at_ms(), "; renewal failing")));
  }
  return CommitOutcome(*deps_.store, write, outcome);
}

}  // namespace wxvault::service

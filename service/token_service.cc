#include "service/token_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "service/error_reason.h"
#include "service/token_service_internal.h"
#include "service/token_validation.h"
#include "vault/record_sealing.h"

namespace wxvault::service {
namespace {

using vault::TokenKey;
using vault::TokenRecord;
using vault::TokenWrite;
using token_internal::MakeEvent;
using token_internal::ReauthRequired;
using token_internal::TokenNotFound;
using token_internal::ToMillis;
using token_internal::RefreshLockName;

constexpr absl::string_view kExchangeDigestDomain = "exchange-code";

wxvault::v1::UserInfo ToUserInfo(const UserProfile& profile, absl::string_view lang) {
  wxvault::v1::UserInfo info;
  info.set_openid(profile.openid);
  if (profile.unionid.has_value()) info.set_unionid(*profile.unionid);
  info.set_nickname(profile.nickname);
  info.set_sex(profile.sex);
  info.set_province(profile.province);
  info.set_city(profile.city);
  info.set_country(profile.country);
  info.set_headimgurl(profile.headimgurl);
  for (const std::string& p : profile.privilege) info.add_privilege(p);
  info.set_lang(std::string(lang));
  return info;
}

void SetFetchedAt(int64_t fetched_at_ms, wxvault::v1::UserInfo* info) {
  info->mutable_fetched_at()->set_seconds(fetched_at_ms / 1000);
  info->mutable_fetched_at()->set_nanos(static_cast<int32_t>((fetched_at_ms % 1000) * 1'000'000));
}

}  // namespace

absl::Status TokenServiceOptions::Validate() const {
  if (refresh_token_ttl <= absl::ZeroDuration()) return absl::InvalidArgumentError("--refresh_token_ttl must be > 0");
  if (renew_before <= absl::ZeroDuration() || renew_before >= refresh_token_ttl) {
    return absl::InvalidArgumentError("--renew_before must be > 0 and shorter than --refresh_token_ttl");
  }
  if (access_token_min_ttl < absl::ZeroDuration() || access_token_min_ttl > absl::Hours(1)) {
    return absl::InvalidArgumentError("--access_token_min_ttl must be between 0s and 1h");
  }
  if (exchange_idempotency_window <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("exchange_idempotency_window must be > 0");
  }
  if (max_upstream_wait <= absl::ZeroDuration() || max_upstream_wait > absl::Seconds(15)) {
    return absl::InvalidArgumentError("max_upstream_wait must be in (0, 15s]");
  }
  if (tombstone_retention <= absl::ZeroDuration()) return absl::InvalidArgumentError("tombstone_retention must be > 0");
  if (keep_warm_window < absl::ZeroDuration() || keep_warm_margin < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("keep_warm_window and keep_warm_margin must be >= 0");
  }
  if (retry_initial_delay <= absl::ZeroDuration() || retry_max_delay < retry_initial_delay) {
    return absl::InvalidArgumentError("retry delays must satisfy 0 < initial <= max");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TokenService>> TokenService::Create(const Deps& deps, TokenServiceOptions options) {
  if (deps.store == nullptr || deps.sealer == nullptr || deps.wechat == nullptr || deps.apps == nullptr ||
      deps.clock == nullptr) {
    return absl::InvalidArgumentError("TokenService: a dependency is missing");
  }
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  return std::unique_ptr<TokenService>(new TokenService(deps, std::move(options)));
}

TokenService::TokenService(const Deps& deps, TokenServiceOptions options)
    : deps_(deps), options_(std::move(options)), served_(options_.access_token_cache_entries) {
  deps_.store->SetCommitListener([this](const TokenKey& key) { served_.Invalidate(key); });
}

TokenService::~TokenService() { deps_.store->SetCommitListener(nullptr); }

absl::Time TokenService::UpstreamDeadline(absl::Time deadline) const {
  return std::min(deadline, deps_.clock->Now() + options_.max_upstream_wait);
}

absl::Time TokenService::LockWaitDeadline(absl::Time deadline) const {
  return absl::Now() + (deadline - deps_.clock->Now());
}

int64_t TokenService::PickRenewAt(int64_t end_ms, int64_t now_ms) {
  const int64_t period_start = end_ms - ToMillis(options_.renew_before);
  const int64_t half = ToMillis(options_.renew_before) / 2;
  int64_t offset;
  {
    absl::MutexLock lock(&random_mu_);
    offset = absl::Uniform<int64_t>(absl::IntervalClosed, random_, 0, half);
  }
  return std::max(period_start + offset, now_ms);
}

absl::StatusOr<const WeChatApp*> TokenService::ResolveApp(absl::string_view app_id, absl::string_view openid) const {
  absl::StatusOr<const WeChatApp*> app = deps_.apps->Resolve(app_id);
  if (!app.ok()) return app.status();
  if (absl::Status s = ValidateOpenid(openid); !s.ok()) return s;
  return app;
}

absl::StatusOr<TokenKey> TokenService::ResolveKey(absl::string_view app_id, absl::string_view openid) const {
  absl::StatusOr<const WeChatApp*> app = ResolveApp(app_id, openid);
  if (!app.ok()) return app.status();
  return TokenKey{(*app)->app_id, std::string(openid)};
}

absl::StatusOr<absl::Duration> TokenService::EffectiveMinTtl(absl::Duration requested) const {
  if (requested < absl::ZeroDuration() || requested > absl::Hours(1)) {
    return MakeError(absl::StatusCode::kInvalidArgument, "min_ttl_seconds must be 0..3600", reason::kInvalidArgument);
  }
  return requested == absl::ZeroDuration() ? options_.access_token_min_ttl : requested;
}

absl::StatusOr<TokenRecord> TokenService::ReadUsable(const TokenKey& key) {
  absl::StatusOr<TokenRecord> record = deps_.store->GetToken(key);
  if (absl::IsNotFound(record.status())) return TokenNotFound();
  if (!record.ok()) return VaultFailure(record.status());
  switch (record->state()) {
    case vault::RECORD_STATE_REVOKED:
      return TokenNotFound();
    case vault::RECORD_STATE_REAUTH_REQUIRED:
      return ReauthRequired(record->last_error().empty() ? "refresh window ended" : record->last_error());
    default:
      break;
  }
  if (deps_.clock->NowMillis() >= record->refresh_token_expires_at_ms()) {
    absl::Status cause = ReauthRequired("the refresh token's window has ended");
    if (absl::Status s = MarkReauthRequired(key, *record, cause); !s.ok() && !absl::IsAborted(s)) return s;
    return cause;
  }
  return record;
}

absl::StatusOr<AccessTokenResult> TokenService::WithOpenedSecrets(TokenRecord record, bool refreshed) const {
  absl::StatusOr<vault::TokenSecrets> secrets = vault::OpenSecrets(*deps_.sealer, record);
  if (!secrets.ok()) return VaultFailure(secrets.status());
  AccessTokenResult result;
  result.access_token = std::move(*secrets->mutable_access_token());
  vault::WipeSecrets(&*secrets);
  result.record = std::move(record);
  result.refreshed = refreshed;
  return result;
}

absl::StatusOr<ExchangeResult> TokenService::Exchange(absl::string_view app_id, absl::string_view code,
                                                      bool include_user_info, absl::string_view lang,
                                                      absl::Time deadline) {
  absl::StatusOr<const WeChatApp*> app = deps_.apps->Resolve(app_id);
  if (!app.ok()) return app.status();
  if (absl::Status s = ValidateCode(code); !s.ok()) return s;
  if (absl::Status s = ValidateLang(lang); !s.ok()) return s;
  const std::string digest =
      deps_.sealer->KeyedDigest(kExchangeDigestDomain, absl::StrCat((*app)->app_id, "\n", code));

  // Single-flight on the code: a concurrent retry waits for the first call
  // and then finds its answer in the idempotency table.
  KeyedLocks::Holder flight(locks_, absl::StrCat("x:", digest),
                            LockWaitDeadline(UpstreamDeadline(deadline)));
  if (!flight.held()) {
    return MakeError(absl::StatusCode::kDeadlineExceeded, "deadline passed waiting for a concurrent exchange",
                     reason::kUpstreamUnavailable);
  }
  absl::StatusOr<vault::ExchangeEntry> replay = deps_.store->GetExchange(digest, deps_.clock->NowMillis());
  if (replay.ok()) {
    TokenKey key{replay->app_id(), replay->openid()};
    absl::StatusOr<TokenRecord> record = ReadUsable(key);
    if (absl::IsNotFound(record.status())) {
      return MakeError(absl::StatusCode::kInvalidArgument, "this code was already used (its token is gone)",
                       reason::kCodeAlreadyUsed);
    }
    if (!record.ok()) return record.status();
    absl::StatusOr<AccessTokenResult> opened = WithOpenedSecrets(*std::move(record), false);
    if (!opened.ok()) return opened.status();
    ExchangeResult result;
    result.record = std::move(opened->record);
    result.access_token = std::move(opened->access_token);
    result.replayed = true;
    if (include_user_info) {
      absl::StatusOr<UserInfoResult> cached = GetUserInfo(key.app_id, key.openid, lang, absl::Hours(24 * 365),
                                                          deadline);
      if (cached.ok()) result.user_info = std::move(cached->user_info);
    }
    return result;
  }
  if (!absl::IsNotFound(replay.status())) return VaultFailure(replay.status());

  absl::StatusOr<OAuthTokenResult> issued = deps_.wechat->ExchangeCode(**app, code, UpstreamDeadline(deadline));
  if (!issued.ok()) return issued.status();
  if (absl::Status s = ValidateOpenid(issued->openid); !s.ok()) {
    return MakeError(absl::StatusCode::kUnavailable, "WeChat returned a malformed openid", "UPSTREAM_UNAVAILABLE");
  }
  const TokenKey key{(*app)->app_id, issued->openid};
  const int64_t now_ms = deps_.clock->NowMillis();

  TokenWrite write;
  write.key = key;
  TokenRecord& record = write.put.emplace();
  record.set_app_id(key.app_id);
  record.set_openid(key.openid);
  if (issued->unionid.has_value()) record.set_unionid(*issued->unionid);
  for (const std::string& scope : issued->scopes) record.add_scopes(scope);
  record.set_state(vault::RECORD_STATE_ACTIVE);
  record.set_access_token_expires_at_ms(now_ms + issued->expires_in_seconds * 1000);
  record.set_refresh_token_issued_at_ms(now_ms);
  record.set_refresh_token_expires_at_ms(now_ms + ToMillis(options_.refresh_token_ttl));
  record.set_renew_at_ms(PickRenewAt(record.refresh_token_expires_at_ms(), now_ms));
  record.set_next_due_at_ms(NextDueFor(record, now_ms));
  record.set_created_at_ms(now_ms);
  record.set_last_refreshed_at_ms(now_ms);
  record.set_state_changed_at_ms(now_ms);
  vault::TokenSecrets secrets;
  secrets.set_access_token(issued->access_token);
  secrets.set_refresh_token(std::move(issued->refresh_token));
  absl::Status sealed = vault::SealSecretsInto(*deps_.sealer, secrets, &record);
  vault::WipeSecrets(&secrets);
  if (!sealed.ok()) return VaultFailure(sealed);

  ExchangeResult result;
  if (include_user_info) {
    // Best effort: a profile failure never fails the login (the code is spent).
    absl::StatusOr<UserProfile> profile =
        deps_.wechat->GetUserInfo(issued->access_token, key.openid, lang, UpstreamDeadline(deadline));
    if (profile.ok()) {
      result.user_info = ToUserInfo(*profile, lang.empty() ? "zh_CN" : lang);
      SetFetchedAt(now_ms, &*result.user_info);
      vault::ProfileEntry& entry = write.profile.emplace();
      entry.set_fetched_at_ms(now_ms);
      entry.set_lang(result.user_info->lang());
      if (absl::Status s = vault::SealProfileInto(*deps_.sealer, key, result.user_info->SerializeAsString(), &entry);
          !s.ok()) {
        write.profile.reset();
      }
    }
  }
  if (!write.profile.has_value()) write.erase_profile = true;  // a new login drops a stale profile
  write.exchange_digest = digest;
  vault::ExchangeEntry& entry = write.exchange.emplace();
  entry.set_app_id(key.app_id);
  entry.set_openid(key.openid);
  entry.set_created_at_ms(now_ms);
  entry.set_expires_at_ms(now_ms + ToMillis(options_.exchange_idempotency_window));
  write.events.push_back(MakeEvent(vault::EVENT_TYPE_CREATED, key, now_ms, "exchanged a login code"));
  absl::StatusOr<vault::CommitResult> committed = deps_.store->Commit(write);
  if (!committed.ok()) return VaultFailure(committed.status());
  record.set_generation(committed->generation);
  NotifyScheduled(record.next_due_at_ms());
  result.record = std::move(record);
  result.access_token = std::move(issued->access_token);
  return result;
}

absl::StatusOr<AccessTokenResult> TokenService::GetAccessToken(absl::string_view app_id, absl::string_view openid,
                                                               absl::Duration requested_min_ttl,
                                                               absl::Time deadline) {
  absl::StatusOr<TokenKey> key = ResolveKey(app_id, openid);
  if (!key.ok()) return key.status();
  absl::StatusOr<absl::Duration> min_ttl = EffectiveMinTtl(requested_min_ttl);
  if (!min_ttl.ok()) return min_ttl.status();
  const uint64_t epoch = served_.Epoch(*key);  // before the read: see AccessTokenCache
  absl::StatusOr<TokenRecord> record = ReadUsable(*key);
  if (!record.ok()) return record.status();
  absl::StatusOr<AccessTokenResult> result =
      record->access_token_expires_at_ms() - deps_.clock->NowMillis() >= ToMillis(*min_ttl)
          ? WithOpenedSecrets(*std::move(record), false)
          : RefreshShared(*key, *min_ttl, /*force=*/false, deadline);
  if (!result.ok()) return result;
  ArmKeepWarm(result->record);
  // A commit since `epoch` (a refresh, or the keep-warm write just made)
  // makes the cache drop this; the next call fills it.
  served_.Insert(epoch, result->record, result->access_token);
  return result;
}

const CachedAccessToken* TokenService::GetAccessTokenCached(absl::string_view app_id, absl::string_view openid,
                                                            absl::Duration requested_min_ttl) const {
  absl::StatusOr<const WeChatApp*> app = ResolveApp(app_id, openid);  // no TokenKey built
  absl::StatusOr<absl::Duration> min_ttl = EffectiveMinTtl(requested_min_ttl);
  if (!app.ok() || !min_ttl.ok()) return nullptr;
  const CachedAccessToken* hit = served_.LookupOnThisThread((*app)->app_id, openid);
  if (hit == nullptr) return nullptr;
  // The conditions under which GetAccessToken would read, open and return
  // this record without writing anything.
  const int64_t now_ms = deps_.clock->NowMillis();
  const TokenRecord& record = hit->record;
  if (record.state() != vault::RECORD_STATE_ACTIVE || now_ms >= record.refresh_token_expires_at_ms() ||
      record.access_token_expires_at_ms() - now_ms < ToMillis(*min_ttl) || !KeepWarmCurrent(record, now_ms)) {
    return nullptr;
  }
  return hit;
}

int64_t TokenService::KeepWarmAt(const TokenRecord& record) const {
  return record.access_token_expires_at_ms() - ToMillis(options_.access_token_min_ttl) -
         ToMillis(options_.keep_warm_margin);
}

bool TokenService::KeepWarmCurrent(const TokenRecord& record, int64_t now_ms) const {
  if (options_.keep_warm_window <= absl::ZeroDuration()) return true;
  const int64_t keep_warm_at = std::max(KeepWarmAt(record), now_ms);
  const bool already_armed = record.next_due_at_ms() != 0 && record.next_due_at_ms() <= keep_warm_at;
  // Record the use at most every half window: keep-warm needs to know the
  // token is still in use, not every call (at most ~2 writes/hour/token).
  const bool use_recorded = now_ms - record.last_used_at_ms() < ToMillis(options_.keep_warm_window) / 2;
  return already_armed && use_recorded;
}

void TokenService::ArmKeepWarm(const TokenRecord& record) {
  const int64_t now_ms = deps_.clock->NowMillis();
  if (KeepWarmCurrent(record, now_ms)) return;
  const int64_t keep_warm_at = std::max(KeepWarmAt(record), now_ms);
  TokenWrite write;
  write.key = {record.app_id(), record.openid()};
  write.expected_generation = record.generation();
  TokenRecord& armed = write.put.emplace(record);
  armed.set_last_used_at_ms(now_ms);
  armed.set_next_due_at_ms(std::min(keep_warm_at, record.next_due_at_ms() != 0 ? record.next_due_at_ms()
                                                                                 : keep_warm_at));
  // Best effort: losing this race only means no keep-warm for this lifetime.
  if (deps_.store->Commit(write).ok()) NotifyScheduled(keep_warm_at);
}

void TokenService::NotifyScheduled(int64_t due_at_ms) const {
  if (schedule_listener_) schedule_listener_(due_at_ms);
}

int64_t TokenService::NextDueFor(const TokenRecord& record, int64_t now_ms) const {
  if (record.state() != vault::RECORD_STATE_ACTIVE) {
    const int64_t since = record.state_changed_at_ms() > 0 ? record.state_changed_at_ms() : now_ms;
    return since + ToMillis(options_.tombstone_retention);
  }
  int64_t due = record.refresh_token_expires_at_ms();
  if (!record.expiring_soon_notified() && record.renew_at_ms() > 0) due = std::min(due, record.renew_at_ms());
  const bool recently_used = options_.keep_warm_window > absl::ZeroDuration() && record.last_used_at_ms() > 0 &&
                             now_ms - record.last_used_at_ms() <= ToMillis(options_.keep_warm_window);
  if (recently_used) due = std::min(due, std::max(KeepWarmAt(record), now_ms));
  return std::max<int64_t>(due, 1);
}

absl::StatusOr<AccessTokenResult> TokenService::Refresh(absl::string_view app_id, absl::string_view openid,
                                                        absl::Time deadline) {
  absl::StatusOr<TokenKey> key = ResolveKey(app_id, openid);
  if (!key.ok()) return key.status();
  return RefreshShared(*key, options_.access_token_min_ttl, /*force=*/true, deadline);
}

absl::StatusOr<AccessTokenResult> TokenService::RefreshShared(const TokenKey& key, absl::Duration min_ttl, bool force,
                                                              absl::Time deadline) {
  // For a forced refresh, remember which version of the record we wanted to
  // replace: if another caller commits a newer one while we wait, that is
  // the refresh we asked for.
  uint64_t seen_generation = 0;
  if (force) {
    absl::StatusOr<TokenRecord> before = ReadUsable(key);
    if (!before.ok()) return before.status();
    seen_generation = before->generation();
  }
  KeyedLocks::Holder flight(locks_, RefreshLockName(key),
                            LockWaitDeadline(UpstreamDeadline(deadline)));
  if (!flight.held()) {
    return MakeError(absl::StatusCode::kDeadlineExceeded, "deadline passed waiting for a concurrent refresh",
                     reason::kUpstreamUnavailable);
  }
  // Re-check under the lock: a refresh that finished while we waited counts.
  absl::StatusOr<TokenRecord> record = ReadUsable(key);
  if (!record.ok()) return record.status();
  const int64_t now_ms = deps_.clock->NowMillis();
  const bool refreshed_meanwhile = record->generation() != seen_generation;
  if (force ? refreshed_meanwhile : record->access_token_expires_at_ms() - now_ms >= ToMillis(min_ttl)) {
    return WithOpenedSecrets(*std::move(record), true);
  }
  return RefreshNow(key, *record, deadline);
}

absl::Status TokenService::RunExclusive(const TokenKey& key, absl::Time deadline,
                                       absl::FunctionRef<absl::Status()> fn) {
  KeyedLocks::Holder flight(locks_, RefreshLockName(key), LockWaitDeadline(deadline));
  if (!flight.held()) {
    return MakeError(absl::StatusCode::kDeadlineExceeded, "deadline passed waiting for a refresh of this token",
                     reason::kUpstreamUnavailable);
  }
  return fn();
}

absl::StatusOr<TokenRecord> TokenService::ApplyRefresh(const TokenRecord& seen, vault::TokenSecrets* secrets,
                                                      const OAuthTokenResult& renewed, int64_t now_ms,
                                                      bool* rotated) {
  TokenRecord record = seen;
  record.set_access_token_expires_at_ms(now_ms + renewed.expires_in_seconds * 1000);
  *rotated = !renewed.refresh_token.empty() && renewed.refresh_token != secrets->refresh_token();
  if (*rotated) {
    // A different refresh token restarts the window (DESIGN §6a).
    secrets->set_refresh_token(renewed.refresh_token);
    record.set_refresh_token_issued_at_ms(now_ms);
    record.set_refresh_token_expires_at_ms(now_ms + ToMillis(options_.refresh_token_ttl));
    record.set_renew_at_ms(PickRenewAt(record.refresh_token_expires_at_ms(), now_ms));
    record.set_expiring_soon_notified(false);
  }
  if (!renewed.scopes.empty()) {
    record.clear_scopes();
    for (const std::string& scope : renewed.scopes) record.add_scopes(scope);
  }
  if (renewed.unionid.has_value() && !renewed.unionid->empty()) record.set_unionid(*renewed.unionid);
  record.set_last_refreshed_at_ms(now_ms);
  record.set_failure_count(0);
  record.clear_last_error();
  record.clear_last_wechat_errcode();
  secrets->set_access_token(renewed.access_token);
  absl::Status sealed = vault::SealSecretsInto(*deps_.sealer, *secrets, &record);
  if (!sealed.ok()) return VaultFailure(sealed);
  return record;
}

absl::StatusOr<AccessTokenResult> TokenService::RefreshNow(const TokenKey& key, const TokenRecord& seen,
                                                           absl::Time deadline) {
  absl::StatusOr<vault::TokenSecrets> secrets = vault::OpenSecrets(*deps_.sealer, seen);
  if (!secrets.ok()) return VaultFailure(secrets.status());
  absl::StatusOr<OAuthTokenResult> renewed =
      deps_.wechat->RefreshToken(key.app_id, secrets->refresh_token(), UpstreamDeadline(deadline));
  if (!renewed.ok()) {
    vault::WipeSecrets(&*secrets);
    if (ReasonOf(renewed.status()) == reason::kReauthRequired) {
      if (absl::Status s = MarkReauthRequired(key, seen, renewed.status()); !s.ok() && !absl::IsAborted(s)) return s;
    }
    return renewed.status();
  }
  const int64_t now_ms = deps_.clock->NowMillis();
  bool rotated = false;
  absl::StatusOr<TokenRecord> record = ApplyRefresh(seen, &*secrets, *renewed, now_ms, &rotated);
  vault::WipeSecrets(&*secrets);
  if (!record.ok()) return record.status();
  record->set_next_due_at_ms(NextDueFor(*record, now_ms));
  TokenWrite write;
  write.key = key;
  write.expected_generation = seen.generation();
  write.put = *record;
  write.events.push_back(MakeEvent(vault::EVENT_TYPE_REFRESHED, key, now_ms,
                                   rotated ? "access token refreshed; new refresh token" : "access token refreshed"));
  absl::StatusOr<vault::CommitResult> committed = deps_.store->Commit(write);
  if (absl::IsAborted(committed.status())) {
    // Revoked or re-exchanged while we were at WeChat: that change wins and
    // this refresh is dropped. Answer from whatever is stored now.
    absl::StatusOr<TokenRecord> current = ReadUsable(key);
    if (!current.ok()) return current.status();
    return WithOpenedSecrets(*std::move(current), true);
  }
  if (!committed.ok()) return VaultFailure(committed.status());
  record->set_generation(committed->generation);
  AccessTokenResult result;
  result.record = *std::move(record);
  result.access_token = std::move(renewed->access_token);
  result.refreshed = true;
  return result;
}

absl::Status TokenService::MarkReauthRequired(const TokenKey& key, const TokenRecord& seen, const absl::Status& cause) {
  const int64_t now_ms = deps_.clock->NowMillis();
  TokenWrite write;
  write.key = key;
  write.expected_generation = seen.generation();
  TokenRecord& record = write.put.emplace(seen);
  record.set_state(vault::RECORD_STATE_REAUTH_REQUIRED);
  record.clear_sealed_secrets();
  record.clear_key_id();
  record.set_state_changed_at_ms(now_ms);
  record.set_last_error(ReasonOf(cause).empty() ? std::string(reason::kReauthRequired) : ReasonOf(cause));
  if (absl::optional<int> errcode = WeChatErrcodeOf(cause)) record.set_last_wechat_errcode(*errcode);
  record.set_next_due_at_ms(now_ms + ToMillis(options_.tombstone_retention));
  write.erase_profile = true;
  write.events.push_back(MakeEvent(vault::EVENT_TYPE_REAUTH_REQUIRED, key, now_ms, cause.message(), cause));
  absl::StatusOr<vault::CommitResult> committed = deps_.store->Commit(write);
  if (!committed.ok()) return absl::IsAborted(committed.status()) ? committed.status() : VaultFailure(committed.status());
  return absl::OkStatus();
}

absl::StatusOr<UserInfoResult> TokenService::GetUserInfo(absl::string_view app_id, absl::string_view openid,
                                                         absl::string_view lang, absl::Duration max_age,
                                                         absl::Time deadline) {
  absl::StatusOr<TokenKey> key = ResolveKey(app_id, openid);
  if (!key.ok()) return key.status();
  if (absl::Status s = ValidateLang(lang); !s.ok()) return s;
  if (max_age < absl::ZeroDuration()) {
    return MakeError(absl::StatusCode::kInvalidArgument, "max_age_seconds must be >= 0", reason::kInvalidArgument);
  }
  const std::string effective_lang = lang.empty() ? "zh_CN" : std::string(lang);
  absl::StatusOr<TokenRecord> record = ReadUsable(*key);
  if (!record.ok()) return record.status();
  const int64_t now_ms = deps_.clock->NowMillis();
  if (max_age > absl::ZeroDuration()) {
    absl::StatusOr<vault::ProfileEntry> entry = deps_.store->GetProfile(*key);
    if (entry.ok() && entry->lang() == effective_lang && now_ms - entry->fetched_at_ms() < ToMillis(max_age)) {
      absl::StatusOr<vault::SecretString> plaintext = vault::OpenProfile(*deps_.sealer, *key, *entry);
      UserInfoResult result;
      if (plaintext.ok() && result.user_info.ParseFromArray(plaintext->view().data(),
                                                            static_cast<int>(plaintext->size()))) {
        SetFetchedAt(entry->fetched_at_ms(), &result.user_info);
        result.cached = true;
        return result;
      }
    } else if (!entry.ok() && !absl::IsNotFound(entry.status())) {
      return VaultFailure(entry.status());
    }
  }
  absl::StatusOr<AccessTokenResult> token = GetAccessToken(key->app_id, key->openid, absl::ZeroDuration(), deadline);
  if (!token.ok()) return token.status();
  absl::StatusOr<UserProfile> profile =
      deps_.wechat->GetUserInfo(token->access_token, key->openid, effective_lang, UpstreamDeadline(deadline));
  if (!profile.ok() && ReasonOf(profile.status()) == reason::kAccessTokenInvalid) {
    // WeChat says the access token is no longer valid: refresh once, retry.
    token = RefreshShared(*key, options_.access_token_min_ttl, /*force=*/true, deadline);
    if (!token.ok()) return token.status();
    profile = deps_.wechat->GetUserInfo(token->access_token, key->openid, effective_lang, UpstreamDeadline(deadline));
  }
  if (!profile.ok()) return profile.status();
  UserInfoResult result;
  result.user_info = ToUserInfo(*profile, effective_lang);
  const int64_t fetched_ms = deps_.clock->NowMillis();
  // Cache it, unless the token changed meanwhile (then this profile may be stale).
  TokenWrite write;
  write.key = *key;
  write.expected_generation = token->record.generation();
  vault::ProfileEntry& entry = write.profile.emplace();
  entry.set_fetched_at_ms(fetched_ms);
  entry.set_lang(effective_lang);
  if (vault::SealProfileInto(*deps_.sealer, *key, result.user_info.SerializeAsString(), &entry).ok()) {
    absl::StatusOr<vault::CommitResult> committed = deps_.store->Commit(write);
    if (!committed.ok() && !absl::IsAborted(committed.status())) return VaultFailure(committed.status());
  }
  SetFetchedAt(fetched_ms, &result.user_info);
  return result;
}

absl::StatusOr<bool> TokenService::Revoke(absl::string_view app_id, absl::string_view openid) {
  absl::StatusOr<TokenKey> key = ResolveKey(app_id, openid);
  if (!key.ok()) return key.status();
  absl::StatusOr<TokenRecord> existing = deps_.store->GetToken(*key);
  if (absl::IsNotFound(existing.status())) return false;
  if (!existing.ok()) return VaultFailure(existing.status());
  if (existing->state() == vault::RECORD_STATE_REVOKED) return false;
  const int64_t now_ms = deps_.clock->NowMillis();
  TokenWrite write;
  write.key = *key;  // unconditional: revoke wins over anything in flight
  TokenRecord& record = write.put.emplace(*existing);
  record.set_state(vault::RECORD_STATE_REVOKED);
  record.clear_sealed_secrets();
  record.clear_key_id();
  record.set_revoked_at_ms(now_ms);
  record.set_state_changed_at_ms(now_ms);
  record.set_next_due_at_ms(now_ms + ToMillis(options_.tombstone_retention));
  write.erase_profile = true;
  write.events.push_back(MakeEvent(vault::EVENT_TYPE_REVOKED, *key, now_ms, "revoked"));
  absl::StatusOr<vault::CommitResult> committed = deps_.store->Commit(write);
  if (!committed.ok()) return VaultFailure(committed.status());
  return true;
}

}  // namespace wxvault::service

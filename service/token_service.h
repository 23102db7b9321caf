// TokenService: the token logic behind wxvault.v1.TokenVault, without gRPC.
//
// What it does
//   Exchange      code -> tokens at WeChat, sealed and stored atomically with
//                 the token's schedule entry and a CREATED event. Idempotent:
//                 a retry with the same code inside the idempotency window
//                 answers from the vault without calling WeChat (only a keyed
//                 hash of the code is stored).
//   GetAccessToken the stored access token when it has at least min_ttl left,
//                 otherwise a refresh first.
//   Refresh       a forced refresh now.
//   GetUserInfo   the profile, from the sealed cache when younger than
//                 max_age, otherwise from WeChat (refreshing once and
//                 retrying on an invalid access token).
//   Revoke        wipes the secrets and the cached profile and keeps a
//                 REVOKED tombstone; idempotent.
//
// Concurrency rules (DESIGN §6)
//   * Single-flight: concurrent callers needing a refresh of the same token
//     share one upstream call; a caller that waited re-reads the record and
//     uses a refresh that finished meanwhile instead of starting another.
//   * Revoke wins: a refresh writes back only if the record's generation is
//     unchanged, so a refresh finishing after a Revoke (or a newer Exchange)
//     is dropped and never resurrects the token.
//   * A refresh answer that omits a field keeps the stored value; the refresh
//     window restarts only when WeChat returns a *different* refresh token.
//   * At refresh_token_expires_at the token is REAUTH_REQUIRED at once.
//
// Blocking: every method but GetAccessTokenCached may block on RocksDB
// synced writes and on WeChat (bounded by `deadline` and 15 s). Call them
// from worker threads, never from gRPC callback threads.
//
// Thread safety: all methods are thread-safe. Dependencies are not owned and
// must outlive the service.
//
// Errors (absl code / wxvault-reason, see service/error_reason.h):
//   INVALID_ARGUMENT / INVALID_ARGUMENT   malformed app_id, openid, code, lang
//   INVALID_ARGUMENT / APP_ID_REQUIRED    empty app_id with several apps
//   NOT_FOUND / UNKNOWN_APP               app_id not configured
//   NOT_FOUND / TOKEN_NOT_FOUND           no token (or revoked) for openid
//   FAILED_PRECONDITION / REAUTH_REQUIRED the user must log in again
//   INVALID_ARGUMENT / INVALID_CODE, CODE_ALREADY_USED, CODE_EXPIRED
//   UNAVAILABLE / UPSTREAM_UNAVAILABLE, RESOURCE_EXHAUSTED /
//   UPSTREAM_RATE_LIMITED, PERMISSION_DENIED / SCOPE_NOT_GRANTED ...: from
//   the WeChat client (with wechat-errcode)
//   UNAVAILABLE / STORAGE_UNAVAILABLE     the vault failed an I/O (retry)
//   DATA_LOSS / RECORD_UNREADABLE         a sealed record failed to open
#ifndef WXVAULT_SERVICE_TOKEN_SERVICE_H_
#define WXVAULT_SERVICE_TOKEN_SERVICE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "service/access_token_cache.h"
#include "service/app_registry.h"
#include "service/keyed_locks.h"
#include "service/wechat_client.h"
#include "vault/clock.h"
#include "vault/sealer.h"
#include "vault/token_store.h"
#include "wxvault/v1/types.pb.h"

namespace wxvault::service {

struct TokenServiceOptions {
  // Life of a refresh token from its issue (--refresh_token_ttl). Default 180 d.
  absl::Duration refresh_token_ttl = absl::Hours(4320);
  // Renew period before the window ends (--renew_before). Default 7 d.
  absl::Duration renew_before = absl::Hours(168);
  // An access token with less left is refreshed before it is handed out
  // (--access_token_min_ttl). Default 300 s.
  absl::Duration access_token_min_ttl = absl::Seconds(300);
  // How long an Exchange answer is replayed for the same code. WeChat codes
  // live 5-10 minutes; default 10 min.
  absl::Duration exchange_idempotency_window = absl::Minutes(10);
  // Ceiling on time spent waiting for WeChat per call. Default (and max) 15 s.
  absl::Duration max_upstream_wait = absl::Seconds(15);
  // How long REVOKED and REAUTH_REQUIRED records are kept (so a late refresh
  // can never resurrect them and services can still read the state) before
  // the refresher purges them. Default 30 d.
  absl::Duration tombstone_retention = absl::Hours(24 * 30);

  // Keep-warm (see ProcessScheduled): a token served by GetAccessToken
  // within this window gets its access token refreshed before it expires.
  // Cost: at most one upstream refresh per access-token lifetime (2 h) per
  // token used in the window. Zero disables keep-warm. Default 1 h.
  absl::Duration keep_warm_window = absl::Hours(1);
  // How long before the min-TTL threshold keep-warm acts. Default 60 s.
  absl::Duration keep_warm_margin = absl::Seconds(60);
  // Background retry delays after a transient refresh failure: exponential
  // from the first to the cap, with jitter in [delay/2, delay]. Never past
  // the window end. Defaults 30 s and 1 h.
  absl::Duration retry_initial_delay = absl::Seconds(30);
  absl::Duration retry_max_delay = absl::Hours(1);
  // Most access tokens kept opened in memory for GetAccessTokenCached
  // (service/access_token_cache.h). ~0.6 KiB each; 0 disables. Default 16384.
  size_t access_token_cache_entries = 16384;

  // INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;
};

// What ProcessScheduled did with one due token.
enum class ScheduledOutcome {
  kNotDue,          // nothing due (moved or changed meanwhile)
  kRefreshed,       // access token refreshed (keep-warm or renewal)
  kRotated,         // WeChat issued a different refresh token: window restarted
  kExpiringSoon,    // renewal period entered without rotation: EXPIRING_SOON
  kRetryScheduled,  // transient failure: REFRESH_FAILED, retry with backoff
  kDeferred,        // WeChat quota pause: retry after the pause
  kReauthRequired,  // window ended or permanent failure: REAUTH_REQUIRED
  kPurged,          // tombstone past retention: erased
  kRescheduled,     // nothing to do now; next due time repaired
};
absl::string_view ScheduledOutcomeName(ScheduledOutcome outcome);

struct ExchangeResult {
  vault::TokenRecord record;
  std::string access_token;
  std::optional<wxvault::v1::UserInfo> user_info;  // when asked for and fetched
  bool replayed = false;  // answered from the idempotency table
};

struct AccessTokenResult {
  vault::TokenRecord record;
  std::string access_token;
  bool refreshed = false;  // this call waited on a refresh
};

struct UserInfoResult {
  wxvault::v1::UserInfo user_info;
  bool cached = false;
};

class TokenService {
 public:
  struct Deps {
    vault::TokenStore* store = nullptr;
    const vault::Sealer* sealer = nullptr;
    WeChatClient* wechat = nullptr;
    const AppRegistry* apps = nullptr;
    Clock* clock = nullptr;
  };

  // INVALID_ARGUMENT for a missing dependency or invalid options.
  // Registers the service's cache invalidation as deps.store's commit
  // listener: one TokenService per store.
  static absl::StatusOr<std::unique_ptr<TokenService>> Create(const Deps& deps, TokenServiceOptions options);
  // Clears the store's commit listener.
  ~TokenService();

  absl::StatusOr<ExchangeResult> Exchange(absl::string_view app_id, absl::string_view code, bool include_user_info,
                                          absl::string_view lang, absl::Time deadline);
  // min_ttl: zero means options.access_token_min_ttl.
  absl::StatusOr<AccessTokenResult> GetAccessToken(absl::string_view app_id, absl::string_view openid,
                                                   absl::Duration min_ttl, absl::Time deadline);
  // GetAccessToken's answer from memory, when it needs neither I/O nor a
  // write: the token was served recently (AccessTokenCache), is ACTIVE, has
  // min_ttl left and keep-warm already knows it is in use. The answer is
  // what GetAccessToken would return at this moment (refreshed = false).
  // Returns null otherwise (including for invalid arguments): call
  // GetAccessToken then. The entry is valid until this thread's next call
  // (AccessTokenCache::LookupOnThisThread). Never blocks on I/O and takes
  // no lock on a repeated hit: meant for gRPC callback threads.
  const CachedAccessToken* GetAccessTokenCached(absl::string_view app_id, absl::string_view openid,
                                                absl::Duration min_ttl) const;
  absl::StatusOr<AccessTokenResult> Refresh(absl::string_view app_id, absl::string_view openid, absl::Time deadline);
  // max_age: zero fetches from WeChat; otherwise the cache may answer.
  absl::StatusOr<UserInfoResult> GetUserInfo(absl::string_view app_id, absl::string_view openid,
                                             absl::string_view lang, absl::Duration max_age, absl::Time deadline);
  // Returns whether a live (non-revoked) token existed.
  absl::StatusOr<bool> Revoke(absl::string_view app_id, absl::string_view openid);

  // The refresher's work for one token whose schedule entry is due
  // (DESIGN §6a), implemented in token_lifecycle.cc:
  //   ACTIVE, window ended          -> REAUTH_REQUIRED (secrets wiped, event)
  //   ACTIVE, renewal time reached  -> refresh; a different refresh token
  //                                    restarts the window, the same one
  //                                    emits EXPIRING_SOON once
  //   ACTIVE, keep-warm due         -> refresh the access token
  //   transient failure             -> REFRESH_FAILED, retry with backoff
  //   quota pause (45011)           -> deferred past the pause
  //   permanent failure             -> REAUTH_REQUIRED
  //   REVOKED/REAUTH_REQUIRED past retention -> erased
  // Shares the single-flight lock with the RPC path, and writes only if the
  // record's generation is unchanged (a revoke or new exchange wins).
  // Errors: storage failures; upstream failures are outcomes, not errors.
  absl::StatusOr<ScheduledOutcome> ProcessScheduled(const vault::TokenKey& key, absl::Time deadline);

  // The due time the schedule index should hold for `record` at `now_ms`:
  // the earliest of renewal (until EXPIRING_SOON was sent), window end and
  // keep-warm (when used within keep_warm_window). Exposed for tests.
  int64_t NextDueFor(const vault::TokenRecord& record, int64_t now_ms) const;

  // Called with the new due time whenever this service moves a token's
  // schedule entry earlier than the refresher may expect (new exchanges,
  // keep-warm arming). The refresher wakes on it. Set before serving.
  void SetScheduleListener(std::function<void(int64_t due_at_ms)> listener) { schedule_listener_ = std::move(listener); }

  // Runs `fn` while holding `key`'s single-flight refresh lock, so that no
  // refresh of that token is in flight meanwhile. For maintenance that
  // rewrites a record conditionally (VaultAdmin.RewrapAll re-sealing under a
  // new key) without making a concurrent refresh lose its write-back.
  // Errors: DEADLINE_EXCEEDED / UPSTREAM_UNAVAILABLE when the lock is not had
  // by `deadline`; otherwise whatever `fn` returns.
  absl::Status RunExclusive(const vault::TokenKey& key, absl::Time deadline, absl::FunctionRef<absl::Status()> fn);

  const TokenServiceOptions& options() const { return options_; }

 private:
  TokenService(const Deps& deps, TokenServiceOptions options);

  // Resolves and validates (app_id, openid) into a vault key.
  absl::StatusOr<vault::TokenKey> ResolveKey(absl::string_view app_id, absl::string_view openid) const;
  // ResolveKey's checks without building the key: the app of `app_id`.
  absl::StatusOr<const WeChatApp*> ResolveApp(absl::string_view app_id, absl::string_view openid) const;
  // The min_ttl a GetAccessToken call works with: `requested`, or the
  // default for zero. INVALID_ARGUMENT outside 0..1 h.
  absl::StatusOr<absl::Duration> EffectiveMinTtl(absl::Duration requested) const;
  // Reads a record that RPCs may use: NOT_FOUND/TOKEN_NOT_FOUND when absent
  // or revoked, FAILED_PRECONDITION/REAUTH_REQUIRED when re-login is needed
  // (moving an ACTIVE record whose window has ended to REAUTH_REQUIRED).
  absl::StatusOr<vault::TokenRecord> ReadUsable(const vault::TokenKey& key);
  // Refresh under the token's single-flight lock. With `force` false, a
  // record that has `min_ttl` left after waiting is returned as is; with
  // `force`, a newer record committed by someone else while we waited counts.
  absl::StatusOr<AccessTokenResult> RefreshShared(const vault::TokenKey& key, absl::Duration min_ttl, bool force,
                                                  absl::Time deadline);
  // One upstream refresh of `seen` and its conditional write-back.
  absl::StatusOr<AccessTokenResult> RefreshNow(const vault::TokenKey& key, const vault::TokenRecord& seen,
                                               absl::Time deadline);
  // Moves `seen` to REAUTH_REQUIRED (secrets and profile wiped, event).
  absl::Status MarkReauthRequired(const vault::TokenKey& key, const vault::TokenRecord& seen,
                                  const absl::Status& cause);
  absl::StatusOr<AccessTokenResult> WithOpenedSecrets(vault::TokenRecord record, bool refreshed) const;
  // Picks the renewal time for a refresh token whose window ends at end_ms.
  int64_t PickRenewAt(int64_t end_ms, int64_t now_ms);
  absl::Time UpstreamDeadline(absl::Time deadline) const;
  // `deadline` (on deps_.clock) as a real-time deadline for waiting on a
  // KeyedLocks lock: lock waits are real blocking, whatever the clock.
  absl::Time LockWaitDeadline(absl::Time deadline) const;
  // Keep-warm: when `record` (just served) has no keep-warm scheduled, or its
  // last recorded use is older than half the keep-warm window, records the
  // use and arms it (a conditional write at most twice per window per
  // token). Best effort.
  void ArmKeepWarm(const vault::TokenRecord& record);
  // True when ArmKeepWarm(record) at now_ms has nothing to write.
  bool KeepWarmCurrent(const vault::TokenRecord& record, int64_t now_ms) const;
  int64_t KeepWarmAt(const vault::TokenRecord& record) const;
  // Lifecycle helpers (token_lifecycle.cc).
  absl::StatusOr<ScheduledOutcome> RenewScheduled(const vault::TokenKey& key, const vault::TokenRecord& seen,
                                                  bool renewal_due, absl::Time deadline);
  absl::StatusOr<ScheduledOutcome> RecordRefreshFailure(const vault::TokenKey& key, const vault::TokenRecord& seen,
                                                        bool renewal_due, const absl::Status& cause);
  absl::Duration RetryDelay(uint32_t failures);
  void NotifyScheduled(int64_t due_at_ms) const;
  // `seen` after a successful refresh answer: new access token and expiry,
  // window restarted only when the refresh token differs (*rotated), omitted
  // fields kept, failures cleared; `secrets` is updated in place and the
  // record is resealed. The caller sets next_due_at_ms and commits.
  absl::StatusOr<vault::TokenRecord> ApplyRefresh(const vault::TokenRecord& seen, vault::TokenSecrets* secrets,
                                                  const OAuthTokenResult& renewed, int64_t now_ms, bool* rotated);

  Deps deps_;
  const TokenServiceOptions options_;
  KeyedLocks locks_;
  AccessTokenCache served_;  // filled by GetAccessToken, emptied by every commit
  std::function<void(int64_t)> schedule_listener_;
  absl::Mutex random_mu_;
  absl::BitGen random_ ABSL_GUARDED_BY(random_mu_);
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_TOKEN_SERVICE_H_

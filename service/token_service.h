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
// Blocking: every method may block on RocksDB synced writes and on WeChat
// (bounded by `deadline` and 15 s). Call from worker threads, never from gRPC
// callback threads.
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

  // INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;
};

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
  static absl::StatusOr<std::unique_ptr<TokenService>> Create(const Deps& deps, TokenServiceOptions options);

  absl::StatusOr<ExchangeResult> Exchange(absl::string_view app_id, absl::string_view code, bool include_user_info,
                                          absl::string_view lang, absl::Time deadline);
  // min_ttl: zero means options.access_token_min_ttl.
  absl::StatusOr<AccessTokenResult> GetAccessToken(absl::string_view app_id, absl::string_view openid,
                                                   absl::Duration min_ttl, absl::Time deadline);
  absl::StatusOr<AccessTokenResult> Refresh(absl::string_view app_id, absl::string_view openid, absl::Time deadline);
  // max_age: zero fetches from WeChat; otherwise the cache may answer.
  absl::StatusOr<UserInfoResult> GetUserInfo(absl::string_view app_id, absl::string_view openid,
                                             absl::string_view lang, absl::Duration max_age, absl::Time deadline);
  // Returns whether a live (non-revoked) token existed.
  absl::StatusOr<bool> Revoke(absl::string_view app_id, absl::string_view openid);

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
  // Reads a record that RPCs may use: NOT_FOUND/TOKEN_NOT_FOUND when absent
  // or revoked, FAILED_PRECONDITION/REAUTH_REQUIRED when re-login is needed
  // (moving an ACTIVE record whose window has ended to REAUTH_REQUIRED).
  absl::StatusOr<vault::TokenRecord> ReadUsable(const vault::TokenKey& key);
  // Refresh under the token's single-flight lock. With `force` false, a
  // record that has `min_ttl` left after waiting is returned as is; with
  // `force`, a refresh completed by someone else after `started` counts.
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

  Deps deps_;
  const TokenServiceOptions options_;
  KeyedLocks locks_;
  absl::Mutex random_mu_;
  absl::BitGen random_ ABSL_GUARDED_BY(random_mu_);
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_TOKEN_SERVICE_H_

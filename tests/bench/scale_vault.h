// The vault that scale_bench serves with wxvaultd: many tokens of one app
// (the fake WeChat's default app), written directly with the vault library as
// wxvaultd's TokenService would have written them, sealed under the bench key
// (bench_records.h; wxvaultd gets BenchKeyLine() as its keyring file).
//
//   * BuildScaleVault: `tokens` ACTIVE records whose refresh tokens were issued
//     over the last 172 days (180-day window, renewal 7 days before its end),
//     so every one is due at least a day after the build. A CREATED event is
//     kept only for tokens issued within the event retention (7 days), as in
//     a server whose refresher trims older events. Secrets the fake does not
//     know: these tokens are never refreshed during the benchmark.
//   * RegisterWithFake: `count` users of the fake (openids of tokens 0..count-1)
//     get real tokens by code exchange directly against the fake.
//   * ArmDue: rewrites tokens 0..due-1 with those tokens, in their renewal
//     period and due within the last hour (as a 175-day-old token would be),
//     then checks that exactly `due` tokens of the vault are due.
#ifndef WXVAULT_TESTS_BENCH_SCALE_VAULT_H_
#define WXVAULT_TESTS_BENCH_SCALE_VAULT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace wxvault::bench {

// The server flags the records assume (wxvaultd's defaults).
inline constexpr char kRefreshTokenTtlFlag[] = "--refresh_token_ttl=4320h";
inline constexpr char kRenewBeforeFlag[] = "--renew_before=168h";

// Unix ms now.
int64_t NowMs();

// True when `path` holds a vault this benchmark built with `tokens` tokens
// (marker file `path`.built). Errors: FAILED_PRECONDITION when `path` exists
// without the marker or with another token count.
absl::StatusOr<bool> ScaleVaultPresent(const std::string& path, uint64_t tokens);

// Builds the vault at `path` (must not exist) for `app_id`; writes the marker.
// Returns the load time in seconds (Commit unsynced from 2 threads, then the
// key-check records; excludes closing).
double BuildScaleVault(const std::string& path, const std::string& app_id, uint64_t tokens);

struct FakeGrant {
  std::string access_token;
  std::string refresh_token;
};

// Exchanges a fresh code for the openid of each token 0..count-1 directly at
// the fake (`base_url`), from 2 threads; grant i belongs to token i.
absl::StatusOr<std::vector<FakeGrant>> RegisterWithFake(const std::string& base_url, size_t count);

// Rewrites tokens 0..due-1 of the vault at `path` (closed by the server) so
// that they are due now with grants[0..due-1] as their secrets, and tokens
// due..grants.size()-1 as never due (undoing an earlier, larger ArmDue);
// then checks that exactly `due` tokens are due. Errors: FAILED_PRECONDITION
// when a different number is due (e.g. a cached vault older than a day).
absl::Status ArmDue(const std::string& path, const std::string& app_id, const std::vector<FakeGrant>& grants,
                    size_t due);

}  // namespace wxvault::bench

#endif  // WXVAULT_TESTS_BENCH_SCALE_VAULT_H_

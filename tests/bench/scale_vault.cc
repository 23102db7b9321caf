#include "tests/bench/scale_vault.h"

#include <atomic>
#include <filesystem>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "httplib.h"
#include "service/json.h"
#include "tests/bench/bench_fake_client.h"
#include "tests/bench/bench_records.h"
#include "tests/integration/harness.h"
#include "vault/key_check.h"

namespace wxvault::bench {
namespace {

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kWindowMs = 180 * kDayMs;       // --refresh_token_ttl
constexpr int64_t kRenewBeforeMs = 7 * kDayMs;    // --renew_before
constexpr int64_t kIssuedOverMs = 172 * kDayMs;   // the oldest is still a day from renewal
constexpr int64_t kEventRetentionMs = 7 * kDayMs;  // the refresher's default
constexpr int64_t kArmedAgeMs = 175 * kDayMs;      // inside the renewal period

// A number in [0, 1) derived from `x`.
double Unit(uint64_t x) { return static_cast<double>(Mix(x) >> 11) * 0x1p-53; }

// Token `index` as stored by a server at `now_ms`, neither due nor known to
// the fake.
absl::StatusOr<vault::TokenWrite> IdleWrite(const std::string& app_id, uint64_t index, int64_t now_ms) {
  RecordTimes times;
  times.issued_at_ms = now_ms - static_cast<int64_t>(Unit(index ^ 0x15) * static_cast<double>(kIssuedOverMs));
  times.refresh_expires_at_ms = times.issued_at_ms + kWindowMs;
  // Uniform in the first half of the renewal period, as PickRenewAt does.
  times.renew_at_ms = times.refresh_expires_at_ms - kRenewBeforeMs +
                      static_cast<int64_t>(Unit(index ^ 0x5eed) * static_cast<double>(kRenewBeforeMs / 2));
  times.access_expires_at_ms = times.issued_at_ms + 2 * kHourMs;
  times.last_refreshed_at_ms = times.issued_at_ms;
  if (now_ms - times.issued_at_ms < kEventRetentionMs) times.created_event_at_ms = times.issued_at_ms;
  return BuildCreateWrite(BenchSealer(), {app_id, OpenidFor(index)}, index, SecretsFor(index), times,
                          /*with_exchange=*/false);
}

std::string MarkerPath(const std::string& path) { return path + ".built"; }

}  // namespace

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

absl::StatusOr<bool> ScaleVaultPresent(const std::string& path, uint64_t tokens) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return false;
  uint64_t built = 0;
  if (!absl::SimpleAtoi(integration::ReadFile(MarkerPath(path)), &built)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists but was not built by scale_bench (no ", MarkerPath(path), "); remove it"));
  }
  if (built != tokens) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " holds ", built, " tokens, not ", tokens, "; remove it or pass --tokens=", built));
  }
  return true;
}

double BuildScaleVault(const std::string& path, const std::string& app_id, uint64_t tokens) {
  const int64_t now_ms = NowMs();
  double seconds = 0;
  {
    std::unique_ptr<vault::RocksTokenStore> store = OpenStore(path, /*synced=*/false);
    seconds = LoadVault(*store, tokens, 2, [&](uint64_t i) { return IdleWrite(app_id, i, now_ms); });
    const auto start = std::chrono::steady_clock::now();
    Check(vault::RecordKeyChecks(*store, BenchSealer()), "record key checks");
    seconds += SecondsSince(start);
  }
  integration::WriteFile(MarkerPath(path), absl::StrCat(tokens));
  return seconds;
}

absl::StatusOr<std::vector<FakeGrant>> RegisterWithFake(const std::string& base_url, size_t count) {
  std::vector<FakeGrant> grants(count);
  std::atomic<size_t> failed{0};
  auto work = [&](size_t first) {
    httplib::Client client(base_url);
    client.set_keep_alive(true);
    for (size_t i = first; i < count && failed == 0; i += 2) {
      auto response = client.Get(DirectExchangePath(MintCode(client, OpenidFor(i))).c_str());
      absl::StatusOr<service::JsonValue> json =
          response && response->status == 200 ? service::ParseJson(response->body) : absl::UnknownError("call");
      const service::JsonValue* access = json.ok() ? json->Find("access_token") : nullptr;
      const service::JsonValue* refresh = json.ok() ? json->Find("refresh_token") : nullptr;
      if (access == nullptr || refresh == nullptr) {
        ++failed;
        return;
      }
      grants[i] = {access->string_value(), refresh->string_value()};
    }
  };
  std::thread second(work, 1);
  work(0);
  second.join();
  if (failed > 0) return absl::UnavailableError("the fake did not exchange a code");
  return grants;
}

absl::Status ArmDue(const std::string& path, const std::string& app_id, const std::vector<FakeGrant>& grants,
                    size_t due) {
  std::unique_ptr<vault::RocksTokenStore> store = OpenStore(path, /*synced=*/false);
  const int64_t now_ms = NowMs();
  const int64_t count = static_cast<int64_t>(due);
  LoadVault(*store, grants.size(), 2, [&](uint64_t i) -> absl::StatusOr<vault::TokenWrite> {
    absl::StatusOr<vault::TokenWrite> write;
    if (i >= due) {
      write = IdleWrite(app_id, i, now_ms);
    } else {
      RecordTimes times;
      times.issued_at_ms = now_ms - kArmedAgeMs;
      times.refresh_expires_at_ms = times.issued_at_ms + kWindowMs;
      // Spread over the last hour, oldest first (within the renewal period).
      times.renew_at_ms = now_ms - kHourMs + static_cast<int64_t>(i) * kHourMs / count;
      times.access_expires_at_ms = now_ms + 2 * kHourMs;
      times.last_refreshed_at_ms = now_ms;
      vault::TokenSecrets secrets;
      secrets.set_access_token(grants[i].access_token);
      secrets.set_refresh_token(grants[i].refresh_token);
      write = BuildCreateWrite(BenchSealer(), {app_id, OpenidFor(i)}, i, std::move(secrets), times, false);
    }
    if (write.ok()) write->expected_generation.reset();  // replaces the stored record
    return write;
  });
  absl::StatusOr<std::vector<vault::DueEntry>> due_now = store->ReadDue(NowMs(), due + 1);
  if (!due_now.ok()) return due_now.status();
  if (due_now->size() != due) {
    return absl::FailedPreconditionError(absl::StrCat(due_now->size(), " tokens due instead of ", due,
                                                      " (a cached --vault_dir older than a day? remove it)"));
  }
  return absl::OkStatus();
}

}  // namespace wxvault::bench

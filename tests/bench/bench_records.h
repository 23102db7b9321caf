// Realistic, deterministic token records for vault_bench and scale_bench.
//
// Everything about token number `index` is derived from the index (the app
// id, the openid, both tokens, the schedule slot), so a benchmark can pick a
// random existing key, or a child process can read back what its parent
// wrote, without storing a list.
//
// Sizes follow WeChat: app ids "wx" + 16 hex digits, openids 28 characters
// ("o" + 27 of [A-Za-z0-9_-]), unionids 28, access and refresh tokens 110
// characters each.
#ifndef WXVAULT_TESTS_BENCH_BENCH_RECORDS_H_
#define WXVAULT_TESTS_BENCH_BENCH_RECORDS_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tests/bench/bench_util.h"
#include "vault/keyring.h"
#include "vault/record_sealing.h"
#include "vault/rocks_token_store.h"
#include "vault/sealer.h"
#include "vault/token_store.h"

namespace wxvault::bench {

inline constexpr int64_t kDayMs = 86'400'000;
// The benchmark's fixed "now" (2023-11-14); every time is relative to it.
inline constexpr int64_t kBaseMs = 1'700'000'000'000;
inline constexpr int64_t kRefreshWindowMs = 180 * kDayMs;
inline constexpr uint64_t kMillion = 1'000'000;
// Schedule: token i is due in slot (i * kSlotStride) mod 1M; slots are
// kSlotMs apart, so 1M tokens spread evenly over 180 days in random key order.
inline constexpr int64_t kSlotMs = kRefreshWindowMs / static_cast<int64_t>(kMillion);
inline constexpr uint64_t kSlotStride = 999'983;  // Prime: a permutation of 0..1M-1.
// With now = kNowFor1M exactly kDueOf1M tokens (slots 0..kDueOf1M-1) are due.
inline constexpr uint64_t kDueOf1M = 10'000;
inline constexpr int64_t kNowFor1M = kBaseMs + static_cast<int64_t>(kDueOf1M - 1) * kSlotMs;

[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "bench: %s\n", what.c_str());
  std::abort();
}

inline void Check(const absl::Status& status, absl::string_view what) {
  if (!status.ok()) Die(absl::StrCat(what, ": ", status.ToString()));
}

// SplitMix64 finalizer: a cheap bijective 64-bit mix.
inline uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// `n` characters of [A-Za-z0-9_-] derived from `seed`.
inline std::string RandomChars(uint64_t seed, size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve(n);
  uint64_t bits = 0;
  int left = 0;
  for (size_t i = 0; i < n; ++i) {
    if (left < 6) {
      bits = Mix(seed++);
      left = 64;
    }
    out.push_back(kAlphabet[bits & 63]);
    bits >>= 6;
    left -= 6;
  }
  return out;
}

// Four apps: "wx" + 16 lowercase hex digits.
inline const std::array<std::string, 4>& AppIds() {
  static const auto* const ids = [] {
    auto* out = new std::array<std::string, 4>();
    for (size_t i = 0; i < out->size(); ++i) {
      char hex[17];
      std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(Mix(0xa99 + i)));
      (*out)[i] = absl::StrCat("wx", hex);
    }
    return out;
  }();
  return *ids;
}

// Openid of token `index`: "o" + 27 characters.
inline std::string OpenidFor(uint64_t index) { return absl::StrCat("o", RandomChars(Mix(index) ^ 0x0bed, 27)); }

inline vault::TokenKey KeyFor(uint64_t index) { return {AppIds()[index % AppIds().size()], OpenidFor(index)}; }

inline vault::TokenSecrets SecretsFor(uint64_t index) {
  vault::TokenSecrets secrets;
  secrets.set_access_token(absl::StrCat("78_", RandomChars(Mix(index) ^ 0xacce55, 107)));
  secrets.set_refresh_token(absl::StrCat("78_", RandomChars(Mix(index) ^ 0x4e4e, 107)));
  return secrets;
}

inline std::string SerializedSecretsFor(uint64_t index) {
  std::string out;
  SecretsFor(index).SerializeToString(&out);
  return out;
}

// Due time of token `index` (see kSlotStride).
inline int64_t DueAt(uint64_t index) {
  return kBaseMs + static_cast<int64_t>((index * kSlotStride) % kMillion) * kSlotMs;
}

// The benchmark key: fixed bytes, so a child process (or wxvaultd, given
// BenchKeyLine() as its keyring file) opens what its parent sealed.
inline constexpr char kBenchKeyId[] = "bench-2024";

inline std::string BenchKeyBytes() {
  std::string key(vault::kKeyBytes, '\0');
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<char>(Mix(i) & 0xff);
  return key;
}

// The keyring file line ("<id>:<base64>") of the benchmark key.
inline std::string BenchKeyLine() { return absl::StrCat(kBenchKeyId, ":", absl::Base64Escape(BenchKeyBytes())); }

// The benchmark keyring's sealer. Built once; never freed.
inline const vault::Sealer& BenchSealer() {
  static const vault::Sealer* const sealer = [] {
    absl::StatusOr<std::unique_ptr<vault::Keyring>> keyring =
        vault::Keyring::FromRawKeys({{kBenchKeyId, BenchKeyBytes()}});
    Check(keyring.status(), "build keyring");
    return new vault::Sealer(keyring->release());
  }();
  return *sealer;
}

// The times of a new record, in Unix ms; a zero field stays unset.
struct RecordTimes {
  int64_t issued_at_ms = 0;  // the refresh token's issue; also created_at and state_changed_at
  int64_t refresh_expires_at_ms = 0;
  int64_t renew_at_ms = 0;  // also next_due_at_ms
  int64_t access_expires_at_ms = 0;
  int64_t last_refreshed_at_ms = 0;
  int64_t last_used_at_ms = 0;
  int64_t created_event_at_ms = 0;  // 0: no CREATED event
};

// What an Exchange commits for a new user: the sealed record of `key` with
// `secrets` (the store adds its schedule and key-index entries), a CREATED
// event if times.created_event_at_ms is set and, when `with_exchange`, the
// idempotency entry keyed by the code's keyed digest. The other fields derive
// from `index`.
inline absl::StatusOr<vault::TokenWrite> BuildCreateWrite(const vault::Sealer& sealer, const vault::TokenKey& key,
                                                          uint64_t index, vault::TokenSecrets secrets,
                                                          const RecordTimes& times, bool with_exchange) {
  vault::TokenWrite write;
  write.key = key;
  write.expected_generation = 0;
  vault::TokenRecord& record = write.put.emplace();
  record.set_app_id(write.key.app_id);
  record.set_openid(write.key.openid);
  record.set_unionid(absl::StrCat("o6_bm", RandomChars(Mix(index) ^ 0x0e10, 23)));
  record.add_scopes("snsapi_userinfo");
  record.set_state(vault::RECORD_STATE_ACTIVE);
  record.set_access_token_expires_at_ms(times.access_expires_at_ms);
  record.set_refresh_token_issued_at_ms(times.issued_at_ms);
  record.set_refresh_token_expires_at_ms(times.refresh_expires_at_ms);
  record.set_renew_at_ms(times.renew_at_ms);
  record.set_next_due_at_ms(times.renew_at_ms);
  record.set_created_at_ms(times.issued_at_ms);
  record.set_last_refreshed_at_ms(times.last_refreshed_at_ms);
  record.set_last_used_at_ms(times.last_used_at_ms);
  record.set_state_changed_at_ms(times.issued_at_ms);
  absl::Status sealed = vault::SealSecretsInto(sealer, secrets, &record);
  vault::WipeSecrets(&secrets);
  if (!sealed.ok()) return sealed;
  if (with_exchange) {
    write.exchange_digest = sealer.KeyedDigest("exchange-code", RandomChars(Mix(index) ^ 0xc0de, 32));
    vault::ExchangeEntry& entry = write.exchange.emplace();
    entry.set_app_id(write.key.app_id);
    entry.set_openid(write.key.openid);
    entry.set_created_at_ms(times.issued_at_ms);
    entry.set_expires_at_ms(times.issued_at_ms + 600'000);
    entry.set_token_generation(1);
  }
  if (times.created_event_at_ms != 0) {
    vault::EventRecord& event = write.events.emplace_back();
    event.set_type(vault::EVENT_TYPE_CREATED);
    event.set_app_id(write.key.app_id);
    event.set_openid(write.key.openid);
    event.set_at_ms(times.created_event_at_ms);
  }
  return write;
}

// vault_bench's record of token `index`, due at `due_ms`: every time at
// kBaseMs (the window's start), the access token valid for 2 hours.
inline absl::StatusOr<vault::TokenWrite> CreateWrite(const vault::Sealer& sealer, uint64_t index, int64_t due_ms,
                                                     bool with_exchange) {
  RecordTimes times;
  times.issued_at_ms = kBaseMs;
  times.refresh_expires_at_ms = kBaseMs + kRefreshWindowMs;
  times.renew_at_ms = due_ms;
  times.access_expires_at_ms = kBaseMs + 7'200'000;
  times.last_used_at_ms = kBaseMs;
  times.created_event_at_ms = kBaseMs;
  return BuildCreateWrite(sealer, KeyFor(index), index, SecretsFor(index), times, with_exchange);
}

inline std::unique_ptr<vault::RocksTokenStore> OpenStore(const std::string& path, bool synced) {
  vault::RocksTokenStoreOptions options;
  options.path = path;
  options.sync_writes = synced;
  absl::StatusOr<std::unique_ptr<vault::RocksTokenStore>> store = vault::RocksTokenStore::Open(options);
  Check(store.status(), "open vault");
  return *std::move(store);
}

// Commits make_write(i) for i in [0, count) from `threads` threads (token i
// on thread i % threads). Returns the wall time in seconds.
inline double LoadVault(vault::TokenStore& store, uint64_t count, int threads,
                        const std::function<absl::StatusOr<vault::TokenWrite>(uint64_t)>& make_write) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&store, &make_write, count, threads, t] {
      for (uint64_t i = static_cast<uint64_t>(t); i < count; i += static_cast<uint64_t>(threads)) {
        absl::StatusOr<vault::TokenWrite> write = make_write(i);
        Check(write.status(), "build write");
        Check(store.Commit(*write).status(), "load commit");
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  return SecondsSince(start);
}

}  // namespace wxvault::bench

#endif  // WXVAULT_TESTS_BENCH_BENCH_RECORDS_H_

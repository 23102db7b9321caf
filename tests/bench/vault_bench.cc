// vault_bench: microbenchmarks of the token vault against the DESIGN §7
// quality bars (sealing, synced group commit, point reads, the schedule index
// at 1,000,000 tokens, footprint and start-up). Results and how to read them:
// BENCHMARKS.md. Not a ctest test: run by hand.
//
// Raw baselines (a bare RocksDB synced Put, a bare libsodium seal) run first,
// and the reporter prints each vault figure as a percentage of its baseline at
// the same thread count (column pct_of_raw), so one run gives the ratios.
// Column others_cpu_pct flags rows measured while other processes were busy
// (see bench_reporter.h).
//
// `vault_bench --wxvault_reopen_child=<dir>` is the child process that
// BM_Vault1MCompactAndReopen starts to measure start-up and RSS of a fresh
// process opening the 1M-token vault.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sodium.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "tests/bench/bench_records.h"
#include "tests/bench/bench_reporter.h"
#include "tests/bench/bench_util.h"
#include "tests/testing/temp_dir.h"
#include "vault/key_check.h"
#include "vault/record_sealing.h"
#include "vault/rocks_token_store.h"

extern char** environ;

namespace wxvault::bench {
namespace {

using vault::RocksTokenStore;
using vault::RocksTokenStoreOptions;
using vault::TokenKey;

constexpr char kChildFlag[] = "--wxvault_reopen_child=";
constexpr uint64_t kWarmTokens = 100'000;
constexpr size_t kRawValueBytes = 300;
constexpr int kChildGets = 100'000;

uint64_t ScheduleExamined(vault::TokenStore& store) {
  absl::StatusOr<vault::StoreStats> stats = store.Stats();
  Check(stats.status(), "read stats");
  return stats->schedule_entries_examined;
}

// Commits vault_bench's tokens [0, count), each due at DueAt(i), from
// `threads` threads. Returns the wall time in seconds.
double LoadBenchVault(vault::TokenStore& store, uint64_t count, int threads) {
  return LoadVault(store, count, threads, [](uint64_t i) {
    return CreateWrite(BenchSealer(), i, DueAt(i), /*with_exchange=*/false);
  });
}

// ---- shared fixtures: built on first use, released before the 1M runs ----

struct CommitFixture {
  testing::TempDir dir;
  std::unique_ptr<RocksTokenStore> store;
  std::atomic<uint64_t> next{0};
};

struct RawFixture {
  testing::TempDir dir;
  std::unique_ptr<rocksdb::DB> db;
  std::atomic<uint64_t> next{0};
  std::string value;
};

struct VaultFixture {
  testing::TempDir dir;
  std::string path;
  std::unique_ptr<RocksTokenStore> store;
  std::vector<TokenKey> keys;  // Only for the 100k vault.
  double load_seconds = 0;
};

struct Fixtures {
  std::mutex mu;
  std::unique_ptr<RawFixture> raw;
  std::unique_ptr<CommitFixture> synced;
  std::unique_ptr<CommitFixture> unsynced;
  std::unique_ptr<VaultFixture> warm100k;
  std::unique_ptr<VaultFixture> vault1m;
};

Fixtures& Shared() {
  static auto* const fixtures = new Fixtures();
  return *fixtures;
}

RawFixture& Raw() {
  Fixtures& f = Shared();
  std::lock_guard<std::mutex> lock(f.mu);
  if (f.raw == nullptr) {
    auto raw = std::make_unique<RawFixture>();
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, raw->dir.Sub("raw"), &db);
    if (!s.ok()) Die(absl::StrCat("open raw rocksdb: ", s.ToString()));
    raw->db.reset(db);
    raw->value = RandomChars(42, kRawValueBytes);
    f.raw = std::move(raw);
  }
  return *f.raw;
}

CommitFixture& CommitStore(bool synced) {
  Fixtures& f = Shared();
  std::lock_guard<std::mutex> lock(f.mu);
  std::unique_ptr<CommitFixture>& slot = synced ? f.synced : f.unsynced;
  if (slot == nullptr) {
    slot = std::make_unique<CommitFixture>();
    slot->store = OpenStore(slot->dir.Sub("vault"), synced);
  }
  return *slot;
}

VaultFixture& Warm100k() {
  Fixtures& f = Shared();
  std::lock_guard<std::mutex> lock(f.mu);
  if (f.warm100k == nullptr) {
    auto v = std::make_unique<VaultFixture>();
    v->path = v->dir.Sub("vault");
    v->store = OpenStore(v->path, /*synced=*/false);
    v->load_seconds = LoadBenchVault(*v->store, kWarmTokens, 2);
    Check(v->store->Compact(), "compact 100k vault");
    for (uint64_t i = 0; i < kWarmTokens; ++i) {
      v->keys.push_back(KeyFor(i));
      Check(v->store->GetToken(v->keys.back()).status(), "warm read");
    }
    std::fprintf(stderr, "[vault_bench] warm vault: %llu tokens loaded in %.2f s\n",
                 static_cast<unsigned long long>(kWarmTokens), v->load_seconds);
    f.warm100k = std::move(v);
  }
  return *f.warm100k;
}

// Frees everything but the 1M vault, so its RSS reading is not inflated by
// the other stores' memtables and caches.
void ReleaseSmallFixtures() {
  Fixtures& f = Shared();
  std::lock_guard<std::mutex> lock(f.mu);
  f.raw.reset();
  f.synced.reset();
  f.unsynced.reset();
  f.warm100k.reset();
}

VaultFixture& Vault1M() {
  Fixtures& f = Shared();
  std::lock_guard<std::mutex> lock(f.mu);
  if (f.vault1m == nullptr) {
    auto v = std::make_unique<VaultFixture>();
    // WXVAULT_BENCH_KEEP_1M=<new dir>: build the 1M vault there and keep it.
    const char* keep = std::getenv("WXVAULT_BENCH_KEEP_1M");
    v->path = keep != nullptr && *keep != '\0' ? std::string(keep) : v->dir.Sub("vault");
    v->store = OpenStore(v->path, /*synced=*/false);
    std::fprintf(stderr, "[vault_bench] loading %llu tokens (unsynced, 2 threads)...\n",
                 static_cast<unsigned long long>(kMillion));
    v->load_seconds = LoadBenchVault(*v->store, kMillion, 2);
    Check(vault::RecordKeyChecks(*v->store, BenchSealer()), "record key checks");
    std::fprintf(stderr, "[vault_bench] loaded %llu tokens in %.1f s (%.0f tokens/s)\n",
                 static_cast<unsigned long long>(kMillion), v->load_seconds,
                 static_cast<double>(kMillion) / v->load_seconds);
    f.vault1m = std::move(v);
  }
  return *f.vault1m;
}

void ReleaseAll() {
  ReleaseSmallFixtures();
  Shared().vault1m.reset();
}

// Per-thread xorshift64 for random keys.
uint64_t NextRandom(uint64_t& state) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

// ---- sealing ----

void BM_RawAeadSeal(benchmark::State& state) {
  const std::string plaintext = SerializedSecretsFor(static_cast<uint64_t>(state.thread_index()));
  unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
  randombytes_buf(key, sizeof(key));
  std::string ad = "associated data of about sixty bytes: app id, openid, kind";
  std::string out(plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
  for (auto _ : state) {
    randombytes_buf(nonce, sizeof(nonce));
    unsigned long long len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        reinterpret_cast<unsigned char*>(out.data()), &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
        plaintext.size(), reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr, nonce, key);
    benchmark::DoNotOptimize(out.data());
  }
  sodium_memzero(key, sizeof(key));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(plaintext.size()));
}
BENCHMARK(BM_RawAeadSeal)->Threads(1)->Threads(2)->UseRealTime();

void BM_Seal(benchmark::State& state) {
  const uint64_t index = static_cast<uint64_t>(state.thread_index());
  const vault::TokenSecrets secrets = SecretsFor(index);
  const TokenKey key = KeyFor(index);
  vault::TokenRecord record;
  record.set_app_id(key.app_id);
  record.set_openid(key.openid);
  for (auto _ : state) {
    absl::Status s = vault::SealSecretsInto(BenchSealer(), secrets, &record);
    if (!s.ok()) {
      state.SkipWithError("seal failed");
      break;
    }
    benchmark::DoNotOptimize(record.sealed_secrets().data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(secrets.ByteSizeLong()));
}
BENCHMARK(BM_Seal)->Threads(1)->Threads(2)->UseRealTime();

void BM_Open(benchmark::State& state) {
  const uint64_t index = static_cast<uint64_t>(state.thread_index());
  const vault::TokenSecrets secrets = SecretsFor(index);
  const TokenKey key = KeyFor(index);
  vault::TokenRecord record;
  record.set_app_id(key.app_id);
  record.set_openid(key.openid);
  Check(vault::SealSecretsInto(BenchSealer(), secrets, &record), "seal");
  for (auto _ : state) {
    absl::StatusOr<vault::TokenSecrets> opened = vault::OpenSecrets(BenchSealer(), record);
    if (!opened.ok()) {
      state.SkipWithError("open failed");
      break;
    }
    benchmark::DoNotOptimize(opened->access_token().data());
    vault::WipeSecrets(&*opened);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(secrets.ByteSizeLong()));
}
BENCHMARK(BM_Open)->Threads(1)->Threads(2)->UseRealTime();

// ---- durable writes ----

void BM_RawRocksSyncedPut(benchmark::State& state) {
  RawFixture& raw = Raw();
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  char key[32];
  for (auto _ : state) {
    const uint64_t n = raw.next.fetch_add(1, std::memory_order_relaxed);
    const int len = std::snprintf(key, sizeof(key), "key%016llu", static_cast<unsigned long long>(n));
    rocksdb::Status s = raw.db->Put(write_options, rocksdb::Slice(key, static_cast<size_t>(len)), raw.value);
    if (!s.ok()) {
      state.SkipWithError("raw put failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawRocksSyncedPut)->Threads(1)->Threads(4)->Threads(16)->UseRealTime()->MinTime(2.0);

// One Exchange's write: a new sealed record (with its schedule and key-index
// entries), the idempotency entry and a CREATED event, in one Commit.
void RunCommits(benchmark::State& state, bool synced) {
  CommitFixture& fixture = CommitStore(synced);
  for (auto _ : state) {
    const uint64_t i = fixture.next.fetch_add(1, std::memory_order_relaxed);
    absl::StatusOr<vault::TokenWrite> write = CreateWrite(BenchSealer(), i, DueAt(i % kMillion), /*with_exchange=*/true);
    if (!write.ok() || !fixture.store->Commit(*write).ok()) {
      state.SkipWithError("commit failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_CommitSynced(benchmark::State& state) { RunCommits(state, /*synced=*/true); }
BENCHMARK(BM_CommitSynced)->Threads(1)->Threads(4)->Threads(16)->UseRealTime()->MinTime(2.0);

void BM_CommitUnsynced(benchmark::State& state) { RunCommits(state, /*synced=*/false); }
BENCHMARK(BM_CommitUnsynced)->Threads(1)->Threads(2)->UseRealTime()->MinTime(1.0);

// ---- reads on a warm 100k-token vault ----

void BM_GetToken(benchmark::State& state) {
  VaultFixture& v = Warm100k();
  uint64_t rng = Mix(static_cast<uint64_t>(state.thread_index()) + 1);
  for (auto _ : state) {
    const TokenKey& key = v.keys[NextRandom(rng) % v.keys.size()];
    absl::StatusOr<vault::TokenRecord> record = v.store->GetToken(key);
    if (!record.ok()) {
      state.SkipWithError("get failed");
      break;
    }
    benchmark::DoNotOptimize(record->generation());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetToken)->Threads(1)->Threads(2)->UseRealTime();

// One point get plus open of the secrets (the vault half of a warm
// GetAccessToken). False, with the error recorded, when either fails.
bool GetAndOpen(benchmark::State& state, vault::TokenStore& store, const TokenKey& key) {
  absl::StatusOr<vault::TokenRecord> record = store.GetToken(key);
  if (!record.ok()) {
    state.SkipWithError("get failed");
    return false;
  }
  absl::StatusOr<vault::TokenSecrets> secrets = vault::OpenSecrets(BenchSealer(), *record);
  if (!secrets.ok()) {
    state.SkipWithError("open failed");
    return false;
  }
  benchmark::DoNotOptimize(secrets->access_token().data());
  vault::WipeSecrets(&*secrets);
  return true;
}

// The vault half of a warm GetAccessToken: point get, then open the secrets.
void BM_GetTokenAndOpen(benchmark::State& state) {
  VaultFixture& v = Warm100k();
  uint64_t rng = Mix(static_cast<uint64_t>(state.thread_index()) + 101);
  for (auto _ : state) {
    if (!GetAndOpen(state, *v.store, v.keys[NextRandom(rng) % v.keys.size()])) break;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetTokenAndOpen)->Threads(1)->Threads(2)->UseRealTime();

// ---- 1,000,000 tokens ----

void BM_ReadDue10kOf1M(benchmark::State& state) {
  ReleaseSmallFixtures();
  VaultFixture& v = Vault1M();
  const uint64_t before = ScheduleExamined(*v.store);
  size_t returned = 0;
  for (auto _ : state) {
    absl::StatusOr<std::vector<vault::DueEntry>> due = v.store->ReadDue(kNowFor1M, kDueOf1M);
    if (!due.ok()) {
      state.SkipWithError("ReadDue failed");
      break;
    }
    returned = due->size();
    benchmark::DoNotOptimize(due->data());
  }
  const uint64_t examined = ScheduleExamined(*v.store) - before;
  const double iterations = static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
  state.counters["due_returned"] = static_cast<double>(returned);
  state.counters["examined_per_call"] = static_cast<double>(examined) / iterations;
  state.counters["load_s"] = v.load_seconds;
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(returned));
}
BENCHMARK(BM_ReadDue10kOf1M)->Unit(benchmark::kMillisecond)->MinTime(1.0);

struct ChildReport {
  bool ok = false;
  double startup_ms = 0;
  double rss_open_kib = 0;
  double rss_kib = 0;
  double hwm_kib = 0;
  double get_open_per_s = 0;
};

// Runs this binary as a fresh process that opens the vault at `path` the way
// the server starts (verified open, then the refresher's first ReadDue).
ChildReport RunReopenChild(const std::string& path) {
  ChildReport report;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return report;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string arg = absl::StrCat(kChildFlag, path);
  char* argv[] = {self.data(), arg.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  std::string out;
  char buffer[512];
  ssize_t n;
  while (rc == 0 && (n = read(fds[0], buffer, sizeof(buffer))) > 0) out.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  if (rc != 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return report;
  report.ok = std::sscanf(out.c_str(), "startup_ms=%lf rss_open_kib=%lf rss_kib=%lf hwm_kib=%lf get_open_per_s=%lf",
                          &report.startup_ms, &report.rss_open_kib, &report.rss_kib, &report.hwm_kib,
                          &report.get_open_per_s) == 5;
  return report;
}

int ChildMain(const std::string& path) {
  const auto start = std::chrono::steady_clock::now();
  RocksTokenStoreOptions options;
  options.path = path;
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<RocksTokenStore>> store = vault::OpenVerifiedVault(options, BenchSealer());
  Check(store.status(), "child: open verified vault");
  absl::StatusOr<std::vector<vault::DueEntry>> due = (*store)->ReadDue(kNowFor1M, kDueOf1M);
  Check(due.status(), "child: first ReadDue");
  if (due->size() != kDueOf1M) Die("child: first ReadDue returned the wrong count");
  const double startup_ms = SecondsSince(start) * 1e3;
  const int64_t rss_open = ProcStatusKib("VmRSS:");
  const auto gets_start = std::chrono::steady_clock::now();
  for (int i = 0; i < kChildGets; ++i) {
    absl::StatusOr<vault::TokenRecord> record = (*store)->GetToken(KeyFor(Mix(static_cast<uint64_t>(i)) % kMillion));
    Check(record.status(), "child: get");
    absl::StatusOr<vault::TokenSecrets> secrets = vault::OpenSecrets(BenchSealer(), *record);
    Check(secrets.status(), "child: open secrets");
    vault::WipeSecrets(&*secrets);
  }
  const double gets_per_s = kChildGets / SecondsSince(gets_start);
  std::printf("startup_ms=%.3f rss_open_kib=%lld rss_kib=%lld hwm_kib=%lld get_open_per_s=%.1f\n", startup_ms,
              static_cast<long long>(rss_open), static_cast<long long>(ProcStatusKib("VmRSS:")),
              static_cast<long long>(ProcStatusKib("VmHWM:")), gets_per_s);
  return 0;
}

// Compaction, footprint and start-up of the 1M-token vault. Timed: Compact().
void BM_Vault1MCompactAndReopen(benchmark::State& state) {
  ReleaseSmallFixtures();
  VaultFixture& v = Vault1M();
  if (v.store == nullptr) {
    state.SkipWithError("1M vault already closed");
    return;
  }
  for (auto _ : state) {
    if (!v.store->Compact().ok()) state.SkipWithError("compact failed");
  }
  const double tokens = static_cast<double>(kMillion);
  absl::StatusOr<vault::StoreStats> stats = v.store->Stats();
  Check(stats.status(), "stats");
  state.counters["disk_B_per_token"] = static_cast<double>(DirBytes(v.path)) / tokens;
  state.counters["live_B_per_token"] = static_cast<double>(stats->data_size_bytes) / tokens;
  state.counters["rss_MiB"] = static_cast<double>(ProcStatusKib("VmRSS:")) / 1024;
  state.counters["hwm_MiB"] = static_cast<double>(ProcStatusKib("VmHWM:")) / 1024;

  // In-process reopen: RocksTokenStore::Open, then the first ReadDue.
  v.store.reset();
  const auto start = std::chrono::steady_clock::now();
  v.store = OpenStore(v.path, /*synced=*/true);
  absl::StatusOr<std::vector<vault::DueEntry>> due = v.store->ReadDue(kNowFor1M, kDueOf1M);
  const double reopen_ms = SecondsSince(start) * 1e3;
  if (!due.ok() || due->size() != kDueOf1M) state.SkipWithError("ReadDue after reopen failed");
  state.counters["reopen_ms"] = reopen_ms;
  v.store.reset();

  // A fresh process: verified open + first ReadDue, RSS, then 100k cold gets.
  ChildReport child = RunReopenChild(v.path);
  if (!child.ok) {
    state.SkipWithError("reopen child failed");
    return;
  }
  state.counters["child_startup_ms"] = child.startup_ms;
  state.counters["child_rss_open_MiB"] = child.rss_open_kib / 1024;
  state.counters["child_rss_MiB"] = child.rss_kib / 1024;
  state.counters["child_hwm_MiB"] = child.hwm_kib / 1024;
  state.counters["child_get_open_per_s"] = child.get_open_per_s;
  v.store = OpenStore(v.path, /*synced=*/true);  // For BM_GetTokenAndOpen1M.
}
BENCHMARK(BM_Vault1MCompactAndReopen)->Unit(benchmark::kSecond)->Iterations(1);

// BM_GetTokenAndOpen at 1M tokens (compacted, reopened): random keys over
// the whole vault, so the block cache holds only a small part of it.
void BM_GetTokenAndOpen1M(benchmark::State& state) {
  VaultFixture& v = Vault1M();
  if (v.store == nullptr) {
    state.SkipWithError("1M vault is closed");
    return;
  }
  uint64_t rng = Mix(static_cast<uint64_t>(state.thread_index()) + 1001);
  for (auto _ : state) {
    if (!GetAndOpen(state, *v.store, KeyFor(NextRandom(rng) % kMillion))) break;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetTokenAndOpen1M)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(1.0);

}  // namespace
}  // namespace wxvault::bench

int main(int argc, char** argv) {
  using wxvault::bench::kChildFlag;
  if (argc == 2 && absl::StartsWith(argv[1], kChildFlag)) {
    return wxvault::bench::ChildMain(argv[1] + std::strlen(kChildFlag));
  }
  bool tabular = false;
  std::string format = "console";
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--benchmark_counters_tabular" || arg == "--benchmark_counters_tabular=true") tabular = true;
    if (absl::StartsWith(arg, "--benchmark_format=")) format = std::string(arg.substr(19));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  using Console = wxvault::bench::BenchReporter<benchmark::ConsoleReporter>;
  using Json = wxvault::bench::BenchReporter<benchmark::JSONReporter>;
  int options = isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_Color : benchmark::ConsoleReporter::OO_None;
  if (tabular) options |= benchmark::ConsoleReporter::OO_Tabular;
  std::unique_ptr<benchmark::BenchmarkReporter> reporter;
  if (format == "json") {
    reporter = std::make_unique<Json>();
  } else if (format == "console") {
    reporter = std::make_unique<Console>(static_cast<benchmark::ConsoleReporter::OutputOptions>(options));
  }
  benchmark::RunSpecifiedBenchmarks(reporter.get());
  benchmark::Shutdown();
  wxvault::bench::ReleaseAll();
  return 0;
}

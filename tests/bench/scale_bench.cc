// scale_bench: DESIGN §7's 1,000,000-token figures measured through the real
// wxvaultd (issue 7). Builds a vault of --tokens tokens with the vault library
// (scale_vault.h), makes --due of them due now with refresh tokens the
// standalone fake WeChat knows, and then, against wxvaultd on a Unix socket:
//   1. start-up: fork/exec until grpc.health.v1.Health/Check answers SERVING,
//      polled every 2 ms (target <= 1 s);
//   2. VmRSS / VmHWM of wxvaultd right after SERVING and after the refresher
//      phase (target <= 256 MiB);
//   3. the refresher working the --due tokens at --refresh_qps (high, so the
//      vault and refresher are measured, not the limiter): from SERVING until
//      the fake has answered --due refresh_token calls and the server's
//      /metrics counts --due worked tokens;
//   4. VaultAdmin.Compact over gRPC, then bytes of the data dir / tokens
//      (target <= 1 KiB);
//   5. for each --qps: --qps_due tokens armed due, wxvaultd restarted with
//      --upstream_qps=Q; the fake's refresh_token call rate over --window_s,
//      starting --skip_s after SERVING and not before the limiter's initial
//      burst (Q calls) is spent, waited for up to --drain_s (ratio measured /
//      configured ~1.0, never above).
// Prints every figure with its target. Not part of ctest; see BENCHMARKS.md.
//
// Usage: scale_bench [--tokens=1000000] [--due=10000] [--refresher_workers=16]
//          [--refresh_qps=100000] [--qps=200,1000 (empty: no phase 5)]
//          [--qps_due=20000] [--window_s=5] [--skip_s=1] [--drain_s=10]
//          [--vault_dir=DIR (or env WXVAULT_SCALE_VAULT_DIR): build the vault
//           there and keep it; reuse it on later runs (valid for a day)]
// Default: the vault is built in a temp dir and removed at exit.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "service/json.h"
#include "tests/bench/bench_records.h"
#include "tests/bench/bench_util.h"
#include "tests/bench/scale_vault.h"
#include "tests/integration/harness.h"
#include "tests/testing/temp_dir.h"

namespace wxvault::bench {
namespace {

using integration::FakeWeChatProcess;
using integration::WxvaultdProcess;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Flags {
  std::string vault_dir;
  uint64_t tokens = 1'000'000;
  size_t due = 10'000;
  size_t qps_due = 20'000;
  int refresher_workers = 16;
  double refresh_qps = 100'000;
  std::vector<double> qps = {200, 1000};
  double window_s = 5;
  double skip_s = 1;
  double drain_s = 10;
};

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  if (const char* env = std::getenv("WXVAULT_SCALE_VAULT_DIR")) flags.vault_dir = env;
  for (int i = 1; i < argc; ++i) {
    auto value = [arg = absl::string_view(argv[i])](absl::string_view name) { return FlagValue(arg, name); };
    if (auto v = value("vault_dir")) flags.vault_dir = std::string(*v);
    if (auto v = value("tokens")) (void)absl::SimpleAtoi(*v, &flags.tokens);
    if (auto v = value("due")) (void)absl::SimpleAtoi(*v, &flags.due);
    if (auto v = value("qps_due")) (void)absl::SimpleAtoi(*v, &flags.qps_due);
    if (auto v = value("refresher_workers")) (void)absl::SimpleAtoi(*v, &flags.refresher_workers);
    if (auto v = value("refresh_qps")) (void)absl::SimpleAtod(*v, &flags.refresh_qps);
    if (auto v = value("window_s")) (void)absl::SimpleAtod(*v, &flags.window_s);
    if (auto v = value("skip_s")) (void)absl::SimpleAtod(*v, &flags.skip_s);
    if (auto v = value("drain_s")) (void)absl::SimpleAtod(*v, &flags.drain_s);
    if (auto v = value("qps")) {
      flags.qps.clear();
      for (absl::string_view q : absl::StrSplit(*v, ',', absl::SkipEmpty())) {
        double d = 0;
        if (absl::SimpleAtod(q, &d) && d > 0) flags.qps.push_back(d);
      }
    }
  }
  return flags;
}

const char* Verdict(bool met) { return met ? "met" : "MISSED"; }

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return absl::StrCat(one, " ", five, " ", fifteen);
}

// Calls `probe` every `period` until it returns true; when it first did, or
// nullopt after `timeout`.
std::optional<SteadyClock::time_point> PollUntil(const std::function<bool()>& probe, milliseconds period,
                                                 milliseconds timeout) {
  const auto give_up = SteadyClock::now() + timeout;
  for (auto next = SteadyClock::now(); SteadyClock::now() < give_up; next += period) {
    if (probe()) return SteadyClock::now();
    std::this_thread::sleep_until(next + period);
  }
  return std::nullopt;
}

// Sum of all samples of metric `name` (any labels) in Prometheus text.
double MetricSum(const std::string& text, const std::string& name) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, name) || line.size() == name.size()) continue;
    if (line[name.size()] != ' ' && line[name.size()] != '{') continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) sum += value;
  }
  return sum;
}

// The samples of `name` as "label=value" words, e.g. the refresher outcomes.
std::string MetricSamples(const std::string& text, const std::string& name) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, name + "{")) continue;
    const size_t quote = line.find('"');
    const size_t end = line.find('"', quote + 1);
    absl::StrAppend(&out, out.empty() ? "" : " ", line.substr(quote + 1, end - quote - 1), "=",
                    line.substr(line.rfind(' ') + 1));
  }
  return out;
}

std::string Scrape(const WxvaultdProcess& server) {
  std::string body;
  return integration::HttpGet(server.metrics_url(), &body) == 200 ? body : std::string();
}

struct Rss {
  double rss_mib = 0;
  double hwm_mib = 0;
};

Rss PrintRss(const char* when, pid_t pid) {
  const Rss rss{ProcStatusKib("VmRSS:", pid) / 1024.0, ProcStatusKib("VmHWM:", pid) / 1024.0};
  std::printf("wxvaultd RSS %s: VmRSS %.1f MiB, VmHWM %.1f MiB (target <= 256 MiB: %s)\n", when, rss.rss_mib,
              rss.hwm_mib, Verdict(rss.hwm_mib <= 256));
  return rss;
}

// Everything a wxvaultd start needs.
struct Setup {
  testing::TempDir dir;
  std::string data_dir;
  std::string key_file = dir.Sub("master.keys");
  std::string secret_file = dir.Sub("app.secret");
  std::string fake_url;
  int refresher_workers = 0;
  int starts = 0;
};

struct Started {
  std::unique_ptr<WxvaultdProcess> server;
  SteadyClock::time_point serving;
  double startup_ms = 0;     // fork/exec until Health/Check said SERVING
  double ready_line_ms = 0;  // fork/exec until "serving on" was read
  double vault_open_ms = -1;  // fork/exec until the "vault open at" log line's time
  double wal_mib = 0;        // write-ahead log in the data dir before the start
  int polls = 0;
};

// MiB of RocksDB write-ahead log (*.log) in `dir`.
double WalMib(const std::string& dir) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".log") bytes += entry.file_size(ec);
  }
  return static_cast<double>(bytes) / (1 << 20);
}

// The time wxvaultd logged that its vault was open, or nullopt.
std::optional<absl::Time> VaultOpenLoggedAt(const std::string& output) {
  for (const service::JsonValue& record : integration::ParseLogLines(output).records) {
    if (!absl::StartsWith(record.Find("msg")->string_value(), "vault open at")) continue;
    absl::Time at;
    std::string error;
    if (absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", record.Find("time")->string_value(), &at, &error)) return at;
  }
  return std::nullopt;
}

// Starts wxvaultd with --upstream_qps=`qps` on a new Unix socket while a
// thread polls Health/Check on it every 2 ms from just before fork/exec.
Started StartServer(Setup& setup, double qps) {
  const std::string listen = absl::StrCat("unix:", setup.dir.Sub(absl::StrCat("wxvaultd-", setup.starts++, ".sock")));
  std::atomic<bool> give_up{false};
  std::optional<SteadyClock::time_point> serving;
  int polls = 0;
  std::thread poller([&] {
    // A new channel per poll, with its own subchannel: no reconnect backoff
    // carried over from the attempts made before the socket existed.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    serving = PollUntil(
        [&] {
          if (give_up) return true;
          ++polls;
          auto health = grpc::health::v1::Health::NewStub(
              grpc::CreateCustomChannel(listen, grpc::InsecureChannelCredentials(), args));
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + milliseconds(100));
          grpc::health::v1::HealthCheckRequest request;
          grpc::health::v1::HealthCheckResponse response;
          return health->Check(&ctx, request, &response).ok() &&
                 response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
        },
        milliseconds(2), std::chrono::seconds(60));
  });
  integration::WxvaultdOptions options;
  options.data_dir = setup.data_dir;
  options.key_file = setup.key_file;
  options.wechat_api_base = setup.fake_url;
  options.listen = listen;
  options.extra_args = {absl::StrCat("--upstream_qps=", qps),
                        absl::StrCat("--refresher_workers=", setup.refresher_workers),
                        "--metrics_listen=127.0.0.1:0",
                        "--log_level=info",  // for the "vault open at" line; the bench writes few others
                        kRefreshTokenTtlFlag,
                        kRenewBeforeFlag};
  const double wal_mib = WalMib(setup.data_dir);
  const auto forked = SteadyClock::now();
  const absl::Time forked_wall = absl::Now();
  absl::StatusOr<std::unique_ptr<WxvaultdProcess>> server = WxvaultdProcess::Start(options, setup.secret_file);
  const auto ready_line = SteadyClock::now();
  if (!server.ok()) give_up = true;
  poller.join();
  if (!server.ok()) Die(absl::StrCat("wxvaultd: ", server.status().ToString()));
  if (give_up || !serving.has_value()) Die("wxvaultd never answered SERVING");
  const std::optional<absl::Time> open_at = VaultOpenLoggedAt((*server)->child().Output());
  const double open_ms = open_at.has_value() ? absl::ToDoubleMilliseconds(*open_at - forked_wall) : -1;
  return Started{*std::move(server), *serving, Ms(*serving - forked), Ms(ready_line - forked), open_ms, wal_mib, polls};
}

void PrintStartup(const Started& s, const char* what) {
  std::printf("start-up to SERVING (%s): %.1f ms (target <= 1000 ms: %s); vault open (logged) at %.0f ms, "
              "with %.1f MiB of WAL to replay; \"serving on\" read at %.1f ms; %d Health/Check polls\n",
              what, s.startup_ms, Verdict(s.startup_ms <= 1000), s.vault_open_ms, s.wal_mib, s.ready_line_ms, s.polls);
}

// CPU of processes other than this one, wxvaultd and the fake since `since`.
void PrintOthers(const CpuSnapshot& since) {
  std::printf("(other processes used %.0f %% of the CPUs meanwhile; load average %s)\n",
              CpuSnapshot::Take().OthersPctSince(since), LoadAverage().c_str());
}

struct Summary {
  double startup_ms = 0;
  Rss serving_rss, refreshed_rss;
  double refresh_s = 0;
  double bytes_per_token = 0;
  std::vector<std::pair<double, double>> qps_ratio;
};

// Phase 3: from SERVING until the fake saw `due` refresh calls and /metrics
// counts `due` tokens worked. Returns the seconds to the latter (0: timeout).
double RefresherPhase(const Flags& flags, FakeWeChatProcess& fake, const Started& s) {
  const int at_serving = fake.CallCount("refresh_token");
  const int due = static_cast<int>(flags.due);
  std::optional<SteadyClock::time_point> calls_done =
      PollUntil([&] { return fake.CallCount("refresh_token") >= due; }, milliseconds(10), std::chrono::seconds(180));
  std::string metrics;
  std::optional<SteadyClock::time_point> worked = PollUntil(
      [&] {
        metrics = Scrape(*s.server);
        return MetricSum(metrics, "wxvault_refresher_outcomes_total") >= flags.due;
      },
      milliseconds(10), std::chrono::seconds(calls_done.has_value() ? 60 : 1));
  if (!calls_done.has_value() || !worked.has_value()) {
    std::printf("refresher: did NOT finish: %d refresh calls, outcomes %s\n", fake.CallCount("refresh_token"),
                MetricSamples(metrics, "wxvault_refresher_outcomes_total").c_str());
    return 0;
  }
  const double calls_s = Ms(*calls_done - s.serving) / 1e3;
  const double worked_s = Ms(*worked - s.serving) / 1e3;
  std::this_thread::sleep_for(milliseconds(500));
  const int settled = fake.CallCount("refresh_token");
  metrics = Scrape(*s.server);
  std::printf("refresh calls already made when SERVING was seen: %d\n", at_serving);
  std::printf("%zu refresh_token calls answered by the fake: %.3f s after SERVING (%.0f calls/s)\n", flags.due,
              calls_s, static_cast<double>(flags.due) / calls_s);
  std::printf("%zu tokens worked per /metrics: %.3f s after SERVING -> %.0f tokens/s (refresh + commit)\n",
              flags.due, worked_s, static_cast<double>(flags.due) / worked_s);
  std::printf("outcomes: %s; refresher storage errors %.0f; backlog %.0f; refresh calls 0.5 s later %d "
              "(%d beyond the due tokens)\n",
              MetricSamples(metrics, "wxvault_refresher_outcomes_total").c_str(),
              MetricSum(metrics, "wxvault_refresher_errors_total"), MetricSum(metrics, "wxvault_refresher_backlog"),
              settled, settled - due);
  return worked_s;
}

// Phase 4: VaultAdmin.Compact over the Unix socket (admin needs no token
// there), then the data dir's size per token.
double CompactPhase(const Flags& flags, const Setup& setup, const Started& s) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(600));
  v1::CompactRequest request;
  v1::CompactResponse response;
  const auto start = SteadyClock::now();
  grpc::Status status = s.server->VaultAdmin()->Compact(&ctx, request, &response);
  if (!status.ok()) Die(absl::StrCat("Compact: ", status.error_message()));
  const double per_token = static_cast<double>(DirBytes(setup.data_dir)) / static_cast<double>(flags.tokens);
  std::printf("VaultAdmin.Compact: %.1f s over gRPC (server says %.1f s); data_size_bytes %.1f -> %.1f MiB\n",
              Ms(SteadyClock::now() - start) / 1e3,
              static_cast<double>(response.elapsed().seconds()) + response.elapsed().nanos() / 1e9,
              static_cast<double>(response.data_size_bytes_before()) / (1 << 20),
              static_cast<double>(response.data_size_bytes_after()) / (1 << 20));
  std::printf("bytes on disk per token after compaction: %.1f B (all files of the data dir / %llu; target <= "
              "1024 B: %s)\n",
              per_token, static_cast<unsigned long long>(flags.tokens), Verdict(per_token <= 1024));
  return per_token;
}

// Phase 5 for one --upstream_qps: the fake's refresh_token call rate over a
// steady window. Returns measured / configured.
double QpsPhase(const Flags& flags, FakeWeChatProcess& fake, const Started& s, double qps) {
  PrintStartup(s, "compacted vault");
  // The bucket starts full (burst = qps): wait until calls have to wait for
  // their slot, i.e. the burst is spent, or the refresher cannot go faster.
  const auto skip_until = s.serving + milliseconds(static_cast<int64_t>(flags.skip_s * 1e3));
  std::optional<SteadyClock::time_point> drained = PollUntil(
      [&] { return MetricSum(Scrape(*s.server), "wxvault_upstream_limiter_waits_total") > 0; }, milliseconds(50),
      milliseconds(static_cast<int64_t>(flags.drain_s * 1e3)));
  std::this_thread::sleep_until(std::max(skip_until, drained.value_or(skip_until)));
  const auto t1 = SteadyClock::now();
  const int c1 = fake.CallCount("refresh_token");
  const double a1 = MetricSum(Scrape(*s.server), "wxvault_upstream_limiter_acquired_total");
  std::this_thread::sleep_until(t1 + milliseconds(static_cast<int64_t>(flags.window_s * 1e3)));
  const auto t2 = SteadyClock::now();
  const int c2 = fake.CallCount("refresh_token");
  const double a2 = MetricSum(Scrape(*s.server), "wxvault_upstream_limiter_acquired_total");
  const double rate = (c2 - c1) / (Ms(t2 - t1) / 1e3);
  const double ratio = rate / qps;
  std::printf("limiter burst spent %s; window %.2f s from %.2f s after SERVING: %d refresh_token calls at the "
              "fake, %.0f limiter slots taken\n",
              drained.has_value() ? absl::StrFormat("%.2f s after SERVING", Ms(*drained - s.serving) / 1e3).c_str()
                                  : absl::StrFormat("never (no call waited within %.0f s)", flags.drain_s).c_str(),
              Ms(t2 - t1) / 1e3, Ms(t1 - s.serving) / 1e3, c2 - c1, a2 - a1);
  std::printf("--upstream_qps=%.0f: measured %.1f calls/s, ratio %.3f (target ~1.0, never above: %s)%s\n", qps, rate,
              ratio, Verdict(ratio >= 0.95 && ratio <= 1.01),
              static_cast<size_t>(c2) >= flags.qps_due ? "  [backlog ran out: raise --qps_due]" : "");
  return ratio;
}

int Run(const Flags& flags) {
  const auto run_start = SteadyClock::now();
  std::printf("scale_bench: %llu tokens, %zu due; %ld CPUs, load average %s\n",
              static_cast<unsigned long long>(flags.tokens), flags.due, sysconf(_SC_NPROCESSORS_ONLN),
              LoadAverage().c_str());
  Setup setup;
  setup.refresher_workers = flags.refresher_workers;
  setup.data_dir = flags.vault_dir.empty() ? setup.dir.Sub("vault") : flags.vault_dir;
  integration::WriteFile(setup.key_file, BenchKeyLine() + "\n");
  integration::WriteFile(setup.secret_file, FakeWeChatProcess::kSecret);
  const std::string app_id = FakeWeChatProcess::kAppId;

  std::printf("\n== Vault at %s\n", setup.data_dir.c_str());
  absl::StatusOr<bool> present = ScaleVaultPresent(setup.data_dir, flags.tokens);
  Check(present.status(), "--vault_dir");
  if (*present) {
    std::printf("reusing the vault built earlier (--vault_dir)\n");
  } else {
    const CpuSnapshot cpu = CpuSnapshot::Take();
    const double s = BuildScaleVault(setup.data_dir, app_id, flags.tokens);
    std::printf("built: %llu tokens in %.1f s (%.0f tokens/s; Commit unsynced, 2 threads)\n",
                static_cast<unsigned long long>(flags.tokens), s, static_cast<double>(flags.tokens) / s);
    PrintOthers(cpu);
  }
  auto fake = FakeWeChatProcess::Start();
  if (!fake.ok()) Die(absl::StrCat("fake WeChat: ", fake.status().ToString()));
  setup.fake_url = (*fake)->base_url();
  auto t = SteadyClock::now();
  const size_t users = std::max(flags.due, flags.qps.empty() ? 0 : flags.qps_due);
  absl::StatusOr<std::vector<FakeGrant>> grants = RegisterWithFake(setup.fake_url, users);
  Check(grants.status(), "register with the fake");
  std::printf("%zu users logged in at the fake (code exchanges) in %.2f s\n", users, Ms(SteadyClock::now() - t) / 1e3);
  t = SteadyClock::now();
  Check(ArmDue(setup.data_dir, app_id, *grants, flags.due), "arm due tokens");
  std::printf("tokens 0..%zu rewritten due now in %.2f s; exactly %zu of %llu due; data dir %.1f MiB\n",
              flags.due - 1, Ms(SteadyClock::now() - t) / 1e3, flags.due,
              static_cast<unsigned long long>(flags.tokens), DirBytes(setup.data_dir) / 1048576.0);

  Summary summary;
  {
    std::printf("\n== 1-2. Start-up and RSS, --upstream_qps=%.0f --refresher_workers=%d\n", flags.refresh_qps,
                flags.refresher_workers);
    (*fake)->Control("reset");
    Started s = StartServer(setup, flags.refresh_qps);
    const CpuSnapshot cpu = CpuSnapshot::Take();
    PrintStartup(s, "fresh vault");
    summary.startup_ms = s.startup_ms;
    summary.serving_rss = PrintRss("right after SERVING", s.server->child().pid());

    std::printf("\n== 3. Refresher: %zu due tokens of %llu\n", flags.due,
                static_cast<unsigned long long>(flags.tokens));
    summary.refresh_s = RefresherPhase(flags, **fake, s);
    summary.refreshed_rss = PrintRss("after the refresher phase", s.server->child().pid());
    PrintOthers(cpu);

    std::printf("\n== 4. Compaction and bytes on disk\n");
    summary.bytes_per_token = CompactPhase(flags, setup, s);
    PrintRss("after compaction", s.server->child().pid());
    if (s.server->Stop() != 0) std::printf("wxvaultd exited non-zero:\n%s\n", s.server->child().Output().c_str());
  }

  for (double qps : flags.qps) {
    std::printf("\n== 5. Sustained refresh calls at --upstream_qps=%.0f (%zu due, window %.1f s)\n", qps,
                flags.qps_due, flags.window_s);
    Check(ArmDue(setup.data_dir, app_id, *grants, flags.qps_due), "re-arm due tokens");
    (*fake)->Control("reset");
    Started s = StartServer(setup, qps);
    const CpuSnapshot cpu = CpuSnapshot::Take();
    summary.qps_ratio.emplace_back(qps, QpsPhase(flags, **fake, s, qps));
    PrintOthers(cpu);
    s.server->Stop();
  }

  std::printf("\n== Summary (DESIGN §7, %llu tokens)\n", static_cast<unsigned long long>(flags.tokens));
  std::printf("start-up to SERVING        %8.1f ms    target <= 1000 ms   %s\n", summary.startup_ms,
              Verdict(summary.startup_ms <= 1000));
  std::printf("VmHWM after SERVING        %8.1f MiB   target <= 256 MiB   %s\n", summary.serving_rss.hwm_mib,
              Verdict(summary.serving_rss.hwm_mib <= 256));
  std::printf("VmHWM after refresher      %8.1f MiB   target <= 256 MiB   %s\n", summary.refreshed_rss.hwm_mib,
              Verdict(summary.refreshed_rss.hwm_mib <= 256));
  std::printf("%zu due tokens refreshed  %8.3f s     %.0f tokens/s\n", flags.due, summary.refresh_s,
              summary.refresh_s > 0 ? static_cast<double>(flags.due) / summary.refresh_s : 0);
  std::printf("bytes on disk per token    %8.1f B     target <= 1024 B    %s\n", summary.bytes_per_token,
              Verdict(summary.bytes_per_token <= 1024));
  for (const auto& [qps, ratio] : summary.qps_ratio) {
    std::printf("refresh calls / qps @%-5.0f %8.3f       target ~1.0, <= 1   %s\n", qps, ratio,
                Verdict(ratio >= 0.95 && ratio <= 1.01));
  }
  std::printf("total run %.0f s; load average at the end %s\n", Ms(SteadyClock::now() - run_start) / 1e3,
              LoadAverage().c_str());
  return 0;
}

}  // namespace
}  // namespace wxvault::bench

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows when piped too
  return wxvault::bench::Run(wxvault::bench::ParseFlags(argc, argv));
}

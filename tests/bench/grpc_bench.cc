// grpc_bench: end-to-end figures of DESIGN §7 against the real wxvaultd.
//
// Brings up the standalone fake WeChat and wxvaultd itself (TCP on loopback,
// a temp data dir), then measures, as ratios inside one run:
//   1. GetAccessToken on a warm token vs grpc.health.v1.Health/Check on the
//      same server, same closed-loop load, alternated round by round
//      (target: ratio >= 0.8);
//   2. Exchange latency p50/p99 vs a direct HTTP call of the fake's
//      /sns/oauth2/access_token (target: added p50 <= 0.3 ms);
//   3. durable Exchange throughput with concurrent callers (target >= 3,000/s).
// Prints every figure and ratio. Not part of ctest; see BENCHMARKS.md.
//
// Usage: grpc_bench [--rounds=N] [--round_seconds=S] [--concurrency=C]
//                   [--exchanges=N] [--exchange_concurrency=C]
//                   [--latency_samples=N] [--worker_threads=N (wxvaultd's)]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "httplib.h"
#include "tests/bench/bench_fake_client.h"
#include "tests/bench/bench_util.h"
#include "tests/integration/harness.h"
#include "tests/testing/temp_dir.h"

namespace wxvault::bench {
namespace {

using integration::FakeWeChatProcess;
using integration::WxvaultdProcess;

struct Flags {
  int rounds = 3;
  double round_seconds = 3;
  int concurrency = 32;
  int exchanges = 2000;
  int exchange_concurrency = 32;
  int latency_samples = 300;
  int worker_threads = 8;  // wxvaultd's own default (the test harness runs 4)
};

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    auto value = [arg](absl::string_view name) { return FlagValue(arg, name); };
    if (auto v = value("rounds")) (void)absl::SimpleAtoi(*v, &flags.rounds);
    if (auto v = value("round_seconds")) (void)absl::SimpleAtod(*v, &flags.round_seconds);
    if (auto v = value("concurrency")) (void)absl::SimpleAtoi(*v, &flags.concurrency);
    if (auto v = value("exchanges")) (void)absl::SimpleAtoi(*v, &flags.exchanges);
    if (auto v = value("exchange_concurrency")) (void)absl::SimpleAtoi(*v, &flags.exchange_concurrency);
    if (auto v = value("latency_samples")) (void)absl::SimpleAtoi(*v, &flags.latency_samples);
    if (auto v = value("worker_threads")) (void)absl::SimpleAtoi(*v, &flags.worker_threads);
  }
  return flags;
}

// A closed-loop load: `concurrency` calls always outstanding until the
// deadline; returns completed calls (and counts failures).
struct LoadResult {
  int64_t ok = 0;
  int64_t failed = 0;
  double seconds = 0;
  double per_second() const { return seconds > 0 ? ok / seconds : 0; }
};

// issue(on_done) starts one async call and returns true, or returns false
// when there is nothing more to issue; on_done(ok) runs when a call completes.
template <typename IssueFn>
LoadResult ClosedLoop(int concurrency, absl::Duration duration, IssueFn issue) {
  absl::Mutex mu;
  int outstanding = 0;
  std::atomic<int64_t> ok{0}, failed{0};
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  auto slot_done = [&] {
    absl::MutexLock lock(&mu);
    --outstanding;
  };
  std::function<void()> launch;
  launch = [&] {
    const bool started = issue([&](bool success) {
      (success ? ok : failed).fetch_add(1, std::memory_order_relaxed);
      if (absl::Now() < end) {
        launch();
      } else {
        slot_done();
      }
    });
    if (!started) slot_done();
  };
  {
    absl::MutexLock lock(&mu);
    outstanding = concurrency;
  }
  for (int i = 0; i < concurrency; ++i) launch();
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(+[](int* n) { return *n == 0; }, &outstanding));
  LoadResult result;
  result.ok = ok.load();
  result.failed = failed.load();
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(p * (values.size() - 1) + 0.5));
  return values[index];
}

// Durations of `samples` appends of 1 KiB to a new file at `path`, each
// followed by fdatasync: what a synced WAL write costs on this filesystem.
std::vector<double> SyncedAppendMillis(const std::string& path, int samples) {
  std::vector<double> ms;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ms;
  const std::string block(1024, 'w');
  for (int i = 0; i < samples; ++i) {
    const absl::Time start = absl::Now();
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size()) || ::fdatasync(fd) != 0) break;
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  ::close(fd);
  return ms;
}

int Run(const Flags& flags) {
  testing::TempDir dir;
  const std::string key_file = dir.Sub("master.keys");
  const std::string secret_file = dir.Sub("app.secret");
  integration::WriteFile(key_file, integration::NewKeyLine("bench") + "\n");
  integration::WriteFile(secret_file, FakeWeChatProcess::kSecret);
  auto fake = FakeWeChatProcess::Start();
  if (!fake.ok()) {
    std::fprintf(stderr, "grpc_bench: fake WeChat: %s\n", fake.status().ToString().c_str());
    return 1;
  }
  integration::WxvaultdOptions options;
  options.data_dir = dir.Sub("vault");
  options.key_file = key_file;
  options.wechat_api_base = (*fake)->base_url();
  options.listen = "127.0.0.1:0";
  options.extra_args = {"--upstream_qps=100000", "--log_level=warning"};
  // After the harness's --worker_threads=4: the last one counts.
  options.extra_args.push_back(absl::StrCat("--worker_threads=", flags.worker_threads));
  auto server = WxvaultdProcess::Start(options, secret_file);
  if (!server.ok()) {
    std::fprintf(stderr, "grpc_bench: wxvaultd: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("wxvaultd at %s, fake WeChat at %s\n", (*server)->address().c_str(), (*fake)->base_url().c_str());
  auto vault = (*server)->TokenVault();
  auto health = grpc::health::v1::Health::NewStub((*server)->channel());
  httplib::Client control((*fake)->base_url());
  control.set_keep_alive(true);

  // A warm token.
  {
    v1::ExchangeRequest request;
    request.set_code(MintCode(control, "benchuser"));
    v1::ExchangeResponse response;
    grpc::ClientContext ctx;
    grpc::Status status = vault->Exchange(&ctx, request, &response);
    if (!status.ok()) {
      std::fprintf(stderr, "grpc_bench: Exchange: %s\n", status.error_message().c_str());
      return 1;
    }
  }

  // 1. GetAccessToken vs Health/Check, alternated.
  const absl::Duration round = absl::Seconds(flags.round_seconds);
  v1::GetAccessTokenRequest token_request;
  token_request.set_openid("benchuser");
  grpc::health::v1::HealthCheckRequest health_request;
  LoadResult health_total, token_total;
  std::printf("\n== GetAccessToken vs Health/Check: %d rounds x %.1f s, %d calls in flight\n", flags.rounds,
              flags.round_seconds, flags.concurrency);
  for (int r = 0; r < flags.rounds; ++r) {
    LoadResult h = ClosedLoop(flags.concurrency, round, [&](std::function<void(bool)> done) -> bool {
      auto* ctx = new grpc::ClientContext();
      auto* response = new grpc::health::v1::HealthCheckResponse();
      health->async()->Check(ctx, &health_request, response, [ctx, response, done](grpc::Status s) {
        const bool ok = s.ok() && response->status() == grpc::health::v1::HealthCheckResponse::SERVING;
        delete ctx;
        delete response;
        done(ok);
      });
      return true;
    });
    LoadResult t = ClosedLoop(flags.concurrency, round, [&](std::function<void(bool)> done) -> bool {
      auto* ctx = new grpc::ClientContext();
      auto* response = new v1::GetAccessTokenResponse();
      vault->async()->GetAccessToken(ctx, &token_request, response, [ctx, response, done](grpc::Status s) {
        const bool ok = s.ok() && !response->access_token().empty();
        delete ctx;
        delete response;
        done(ok);
      });
      return true;
    });
    std::printf("round %d: Health/Check %.0f/s (%lld failed), GetAccessToken %.0f/s (%lld failed), ratio %.3f\n",
                r + 1, h.per_second(), static_cast<long long>(h.failed), t.per_second(),
                static_cast<long long>(t.failed), h.per_second() > 0 ? t.per_second() / h.per_second() : 0);
    health_total.ok += h.ok;
    health_total.seconds += h.seconds;
    token_total.ok += t.ok;
    token_total.seconds += t.seconds;
  }
  const double ratio = token_total.per_second() / std::max(1.0, health_total.per_second());
  std::printf("TOTAL: Health/Check %.0f/s, GetAccessToken %.0f/s, ratio %.3f (target >= 0.8: %s)\n",
              health_total.per_second(), token_total.per_second(), ratio, ratio >= 0.8 ? "met" : "MISSED");

  // 2. Exchange latency vs a direct call of the fake.
  std::printf("\n== Exchange latency vs direct fake call: %d sequential samples each\n", flags.latency_samples);
  std::vector<double> direct_ms, exchange_ms;
  httplib::Client direct((*fake)->base_url());
  direct.set_keep_alive(true);
  for (int i = 0; i < flags.latency_samples; ++i) {
    const std::string path = DirectExchangePath(MintCode(control, absl::StrCat("direct", i)));
    const absl::Time start = absl::Now();
    auto response = direct.Get(path.c_str());
    direct_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    if (!response || response->status != 200) std::fprintf(stderr, "direct call failed\n");
  }
  for (int i = 0; i < flags.latency_samples; ++i) {
    v1::ExchangeRequest request;
    request.set_code(MintCode(control, absl::StrCat("lat", i)));
    v1::ExchangeResponse response;
    grpc::ClientContext ctx;
    const absl::Time start = absl::Now();
    grpc::Status status = vault->Exchange(&ctx, request, &response);
    exchange_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    if (!status.ok()) std::fprintf(stderr, "Exchange failed: %s\n", status.error_message().c_str());
  }
  const double added_p50 = Percentile(exchange_ms, 0.5) - Percentile(direct_ms, 0.5);
  std::printf("direct fake call: p50 %.3f ms, p99 %.3f ms\n", Percentile(direct_ms, 0.5), Percentile(direct_ms, 0.99));
  std::printf("Exchange via wxvaultd: p50 %.3f ms, p99 %.3f ms\n", Percentile(exchange_ms, 0.5),
              Percentile(exchange_ms, 0.99));
  std::printf("added latency p50 %.3f ms (target <= 0.3 ms: %s), p99 %.3f ms\n", added_p50,
              added_p50 <= 0.3 ? "met" : "MISSED", Percentile(exchange_ms, 0.99) - Percentile(direct_ms, 0.99));
  // The floor under the added latency: what any durable unary RPC costs
  // here, measured the same way, sequentially.
  std::vector<double> health_ms;
  for (int i = 0; i < flags.latency_samples; ++i) {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckResponse response;
    const absl::Time start = absl::Now();
    grpc::Status status = health->Check(&ctx, health_request, &response);
    health_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    if (!status.ok()) std::fprintf(stderr, "Health/Check failed: %s\n", status.error_message().c_str());
  }
  const std::vector<double> sync_ms = SyncedAppendMillis(dir.Sub("sync-floor"), flags.latency_samples);
  const double floor_p50 = Percentile(health_ms, 0.5) + Percentile(sync_ms, 0.5);
  std::printf("floor: Health/Check round trip p50 %.3f ms + 1 KiB append+fdatasync p50 %.3f ms = %.3f ms\n",
              Percentile(health_ms, 0.5), Percentile(sync_ms, 0.5), floor_p50);
  std::printf("added latency above that floor p50 %.3f ms (%.2fx the floor)\n", added_p50 - floor_p50,
              floor_p50 > 0 ? added_p50 / floor_p50 : 0);

  // 3. Durable Exchange throughput.
  std::printf("\n== Durable Exchange throughput: %d exchanges, %d in flight\n", flags.exchanges,
              flags.exchange_concurrency);
  std::vector<std::string> codes;
  codes.reserve(flags.exchanges);
  for (int i = 0; i < flags.exchanges; ++i) codes.push_back(MintCode(control, absl::StrCat("tput", i)));
  std::atomic<int> next{0};
  LoadResult exchanges = ClosedLoop(flags.exchange_concurrency, absl::Hours(1), [&](std::function<void(bool)> done) -> bool {
    const int i = next.fetch_add(1);
    if (i >= static_cast<int>(codes.size())) return false;  // out of codes: this slot is done
    auto* ctx = new grpc::ClientContext();
    auto* request = new v1::ExchangeRequest();
    auto* response = new v1::ExchangeResponse();
    request->set_code(codes[i]);
    vault->async()->Exchange(ctx, request, response, [ctx, request, response, done](grpc::Status s) {
      const bool ok = s.ok();
      delete ctx;
      delete request;
      delete response;
      done(ok);
    });
    return true;
  });
  const int64_t made_failed = exchanges.failed;
  std::printf("Exchange: %lld ok, %lld failed in %.2f s: %.0f durable exchanges/s (target >= 3000: %s)\n",
              static_cast<long long>(exchanges.ok), static_cast<long long>(std::max<int64_t>(made_failed, 0)),
              exchanges.seconds, exchanges.per_second(), exchanges.per_second() >= 3000 ? "met" : "MISSED");
  std::printf("fake WeChat access_token calls: %d\n", (*fake)->CallCount("access_token"));
  return (*server)->Stop() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace wxvault::bench

int main(int argc, char** argv) { return wxvault::bench::Run(wxvault::bench::ParseFlags(argc, argv)); }

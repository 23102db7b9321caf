// The metrics registry and its Prometheus text format (service/metrics.h),
// wxvaultd's instruments (service/server_metrics.h), the /metrics HTTP
// endpoint (service/metrics_http.h) and request ids (service/rpc_call.h).
#include <httplib.h>

#include <cmath>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/error_reason.h"
#include "service/metrics.h"
#include "service/metrics_http.h"
#include "service/rpc_call.h"
#include "service/server_metrics.h"
#include "service/wechat_errors.h"
#include "tests/testing/prometheus_text.h"
#include "vault/clock.h"
#include "wxvault/v1/token_vault.pb.h"

namespace wxvault::service {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using ::wxvault::testing::FirstMalformedLine;

MetricSample Sample(std::vector<std::string> label_values, double value) {
  MetricSample sample;
  sample.label_values = std::move(label_values);
  sample.value = value;
  return sample;
}

TEST(RenderMetricsTextTest, ExactTextForEachType) {
  std::vector<MetricFamilySnapshot> families(3);
  families[0].name = "t_requests_total";
  families[0].help = "Requests; help with a \\ and a\nnewline.";
  families[0].type = MetricType::kCounter;
  families[0].label_names = {"method", "code"};
  families[0].samples.push_back(Sample({"/a.B/C", "OK"}, 3));
  families[0].samples.push_back(Sample({"quote\" back\\slash\nnl", "NOT_FOUND"}, 0.25));
  families[1].name = "t_size_bytes";
  families[1].help = "Size.";
  families[1].type = MetricType::kGauge;
  families[1].samples.push_back(Sample({}, 1e21));
  families[2].name = "t_latency_seconds";
  families[2].help = "Latency.";
  families[2].type = MetricType::kHistogram;
  families[2].label_names = {"method"};
  families[2].bucket_bounds = {0.005, 0.1, 1};
  MetricSample histogram;
  histogram.label_values = {"m"};
  histogram.bucket_counts = {2, 0, 1, 4};
  histogram.sum = 9.5;
  families[2].samples.push_back(histogram);
  const std::string text = RenderMetricsText(families);
  EXPECT_EQ(text,
            "# HELP t_requests_total Requests; help with a \\\\ and a\\nnewline.\n"
            "# TYPE t_requests_total counter\n"
            "t_requests_total{method=\"/a.B/C\",code=\"OK\"} 3\n"
            "t_requests_total{method=\"quote\\\" back\\\\slash\\nnl\",code=\"NOT_FOUND\"} 0.25\n"
            "# HELP t_size_bytes Size.\n"
            "# TYPE t_size_bytes gauge\n"
            "t_size_bytes 1e+21\n"
            "# HELP t_latency_seconds Latency.\n"
            "# TYPE t_latency_seconds histogram\n"
            "t_latency_seconds_bucket{method=\"m\",le=\"0.005\"} 2\n"
            "t_latency_seconds_bucket{method=\"m\",le=\"0.1\"} 2\n"
            "t_latency_seconds_bucket{method=\"m\",le=\"1\"} 3\n"
            "t_latency_seconds_bucket{method=\"m\",le=\"+Inf\"} 7\n"
            "t_latency_seconds_sum{method=\"m\"} 9.5\n"
            "t_latency_seconds_count{method=\"m\"} 7\n");
  EXPECT_EQ(FirstMalformedLine(text), "");
}

TEST(RenderMetricsTextTest, SpecialValuesAndUnlabeledHistograms) {
  MetricFamilySnapshot gauge;
  gauge.name = "g";
  gauge.help = "h";
  for (double v : {std::nan(""), HUGE_VAL, -HUGE_VAL, 0.1, -2.0, 1e-7}) gauge.samples.push_back(Sample({}, v));
  MetricFamilySnapshot histogram;
  histogram.name = "h";
  histogram.help = "h";
  histogram.type = MetricType::kHistogram;
  histogram.bucket_bounds = {1};
  histogram.samples.push_back({{}, 0, {1, 1}, 3});
  const std::string text = RenderMetricsText({gauge, histogram});
  EXPECT_THAT(text, HasSubstr("g NaN\ng +Inf\ng -Inf\ng 0.1\ng -2\ng 1e-07\n"));
  EXPECT_THAT(text, HasSubstr("h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"));
  EXPECT_EQ(FirstMalformedLine(text), "");
}

TEST(MetricsRegistryTest, SeriesAreSharedSortedAndBounded) {
  MetricsRegistry registry;
  CounterFamily* calls = registry.AddCounter("x_calls_total", "Calls.", {"kind"});
  Counter* b = calls->Get({"b"});
  EXPECT_EQ(calls->Get({"b"}), b);
  b->Increment();
  b->Increment(2);
  b->Increment(-5);  // ignored
  calls->Get({"a"})->Increment();
  calls->Get({"too", "many"})->Increment();  // not exported
  GaugeFamily* gauge = registry.AddGauge("x_level", "Level.");
  gauge->Get({})->Set(7);
  gauge->Get({})->Add(-2);
  EXPECT_EQ(registry.RenderText(),
            "# HELP x_calls_total Calls.\n# TYPE x_calls_total counter\n"
            "x_calls_total{kind=\"a\"} 1\nx_calls_total{kind=\"b\"} 3\n"
            "# HELP x_level Level.\n# TYPE x_level gauge\nx_level 5\n");
  for (size_t i = 0; i < CounterFamily::kMaxSeriesPerFamily + 10; ++i) {
    calls->Get({std::to_string(i)})->Increment();
  }
  const std::string text = registry.RenderText();
  EXPECT_THAT(text, HasSubstr("x_calls_total{kind=\"997\"} 1"));
  EXPECT_THAT(text, Not(HasSubstr("x_calls_total{kind=\"998\"}")));
}

TEST(MetricsRegistryTest, HistogramBucketsAreUpperBoundsInclusive) {
  MetricsRegistry registry;
  HistogramFamily* family = registry.AddHistogram("x_seconds", "S.", {}, {0.1, 1});
  Histogram* histogram = family->Get({});
  for (double v : {0.05, 0.1, 0.5, 1.0, 7.0}) histogram->Observe(v);
  histogram->ObserveDuration(absl::Milliseconds(100));
  EXPECT_EQ(histogram->BucketCounts(), (std::vector<uint64_t>{3, 2, 1}));
  EXPECT_EQ(histogram->Count(), 6u);
  EXPECT_DOUBLE_EQ(histogram->Sum(), 8.75);
  const std::string text = registry.RenderText();
  EXPECT_THAT(text, HasSubstr("x_seconds_bucket{le=\"0.1\"} 3\nx_seconds_bucket{le=\"1\"} 5\n"
                              "x_seconds_bucket{le=\"+Inf\"} 6\nx_seconds_sum 8.75\nx_seconds_count 6\n"));
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry registry;
  Counter* counter = registry.AddCounter("x_total", "X.")->Get({});
  Histogram* histogram = registry.AddHistogram("x_seconds", "S.", {})->Get({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        counter->Increment();
        histogram->Observe(0.25);
      }
    });
  }
  std::thread scraper([&] {
    for (int i = 0; i < 20; ++i) EXPECT_EQ(FirstMalformedLine(registry.RenderText()), "");
  });
  for (std::thread& thread : threads) thread.join();
  scraper.join();
  EXPECT_EQ(counter->Value(), 80000);
  EXPECT_EQ(histogram->Count(), 80000u);
  EXPECT_DOUBLE_EQ(histogram->Sum(), 20000);
}

TEST(MetricsRegistryTest, CollectorsRenderAtTheirPosition) {
  MetricsRegistry registry;
  registry.AddGauge("first", "1.")->Get({})->Set(1);
  int scrapes = 0;
  registry.AddCollector([&scrapes](std::vector<MetricFamilySnapshot>* out) {
    MetricFamilySnapshot& family = out->emplace_back();
    family.name = "collected";
    family.help = "C.";
    family.label_names = {"state"};
    family.samples.push_back(Sample({"active"}, static_cast<double>(++scrapes)));
  });
  registry.AddGauge("last", "3.")->Get({})->Set(3);
  EXPECT_EQ(registry.RenderText(),
            "# HELP first 1.\n# TYPE first gauge\nfirst 1\n"
            "# HELP collected C.\n# TYPE collected gauge\ncollected{state=\"active\"} 1\n"
            "# HELP last 3.\n# TYPE last gauge\nlast 3\n");
  EXPECT_THAT(registry.RenderText(), HasSubstr("collected{state=\"active\"} 2\n"));
}

TEST(MetricsRegistryTest, NameValidation) {
  EXPECT_TRUE(IsValidMetricName("wxvault_rpc_total"));
  EXPECT_TRUE(IsValidMetricName("a:b_c9"));
  EXPECT_FALSE(IsValidMetricName("9abc"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_TRUE(IsValidMetricName("key_id", /*label=*/true));
  EXPECT_FALSE(IsValidMetricName("a:b", /*label=*/true));
}

TEST(ServerMetricsTest, RpcMetricsCountKnownMethodsOnly) {
  MetricsRegistry registry;
  RpcMetrics rpc(&registry, {wxvault::v1::ExchangeRequest::descriptor()->file()->FindServiceByName("TokenVault"),
                             nullptr});
  rpc.Record("/wxvault.v1.TokenVault/Exchange", absl::StatusCode::kOk, absl::Milliseconds(3));
  rpc.Record("/wxvault.v1.TokenVault/Exchange", absl::StatusCode::kOk, absl::Milliseconds(30));
  rpc.Record("/wxvault.v1.TokenVault/Exchange", absl::StatusCode::kInvalidArgument, absl::Milliseconds(1));
  rpc.Record("/wxvault.v1.TokenVault/WatchEvents", absl::StatusCode::kCancelled, absl::nullopt);
  rpc.Record("/attacker.Chosen/Name", absl::StatusCode::kOk, absl::Milliseconds(1));
  const std::string text = registry.RenderText();
  EXPECT_THAT(text, HasSubstr("wxvault_rpc_total{method=\"/wxvault.v1.TokenVault/Exchange\",code=\"OK\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_rpc_total{method=\"/wxvault.v1.TokenVault/Exchange\","
                              "code=\"INVALID_ARGUMENT\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_rpc_total{method=\"/wxvault.v1.TokenVault/WatchEvents\","
                              "code=\"CANCELLED\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_rpc_duration_seconds_count{method=\"/wxvault.v1.TokenVault/Exchange\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_rpc_duration_seconds_bucket{method=\"/wxvault.v1.TokenVault/Exchange\","
                              "le=\"0.005\"} 2\n"));
  EXPECT_THAT(text, Not(HasSubstr("duration_seconds_count{method=\"/wxvault.v1.TokenVault/WatchEvents\"}")));
  EXPECT_THAT(text, Not(HasSubstr("attacker")));
  EXPECT_EQ(FirstMalformedLine(text), "");
}

TEST(ServerMetricsTest, UpstreamOutcomeClasses) {
  const absl::Time now = absl::UnixEpoch();
  auto classify = [&](int errcode) {
    UpstreamOutcome outcome = ClassifyUpstreamOutcome(WeChatErrorStatus(errcode, "errmsg rid: 1", "/sns/auth", now));
    return std::string(outcome.outcome_class) + "/" + outcome.errcode;
  };
  EXPECT_EQ(classify(40029), "invalid_code/40029");
  EXPECT_EQ(classify(40163), "code_used/40163");
  EXPECT_EQ(classify(42002), "reauth/42002");
  EXPECT_EQ(classify(45011), "rate_limited/45011");
  EXPECT_EQ(classify(45009), "rate_limited/45009");
  EXPECT_EQ(classify(-1), "unavailable/-1");
  EXPECT_EQ(classify(40125), "app_misconfigured/40125");
  EXPECT_EQ(classify(41008), "bad_request/41008");
  EXPECT_EQ(classify(99999), "unknown_errcode/other");
  EXPECT_EQ(ClassifyUpstreamOutcome(absl::OkStatus()).outcome_class, "ok");
  EXPECT_EQ(ClassifyUpstreamOutcome(MakeError(absl::StatusCode::kUnavailable, "HTTP 502", reason::kUpstreamUnavailable))
                .outcome_class,
            "unavailable");
  EXPECT_EQ(ClassifyUpstreamOutcome(MakeError(absl::StatusCode::kUnavailable, "HTTP 404", reason::kUpstreamError))
                .outcome_class,
            "unavailable");
  EXPECT_EQ(ClassifyUpstreamOutcome(absl::InternalError("x")).outcome_class, "upstream_error");
  // Every class name is a valid label value without free text.
  for (const WeChatErrorInfo& info : KnownWeChatErrors()) {
    EXPECT_TRUE(IsValidMetricName(WeChatErrorClassName(info.error_class), /*label=*/true));
  }
}

TEST(ServerMetricsTest, UpstreamAttemptsAndLimiterCollectors) {
  FakeClock clock;
  RateLimiter limiter(RateLimiterOptions{1, 1}, &clock, RealSleeper::Get());
  ServerMetrics metrics({});
  metrics.AddCollectors({nullptr, nullptr, nullptr, &limiter, nullptr, &clock, absl::FromUnixSeconds(1700000000),
                         "1.2.3"});
  metrics.upstream()->OnAttempt(WeChatEndpoint::kExchangeCode, absl::OkStatus(), absl::Milliseconds(2));
  metrics.upstream()->OnAttempt(
      WeChatEndpoint::kExchangeCode,
      WeChatErrorStatus(45011, "api minute-quota reach limit", "/sns/oauth2/access_token", clock.Now()),
      absl::Milliseconds(2));
  ASSERT_TRUE(limiter.Acquire(clock.Now()).ok());
  EXPECT_FALSE(limiter.Acquire(clock.Now()).ok());  // no slot before the deadline
  limiter.PauseEndpoint("/sns/auth", clock.Now() + absl::Seconds(60));
  EXPECT_FALSE(limiter.CheckNotPaused("/sns/auth").ok());
  const std::string text = metrics.registry()->RenderText();
  EXPECT_THAT(text, HasSubstr("wxvault_upstream_calls_total{endpoint=\"/sns/oauth2/access_token\",class=\"ok\","
                              "wechat_errcode=\"\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_upstream_calls_total{endpoint=\"/sns/oauth2/access_token\","
                              "class=\"rate_limited\",wechat_errcode=\"45011\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_upstream_duration_seconds_count{endpoint=\"/sns/oauth2/access_token\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_upstream_duration_seconds_count{endpoint=\"/sns/userinfo\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_upstream_limiter_acquired_total 1\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_upstream_limiter_rejected_total{reason=\"deadline\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_upstream_limiter_rejected_total{reason=\"paused\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_upstream_paused{endpoint=\"/sns/auth\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_upstream_paused{endpoint=\"/sns/userinfo\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_process_start_time_seconds 1700000000\n"));
  EXPECT_THAT(text, HasSubstr("wxvault_build_info{version=\"1.2.3\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("minute-quota")));  // never errmsg
  EXPECT_EQ(FirstMalformedLine(text), "");
}

TEST(MetricsHttpServerTest, ServesMetricsAnd404Otherwise) {
  MetricsRegistry registry;
  registry.AddCounter("x_total", "X.")->Get({})->Increment(5);
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server = MetricsHttpServer::Start("127.0.0.1:0", &registry);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  ASSERT_THAT(address, ::testing::StartsWith("127.0.0.1:"));
  EXPECT_EQ((*server)->url(), "http://" + address + "/metrics");
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  ASSERT_GT(port, 0);
  httplib::Client client("127.0.0.1", port);
  httplib::Result metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(metrics->body, "# HELP x_total X.\n# TYPE x_total counter\nx_total 5\n");
  httplib::Result other = client.Get("/");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  (*server)->Stop();
  (*server)->Stop();  // idempotent
  httplib::Client after("127.0.0.1", port);
  after.set_connection_timeout(1, 0);
  EXPECT_FALSE(after.Get("/metrics"));
}

TEST(MetricsHttpServerTest, BadAddressesAreRefusedNamingTheFlag) {
  MetricsRegistry registry;
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> bad = MetricsHttpServer::Start("nonsense", &registry);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("--metrics_listen"));
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> first = MetricsHttpServer::Start("127.0.0.1:0", &registry);
  ASSERT_TRUE(first.ok());
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> taken =
      MetricsHttpServer::Start((*first)->address(), &registry);
  ASSERT_FALSE(taken.ok());
  EXPECT_TRUE(absl::IsUnavailable(taken.status())) << taken.status();
}

TEST(RequestIdTest, ValidationAndFreshIds) {
  EXPECT_TRUE(IsValidRequestId("abc-DEF_123.x"));
  EXPECT_TRUE(IsValidRequestId(std::string(64, 'a')));
  EXPECT_FALSE(IsValidRequestId(std::string(65, 'a')));
  EXPECT_FALSE(IsValidRequestId(""));
  EXPECT_FALSE(IsValidRequestId("has space"));
  EXPECT_FALSE(IsValidRequestId("quote\""));
  EXPECT_FALSE(IsValidRequestId("new\nline"));
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewRequestId();
    ASSERT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{32}"))) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

}  // namespace
}  // namespace wxvault::service

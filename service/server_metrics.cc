#include "service/server_metrics.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/error_reason.h"
#include "service/token_service.h"
#include "service/wechat_errors.h"
#include "service/wechat_response.h"

namespace wxvault::service {
namespace {

constexpr WeChatEndpoint kEndpoints[] = {WeChatEndpoint::kExchangeCode, WeChatEndpoint::kRefreshToken,
                                         WeChatEndpoint::kAuth, WeChatEndpoint::kUserInfo};

// The series in `slot`, fetched from `family` on first use.
template <typename Series, typename Family>
Series* Lazy(std::atomic<Series*>* slot, Family* family, std::initializer_list<absl::string_view> labels) {
  Series* series = slot->load(std::memory_order_acquire);
  if (series == nullptr) {
    series = family->Get(labels);  // the same pointer for the same labels
    slot->store(series, std::memory_order_release);
  }
  return series;
}

MetricFamilySnapshot& NewFamily(std::vector<MetricFamilySnapshot>* out, std::string name, std::string help,
                                MetricType type, std::vector<std::string> label_names = {}) {
  MetricFamilySnapshot& family = out->emplace_back();
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  family.label_names = std::move(label_names);
  return family;
}

void AddSample(MetricFamilySnapshot* family, std::vector<std::string> label_values, double value) {
  MetricSample& sample = family->samples.emplace_back();
  sample.label_values = std::move(label_values);
  sample.value = value;
}

// One family with a single unlabeled sample.
void AddScalar(std::vector<MetricFamilySnapshot>* out, std::string name, std::string help, MetricType type,
               double value) {
  AddSample(&NewFamily(out, std::move(name), std::move(help), type), {}, value);
}

void CollectStore(const MetricsSources& sources, std::vector<MetricFamilySnapshot>* out) {
  absl::StatusOr<vault::StoreStats> stats = sources.store->Stats();
  if (!stats.ok()) return;  // the scrape goes on without these families
  MetricFamilySnapshot& tokens =
      NewFamily(out, "wxvault_tokens", "Token records in the vault by state.", MetricType::kGauge, {"state"});
  const std::pair<vault::RecordState, const char*> states[] = {{vault::RECORD_STATE_ACTIVE, "active"},
                                                               {vault::RECORD_STATE_REAUTH_REQUIRED, "reauth_required"},
                                                               {vault::RECORD_STATE_REVOKED, "revoked"}};
  for (const auto& [state, name] : states) {
    auto it = stats->tokens_by_state.find(state);
    AddSample(&tokens, {name}, it == stats->tokens_by_state.end() ? 0 : static_cast<double>(it->second));
  }
  std::map<std::string, int64_t> by_key = stats->sealed_by_key;
  if (sources.keyring != nullptr) {
    for (const std::string& key_id : sources.keyring->key_ids()) by_key.emplace(key_id, 0);
  }
  MetricFamilySnapshot& sealed =
      NewFamily(out, "wxvault_sealed_payloads",
                "Sealed payloads (token secrets and profiles) by the key id that sealed them.", MetricType::kGauge,
                {"key_id"});
  for (const auto& [key_id, count] : by_key) AddSample(&sealed, {key_id}, static_cast<double>(count));
  AddScalar(out, "wxvault_vault_data_bytes", "Size of the RocksDB vault: live files on disk plus memtables.",
            MetricType::kGauge, static_cast<double>(stats->data_size_bytes));
  AddScalar(out, "wxvault_events_newest_sequence", "Sequence number of the newest event in the event log.",
            MetricType::kGauge, static_cast<double>(stats->last_event_sequence));
  AddScalar(out, "wxvault_events_oldest_sequence",
            "Sequence number of the oldest retained event (0 when the log is empty).", MetricType::kGauge,
            static_cast<double>(stats->first_event_sequence));
}

void CollectRefresher(const MetricsSources& sources, std::vector<MetricFamilySnapshot>* out) {
  const RefresherStatus status = sources.refresher->Status();
  AddScalar(out, "wxvault_refresher_backlog",
            "Schedule entries due now and not yet worked (counted up to 10000).", MetricType::kGauge,
            static_cast<double>(status.backlog));
  AddScalar(out, "wxvault_refresher_in_flight", "Tokens the refresher is working on right now.", MetricType::kGauge,
            static_cast<double>(status.in_flight));
  const double overdue = status.oldest_overdue_at_ms.has_value()
                             ? std::max<double>(0, absl::ToDoubleSeconds(sources.clock->Now() -
                                                                         absl::FromUnixMillis(
                                                                             *status.oldest_overdue_at_ms)))
                             : 0;
  AddScalar(out, "wxvault_refresher_oldest_overdue_seconds",
            "How long the oldest due schedule entry has been waiting (0 when none is due).", MetricType::kGauge,
            overdue);
  MetricFamilySnapshot& outcomes =
      NewFamily(out, "wxvault_refresher_outcomes_total", "Scheduled tokens worked by the refresher, by outcome.",
                MetricType::kCounter, {"outcome"});
  for (const auto& [outcome, count] : status.outcomes) {
    AddSample(&outcomes, {std::string(ScheduledOutcomeName(outcome))}, static_cast<double>(count));
  }
  AddScalar(out, "wxvault_refresher_passes_total", "Refresher passes over the due schedule.", MetricType::kCounter,
            static_cast<double>(status.passes));
  AddScalar(out, "wxvault_refresher_errors_total", "Storage errors met by the refresher.", MetricType::kCounter,
            static_cast<double>(status.errors));
}

void CollectLimiter(const MetricsSources& sources, std::vector<MetricFamilySnapshot>* out) {
  const RateLimiterStats stats = sources.limiter->Stats();
  AddScalar(out, "wxvault_upstream_limiter_acquired_total",
            "Upstream call slots taken from the --upstream_qps limiter.", MetricType::kCounter,
            static_cast<double>(stats.acquired));
  AddScalar(out, "wxvault_upstream_limiter_waits_total",
            "Upstream calls that waited for a --upstream_qps slot.", MetricType::kCounter,
            static_cast<double>(stats.waited));
  AddScalar(out, "wxvault_upstream_limiter_wait_seconds_total",
            "Total time upstream calls waited for a --upstream_qps slot.", MetricType::kCounter,
            absl::ToDoubleSeconds(stats.total_wait));
  MetricFamilySnapshot& rejected = NewFamily(
      out, "wxvault_upstream_limiter_rejected_total",
      "Upstream calls refused before reaching WeChat: no slot before the deadline, or endpoint paused after 45011.",
      MetricType::kCounter, {"reason"});
  AddSample(&rejected, {"deadline"}, static_cast<double>(stats.rejected_deadline));
  AddSample(&rejected, {"paused"}, static_cast<double>(stats.rejected_paused));
  MetricFamilySnapshot& paused =
      NewFamily(out, "wxvault_upstream_paused",
                "1 while the endpoint is paused after WeChat's minute quota (45011), else 0.", MetricType::kGauge,
                {"endpoint"});
  for (WeChatEndpoint endpoint : kEndpoints) {
    const bool is_paused = sources.limiter->PausedUntil(EndpointPath(endpoint)).has_value();
    AddSample(&paused, {std::string(EndpointPath(endpoint))}, is_paused ? 1 : 0);
  }
}

void CollectProcess(const MetricsSources& sources, std::vector<MetricFamilySnapshot>* out) {
  if (sources.pool != nullptr) {
    AddScalar(out, "wxvault_worker_queue_depth", "Tasks waiting for a worker thread.", MetricType::kGauge,
              static_cast<double>(sources.pool->queued()));
  }
  AddScalar(out, "wxvault_process_start_time_seconds", "Start time of the process, seconds since the Unix epoch.",
            MetricType::kGauge, absl::ToDoubleSeconds(sources.started_at - absl::UnixEpoch()));
  AddSample(&NewFamily(out, "wxvault_build_info", "Always 1; the version of wxvaultd as a label.",
                       MetricType::kGauge, {"version"}),
            {sources.version}, 1);
}

}  // namespace

RpcMetrics::RpcMetrics(MetricsRegistry* registry,
                       const std::vector<const google::protobuf::ServiceDescriptor*>& services)
    : total_(registry->AddCounter("wxvault_rpc_total", "Finished RPCs by full method and gRPC status code.",
                                  {"method", "code"})),
      duration_(registry->AddHistogram("wxvault_rpc_duration_seconds",
                                       "Unary RPC latency, from the request's arrival to the reply, by full method.",
                                       {"method"})) {
  for (const google::protobuf::ServiceDescriptor* service : services) {
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      auto method = std::make_unique<Method>();
      method->name = absl::StrCat("/", service->full_name(), "/", service->method(i)->name());
      methods_.emplace(method->name, std::move(method));
    }
  }
}

void RpcMetrics::Record(absl::string_view method_name, absl::StatusCode code,
                        absl::optional<absl::Duration> elapsed) {
  auto it = methods_.find(method_name);
  if (it == methods_.end()) return;
  Method& method = *it->second;
  const size_t index = static_cast<size_t>(code);
  if (index < method.by_code.size()) {
    Lazy(&method.by_code[index], total_, {method.name, absl::StatusCodeToString(code)})->Increment();
  }
  if (elapsed.has_value()) Lazy(&method.duration, duration_, {method.name})->ObserveDuration(*elapsed);
}

UpstreamOutcome ClassifyUpstreamOutcome(const absl::Status& status) {
  if (status.ok()) return {"ok", ""};
  if (absl::optional<int> errcode = WeChatErrcodeOf(status)) {
    const WeChatErrorInfo info = ClassifyWeChatErrcode(*errcode);
    const bool known = info.error_class != WeChatErrorClass::kUnknown;
    return {WeChatErrorClassName(info.error_class), known ? absl::StrCat(*errcode) : "other"};
  }
  if (ReasonOf(status) == reason::kUpstreamUnavailable || absl::IsUnavailable(status) ||
      absl::IsDeadlineExceeded(status)) {
    return {"unavailable", ""};
  }
  return {"upstream_error", ""};
}

UpstreamMetrics::UpstreamMetrics(MetricsRegistry* registry)
    : calls_(registry->AddCounter(
          "wxvault_upstream_calls_total",
          "HTTP attempts to WeChat by endpoint, outcome class and (known errcodes only) WeChat errcode.",
          {"endpoint", "class", "wechat_errcode"})),
      duration_(registry->AddHistogram("wxvault_upstream_duration_seconds",
                                       "Latency of one HTTP attempt to WeChat, by endpoint.", {"endpoint"})) {
  for (WeChatEndpoint endpoint : kEndpoints) {
    duration_by_endpoint_[static_cast<size_t>(endpoint)] = duration_->Get({EndpointPath(endpoint)});
  }
}

void UpstreamMetrics::OnAttempt(WeChatEndpoint endpoint, const absl::Status& status, absl::Duration elapsed) {
  const UpstreamOutcome outcome = ClassifyUpstreamOutcome(status);
  // Upstream calls take milliseconds; a family lookup (one short lock) is
  // negligible next to them.
  calls_->Get({EndpointPath(endpoint), outcome.outcome_class, outcome.errcode})->Increment();
  const size_t index = static_cast<size_t>(endpoint);
  if (index < duration_by_endpoint_.size()) duration_by_endpoint_[index]->ObserveDuration(elapsed);
}

ServerMetrics::ServerMetrics(const std::vector<const google::protobuf::ServiceDescriptor*>& services)
    : rpc_(&registry_, services), upstream_(&registry_) {}

void ServerMetrics::AddCollectors(MetricsSources sources) {
  registry_.AddCollector([sources = std::move(sources)](std::vector<MetricFamilySnapshot>* out) {
    if (sources.store != nullptr) CollectStore(sources, out);
    if (sources.refresher != nullptr) CollectRefresher(sources, out);
    if (sources.limiter != nullptr) CollectLimiter(sources, out);
    CollectProcess(sources, out);
  });
}

}  // namespace wxvault::service

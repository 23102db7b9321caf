// ServerMetrics: every metric wxvaultd exports (README "Metrics" lists them)
// and the hooks that feed them.
//
//   RpcMetrics       per-RPC counts by full method and status code, and
//                    latency histograms; fed by ServeUnary and WatchEvents
//   UpstreamMetrics  every HTTP attempt to WeChat by endpoint, outcome class
//                    and known errcode, and its latency; fed by WeChatClient
//   AddCollectors    families read at scrape time from the components that
//                    already keep them: tokens by state, sealed payloads by
//                    key id, data size, event sequences (TokenStore::Stats),
//                    refresher backlog / in-flight / outcomes
//                    (Refresher::Status), limiter waits and endpoint pauses
//                    (RateLimiter), worker queue depth, start time, build info
//
// Label values are bounded by construction: method names of the registered
// services, status code names, endpoint paths, the errcode table of
// wechat_errors.h, outcome and state names, and key ids (operator-chosen
// names, not secrets). Never a token, openid, code, app id or error text.
//
// Thread safety: all methods are thread-safe. Record/OnAttempt are lock-free
// once the series they touch exist. The sources given to AddCollectors are
// not owned and must outlive every scrape (the HTTP server stops first).
#ifndef WXVAULT_SERVICE_SERVER_METRICS_H_
#define WXVAULT_SERVICE_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "google/protobuf/descriptor.h"
#include "service/metrics.h"
#include "service/rate_limiter.h"
#include "service/refresher.h"
#include "service/wechat_client.h"
#include "service/worker_pool.h"
#include "vault/clock.h"
#include "vault/keyring.h"
#include "vault/token_store.h"

namespace wxvault::service {

// wxvault_rpc_total{method,code} and wxvault_rpc_duration_seconds{method}.
class RpcMetrics {
 public:
  // Calls to the methods of `services` ("/<service full name>/<method>")
  // are recorded; calls to other methods are not. Null entries are skipped.
  RpcMetrics(MetricsRegistry* registry, const std::vector<const google::protobuf::ServiceDescriptor*>& services);

  // Records one finished call of `method` ("/pkg.Service/Method"). `elapsed`
  // feeds the histogram when set (streams leave it unset).
  void Record(absl::string_view method, absl::StatusCode code, absl::optional<absl::Duration> elapsed);

 private:
  struct Method {
    std::string name;
    std::atomic<Histogram*> duration{nullptr};
    std::array<std::atomic<Counter*>, 17> by_code{};  // absl::StatusCode 0..16
  };
  CounterFamily* const total_;
  HistogramFamily* const duration_;
  absl::flat_hash_map<std::string, std::unique_ptr<Method>> methods_;  // immutable after construction
};

// The labels one upstream attempt is counted under.
struct UpstreamOutcome {
  absl::string_view outcome_class;  // "ok", a WeChatErrorClassName, "unavailable", "upstream_error"
  std::string errcode;              // a known errcode, "other", or "" (no errcode)
};
// ok for OK; for a WeChat errcode, its class (wechat_errors.h) and the
// errcode when it is in KnownWeChatErrors() (else "other"); transport
// errors, HTTP 5xx/429, garbage bodies and deadlines: "unavailable"; any
// other failure: "upstream_error".
UpstreamOutcome ClassifyUpstreamOutcome(const absl::Status& status);

// wxvault_upstream_calls_total{endpoint,class,wechat_errcode} and
// wxvault_upstream_duration_seconds{endpoint}.
class UpstreamMetrics final : public WeChatCallObserver {
 public:
  explicit UpstreamMetrics(MetricsRegistry* registry);
  void OnAttempt(WeChatEndpoint endpoint, const absl::Status& status, absl::Duration elapsed) override;

 private:
  CounterFamily* const calls_;
  HistogramFamily* const duration_;
  std::array<Histogram*, 4> duration_by_endpoint_;  // indexed by WeChatEndpoint
};

// What the scrape-time families read. Any pointer may be null: its
// families are then left out.
struct MetricsSources {
  vault::TokenStore* store = nullptr;
  const vault::Keyring* keyring = nullptr;
  const Refresher* refresher = nullptr;
  const RateLimiter* limiter = nullptr;
  const WorkerPool* pool = nullptr;
  Clock* clock = nullptr;  // required
  absl::Time started_at;
  std::string version;
};

class ServerMetrics {
 public:
  // `services` as for RpcMetrics.
  explicit ServerMetrics(const std::vector<const google::protobuf::ServiceDescriptor*>& services);
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  MetricsRegistry* registry() { return &registry_; }
  RpcMetrics* rpc() { return &rpc_; }
  UpstreamMetrics* upstream() { return &upstream_; }

  // Adds the scrape-time families (see the file comment). Call once.
  void AddCollectors(MetricsSources sources);

 private:
  MetricsRegistry registry_;
  RpcMetrics rpc_;
  UpstreamMetrics upstream_;
};

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_SERVER_METRICS_H_

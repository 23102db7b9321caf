// metrics: a small Prometheus metrics registry.
//
// Counters, gauges and histograms in families with a fixed set of label
// names, plus families computed at scrape time by a callback (for values
// another component already keeps, such as the vault's token counts).
// RenderText() writes the Prometheus text exposition format 0.0.4:
//
//   # HELP wxvault_rpc_total Finished RPCs by method and status code.
//   # TYPE wxvault_rpc_total counter
//   wxvault_rpc_total{method="/wxvault.v1.TokenVault/Exchange",code="OK"} 3
//   # TYPE wxvault_rpc_duration_seconds histogram
//   wxvault_rpc_duration_seconds_bucket{method="...",le="0.005"} 2
//   wxvault_rpc_duration_seconds_bucket{method="...",le="+Inf"} 3
//   wxvault_rpc_duration_seconds_sum{method="..."} 0.0123
//   wxvault_rpc_duration_seconds_count{method="..."} 3
//
// Families appear in registration order, series sorted by label values.
// HELP text escapes '\' and newline; label values escape '\', '"' and
// newline; values are written as integers when they are whole, else with
// enough digits to round-trip, and as +Inf / -Inf / NaN.
//
// Hot path: a series handle (Counter*, Gauge*, Histogram*) is looked up once
// (Family::Get takes the family's mutex) and kept; updating it is a few
// relaxed atomic operations, with no lock. Handles stay valid as long as the
// registry lives.
//
// Label values must be bounded (a fixed set the code knows, or configured
// names): never a token, openid, code, secret or free-form text. Each family
// holds at most `kMaxSeriesPerFamily` series; beyond that Get returns a
// handle that is counted nowhere (and the overflow is logged once).
//
// Thread safety: everything here is thread-safe. Registration (Add*) is
// meant for start-up; callbacks run on the scraping thread, one scrape at a
// time per registry, and must be thread-safe with respect to the components
// they read.
#ifndef WXVAULT_SERVICE_METRICS_H_
#define WXVAULT_SERVICE_METRICS_H_

#include <atomic>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace wxvault::service {

enum class MetricType { kCounter, kGauge, kHistogram };

// A double updated with relaxed atomic compare-and-swap.
class AtomicDouble {
 public:
  void Add(double delta);
  void Set(double value);
  double Get() const;

 private:
  std::atomic<uint64_t> bits_{0};  // bit pattern of a double; 0 is 0.0
};

// Counters and histograms are updated on every RPC from several threads at
// once. A single atomic per value would bounce its cache line between the
// CPUs on every update (measured: a few % of a warm GetAccessToken), so they
// keep kMetricStripes copies, one cache line each; a thread always updates
// the same stripe and a scrape sums them.
inline constexpr size_t kMetricStripes = 4;
// The stripe this thread updates (assigned round-robin on first use).
size_t ThisThreadMetricStripe();

// A double that many threads add to and few read.
class StripedDouble {
 public:
  void Add(double delta) { stripes_[ThisThreadMetricStripe()].value.Add(delta); }
  double Get() const;

 private:
  struct alignas(64) Stripe {
    AtomicDouble value;
  };
  std::array<Stripe, kMetricStripes> stripes_;
};

// A monotonically increasing value.
class Counter {
 public:
  // `delta` must be >= 0 (negative deltas are ignored).
  void Increment(double delta = 1);
  double Value() const { return value_.Get(); }

 private:
  StripedDouble value_;
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double value) { value_.Set(value); }
  void Add(double delta) { value_.Add(delta); }
  double Value() const { return value_.Get(); }

 private:
  AtomicDouble value_;
};

// Observations counted into fixed buckets (upper bounds, ascending; +Inf is
// implicit), with their sum and count.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double value);
  void ObserveDuration(absl::Duration duration) { Observe(absl::ToDoubleSeconds(duration)); }
  // Per-bucket (not cumulative) counts, the +Inf bucket last.
  std::vector<uint64_t> BucketCounts() const;
  double Sum() const { return sum_.Get(); }
  uint64_t Count() const;

 private:
  const std::vector<double>* const bounds_;
  // kMetricStripes rows of bounds_->size() + 1 counters, each row starting
  // on its own cache line (stride_ counters apart).
  const size_t stride_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  StripedDouble sum_;
};

// One series as read at scrape time.
struct MetricSample {
  std::vector<std::string> label_values;
  double value = 0;                     // counters and gauges
  std::vector<uint64_t> bucket_counts;  // histograms: per bucket, +Inf last
  double sum = 0;                       // histograms
};

// One family as read at scrape time.
struct MetricFamilySnapshot {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<std::string> label_names;
  std::vector<double> bucket_bounds;  // histograms
  std::vector<MetricSample> samples;
};

// Renders `families` in the text exposition format 0.0.4 (see the file
// comment). Pure; used by MetricsRegistry::RenderText and by tests.
std::string RenderMetricsText(const std::vector<MetricFamilySnapshot>& families);

// Default buckets for latencies in seconds: 0.5 ms .. 15 s.
const std::vector<double>& LatencyBuckets();

class MetricsRegistry;

// A family of one kind of series (Counter, Gauge or Histogram) keyed by
// label values.
template <typename Series>
class MetricFamily {
 public:
  // At most this many series per family.
  static constexpr size_t kMaxSeriesPerFamily = 1000;

  // The series for `label_values` (one per label name, in order), created on
  // first use. A call with the wrong number of values, or past the series
  // limit, gets a series that is not exported.
  Series* Get(const std::vector<std::string>& label_values);
  Series* Get(std::initializer_list<absl::string_view> label_values);

 private:
  friend class MetricsRegistry;
  explicit MetricFamily(MetricFamilySnapshot meta) : meta_(std::move(meta)), overflow_(NewSeries()) {}
  std::unique_ptr<Series> NewSeries() const;
  MetricFamilySnapshot Snapshot() const;

  const MetricFamilySnapshot meta_;  // name, help, type, labels, bounds
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_ ABSL_GUARDED_BY(mu_);
  bool overflow_logged_ ABSL_GUARDED_BY(mu_) = false;
  const std::unique_ptr<Series> overflow_;
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

// Produces whole families at scrape time: appends one snapshot per family
// it owns (with samples; label values bounded as above).
using MetricsCollector = std::function<void(std::vector<MetricFamilySnapshot>* out)>;

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Registers a family. `name` must be a valid metric name, unique in the
  // registry (counters should end in "_total"), and the label names valid
  // and not "le"; a violation is a programming error and aborts.
  CounterFamily* AddCounter(std::string name, std::string help, std::vector<std::string> label_names = {});
  GaugeFamily* AddGauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  // `bounds`: ascending, finite upper bounds; +Inf is added implicitly.
  HistogramFamily* AddHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                                std::vector<double> bounds = LatencyBuckets());

  // Registers a callback that produces families at scrape time, rendered
  // at this position. Names it produces must not clash with other families.
  void AddCollector(MetricsCollector collector);

  // Snapshots of every family (registered and collected), in order.
  std::vector<MetricFamilySnapshot> Collect() const;
  // RenderMetricsText(Collect()).
  std::string RenderText() const;

 private:
  struct Entry;
  // Checks and registers one family stored in `slot` of a new entry.
  template <typename Family>
  Family* Add(MetricFamilySnapshot meta, std::unique_ptr<Family> Entry::*slot);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  // Serializes scrapes, so that collectors never run concurrently.
  mutable absl::Mutex scrape_mu_ ABSL_ACQUIRED_BEFORE(mu_);
};

// True if `name` matches [a-zA-Z_:][a-zA-Z0-9_:]* (metric names) or, with
// `label` set, [a-zA-Z_][a-zA-Z0-9_]* (label names).
bool IsValidMetricName(absl::string_view name, bool label = false);

}  // namespace wxvault::service

#endif  // WXVAULT_SERVICE_METRICS_H_

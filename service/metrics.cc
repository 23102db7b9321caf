#include "service/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "service/log.h"

namespace wxvault::service {
namespace {

double FromBits(uint64_t bits) {
  double value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

uint64_t ToBits(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

// A sample value: whole numbers without a fraction, others round-tripping.
void AppendValue(double value, std::string* out) {
  if (std::isnan(value)) {
    out->append("NaN");
  } else if (std::isinf(value)) {
    out->append(value > 0 ? "+Inf" : "-Inf");
  } else if (value == std::trunc(value) && std::fabs(value) < 9007199254740992.0) {
    absl::StrAppend(out, static_cast<int64_t>(value));
  } else {
    std::string text = absl::StrFormat("%.15g", value);
    double parsed = 0;
    if (!absl::SimpleAtod(text, &parsed) || parsed != value) text = absl::StrFormat("%.17g", value);
    out->append(text);
  }
}

void AppendEscaped(absl::string_view text, bool quote, std::string* out) {
  for (char c : text) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '"' && quote) {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

// {a="x",b="y"} plus an optional trailing le="..."; nothing when empty.
void AppendLabels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                  absl::string_view le, std::string* out) {
  if (names.empty() && le.empty()) return;
  out->push_back('{');
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out->push_back(',');
    absl::StrAppend(out, names[i], "=\"");
    AppendEscaped(i < values.size() ? values[i] : std::string(), /*quote=*/true, out);
    out->push_back('"');
  }
  if (!le.empty()) absl::StrAppend(out, names.empty() ? "" : ",", "le=\"", le, "\"");
  out->push_back('}');
}

void AppendSampleLine(absl::string_view name, absl::string_view suffix, const std::vector<std::string>& names,
                      const std::vector<std::string>& values, absl::string_view le, double value,
                      std::string* out) {
  absl::StrAppend(out, name, suffix);
  AppendLabels(names, values, le, out);
  out->push_back(' ');
  AppendValue(value, out);
  out->push_back('\n');
}

absl::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void AppendFamily(const MetricFamilySnapshot& family, std::string* out) {
  absl::StrAppend(out, "# HELP ", family.name, " ");
  AppendEscaped(family.help, /*quote=*/false, out);
  absl::StrAppend(out, "\n# TYPE ", family.name, " ", TypeName(family.type), "\n");
  for (const MetricSample& sample : family.samples) {
    if (family.type != MetricType::kHistogram) {
      AppendSampleLine(family.name, "", family.label_names, sample.label_values, "", sample.value, out);
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= family.bucket_bounds.size(); ++i) {
      if (i < sample.bucket_counts.size()) cumulative += sample.bucket_counts[i];
      std::string le = "+Inf";
      if (i < family.bucket_bounds.size()) {
        le.clear();
        AppendValue(family.bucket_bounds[i], &le);
      }
      AppendSampleLine(family.name, "_bucket", family.label_names, sample.label_values, le,
                       static_cast<double>(cumulative), out);
    }
    AppendSampleLine(family.name, "_sum", family.label_names, sample.label_values, "", sample.sum, out);
    AppendSampleLine(family.name, "_count", family.label_names, sample.label_values, "",
                     static_cast<double>(cumulative), out);
  }
}

}  // namespace

void AtomicDouble::Add(double delta) {
  uint64_t old_bits = bits_.load(std::memory_order_relaxed);
  while (!bits_.compare_exchange_weak(old_bits, ToBits(FromBits(old_bits) + delta), std::memory_order_relaxed)) {
  }
}

void AtomicDouble::Set(double value) { bits_.store(ToBits(value), std::memory_order_relaxed); }

double AtomicDouble::Get() const { return FromBits(bits_.load(std::memory_order_relaxed)); }

size_t ThisThreadMetricStripe() {
  static std::atomic<size_t> next{0};
  thread_local const size_t stripe = next.fetch_add(1, std::memory_order_relaxed) % kMetricStripes;
  return stripe;
}

double StripedDouble::Get() const {
  double total = 0;
  for (const Stripe& stripe : stripes_) total += stripe.value.Get();
  return total;
}

void Counter::Increment(double delta) {
  if (delta > 0) value_.Add(delta);
}

namespace {

// Counters per cache line.
constexpr size_t kCountersPerLine = 64 / sizeof(std::atomic<uint64_t>);

}  // namespace

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds),
      stride_((bounds->size() + 1 + kCountersPerLine - 1) / kCountersPerLine * kCountersPerLine),
      // One extra line so that the rows can start on a line boundary.
      buckets_(new std::atomic<uint64_t>[stride_ * kMetricStripes + kCountersPerLine]) {
  for (size_t i = 0; i < stride_ * kMetricStripes + kCountersPerLine; ++i) {
    buckets_[i].store(0, std::memory_order_relaxed);
  }
}

namespace {

// The first counter of `buckets` that starts a cache line.
std::atomic<uint64_t>* LineAligned(std::atomic<uint64_t>* buckets) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(buckets);
  return reinterpret_cast<std::atomic<uint64_t>*>((address + 63) / 64 * 64);
}

}  // namespace

void Histogram::Observe(double value) {
  const size_t bucket =
      static_cast<size_t>(std::lower_bound(bounds_->begin(), bounds_->end(), value) - bounds_->begin());
  LineAligned(buckets_.get())[ThisThreadMetricStripe() * stride_ + bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.Add(value);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> counts(bounds_->size() + 1);
  const std::atomic<uint64_t>* rows = LineAligned(buckets_.get());
  for (size_t stripe = 0; stripe < kMetricStripes; ++stripe) {
    for (size_t i = 0; i < counts.size(); ++i) counts[i] += rows[stripe * stride_ + i].load(std::memory_order_relaxed);
  }
  return counts;
}

uint64_t Histogram::Count() const {
  uint64_t count = 0;
  for (uint64_t n : BucketCounts()) count += n;
  return count;
}

std::string RenderMetricsText(const std::vector<MetricFamilySnapshot>& families) {
  std::string out;
  for (const MetricFamilySnapshot& family : families) AppendFamily(family, &out);
  return out;
}

const std::vector<double>& LatencyBuckets() {
  static const std::vector<double>* const buckets = new std::vector<double>{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15};
  return *buckets;
}

bool IsValidMetricName(absl::string_view name, bool label) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

template <>
std::unique_ptr<Counter> MetricFamily<Counter>::NewSeries() const {
  return std::make_unique<Counter>();
}

template <>
std::unique_ptr<Gauge> MetricFamily<Gauge>::NewSeries() const {
  return std::make_unique<Gauge>();
}

template <>
std::unique_ptr<Histogram> MetricFamily<Histogram>::NewSeries() const {
  return std::make_unique<Histogram>(&meta_.bucket_bounds);
}

template <typename Series>
Series* MetricFamily<Series>::Get(const std::vector<std::string>& label_values) {
  if (label_values.size() != meta_.label_names.size()) return overflow_.get();
  absl::MutexLock lock(&mu_);
  auto it = series_.find(label_values);
  if (it != series_.end()) return it->second.get();
  if (series_.size() >= kMaxSeriesPerFamily) {
    if (!overflow_logged_) {
      overflow_logged_ = true;
      WXV_LOG(ERROR) << "metric " << meta_.name << " reached " << kMaxSeriesPerFamily
                     << " series; new label values are not exported";
    }
    return overflow_.get();
  }
  return series_.emplace(label_values, NewSeries()).first->second.get();
}

template <typename Series>
Series* MetricFamily<Series>::Get(std::initializer_list<absl::string_view> label_values) {
  std::vector<std::string> values;
  values.reserve(label_values.size());
  for (absl::string_view value : label_values) values.emplace_back(value);
  return Get(values);
}

namespace {

void Fill(const Counter& series, MetricSample* sample) { sample->value = series.Value(); }
void Fill(const Gauge& series, MetricSample* sample) { sample->value = series.Value(); }
void Fill(const Histogram& series, MetricSample* sample) {
  sample->bucket_counts = series.BucketCounts();
  sample->sum = series.Sum();
}

}  // namespace

template <typename Series>
MetricFamilySnapshot MetricFamily<Series>::Snapshot() const {
  MetricFamilySnapshot snapshot = meta_;
  absl::MutexLock lock(&mu_);
  snapshot.samples.reserve(series_.size());
  for (const auto& [values, series] : series_) {
    MetricSample& sample = snapshot.samples.emplace_back();
    sample.label_values = values;
    Fill(*series, &sample);
  }
  return snapshot;
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

struct MetricsRegistry::Entry {
  std::string name;
  std::unique_ptr<CounterFamily> counter;
  std::unique_ptr<GaugeFamily> gauge;
  std::unique_ptr<HistogramFamily> histogram;
  MetricsCollector collector;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

template <typename Family>
Family* MetricsRegistry::Add(MetricFamilySnapshot meta, std::unique_ptr<Family> Entry::*slot) {
  bool ok = IsValidMetricName(meta.name) && std::is_sorted(meta.bucket_bounds.begin(), meta.bucket_bounds.end()) &&
            std::all_of(meta.bucket_bounds.begin(), meta.bucket_bounds.end(), [](double b) { return std::isfinite(b); });
  for (const std::string& label : meta.label_names) ok = ok && IsValidMetricName(label, true) && label != "le";
  absl::MutexLock lock(&mu_);
  for (const auto& entry : entries_) ok = ok && entry->name != meta.name;
  if (!ok) {
    WXV_LOG(ERROR) << "bad or duplicate metric registration: " << meta.name;
    std::abort();
  }
  auto entry = std::make_unique<Entry>();
  entry->name = meta.name;
  Family* family = new Family(std::move(meta));
  ((*entry).*slot).reset(family);
  entries_.push_back(std::move(entry));
  return family;
}

namespace {

MetricFamilySnapshot Meta(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
                          std::vector<double> bounds = {}) {
  MetricFamilySnapshot meta;
  meta.name = std::move(name);
  meta.help = std::move(help);
  meta.type = type;
  meta.label_names = std::move(label_names);
  meta.bucket_bounds = std::move(bounds);
  return meta;
}

}  // namespace

CounterFamily* MetricsRegistry::AddCounter(std::string name, std::string help, std::vector<std::string> label_names) {
  return Add(Meta(std::move(name), std::move(help), MetricType::kCounter, std::move(label_names)), &Entry::counter);
}

GaugeFamily* MetricsRegistry::AddGauge(std::string name, std::string help, std::vector<std::string> label_names) {
  return Add(Meta(std::move(name), std::move(help), MetricType::kGauge, std::move(label_names)), &Entry::gauge);
}

HistogramFamily* MetricsRegistry::AddHistogram(std::string name, std::string help,
                                               std::vector<std::string> label_names, std::vector<double> bounds) {
  return Add(Meta(std::move(name), std::move(help), MetricType::kHistogram, std::move(label_names), std::move(bounds)),
             &Entry::histogram);
}

void MetricsRegistry::AddCollector(MetricsCollector collector) {
  absl::MutexLock lock(&mu_);
  auto entry = std::make_unique<Entry>();
  entry->collector = std::move(collector);
  entries_.push_back(std::move(entry));
}

std::vector<MetricFamilySnapshot> MetricsRegistry::Collect() const {
  absl::MutexLock scrape(&scrape_mu_);
  std::vector<const Entry*> entries;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& entry : entries_) entries.push_back(entry.get());
  }
  // Entries are never removed, so they can be read without mu_.
  std::vector<MetricFamilySnapshot> families;
  for (const Entry* entry : entries) {
    if (entry->counter != nullptr) families.push_back(entry->counter->Snapshot());
    if (entry->gauge != nullptr) families.push_back(entry->gauge->Snapshot());
    if (entry->histogram != nullptr) families.push_back(entry->histogram->Snapshot());
    if (entry->collector) entry->collector(&families);
  }
  return families;
}

std::string MetricsRegistry::RenderText() const { return RenderMetricsText(Collect()); }

}  // namespace wxvault::service

// RatioReporter: Google Benchmark reporter that prints each vault benchmark's
// throughput as a percentage of its raw baseline measured in the same run.
#ifndef WXVAULT_TESTS_BENCH_RATIO_REPORTER_H_
#define WXVAULT_TESTS_BENCH_RATIO_REPORTER_H_

#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace wxvault::bench {

// Adds pct_of_raw (items/s as a percentage of the baseline at the same thread
// count) to the vault benchmarks that have a raw baseline in the same run.
template <typename Base>
class RatioReporter : public Base {
 public:
  using Base::Base;
  using Run = benchmark::BenchmarkReporter::Run;

  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> annotated = runs;
    for (Run& run : annotated) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
      auto rate = run.counters.find("items_per_second");
      if (rate == run.counters.end()) continue;
      const std::string& name = run.run_name.function_name;
      baselines_[{name, run.threads}] = rate->second.value;
      auto base_name = baseline_of_.find(name);
      if (base_name == baseline_of_.end()) continue;
      auto base = baselines_.find({base_name->second, run.threads});
      if (base != baselines_.end() && base->second > 0) {
        run.counters["pct_of_raw"] = benchmark::Counter(100.0 * rate->second.value / base->second);
      }
    }
    Base::ReportRuns(annotated);
  }

 private:
  const std::map<std::string, std::string> baseline_of_ = {
      {"BM_Seal", "BM_RawAeadSeal"},
      {"BM_CommitSynced", "BM_RawRocksSyncedPut"},
  };
  std::map<std::pair<std::string, int>, double> baselines_;
};

}  // namespace wxvault::bench

#endif  // WXVAULT_TESTS_BENCH_RATIO_REPORTER_H_

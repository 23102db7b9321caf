// BenchReporter: the Google Benchmark reporter of vault_bench. On top of its
// base reporter (console or JSON) it adds two columns:
//   pct_of_raw        a vault benchmark's items/s as a percentage of its raw
//                     baseline (same thread count, same run);
//   others_cpu_pct    CPU used by OTHER processes on the machine while this
//                     row ran, in % of all CPUs (from /proc/stat minus this
//                     process and its children). The machine is shared: a
//                     row with a high value was measured under contention.
#ifndef WXVAULT_TESTS_BENCH_BENCH_REPORTER_H_
#define WXVAULT_TESTS_BENCH_BENCH_REPORTER_H_

#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/bench/bench_util.h"

namespace wxvault::bench {

template <typename Base>
class BenchReporter : public Base {
 public:
  using Base::Base;
  using Run = benchmark::BenchmarkReporter::Run;

  bool ReportContext(const benchmark::BenchmarkReporter::Context& context) override {
    last_ = CpuSnapshot::Take();
    return Base::ReportContext(context);
  }

  void ReportRuns(const std::vector<Run>& runs) override {
    const CpuSnapshot now = CpuSnapshot::Take();
    const double others_pct = now.OthersPctSince(last_);
    last_ = now;

    std::vector<Run> annotated = runs;
    for (Run& run : annotated) {
      run.counters["others_cpu_pct"] = benchmark::Counter(others_pct);
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
  CpuSnapshot last_ = CpuSnapshot::Take();
};

}  // namespace wxvault::bench

#endif  // WXVAULT_TESTS_BENCH_BENCH_REPORTER_H_

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
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace wxvault::bench {

// CPU time consumed machine-wide and by this process (with its waited-for
// children), in seconds, at one moment.
struct CpuSnapshot {
  double machine_busy_s = 0;
  double own_s = 0;
  std::chrono::steady_clock::time_point at;

  static CpuSnapshot Take() {
    CpuSnapshot snap;
    snap.at = std::chrono::steady_clock::now();
    std::ifstream stat("/proc/stat");
    std::string cpu;
    // user nice system idle iowait irq softirq steal
    double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    snap.machine_busy_s = (user + nice + system + irq + softirq + steal) / tick;
    for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
      rusage usage{};
      getrusage(who, &usage);
      snap.own_s += static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                    static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    }
    return snap;
  }
};

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
    const double wall = std::chrono::duration<double>(now.at - last_.at).count();
    const double cpus = static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN));
    const double others = (now.machine_busy_s - last_.machine_busy_s) - (now.own_s - last_.own_s);
    const double others_pct = wall > 0 ? std::max(0.0, 100.0 * others / (wall * cpus)) : 0;
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

// Small helpers shared by the benchmarks: flags, wall time, /proc readings,
// the size of a directory, and the CPU that other processes used meanwhile.
#ifndef WXVAULT_TESTS_BENCH_BENCH_UTIL_H_
#define WXVAULT_TESTS_BENCH_BENCH_UTIL_H_

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace wxvault::bench {

// The value of `arg` if it is "--<name>=<value>".
inline std::optional<absl::string_view> FlagValue(absl::string_view arg, absl::string_view name) {
  const std::string prefix = absl::StrCat("--", name, "=");
  if (!absl::StartsWith(arg, prefix)) return std::nullopt;
  return arg.substr(prefix.size());
}

inline double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A "Field:" of /proc/<pid>/status (pid 0: this process) in KiB, e.g.
// "VmRSS:" or "VmHWM:"; 0 if unreadable.
inline int64_t ProcStatusKib(const char* field, pid_t pid = 0) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/status") : absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, field)) return std::atoll(line.c_str() + std::strlen(field));
  }
  return 0;
}

// Fields of /proc/<pid>/stat after the command name, from "state" (field 3)
// on; empty if the process is gone.
inline std::vector<std::string> ProcStatFields(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');  // the command name may hold spaces
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::string field;
  for (size_t i = close + 2; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == ' ') {
      fields.push_back(field);
      field.clear();
    } else {
      field.push_back(text[i]);
    }
  }
  return fields;
}

// CPU seconds (user + system) used so far by this process's children that
// are still running (not yet waited for: getrusage does not count them).
inline double LiveChildrenCpuSeconds() {
  const std::string self = std::to_string(getpid());
  double ticks = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename().string();
    if (pid.empty() || pid[0] < '1' || pid[0] > '9') continue;
    const std::vector<std::string> f = ProcStatFields(pid);
    // f[1] is the parent pid; utime and stime are fields 14 and 15 (f[11], f[12]).
    if (f.size() >= 13 && f[1] == self) ticks += std::atof(f[11].c_str()) + std::atof(f[12].c_str());
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Bytes of all regular files below `path`.
inline uint64_t DirBytes(const std::string& path) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(path, ec)) {
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
  }
  return total;
}

// CPU time consumed machine-wide and by this process with all its children
// (waited for or still running), in seconds, at one moment.
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
    snap.own_s += LiveChildrenCpuSeconds();
    return snap;
  }

  // CPU used by other processes between `earlier` and this snapshot, in % of
  // all CPUs (it includes kernel threads working for us, e.g. writeback).
  double OthersPctSince(const CpuSnapshot& earlier) const {
    const double wall = std::chrono::duration<double>(at - earlier.at).count();
    const double cpus = static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN));
    const double others = (machine_busy_s - earlier.machine_busy_s) - (own_s - earlier.own_s);
    return wall > 0 && others > 0 ? 100.0 * others / (wall * cpus) : 0;
  }
};

}  // namespace wxvault::bench

#endif  // WXVAULT_TESTS_BENCH_BENCH_UTIL_H_

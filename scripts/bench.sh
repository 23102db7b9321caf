#!/usr/bin/env bash
# Reproduces every figure of BENCHMARKS.md in one run (~10 minutes on the
# 2-core machine): installs what is missing, builds the benchmark targets,
# then runs, in order,
#   1. tests/bench/grpc_bench      end to end through wxvaultd: GetAccessToken vs
#                                  Health/Check, Exchange latency and its floor,
#                                  durable Exchange throughput;
#   2. tests/bench/h2load_ratio.sh the same GetAccessToken/Health ratio measured
#                                  by an independent load generator (h2load);
#   3. tests/bench/scale_bench     1,000,000 tokens through the server: start-up,
#                                  RSS, refresher pick-up of 10,000 due tokens,
#                                  bytes per token, upstream qps sustained;
#   4. tests/bench/vault_bench     the vault alone (seal/open, synced commits vs
#                                  RocksDB's floor, reads, 1M-token figures);
#   5. the reliability harnesses in their long forms: server_crash_test with 30
#      kill -9s, and fault_soak_test for WXVAULT_SOAK_SECONDS (default 120; the
#      15-minute figure in BENCHMARKS.md used 900).
# Every output is also kept under bench-results/<UTC time>/.
# Usage: scripts/bench.sh [--skip-vault] [--skip-scale]
#   --skip-vault  leaves out vault_bench (2.5 min, ~1 GB in $TMPDIR)
#   --skip-scale  leaves out scale_bench (the 1M-token load, ~1 GB in $TMPDIR)
set -euo pipefail
cd "$(dirname "$0")/.."

run_vault=1
run_scale=1
for arg in "$@"; do
  case "$arg" in
    --skip-vault) run_vault=0 ;;
    --skip-scale) run_scale=0 ;;
    *) echo "usage: $0 [--skip-vault] [--skip-scale]" >&2; exit 2 ;;
  esac
done

bash scripts/install-deps.sh
cmake -S . -B build -DWXVAULT_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${WXVAULT_JOBS:-2}" \
  --target wxvaultd wxvault-fake-wechat grpc_bench scale_bench vault_bench server_crash_test fault_soak_test

out="bench-results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
echo "bench: machine $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg); results in $out" | tee "$out/machine.txt"

step() {
  local name="$1"; shift
  echo
  echo "=================== $name: $*"
  "$@" 2>&1 | tee "$out/$name.txt"
}

step grpc_bench ./build/tests/bench/grpc_bench --rounds=5 --round_seconds=3 --exchanges=3000 --latency_samples=500
step h2load_ratio tests/bench/h2load_ratio.sh build
if [ "$run_scale" = 1 ]; then step scale_bench ./build/tests/bench/scale_bench; fi
if [ "$run_vault" = 1 ]; then
  step vault_bench ./build/tests/bench/vault_bench --benchmark_counters_tabular=true
fi
step crash_harness env WXVAULT_CRASH_ITERATIONS=30 ./build/tests/integration/server_crash_test
step fault_soak env WXVAULT_SOAK_SECONDS="${WXVAULT_SOAK_SECONDS:-120}" ./build/tests/integration/fault_soak_test
echo
echo "bench: done; every output is in $out"

#!/usr/bin/env bash
# Installs dependencies, then builds and runs every test twice:
#   build/       normal build (RelWithDebInfo, warnings are errors)
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer build
# Usage: scripts/test.sh [--no-asan]
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS="${WXVAULT_JOBS:-2}"
run_asan=1
for arg in "$@"; do
  case "$arg" in
    --no-asan) run_asan=0 ;;
    *) echo "usage: $0 [--no-asan]" >&2; exit 2 ;;
  esac
done

bash scripts/install-deps.sh

build_and_test() {
  local dir="$1"; shift
  echo "=== configure ${dir} ($*)"
  cmake -S . -B "${dir}" -DWXVAULT_WERROR=ON "$@" >/dev/null
  echo "=== build ${dir}"
  cmake --build "${dir}" -j"${JOBS}"
  echo "=== test ${dir}"
  (cd "${dir}" && ctest --output-on-failure -j"${JOBS}" --timeout 600)
}

build_and_test build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${run_asan}" -eq 1 ]; then
  build_and_test build-asan -DCMAKE_BUILD_TYPE=Debug -DWXVAULT_SANITIZE=ON -DWXVAULT_BUILD_BENCHMARKS=OFF
fi
echo "=== all tests passed"

#!/usr/bin/env bash
# run_checks.sh: the deployment checks that need no build and no cluster:
#   1. deploy/kubernetes/ against the Kubernetes schema and wxvault's rules
#      (validate_manifests.mjs), and its self-test on broken copies;
#   2. deploy/Dockerfile and .dockerignore (check_dockerfile.sh).
# The ldd check of the built binaries is separate (check_runtime_deps.sh
# BINARY...), since it needs the build.
#
# Usage: tests/deploy/run_checks.sh [--no-self-test]
# Needs Node.js >= 20 and npm (installs the pinned npm packages from
# package-lock.json into tests/deploy/node_modules; only the npm registry is
# contacted).
# Exit: non-zero on any failure; one line per problem.
set -uo pipefail
readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
self_test=1
for arg in "$@"; do
  case "$arg" in
    --no-self-test) self_test=0 ;;
    *) echo "usage: $0 [--no-self-test]" >&2; exit 2 ;;
  esac
done

for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "run_checks: FAIL '$tool' not found (install Node.js >= 20 with npm)" >&2; exit 1; }
done

# The pinned packages from package-lock.json (a clean install each run: a
# few seconds, and no stale node_modules).
if ! out="$(npm ci --prefix "$HERE" --no-audit --no-fund --loglevel=error 2>&1)"; then
  echo "run_checks: FAIL npm ci --prefix tests/deploy:"; echo "$out" | sed 's/^/  /'
  exit 1
fi

failed=0
node "${HERE}/validate_manifests.mjs" || failed=1
if [ "$self_test" -eq 1 ]; then
  if ! out="$(node "${HERE}/validate_manifests.mjs" --self-test)"; then
    grep -v '^self-test ok:' <<<"$out"; failed=1
  else
    tail -n1 <<<"$out"
  fi
fi
bash "${HERE}/check_dockerfile.sh" || failed=1

if [ "$failed" -ne 0 ]; then echo "run_checks: FAILED"; exit 1; fi
echo "run_checks: all deployment checks passed"

#!/usr/bin/env bash
# Runs every client example against a throwaway `wxvaultd --demo` and checks
# what they print. Used by CI (ctest: examples_test) and by hand:
#
#   examples/run_examples.sh build/service/wxvaultd
#
# Needs: /usr/bin/python3 with python3-grpcio and python3-protobuf, protoc and
# grpc_python_plugin (env PROTOC / GRPC_PYTHON_PLUGIN override the ones on
# PATH), Node.js >= 18 with npm and the npm registry (`npm ci`). A missing tool
# fails the run: nothing is skipped.
#
# Every wait is bounded; the server is stopped on any exit. Exit status 0 only
# when both examples passed and the server stopped cleanly on SIGTERM.
set -euo pipefail

usage() { echo "usage: $0 <wxvaultd-binary>" >&2; exit 2; }
[ $# -eq 1 ] || usage
WXVAULTD="$1"
[ -x "${WXVAULTD}" ] || { echo "run_examples: ${WXVAULTD} is not an executable" >&2; exit 2; }

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROTO_ROOT="$(cd "${HERE}/../proto" && pwd)"
PYTHON=/usr/bin/python3          # Debian's: it has python3-grpcio, a pyenv/venv python may not
START_TIMEOUT=60                 # s for wxvaultd to print its address (ASan builds start slowly)
STOP_TIMEOUT=30                  # s for wxvaultd to exit after SIGTERM
EXAMPLE_TIMEOUT=90               # s per example run
NPM_TIMEOUT=240                  # s for npm ci
DEMO_OPENID=o_demo_user_1        # the demo's user (as in the banner); both examples log it in, so the
                                 # second one also sees the first one's events in the replayed history

log() { echo "run_examples: $*"; }
die() { echo "run_examples: FAIL: $*" >&2; exit 1; }

# --- tools ------------------------------------------------------------------
export PROTOC="${PROTOC:-$(command -v protoc || true)}"
export GRPC_PYTHON_PLUGIN="${GRPC_PYTHON_PLUGIN:-$(command -v grpc_python_plugin || true)}"
[ -x "${PYTHON}" ] || die "${PYTHON} not found (apt-get install python3 python3-grpcio python3-protobuf)"
"${PYTHON}" -c 'import grpc, google.protobuf' 2>/dev/null \
  || die "${PYTHON} cannot import grpc / google.protobuf (apt-get install python3-grpcio python3-protobuf)"
{ [ -n "${PROTOC}" ] && [ -x "${PROTOC}" ]; } || die "protoc not found (apt-get install protobuf-compiler)"
{ [ -n "${GRPC_PYTHON_PLUGIN}" ] && [ -x "${GRPC_PYTHON_PLUGIN}" ]; } \
  || die "grpc_python_plugin not found (apt-get install protobuf-compiler-grpc)"
command -v node >/dev/null || die "node not found: the Node example needs Node.js >= 18 (CI machines have Node 20)"
command -v npm >/dev/null || die "npm not found: the Node example needs npm (npm ci from the npm registry)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "${node_major}" -ge 18 ] || die "node $(node --version) is too old: the Node example needs Node.js >= 18"
command -v timeout >/dev/null || die "timeout (coreutils) not found"

# --- scratch space and cleanup -----------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/wxvault-examples.XXXXXX")"
SERVER_PID=""
SERVER_LOG="${TMP}/wxvaultd.log"
PASSED=0
FAILED=0

show_server_log() {
  if [ -s "${SERVER_LOG}" ]; then
    echo "----- wxvaultd log (last 60 lines) -----"
    tail -n 60 "${SERVER_LOG}"
    echo "----------------------------------------"
  fi
}

cleanup() {
  local status=$?
  if [ -n "${SERVER_PID}" ] && kill -0 "${SERVER_PID}" 2>/dev/null; then
    kill -TERM "${SERVER_PID}" 2>/dev/null || true
    for _ in $(seq 1 $((STOP_TIMEOUT * 10))); do
      kill -0 "${SERVER_PID}" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "${SERVER_PID}" 2>/dev/null || true
    wait "${SERVER_PID}" 2>/dev/null || true
  fi
  [ "${status}" -eq 0 ] || show_server_log
  rm -rf "${TMP}"
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Node dependencies (before the server starts: this may take a while) ------
# npm ci in a scratch copy keeps node_modules out of the source tree; the
# example finds the .proto files through --proto-root.
NODE_DIR="${TMP}/node"
mkdir -p "${NODE_DIR}"
cp "${HERE}/node/package.json" "${HERE}/node/package-lock.json" "${HERE}/node/login_flow.mjs" "${NODE_DIR}/"
log "npm ci (examples/node)"
if ! timeout "${NPM_TIMEOUT}" npm ci --prefix "${NODE_DIR}" --no-audit --no-fund --loglevel=error \
    >"${TMP}/npm.log" 2>&1; then
  cat "${TMP}/npm.log"
  die "npm ci failed (needs the npm registry)"
fi

# --- the server --------------------------------------------------------------
# The ASan build of wxvaultd also runs this; container-overflow checks give
# false positives with the uninstrumented system libraries.
log "starting ${WXVAULTD} --demo"
ASAN_OPTIONS="${ASAN_OPTIONS:+${ASAN_OPTIONS}:}detect_container_overflow=0" \
  "${WXVAULTD}" --demo --listen=127.0.0.1:0 --data_dir="${TMP}/vault" >"${SERVER_LOG}" 2>&1 &
SERVER_PID=$!

# It prints a banner with the fake WeChat's URL, then "wxvaultd: serving on <address>".
ADDRESS=""
for _ in $(seq 1 $((START_TIMEOUT * 10))); do
  ADDRESS="$(grep -v 'health serving on' "${SERVER_LOG}" | grep -m1 -oE 'serving on [^ "\\,}]+' | cut -d' ' -f3 || true)"
  [ -n "${ADDRESS}" ] && break
  kill -0 "${SERVER_PID}" 2>/dev/null || die "wxvaultd exited during start-up"
  sleep 0.1
done
[ -n "${ADDRESS}" ] || die "wxvaultd printed no 'serving on <address>' within ${START_TIMEOUT} s"
FAKE_URL="$(grep -m1 -oE 'fake WeChat[^h]*http://[^ "\\]+' "${SERVER_LOG}" | grep -oE 'http://[^ "\\]+' || true)"
[ -n "${FAKE_URL}" ] || die "no fake WeChat URL in the --demo banner"
log "wxvaultd serving on ${ADDRESS}, fake WeChat at ${FAKE_URL}"

# --- the examples ------------------------------------------------------------
# Lines every example must print (extended regexps, one per line).
EXPECTED=(
  '^Exchange OK: openid=[A-Za-z0-9_-]+ state=TOKEN_STATE_ACTIVE '
  '^  nickname: [^(]'
  '^  access_token: +[A-Za-z0-9_-]{1,8}\.\.\. \([0-9]+ chars\)$'
  '^GetAccessToken OK: access_token=[A-Za-z0-9_-]{1,8}\.\.\. \([0-9]+ chars\) '
  "^  event #[0-9]+ TOKEN_EVENT_TYPE_CREATED openid=${DEMO_OPENID} "
  "^  event #[0-9]+ TOKEN_EVENT_TYPE_REVOKED openid=${DEMO_OPENID} "
  '^Revoke OK: existed=(True|true)$'
  "^REVOKED event received for openid=${DEMO_OPENID}$"
  '^Exchange failed as expected: INVALID_ARGUMENT wxvault-reason=INVALID_CODE wechat-errcode=40029 '
  '^login flow done$'
)

# run_example NAME COMMAND...: runs it bounded, shows its output, checks it.
run_example() {
  local name="$1"; shift
  local out="${TMP}/${name}.out"
  local status=0
  log "=== ${name}: $*"
  timeout "${EXAMPLE_TIMEOUT}" "$@" >"${out}" 2>&1 || status=$?
  sed "s/^/[${name}] /" "${out}"
  local problems=()
  [ "${status}" -eq 0 ] || problems+=("exit status ${status}$([ "${status}" -eq 124 ] && echo " (timed out after ${EXAMPLE_TIMEOUT} s)")")
  local pattern
  for pattern in "${EXPECTED[@]}"; do
    grep -qE -- "${pattern}" "${out}" || problems+=("no line matching: ${pattern}")
  done
  # Secrets stay out of logs: the fake's tokens are 89 characters; nothing
  # that long may appear (openids and unionids are 28).
  if grep -qE '[A-Za-z0-9_-]{40,}' "${out}"; then
    problems+=("output contains a token-like string of 40+ characters")
  fi
  if [ "${#problems[@]}" -eq 0 ]; then
    log "=== ${name}: PASS"
    PASSED=$((PASSED + 1))
  else
    for p in "${problems[@]}"; do echo "run_examples: ${name}: ${p}" >&2; done
    log "=== ${name}: FAIL"
    FAILED=$((FAILED + 1))
  fi
}

run_example python "${PYTHON}" "${HERE}/python/login_flow.py" \
  --address "${ADDRESS}" --mint-from "${FAKE_URL}" --openid "${DEMO_OPENID}" --proto-root "${PROTO_ROOT}"
run_example node node "${NODE_DIR}/login_flow.mjs" \
  --address "${ADDRESS}" --mint-from "${FAKE_URL}" --openid "${DEMO_OPENID}" --proto-root "${PROTO_ROOT}"

# --- stop the server: it must still be up, and exit 0 on SIGTERM -------------
kill -0 "${SERVER_PID}" 2>/dev/null || die "wxvaultd died while the examples ran"
log "stopping wxvaultd (SIGTERM)"
kill -TERM "${SERVER_PID}"
for _ in $(seq 1 $((STOP_TIMEOUT * 10))); do
  kill -0 "${SERVER_PID}" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "${SERVER_PID}" 2>/dev/null; then
  die "wxvaultd still running ${STOP_TIMEOUT} s after SIGTERM"
fi
server_status=0
wait "${SERVER_PID}" || server_status=$?
SERVER_PID=""

echo "examples: ${PASSED} passed, ${FAILED} failed"
[ "${server_status}" -eq 0 ] || die "wxvaultd exited with status ${server_status} after SIGTERM"
[ "${FAILED}" -eq 0 ] || exit 1
log "wxvaultd stopped cleanly; all examples passed"

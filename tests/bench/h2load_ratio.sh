#!/usr/bin/env bash
# Issue 7's independent check: h2load (nghttp2-client), not our own benchmark
# code, measures GetAccessToken (warm token) against Health/Check on the same
# wxvaultd, and reports the ratio of their req/s medians (target >= 0.8).
#
# Usage: tests/bench/h2load_ratio.sh [BUILD_DIR]        (default: build)
#   needs BUILD_DIR/service/wxvaultd and wxvault-fake-wechat already built, and
#   /usr/bin/python3 with python3-grpcio + python3-protobuf (scripts/install-deps.sh);
#   installs nghttp2-client when h2load is missing.
#   Env: H2LOAD_REQUESTS (per timed run, default 100000), H2LOAD_ROUNDS
#   (default 5), H2LOAD_CLIENTS (-c, default 2), H2LOAD_STREAMS (-m, default 32).
#
# h2load settings: -t 1 -c 2 -m 32, a fixed count (-n 100000, 1-4 s a run),
# one untimed warm-up run per method, then 5 rounds alternating Health and
# GetAccessToken so that drift from other load on the machine hits both; the
# medians are compared. On a 2-core machine h2load itself takes a core, so a
# single h2load thread (-t 1) leaves the other to the server; more threads
# only fight the server for CPU. Tried on the shared 2-core machine (load
# average 3-6 from other work, so +-20% noise; medians of 3 rounds, req/s
# Health / GetAccessToken / ratio):
#   -c 1 -m 16: 96k / 23k / 0.24     -c 1 -m 32: 76k / 29k / 0.38
#   -c 2 -m 16: 53k / 25k / 0.47     -c 2 -m 32: 70k / 32k / 0.46
#   -c 2 -m 64: 73k / 33k / 0.45     -c 4 -m 64: 69k / 35k / 0.50
# With one connection GetAccessToken gains least (likely one connection's
# calls are read and answered by one server thread at a time, which suits the
# trivial Health/Check and leaves the second core idle); from 2 connections on
# the ratio is stable (~0.45-0.5). -c 2 -m 32 is the smallest setting there:
# 32 streams per connection keep the server busy without extra queueing.
#
# Every call must succeed: h2load counts HTTP 200, but gRPC errors arrive as
# HTTP 200 with grpc-status in the trailers, so besides h2load's own
# "succeeded" and 2xx counts the script checks
#   * before the timed runs, one call of each method through grpcio that sends
#     the very request bytes given to h2load and must answer OK (a SERVING
#     health status; the Exchange's access token, not refreshed);
#   * per run, h2load's response data bytes == N x the size of that OK answer
#     (an error answer is trailers-only and carries no data);
#   * per run, the server's wxvault_rpc_total counter for GetAccessToken grew
#     by exactly N with code="OK" and by 0 with any other code (Health/Check
#     has no such counter: for it the data-bytes check is the proof).
# The script exits non-zero if any call failed; a missed ratio target is
# only reported.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-build}
if [ ! -d "$BUILD" ] && [ -d "$ROOT/$BUILD" ]; then BUILD="$ROOT/$BUILD"; fi
BUILD=$(cd "$BUILD" && pwd)
REQUESTS=${H2LOAD_REQUESTS:-100000}
ROUNDS=${H2LOAD_ROUNDS:-5}
CLIENTS=${H2LOAD_CLIENTS:-2}
STREAMS=${H2LOAD_STREAMS:-32}
PYTHON=/usr/bin/python3
APP_ID=wxfakeapp0000001
APP_SECRET=fake-secret-0001
OPENID=o_h2load_bench

die() { echo "h2load_ratio: $*" >&2; exit 1; }

WXVAULTD="$BUILD/service/wxvaultd"
FAKE="$BUILD/tests/fake_wechat/wxvault-fake-wechat"
if [ ! -x "$FAKE" ]; then FAKE=$(find "$BUILD" -type f -name wxvault-fake-wechat -perm -u+x | head -n 1); fi
[ -x "$WXVAULTD" ] || die "no $WXVAULTD: build the wxvaultd target first"
if [ -z "$FAKE" ] || [ ! -x "$FAKE" ]; then die "no wxvault-fake-wechat under $BUILD: build it first"; fi
"$PYTHON" -c 'import grpc, google.protobuf' 2>/dev/null ||
  die "$PYTHON lacks grpcio/protobuf: run scripts/install-deps.sh"
command -v protoc >/dev/null || die "no protoc: run scripts/install-deps.sh"

# h2load, installed the way scripts/install-deps.sh installs packages.
if ! command -v h2load >/dev/null; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "h2load_ratio: installing nghttp2-client"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nghttp2-client >/dev/null
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wxvault-h2load.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# Starts "$@" with stdout in $TMP/$name.out (stderr in $name.err); waits
# (10 s at most) for a line that the sed -E expression $sed_expr prints
# something for, and sets STARTED to that.
STARTED=""
start() {
  local name=$1 sed_expr=$2
  shift 2
  : >"$TMP/$name.out"  # exists before the loop below reads it
  "$@" >>"$TMP/$name.out" 2>"$TMP/$name.err" &
  PIDS+=("$!")
  local pid=$! value=""
  for _ in $(seq 200); do
    value=$(sed -n -E "$sed_expr" "$TMP/$name.out" | head -n 1)
    if [ -n "$value" ]; then STARTED=$value; return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "h2load_ratio: $name did not start:" >&2
  cat "$TMP/$name.out" "$TMP/$name.err" >&2
  return 1
}

start fake 's|.*listening (http://[^ ]+).*|\1|p' "$FAKE" --listen=127.0.0.1:0
FAKE_URL=$STARTED
"$PYTHON" -c 'import base64, os; print("h2l1:" + base64.b64encode(os.urandom(32)).decode())' >"$TMP/master.keys"
printf '%s\n' "$APP_SECRET" >"$TMP/app.secret"
chmod 600 "$TMP/master.keys" "$TMP/app.secret"
start wxvaultd 's|.*wxvaultd: serving on ([^ ]+).*|\1|p' "$WXVAULTD" \
  --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 --data_dir="$TMP/vault" \
  --master_key_file="$TMP/master.keys" --app_id="$APP_ID" --app_secret_file="$TMP/app.secret" \
  --wechat_api_base="$FAKE_URL" --upstream_qps=100000
ADDRESS=$STARTED
METRICS_URL=$(sed -n -E 's|.*wxvaultd: metrics on (http://[^ ]+).*|\1|p' "$TMP/wxvaultd.out" | head -n 1)
[ -n "$METRICS_URL" ] || die "wxvaultd printed no metrics URL"
case "$ADDRESS" in 127.0.0.1:*) ;; *) die "unexpected wxvaultd address $ADDRESS" ;; esac
PORT=${ADDRESS##*:}

# The Python side: stubs for the messages, the warm token, the request bodies
# and one real call of each method with those exact bytes.
cat >"$TMP/client.py" <<'PY'
import json, struct, sys, urllib.request

import grpc

cmd = sys.argv[1]

def rpc_counts(metrics_url, method):
    """{code: count} of wxvault_rpc_total for `method`."""
    counts = {}
    with urllib.request.urlopen(metrics_url, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if not line.startswith("wxvault_rpc_total{") or 'method="%s"' % method not in line:
                continue
            labels, value = line.rsplit(" ", 1)
            code = labels.split('code="', 1)[1].split('"', 1)[0]
            counts[code] = counts.get(code, 0) + int(float(value))
    return counts

if cmd == "counts":
    _, _, metrics_url, method = sys.argv
    print(json.dumps(rpc_counts(metrics_url, method), sort_keys=True))
    sys.exit(0)

# prepare GEN_DIR ADDRESS FAKE_URL APP_ID OPENID OUT_DIR
_, _, gen_dir, address, fake_url, app_id, openid, out_dir = sys.argv
sys.path.insert(0, gen_dir)
from wxvault.v1 import token_vault_pb2 as tv

def frame(payload):
    return b"\x00" + struct.pack(">I", len(payload)) + payload

def unframe(body):
    assert body[0] == 0 and struct.unpack(">I", body[1:5])[0] == len(body) - 5, "bad gRPC frame"
    return body[5:]

with urllib.request.urlopen("%s/control/code?openid=%s" % (fake_url, openid), timeout=10) as r:
    code = json.load(r)["code"]

health_body = frame(b"")  # HealthCheckRequest{service: ""} serializes to nothing
gat_body = frame(tv.GetAccessTokenRequest(app_id=app_id, openid=openid).SerializeToString())
for name, body in (("health", health_body), ("gat", gat_body)):
    with open("%s/%s.body" % (out_dir, name), "wb") as f:
        f.write(body)

with grpc.insecure_channel(address) as channel:
    exchange = channel.unary_unary("/wxvault.v1.TokenVault/Exchange",
                                   request_serializer=tv.ExchangeRequest.SerializeToString,
                                   response_deserializer=tv.ExchangeResponse.FromString)
    login = exchange(tv.ExchangeRequest(app_id=app_id, code=code), timeout=10)
    assert login.token.openid == openid and login.access_token, "Exchange gave no token for " + openid

    # The same bytes h2load sends (read back from the files), raw in and out.
    def raw_call(method, name):
        with open("%s/%s.body" % (out_dir, name), "rb") as f:
            payload = unframe(f.read())
        call = channel.unary_unary(method)  # no (de)serializers: bytes as they are
        return call(payload, timeout=10)

    health = raw_call("/grpc.health.v1.Health/Check", "health")
    # HealthCheckResponse{status: SERVING (1)} is field 1, varint 1.
    assert health == b"\x08\x01", "Health/Check is not SERVING: %r" % health
    answer = raw_call("/wxvault.v1.TokenVault/GetAccessToken", "gat")
    token = tv.GetAccessTokenResponse.FromString(answer)
    assert token.access_token == login.access_token, "GetAccessToken answered another token"
    assert token.token.openid == openid and not token.refreshed, "GetAccessToken was not a warm answer"
    # h2load's "data" counts DATA frame payload bytes: the framed answer.
    print("health=%d gat=%d" % (len(frame(health)), len(frame(answer))))
PY

mkdir -p "$TMP/gen"
protoc -I"$ROOT/proto" --python_out="$TMP/gen" "$ROOT"/proto/wxvault/v1/*.proto
read -r HEALTH_SIZE GAT_SIZE < <("$PYTHON" "$TMP/client.py" prepare "$TMP/gen" "$ADDRESS" "$FAKE_URL" \
  "$APP_ID" "$OPENID" "$TMP" | sed -E 's/health=([0-9]+) gat=([0-9]+)/\1 \2/')
[ -n "${GAT_SIZE:-}" ] || die "the warm-up calls through grpcio failed"

GAT_METHOD=/wxvault.v1.TokenVault/GetAccessToken
HEALTH_METHOD=/grpc.health.v1.Health/Check
echo "wxvaultd $ADDRESS (fake WeChat $FAKE_URL), openid $OPENID stored and warm"
echo "bodies: Health/Check $(stat -c %s "$TMP/health.body") B, GetAccessToken $(stat -c %s "$TMP/gat.body") B;" \
  "OK answers: $HEALTH_SIZE B, $GAT_SIZE B (checked through grpcio)"
echo "h2load -t 1 -c $CLIENTS -m $STREAMS -n $REQUESTS, $ROUNDS rounds per method, alternating"

gat_ok() { "$PYTHON" "$TMP/client.py" counts "$METRICS_URL" "$GAT_METHOD"; }

# run NAME N: one h2load run; checks every call; prints req/s.
run() {
  local name=$1 n=$2 method size body out before after
  if [ "$name" = health ]; then method=$HEALTH_METHOD size=$HEALTH_SIZE; else method=$GAT_METHOD size=$GAT_SIZE; fi
  body="$TMP/$name.body"
  out="$TMP/h2load.$name.out"
  before=$(gat_ok)
  h2load -t 1 -c "$CLIENTS" -m "$STREAMS" -n "$n" \
    -H 'content-type: application/grpc' -H 'te: trailers' -d "$body" \
    "http://127.0.0.1:$PORT$method" >"$out" 2>&1 || { cat "$out" >&2; die "h2load failed"; }
  after=$(gat_ok)
  local succeeded ok2xx data rps
  succeeded=$(sed -n -E 's/^requests: .* ([0-9]+) succeeded.*/\1/p' "$out")
  ok2xx=$(sed -n -E 's/^status codes: ([0-9]+) 2xx.*/\1/p' "$out")
  data=$(sed -n -E 's/^traffic: .*\(([0-9]+)\) data$/\1/p' "$out")
  rps=$(sed -n -E 's/^finished in [^,]+, ([0-9.]+) req\/s.*/\1/p' "$out")
  if [ "$succeeded" != "$n" ] || [ "$ok2xx" != "$n" ] || [ -z "$rps" ]; then
    cat "$out" >&2
    die "$name: $n requests, ${succeeded:-?} succeeded, ${ok2xx:-?} 2xx"
  fi
  [ "$data" = "$((n * size))" ] ||
    { cat "$out" >&2; die "$name: $data response data bytes, expected $n x $size (some calls failed)"; }
  local want_ok=0
  if [ "$name" = gat ]; then want_ok=$n; fi
  "$PYTHON" - "$before" "$after" "$want_ok" <<'PY' || die "$name: wxvault_rpc_total for GetAccessToken: $before -> $after"
import json, sys
before, after, want_ok = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
delta = {code: after.get(code, 0) - before.get(code, 0) for code in set(before) | set(after)}
sys.exit(0 if delta.get("OK", 0) == want_ok and all(v == 0 for c, v in delta.items() if c != "OK") else 1)
PY
  echo "$rps"
}

run health $((REQUESTS / 4)) >/dev/null  # warm-ups, untimed
run gat $((REQUESTS / 4)) >/dev/null

health_rps=()
gat_rps=()
for round in $(seq "$ROUNDS"); do
  rps=$(run health "$REQUESTS")
  health_rps+=("$rps")
  rps=$(run gat "$REQUESTS")
  gat_rps+=("$rps")
  printf 'round %d: Health/Check %10.0f req/s   GetAccessToken %10.0f req/s\n' \
    "$round" "${health_rps[-1]}" "${gat_rps[-1]}"
done

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
health_median=$(median "${health_rps[@]}")
gat_median=$(median "${gat_rps[@]}")
echo "all $((2 * ROUNDS * REQUESTS)) timed calls (and the warm-ups) answered OK"
awk -v h="$health_median" -v g="$gat_median" 'BEGIN {
  printf "median: Health/Check %.0f req/s, GetAccessToken %.0f req/s\n", h, g
  r = g / h
  printf "ratio GetAccessToken/Health = %.3f (target >= 0.8: %s)\n", r, (r >= 0.8 ? "met" : "MISSED")
}'

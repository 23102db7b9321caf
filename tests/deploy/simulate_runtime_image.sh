#!/usr/bin/env bash
# simulate_runtime_image.sh: builds deploy/Dockerfile's runtime stage without
# a Docker engine and smoke-runs wxvaultd in it, the way Kubernetes would:
# read-only root filesystem, uid/gid 65532, writable data volume, socket dir
# and /tmp only.
#
#   1. debootstrap --variant=minbase bookworm (the package set debian:12-slim
#      is made from), cached under --cache;
#   2. replays the runtime stage's COPY/RUN/ENV instructions from the
#      Dockerfile in a chroot (COPY --from=build takes the given binaries);
#   3. in a private mount namespace: the root bind-mounted read-only, tmpfs
#      on /tmp, host directories on /var/lib/wxvault and /run/wxvault,
#      generated secrets on /etc/wxvault (read-only); runs the image's
#      wxvault-fake-wechat and wxvaultd (with the image's ENV defaults) as
#      65532:65532;
#   4. from the host, over the Unix socket and the health port: Health/Check
#      is SERVING, an Exchange of a fake code succeeds (libcurl to the fake),
#      VaultAdmin needs the bearer token and answers with it; then SIGTERM
#      must stop wxvaultd with exit status 0.
#
# Not a CI test: it needs root, debootstrap, python3-grpcio and Debian's
# package mirror (the apt sources of this machine). A manual check of the
# image's contents for when the Dockerfile or the package list changes.
#
# Usage: sudo tests/deploy/simulate_runtime_image.sh [--cache DIR] [--keep] WXVAULTD FAKE_WECHAT
# Exit: 0 when every step passed; 1 otherwise (one line per failure).
set -euo pipefail
readonly ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${TMPDIR:-/tmp}/wxvault-minbase-bookworm"
keep=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cache) cache="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
[ "${#args[@]}" -eq 2 ] || { sed -n '/^# Usage:/p' "$0" >&2; exit 2; }
wxvaultd="$(readlink -f "${args[0]}")"; fake="$(readlink -f "${args[1]}")"
[ "$(id -u)" -eq 0 ] || { echo "simulate: needs root (chroot, mounts)" >&2; exit 2; }
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3   # Debian's python3-grpcio is for /usr/bin/python3
for tool in debootstrap chroot unshare; do
  command -v "$tool" >/dev/null || { echo "simulate: '$tool' not found (apt-get install debootstrap python3-grpcio)" >&2; exit 2; }
done
"$PY" -c 'import grpc' 2>/dev/null || { echo "simulate: python3-grpcio missing" >&2; exit 2; }

say() { echo "simulate: $*"; }
fail() { echo "simulate: FAIL $*"; exit 1; }

# 1. minbase bookworm, cached.
if [ ! -f "$cache/.complete" ]; then
  mirror="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)"
  mirror="${mirror:-$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)}"
  say "debootstrap --variant=minbase bookworm $cache ($mirror)"
  rm -rf "$cache"
  debootstrap --variant=minbase bookworm "$cache" "$mirror" >"$cache.log" 2>&1 || fail "debootstrap (see $cache.log)"
  touch "$cache/.complete"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/wxvault-image.XXXXXX")"
cleanup() { if [ "$keep" -eq 0 ]; then rm -rf "$work"; else say "kept $work"; fi; }
trap cleanup EXIT
rootfs="$work/rootfs"
cp -a "$cache" "$rootfs"; rm -f "$rootfs/.complete"

# 2. Replay the runtime stage.
instructions="$(sed -e '/^[[:space:]]*#/d' "$ROOT/deploy/Dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' \
  | awk '/^FROM /{stage=$0; next} stage ~ / AS runtime$/')"
declare -a env_pairs=()
while IFS= read -r line; do
  case "$line" in
    COPY\ --from=build\ *)
      read -r _ _ src dest <<<"$line"
      case "$(basename "$src")" in
        wxvaultd) from="$wxvaultd" ;;
        wxvault-fake-wechat) from="$fake" ;;
        *) fail "unknown build artifact $src" ;;
      esac
      install -D -m 0755 "$from" "$rootfs$dest" ;;
    COPY\ *)
      read -r _ src dest <<<"$line"
      install -D -m 0644 "$ROOT/$src" "$rootfs$dest" ;;
    RUN\ *)
      say "RUN in chroot: ${line:4:70}..."
      cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
      unshare -m sh -c 'mount -t proc proc "$1/proc" && chroot "$1" /bin/sh -c "$2"' _ "$rootfs" "${line#RUN }" \
        >"$work/run.log" 2>&1 || { tail -n 20 "$work/run.log"; fail "RUN failed"; }
      : >"$rootfs/etc/resolv.conf" ;;
    ENV\ *)
      read -r -a words <<<"${line#ENV }"
      env_pairs+=("${words[@]}") ;;
  esac
done <<<"$instructions"
[ -x "$rootfs/usr/local/bin/wxvaultd" ] || fail "the runtime stage did not install /usr/local/bin/wxvaultd"
say "runtime root: $(du -sh "$rootfs" | cut -f1), $(chroot "$rootfs" dpkg-query -W | wc -l) packages"

# ldd inside the image: every library resolves.
if chroot "$rootfs" ldd /usr/local/bin/wxvaultd /usr/local/bin/wxvault-fake-wechat | grep 'not found'; then
  fail "libraries missing in the runtime root (above)"
fi
[ -s "$rootfs/etc/ssl/certs/ca-certificates.crt" ] || fail "no CA bundle at /etc/ssl/certs/ca-certificates.crt"

# 3. Secrets, volumes and mount points (Kubernetes creates mount points too).
data="$work/data"; run="$work/run"; secrets="$work/secrets"
mkdir -p "$data" "$run" "$secrets" "$rootfs/etc/wxvault"
chown 65532:65532 "$data" "$run"
printf 'k1:%s\n' "$(head -c32 /dev/urandom | base64)" >"$secrets/keyring"
printf 'deploy-test-secret' >"$secrets/app-secret"
head -c24 /dev/urandom | base64 >"$secrets/admin-token"
chown 65532:65532 "$secrets"/*; chmod 0400 "$secrets"/*
hport="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

cat >"$work/inside.sh" <<'EOF'
set -eu
rootfs="$1"; data="$2"; run="$3"; secrets="$4"; hport="$5"; shift 5
mount --bind "$rootfs" "$rootfs"
mount -o remount,bind,ro "$rootfs"
mount -t proc proc "$rootfs/proc"
mount -t tmpfs -o mode=1777,size=64m tmpfs "$rootfs/tmp"
mount --bind "$data" "$rootfs/var/lib/wxvault"
mount --bind "$run" "$rootfs/run/wxvault"
mount --bind "$secrets" "$rootfs/etc/wxvault"
mount -o remount,bind,ro "$rootfs/etc/wxvault"
# chroot and env exec, so $! is the server's own pid (signals reach it).
as_wxvault=(chroot --userspec=65532:65532 "$rootfs" env -i PATH=/usr/local/bin:/usr/bin:/bin)
"${as_wxvault[@]}" /usr/local/bin/wxvault-fake-wechat --apps=wxdeploytest0001:deploy-test-secret >"$run/../fake.out" 2>"$run/../fake.err" &
fake_pid=$!
for _ in $(seq 50); do grep -q listening "$run/../fake.out" 2>/dev/null && break; sleep 0.1; done
fake_url="$(sed -n 's/^listening //p' "$run/../fake.out")"
[ -n "$fake_url" ] || { echo "simulate: FAIL the fake WeChat did not start"; cat "$run/../fake.err"; exit 1; }
echo "$fake_url" >"$run/../fake.url"
"${as_wxvault[@]}" "$@" /usr/local/bin/wxvaultd \
  --master_key_file=/etc/wxvault/keyring --app_id=wxdeploytest0001 \
  --app_secret_file=/etc/wxvault/app-secret --admin_token_file=/etc/wxvault/admin-token \
  --wechat_api_base="$fake_url" --health_listen="127.0.0.1:$hport" --shutdown_grace=3s \
  2>"$run/../wxvaultd.err" &
wxvaultd_pid=$!
echo "$wxvaultd_pid" >"$run/../wxvaultd.pid"
rc=0; wait "$wxvaultd_pid" || rc=$?
echo "$rc" >"$run/../wxvaultd.rc"
kill "$fake_pid" 2>/dev/null || true
wait "$fake_pid" 2>/dev/null || true
EOF
say "starting wxvault-fake-wechat and wxvaultd as 65532:65532 on a read-only root"
unshare -m bash "$work/inside.sh" "$rootfs" "$data" "$run" "$secrets" "$hport" "${env_pairs[@]}" &
inside=$!

# 4. Probe from the host.
for _ in $(seq 100); do [ -S "$run/wxvault.sock" ] && break; sleep 0.1; done
[ -S "$run/wxvault.sock" ] || { cat "$work/wxvaultd.err" 2>/dev/null; fail "no socket at /run/wxvault/wxvault.sock"; }
set +e
"$PY" - "$run/wxvault.sock" "$hport" "$(cat "$work/fake.url")" "$(cat "$secrets/admin-token")" <<'EOF'
import json, sys, time, urllib.request, grpc
sock, hport, fake, token = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].strip()
ok = True
def check(name, cond, detail=""):
    global ok
    print(f"simulate: {'ok' if cond else 'FAIL'} {name}{': ' + detail if detail else ''}")
    ok = ok and cond
def call(target, method, req=b"", md=None):
    ch = grpc.insecure_channel(target)
    grpc.channel_ready_future(ch).result(timeout=10)
    return ch.unary_unary(method, request_serializer=None, response_deserializer=None)(req, timeout=10, metadata=md)
def field(tag, payload):
    return bytes([tag << 3 | 2, len(payload)]) + payload
for target in (f"unix:{sock}", f"127.0.0.1:{hport}"):
    serving = None
    for _ in range(50):
        try:
            serving = call(target, "/grpc.health.v1.Health/Check") == b"\x08\x01"
            if serving: break
        except grpc.RpcError:
            pass
        time.sleep(0.1)
    check(f"Health/Check SERVING on {target}", bool(serving))
code = json.load(urllib.request.urlopen(f"{fake}/control/code?openid=odeploy1"))["code"]
try:
    resp = call(f"unix:{sock}", "/wxvault.v1.TokenVault/Exchange", field(2, code.encode()))
    check("Exchange through libcurl to the fake WeChat", b"odeploy1" in resp, f"{len(resp)} response bytes")
except grpc.RpcError as e:
    check("Exchange through libcurl to the fake WeChat", False, f"{e.code()} {e.details()}")
try:
    call(f"unix:{sock}", "/wxvault.v1.VaultAdmin/GetVaultStatus")
    check("VaultAdmin without the token is refused", False, "answered OK")
except grpc.RpcError as e:
    check("VaultAdmin without the token is refused", e.code() == grpc.StatusCode.UNAUTHENTICATED, str(e.code()))
try:
    resp = call(f"unix:{sock}", "/wxvault.v1.VaultAdmin/GetVaultStatus", md=[("authorization", f"Bearer {token}")])
    check("VaultAdmin/GetVaultStatus with the token", b"/var/lib/wxvault/vault" in resp, "data_dir from the image's WXVAULT_DATA_DIR")
except grpc.RpcError as e:
    check("VaultAdmin/GetVaultStatus with the token", False, f"{e.code()} {e.details()}")
sys.exit(0 if ok else 1)
EOF
probes=$?
set -e
kill -TERM "$(cat "$work/wxvaultd.pid")" 2>/dev/null || true
wait "$inside" || true
rc="$(cat "$work/wxvaultd.rc" 2>/dev/null || echo '?')"
status=0
[ "$probes" -eq 0 ] || status=1
if [ "$rc" = 0 ]; then say "ok wxvaultd exited 0 after SIGTERM"; else say "FAIL wxvaultd exit status $rc after SIGTERM"; status=1; fi
if [ -f "$data/vault/CURRENT" ]; then say "ok the vault was written to the data volume (/var/lib/wxvault/vault)"; else say "FAIL no RocksDB vault under the data volume"; status=1; fi
if grep -qiE 'read-only file system|EROFS' "$work/wxvaultd.err"; then say "FAIL wxvaultd tried to write to the read-only root:"; grep -iE 'read-only|EROFS' "$work/wxvaultd.err"; status=1; fi
if grep -qF "$(cat "$secrets/app-secret")" "$work/wxvaultd.err"; then say "FAIL the app secret appears in wxvaultd's stderr"; status=1; fi
say "wxvaultd stderr (first lines):"; head -n 8 "$work/wxvaultd.err" | sed 's/^/  /'
[ "$status" -eq 0 ] && say "all runtime-image checks passed" || say "runtime-image checks FAILED"
exit "$status"

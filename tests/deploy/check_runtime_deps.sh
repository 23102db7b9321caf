#!/usr/bin/env bash
# check_runtime_deps.sh: does the runtime image carry every shared library the
# binaries load? A CI check of deploy/Dockerfile's runtime stage that needs no
# Docker engine.
#
# For each BINARY it runs `ldd`, maps every resolved library to the Debian
# package that owns it (`dpkg -S`), and fails when that package is neither in
# deploy/runtime-packages.txt (what the runtime stage installs) nor in
# BASE_PACKAGES below (what debian:12-slim already ships). It also fails on a
# library ldd cannot find, and on one that no Debian package owns (a copy in
# /usr/local or a build tree would not be in the image).
#
# Run it on the build machine (Debian 12 with the -dev packages installed):
# the libraries ldd resolves here are the ones the same binary resolves in
# the image. deploy/Dockerfile also runs it inside the build stage, so a stale
# list fails the image build too.
#
# Usage:
#   tests/deploy/check_runtime_deps.sh [--packages FILE] BINARY...
#   tests/deploy/check_runtime_deps.sh --derive BINARY...
#   tests/deploy/check_runtime_deps.sh --self-test BINARY...
#     --packages FILE  the package list (default: deploy/runtime-packages.txt
#                      of this repository)
#     --derive         print, per package outside debian:12-slim, the
#                      libraries that need it (to write or review the list);
#                      checks nothing, exits 0
#     --self-test      proves the check bites: drops from a copy of the list
#                      each listed package the binaries load, one at a time,
#                      and expects a failure naming it; exit 0 when every
#                      removal was caught
# Output: one line per problem on stdout, then a summary line.
# Exit: 0 all satisfied, 1 a problem was found, 2 bad usage or a missing tool.
set -uo pipefail

readonly SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
packages_file="${SCRIPT_DIR}/../../deploy/runtime-packages.txt"
derive=0
self_test=0
binaries=()

# Packages debian:12-slim (bookworm) already contains that ship shared
# libraries, from the image's dpkg manifest (Debian's docker image build
# publishes it: 'dpkg' section of bookworm-slim). A library owned by one of
# these is present in the runtime stage without installing anything.
readonly BASE_PACKAGES=(
  libacl1 libapt-pkg6.0 libattr1 libaudit1 libblkid1 libbz2-1.0 libc6
  libcap-ng0 libcap2 libcom-err2 libcrypt1 libdb5.3 libdebconfclient0
  libext2fs2 libffi8 libgcc-s1 libgcrypt20 libgmp10 libgnutls30
  libgpg-error0 libhogweed6 libidn2-0 liblz4-1 liblzma5 libmd0 libmount1
  libnettle8 libp11-kit0 libpam-modules libpam0g libpcre2-8-0 libseccomp2
  libselinux1 libsemanage2 libsepol2 libsmartcols1 libss2 libstdc++6
  libsystemd0 libtasn1-6 libtinfo6 libudev1 libunistring2 libuuid1
  libxxhash0 libzstd1 zlib1g
)

usage() {
  sed -n '/^# Usage:/,/^# Exit:/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --packages) [ $# -ge 2 ] || usage; packages_file="$2"; shift 2 ;;
    --packages=*) packages_file="${1#--packages=}"; shift ;;
    --derive) derive=1; shift ;;
    --self-test) self_test=1; shift ;;
    -h|--help) usage ;;
    --) shift; binaries+=("$@"); break ;;
    -*) echo "check_runtime_deps: unknown option $1" >&2; usage ;;
    *) binaries+=("$1"); shift ;;
  esac
done
[ "${#binaries[@]}" -gt 0 ] || usage
for tool in ldd dpkg-query readlink; do
  command -v "$tool" >/dev/null 2>&1 || { echo "check_runtime_deps: '$tool' not found (run on Debian)" >&2; exit 2; }
done

if [ "$self_test" -eq 1 ]; then
  [ -r "$packages_file" ] || { echo "check_runtime_deps: cannot read package list '$packages_file'" >&2; exit 2; }
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  needed="$("$0" --derive "${binaries[@]}" | sed -n 's/^\([^# ][^ ]*\).*/\1/p')"
  [ -n "$needed" ] || { echo "check_runtime_deps: self-test: the binaries load no package outside debian:12-slim" >&2; exit 1; }
  if ! "$0" --packages "$packages_file" "${binaries[@]}" >"$tmp/out" 2>/dev/null; then
    echo "check_runtime_deps: self-test: the unmodified list fails already:"; cat "$tmp/out"; exit 1
  fi
  missed=0; tried=0
  for pkg in $needed; do
    grep -qE "^[[:space:]]*${pkg//+/\\+}([[:space:]]|#|$)" "$packages_file" || continue
    tried=$((tried + 1))
    grep -vE "^[[:space:]]*${pkg//+/\\+}([[:space:]]|#|$)" "$packages_file" >"$tmp/list.txt"
    if "$0" --packages "$tmp/list.txt" "${binaries[@]}" >"$tmp/out" 2>/dev/null || ! grep -q "needs package $pkg " "$tmp/out"; then
      echo "check_runtime_deps: self-test FAIL: dropping $pkg from the list was not reported"; missed=$((missed + 1))
    fi
  done
  if [ "$missed" -gt 0 ] || [ "$tried" -eq 0 ]; then
    echo "check_runtime_deps: self-test: $missed of $tried removals missed"; exit 1
  fi
  echo "check_runtime_deps: self-test OK: each of $tried removals from the list was reported"
  exit 0
fi

declare -A listed=() base=()
for p in "${BASE_PACKAGES[@]}"; do base["$p"]=1; done
if [ "$derive" -eq 0 ]; then
  if [ ! -r "$packages_file" ]; then
    echo "check_runtime_deps: cannot read package list '$packages_file'" >&2
    exit 2
  fi
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line%%#*}"
    for word in $line; do listed["$word"]=1; done
  done <"$packages_file"
fi

problems=0
problem() { echo "check_runtime_deps: FAIL $*"; problems=$((problems + 1)); }

# 1. ldd every binary: library soname -> resolved path, per binary.
declare -A lib_path=()    # "<binary>|<soname>" -> path
declare -a lib_keys=()
declare -A all_paths=()   # path -> 1
for bin in "${binaries[@]}"; do
  if [ ! -f "$bin" ]; then problem "$bin: no such file"; continue; fi
  if [ "$(head -c4 "$bin" | od -An -c | tr -d ' \n')" != '177ELF' ]; then
    problem "$bin: not an ELF binary"; continue
  fi
  if ! out="$(LC_ALL=C ldd "$bin" 2>&1)"; then
    if grep -q 'not a dynamic executable' <<<"$out"; then
      echo "check_runtime_deps: note: $bin is statically linked; nothing to check" >&2
    else
      problem "$bin: ldd failed: $(head -n1 <<<"$out")"
    fi
    continue
  fi
  while IFS= read -r l; do
    l="${l#"${l%%[![:space:]]*}"}"
    case "$l" in
      linux-vdso.so*|linux-gate.so*|"") continue ;;
      *"=> not found"*) problem "$(basename "$bin"): ${l%% *} not found by ldd (no package on this machine provides it)"; continue ;;
      *" => "*) soname="${l%% =>*}"; path="${l#*=> }"; path="${path%% (*}" ;;
      /*) path="${l%% (*}"; soname="$(basename "$path")" ;;   # the dynamic loader
      *) continue ;;
    esac
    [ -n "$path" ] || continue
    lib_path["$bin|$soname"]="$path"
    lib_keys+=("$bin|$soname")
    all_paths["$path"]=1
  done <<<"$out"
done

# 2. One dpkg-query call for every candidate path. Debian 12 is /usr-merged
#    but dpkg records each file under the path its package ships (/lib/... or
#    /usr/lib/...), and ldd may name a symlink: try both spellings of both the
#    path and its target.
declare -A candidates=()
for path in "${!all_paths[@]}"; do
  for p in "$path" "$(readlink -f "$path")"; do
    candidates["$p"]=1
    case "$p" in
      /usr/lib/*|/usr/lib64/*) candidates["${p#/usr}"]=1 ;;
      /lib/*|/lib64/*) candidates["/usr$p"]=1 ;;
    esac
  done
done
declare -A owner_of=()    # candidate path -> package
if [ "${#candidates[@]}" -gt 0 ]; then
  while IFS= read -r l; do
    case "$l" in diversion*) continue ;; esac
    pkgs="${l%%: /*}"; file="/${l#*: /}"
    [ "$pkgs" != "$l" ] || continue
    pkg="${pkgs%%,*}"; pkg="${pkg%%:*}"
    owner_of["$file"]="$pkg"
  done < <(LC_ALL=C dpkg-query -S "${!candidates[@]}" 2>/dev/null)
fi
owner() {
  local path="$1" p
  for p in "$path" "${path#/usr}" "/usr$path" "$(readlink -f "$path")"; do
    if [ -n "${owner_of[$p]:-}" ]; then echo "${owner_of[$p]}"; return; fi
  done
  local real; real="$(readlink -f "$path")"
  for p in "${real#/usr}" "/usr$real"; do
    if [ -n "${owner_of[$p]:-}" ]; then echo "${owner_of[$p]}"; return; fi
  done
}

# 3. Check (or, with --derive, tabulate) per binary and package.
declare -A need_libs=()   # "<binary>|<package>" -> "lib1 lib2 ..."
declare -a need_keys=()
declare -A derived=()     # package -> "lib1 lib2 ..." (all binaries)
for key in "${lib_keys[@]}"; do
  bin="${key%%|*}"; soname="${key#*|}"; path="${lib_path[$key]}"
  pkg="$(owner "$path")"
  if [ -z "$pkg" ]; then
    problem "$(basename "$bin"): $soname ($path) belongs to no Debian package; the runtime image would not have it"
    continue
  fi
  [ -n "${base[$pkg]:-}" ] && continue
  case " ${derived[$pkg]:-} " in *" $soname "*) ;; *) derived["$pkg"]="${derived[$pkg]:+${derived[$pkg]} }$soname" ;; esac
  [ -n "${listed[$pkg]:-}" ] && continue
  if [ -z "${need_libs[$bin|$pkg]:-}" ]; then need_keys+=("$bin|$pkg"); fi
  need_libs["$bin|$pkg"]="${need_libs[$bin|$pkg]:+${need_libs[$bin|$pkg]} }$soname"
done

if [ "$derive" -eq 1 ]; then
  echo "# packages outside debian:12-slim that ${binaries[*]} load:"
  for pkg in $(printf '%s\n' "${!derived[@]}" | sort); do
    printf '%-22s # %s\n' "$pkg" "${derived[$pkg]}"
  done
  exit 0
fi

for key in "${need_keys[@]}"; do
  bin="${key%%|*}"; pkg="${key#*|}"
  read -r -a libs <<<"${need_libs[$key]}"
  more=""; [ "${#libs[@]}" -gt 1 ] && more=" and $(( ${#libs[@]} - 1 )) more"
  problem "$(basename "$bin"): needs package $pkg (${libs[0]}$more), missing from $(basename "$packages_file")"
done

# Listed packages no binary needs are fine (ca-certificates is data, not a
# library) but worth knowing about when trimming the image.
unused=()
for pkg in "${!listed[@]}"; do
  [ -n "${derived[$pkg]:-}" ] || unused+=("$pkg")
done
if [ "${#unused[@]}" -gt 0 ]; then
  echo "check_runtime_deps: note: listed but loaded by none of these binaries: $(printf '%s\n' "${unused[@]}" | sort | tr '\n' ' ')" >&2
fi

if [ "$problems" -gt 0 ]; then
  echo "check_runtime_deps: $problems problem(s) in ${#binaries[@]} binary(ies)"
  exit 1
fi
echo "check_runtime_deps: OK: ${#lib_keys[@]} libraries of ${#binaries[@]} binary(ies) all come from debian:12-slim or $(basename "$packages_file")"
exit 0

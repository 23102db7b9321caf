#!/usr/bin/env bash
# check_dockerfile.sh: static checks of deploy/Dockerfile and .dockerignore
# (no Docker engine needed). Complements check_runtime_deps.sh, which checks
# the runtime stage's libraries against the binaries.
#
# Usage: tests/deploy/check_dockerfile.sh [DOCKERFILE]
# Output: one line per problem; exit 0 clean, 1 on a problem.
set -uo pipefail
readonly ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dockerfile="${1:-${ROOT}/deploy/Dockerfile}"
dockerignore="$(dirname "$dockerfile")/../.dockerignore"
[ -f "$dockerignore" ] || dockerignore="${ROOT}/.dockerignore"

problems=0
problem() { echo "check_dockerfile: FAIL $*"; problems=$((problems + 1)); }
[ -r "$dockerfile" ] || { echo "check_dockerfile: cannot read $dockerfile" >&2; exit 2; }

# Instructions with continuation lines joined, comments dropped.
instructions="$(sed -e '/^[[:space:]]*#/d' "$dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta')"
runtime="$(awk '/^FROM /{stage=$0} stage ~ / AS runtime$/' <<<"$instructions")"
[ -n "$runtime" ] || problem "no 'FROM ... AS runtime' stage"
last_stage="$(grep '^FROM ' <<<"$instructions" | tail -n1)"
[[ "$last_stage" == *" AS runtime" ]] || problem "the runtime stage must be the last one (what 'docker build' ships by default)"

base="$(sed -n 's/^ARG DEBIAN_IMAGE=//p' <<<"$instructions")"
[[ "$base" == "debian:12-slim" || "$base" == debian:bookworm-slim* ]] || problem "base image must be debian:12-slim (ARG DEBIAN_IMAGE), found '${base}'"
while read -r from; do
  [[ "$from" == 'FROM ${DEBIAN_IMAGE} '* ]] || problem "stage not on \${DEBIAN_IMAGE}: $from"
done < <(grep '^FROM ' <<<"$instructions")

grep -q 'scripts/install-deps.sh' <<<"$instructions" || problem "build stage must install the -dev packages with scripts/install-deps.sh"
grep -q -- '-DCMAKE_BUILD_TYPE=Release' <<<"$instructions" || problem "build must be -DCMAKE_BUILD_TYPE=Release"
grep -q -- '--target wxvaultd wxvault-fake-wechat' <<<"$instructions" || problem "build must build only the targets wxvaultd and wxvault-fake-wechat"
grep -q 'check_runtime_deps.sh' <<<"$instructions" || problem "build stage should run tests/deploy/check_runtime_deps.sh on the binaries"

grep -q 'runtime-packages.txt' <<<"$runtime" || problem "runtime stage must install the packages of deploy/runtime-packages.txt"
grep -q 'apt-get install [^|;&]*--no-install-recommends' <<<"$runtime" || problem "runtime apt-get install must use --no-install-recommends"
grep -q 'rm -rf /var/lib/apt/lists' <<<"$runtime" || problem "runtime stage must remove /var/lib/apt/lists"
grep -Eq -- '-dev([[:space:]]|$)' <<<"$(grep -v '^COPY --from' <<<"$runtime")" && problem "runtime stage names a -dev package"
grep -Eq '^USER 65532(:65532)?$' <<<"$runtime" || problem "runtime stage must end as USER 65532:65532 (non-root)"
user_lines="$(grep '^USER ' <<<"$runtime" | tail -n1)"
[[ "$user_lines" == USER\ 65532* ]] || problem "the last USER must be 65532, found '${user_lines}'"
grep -q 'useradd .*--uid 65532' <<<"$runtime" || problem "runtime stage must create the user 'wxvault' with uid 65532"
grep -q '^VOLUME \["/var/lib/wxvault"\]' <<<"$runtime" || problem 'runtime stage must declare VOLUME ["/var/lib/wxvault"]'
grep -q '^ENTRYPOINT \["/usr/local/bin/wxvaultd"\]' <<<"$runtime" || problem 'ENTRYPOINT must be ["/usr/local/bin/wxvaultd"]'
grep -q '^CMD \[' <<<"$runtime" || problem "runtime stage must set CMD (else debian's CMD [\"bash\"] becomes wxvaultd's argument)"
grep -q 'COPY --from=build /src/build/service/wxvaultd /usr/local/bin/wxvaultd' <<<"$runtime" || problem "runtime stage must copy build/service/wxvaultd to /usr/local/bin"

# No secrets baked in: no ENV/ARG carrying secret-like values, no secret files copied.
while read -r line; do
  [ -n "$line" ] || continue
  if grep -Eiq '(SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE|API_?KEY|MASTER_?KEY)[A-Z_]*=' <<<"$line" \
     && ! grep -Eiq '_FILE=' <<<"$line"; then
    problem "secret-like value in '$line' (secrets come from files mounted at run time)"
  fi
done < <(grep -E '^(ENV|ARG|LABEL) ' <<<"$instructions")
grep -Eiq '^(COPY|ADD) .*(keyring|\.key|\.pem|secret|token)' <<<"$(grep -v 'check_runtime_deps\|--from=build' <<<"$instructions")" \
  && problem "a COPY/ADD names a key, secret or token file"

# .dockerignore: an allowlist that keeps secrets and build trees out.
if [ ! -f "$dockerignore" ]; then
  problem ".dockerignore is missing"
else
  first="$(grep -v '^[[:space:]]*#' "$dockerignore" | grep -v '^[[:space:]]*$' | head -n1)"
  [ "$first" = "*" ] || problem ".dockerignore must start with '*' (allowlist), found '${first}'"
  for pat in '**/node_modules/' '**/*.pem' '**/*.key'; do
    grep -qxF -- "$pat" "$dockerignore" || problem ".dockerignore must exclude $pat"
  done
  for need in '!CMakeLists.txt' '!scripts/install-deps.sh' '!deploy/runtime-packages.txt' '!tests/'; do
    grep -qxF -- "$need" "$dockerignore" || problem ".dockerignore must allow $need (the build needs it)"
  done
fi

if [ "$problems" -gt 0 ]; then echo "check_dockerfile: $problems problem(s)"; exit 1; fi
echo "check_dockerfile: OK: $(basename "$dockerfile") and .dockerignore"

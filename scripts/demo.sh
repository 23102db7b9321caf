#!/usr/bin/env bash
# Installs dependencies, builds wxvaultd and starts it in --demo mode
# (in-process fake WeChat, throwaway key). Extra arguments go to wxvaultd.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${WXVAULT_JOBS:-2}"
if [ ! -x build/service/wxvaultd ]; then
  echo "wxvaultd is not built yet: the server lands with issue 4 (the vault library and its tests are built)." >&2
  exit 1
fi
exec build/service/wxvaultd --demo "$@"

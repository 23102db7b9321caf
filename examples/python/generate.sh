#!/usr/bin/env bash
# Generates the wxvault Python stubs once, for projects that import them
# instead of generating at run time (login_flow.py does the latter).
#   examples/python/generate.sh [OUT_DIR]     (default: examples/python/gen)
# Then: PYTHONPATH=OUT_DIR, `from wxvault.v1 import token_vault_pb2, token_vault_pb2_grpc`.
# Needs Debian's protobuf-compiler and protobuf-compiler-grpc: the protoc bundled
# with python3-grpc-tools (Debian 12) is too old for the API's file options.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
proto_root="${here}/../../proto"
out="${1:-${here}/gen}"
protoc="${PROTOC:-protoc}"
plugin="${GRPC_PYTHON_PLUGIN:-$(command -v grpc_python_plugin || true)}"
[ -n "${plugin}" ] || { echo "grpc_python_plugin not found (apt-get install protobuf-compiler-grpc)" >&2; exit 1; }
mkdir -p "${out}"
"${protoc}" -I"${proto_root}" --python_out="${out}" --grpc_python_out="${out}" \
  --plugin=protoc-gen-grpc_python="${plugin}" "${proto_root}"/wxvault/v1/*.proto
echo "generated stubs in ${out}"

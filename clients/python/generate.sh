#!/usr/bin/env bash
# Regenerates clients/python/gen from proto/ with grpcio-tools, pinned in
# clients/python/requirements.txt and installed into .tools/python by scripts/setup.sh.
# The output is committed (like src/gen and clients/go/gen); test/ops/python-client.test.ts
# fails when it is stale. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
py=.tools/python/bin/python
[ -x "$py" ] || { echo "no $py: run scripts/setup.sh" >&2; exit 1; }
out="${1:-clients/python/gen}"
rm -rf "$out" && mkdir -p "$out"
# grpc_tools.protoc adds its bundled well-known protos (google/protobuf/any.proto) to the path.
"$py" -m grpc_tools.protoc -Iproto --python_out="$out" --grpc_python_out="$out" \
  proto/tierbook/v1/*.proto proto/google/rpc/status.proto

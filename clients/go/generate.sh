#!/usr/bin/env bash
# Regenerates clients/go/gen from proto/ with buf and the pinned Go plugins. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOBIN="$PWD/.tools/bin"
[ -x .tools/bin/protoc-gen-go ] || go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
[ -x .tools/bin/protoc-gen-go-grpc ] || go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
rm -rf clients/go/gen
npx buf generate --template clients/go/buf.gen.go.yaml

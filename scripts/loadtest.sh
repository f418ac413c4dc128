#!/usr/bin/env bash
# npm run loadtest -- <scenario> | sweep <scenario> | list  [options]
# Builds the project, installs the pinned ghz when it is missing, then hands over to the
# runner (loadtest/main.ts). Options are listed by `npm run loadtest -- --help`.
set -euo pipefail
cd "$(dirname "$0")/.."

GHZ_VERSION=v0.120.0   # pinned: ghz's JSON report shape is what loadtest/ghz-result.ts reads

find_ghz() {
  for c in "${GHZ_BIN:-}" "$PWD/.tools/bin/ghz" "$(go env GOPATH 2>/dev/null)/bin/ghz" "$(command -v ghz || true)"; do
    if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return 0; fi
  done
  return 1
}

if ! GHZ_BIN=$(find_ghz); then
  command -v go >/dev/null || { echo "loadtest: ghz is missing and Go is not installed to build it" >&2; exit 1; }
  echo "installing ghz $GHZ_VERSION into .tools/bin ..."
  mkdir -p .tools/bin
  GOBIN="$PWD/.tools/bin" go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
  GHZ_BIN="$PWD/.tools/bin/ghz"
fi
export GHZ_BIN

# tsc emits even when files other engineers are still writing have type errors; the runner
# only needs its own files, so a failed type-check is reported but does not stop the run.
npx tsc -p tsconfig.json >/dev/null 2>&1 || echo "loadtest: tsc reported errors (continuing with what was emitted)" >&2
[ -f dist/loadtest/main.js ] || { echo "loadtest: dist/loadtest/main.js was not built" >&2; exit 1; }

exec node dist/loadtest/main.js "$@"

#!/usr/bin/env bash
# `npm test`: install what is missing, lint the API, check generated code is fresh,
# type-check and build, then run every test against real Redis, Postgres and nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
# Compiled tests whose source is gone must not run: build the tests afresh.
rm -rf dist/test
bash scripts/setup.sh

echo "[test] buf lint"
npx buf lint

echo "[test] generated code is up to date"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
npx buf generate -o "$tmp"
if ! diff -r src/gen "$tmp/src/gen" >/dev/null; then
  echo "src/gen is stale: run \`npm run generate\` and commit the result" >&2
  diff -r src/gen "$tmp/src/gen" | head -20 >&2
  exit 1
fi

echo "[test] node --test"
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
# Each test file starts its own servers on free ports, so files may run side by side.
# A test that hangs (a stream nobody ends, a server that never answers) fails after 3
# minutes instead of holding CI forever; the few longer tests set their own timeout.
# Under CI=true a test whose tool (Go, ghz) is missing fails instead of skipping
# (test/support/required-tool.ts).
# A failure here still lets the cluster leg run, so one run shows every failure.
main_rc=0
node --test --test-concurrency=2 --test-timeout=180000 "${files[@]}" || main_rc=$?

echo "[test] cluster leg: the integration tests again, each file on its own 3-master Redis Cluster"
# TIERBOOK_TEST_REDIS_CLUSTER=1 makes every switchable test Redis (test/support/test-redis.ts)
# a Redis Cluster reached through a redis-cluster:// URL, as `npm run stack -- --redis-cluster 3`.
cluster_files=(
  dist/test/gateway/gateway.test.js
  dist/test/gateway/auth-lookups.test.js
  dist/test/gateway/stream-admission.test.js
  dist/test/protection/rate-limit.test.js
  dist/test/matching/order-lifecycle.test.js
  dist/test/matching/book-functions.test.js
  dist/test/matching/execution-stream.test.js
  dist/test/api/stream-live.test.js
  dist/test/api/trade-order.test.js
  dist/test/analytics/analytics-stack.test.js
  dist/test/analytics/candles-and-book.test.js
  dist/test/analytics/rollups.test.js
  dist/test/sync/sync-thread.test.js
  dist/test/sync/retention.test.js
  dist/test/sync/rebuild.test.js
)
cluster_rc=0
TIERBOOK_TEST_REDIS_CLUSTER=1 node --test --test-concurrency=2 --test-timeout=180000 "${cluster_files[@]}" || cluster_rc=$?
if [ "$main_rc" -ne 0 ] || [ "$cluster_rc" -ne 0 ]; then
  echo "[test] failed: main run exit $main_rc, cluster leg exit $cluster_rc" >&2
  exit 1
fi

#!/usr/bin/env bash
# The local stack: `up` (foreground; Ctrl-C stops it; --detach returns; --redis-cluster N runs
# Redis as an N-master Redis Cluster), `down`, `status`.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd="${1:-up}"; shift || true
case "$cmd" in
  up) bash scripts/setup.sh; exec node dist/src/devstack/cli.js up "$@" ;;
  down|status)
    if [ ! -f dist/src/devstack/cli.js ]; then echo "tierbook stack is not running"; exit 0; fi
    exec node dist/src/devstack/cli.js "$cmd" ;;
  *) echo "usage: scripts/stack.sh up [--detach] [--hosts N] [--redis-cluster N] | down | status" >&2; exit 2 ;;
esac

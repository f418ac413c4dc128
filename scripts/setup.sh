#!/usr/bin/env bash
# Installs everything tierbook needs on a fresh Debian machine, then builds. Quick and quiet
# when everything is already there, so every entry point (stack, tests, load tests) runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

# 1. From Debian's packages: Redis, Postgres, nginx, Prometheus (and python3-venv). We run our own instances on
#    non-default loopback ports, so the packages' system services are kept from starting.
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server redis-tools)
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
# Python's venv module, for the project venv of step 4 (Debian splits it out of python3).
[ -x .tools/python/bin/python ] || python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
# Operators' tools the suite runs for real: Prometheus and promtool (test/ops/prometheus.test.ts,
# the alert rules' unit tests), rsvg-convert (load-test charts checked as images).
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v rsvg-convert >/dev/null 2>&1 || missing+=(librsvg2-bin)
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  say "installing ${missing[*]} with apt-get"
  added_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -n "$added_policy" ] && $sudo rm -f /usr/sbin/policy-rc.d
fi

# 2. npm packages, at the versions in package-lock.json. Not `npm ci`: npm 11 writes a lock
#    without @bufbuild/buf's packages for other platforms and then refuses that same lock in
#    `npm ci`; `npm install --no-save` installs the locked versions and leaves the lock as is.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm install --no-save --no-audit --no-fund --loglevel=error
fi

# 3. Go tools, pinned: ghz for load tests, grpcurl for smoke calls, grpc-health-probe for
#    the health checks operators and orchestrators run (docs/operations.md).
export GOBIN="$PWD/.tools/bin"
if [ ! -x .tools/bin/ghz ]; then say "installing ghz"; go install github.com/bojand/ghz/cmd/ghz@v0.120.0; fi
if [ ! -x .tools/bin/grpcurl ]; then say "installing grpcurl"; go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.1; fi
if [ ! -x .tools/bin/grpc-health-probe ]; then say "installing grpc-health-probe"; go install github.com/grpc-ecosystem/grpc-health-probe@v0.4.63; fi

# 4. Python's grpcio, grpcio-tools and protobuf, pinned in clients/python/requirements.txt, in a
#    project-local venv (Debian's python3-grpc-tools is too old for today's protobuf): the Python
#    client example and its generated stubs (clients/python), and the three-clients nginx test.
if [ ! -x .tools/python/bin/python ] || [ clients/python/requirements.txt -nt .tools/python/pyvenv.cfg ]; then
  say "installing the Python client's packages into .tools/python"
  python3 -m venv .tools/python
  .tools/python/bin/pip install --quiet --disable-pip-version-check -r clients/python/requirements.txt
  touch .tools/python/pyvenv.cfg
fi

# 5. Build.
npx tsc -p tsconfig.json

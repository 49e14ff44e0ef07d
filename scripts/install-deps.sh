#!/usr/bin/env bash
# Installs everything the build and the tests need on a fresh machine:
# Go modules, the npm packages of e2e/ (pinned in its package-lock.json) and
# Debian's chromium for the browser test (no browser download from npm).
# --no-browser skips chromium (make dev needs only the npm bundle).
set -euo pipefail
cd "$(dirname "$0")/.."

go mod download

# staticcheck, pinned (the Makefile's vet step uses it; it falls back to `go run`
# of the same version when the binary is missing or another version).
STATICCHECK_VERSION=0.8.2
sc="$(go env GOPATH)/bin/staticcheck"
if [ -n "$(go env GOBIN)" ]; then sc="$(go env GOBIN)/staticcheck"; fi
if ! "$sc" -version 2>/dev/null | grep -q "($STATICCHECK_VERSION)"; then
  go install "honnef.co/go/tools/cmd/staticcheck@v$STATICCHECK_VERSION"
fi

if [ -f e2e/package.json ]; then
  if [ ! -d e2e/node_modules ] || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
    (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

if [ "${1:-}" = "--no-browser" ]; then
  exit 0
fi

if ! command -v chromium >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  echo "installing Debian's chromium for the browser test"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

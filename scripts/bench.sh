#!/usr/bin/env bash
# `make bench` (after `make build`): builds the benchmark driver (./internal/bench) to
# bin/bench and runs it from the repository root. The driver starts the
# emulator, the handler and a baseline server on free loopback ports, prints
# the report on stdout and stops everything it started, also on Ctrl-C.
# Extra flags: `scripts/bench.sh -json`, or BENCH_FLAGS="-clients 200" make bench
# (`bin/bench -h` lists them).
set -euo pipefail
cd "$(dirname "$0")/.."

for f in handler bin/signalr-emulator; do
  if [ ! -x "$f" ]; then
    echo "bench: $f is missing; run \`make build\` (make bench builds first)" >&2
    exit 1
  fi
done
go build -trimpath -o bin/bench ./internal/bench
# shellcheck disable=SC2086 # BENCH_FLAGS is a list of flags
exec bin/bench ${BENCH_FLAGS:-} "$@"

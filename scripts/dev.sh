#!/usr/bin/env bash
# The local stack for `make dev` (after `make deps build`): the SignalR
# emulator on 127.0.0.1:8888 and the handler on 127.0.0.1:7071 with the dev
# chat page. Ctrl-C stops both and exits 0.
#
# EMULATOR_ADDR and HANDLER_PORT choose other addresses; HANDLER_BIN and
# EMULATOR_BIN other executables (the script's test uses them).
set -euo pipefail
cd "$(dirname "$0")/.."

EMULATOR_ADDR=${EMULATOR_ADDR:-127.0.0.1:8888}
HANDLER_PORT=${HANDLER_PORT:-7071}
HANDLER_BIN=${HANDLER_BIN:-./handler}
EMULATOR_BIN=${EMULATOR_BIN:-bin/signalr-emulator}
# The emulator's well-known development key (not a secret).
DEV_KEY=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH
DEV_CONN="Endpoint=http://localhost;Port=${EMULATOR_ADDR##*:};AccessKey=${DEV_KEY};Version=1.0;"

for f in "$EMULATOR_BIN" "$HANDLER_BIN"; do
  if [ ! -x "$f" ]; then
    echo "dev: $f is missing; run \`make build\` (or \`make dev\`, which builds first)" >&2
    exit 1
  fi
done
if [ ! -f e2e/node_modules/@microsoft/signalr/dist/browser/signalr.min.js ]; then
  echo "dev: warning: the SignalR browser bundle is not installed; run \`make deps\` or the chat page cannot connect" >&2
fi

# A port something already answers on (a second `make dev`, `func start`,
# another app) would make the handler or the emulator fail, or worse, make
# the readiness checks below reach the other stack: refuse to start.
port_busy() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}
busy=""
for hp in "${EMULATOR_ADDR%:*} ${EMULATOR_ADDR##*:} emulator" "127.0.0.1 ${HANDLER_PORT} handler"; do
  set -- $hp
  if port_busy "$1" "$2"; then
    busy=1
    echo "dev: port $2 (the $3's, $1:$2) is already in use: another \`make dev\` or \`func start\`, or another app." >&2
    if command -v ss >/dev/null 2>&1; then
      holder=$(ss -Hltnp "sport = :$2" 2>/dev/null | grep -o 'users:(.*)' | head -n1 || true)
      [ -n "$holder" ] && echo "dev:   held by $holder" >&2
    fi
  fi
done
if [ -n "$busy" ]; then
  echo "dev: stop it, or choose other ports: HANDLER_PORT=7072 EMULATOR_ADDR=127.0.0.1:8889 make dev" >&2
  exit 1
fi

# The children run in their own session when setsid exists, so Ctrl-C
# reaches only this script, which stops them in order; otherwise they would
# get the terminal's SIGINT too and exit on their own first.
detach=()
if command -v setsid >/dev/null 2>&1; then detach=(setsid); fi

emulator_pid=""
handler_pid=""
stopping=""

stop() {
  [ -n "$stopping" ] && return
  stopping=1
  trap '' INT TERM
  [ -n "$handler_pid$emulator_pid" ] || return 0
  echo "dev: stopping"
  for pid in $handler_pid $emulator_pid; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  # Both exit within their own shutdown timeouts (10 s, 5 s); give them a
  # little longer, then kill.
  for _ in $(seq 1 120); do
    alive=""
    for pid in $handler_pid $emulator_pid; do
      if kill -0 "$pid" 2>/dev/null; then alive=1; fi
    done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for pid in $handler_pid $emulator_pid; do
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
got_signal=""
trap 'got_signal=1' INT TERM
trap 'stop' EXIT

# wait_ready name pid url: until url answers while pid, the process this
# script started, is alive; a process that exits first (its own log says
# why) fails the start.
wait_ready() {
  for _ in $(seq 1 100); do
    if [ -n "$got_signal" ]; then exit 0; fi
    if ! kill -0 "$2" 2>/dev/null; then
      echo "dev: the $1 exited before it was ready (see its log above)" >&2
      exit 1
    fi
    if curl -s -o /dev/null --max-time 1 "$3" && kill -0 "$2" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "dev: the $1 does not answer at $3" >&2
  exit 1
}

"${detach[@]}" "$EMULATOR_BIN" -addr "$EMULATOR_ADDR" -upstream "http://127.0.0.1:${HANDLER_PORT}/api/upstream" &
emulator_pid=$!
wait_ready emulator "$emulator_pid" "http://${EMULATOR_ADDR}/api/health"

AzureSignalRConnectionString="$DEV_CONN" \
FUNCTIONS_CUSTOMHANDLER_PORT="$HANDLER_PORT" \
DEV_CHAT_PAGE=true \
ALLOW_ANONYMOUS=true \
CORS_ALLOWED_ORIGINS="${CORS_ALLOWED_ORIGINS:-http://localhost:${HANDLER_PORT},http://127.0.0.1:${HANDLER_PORT}}" \
  "${detach[@]}" "$HANDLER_BIN" &
handler_pid=$!
wait_ready handler "$handler_pid" "http://127.0.0.1:${HANDLER_PORT}/"

echo
echo "Open http://localhost:${HANDLER_PORT}/chat/"
echo "(emulator: ${DEV_CONN%%AccessKey=*}AccessKey=<dev key>; Ctrl-C stops both)"
echo

# Return as soon as either process exits or on Ctrl-C (SIGINT) / SIGTERM.
# The two run in the background, so they ignore SIGINT and only stop() ends
# them. A bare `wait -n` on them would hang for good when the signal lands
# just before it starts (its trap has already run by then); waiting on a
# short sleep instead checks both conditions at least every 0.2 s, and a
# signal during that wait ends it at once.
set +e
exited=""
while [ -z "$got_signal" ]; do
  for pid in $handler_pid $emulator_pid; do
    kill -0 "$pid" 2>/dev/null || exited=$pid
  done
  [ -n "$exited" ] && break
  sleep 0.2 &
  wait $! 2>/dev/null
done
if [ -n "$got_signal" ]; then
  exit 0
fi
wait "$exited"
status=$?
name=handler
[ "$exited" = "$emulator_pid" ] && name=emulator
echo "dev: the $name exited unexpectedly (status $status); stopping the other" >&2
exit "$status"

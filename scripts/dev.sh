#!/usr/bin/env bash
# The local stack for `make dev` (after `make deps build`): the SignalR
# emulator on 127.0.0.1:8888 and the handler on 127.0.0.1:7071 with the dev
# chat page. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

EMULATOR_ADDR=${EMULATOR_ADDR:-127.0.0.1:8888}
HANDLER_PORT=${HANDLER_PORT:-7071}
# The emulator's well-known development key (not a secret).
DEV_KEY=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH
DEV_CONN="Endpoint=http://localhost;Port=${EMULATOR_ADDR##*:};AccessKey=${DEV_KEY};Version=1.0;"

for f in bin/signalr-emulator handler; do
  if [ ! -x "$f" ]; then
    echo "dev: $f is missing; run \`make build\` (or \`make dev\`, which builds first)" >&2
    exit 1
  fi
done
if [ ! -f e2e/node_modules/@microsoft/signalr/dist/browser/signalr.min.js ]; then
  echo "dev: warning: the SignalR browser bundle is not installed; run \`make deps\` or the chat page cannot connect" >&2
fi

emulator_pid=""
handler_pid=""
stopping=""

stop() {
  [ -n "$stopping" ] && return
  stopping=1
  trap '' INT TERM
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

wait_http() { # name url
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null --max-time 1 "$2"; then return 0; fi
    sleep 0.1
  done
  echo "dev: $1 does not answer at $2" >&2
  return 1
}

bin/signalr-emulator -addr "$EMULATOR_ADDR" &
emulator_pid=$!
wait_http emulator "http://${EMULATOR_ADDR}/api/health"

AzureSignalRConnectionString="$DEV_CONN" \
FUNCTIONS_CUSTOMHANDLER_PORT="$HANDLER_PORT" \
DEV_CHAT_PAGE=true \
ALLOW_ANONYMOUS=true \
CORS_ALLOWED_ORIGINS="${CORS_ALLOWED_ORIGINS:-http://localhost:${HANDLER_PORT},http://127.0.0.1:${HANDLER_PORT}}" \
  ./handler &
handler_pid=$!
wait_http handler "http://127.0.0.1:${HANDLER_PORT}/"

echo
echo "Open http://localhost:${HANDLER_PORT}/chat/"
echo "(emulator: ${DEV_CONN%%AccessKey=*}AccessKey=<dev key>; Ctrl-C stops both)"
echo

# Return as soon as either process exits or on Ctrl-C (SIGINT) / SIGTERM.
set +e
wait -n "$emulator_pid" "$handler_pid"
status=$?
if [ -n "$got_signal" ]; then
  stop
  exit 0
fi
echo "dev: a process exited (status $status)" >&2
exit "$status"

#!/usr/bin/env bash
# Where sender verification's CPU goes, counted in instructions (steady on a shared machine,
# where wall-clock figures are not): runs replyd under callgrind with verification on or
# off against NSD (bench/lib/nsd.sh), sends WARM messages (caches filled), zeroes the
# counters, sends MESSAGES more over SESSIONS sessions, and prints instructions per message
# and the annotated profile's top lines.
#
#   bench/verify-callgrind.sh [BINARY] [on|off]   # default target/release/replyd, on
#   MESSAGES=400 WARM=50 SESSIONS=10 bench/verify-callgrind.sh
#
# Needs valgrind, nsd, smtp-source (postfix). OUT=DIR keeps the callgrind file there.
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN=$(realpath "${1:-$BENCH/../target/release/replyd}")
MODE=${2:-on}
MESSAGES=${MESSAGES:-400}
WARM=${WARM:-50}
SESSIONS=${SESSIONS:-10}
SIZE=${SIZE:-1024}
PORT=${PORT:-25298}
SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
TMP=$(mktemp -d /tmp/replyd-callgrind.XXXXXX)
NSD_PID=
SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  [ -n "$NSD_PID" ] && kill "$NSD_PID" 2>/dev/null && wait "$NSD_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
. "$BENCH/lib/nsd.sh"
VERIFY=false
[ "$MODE" = on ] && VERIFY=true
cat >"$TMP/smtpd.toml" <<CONF
[server]
listen = ["127.0.0.1:$PORT"]
hostname = "mx.support.example.com"
domains = ["support.example.com"]
trusted_relays = []
[store]
path = "$TMP/replyd.sqlite3"
[limits]
max_connections_per_ip = 1000
max_connection_rate_per_ip = 0
max_message_rate_per_ip = 0
greeting_delay = "0s"
[security]
verify_senders = $VERIFY
[dns]
servers = ["127.0.0.1:$DNS_PORT"]
CONF
address=$("$BIN" --config "$TMP/smtpd.toml" conversation create --contact bench@example.org \
  | grep -o 'reply+[0-9a-f]*@support.example.com' | head -1)
valgrind --tool=callgrind --callgrind-out-file="$TMP/callgrind.out" \
  "$BIN" --config "$TMP/smtpd.toml" serve 2>"$TMP/log" &
SERVER=$!
for _ in $(seq 600); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.2
done
send() { "$SOURCE" -s "$SESSIONS" -m "$1" -l "$SIZE" -f sender@example.org -t "$address" "127.0.0.1:$PORT"; }
send "$WARM"
callgrind_control --zero "$SERVER" >/dev/null
send "$MESSAGES"
callgrind_control --dump "$SERVER" >/dev/null
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
SERVER=
dump=$(ls -t "$TMP"/callgrind.out* | grep -v '\.out$' | head -1)
total=$(callgrind_annotate "$dump" 2>/dev/null | grep -m1 'PROGRAM TOTALS' | tr -d ',' | awk '{print $1}')
echo "verification $MODE: $total instructions for $MESSAGES messages = $((total / MESSAGES)) per message"
callgrind_annotate --inclusive=yes "$dump" 2>/dev/null | sed -n '1,80p' | cut -c1-200
[ -z "${OUT:-}" ] || cp "$dump" "$OUT/callgrind-$MODE.out"

#!/usr/bin/env bash
# API reads under SMTP load, in one run against one `replyd serve` (release build):
#   1. SMTP alone (examples/load.rs: SESSIONS sessions, MESSAGES messages of 1 KiB), which
#      also fills the conversation the reads page through;
#   2. for 10 and 50 API clients (bench/api_load.rs: message by id and pages of 50,
#      alternating): the API alone for DURATION seconds, then the API and the same SMTP load at once.
# Prints each figure; loopback only. Knobs: SESSIONS (10), MESSAGES (20000), DURATION (20),
# CLIENTS ("10 50"), SKIP_BUILD (0).
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${SESSIONS:-10}
MESSAGES=${MESSAGES:-20000}
SECONDS_EACH=${DURATION:-20}
CLIENTS=${CLIENTS:-10 50}

[ "${SKIP_BUILD:-0}" = 1 ] || nice -n 10 cargo build --release --quiet --bin replyd --example load --example api_load
replyd=target/release/replyd
load=target/release/examples/load
api_load=target/release/examples/api_load

dir=$(mktemp -d /tmp/replyd-api-bench.XXXXXX)
serve_pid=
cleanup() {
  [ -z "$serve_pid" ] || kill "$serve_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

cat > "$dir/smtpd.toml" <<TOML
[server]
listen = ["127.0.0.1:0"]
hostname = "mx.bench"
domains = ["support.example.com"]
shutdown_grace = "2s"
[store]
path = "$dir/replyd.sqlite3"
[limits]
max_connections = 2000
max_connections_per_ip = 2000
max_connection_rate_per_ip = 0
max_message_rate_per_ip = 0
[http]
listen = ["127.0.0.1:0"]
max_concurrent_requests = 256
TOML
RUST_LOG=warn,replyd=info NO_COLOR=1 "$replyd" --config "$dir/smtpd.toml" serve 2>"$dir/serve.log" &
serve_pid=$!
logged() { sed -n "s/.*$1 addr=\([^ ]*\).*/\1/p" "$dir/serve.log" | head -n1; }
for _ in $(seq 100); do [ -n "$(logged 'listening for HTTP')" ] && break; sleep 0.1; done
smtp=$(logged 'listening for SMTP')
http=$(logged 'listening for HTTP')
key=$("$replyd" --config "$dir/smtpd.toml" api-key create --name bench 2>/dev/null)
read -r uuid address < <("$replyd" --config "$dir/smtpd.toml" conversation create --contact load@example.org | tr '\t' ' ')

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (shared: figures are noisy)"
smtp_load() { "$load" --addr "$smtp" --to "$address" --sessions "$SESSIONS" --messages "$MESSAGES"; }
echo "== SMTP alone ($SESSIONS sessions, $MESSAGES messages)"
smtp_load
max_id=$MESSAGES
for c in $CLIENTS; do
  echo "== API alone: $c clients, ${SECONDS_EACH} s"
  "$api_load" --addr "$http" --key "$key" --conversation "$uuid" --max-id "$max_id" --clients "$c" --seconds "$SECONDS_EACH"
  echo "== API ($c clients) and SMTP at once"
  "$api_load" --addr "$http" --key "$key" --conversation "$uuid" --max-id "$max_id" --clients "$c" --seconds "$SECONDS_EACH" >"$dir/api.out" &
  api_pid=$!
  smtp_load
  wait "$api_pid"
  cat "$dir/api.out"
done

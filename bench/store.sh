#!/usr/bin/env bash
# The stores side by side (bench/store_load.rs): 1 KiB messages into one node on SQLite, one
# node on PostgreSQL and two nodes on the same PostgreSQL, at 10/50/200 sessions. Starts a
# private PostgreSQL cluster (Debian's binaries, `initdb` into target/pg-bench, a free
# loopback port, fsync and synchronous_commit on: durable like the SQLite store) and stops
# it at the end.
#
#   bench/store.sh                       # MESSAGES=5000 SESSIONS=10,50,200 ROUNDS=1
#   MESSAGES=2000 ROUNDS=2 bench/store.sh
#   BEFORE=/tmp/store_load.old bench/store.sh   # an older build's store_load first, each round
#
# With BEFORE (a store_load binary of another build), each round runs it, then this build's,
# each on a database of its own (kept over the rounds): a before/after pair in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${MESSAGES:-5000}
SESSIONS=${SESSIONS:-10,50,200}
ROUNDS=${ROUNDS:-1}
BEFORE=${BEFORE:-}

bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed: apt-get install postgresql" >&2; exit 1; }
data="$PWD/target/pg-bench"
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
rm -rf "$data"; mkdir -p "$data"
[ "$(id -u)" = 0 ] && chown postgres: "$data"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
"${as_pg[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
  -o "-h 127.0.0.1 -p $port -k $data -c max_connections=100" start >/dev/null
trap '"${as_pg[@]}" "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$data"' EXIT
postmaster=$(head -1 "$data/postmaster.pid")

cargo build --release --example store_load
builds=("after:target/release/examples/store_load")
[ -n "$BEFORE" ] && builds=("before:$BEFORE" "${builds[@]}")
for b in "${builds[@]}"; do
  "${as_pg[@]}" "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE bench_${b%%:*}"
done
for round in $(seq 1 "$ROUNDS"); do
  for b in "${builds[@]}"; do
    name=${b%%:*}
    echo "round $round, $name (${b#*:}): $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    "${b#*:}" --pg-url "postgres://postgres@127.0.0.1:$port/bench_$name?sslmode=disable" \
      --sessions "$SESSIONS" --messages "$MESSAGES" --rounds 1 --pg-postmaster "$postmaster"
  done
done

#!/usr/bin/env bash
# A/B comparison of two replyd binaries under the same smtp-source load, alternating runs.
#
#   bench/compare.sh OLD_BINARY NEW_BINARY            # 1 KiB x 10 sessions, 6 runs each
#   RUNS=8 SESSIONS=200 MESSAGES=10000 SIZE=1024 bench/compare.sh old new
#   CONFIG_B='[activity]\nenabled = false' bench/compare.sh bin bin   # same binary, two configs
#
# Why: on a small VM one run of the same binary varies by 10-15 %, so a change worth 5 % is
# invisible in single runs and easy to "see" where there is none. This alternates A and B
# (fresh database each run, same config) and prints the mean and spread of msgs/s and of
# the receiver's CPU per message (user + system of the whole process, from /proc), which
# is the steadier of the two. Build the old binary with e.g.
#   git stash && cargo build --release && cp target/release/replyd /tmp/replyd-old && git stash pop
# Needs smtp-source (postfix) and sqlite3; bench/run.sh installs them.
set -euo pipefail

[ $# -eq 2 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
A=$(realpath "$1")
B=$(realpath "$2")
RUNS=${RUNS:-6}
SESSIONS=${SESSIONS:-10}
MESSAGES=${MESSAGES:-10000}
SIZE=${SIZE:-1024}
PORT=${PORT:-25299}
for tool in smtp-source sqlite3 python3; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "compare.sh: $tool is missing" >&2; exit 1; }
done
SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)

TMP=$(mktemp -d /tmp/replyd-compare.XXXXXX)
SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

DIRECT_LIMITS=
[ -z "${TRUSTED_RELAYS:-}" ] ||
  DIRECT_LIMITS=$'max_connection_rate_per_ip = 0\nmax_message_rate_per_ip = 0\ngreeting_delay = "0s"'
cat >"$TMP/smtpd.toml" <<EOF
[server]
listen = ["127.0.0.1:$PORT"]
hostname = "mx.support.example.com"
domains = ["support.example.com"]
${TRUSTED_RELAYS:+trusted_relays = $TRUSTED_RELAYS}
[store]
path = "$TMP/replyd.sqlite3"
[limits]
max_connections = 11000
max_connections_per_ip = 11000
$DIRECT_LIMITS
EOF
# CONFIG_A / CONFIG_B: TOML appended to one side's config (printf escapes, e.g. '\n').
# TRUSTED_RELAYS: `[server] trusted_relays` of both sides (e.g. '[]': loopback is then a
# direct client, checked like one, without the per-IP rates and the greeting delay; bench/verify-compare.sh).
printf '%b\n' "${CONFIG_A:-}" | cat "$TMP/smtpd.toml" - >"$TMP/A.toml"
printf '%b\n' "${CONFIG_B:-}" | cat "$TMP/smtpd.toml" - >"$TMP/B.toml"

# One run: prints "msgs_per_s cpu_ms_per_msg".
run() {
  local bin=$1 config=$TMP/$2.toml
  rm -f "$TMP"/replyd.sqlite3*
  local address
  address=$("$bin" --config "$config" conversation create --contact bench@example.org \
    | grep -o 'reply+[0-9a-f]*@support.example.com' | head -1)
  "$bin" --config "$config" serve 2>"$TMP/log" &
  SERVER=$!
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
  done
  local t0 t1 ticks
  t0=$(date +%s.%N)
  "$SOURCE" -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -f sender@example.org -t "$address" \
    "127.0.0.1:$PORT"
  t1=$(date +%s.%N)
  ticks=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
  kill "$SERVER"
  wait "$SERVER" || true
  SERVER=
  local stored
  stored=$(sqlite3 "$TMP/replyd.sqlite3" "SELECT COUNT(*) FROM messages WHERE direction = 'incoming'")
  [ "$stored" -eq "$MESSAGES" ] || { echo "compare.sh: $bin stored $stored of $MESSAGES" >&2; exit 1; }
  python3 -c "import os; t=$t1-$t0; print(f'{$MESSAGES/t:.1f} {$ticks*1000/os.sysconf(\"SC_CLK_TCK\")/$MESSAGES:.4f}')"
}

echo "A = $A"
echo "B = $B"
[ -z "${CONFIG_A:-}" ] || echo "A's config adds: ${CONFIG_A}"
[ -z "${CONFIG_B:-}" ] || echo "B's config adds: ${CONFIG_B}"
echo "$RUNS runs each, alternating; $SESSIONS sessions, $MESSAGES messages of $SIZE bytes"
for i in $(seq "$RUNS"); do
  for side in A B; do
    bin=$A
    [ "$side" = B ] && bin=$B
    echo "$side $(run "$bin" "$side")" | tee -a "$TMP/results"
  done
done
python3 - "$TMP/results" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    side, rate, cpu = line.split()
    rows.setdefault(side, []).append((float(rate), float(cpu)))
for side in ("A", "B"):
    rates = [r for r, _ in rows[side]]
    cpus = [c for _, c in rows[side]]
    print(f"{side}: median {statistics.median(rates):8.0f} msgs/s, mean {statistics.mean(rates):8.0f} "
          f"(sd {statistics.pstdev(rates):5.0f}); CPU median {statistics.median(cpus):.3f} ms/msg, "
          f"mean {statistics.mean(cpus):.3f} (sd {statistics.pstdev(cpus):.3f})")
a = statistics.median(r for r, _ in rows["A"])
b = statistics.median(r for r, _ in rows["B"])
ca = statistics.median(c for _, c in rows["A"])
cb = statistics.median(c for _, c in rows["B"])
print(f"B / A (medians): {b / a:.3f} msgs/s, {cb / ca:.3f} CPU per message")
EOF

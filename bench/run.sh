#!/usr/bin/env bash
# Side-by-side benchmark of replyd against Postfix smtp-sink (ceiling), a Postfix smtpd whose
# every message goes to the hold queue, an aiosmtpd + SQLite receiver, a mailin-embedded +
# SQLite receiver and fsync-sink (the least a durable receiver can do: one event loop, group
# commit of raw bytes with pwrite + fdatasync). All traffic stays on 127.0.0.0/8. See bench/README.md.
#
#   bench/run.sh                                   # everything, 3 rounds
#   CASES=1k-10 ROUNDS=1 MESSAGES=2000 bench/run.sh
#
# Knobs (environment):
#   ROUNDS=3            rounds per case; receivers alternate within each round, the order
#                       rotating from round to round; the table shows the median
#   MESSAGES=10000      messages per 1 KiB round (64 KiB: MESSAGES/5, 1 MiB: MESSAGES/50,
#                       or MESSAGES_64K / MESSAGES_1M)
#   CASES=...           comma list; default all:
#                       1k-1,1k-10,1k-50,1k-200,1k-10-reuse,1k-200-reuse,64k-10,1m-10,idle
#                       a case id is SIZE-SESSIONS[-reuse] (SIZE: 1k, 64k, 1m; -reuse: many
#                       messages per connection, else one message per connection) or `idle`
#   IDLE=10000          idle connections in the idle case
#   RECEIVERS=replyd,smtp-sink,postfix,aiosmtpd,mailin,fsync-sink
#   SENDER=sender@example.org   envelope sender given to smtp-source
#   PORT_BASE=25250     receivers listen on 127.0.0.1:PORT_BASE+1..6
#   RUN_TIMEOUT=900     seconds one smtp-source run may take before it counts as failed
#   IDLE_CONNECT_TIMEOUT=20  seconds the idle helper spends opening connections
#   PROBE_TIMEOUT=30    seconds the new client of the idle case waits for its 250
#   POSTFIX_MAXPROC=100 smtpd process limit of the Postfix instance (Postfix's default)
#   REPLYD_KEEP_LIMITS=0  1 = keep smtpd.toml's [limits] max_connections(_per_ip); by default
#                       both are raised to IDLE+1000 so the bench's load is not refused
#   SKIP_INSTALL=0 SKIP_BUILD=0  1 = do not install packages / do not run cargo
#   REPLYD_BIN=target/release/replyd  the replyd binary to run (an older build: SKIP_BUILD=1)
#   RESULTS=bench/results.md  where the Markdown report goes
#   KEEP_TMP=0          1 = keep the temp dir (logs, databases) for inspection
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
LIB="$BENCH/lib"

ROUNDS="${ROUNDS:-3}"
MESSAGES="${MESSAGES:-10000}"
MESSAGES_64K="${MESSAGES_64K:-$((MESSAGES / 5))}"
MESSAGES_1M="${MESSAGES_1M:-$((MESSAGES / 50))}"
((MESSAGES_64K >= 1)) || MESSAGES_64K=1
((MESSAGES_1M >= 1)) || MESSAGES_1M=1
CASES="${CASES:-1k-1,1k-10,1k-50,1k-200,1k-10-reuse,1k-200-reuse,64k-10,1m-10,idle}"
IDLE="${IDLE:-10000}"
RECEIVERS="${RECEIVERS:-replyd,smtp-sink,postfix,aiosmtpd,mailin,fsync-sink}"
SENDER="${SENDER:-sender@example.org}"
PORT_BASE="${PORT_BASE:-25250}"
RUN_TIMEOUT="${RUN_TIMEOUT:-900}"
IDLE_CONNECT_TIMEOUT="${IDLE_CONNECT_TIMEOUT:-20}"
PROBE_TIMEOUT="${PROBE_TIMEOUT:-30}"
POSTFIX_MAXPROC="${POSTFIX_MAXPROC:-100}"
REPLYD_KEEP_LIMITS="${REPLYD_KEEP_LIMITS:-0}"
SKIP_INSTALL="${SKIP_INSTALL:-0}"
SKIP_BUILD="${SKIP_BUILD:-0}"
RESULTS="${RESULTS:-$BENCH/results.md}"
KEEP_TMP="${KEEP_TMP:-0}"

REPLYD_BIN="${REPLYD_BIN:-$ROOT/target/release/replyd}"
MAILIN_DIR="$BENCH/peers/mailin"
MAILIN_BIN="$MAILIN_DIR/target/release/mailin-sqlite-peer"
FSYNC_SINK_DIR="$BENCH/peers/fsync-sink"
FSYNC_SINK_BIN="$FSYNC_SINK_DIR/target/release/fsync-sink"
AIOSMTPD_PY="$BENCH/peers/aiosmtpd_sqlite.py"
# Receivers other than replyd accept any recipient; they get the same shape of address.
DEFAULT_RCPT="reply+0123456789abcdef0123456789abcdef@support.example.com"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
loud() {
    printf '\n%s\n' "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    printf '!!! %s\n' "$@" >&2
    printf '%s\n\n' "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
}

# --------------------------------------------------------------------------- temp dir, cleanup
TMP="$(mktemp -d /tmp/replyd-bench.XXXXXX)"
chmod 755 "$TMP" # Postfix's unprivileged daemons must reach their queue under it
RAW="$TMP/raw"
mkdir -p "$RAW" "$TMP/runs"
: >"$RAW/skipped.txt"

CUR_RECV=""        # receiver currently running (for cleanup)
CUR_RECV_PID=""    # its pid (master pid for Postfix)
CUR_PF_ETC=""      # config dir of a running Postfix instance
CUR_SAMPLER_PID="" # rss.py sampler
CUR_IDLE_PID=""    # idle.py helper

kill_wait() { # pid [seconds] -- TERM, wait, then KILL; the pid must be one we started
    local pid="$1" secs="${2:-30}" i
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        loud "pid $pid did not exit ${secs}s after SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    set +e
    [[ -n "$CUR_IDLE_PID" ]] && kill_wait "$CUR_IDLE_PID" 20
    [[ -n "$CUR_SAMPLER_PID" ]] && kill_wait "$CUR_SAMPLER_PID" 5
    if [[ -n "$CUR_PF_ETC" ]]; then
        postfix -c "$CUR_PF_ETC" stop >/dev/null 2>&1
        sleep 1
        postfix -c "$CUR_PF_ETC" abort >/dev/null 2>&1
    fi
    [[ -n "$CUR_RECV_PID" && "$CUR_RECV" != postfix ]] && kill_wait "$CUR_RECV_PID" 20
    if [[ "$KEEP_TMP" == 1 ]]; then
        log "temp dir kept: $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --------------------------------------------------------------------------- limits
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
if (($(ulimit -n) < 5100)); then
    loud "ulimit -n is $(ulimit -n): the idle case needs more than 5,000 descriptors per process"
fi

# --------------------------------------------------------------------------- install
APT_UPDATED=0
apt_install() {
    if [[ "$APT_UPDATED" == 0 ]]; then
        apt-get update -q >"$TMP/apt-update.log" 2>&1 || { tail -20 "$TMP/apt-update.log" >&2; return 1; }
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
        >"$TMP/apt-install.log" 2>&1 || { tail -20 "$TMP/apt-install.log" >&2; return 1; }
}

install_postfix() {
    log "installing postfix (for smtp-source / smtp-sink / the hold-queue instance)"
    # No system configuration, and the system instance must never be started.
    printf '%s\n' "postfix postfix/main_mailer_type select No configuration" \
        "postfix postfix/mailname string bench.invalid" | debconf-set-selections
    local made_policy=0 rc=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# bench/run.sh: no service starts while installing postfix\nexit 101\n' \
            >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    apt_install postfix || rc=$?
    [[ "$made_policy" == 1 ]] && rm -f /usr/sbin/policy-rc.d
    return "$rc"
}

if [[ "$SKIP_INSTALL" != 1 ]]; then
    if ! command -v smtp-source >/dev/null || ! command -v smtp-sink >/dev/null; then
        install_postfix
    fi
    if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
        log "installing aiosmtpd (pip)"
        python3 -m pip install -q aiosmtpd >"$TMP/pip.log" 2>&1 || { tail -20 "$TMP/pip.log" >&2; exit 1; }
    fi
    if ! pkg-config --exists openssl 2>/dev/null; then
        log "installing libssl-dev pkg-config (mailin-embedded's ossl backend links libssl)"
        apt_install libssl-dev pkg-config
    fi
fi
for tool in smtp-source smtp-sink postfix python3; do
    command -v "$tool" >/dev/null || { loud "$tool not found"; exit 1; }
done
if [[ -s /var/spool/postfix/pid/master.pid ]] && kill -0 "$(tr -d ' ' </var/spool/postfix/pid/master.pid)" 2>/dev/null; then
    log "note: a system Postfix instance is running; the bench neither uses nor stops it"
fi

# --------------------------------------------------------------------------- receivers wanted
declare -A SKIP=()
skip_receiver() { # name reason
    if [[ -z "${SKIP[$1]:-}" ]]; then
        SKIP[$1]="$2"
        printf '%s: %s\n' "$1" "$2" >>"$RAW/skipped.txt"
        loud "SKIPPING receiver '$1' for the rest of this run: $2"
    fi
}
IFS=, read -r -a WANT <<<"$RECEIVERS"
for r in "${WANT[@]}"; do
    case "$r" in replyd | smtp-sink | postfix | aiosmtpd | mailin | fsync-sink) ;; *) loud "unknown receiver '$r'"; exit 2 ;; esac
done
wanted() { [[ ",$RECEIVERS," == *",$1,"* ]]; }

# --------------------------------------------------------------------------- build
build_peer() { # name dir -- a Rust peer in bench/peers/NAME, built into its own target dir
    log "building the $1 peer (release, own target dir)"
    if ! cargo build --release --manifest-path "$2/Cargo.toml" \
        --target-dir "$2/target" >"$TMP/build-$1.log" 2>&1; then
        tail -25 "$TMP/build-$1.log" >&2
        skip_receiver "$1" "cargo build of bench/peers/$1 failed"
    fi
}
require_binary() { # name path -- skip the receiver unless its binary exists
    if wanted "$1" && [[ -z "${SKIP[$1]:-}" && ! -x "$2" ]]; then
        skip_receiver "$1" "$2 does not exist"
    fi
}
if [[ "$SKIP_BUILD" != 1 ]]; then
    if wanted replyd; then
        log "building replyd: cargo build --release in $ROOT"
        if ! (cd "$ROOT" && cargo build --release) >"$TMP/build-replyd.log" 2>&1; then
            tail -25 "$TMP/build-replyd.log" >&2
            skip_receiver replyd "cargo build --release failed in $ROOT (last lines above)"
        fi
    fi
    if wanted mailin; then build_peer mailin "$MAILIN_DIR"; fi
    if wanted fsync-sink; then build_peer fsync-sink "$FSYNC_SINK_DIR"; fi
fi
require_binary replyd "$REPLYD_BIN"
# Snapshot the binary and its config template now: replyd is being developed in this tree, and
# a rebuild or a new config key landing mid-run must not mix versions between rounds.
REPLYD_TEMPLATE="$TMP/smtpd.toml.template"
if wanted replyd && [[ -z "${SKIP[replyd]:-}" ]]; then
    cp "$REPLYD_BIN" "$TMP/replyd"
    REPLYD_BIN="$TMP/replyd"
    if [[ -f "$ROOT/smtpd.toml" ]]; then
        cp "$ROOT/smtpd.toml" "$REPLYD_TEMPLATE"
    else
        log "note: $ROOT/smtpd.toml does not exist; replyd gets the built-in fallback config"
    fi
fi
require_binary mailin "$MAILIN_BIN"
require_binary fsync-sink "$FSYNC_SINK_BIN"

# --------------------------------------------------------------------------- helpers
port_of() {
    case "$1" in
    replyd) echo $((PORT_BASE + 1)) ;; smtp-sink) echo $((PORT_BASE + 2)) ;;
    postfix) echo $((PORT_BASE + 3)) ;; aiosmtpd) echo $((PORT_BASE + 4)) ;;
    mailin) echo $((PORT_BASE + 5)) ;; fsync-sink) echo $((PORT_BASE + 6)) ;;
    esac
}

listening() { # port -- is something LISTENing on it (IPv4 or IPv6)?
    local hex
    hex=$(printf ':%04X' "$1")
    awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

wait_listen() { # port pid seconds
    local port="$1" pid="$2" secs="$3" i
    for ((i = 0; i < secs * 10; i++)); do
        listening "$port" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

sqlite_count() { # db table
    python3 - "$1" "$2" <<'PY'
import sqlite3, sys
try:
    c = sqlite3.connect(sys.argv[1], timeout=30)
    print(c.execute(f"SELECT count(*) FROM {sys.argv[2]}").fetchone()[0])
except Exception as e:
    print("?")
    print(f"count failed: {e}", file=sys.stderr)
PY
}

rss_now() { python3 "$LIB/rss.py" now --pid "$1"; } # -> "rss_kib pss_kib procs"

# Each start_* sets RECV_PID (process whose tree is measured), RCPT and BASELINE and returns
# non-zero when the receiver does not come up; stop_* stops it; count_* prints stored messages.

start_replyd() { # port dir
    local port="$1" dir="$2" out limits=()
    if [[ "$REPLYD_KEEP_LIMITS" != 1 ]]; then
        local cap=$((IDLE + 1000 > 1000 ? IDLE + 1000 : 1000))
        limits=(--set "limits.max_connections=$cap" --set "limits.max_connections_per_ip=$cap")
    fi
    python3 "$LIB/replyd_config.py" --template "$REPLYD_TEMPLATE" --out "$dir/smtpd.toml" \
        --set "store.path=\"$dir/replyd.sqlite3\"" \
        --set "server.listen=[\"127.0.0.1:$port\"]" "${limits[@]}" >"$dir/config.log" 2>&1 ||
        { cat "$dir/config.log" >&2; return 1; }
    "$REPLYD_BIN" --config "$dir/smtpd.toml" serve --listen "127.0.0.1:$port" >"$dir/replyd.log" 2>&1 &
    RECV_PID=$!
    CUR_RECV_PID=$RECV_PID
    if ! wait_listen "$port" "$RECV_PID" 20; then
        echo "replyd did not listen on 127.0.0.1:$port within 20 s; its log:" >&2
        tail -20 "$dir/replyd.log" >&2
        return 1
    fi
    if ! out=$("$REPLYD_BIN" --config "$dir/smtpd.toml" conversation create --contact bench@example.org 2>&1); then
        echo "replyd conversation create failed: $out" >&2
        return 1
    fi
    RCPT=$(grep -o 'reply+[0-9a-f]\{32\}@[^ ]*' <<<"$out" | head -1 | sed 's/[^A-Za-z0-9.-]*$//' || true)
    if [[ -z "$RCPT" ]]; then
        echo "no reply+<32 hex>@domain address in 'conversation create' output: $out" >&2
        return 1
    fi
    BASELINE=$(sqlite_count "$dir/replyd.sqlite3" messages)
    [[ "$BASELINE" =~ ^[0-9]+$ ]] || { echo "cannot count replyd's messages table" >&2; return 1; }
    INBOX_BASELINE=$(sqlite_count "$dir/replyd.sqlite3" inbox 2>/dev/null)
    log "replyd up (pid $RECV_PID), token address $RCPT"
}
stop_replyd() { kill_wait "$RECV_PID" 40; }
count_replyd() { # rows added to `messages`; mail parked in `inbox` (accepted, not threaded) is
    # reported on stderr but not counted as stored in the conversation
    local n inbox
    n=$(sqlite_count "$1/replyd.sqlite3" messages)
    inbox=$(sqlite_count "$1/replyd.sqlite3" inbox 2>/dev/null)
    if [[ "$inbox" =~ ^[0-9]+$ && "${INBOX_BASELINE:-}" =~ ^[0-9]+$ ]] && ((inbox > INBOX_BASELINE)); then
        loud "replyd put $((inbox - INBOX_BASELINE)) message(s) in its inbox table (accepted but not threaded)"
    fi
    [[ "$n" =~ ^[0-9]+$ ]] && echo $((n - BASELINE)) || echo "?"
}

start_peer() { # port log seconds command... -- a peer that takes any recipient, stored from 0
    local port="$1" log="$2" seconds="$3"
    shift 3
    "$@" >"$log" 2>&1 &
    RECV_PID=$!
    CUR_RECV_PID=$RECV_PID
    RCPT="$DEFAULT_RCPT"
    BASELINE=0
    wait_listen "$port" "$RECV_PID" "$seconds" || { tail -10 "$log" >&2; return 1; }
}

# -u: privileges to drop to (required as root); -m: simultaneous connections (default 256,
# lifted for the idle case); 4096: listen backlog.
start_smtp-sink() { start_peer "$1" "$2/sink.log" 10 smtp-sink -u nobody -m 15000 "127.0.0.1:$1" 4096; }
stop_smtp-sink() { kill_wait "$RECV_PID" 10; }
count_smtp-sink() { echo na; }

start_postfix() {
    local port="$1" dir="$2"
    local etc="$dir/pf/etc" q="$dir/pf/queue" data="$dir/pf/data"
    mkdir -p "$etc" "$q" "$data"
    chmod 755 "$dir" "$dir/pf"
    chown postfix: "$data"
    cat >"$etc/main.cf" <<EOF
# Temporary Postfix instance of bench/run.sh: accepts mail for support.example.com on
# 127.0.0.1:$port and puts every message on hold (never delivered), so the hold queue is the
# store. cleanup fsyncs each queue file before smtpd answers 250.
compatibility_level = 3.6
queue_directory = $q
data_directory = $data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix-peer.localhost
mydomain = localhost
myorigin = \$myhostname
mydestination = support.example.com, localhost
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
maillog_file = $dir/pf/postfix.log
maillog_file_prefixes = $dir
smtpd_recipient_restrictions = check_recipient_access static:HOLD, permit
# Nothing is delivered while on hold, so the queue manager never hands out the in-flow
# tokens that would otherwise pace smtpd; do not make cleanup wait for them.
in_flow_delay = 0s
default_process_limit = $POSTFIX_MAXPROC
biff = no
EOF
    cat >"$etc/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
    CUR_PF_ETC="$etc"
    if ! postfix -c "$etc" start >"$dir/pf-start.log" 2>&1; then
        echo "postfix -c $etc start failed:" >&2
        cat "$dir/pf-start.log" >&2
        tail -5 "$dir/pf/postfix.log" >&2 2>/dev/null || true
        return 1
    fi
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s "$q/pid/master.pid" ]] && break
        sleep 0.1
    done
    RECV_PID=$(tr -d ' \n' <"$q/pid/master.pid" 2>/dev/null || true)
    [[ -n "$RECV_PID" ]] || { echo "no Postfix master pid file" >&2; return 1; }
    CUR_RECV_PID=$RECV_PID
    RCPT="$DEFAULT_RCPT"
    BASELINE=0
    wait_listen "$port" "$RECV_PID" 15 || { tail -5 "$dir/pf/postfix.log" >&2; return 1; }
}
stop_postfix() {
    local i
    postfix -c "$CUR_PF_ETC" stop >/dev/null 2>&1 || true
    for ((i = 0; i < 300; i++)); do
        kill -0 "$RECV_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$RECV_PID" 2>/dev/null; then
        loud "Postfix master $RECV_PID still running 30 s after 'postfix stop'; aborting it"
        postfix -c "$CUR_PF_ETC" abort >/dev/null 2>&1 || true
    fi
    CUR_PF_ETC=""
}
count_postfix() { { find "$1/pf/queue/hold" -type f 2>/dev/null || true; } | wc -l; }

start_aiosmtpd() {
    start_peer "$1" "$2/aiosmtpd.log" 15 python3 "$AIOSMTPD_PY" --listen "127.0.0.1:$1" --db "$2/aiosmtpd.sqlite3"
}
stop_aiosmtpd() { kill_wait "$RECV_PID" 20; }
count_aiosmtpd() { sqlite_count "$1/aiosmtpd.sqlite3" messages; }

start_mailin() { start_peer "$1" "$2/mailin.log" 15 "$MAILIN_BIN" --listen "127.0.0.1:$1" --db "$2/mailin.sqlite3"; }
stop_mailin() { kill_wait "$RECV_PID" 20; }
count_mailin() { sqlite_count "$1/mailin.sqlite3" messages; }

# It writes out and syncs its 256 MiB spool before it listens: a longer wait.
start_fsync-sink() {
    start_peer "$1" "$2/fsync-sink.log" 60 "$FSYNC_SINK_BIN" --listen "127.0.0.1:$1" --file "$2/fsync-sink.spool"
}
stop_fsync-sink() { kill_wait "$RECV_PID" 10; }
count_fsync-sink() { "$FSYNC_SINK_BIN" --count "$1/fsync-sink.spool" 2>/dev/null || echo "?"; }

start_receiver() { # name dir -> 0 if up
    local name="$1" dir="$2" port
    port=$(port_of "$name")
    RECV_PID="" # never let a stale pid from an earlier round be signalled
    CUR_RECV_PID=""
    if listening "$port"; then
        echo "port $port is already in use by another process" >&2
        return 1
    fi
    CUR_RECV="$name"
    "start_$name" "$port" "$dir"
}
stop_receiver() {
    "stop_$1"
    CUR_RECV=""
    CUR_RECV_PID=""
}

drop_data() { # dir -- delete a counted run's databases and queue now (not all at the end:
    # the disk may discard synchronously on delete, which would stall the cleanup for minutes)
    [[ "$KEEP_TMP" == 1 ]] && return 0
    rm -rf "$1"/*.sqlite3 "$1"/*.sqlite3-wal "$1"/*.sqlite3-shm "$1"/*.spool "$1/pf/queue"
}

rotated() { # round -> receivers in this round's order (rotated by round number)
    local round="$1" list=() out=() n i
    for r in "${WANT[@]}"; do [[ -z "${SKIP[$r]:-}" ]] && list+=("$r"); done
    n=${#list[@]}
    ((n > 0)) || return 0
    for ((i = 0; i < n; i++)); do out+=("${list[$(((i + round - 1) % n))]}"); done
    echo "${out[@]}"
}

# --------------------------------------------------------------------------- one load round
printf 'case\treceiver\tround\tmsgs\tsize\tsessions\treuse\telapsed\trc\tacked\tstored\tpeak_rss_kb\tcpu_s\tnote\n' >"$RAW/runs.tsv"
printf 'receiver\tround\ttarget\tconnected\tgreeted\tfailed\trss_before\trss_after\tpss_before\tpss_after\tprobe_ok\tbanner_s\ttotal_s\tprobe_stored\talive\terror\n' >"$RAW/idle.tsv"
printf 'round\tseconds\tmib_s\n' >"$RAW/dd.tsv"
printf 'case\tdesc\n' >"$RAW/cases.tsv"

run_load() { # case recv round size sessions msgs reuse
    local case="$1" recv="$2" round="$3" size="$4" sessions="$5" msgs="$6" reuse="$7"
    local dir="$TMP/runs/$case-$recv-$round" port t0 t1 rc elapsed acked stored peak cpu note=""
    [[ -z "${SKIP[$recv]:-}" ]] || return 0
    mkdir -p "$dir"
    port=$(port_of "$recv")
    if ! start_receiver "$recv" "$dir" 2>"$dir/start.err"; then
        cat "$dir/start.err" >&2
        stop_receiver "$recv" 2>/dev/null || true
        skip_receiver "$recv" "startup failed ($(head -c 300 "$dir/start.err" | tr '\n\t' '  '))"
        return 0
    fi
    python3 "$LIB/rss.py" sample --pid "$RECV_PID" --out "$dir/peak" --ready "$dir/sampler.ready" &
    CUR_SAMPLER_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do # first sample taken before the load starts
        [[ -e "$dir/sampler.ready" ]] && break
        sleep 0.05
    done
    local flags=(-c -s "$sessions" -m "$msgs" -l "$size" -f "$SENDER" -t "$RCPT")
    [[ "$reuse" == 1 ]] && flags=(-d "${flags[@]}")
    t0=$(date +%s.%N)
    set +e
    timeout "$RUN_TIMEOUT" smtp-source "${flags[@]}" "127.0.0.1:$port" >"$dir/source.out" 2>"$dir/source.err"
    rc=$?
    set -e
    t1=$(date +%s.%N)
    kill_wait "$CUR_SAMPLER_PID" 5
    CUR_SAMPLER_PID=""
    elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
    if [[ "$rc" == 0 ]]; then
        acked="$msgs"
    else
        # smtp-source stops at the first non-2xx reply; its counter is the DATA commands done.
        acked=$(tr '\r' '\n' <"$dir/source.out" | grep -E '^[0-9]+$' | tail -1 || true)
        acked="${acked:-0}"
        note="smtp-source rc=$rc: $(tail -c 200 "$dir/source.err" | tr '\n\t' '  ')"
    fi
    stop_receiver "$recv"
    stored=$("count_$recv" "$dir")
    drop_data "$dir"
    peak=$(cut -d' ' -f1 "$dir/peak" 2>/dev/null || echo "")
    cpu=$(cut -d' ' -f4 "$dir/peak" 2>/dev/null || echo "")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$case" "$recv" "$round" "$msgs" \
        "$size" "$sessions" "$reuse" "$elapsed" "$rc" "$acked" "$stored" "$peak" "$cpu" "$note" >>"$RAW/runs.tsv"
    local rate
    rate=$(awk -v m="$msgs" -v e="$elapsed" 'BEGIN { printf "%.0f", m / e }')
    log "$case round $round $recv: ${elapsed}s, $rate msgs/s, load $(cut -d' ' -f1 /proc/loadavg), stored $stored / acked $acked, peak RSS $((${peak:-0} / 1024)) MiB, receiver CPU ${cpu:-?} s${note:+ -- $note}"
    if [[ "$rc" != 0 ]]; then
        loud "$case round $round: smtp-source against $recv failed (rc=$rc): $(tail -c 300 "$dir/source.err")"
    fi
    if [[ "$stored" != na ]] && { [[ ! "$stored" =~ ^[0-9]+$ ]] || ((stored < acked)); }; then
        loud "$case round $round: $recv acknowledged $acked messages but $stored are stored"
    fi
}

# --------------------------------------------------------------------------- one idle round
run_idle() { # recv round
    local recv="$1" round="$2" dir="$TMP/runs/idle-$1-$2" port before after ready probe stored
    [[ -z "${SKIP[$recv]:-}" ]] || return 0
    mkdir -p "$dir"
    port=$(port_of "$recv")
    if ! start_receiver "$recv" "$dir" 2>"$dir/start.err"; then
        cat "$dir/start.err" >&2
        stop_receiver "$recv" 2>/dev/null || true
        skip_receiver "$recv" "startup failed ($(head -c 300 "$dir/start.err" | tr '\n\t' '  '))"
        return 0
    fi
    sleep 1
    before=$(rss_now "$RECV_PID")
    python3 "$LIB/idle.py" --target "127.0.0.1:$port" --count "$IDLE" --per-proc 5000 \
        --timeout "$IDLE_CONNECT_TIMEOUT" --hold-max 600 >"$dir/idle.out" 2>"$dir/idle.err" &
    CUR_IDLE_PID=$!
    local i
    for ((i = 0; i < (IDLE_CONNECT_TIMEOUT + 60) * 10; i++)); do
        grep -qs '^READY' "$dir/idle.out" && break
        kill -0 "$CUR_IDLE_PID" 2>/dev/null || break
        sleep 0.1
    done
    ready=$(grep '^READY' "$dir/idle.out" | head -1 | cut -d' ' -f2- || true)
    if [[ -z "$ready" ]]; then
        loud "idle helper against $recv did not get ready: $(tail -c 500 "$dir/idle.err")"
        ready='{"connected": 0, "greeted": 0, "failed": 0}'
    fi
    sleep 2 # let the receiver settle (allocations for the last sessions)
    after=$(rss_now "$RECV_PID")
    probe=$(python3 "$LIB/probe.py" --target "127.0.0.1:$port" --rcpt "$RCPT" --timeout "$PROBE_TIMEOUT" ||
        echo '{"ok": false, "banner_s": null, "total_s": null, "code": null, "error": "probe.py crashed"}')
    kill_wait "$CUR_IDLE_PID" 60
    CUR_IDLE_PID=""
    local alive
    alive=$(grep '^CLOSED' "$dir/idle.out" | sed 's/.*"alive": *\([0-9]*\).*/\1/' || true)
    stop_receiver "$recv"
    stored=$("count_$recv" "$dir")
    drop_data "$dir"
    python3 - "$recv" "$round" "$IDLE" "$ready" "$before" "$after" "$probe" "$stored" "${alive:-}" >>"$RAW/idle.tsv" <<'PY'
import json, sys
recv, rnd, target, ready, before, after, probe, stored, alive = sys.argv[1:]
r = json.loads(ready); p = json.loads(probe)
b = before.split(); a = after.split()
row = [recv, rnd, target, r["connected"], r["greeted"], r["failed"], b[0], a[0], b[1], a[1],
       1 if p["ok"] else 0, p["banner_s"] if p["banner_s"] is not None else "",
       p["total_s"] if p["total_s"] is not None else "", stored, alive, p["error"].replace("\t", " ")]
print("\t".join(str(x) for x in row))
PY
    log "idle round $round $recv: $ready; RSS ${before%% *} -> ${after%% *} KiB; probe $probe; stored $stored; still open $alive"
}

# --------------------------------------------------------------------------- meta
{
    echo "# replyd side-by-side benchmark"
    echo
    echo "- run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`ROUNDS=$ROUNDS MESSAGES=$MESSAGES MESSAGES_64K=$MESSAGES_64K MESSAGES_1M=$MESSAGES_1M IDLE=$IDLE CASES=$CASES\`"
    echo "- machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r), temp dir on $(df -T "$TMP" | awk 'NR == 2 { print $1 " (" $2 ")" }')"
    echo "- load: Postfix \`smtp-source\` $(postconf -d mail_version 2>/dev/null | cut -d' ' -f3); msgs/s = messages ÷ wall time of the smtp-source run; MiB/s counts the payload (\`-l\`) only"
    echo "- peers: Postfix $(postconf -d mail_version 2>/dev/null | cut -d' ' -f3) (smtpd process limit $POSTFIX_MAXPROC), aiosmtpd $(python3 -c 'import aiosmtpd; print(aiosmtpd.__version__)' 2>/dev/null) on Python $(python3 -c 'import platform; print(platform.python_version())'), mailin-embedded $(grep -A1 'name = "mailin-embedded"' "$MAILIN_DIR/Cargo.lock" 2>/dev/null | sed -n 's/version = "\(.*\)"/\1/p'), SQLite WAL + synchronous=FULL; fsync-sink: one event loop, raw bytes, pwrite + fdatasync per batch, no database"
    if [[ "$REPLYD_KEEP_LIMITS" != 1 ]]; then
        echo "- replyd: temp copy of smtpd.toml with [store] path in the temp dir and [limits] max_connections = max_connections_per_ip = $((IDLE + 1000 > 1000 ? IDLE + 1000 : 1000))"
    else
        echo "- replyd: temp copy of smtpd.toml with [store] path in the temp dir (limits as in smtpd.toml)"
    fi
    echo "- \"replyd ÷ receiver\" = replyd's median msgs/s ÷ that receiver's (above 1: replyd is faster); stored/sent sums all rounds; peak RSS is the highest 50 ms sample of the receiver's process tree (summed over processes for Postfix)"
} >"$RAW/meta.txt"

# --------------------------------------------------------------------------- main loop
cpu_busy() { # percent of CPU time not idle over the next 2 seconds, machine-wide
    local a b
    a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
    sleep 2
    b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
        busy = y[1] - x[1]; idle = y[2] - x[2]; printf "%.0f", ((busy + idle) > 0 ? 100 * busy / (busy + idle) : 0) }'
}
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
BUSY_START=$(cpu_busy)
if ((BUSY_START > 20)); then
    loud "the CPU is ${BUSY_START}% busy before the bench starts (load average $LOAD_START):" \
        "something else is running, and the figures will be perturbed"
fi
echo "- before the first round: CPU ${BUSY_START}% busy, load average $LOAD_START" >>"$RAW/meta.txt"
IFS=, read -r -a CASE_LIST <<<"$CASES"
log "temp dir $TMP; receivers: $RECEIVERS; cases: $CASES; rounds: $ROUNDS"
for case in "${CASE_LIST[@]}"; do
    if [[ "$case" == idle ]]; then
        printf 'idle\t%s idle connections, then a new client\n' "$IDLE" >>"$RAW/cases.tsv"
        for ((round = 1; round <= ROUNDS; round++)); do
            for recv in $(rotated "$round"); do
                run_idle "$recv" "$round"
            done
        done
        echo
        python3 "$LIB/report.py" --dir "$RAW" --case idle
        echo
        continue
    fi
    if [[ ! "$case" =~ ^(1k|64k|1m)-([0-9]+)(-reuse)?$ ]]; then
        loud "unknown case '$case' (want SIZE-SESSIONS[-reuse], SIZE in 1k/64k/1m, or idle)"
        exit 2
    fi
    size_id="${BASH_REMATCH[1]}" sessions="${BASH_REMATCH[2]}" reuse=0
    [[ -n "${BASH_REMATCH[3]}" ]] && reuse=1
    case "$size_id" in
    1k) size=1024 msgs=$MESSAGES size_txt="1 KiB" ;;
    64k) size=65536 msgs=$MESSAGES_64K size_txt="64 KiB" ;;
    1m) size=1048576 msgs=$MESSAGES_1M size_txt="1 MiB" ;;
    esac
    conn_txt="one message per connection"
    [[ "$reuse" == 1 ]] && conn_txt="connection reuse (smtp-source -d)"
    printf '%s\t%s × %s sessions, %s messages, %s\n' "$case" "$size_txt" "$sessions" "$msgs" "$conn_txt" >>"$RAW/cases.tsv"
    log "=== case $case: $size_txt × $sessions sessions, $msgs messages, $conn_txt"
    for ((round = 1; round <= ROUNDS; round++)); do
        if [[ "$size_id" == 1m ]]; then
            dd_out=$(dd if=/dev/zero of="$TMP/ddtest" bs=1M count=256 conv=fsync 2>&1 | tail -1)
            rm -f "$TMP/ddtest"
            dd_s=$(sed -n 's/.*copied, \([0-9.]*\) s.*/\1/p' <<<"$dd_out")
            dd_mib=$(awk -v s="$dd_s" 'BEGIN { if (s > 0) printf "%.1f", 256 / s }')
            printf '%s\t%s\t%s\n' "$round" "$dd_s" "$dd_mib" >>"$RAW/dd.tsv"
            log "dd conv=fsync ceiling: $dd_mib MiB/s ($dd_out)"
        fi
        for recv in $(rotated "$round"); do
            run_load "$case" "$recv" "$round" "$size" "$sessions" "$msgs" "$reuse"
        done
    done
    echo
    python3 "$LIB/report.py" --dir "$RAW" --case "$case"
    echo
done

echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg) (includes the bench's own processes)" >>"$RAW/meta.txt"
mkdir -p "$(dirname "$RESULTS")"
python3 "$LIB/report.py" --dir "$RAW" --out "$RESULTS" >/dev/null
log "report written to $RESULTS"
echo
cat "$RESULTS"

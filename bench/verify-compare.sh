#!/usr/bin/env bash
# Sender verification on against off, same binary, DNS answers cached (issue 22's goal:
# at most 15 % fewer messages per second at 1 KiB x 10 sessions).
#
#   bench/verify-compare.sh [BINARY]        # default target/release/replyd
#
# Starts NSD (bench/lib/nsd.sh), then runs bench/compare.sh with B verifying senders
# against it. Loopback is taken off trusted_relays on both sides, so
# only verification differs. Needs nsd (Debian's package) besides what compare.sh needs.
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN=$(realpath "${1:-$BENCH/../target/release/replyd}")
TMP=$(mktemp -d /tmp/replyd-verify.XXXXXX)
NSD_PID=
cleanup() {
  [ -n "$NSD_PID" ] && kill "$NSD_PID" 2>/dev/null && wait "$NSD_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
. "$BENCH/lib/nsd.sh"
CONFIG_A='[security]\nverify_senders = false' \
CONFIG_B="[security]\nverify_senders = true\n[dns]\nservers = [\"127.0.0.1:$DNS_PORT\"]" \
TRUSTED_RELAYS='[]' \
  "$BENCH/compare.sh" "$BIN" "$BIN"

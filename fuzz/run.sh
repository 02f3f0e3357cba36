#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and prints its executions. Seeds: the regression
# inputs, and fuzz/seeds/<target>/ (for extract: MIME nesting of every kind the parser knows). New crashing inputs
# land in fuzz/artifacts/<target>/: copy them to tests/fuzz-regressions/<target>/ so the
# normal test suite replays them.
#   FUZZ_SECONDS=120 fuzz/run.sh [target…]
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
seconds=${FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  cp -n ../tests/fuzz-regressions/"$t"/* "corpus/$t/" 2>/dev/null || true
  cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
  echo "== $t: ${seconds}s"
  cargo fuzz run "$t" -- -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 2>&1 \
    | tee "/tmp/fuzz-$t.log" | grep -E '^#[0-9]+ +(DONE|pulse)|SUMMARY|panicked|crash-' || true
  grep -E '^Done [0-9]+ runs' "/tmp/fuzz-$t.log" || grep -E '^#[0-9]+ +DONE' "/tmp/fuzz-$t.log" | tail -1
done

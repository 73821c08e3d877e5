#!/usr/bin/env bash
# Wall time of `tally audit` on one claim as a whole process (release build), search included:
# every fixture claim in tests/audit_fixtures/ is run RUNS times (bash's microsecond clock,
# EPOCHREALTIME); each claim's median is kept, and the script prints the median and the slowest of
# those, with the slowest claim. Usage: bash benches/audit.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release --locked --quiet
bin=target/release/tally
export SYMBOLICA_HIDE_BANNER=1
medians=()
slowest=0
slowest_claim=""
for fixture in tests/audit_fixtures/*.claim; do
  read -r -a args <<<"$(sed -n 's/^# args://p' "$fixture")"
  claim=$(grep -v '^# args:' "$fixture")
  "$bin" audit "${args[@]}" "$claim" >/dev/null 2>&1 || true   # warm the page cache
  micros=()
  for _ in $(seq "$runs"); do
    start=${EPOCHREALTIME/./}
    "$bin" audit "${args[@]}" "$claim" >/dev/null 2>&1 || true
    end=${EPOCHREALTIME/./}
    micros+=($((end - start)))
  done
  median=$(printf '%s\n' "${micros[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
  medians+=("$median")
  if [ "$median" -gt "$slowest" ]; then
    slowest=$median
    slowest_claim="$(basename "$fixture"): $claim"
  fi
done
count=${#medians[@]}
overall=$(printf '%s\n' "${medians[@]}" | sort -n | sed -n "$(((count + 1) / 2))p")
ms() { awk -v us="$1" 'BEGIN { printf "%.1f ms", us / 1000 }'; }
echo "tally audit, one claim per process: $count claims × $runs runs; median $(ms "$overall"), slowest $(ms "$slowest")"
echo "slowest claim: $slowest_claim"

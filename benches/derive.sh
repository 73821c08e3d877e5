#!/usr/bin/env bash
# Wall time of `tally derive --model gpt2-xl --format json` as a whole process (release build):
# N runs timed with bash's microsecond clock (EPOCHREALTIME), then the median; /usr/bin/time adds
# the peak memory of one run. Usage: bash benches/derive.sh [RUNS]   (default 50)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
cargo build --release --locked --quiet
bin=target/release/tally
args=(derive --model gpt2-xl --format json)
"$bin" "${args[@]}" >/dev/null 2>&1   # warm the page cache
micros=()
for _ in $(seq "$runs"); do
  start=${EPOCHREALTIME/./}
  "$bin" "${args[@]}" >/dev/null 2>&1
  end=${EPOCHREALTIME/./}
  micros+=($((end - start)))
done
sorted=$(printf '%s\n' "${micros[@]}" | sort -n)
pick() { printf '%s\n' "$sorted" | sed -n "${1}p"; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f ms", us / 1000 }'; }
echo "tally ${args[*]}: $runs runs, min $(ms "$(pick 1)"), median $(ms "$(pick $(((runs + 1) / 2)))"), max $(ms "$(pick "$runs")")"
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "one run under /usr/bin/time: %e s wall, %M KiB peak memory" "$bin" "${args[@]}" 2>&1 >/dev/null | tail -1
fi

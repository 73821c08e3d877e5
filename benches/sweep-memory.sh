#!/usr/bin/env bash
# Peak memory (maximum resident set, from GNU time) and wall time of `tally sweep` over 10⁴, 10⁶
# and 10⁸ points, rows written to /dev/null: the rows are streamed and the axes are kept as ranges,
# so the peak should not grow with the number of points. Release build.
# Usage: bash benches/sweep-memory.sh   (TALLY_BIN=path uses that binary instead of building)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${TALLY_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --locked --quiet
  bin=target/release/tally
fi
export SYMBOLICA_HIDE_BANNER=1
for points in 10000 1000000 100000000; do
  side=$(awk -v n="$points" 'BEGIN { printf "%d", sqrt(n) + 0.5 }')
  /usr/bin/time -f "%M %e" -o /tmp/tally-sweep-memory.txt \
    "$bin" sweep --model gpt2-xl --vary "B=1..$side" --vary "T=1..$side" --quantity memory.total,flops.step >/dev/null
  read -r kb seconds </tmp/tally-sweep-memory.txt
  printf '%-12s points: peak %6.1f MB resident, %6.2f s\n' "$points" "$(awk -v k="$kb" 'BEGIN { print k / 1024 }')" "$seconds"
done

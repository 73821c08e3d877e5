#!/usr/bin/env bash
# Derivation time of a model file with many ops in one block (release build, whole process):
# generates a model of N ops (default 10,000; a repeating run of linear, RMSNorm, activation and
# residual ops) and times `tally derive` on it in every format with /usr/bin/time (wall time and
# peak memory). Usage: bash benches/big-model.sh [OPS]
set -euo pipefail
cd "$(dirname "$0")/.."
ops=${1:-10000}
cargo build --release --locked --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
model="$dir/big.toml"
{
  printf 'name = "big"\nsummary = "%s ops in one block"\n[defaults]\nV = 1000\nT = 128\nB = 1\nL = 2\nH = 64\nA = 4\n' "$ops"
  printf '[relations]\nF = "4*H"\n[[stage]]\nname = "block"\nrepeat = "L"\n'
  awk -v n="$ops" 'BEGIN {
    split("in = \"H\"\nout = \"H\"|width = \"H\"|in = \"H\"\nout = \"F\"|function = \"silu\"\nwidth = \"F\"|in = \"F\"\nout = \"H\"|width = \"H\"", f, "|")
    split("linear|rmsnorm|linear|activation|linear|residual_add", k, "|")
    for (i = 0; i < n; i++) printf "[[stage.op]]\nname = \"op%d\"\nkind = \"%s\"\n%s\nsaved = \"cs336\"\n", i, k[i % 6 + 1], f[i % 6 + 1]
  }'
} > "$model"
for format in json text; do
  /usr/bin/time -f "$ops ops, --format $format: %e s wall, %M KiB peak memory" \
    env SYMBOLICA_HIDE_BANNER=1 target/release/tally derive "$model" --format "$format" > /dev/null
done

#!/usr/bin/env bash
# Whole-process wall times of the commands people run most, as medians of N runs (bash's
# microsecond clock), each with its ratio to `tally --version` (the process floor: start-up and
# clap). The installed build (`--profile dist`: fat LTO), or TALLY_BIN's binary.
# Usage: bash benches/process.sh [RUNS]   (default 41)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-41}
bin=${TALLY_BIN:-}
if [ -z "$bin" ]; then
  cargo build --profile dist --locked --quiet
  bin=target/dist/tally
fi
export SYMBOLICA_HIDE_BANNER=1
median() {
  local micros=()
  "$@" >/dev/null 2>&1 || true   # warm the page cache
  for _ in $(seq "$runs"); do
    local start=${EPOCHREALTIME/./}
    "$@" >/dev/null 2>&1
    local end=${EPOCHREALTIME/./}
    micros+=($((end - start)))
  done
  printf '%s\n' "${micros[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p"
}
floor=$(median "$bin" --version)
report() {
  local label=$1; shift
  local us; us=$(median "$@")
  awk -v l="$label" -v us="$us" -v f="$floor" 'BEGIN { printf "%-44s median %7.2f ms  (%5.1f × --version)\n", l, us / 1000, us / f }'
}
awk -v f="$floor" 'BEGIN { printf "%-44s median %7.2f ms\n", "tally --version", f / 1000 }'
report "tally derive --model gpt2-xl" "$bin" derive --model gpt2-xl
report "tally derive --model gpt2-xl --format json" "$bin" derive --model gpt2-xl --format json
report "tally derive cs336-2025 (answer sheet)" "$bin" derive cs336-2025
report "tally derive cs336-2024 (answer sheet)" "$bin" derive cs336-2024
report "tally derive --model llama-3-8b" "$bin" derive --model llama-3-8b
report "tally derive --model mixtral-8x7b (HF config)" "$bin" derive --model mixtral-8x7b

#!/usr/bin/env bash
# Writes the outputs of tally's commands on every built-in model, in every format, to a folder,
# one file per command (stdout, then the exit status): run it before and after a change that must
# not change behaviour, then `diff -r BEFORE AFTER`. Usage: bash benches/outputs.sh BINARY DIR
set -uo pipefail
mkdir -p "$2"
bin=$(realpath "$1") out=$(realpath "$2")
cd "$(dirname "$0")/.."
export SYMBOLICA_HIDE_BANNER=1
n=0
run() {
  n=$((n + 1))
  local file; file=$(printf '%s/%04d.txt' "$out" "$n")
  { printf '$ tally %s\n' "$*"; "$bin" "$@" 2>&1; printf '[exit %s]\n' "$?"; } >"$file"
}
models=$("$bin" list models | awk '{print $1}')
for what in models sheets symbols hardware quantities optimizers precisions; do run list "$what"; done
for m in $models; do
  for f in text markdown latex json html; do run derive --model "$m" --format "$f"; done
  run derive --model "$m" --width 100
  run serve --model "$m"
  run serve --model "$m" --format json
done
for sheet in cs336-2025 cs336-2024; do
  for f in text markdown latex json html; do run derive "$sheet" --format "$f"; done
done
for p in "--precision bf16 --layout mixed" "--parallel dp=8 --zero 2" "--parallel dp=2,tp=2,pp=2 --zero 1 --sequence-parallel" \
         "--activations all" "--attention-flops causal" "--optimizer adam" "--hardware h100 --mfu 0.4" "--recompute full"; do
  # shellcheck disable=SC2086
  run derive --model gpt2-xl $p
  # shellcheck disable=SC2086
  run derive --model llama-3-8b $p --format json
done
while IFS= read -r claim; do run audit "$claim"; run audit --format json "$claim"; done < <(
  for f in tests/audit_fixtures/*.claim; do grep -v '^# args:' "$f" | head -1; done)
for f in tests/audit_fixtures/*.claim; do
  args=$(grep -m1 '^# args:' "$f" | sed 's/^# args://')
  # shellcheck disable=SC2086
  run audit $args "$(grep -v '^# args:' "$f" | head -1)"
done
run sweep --vary B=1..64 --vary T=128,1024,4096 --quantity memory.total,flops.step,batch.max
run sweep --vary model=gpt2-small,gpt2-xl,llama-3-8b --vary precision=fp32,bf16 --format json
run sweep --vary H=256..2048:256 --format markdown
run plan --model llama-3-70b --gpus 64 --hardware h100 --seq 8192 --global-batch 1024
run plan --model gpt2-xl --gpus 8 --hardware h100 --seq 1024 --global-batch 64 --format json
for kind in memory-vs-batch shares-vs-size shares-vs-context time-vs-mfu time-vs-gpus gpu-memory roofline; do run plot "$kind"; done
for c in tests/fixtures/hf/*/; do run import --hf-config "$c"; done
echo "$n outputs in $out"

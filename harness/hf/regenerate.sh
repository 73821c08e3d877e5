#!/usr/bin/env bash
# Regenerates every golden file under tests/golden/hf/ (and the tiny-* fixtures), then
# cross-checks the closed-form rules of docs/models.md against them. Offline; CPU; < 1 minute.
#   PYTHON=/path/to/venv/bin/python harness/hf/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-python3}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
"$PY" harness/hf/measure_params.py
"$PY" harness/hf/measure_tiny.py
"$PY" harness/hf/check_formulas.py

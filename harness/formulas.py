"""Closed forms for everything measure.py measures, checked against every golden file.

    /work/harness-venv/bin/python harness/formulas.py tests/golden/torch [--tally target/release/tally]

For each golden file this evaluates the closed forms below at the file's bindings and compares
them with the measured numbers: parameter count, forward and backward FLOPs, and every saved-bytes
category (activations per layer, before and after the layers; parameters; buffers; dropout masks;
causal masks; indices; constants; wrapped scalars). Any difference is printed and the exit status
is 1. With --tally it also checks that our parameter count and forward FLOPs equal the values tally
itself derives ("params", "flops.forward") at the same bindings.

The formulas are written in the bindings' symbols: B batch, T context, L layers, H width, A heads,
K kv heads, F d_ff, V vocabulary, M position slots (gpt2); d = H/A, N = B*T. Activation formulas
count fp32 elements (x 4 bytes).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys

ROPE = {"cs336-2025", "llama"}
LEARNED = {"cs336-2024", "gpt2"}


def expected(doc: dict) -> dict:
    fam, var, label = doc["family"], doc["variant"], doc["label"]
    p, impl = doc["dropout"], doc["dropout_impl"]
    b = doc["bindings"]
    B, T, L, H, A, K, F, V = (b[k] for k in "BTLHAKFV")
    M = b.get("M")
    d = H // A
    N = B * T
    S = B * A * T * T  # attention score elements
    manual = var == "manual"
    drop = p > 0

    # ---- parameters
    if fam == "cs336-2025":
        per_layer_params = 4 * H * H + 3 * H * F + 2 * H
        params = 2 * V * H + L * per_layer_params + H
    elif fam == "llama":
        per_layer_params = 2 * H * H + 2 * H * K * d + 3 * H * F + 2 * H
        params = 2 * V * H + L * per_layer_params + H
    elif fam == "cs336-2024":
        per_layer_params = 4 * H * H + 2 * H * F + 2 * H
        params = V * H + T * H + L * per_layer_params + H
    else:  # gpt2
        per_layer_params = 4 * H * H + 2 * H * F + 9 * H + F
        params = V * H + M * H + L * per_layer_params + 2 * H

    # ---- FLOPs (FlopCounterMode: matmuls only, 2mnp each, full T x T attention)
    if fam == "cs336-2025":
        lin = 4 * H * H + 3 * H * F
    elif fam == "llama":
        lin = 2 * H * H + 2 * H * K * d + 3 * H * F
    else:
        lin = 4 * H * H + 2 * H * F
    fwd = 2 * N * (L * lin + V * H) + 4 * L * B * T * T * H
    bwd = 2 * fwd

    # ---- activations (fp32 elements)
    if fam in ("cs336-2025", "llama"):
        if manual:
            layer = 10 * N * H + 2 * N + 2 * S + B * A * T + 5 * N * F
        else:
            layer = 10 * N * H + 2 * N + S + 4 * N * F
        post = 3 * N * H + 2 * N + 2 * N * V if manual else 3 * N * H + N + N * V
    elif fam == "cs336-2024":
        if manual:
            layer = 10 * N * H + 2 * N + 2 * S + B * A * T + 4 * N * F
        else:
            layer = 10 * N * H + 2 * N + S + 2 * N * F
        post = 3 * N * H + 2 * N + 2 * N * V if manual else 3 * N * H + N + N * V
    else:  # gpt2
        if manual:
            layer = 10 * N * H + 2 * N + 2 * S + B * A * T + 5 * N * F
            post = 3 * N * H + 2 * N + 2 * N * V
        else:
            layer = 8 * N * H + 4 * N + (2 * S if drop else S) + 2 * N * F
            post = 2 * N * H + 2 * N + N * V
    pre = 0

    # ---- layout quirks (views instead of copies), see the findings:
    # gpt2 + SDPA with B = 1: V reaches the AV bmm as a view of the whole fused c_attn output
    # (N x 3H) instead of an (N x H) copy; Q and K are still materialised by SDPA's scaling.
    if fam == "gpt2" and var == "torch-sdpa" and B == 1:
        layer += 2 * N * H
    # llama torch variants with K = 1 < A and B = 1: expand+reshape repeat_kv is a view (stride 0),
    # and with B = 1 the bmm's batch merge is a view too, so the bmm saves the K-head storages
    # (N x K*d) instead of (N x H) copies: K (after RoPE) and V for explicit attention; only V for
    # SDPA, whose scaling materialises K.
    if fam == "llama" and not manual and K == 1 and A > 1 and B == 1:
        layer -= (2 if var == "torch" else 1) * N * (H - K * d)

    # ---- dropout masks (gpt2 only): attention probabilities + two residual branches per layer,
    # the embedding output once. fp32 noise for F.dropout / SDPA on CPU, bool otherwise.
    mask = 0
    if drop:
        per_elem = 1 if impl in ("native", "manual") else 4
        mask = per_elem * (L * (S + 2 * N * H) + N * H)

    # ---- causal masks built during the forward (manual): one bool (T, T) per layer
    causal = L * T * T if manual else 0

    # ---- buffers: torch variants' (Tmax, Tmax) bool mask buffer (not used by SDPA), RoPE cos/sin
    tmax = M if fam == "gpt2" else T
    buffer = 0
    if var == "torch":
        buffer += tmax * tmax
    if fam in ROPE and not manual:
        buffer += 2 * T * d * 4

    # ---- constants: the manual RoPE's cos/sin index copies, (T, d/2) fp32, two per call, two calls
    constant = L * 4 * T * (d // 2) * 4 if (fam in ROPE and manual) else 0

    # ---- int64 indices: token ids, positions (learned), targets; manual: softmax/CE max indices
    index = 8 * N + 8 * N
    if fam in LEARNED:
        index += 8 * T
    if manual:
        index += L * 8 * B * A * T + 8 * N

    # ---- wrapped Python scalars (8 bytes each) and NLL's total_weight (4 bytes)
    scalars_per_layer = 0
    if var != "torch-sdpa":
        scalars_per_layer += 1  # scores / sqrt(d)
    if manual and fam == "cs336-2024":
        scalars_per_layer += 2  # GELU: x * 0.5, x / sqrt(2)
    if manual and fam == "gpt2":
        scalars_per_layer += 3  # tanh GELU: 0.044715 *, sqrt(2/pi) *, 0.5 *
        if drop:
            scalars_per_layer += 3  # / (1 - p) of three dropouts
    scalar = 8 * L * scalars_per_layer + (0 if manual else 4)
    if manual and fam == "gpt2" and drop:
        scalar += 8  # embedding dropout's / (1 - p)

    # ---- parameters saved (fp32): every matmul weight and norm gain (LayerNorm bias too, torch);
    # never the embeddings' own weights (except a tied LM head's), nor linear biases.
    if fam == "cs336-2025":
        pbytes = L * (4 * H * H + 3 * H * F + 2 * H) + H + V * H
    elif fam == "llama":
        pbytes = L * (2 * H * H + 2 * H * K * d + 3 * H * F + 2 * H) + H + V * H
    elif fam == "cs336-2024":
        pbytes = L * (4 * H * H + 2 * H * F + 2 * H) + H + V * H
    else:
        pbytes = L * (4 * H * H + 2 * H * F + (2 * H if manual else 4 * H)) + (H if manual else 2 * H) + V * H

    return {
        "params": params,
        "flops.forward": fwd,
        "flops.backward": bwd,
        "activation_bytes": 4 * (L * layer + pre + post),
        "activation_bytes_by_scope.layers": [4 * layer] * L,
        "activation_bytes_by_scope.pre": 4 * pre,
        "activation_bytes_by_scope.post": 4 * post,
        "mask_bytes": mask,
        "causal_mask_bytes": causal,
        "buffer_bytes": buffer,
        "constant_bytes": constant,
        "index_bytes": index,
        "scalar_bytes": scalar,
        "parameter_bytes": 4 * pbytes,
    }


def measured(doc: dict) -> dict:
    s = doc["saved"]
    return {
        "params": doc["params"],
        "flops.forward": doc["flops"]["forward"],
        "flops.backward": doc["flops"]["backward"],
        "activation_bytes": s["activation_bytes"],
        "activation_bytes_by_scope.layers": s["activation_bytes_by_scope"]["layers"],
        "activation_bytes_by_scope.pre": s["activation_bytes_by_scope"]["pre"],
        "activation_bytes_by_scope.post": s["activation_bytes_by_scope"]["post"],
        "mask_bytes": s["mask_bytes"],
        "causal_mask_bytes": s["causal_mask_bytes"],
        "buffer_bytes": s["buffer_bytes"],
        "constant_bytes": s["constant_bytes"],
        "index_bytes": s["index_bytes"],
        "scalar_bytes": s["scalar_bytes"],
        "parameter_bytes": s["parameter_bytes"],
    }


def tally_values(tally: str, doc: dict) -> dict:
    cmd = [tally, "derive", "--model", doc["tally_model"], "--format", "json"]
    for k, v in sorted(doc["tally_sets"].items()):
        cmd += ["--set", f"{k}={v}"]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    q = {x["name"]: x["value"] for x in out["quantities"]}
    return {"params": int(q["params"]), "flops.forward": int(q["flops.forward"])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("golden_dir")
    ap.add_argument("--tally", default=None)
    args = ap.parse_args()
    files = sorted(glob.glob(os.path.join(args.golden_dir, "*.json")))
    bad = 0
    checked = 0
    for f in files:
        doc = json.load(open(f))
        exp, got = expected(doc), measured(doc)
        for k in exp:
            checked += 1
            if exp[k] != got[k]:
                bad += 1
                print(f"{os.path.basename(f)}: {k}: formula {exp[k]} != measured {got[k]}")
        if args.tally:
            for k, v in tally_values(args.tally, doc).items():
                checked += 1
                if v != got[k]:
                    bad += 1
                    print(f"{os.path.basename(f)}: {k}: tally {v} != measured {got[k]}")
    print(f"{len(files)} files, {checked} values checked, {bad} mismatches")
    sys.exit(1 if bad or not files else 0)


if __name__ == "__main__":
    main()

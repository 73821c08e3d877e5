"""Measure what PyTorch really saves for backward, and counts as FLOPs, for tally's model families.

For every case (family x variant x size x batch x context) this builds the model of harness/models.py
from the sizes `tally derive` binds, runs forward + loss on random token ids under
torch.autograd.graph.saved_tensors_hooks, walks the autograd graph from loss.grad_fn reading every
`_saved_*` attribute, deduplicates the saved tensors by storage, counts FLOPs with
torch.utils.flop_counter.FlopCounterMode, and writes one golden JSON file per case.

    /work/harness-venv/bin/python harness/measure.py --tally target/release/tally --out tests/golden/torch

(run from the repository root). See harness/README.md for the file format.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

# ----------------------------------------------------------------------------- the cases

# Odd-ish sizes so that no two formulas agree by coincidence: F is not a multiple of H, V is prime,
# one context length is odd, M (gpt2's position slots) differs from both context lengths.
SIZES = {
    "tiny": dict(L=1, H=16, A=2, F=44, V=97),
    "small": dict(L=2, H=64, A=4, F=172, V=509),
    "medium": dict(L=4, H=160, A=8, F=416, V=1031),
}
LLAMA_KV = {"tiny": 1, "small": 2, "medium": 2}
GPT2_M = {"tiny": 67, "small": 50, "medium": 99}
BATCHES = (1, 2)
CONTEXTS = (16, 45)

TALLY_MODEL = {"cs336-2025": "cs336-2025", "cs336-2024": "cs336-2024", "gpt2": "gpt2", "llama": "llama"}

# (label, base variant, dropout p, dropout implementation)
VARIANTS = {
    "cs336-2025": [("torch", "torch", 0.0, None), ("torch-sdpa", "torch-sdpa", 0.0, None), ("manual", "manual", 0.0, None)],
    "cs336-2024": [("torch", "torch", 0.0, None), ("torch-sdpa", "torch-sdpa", 0.0, None), ("manual", "manual", 0.0, None)],
    "llama": [("torch", "torch", 0.0, None), ("torch-sdpa", "torch-sdpa", 0.0, None), ("manual", "manual", 0.0, None)],
    "gpt2": [
        ("torch-p0", "torch", 0.0, None),
        ("torch-p0.1", "torch", 0.1, "functional"),
        ("torch-native-p0.1", "torch", 0.1, "native"),
        ("torch-sdpa-p0", "torch-sdpa", 0.0, None),
        ("torch-sdpa-p0.1", "torch-sdpa", 0.1, "functional"),
        ("manual-p0", "manual", 0.0, None),
        ("manual-p0.1", "manual", 0.1, "manual"),
    ],
}


def case_sets(family: str, size: str, B: int, T: int) -> dict:
    s = dict(SIZES[size])
    s["B"], s["T"] = B, T
    if family == "llama":
        s["K"] = LLAMA_KV[size]
    if family == "gpt2":
        s["M"] = GPT2_M[size]
    return s


def tally_bindings(tally: str, model_id: str, sets: dict) -> dict:
    cmd = [tally, "derive", "--model", model_id, "--format", "json"]
    for k in sorted(sets):
        cmd += ["--set", f"{k}={sets[k]}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    doc = json.loads(out)
    b = doc["bindings"]
    for k, v in sets.items():
        if b.get(k) != v:
            raise SystemExit(f"tally bound {k}={b.get(k)!r}, asked for {v!r}: {' '.join(cmd)}")
    return b


# ----------------------------------------------------------------------------- saved tensors


class ScopeRecorder:
    """Records, for every module call, the autograd sequence numbers at its entry and exit, so that
    each autograd node (whose _sequence_nr() is taken from the same per-thread counter) can be
    attributed to the innermost module whose forward created it."""

    def __init__(self, model: torch.nn.Module):
        self.intervals = []  # [name, start, end]
        self.handles = []
        self.marker = torch.zeros((), requires_grad=True)
        self.open = {}
        for name, mod in model.named_modules():
            self.handles.append(mod.register_forward_pre_hook(self._pre(name or "(model)")))
            self.handles.append(mod.register_forward_hook(self._post(name or "(model)")))

    def _seq(self) -> int:
        return self.marker.clone().grad_fn._sequence_nr()

    def _pre(self, name):
        def hook(mod, args):
            self.open.setdefault(name, []).append(len(self.intervals))
            self.intervals.append([name, self._seq(), None])

        return hook

    def _post(self, name):
        def hook(mod, args, out):
            self.intervals[self.open[name].pop()][2] = self._seq()

        return hook

    def remove(self):
        for h in self.handles:
            h.remove()

    def chain(self, seq: int) -> list:
        """Names of the module calls open at `seq`, outermost first."""
        return [name for name, s, e in sorted(self.intervals, key=lambda i: i[1]) if s < seq < e]

    def module_of(self, seq: int) -> str:
        """The innermost module whose forward created node `seq`; a module called from another
        one it is not a child of (the shared RoPE) is written caller:callee."""
        chain = [n for n in self.chain(seq) if n != "(model)"]
        if not chain:
            return "(model)"
        last = chain[-1]
        if len(chain) > 1 and not last.startswith(chain[-2] + "."):
            return chain[-2] + ":" + last
        return last

    def layer_of(self, seq: int) -> str | None:
        for name in self.chain(seq):
            if name.startswith("layers.") and name.count(".") == 1:
                return name
        return None

    def first_layer_start(self) -> int | None:
        starts = [s for name, s, e in self.intervals if name.startswith("layers.") and name.count(".") == 1]
        return min(starts) if starts else None


def is_dropout_noise(t: torch.Tensor, p: float) -> bool:
    """A no-grad float tensor whose values are all 0 or 1/(1-p): the noise F.dropout multiplies by."""
    if p <= 0.0 or t.requires_grad or not t.dtype.is_floating_point or t.dim() == 0:
        return False
    keep = torch.tensor(1.0 / (1.0 - p), dtype=t.dtype)
    return bool(((t == 0) | (t == keep)).all())


def saved_tensor_report(model, ids, targets):
    params = {p.untyped_storage().data_ptr(): n for n, p in model.named_parameters()}
    buffers = {b.untyped_storage().data_ptr(): n for n, b in model.named_buffers()}
    dropout_modules = {n for n, m in model.named_modules() if isinstance(m, models.Dropout)}

    packed = []

    def pack(t):
        packed.append(t)  # keeps every saved storage alive: no address can be reused
        return t

    rec = ScopeRecorder(model)
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = model(ids, targets)
    finally:
        rec.remove()

    # Walk the graph.
    storages = {}  # ptr -> info
    seen = set()
    stack = [loss.grad_fn]
    nodes = []
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        nodes.append(node)
        for nxt, _ in node.next_functions:
            stack.append(nxt)
    packed_ptrs = {t.untyped_storage().data_ptr() for t in packed}
    for node in nodes:
        seq = node._sequence_nr()
        cls = type(node).__name__
        for attr in sorted(a for a in dir(node) if a.startswith("_saved_")):
            try:
                val = getattr(node, attr)
            except RuntimeError:
                continue
            tensors = []
            if isinstance(val, torch.Tensor):
                tensors = [val]
            elif isinstance(val, (list, tuple)):
                tensors = [t for t in val if isinstance(t, torch.Tensor)]
            for t in tensors:
                st = t.untyped_storage()
                ptr = st.data_ptr()
                info = storages.setdefault(
                    ptr,
                    dict(bytes=st.nbytes(), dtype=str(t.dtype).replace("torch.", ""), savers=[],
                         requires_grad=False, is_float=t.dtype.is_floating_point, is_wrapped=False,
                         tensor=t),
                )
                info["savers"].append((seq, cls, attr, list(t.shape), rec.module_of(seq)))
                info["requires_grad"] |= t.requires_grad
                info["is_wrapped"] |= t.dim() == 0 and ptr not in packed_ptrs

    # Cross-check: everything the pack hook saw is in the graph (wrapped Python scalars are saved
    # without going through the hooks, so the converse does not hold for them).
    missing = packed_ptrs - set(storages)
    if missing:
        raise SystemExit(f"{len(missing)} packed storages not reachable from loss.grad_fn")
    for ptr, info in storages.items():
        if ptr not in packed_ptrs and not info["is_wrapped"]:
            raise SystemExit(f"saved storage not seen by the pack hook: {info}")

    first_layer = rec.first_layer_start()
    totals = defaultdict(int)
    by_scope = defaultdict(int)
    entries = []
    for ptr, info in storages.items():
        savers = sorted(info["savers"])
        seq0, _, _, shape0, module0 = savers[0]
        saver_classes = {s[1] for s in savers}
        if ptr in params:
            kind = "parameter"
        elif ptr in buffers:
            kind = "buffer"
        elif info["is_wrapped"] or (shape0 == [] and not info["requires_grad"]):
            kind = "scalar"
        elif info["dtype"] == "bool":
            kind = "causal_mask" if saver_classes & {"WhereBackward0", "MaskedFillBackward0"} else "mask"
        elif not info["is_float"]:
            kind = "index"
        elif any(s[4] in dropout_modules for s in savers) or is_dropout_noise(info["tensor"], model.cfg.get("dropout", 0.0)):
            kind = "mask"  # F.dropout on CPU (and SDPA's dropout) save an fp32 noise tensor
        elif info["requires_grad"] or any(s[2].startswith("_saved_result") for s in savers):
            # Differentiable values, and non-differentiable outputs of the saving op itself
            # (LayerNorm's mean and rstd).
            kind = "activation"
        else:
            kind = "constant"  # no-grad float data made during the forward (RoPE cos/sin copies)
        layer = rec.layer_of(seq0)
        if layer is not None:
            scope = layer
        elif first_layer is not None and seq0 > first_layer:
            scope = "post"
        else:
            scope = "pre"
        totals[kind] += info["bytes"]
        if kind == "activation":
            by_scope[scope] += info["bytes"]
        entry = dict(
            kind=kind,
            module=module0,
            savers=[[s[1], s[2]] for s in savers],
            shape=shape0,
            dtype=info["dtype"],
            bytes=info["bytes"],
        )
        if any(s[3] != shape0 for s in savers):
            entry["views"] = [s[3] for s in savers]
        entries.append(((seq0, savers[0][2]), entry))
    # Forward order of the first saver; ties (two operands of one node) by attribute name.
    entries.sort(key=lambda e: e[0])
    L = model.cfg["L"]
    saved = {
        "activation_bytes": totals["activation"],
        "parameter_bytes": totals["parameter"],
        "buffer_bytes": totals["buffer"],
        "mask_bytes": totals["mask"],
        "causal_mask_bytes": totals["causal_mask"],
        "index_bytes": totals["index"],
        "constant_bytes": totals["constant"],
        "scalar_bytes": totals["scalar"],
        "activation_bytes_by_scope": {
            "pre": by_scope["pre"],
            "layers": [by_scope[f"layers.{i}"] for i in range(L)],
            "post": by_scope["post"],
        },
        "tensors": [e for _, e in entries],
    }
    return saved


# ----------------------------------------------------------------------------- FLOPs


def flop_report(model, ids, targets):
    with FlopCounterMode(display=False) as fwd:
        loss = model(ids, targets)
    with FlopCounterMode(display=False) as bwd:
        loss.backward()
    model.zero_grad(set_to_none=True)

    def by_op(counter):
        return {str(k): int(v) for k, v in sorted(counter.get_flop_counts().get("Global", {}).items(), key=lambda kv: str(kv[0]))}

    f, b = int(fwd.get_total_flops()), int(bwd.get_total_flops())
    return {
        "forward": f,
        "forward_by_op": by_op(fwd),
        "backward": b,
        "backward_by_op": by_op(bwd),
        "forward_backward": f + b,
    }


# ----------------------------------------------------------------------------- driver


def run_case(tally, family, label, base, p, impl, size, B, T):
    sets = case_sets(family, size, B, T)
    bindings = tally_bindings(tally, TALLY_MODEL[family], sets)
    cfg = {k: bindings[k] for k in ("V", "T", "L", "H", "A", "K", "F")}
    if family == "gpt2":
        cfg["M"] = bindings["M"]
        cfg["dropout"] = p
        cfg["dropout_impl"] = impl or "functional"
    model = models.build(family, base, cfg, seed=0)
    gen = torch.Generator().manual_seed(1234)
    ids = torch.randint(cfg["V"], (B, T), generator=gen)
    targets = torch.randint(cfg["V"], (B, T), generator=gen)
    torch.manual_seed(0)
    saved = saved_tensor_report(model, ids, targets)
    torch.manual_seed(0)
    flops = flop_report(model, ids, targets)
    return {
        "torch_version": torch.__version__,
        "family": family,
        "tally_model": TALLY_MODEL[family],
        "variant": base,
        "label": label,
        "size": size,
        "dtype": "float32",
        "dropout": p,
        "dropout_impl": impl,
        "tally_sets": sets,
        "bindings": bindings,
        "params": model.param_count(),
        "saved": saved,
        "flops": flops,
    }


def dump(doc) -> str:
    """Sorted keys, integers as JSON integers; each saved-tensor entry on one line."""
    tensors = doc["saved"]["tensors"]
    doc = json.loads(json.dumps(doc))
    doc["saved"]["tensors"] = "@@TENSORS@@"
    text = json.dumps(doc, indent=2, sort_keys=True)
    lines = ",\n".join("      " + json.dumps(t, sort_keys=True) for t in tensors)
    return text.replace('"@@TENSORS@@"', "[\n" + lines + "\n    ]") + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tally", required=True, help="path to the tally binary")
    ap.add_argument("--out", required=True, help="directory for the golden JSON files")
    ap.add_argument("--only", default=None, help="only cases whose file stem contains this string")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    n = 0
    for family, variants in VARIANTS.items():
        for label, base, p, impl in variants:
            for size in SIZES:
                for B in BATCHES:
                    for T in CONTEXTS:
                        stem = f"{family}-{label}-{size}-B{B}-T{T}"
                        if args.only and args.only not in stem:
                            continue
                        doc = run_case(args.tally, family, label, base, p, impl, size, B, T)
                        with open(os.path.join(args.out, stem + ".json"), "w") as f:
                            f.write(dump(doc))
                        n += 1
    print(f"wrote {n} golden files to {args.out} in {time.time() - t0:.1f} s (torch {torch.__version__})")


if __name__ == "__main__":
    main()

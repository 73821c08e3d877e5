#!/usr/bin/env python3
"""Real CPU runs of tiny models, one per family, measured with transformers + torch.

For each family a tiny config of the same model_type is derived from the real fixture in
tests/fixtures/hf/<real>/config.json (same fields in the same legacy dialect, sizes
overridden, quantization_config and auto_map dropped), written to
tests/fixtures/hf/tiny-<family>/config.json, reloaded from there with AutoConfig (so defaults
fill what the file omits, exactly as for a Hub config), and run for real:

  * fp32, random init after torch.manual_seed(SEED), eval mode, attn_implementation="eager",
    experts_implementation="eager" (the loop over experts) for MoE models;
  * (a) forward FLOPs with torch.utils.flop_counter.FlopCounterMode, use_cache=False,
        logits for every position (logits_to_keep=0, the default), total / per aten op /
        per module;
  * (b) KV cache after a prefill with use_cache=True: the returned DynamicCache's layers,
        their classes, key/value shapes and nbytes (fp32) and the bf16 equivalent
        (elements x 2); also a StaticCache(max_cache_len=T) prefill for comparison;
  * (c) MoE: per layer, the tokens-per-expert histogram seen by the experts module, and a
        check that the experts' measured FLOPs equal sum_e 2*tokens_e*(numel of expert e's
        weight matrices) (biases are adds, not counted); also the FLOPs that the default
        experts implementation transformers picks on this machine would report.

Output: tests/golden/hf/tiny/<family>-B<b>-T<t>.json for B in {1, 2}, T in {5, 12}; the tiny
sliding window is 8, so T=5 is inside it and T=12 beyond it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
import transformers  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from transformers import AutoConfig, AutoModelForCausalLM  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "hf"
OUT = ROOT / "tests" / "golden" / "hf" / "tiny"

SEED = 0
BATCHES = (1, 2)
SEQ_LENS = (5, 12)
WINDOW = 8

# common tiny sizes (llama-style names); per family overrides below
H, L, NH, KV, HD, F, V, P = 64, 2, 4, 2, 16, 128, 128, 256
LLAMA_LIKE = dict(hidden_size=H, num_hidden_layers=L, num_attention_heads=NH, num_key_value_heads=KV,
                  intermediate_size=F, vocab_size=V, max_position_embeddings=P)

# family -> (real fixture it is derived from, overrides, keys to drop)
FAMILIES: dict[str, tuple[str, dict, tuple[str, ...]]] = {
    "gpt2": ("gpt2", dict(n_embd=H, n_layer=L, n_head=NH, n_positions=P, n_ctx=P, vocab_size=V,
                          bos_token_id=V - 1, eos_token_id=V - 1), ()),
    "llama": ("llama-3-8b", dict(LLAMA_LIKE, bos_token_id=1, eos_token_id=2), ()),
    "mistral": ("mistral-7b-v0.1", dict(LLAMA_LIKE, sliding_window=WINDOW), ()),
    "mixtral": ("mixtral-8x7b-v0.1", dict(LLAMA_LIKE, intermediate_size=96, num_local_experts=4,
                                          num_experts_per_tok=2), ()),
    "qwen2": ("qwen2-7b", dict(LLAMA_LIKE, bos_token_id=1, eos_token_id=2, sliding_window=WINDOW,
                               max_window_layers=L), ()),
    "qwen2_moe": ("qwen1.5-moe-a2.7b", dict(LLAMA_LIKE, bos_token_id=1, eos_token_id=2, num_key_value_heads=NH,
                                            moe_intermediate_size=32, shared_expert_intermediate_size=F,
                                            num_experts=4, num_experts_per_tok=2, sliding_window=WINDOW,
                                            max_window_layers=L), ()),
    "qwen3": ("qwen3-8b", dict(LLAMA_LIKE, head_dim=HD, bos_token_id=1, eos_token_id=2, max_window_layers=L), ()),
    "qwen3_moe": ("qwen3-30b-a3b", dict(LLAMA_LIKE, head_dim=HD, bos_token_id=1, eos_token_id=2,
                                        moe_intermediate_size=32, num_experts=8, num_experts_per_tok=2,
                                        max_window_layers=L), ()),
    "gemma2": ("gemma-2-9b", dict(LLAMA_LIKE, head_dim=HD, query_pre_attn_scalar=HD, sliding_window=WINDOW,
                                  sliding_window_size=WINDOW, pad_token_id=0, bos_token_id=2, eos_token_id=1), ()),
    # gemma3: the real fixture is the multimodal wrapper; the tiny one is its text part (gemma3_text),
    # 6 layers so that the default sliding_window_pattern 6 gives 5 sliding + 1 full layer
    "gemma3": ("gemma-3-27b:text_config", dict(LLAMA_LIKE, num_hidden_layers=6, head_dim=HD, query_pre_attn_scalar=HD,
                                               sliding_window=WINDOW, pad_token_id=0, bos_token_id=2,
                                               eos_token_id=1), ()),
    "phi3": ("phi-3-mini-4k-instruct", dict(LLAMA_LIKE, num_key_value_heads=NH, sliding_window=WINDOW,
                                            original_max_position_embeddings=P, bos_token_id=1, eos_token_id=2,
                                            pad_token_id=0), ("auto_map", "_name_or_path")),
    "deepseek_v3": ("deepseek-v3", dict(LLAMA_LIKE, num_key_value_heads=NH, first_k_dense_replace=1,
                                        q_lora_rank=32, kv_lora_rank=16, qk_nope_head_dim=16, qk_rope_head_dim=8,
                                        v_head_dim=16, moe_intermediate_size=32, n_routed_experts=8,
                                        num_experts_per_tok=2, n_group=2, topk_group=1, n_shared_experts=1,
                                        bos_token_id=0, eos_token_id=1,
                                        rope_scaling={"beta_fast": 32, "beta_slow": 1, "factor": 4,
                                                      "mscale": 1.0, "mscale_all_dim": 1.0,
                                                      "original_max_position_embeddings": 64, "type": "yarn"}),
                    ("quantization_config", "auto_map")),
    "gpt_oss": ("gpt-oss-20b", dict(LLAMA_LIKE, head_dim=HD, intermediate_size=32, num_local_experts=4,
                                    num_experts_per_tok=2, experts_per_token=2, sliding_window=WINDOW,
                                    layer_types=["sliding_attention", "full_attention"], eos_token_id=V - 1,
                                    pad_token_id=V - 2, initial_context_length=64,
                                    rope_scaling={"beta_fast": 32.0, "beta_slow": 1.0, "factor": 4.0,
                                                  "original_max_position_embeddings": 64, "rope_type": "yarn",
                                                  "truncate": False}),
                ("quantization_config",)),
}


def tiny_config(family: str):
    real, overrides, drop = FAMILIES[family]
    real_dir, _, sub = real.partition(":")
    d = json.loads((FIXTURES / real_dir / "config.json").read_text())
    if sub:
        d = d[sub]
        d["architectures"] = ["Gemma3ForCausalLM"]
    for k in drop:
        d.pop(k, None)
    d.update(overrides)
    d.pop("transformers_version", None)  # it would name the version of the published file, not ours
    out = FIXTURES / f"tiny-{family}"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    # written in the same dialect as the published file it comes from (legacy keys such as
    # rope_theta / torch_dtype kept as they are), not re-serialised by this transformers version
    (out / "config.json").write_text(json.dumps(d, indent=2, sort_keys=True) + "\n")
    return AutoConfig.from_pretrained(str(out)), out


def op_name(op) -> str:
    s = str(op)
    return s if s.startswith("aten.") else f"aten.{s}"


def count_flops(model, input_ids) -> dict:
    with FlopCounterMode(display=False) as fc:
        with torch.no_grad():
            model(input_ids=input_ids, use_cache=False)
    counts = fc.get_flop_counts()
    by_op = {op_name(k): int(v) for k, v in counts.get("Global", {}).items()}
    by_module = {}
    for mod, ops in counts.items():
        if mod == "Global":
            continue
        by_module[mod] = {op_name(k): int(v) for k, v in ops.items()}
    return {"total": int(fc.get_total_flops()), "by_op": dict(sorted(by_op.items())),
            "by_module": dict(sorted(by_module.items()))}


def cache_record(cache) -> dict:
    layers = []
    total_bytes = 0
    total_elems = 0
    for i, layer in enumerate(cache.layers):
        rec = {"index": i, "class": type(layer).__name__}
        sw = getattr(layer, "sliding_window", None)
        if sw is not None:
            rec["sliding_window"] = int(sw)
        for kind in ("keys", "values"):
            t = getattr(layer, kind, None)
            if t is None or not isinstance(t, torch.Tensor) or t.numel() == 0 and t.dim() < 2:
                rec[kind] = None
                continue
            rec[kind] = {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
                         "numel": int(t.numel()), "nbytes": int(t.nbytes)}
            total_bytes += int(t.nbytes)
            total_elems += int(t.numel())
        # anything else tensor-valued that a layer keeps (none expected for these families)
        extra = {k: list(v.shape) for k, v in vars(layer).items()
                 if isinstance(v, torch.Tensor) and k not in ("keys", "values") and v.dim() >= 2}
        if extra:
            rec["other_tensors"] = extra
        layers.append(rec)
    return {"class": type(cache).__name__, "layers": layers, "total_numel": total_elems,
            "total_bytes_fp32": total_bytes, "total_bytes_if_bf16": total_elems * 2,
            "seq_length_reported": int(cache.get_seq_length())}


def experts_modules(model):
    return [(n, m) for n, m in model.named_modules() if n.endswith("mlp.experts") and hasattr(m, "config")]


def routing_hooks(model):
    seen: dict[str, list] = {}
    handles = []
    for name, mod in experts_modules(model):
        def pre(m, args, kwargs, name=name):
            idx = args[1] if len(args) > 1 else next(v for k, v in kwargs.items() if "ind" in k)
            seen.setdefault(name, []).append(idx.detach().clone())
        handles.append(mod.register_forward_pre_hook(pre, with_kwargs=True))
    return seen, handles


def expert_matrix_numel(mod) -> int:
    """numel of one expert's weight matrices (3-D expert parameters divided by E)."""
    tot = 0
    for pn, p in mod.named_parameters(recurse=False):
        if p.dim() == 3:
            tot += p[0].numel()
    return tot


def moe_record(model, cfg, input_ids, flops) -> dict:
    seen, handles = routing_hooks(model)
    with torch.no_grad():
        model(input_ids=input_ids, use_cache=False)
    for h in handles:
        h.remove()
    top_k = int(cfg.num_experts_per_tok)
    layers = []
    for name, mod in experts_modules(model):
        idx = seen[name][0]
        E = int(mod.num_experts) if hasattr(mod, "num_experts") else int(next(p for p in mod.parameters()).shape[0])
        hist = torch.bincount(idx.reshape(-1), minlength=E).tolist()
        per_tok = idx.shape[-1]
        n_tokens = idx.shape[0]
        per_expert = expert_matrix_numel(mod)
        # FlopCounterMode module key for this experts module
        key = next(k for k in flops["by_module"] if k.endswith("." + name))
        measured = sum(flops["by_module"][key].values())
        expected = sum(2 * t * per_expert for t in hist)
        shapes = {pn: list(p.shape) for pn, p in mod.named_parameters(recurse=False)}
        layers.append({
            "module": name, "num_experts": E, "top_k_seen": int(per_tok), "tokens": int(n_tokens),
            "tokens_per_expert": [int(x) for x in hist], "experts_hit": int(sum(1 for x in hist if x)),
            "expert_param_shapes": shapes, "expert_weight_numel_per_expert": per_expert,
            "experts_flops_measured": int(measured), "experts_flops_by_op": flops["by_module"][key],
            "experts_flops_formula": "sum_e 2 * tokens_e * expert_weight_numel_per_expert",
            "experts_flops_formula_value": int(expected), "formula_matches": measured == expected,
        })
        assert measured == expected, (name, measured, expected)
    return {"top_k": top_k, "experts_implementation": "eager", "layers": layers,
            "note": "FlopCounterMode counts what runs: with the eager loop only the experts that received "
                    "tokens run, each on exactly its tokens, so expert FLOPs = sum_e 2*tokens_e*numel(W_e) "
                    "= 2*N*k*numel(W_e) for equal-size experts (N = B*T tokens). It does not depend on which "
                    "experts are picked, only on N and k, as every token picks exactly k distinct experts."}


def run_family(family: str, versions: dict) -> list[str]:
    cfg, cfg_dir = tiny_config(family)
    is_moe = getattr(cfg, "num_experts_per_tok", None) is not None and family not in ()
    kwargs = dict(attn_implementation="eager", dtype=torch.float32)
    if is_moe:
        kwargs["experts_implementation"] = "eager"
    torch.manual_seed(SEED)
    model = AutoModelForCausalLM.from_config(cfg, **kwargs).eval()
    default_impl_model = None
    if is_moe:
        torch.manual_seed(SEED)
        default_impl_model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager",
                                                              dtype=torch.float32).eval()
    written = []
    params = sum(p.numel() for p in model.parameters())
    for B in BATCHES:
        for T in SEQ_LENS:
            g = torch.Generator().manual_seed(1000 * B + T)
            input_ids = torch.randint(0, cfg.vocab_size, (B, T), generator=g)
            flops = count_flops(model, input_ids)
            with torch.no_grad():
                out = model(input_ids=input_ids, use_cache=True)
            cache = getattr(out, "cache", None)
            if cache is None:
                cache = out.past_key_values
            kv = cache_record(cache)
            static = None
            try:
                sc = transformers.StaticCache(config=cfg, max_cache_len=T)
                with torch.no_grad():
                    model(input_ids=input_ids, use_cache=True, cache=sc)
                static = cache_record(sc)
                static["max_cache_len"] = T
            except Exception as e:  # recorded, not hidden
                static = {"error": f"{type(e).__name__}: {e}"}
            rec = {
                "family": family,
                "model_type": cfg.model_type,
                "model_class": type(model).__name__,
                "fixture": f"tests/fixtures/hf/{cfg_dir.name}/config.json",
                "derived_from": f"tests/fixtures/hf/{FAMILIES[family][0].split(':')[0]}/config.json",
                "batch": B, "seq_len": T, "tokens": B * T,
                "seed": SEED, "input_ids": input_ids.tolist(),
                "dtype": "float32", "attn_implementation": model.config._attn_implementation,
                "sliding_window": getattr(cfg, "sliding_window", None),
                "layer_types": list(getattr(cfg, "layer_types", None) or []),
                "total_params": int(params),
                "flops": flops,
                "kv_cache": kv,
                "static_cache": static,
                "versions": versions,
            }
            if is_moe:
                rec["moe"] = moe_record(model, cfg, input_ids, flops)
                dflops = count_flops(default_impl_model, input_ids)
                rec["moe"]["default_experts_implementation"] = {
                    "name": default_impl_model.config._experts_implementation,
                    "total": dflops["total"], "by_op": dflops["by_op"],
                }
            path = OUT / f"{family}-B{B}-T{T}.json"
            path.write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")
            written.append(path.name)
    return written


def main(argv: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    versions = {"transformers": transformers.__version__, "torch": torch.__version__.split("+")[0]}
    fams = [f for f in FAMILIES if not argv or f in argv]
    for fam in fams:
        t0 = time.time()
        files = run_family(fam, versions)
        print(f"{fam:12s} {len(files)} files ({time.time() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Cross-check of closed-form rules (config terms only) against the measured golden files.

This script does NOT import transformers: it reads each config.json as plain JSON, the way
tally will, applies the per-family rules written in docs/models.md (parameters, forward FLOPs as
FlopCounterMode counts them, KV-cache elements as HF's caches hold them) and compares them
with the numbers that measure_params.py / measure_tiny.py measured. It prints one line per
check and exits non-zero on any mismatch.

Config defaults that the rules need when a key is absent are the transformers defaults for
that model_type (noted inline); they matter for the published files, which omit many keys.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "hf"
GOLD = ROOT / "tests" / "golden" / "hf"

# tie_word_embeddings default when the file has no such key (transformers' class default)
TIE_DEFAULT = {"gpt2": True, "gemma2": True, "gemma3_text": True}


def text_cfg(c: dict) -> dict:
    if c.get("model_type") == "gemma3":
        t = dict(c["text_config"])
        t.setdefault("vocab_size", 262208)  # Gemma3TextConfig default; the published file omits it
        return t
    return c


def dims(c: dict) -> dict:
    mt = c["model_type"]
    if mt == "gpt2":
        H, A, L = c["n_embd"], c["n_head"], c["n_layer"]
        return dict(mt=mt, H=H, A=A, K=A, d=H // A, L=L, V=c["vocab_size"], F=c.get("n_inner") or 4 * H,
                    P=c["n_positions"], tie=c.get("tie_word_embeddings", True))
    H, A = c["hidden_size"], c["num_attention_heads"]
    return dict(mt=mt, H=H, A=A, K=c.get("num_key_value_heads") or A, d=c.get("head_dim") or H // A,
                L=c["num_hidden_layers"], V=c["vocab_size"], F=c.get("intermediate_size"),
                tie=c.get("tie_word_embeddings", TIE_DEFAULT.get(mt, False)))


def moe_layers(c: dict) -> list[bool]:
    mt, L = c["model_type"], c.get("num_hidden_layers") or c.get("n_layer")
    if mt in ("mixtral", "gpt_oss"):
        return [True] * L
    if mt in ("qwen2_moe", "qwen3_moe"):
        step = c.get("decoder_sparse_step", 1)
        only = set(c.get("mlp_only_layers") or [])
        return [(i not in only) and c["num_experts"] > 0 and (i + 1) % step == 0 for i in range(L)]
    if mt == "deepseek_v3":
        k, freq = c.get("first_k_dense_replace", 0), c.get("moe_layer_freq", 1)
        return [c["n_routed_experts"] is not None and i >= k and i % freq == 0 for i in range(L)]
    return [False] * L


def n_experts(c: dict) -> int:
    return c.get("num_local_experts") or c.get("num_experts") or c.get("n_routed_experts")


# ----------------------------------------------------------------------------- parameters
def params(c: dict) -> dict:
    """Returns the group breakdown (same group names as measure_params.py)."""
    c = text_cfg(c)
    x = dims(c)
    mt, H, A, K, d, L, V, F = x["mt"], x["H"], x["A"], x["K"], x["d"], x["L"], x["V"], x["F"]
    g = {"embedding": V * H}
    if mt == "gpt2":
        g["position_embedding"] = x["P"] * H
        g["attention"] = L * (H * 3 * H + 3 * H + H * H + H)           # fused c_attn (+bias), c_proj (+bias)
        g["mlp"] = L * (H * F + F + F * H + H)                          # c_fc, c_proj with biases
        g["norm"] = L * 2 * (2 * H) + 2 * H                             # ln_1, ln_2, ln_f: weight + bias
        return g
    if mt == "deepseek_v3":
        qr, kr = c["q_lora_rank"], c["kv_lora_rank"]
        dn, dr, dv = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
        g["attention"] = L * (H * qr + qr * A * (dn + dr) + H * (kr + dr) + kr * A * (dn + dv) + A * dv * H)
        g["attention_norm"] = L * (qr + kr)                             # q_a_layernorm, kv_a_layernorm
    elif mt == "phi3":
        g["attention"] = L * (H * (A + 2 * K) * d + A * d * H)          # fused qkv_proj, o_proj
    else:
        attn = H * A * d + 2 * H * K * d + A * d * H
        if mt in ("qwen2", "qwen2_moe"):
            attn += A * d + 2 * K * d                                   # q/k/v biases (hard-wired in qwen2)
        if c.get("attention_bias"):
            attn += A * d + 2 * K * d + H                               # q/k/v/o biases
        if mt == "gpt_oss":
            attn += A                                                   # attention sinks, one per head
        g["attention"] = L * attn
        if mt in ("qwen3", "qwen3_moe", "gemma3_text"):
            g["attention_norm"] = L * 2 * d                             # q_norm, k_norm over head_dim
    n_norm = 4 if mt in ("gemma2", "gemma3_text") else 2                # gemma: pre/post attn + pre/post ffw
    g["norm"] = L * n_norm * H + H
    moe = moe_layers(c)
    n_moe, n_dense = sum(moe), L - sum(moe)
    if n_dense:
        if mt == "phi3":
            g["mlp"] = n_dense * (H * 2 * F + F * H)                    # fused gate_up_proj, down_proj
        else:
            g["mlp"] = n_dense * 3 * H * F
    if n_moe:
        E = n_experts(c)
        Fe = c.get("moe_intermediate_size") or F
        per_expert = 3 * H * Fe
        router = E * H
        if mt == "gpt_oss":
            per_expert += 2 * Fe + H                                    # gate_up bias (2F) + down bias (H)
            router += E                                                 # router bias
        g["experts"] = n_moe * E * per_expert
        g["router"] = n_moe * router
        if mt == "qwen2_moe":
            g["shared_experts"] = n_moe * 3 * H * c["shared_expert_intermediate_size"]
            g["shared_expert_gate"] = n_moe * H
        if mt == "deepseek_v3":
            g["shared_experts"] = n_moe * 3 * H * Fe * c["n_shared_experts"]
    if not x["tie"]:
        g["lm_head"] = V * H
    return g


def active(c: dict) -> int:
    c = text_cfg(c)
    x = dims(c)
    moe = moe_layers(c)
    if not any(moe):
        return None
    E, k = n_experts(c), c["num_experts_per_tok"]
    Fe = c.get("moe_intermediate_size") or x["F"]
    per_expert = 3 * x["H"] * Fe + ((2 * Fe + x["H"]) if c["model_type"] == "gpt_oss" else 0)
    return sum(params(c).values()) - sum(moe) * (E - k) * per_expert


# ----------------------------------------------------------------------------- forward FLOPs
def flops(c: dict, B: int, T: int) -> int:
    """Forward FLOPs as torch's FlopCounterMode counts them for HF eager attention:
    only matmuls (mm/addmm/bmm), 2*m*n*k each; the attention scores and A.V are full T x T
    (the causal / sliding mask is applied after the matmul, so it saves nothing); the LM head
    runs on all B*T positions; MoE experts run only on the tokens routed to them."""
    c = text_cfg(c)
    x = dims(c)
    mt, H, A, K, d, L, V, F = x["mt"], x["H"], x["A"], x["K"], x["d"], x["L"], x["V"], x["F"]
    N = B * T
    total = 2 * N * H * V                                                # lm_head (tied or not)
    moe = moe_layers(c)
    for i in range(L):
        if mt == "deepseek_v3":
            qr, kr = c["q_lora_rank"], c["kv_lora_rank"]
            dn, dr, dv = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
            total += 2 * N * (H * qr + qr * A * (dn + dr) + H * (kr + dr) + kr * A * (dn + dv) + A * dv * H)
            total += 2 * B * A * T * T * (dn + dr) + 2 * B * A * T * T * dv
        elif mt == "gpt2":
            total += 2 * N * (H * 3 * H + H * H) + 4 * B * A * T * T * d
        else:
            total += 2 * N * (H * A * d + 2 * H * K * d + A * d * H) + 4 * B * A * T * T * d
        if mt == "gpt2":
            total += 2 * N * 2 * H * F
        elif moe[i]:
            E, k = n_experts(c), c["num_experts_per_tok"]
            Fe = c.get("moe_intermediate_size") or F
            total += 2 * N * H * E                                       # router
            total += 2 * N * k * 3 * H * Fe                              # the k routed experts of each token
            if mt == "qwen2_moe":
                total += 2 * N * 3 * H * c["shared_expert_intermediate_size"] + 2 * N * H  # shared + its gate
            if mt == "deepseek_v3":
                total += 2 * N * 3 * H * Fe * c["n_shared_experts"]
        else:
            total += 2 * N * 3 * H * F
    return total


# ----------------------------------------------------------------------------- KV cache
def layer_kinds(c: dict) -> list[str]:
    c = text_cfg(c)
    mt, L = c["model_type"], c.get("num_hidden_layers") or c.get("n_layer")
    if c.get("layer_types"):
        return list(c["layer_types"])
    if mt in ("mistral", "mixtral", "phi3"):
        return ["sliding_attention" if c.get("sliding_window") else "full_attention"] * L
    if mt == "gemma2":
        return ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(L)]
    if mt == "gemma3_text":
        p = c.get("sliding_window_pattern", 6)
        return ["sliding_attention" if (i + 1) % p else "full_attention" for i in range(L)]
    if mt in ("qwen2", "qwen3", "qwen2_moe", "qwen3_moe") and c.get("use_sliding_window"):
        raise NotImplementedError("use_sliding_window=true not exercised by these fixtures")
    return ["full_attention"] * L


def kv_elements(c: dict, B: int, T: int, static: bool = False) -> int:
    """Elements in HF's cache after a T-token prefill. DynamicCache: sliding layers keep the last
    W-1 tokens; StaticCache(max_cache_len=T): sliding layers hold min(W, T) slots, full ones T."""
    c = text_cfg(c)
    x = dims(c)
    if c["model_type"] == "deepseek_v3":
        return x["L"] * B * T * (c["kv_lora_rank"] + c["qk_rope_head_dim"])
    W = c.get("sliding_window")
    tot = 0
    for kind in layer_kinds(c):
        toks = T
        if kind == "sliding_attention":
            toks = min(T, W) if static else min(T, W - 1)
        tot += 2 * B * x["K"] * x["d"] * toks
    return tot


def main() -> int:
    bad = 0
    n = 0
    for gp in sorted((GOLD / "params").glob("*.json")):
        g = json.loads(gp.read_text())
        c = json.loads((ROOT / g["fixture"]).read_text())
        if gp.stem.endswith("-text") or c["model_type"] != "gemma3":
            want = params(c)
            got = {k: v for k, v in g["groups"].items() if k not in ("vision_tower", "multimodal_projector")}
            ok = want == got
            a_ok = True
            if "moe" in g:
                a_ok = active(c) == g["moe"]["active_params"]
            n += 1
            bad += not (ok and a_ok)
            print(f"{'ok ' if ok and a_ok else 'BAD'} params {gp.stem:24s} formula {sum(want.values()):>16,} measured {g['total_params']:>16,}"
                  + ("" if ok else f"\n    want {want}\n    got  {got}") + ("" if a_ok else f"  active {active(c)} vs {g['moe']['active_params']}"))
        else:
            got_text = g["total_params"] - g["groups"].get("vision_tower", 0) - g["groups"].get("multimodal_projector", 0)
            ok = sum(params(c).values()) == got_text
            n += 1
            bad += not ok
            print(f"{'ok ' if ok else 'BAD'} params {gp.stem:24s} text part {got_text:,} (+ vision {g['groups']['vision_tower']:,} + projector {g['groups']['multimodal_projector']:,})")
    for tp in sorted((GOLD / "tiny").glob("*.json")):
        g = json.loads(tp.read_text())
        c = json.loads((ROOT / g["fixture"]).read_text())
        B, T = g["batch"], g["seq_len"]
        checks = {
            "params": (sum(params(c).values()), g["total_params"]),
            "flops": (flops(c, B, T), g["flops"]["total"]),
            "kv": (kv_elements(c, B, T), g["kv_cache"]["total_numel"]),
            "kv_static": (kv_elements(c, B, T, static=True), g["static_cache"].get("total_numel")),
        }
        for name, (want, got) in checks.items():
            n += 1
            ok = want == got
            bad += not ok
            if not ok:
                print(f"BAD {name:9s} {tp.stem:24s} formula {want} measured {got}")
        print(f"ok  tiny   {tp.stem:24s} params/flops/kv/kv_static") if all(w == m for w, m in checks.values()) else None
    print(f"{n - bad} of {n} checks agree")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

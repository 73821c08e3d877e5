#!/usr/bin/env python3
"""Parameter counts of real Hugging Face configs, measured with transformers on the meta device.

For every folder tests/fixtures/hf/<name>/config.json (except the tiny-* ones) this script
loads the config with AutoConfig (offline), builds AutoModelForCausalLM.from_config under
`torch.device("meta")` (no memory, no weights) and writes tests/golden/hf/params/<name>.json.

Every number in the output comes from the instantiated module tree: parameter counts are
sums of `numel()` over `model.named_parameters()` (which yields each tensor once, so a tied
LM head is counted once, under the embedding). Nothing is computed from config arithmetic;
the only derived numbers are the MoE "active" counts, which subtract measured per-expert
sizes (see ACTIVE CONVENTION below).

Groups (disjoint; they add up to total_params):
  embedding             token embedding (embed_tokens / wte)
  position_embedding    learned positions (gpt2 wpe)
  attention             q/k/v/o projections (fused qkv for phi3/gpt2), their biases, gpt-oss sinks,
                        deepseek MLA down/up projections
  attention_norm        norms inside attention: qwen3/gemma3 q_norm,k_norm; deepseek q_a_layernorm,
                        kv_a_layernorm
  norm                  block norms and the final norm (RMSNorm/LayerNorm weights and biases)
  mlp                   dense feed-forward (including deepseek's first_k_dense_replace layers)
  experts               routed experts (all E of them, with their biases for gpt-oss)
  router                router / gate producing expert logits (weight, and bias for gpt-oss)
  shared_experts        always-on shared expert(s) (qwen2_moe shared_expert, deepseek shared_experts)
  shared_expert_gate    qwen2_moe's sigmoid gate on the shared expert (1 x H)
  lm_head               untied output projection (absent from the groups when tied)
  vision_tower, multimodal_projector   gemma3's SigLIP tower and projector (multimodal wrapper only)

ACTIVE CONVENTION (MoE models only):
  active_params = total_params - sum over MoE layers of (E - k) * params_per_routed_expert
  i.e. per token every parameter is active except the routed experts it is not sent to:
  embedding, lm_head, attention, norms, router, shared experts (and shared_expert_gate) and dense
  layers all count as active. params_per_routed_expert is measured: the numel of the layer's
  expert tensors (weights and biases) divided by E. Also written:
  active_params_excluding_embedding = active_params - embedding  (lm_head still counted)
  active_params_excluding_embedding_and_lm_head = active_params - embedding - lm_head
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoConfig, AutoModelForCausalLM  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "hf"
OUT = ROOT / "tests" / "golden" / "hf" / "params"

LAYER_RE = re.compile(r"\.layers\.(\d+)\.|\.h\.(\d+)\.")


def classify(name: str) -> str:
    if "vision_tower" in name:
        return "vision_tower"
    if "multi_modal_projector" in name:
        return "multimodal_projector"
    if name.endswith("embed_tokens.weight") or name.endswith("wte.weight"):
        return "embedding"
    if name.endswith("wpe.weight"):
        return "position_embedding"
    if name.startswith("lm_head."):
        return "lm_head"
    if re.search(r"\.(self_attn|attn)\.(q_norm|k_norm|q_a_layernorm|kv_a_layernorm)\.", name):
        return "attention_norm"
    if re.search(r"\.(self_attn|attn)\.", name):
        return "attention"
    if re.search(r"\.mlp\.experts\.", name):
        return "experts"
    if re.search(r"\.mlp\.(gate|router)\.", name):
        return "router"
    if re.search(r"\.mlp\.shared_expert_gate\.", name):
        return "shared_expert_gate"
    if re.search(r"\.mlp\.shared_experts?\.", name):
        return "shared_experts"
    if re.search(r"\.mlp\.", name):
        return "mlp"
    if re.search(r"(layernorm|_norm|\.norm|\.ln_\d|\.ln_f)\.(weight|bias)$", name):
        return "norm"
    raise ValueError(f"unclassified parameter {name}")


def pattern(name: str) -> str:
    return re.sub(r"\.\d+\.", ".{i}.", name)


def moe_shape(cfg) -> tuple[int, int] | None:
    """(E, k) read from the config object as transformers parsed it."""
    e = None
    for attr in ("num_local_experts", "num_experts", "n_routed_experts"):
        v = getattr(cfg, attr, None)
        if isinstance(v, int) and v > 0:
            e = v
            break
    k = getattr(cfg, "num_experts_per_tok", None)
    if e is None or not k:
        return None
    return e, k


def measure_model(model, cfg) -> dict:
    groups: dict[str, int] = {}
    tensors: dict[str, dict] = {}
    per_layer: dict[int, int] = {}
    per_layer_groups: dict[int, dict[str, int]] = {}
    experts_per_layer: dict[int, dict] = {}
    total = 0
    n_tensors = 0
    for name, p in model.named_parameters():  # remove_duplicate=True: tied tensors once
        n = p.numel()
        total += n
        n_tensors += 1
        g = classify(name)
        groups[g] = groups.get(g, 0) + n
        pat = pattern(name)
        t = tensors.setdefault(pat, {"shape": list(p.shape), "count": 0, "group": g, "dtype": str(p.dtype).replace("torch.", "")})
        assert t["shape"] == list(p.shape), (pat, t["shape"], list(p.shape))
        t["count"] += 1
        m = LAYER_RE.search(name)
        if m and "vision_tower" not in name:
            li = int(m.group(1) or m.group(2))
            per_layer[li] = per_layer.get(li, 0) + n
            plg = per_layer_groups.setdefault(li, {})
            plg[g] = plg.get(g, 0) + n
            if g == "experts":
                d = experts_per_layer.setdefault(li, {"numel": 0, "leading_dims": set()})
                d["numel"] += n
                d["leading_dims"].add(p.shape[0])

    buffers = {}
    state_keys = set(model.state_dict().keys())
    persistent_buffer_numel = 0
    for name, b in model.named_buffers():
        pat = pattern(name)
        persistent = name in state_keys
        d = buffers.setdefault(pat, {"shape": list(b.shape), "count": 0, "persistent": persistent, "dtype": str(b.dtype).replace("torch.", "")})
        d["count"] += 1
        if persistent:
            persistent_buffer_numel += b.numel()

    in_emb = model.get_input_embeddings()
    out_emb = model.get_output_embeddings()
    tied = bool(out_emb is not None and in_emb is not None and out_emb.weight is in_emb.weight)

    rec = {
        "model_class": type(model).__name__,
        "config_class": type(cfg).__name__,
        "total_params": total,
        "num_parameter_tensors": n_tensors,
        "groups": dict(sorted(groups.items())),
        "lm_head_tied_to_embedding": tied,
        "tensors": dict(sorted(tensors.items())),
        "buffers": dict(sorted(buffers.items())),
        "persistent_buffer_numel": persistent_buffer_numel,
        "total_params_plus_persistent_buffers": total + persistent_buffer_numel,
        "num_layers_measured": len(per_layer),
        "per_layer_params": [per_layer[i] for i in sorted(per_layer)],
    }
    # distinct per-layer group breakdowns (e.g. dense vs MoE layers, sliding vs full)
    kinds: dict[str, dict] = {}
    for li in sorted(per_layer_groups):
        key = json.dumps(dict(sorted(per_layer_groups[li].items())), sort_keys=True)
        k = kinds.setdefault(key, {"groups": dict(sorted(per_layer_groups[li].items())), "layers": []})
        k["layers"].append(li)
    rec["layer_kinds"] = list(kinds.values())

    me = moe_shape(cfg)
    if me is not None and experts_per_layer:
        E, k = me
        inactive = 0
        per_expert_sizes = set()
        for li, d in sorted(experts_per_layer.items()):
            assert d["leading_dims"] == {E}, (li, d["leading_dims"], E)
            assert d["numel"] % E == 0
            pe = d["numel"] // E
            per_expert_sizes.add(pe)
            inactive += (E - k) * pe
        assert len(per_expert_sizes) == 1
        active = total - inactive
        emb = groups.get("embedding", 0)
        head = groups.get("lm_head", 0)
        rec["moe"] = {
            "num_experts": E,
            "top_k": k,
            "num_moe_layers": len(experts_per_layer),
            "moe_layers": sorted(experts_per_layer),
            "params_per_routed_expert": per_expert_sizes.pop(),
            "inactive_routed_params_per_token": inactive,
            "active_params": active,
            "active_params_excluding_embedding": active - emb,
            "active_params_excluding_embedding_and_lm_head": active - emb - head,
            "convention": "active = total - sum_moe_layers (E-k)*params_per_routed_expert; "
            "embedding, lm_head, attention, norms, router, shared experts and dense layers all active",
        }
    return rec


def mxfp4_layout(model, cfg) -> dict:
    """gpt-oss ships its routed experts in MXFP4. from_config ignores quantization_config and builds
    the bf16/fp32 layout measured above; here transformers' own quantized experts module
    (Mxfp4GptOssExperts, what from_pretrained swaps in) is built on the meta device for one layer
    and measured, and the whole model's element count is re-summed with it in place of GptOssExperts."""
    from transformers.integrations.mxfp4 import Mxfp4GptOssExperts

    with torch.device("meta"):
        q = Mxfp4GptOssExperts(cfg)
    q_tensors = {n: {"shape": list(p.shape), "dtype": str(p.dtype).replace("torch.", ""), "numel": p.numel(),
                     "nbytes": p.numel() * p.element_size()} for n, p in q.named_parameters()}
    q_numel = sum(t["numel"] for t in q_tensors.values())
    experts = [m for n, m in model.named_modules() if n.endswith("mlp.experts")]
    bf16_numel = sum(p.numel() for p in experts[0].parameters())
    total = sum(p.numel() for p in model.parameters())
    return {
        "experts_module": type(q).__name__,
        "experts_tensors_per_layer": q_tensors,
        "experts_numel_per_layer": q_numel,
        "experts_numel_per_layer_unquantized": bf16_numel,
        "num_expert_layers": len(experts),
        "total_numel_with_mxfp4_experts": total - len(experts) * (bf16_numel - q_numel),
        "note": "uint8 tensors hold two fp4 values per byte (packed along the input dim); the per-32-value "
                "uint8 scales are not parameters of this module (transformers keeps them beside it after "
                "swizzling). In the checkpoint they are separate *_scales tensors of shape [E, out, in/32].",
    }


def mtp_layout(model, cfg) -> dict:
    """DeepSeek-V3's multi-token-prediction layer (checkpoint layer 61) is NOT part of
    DeepseekV3ForCausalLM: transformers ignores model.layers.61.* on load and builds it only as a
    separate MtpModel for generate(use_mtp=True). Build that MtpModel on the meta device and measure it."""
    from transformers.modeling_layers import MtpModel

    with torch.device("meta"):
        mtp = MtpModel(model, num_mtp_layers=cfg.num_mtp_layers)
    main_ids = {id(p) for p in model.parameters()}
    own, shared, tensors = 0, 0, {}
    for name, p in mtp.named_parameters():
        if id(p) in main_ids:
            shared += p.numel()
            continue
        own += p.numel()
        pat = pattern(name)
        t = tensors.setdefault(pat, {"shape": list(p.shape), "count": 0})
        t["count"] += 1
    state_keys = set(mtp.state_dict().keys())
    bufs = sum(b.numel() for n, b in mtp.named_buffers() if n in state_keys)
    return {
        "module_class": type(mtp).__name__,
        "num_mtp_layers": cfg.num_mtp_layers,
        "own_params": own,
        "params_shared_with_main_model": shared,
        "own_persistent_buffer_numel": bufs,
        "tensors": dict(sorted(tensors.items())),
        "in_AutoModelForCausalLM": False,
        "main_plus_mtp_own_params": sum(p.numel() for p in model.parameters()) + own,
        "main_plus_mtp_own_plus_shared_copies": sum(p.numel() for p in model.parameters()) + own + shared,
        "note": "shared = embed_tokens and lm_head, tied to the main model's in transformers; the released "
                "checkpoint stores its own copies of both under model.layers.61 (hence the last figure).",
    }


def build(cfg, cls=None):
    with torch.device("meta"):
        if cls is None:
            return AutoModelForCausalLM.from_config(cfg)
        return cls(cfg)


def main(argv: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    names = sorted(p.name for p in FIXTURES.iterdir() if (p / "config.json").exists() and not p.name.startswith("tiny-"))
    if argv:
        names = [n for n in names if n in argv]
    versions = {"transformers": transformers.__version__, "torch": torch.__version__.split("+")[0]}
    for name in names:
        t0 = time.time()
        cfg = AutoConfig.from_pretrained(str(FIXTURES / name), trust_remote_code=False)
        jobs = [(name, cfg, None, "AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(dir))")]
        if getattr(cfg, "model_type", None) == "gemma3":
            # the published gemma-3-27b config is the multimodal wrapper; also measure its text part alone
            jobs.append((name + "-text", cfg.text_config, transformers.Gemma3ForCausalLM,
                         "Gemma3ForCausalLM(AutoConfig.from_pretrained(dir).text_config)"))
        for out_name, c, cls, how in jobs:
            model = build(c, cls)
            rec = measure_model(model, c)
            if c.model_type == "gpt_oss":
                rec["mxfp4_release"] = mxfp4_layout(model, c)
            if getattr(c, "num_mtp_layers", 0):
                rec["mtp_module"] = mtp_layout(model, c)
            rec["fixture"] = f"tests/fixtures/hf/{name}/config.json"
            rec["built_with"] = how + ' under torch.device("meta")'
            rec["model_type"] = c.model_type
            rec["versions"] = versions
            path = OUT / f"{out_name}.json"
            path.write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")
            extra = ""
            if "moe" in rec:
                extra = f"  active {rec['moe']['active_params']:,}"
            print(f"{out_name:28s} {rec['model_class']:34s} total {rec['total_params']:>17,}{extra}  ({time.time() - t0:.1f}s)")
            del model
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

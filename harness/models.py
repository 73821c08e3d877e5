"""PyTorch implementations of the four tally model families, for measurement.

Each family follows its architecture file in derivations/models/<family>.toml op by op (same ops,
same order, same parameter shapes), so that the parameter count tally derives equals ours:

  cs336-2025  token embedding; L pre-norm blocks: RMSNorm -> W_Q, W_K, W_V (H x H) -> RoPE on Q, K
              -> causal attention -> W_O -> residual; RMSNorm -> SwiGLU W2(SiLU(W1 x) * W3 x)
              -> residual; final RMSNorm; untied LM head (V x H). No biases.
  cs336-2024  token embedding + learned position embedding (T x H); L pre-norm blocks: RMSNorm ->
              W_Q, W_K, W_V -> causal attention -> W_O -> residual; RMSNorm -> W2(GELU(W1 x))
              (exact erf GELU) -> residual; final RMSNorm; LM head tied to the token embedding.
  gpt2        token embedding + learned position embedding (M x H) -> dropout; L pre-LayerNorm
              blocks (LayerNorm with weight and bias): fused c_attn (H -> 3H, bias) -> causal
              attention with dropout on the probabilities -> c_proj (bias) -> dropout -> residual;
              LayerNorm -> c_fc (bias) -> tanh GELU -> c_proj (bias) -> dropout -> residual;
              final LayerNorm; LM head tied to wte.
  llama       as cs336-2025 but W_K, W_V are H x K*H/A (grouped-query attention, K kv heads, each
              shared by A/K query heads) and F is free.

Every model's forward(ids, targets) returns the mean cross-entropy loss, so that the whole
forward pass (embedding to loss) runs inside the module tree (which measure.py uses to attribute
each autograd node to a module).

Variants (the op implementations):

  torch       library ops: nn.functional.embedding / linear / rms_norm / layer_norm / silu / gelu,
              torch.softmax, cross_entropy; attention as explicit matmuls + torch.softmax with the
              causal mask applied by masked_fill from one model-level bool buffer; RoPE in the
              rotate-half form with (T_max, d) cos/sin buffers sliced to T; GQA by expand+reshape
              (Hugging Face's repeat_kv); dropout by nn.functional.dropout.
  torch-sdpa  as torch, but attention is F.scaled_dot_product_attention(is_causal=True) forced to
              the MATH backend (dropout_p passed to it for gpt2).
  manual      the hand-written ops of the Stanford CS336 assignment-1 handout, written the way the
              course staff's reference solution (cs336-basics) writes them: Linear is x @ W.T,
              Embedding is W[ids], RMSNorm is x / sqrt(mean(x^2) + eps) * g with the upcast to
              fp32 and back, softmax is exp(x - max) / sum(exp) with torch.max(...)[0], SiLU is
              x * sigmoid(x), GELU is the erf (2024) / tanh (gpt2) formula, RoPE pairs interleaved
              (x[..., 0::2], x[..., 1::2]) with (T, d/2) cos/sin buffers indexed by
              token_positions, a causal mask built in every attention call, cross-entropy with the
              log-sum-exp trick and gather, GQA by repeat_interleave, dropout as x * (rand >= p) /
              (1 - p) with a bool mask.

gpt2's dropout implementation for the torch variant is chosen by `dropout_impl`:
  "functional": nn.functional.dropout. On CPU this is NOT the fused native_dropout kernel: it
                computes input * noise with a float noise tensor (0 or 1/(1-p)), so the saved
                mask is fp32.
  "native":     torch.native_dropout, the kernel F.dropout uses on CUDA: the saved mask is bool.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

FAMILIES = ("cs336-2025", "cs336-2024", "gpt2", "llama")
VARIANTS = ("torch", "torch-sdpa", "manual")

FAMILY_SPEC = {
    "cs336-2025": dict(pos="rope", norm="rms", bias=False, fused_qkv=False, ffn="swiglu", tied=False, gelu=None),
    "cs336-2024": dict(pos="learned_T", norm="rms", bias=False, fused_qkv=False, ffn="mlp", tied=True, gelu="erf"),
    "gpt2": dict(pos="learned_M", norm="ln", bias=True, fused_qkv=True, ffn="mlp", tied=True, gelu="tanh"),
    "llama": dict(pos="rope", norm="rms", bias=False, fused_qkv=False, ffn="swiglu", tied=False, gelu=None),
}

RMS_EPS = 1e-5
LN_EPS = 1e-5
ROPE_THETA = 10000.0
INIT_STD = 0.02


def _param(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.randn(*shape) * INIT_STD)


# --------------------------------------------------------------------------- building blocks


class Linear(nn.Module):
    """y = x W^T (+ b). torch: F.linear; manual: x @ W.T (+ b)."""

    def __init__(self, d_in: int, d_out: int, bias: bool, variant: str):
        super().__init__()
        self.weight = _param(d_out, d_in)
        self.bias = nn.Parameter(torch.zeros(d_out)) if bias else None
        self.variant = variant

    def forward(self, x):
        if self.variant == "manual":
            y = x @ self.weight.T
            if self.bias is not None:
                y = y + self.bias
            return y
        return F.linear(x, self.weight, self.bias)


class Embedding(nn.Module):
    def __init__(self, rows: int, width: int, variant: str):
        super().__init__()
        self.weight = _param(rows, width)
        self.variant = variant

    def forward(self, ids):
        if self.variant == "manual":
            return self.weight[ids]
        return F.embedding(ids, self.weight)


class RMSNorm(nn.Module):
    def __init__(self, width: int, variant: str):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.variant = variant

    def forward(self, x):
        if self.variant == "manual":
            # The handout's form: upcast to fp32 (a no-op here: everything is fp32), normalise,
            # scale by the gain, cast back.
            in_dtype = x.dtype
            x = x.to(torch.float32)
            rms = torch.sqrt(torch.mean(x**2, dim=-1, keepdim=True) + RMS_EPS)
            result = x / rms * self.weight
            return result.to(in_dtype)
        return F.rms_norm(x, (x.shape[-1],), self.weight, RMS_EPS)


class LayerNorm(nn.Module):
    def __init__(self, width: int, variant: str):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width))
        self.variant = variant

    def forward(self, x):
        if self.variant == "manual":
            mean = x.mean(dim=-1, keepdim=True)
            centred = x - mean
            var = (centred**2).mean(dim=-1, keepdim=True)
            x_hat = centred / torch.sqrt(var + LN_EPS)
            return x_hat * self.weight + self.bias
        return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, LN_EPS)


class Dropout(nn.Module):
    """Dropout with probability p in train mode; p = 0 is the identity and runs no op at all."""

    def __init__(self, p: float, impl: str):
        super().__init__()
        self.p = p
        self.impl = impl  # "functional" | "native" | "manual"

    def forward(self, x):
        if self.p == 0.0 or not self.training:
            return x
        if self.impl == "native":
            return torch.native_dropout(x, self.p, True)[0]
        if self.impl == "manual":
            keep = torch.rand_like(x) >= self.p
            return x * keep / (1.0 - self.p)
        return F.dropout(x, self.p, training=True)


def manual_softmax(x, dim: int = -1):
    # The reference solution's form: subtract the max (torch.max(...)[0]), exponentiate, normalise.
    shifted = x - torch.max(x, dim=dim, keepdim=True)[0]
    exps = torch.exp(shifted)
    return exps / torch.sum(exps, dim=dim, keepdim=True)


def manual_cross_entropy(logits, targets):
    # Log-sum-exp trick: subtract the max, log of the summed exponentials, gather the target.
    m = torch.max(logits, dim=-1, keepdim=True)[0]
    shifted = logits - m
    log_sum_exp = torch.log(torch.sum(torch.exp(shifted), dim=-1, keepdim=True))
    log_probs = shifted - log_sum_exp
    nll = -torch.gather(log_probs, -1, targets.unsqueeze(-1))
    return nll.mean()


class RoPE(nn.Module):
    """Rotary position embedding with precomputed cos/sin buffers for `max_len` positions.

    torch variants: rotate-half form (Hugging Face / Llama), cos/sin of shape (max_len, d) whose
    halves repeat; the forward slices the buffers to T (views of the buffers).
    manual: interleaved pairs (x_{2k}, x_{2k+1}) as in the CS336 handout, cos/sin of shape
    (max_len, d/2) indexed with token_positions (an index copy per call, as the handout's
    forward(x, token_positions) does).
    """

    def __init__(self, head_dim: int, max_len: int, variant: str):
        super().__init__()
        assert head_dim % 2 == 0
        self.variant = variant
        inv_freq = 1.0 / (ROPE_THETA ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        angles = torch.outer(torch.arange(max_len, dtype=torch.float32), inv_freq)  # (max_len, d/2)
        if variant == "manual":
            self.register_buffer("cos", torch.cos(angles), persistent=False)
            self.register_buffer("sin", torch.sin(angles), persistent=False)
        else:
            full = torch.cat((angles, angles), dim=-1)  # (max_len, d)
            self.register_buffer("cos", torch.cos(full), persistent=False)
            self.register_buffer("sin", torch.sin(full), persistent=False)

    def forward(self, x, token_positions):
        # x: (B, heads, T, d)
        if self.variant == "manual":
            cos = self.cos[token_positions]  # (T, d/2), a copy
            sin = self.sin[token_positions]
            x1 = x[..., 0::2]
            x2 = x[..., 1::2]
            r1 = x1 * cos - x2 * sin
            r2 = x1 * sin + x2 * cos
            return torch.stack((r1, r2), dim=-1).flatten(-2)
        t = x.shape[-2]
        cos = self.cos[:t]  # views of the buffers
        sin = self.sin[:t]
        half = x.shape[-1] // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rotated * sin


class Attention(nn.Module):
    def __init__(self, cfg: dict, spec: dict, variant: str, model: "TransformerLM"):
        super().__init__()
        H, A, K = cfg["H"], cfg["A"], cfg["K"]
        assert H % A == 0 and A % K == 0
        self.H, self.A, self.K, self.d = H, A, K, H // A
        self.variant = variant
        self.fused = spec["fused_qkv"]
        bias = spec["bias"]
        if self.fused:
            assert K == A
            self.c_attn = Linear(H, 3 * H, bias, variant)
            self.c_proj = Linear(H, H, bias, variant)
        else:
            self.q_proj = Linear(H, H, bias, variant)
            self.k_proj = Linear(H, K * self.d, bias, variant)
            self.v_proj = Linear(H, K * self.d, bias, variant)
            self.o_proj = Linear(H, H, bias, variant)
        self.p = cfg.get("dropout", 0.0)
        self.attn_drop = Dropout(self.p, cfg.get("dropout_impl", "functional"))
        # A plain reference (not a submodule): the model-level mask buffer and RoPE live on the model.
        self.__dict__["_model"] = model

    def forward(self, x):
        B, T, _ = x.shape
        A, K, d = self.A, self.K, self.d
        model = self._model
        if self.fused:
            q, k, v = self.c_attn(x).split(self.H, dim=2)
        else:
            q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        q = q.view(B, T, A, d).transpose(1, 2)
        k = k.view(B, T, K, d).transpose(1, 2)
        v = v.view(B, T, K, d).transpose(1, 2)
        if model.rope is not None:
            positions = torch.arange(T)
            q = model.rope(q, positions)
            k = model.rope(k, positions)
        if K != A:
            rep = A // K
            if self.variant == "manual":
                k = k.repeat_interleave(rep, dim=1)
                v = v.repeat_interleave(rep, dim=1)
            else:  # Hugging Face repeat_kv: expand + reshape
                k = k[:, :, None, :, :].expand(B, K, rep, T, d).reshape(B, A, T, d)
                v = v[:, :, None, :, :].expand(B, K, rep, T, d).reshape(B, A, T, d)
        if self.variant == "torch-sdpa":
            with sdpa_kernel(SDPBackend.MATH):
                out = F.scaled_dot_product_attention(
                    q, k, v, is_causal=True, dropout_p=self.p if self.training else 0.0
                )
        elif self.variant == "torch":
            scores = q @ k.transpose(-2, -1) / math.sqrt(d)
            scores = scores.masked_fill(model.future_mask[:T, :T], float("-inf"))
            probs = torch.softmax(scores, dim=-1)
            probs = self.attn_drop(probs)
            out = probs @ v
        else:  # manual
            scores = q @ k.transpose(-2, -1) / math.sqrt(d)
            if model.family == "cs336-2024":
                # 2024 reference: a (T, T) "future" mask built per call, applied with masked_fill.
                future = torch.triu(torch.ones(T, T), diagonal=1).bool()
                scores = scores.masked_fill(future, float("-inf"))
            else:
                # 2025 reference: a (T, T) "allowed" mask (query >= key) built per call, torch.where.
                seq = torch.arange(T)
                allowed = seq[:, None] >= seq[None, :]
                scores = torch.where(allowed, scores, float("-inf"))
            probs = manual_softmax(scores, dim=-1)
            probs = self.attn_drop(probs)
            out = probs @ v
        out = out.transpose(1, 2).reshape(B, T, self.H)
        return self.c_proj(out) if self.fused else self.o_proj(out)


class FeedForward(nn.Module):
    def __init__(self, cfg: dict, spec: dict, variant: str):
        super().__init__()
        H, Fd = cfg["H"], cfg["F"]
        self.kind = spec["ffn"]
        self.gelu = spec["gelu"]
        self.variant = variant
        bias = spec["bias"]
        if self.kind == "swiglu":
            self.w1 = Linear(H, Fd, bias, variant)
            self.w3 = Linear(H, Fd, bias, variant)
            self.w2 = Linear(Fd, H, bias, variant)
        else:
            self.w1 = Linear(H, Fd, bias, variant)  # c_fc
            self.w2 = Linear(Fd, H, bias, variant)  # c_proj

    def act(self, x):
        manual = self.variant == "manual"
        if self.kind == "swiglu":
            return x * torch.sigmoid(x) if manual else F.silu(x)
        if self.gelu == "erf":
            return x * 0.5 * (1 + torch.erf(x / math.sqrt(2))) if manual else F.gelu(x)
        # tanh approximation (GPT-2's gelu_new)
        if manual:
            return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
        return F.gelu(x, approximate="tanh")

    def forward(self, x):
        if self.kind == "swiglu":
            return self.w2(self.act(self.w1(x)) * self.w3(x))
        return self.w2(self.act(self.w1(x)))


class Block(nn.Module):
    def __init__(self, cfg: dict, spec: dict, variant: str, model: "TransformerLM"):
        super().__init__()
        Norm = RMSNorm if spec["norm"] == "rms" else LayerNorm
        self.norm1 = Norm(cfg["H"], variant)
        self.attn = Attention(cfg, spec, variant, model)
        self.norm2 = Norm(cfg["H"], variant)
        self.ffn = FeedForward(cfg, spec, variant)
        p, impl = cfg.get("dropout", 0.0), cfg.get("dropout_impl", "functional")
        self.drop_attn = Dropout(p, impl)
        self.drop_ffn = Dropout(p, impl)

    def forward(self, x):
        x = x + self.drop_attn(self.attn(self.norm1(x)))
        x = x + self.drop_ffn(self.ffn(self.norm2(x)))
        return x


class LMHead(nn.Module):
    """Untied: its own (V, H) weight. Tied: uses the token embedding's weight (no parameter)."""

    def __init__(self, cfg: dict, tied_to: Embedding | None, variant: str):
        super().__init__()
        self.variant = variant
        if tied_to is None:
            self.weight = _param(cfg["V"], cfg["H"])
        else:
            self.__dict__["_tied"] = tied_to

    def forward(self, x):
        w = self.weight if "_tied" not in self.__dict__ else self._tied.weight
        if self.variant == "manual":
            return x @ w.T
        return F.linear(x, w)


class Loss(nn.Module):
    def __init__(self, variant: str):
        super().__init__()
        self.variant = variant

    def forward(self, logits, targets):
        if self.variant == "manual":
            return manual_cross_entropy(logits, targets)
        V = logits.shape[-1]
        return F.cross_entropy(logits.view(-1, V), targets.view(-1))


class TransformerLM(nn.Module):
    def __init__(self, family: str, variant: str, cfg: dict):
        """cfg: the size symbols V, T, L, H, A, K, F (and M for gpt2) plus, for gpt2,
        dropout (p) and dropout_impl."""
        super().__init__()
        assert family in FAMILIES and variant in VARIANTS
        spec = FAMILY_SPEC[family]
        self.family, self.variant, self.cfg = family, variant, dict(cfg)
        V, T, H, A = cfg["V"], cfg["T"], cfg["H"], cfg["A"]
        max_len = cfg["M"] if spec["pos"] == "learned_M" else T
        self.max_len = max_len
        self.tok = Embedding(V, H, variant)
        self.pos = None
        if spec["pos"] in ("learned_T", "learned_M"):
            self.pos = Embedding(max_len, H, variant)
        self.rope = RoPE(H // A, max_len, variant) if spec["pos"] == "rope" else None
        if variant in ("torch", "torch-sdpa"):
            # One model-level bool buffer marking the future positions, sliced to (T, T).
            self.register_buffer("future_mask", torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), 1), persistent=False)
        else:
            self.future_mask = None
        self.drop_emb = Dropout(cfg.get("dropout", 0.0), cfg.get("dropout_impl", "functional")) if family == "gpt2" else None
        self.layers = nn.ModuleList([Block(cfg, spec, variant, self) for _ in range(cfg["L"])])
        Norm = RMSNorm if spec["norm"] == "rms" else LayerNorm
        self.norm_f = Norm(H, variant)
        self.head = LMHead(cfg, self.tok if spec["tied"] else None, variant)
        self.loss = Loss(variant)

    def forward(self, ids, targets):
        B, T = ids.shape
        x = self.tok(ids)
        if self.pos is not None:
            x = x + self.pos(torch.arange(T))
        if self.drop_emb is not None:
            x = self.drop_emb(x)
        for layer in self.layers:
            x = layer(x)
        x = self.norm_f(x)
        return self.loss(self.head(x), targets)

    def param_count(self) -> int:
        # parameters() yields each Parameter once, so tied weights count once.
        return sum(p.numel() for p in self.parameters())


def build(family: str, variant: str, cfg: dict, seed: int = 0) -> TransformerLM:
    torch.manual_seed(seed)
    model = TransformerLM(family, variant, cfg)
    model.train()
    return model

//! Per-operation rules: for each kind of op, its trainable parameters, its forward FLOPs (matmul of
//! m×n by n×p = 2mnp; element-wise work counted separately and only when asked) and its operand
//! shapes. Every op acts on a batch of B sequences of T tokens. Ops know nothing of models or output.

use crate::algebra::Expr;
use crate::diagnostic::Source;
use crate::error::Result;
use serde::Deserialize;

mod convention_saves;
mod rules;
pub mod tensor_saves;

/// How an op names its stage's input (the residual stream entering a block) among its `inputs`.
pub const STAGE_INPUT: &str = "stage input";

choices! {
    /// A linear op's place in Megatron's tensor parallelism.
    TensorParallel {
        /// Weight split by output columns: each GPU computes a shard of the output.
        #[default]
        Column = "column",
        /// Weight split by input rows: the shards' partial outputs are summed (all-reduce).
        Row = "row",
    }
}

/// The element-wise activation functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// x·σ(x).
    Silu,
    /// Gaussian error linear unit, exact (with erf).
    Gelu,
    /// Gaussian error linear unit, tanh approximation (GPT-2).
    GeluTanh,
}

impl Activation {
    /// Name as written in model files.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Silu => "silu",
            Activation::Gelu => "gelu",
            Activation::GeluTanh => "gelu_tanh",
        }
    }
}

/// What an op computes, with its symbolic sizes.
#[derive(Clone, Debug, PartialEq)]
pub enum OpKind {
    /// Table lookup of `rows` vectors of size `width` (a gather: no matmul FLOPs).
    Embedding { rows: Expr, width: Expr },
    /// `x W (+ b)` with W of `input × output`; a `tied` weight is another op's (no parameters).
    Linear { input: Expr, output: Expr, bias: bool, tied: bool },
    /// RMSNorm with a learned gain of size `width`.
    RmsNorm { width: Expr },
    /// LayerNorm with a learned gain (and bias) of size `width`.
    LayerNorm { width: Expr, bias: bool },
    /// Rotary position embedding on a tensor of `width` per token (no parameters).
    Rope { width: Expr },
    /// Attention scores QKᵀ per head: (T × d)·(d × T).
    AttentionScores { heads: Expr, head_dim: Expr },
    /// Softmax over each row of the T × T score matrix of every head.
    Softmax { heads: Expr },
    /// Attention-weighted values per head: (T × T)·(T × d).
    AttentionValues { heads: Expr, head_dim: Expr },
    /// An element-wise nonlinearity on `width` per token.
    Activation { function: Activation, width: Expr },
    /// Element-wise product of two tensors of `width` per token (SwiGLU's gate).
    ElementwiseProduct { width: Expr },
    /// Residual addition of `width` per token.
    ResidualAdd { width: Expr },
    /// Softmax cross-entropy over `vocab` logits per token.
    CrossEntropy { vocab: Expr },
    /// Dropout on `width` elements per token (A·T for attention probabilities); keeps a 1-byte mask.
    Dropout { width: Expr },
    /// Attention sinks (gpt-oss): one learned logit per head joins each softmax row.
    Sinks { heads: Expr },
    /// RMSNorm of each head's query or key (Qwen3, Gemma 3): a gain of `head_dim` shared by the
    /// `heads` heads.
    HeadRmsNorm { heads: Expr, head_dim: Expr },
}

/// A mixture-of-experts op: `count` copies are stored, each token runs `active` of them (top-k).
#[derive(Clone, Debug, PartialEq)]
pub struct Experts {
    /// Copies held in memory (E).
    pub count: Expr,
    /// Copies each token runs (k).
    pub active: Expr,
}

/// One operation of a model, with its own display name and the FLOP component it counts toward.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// Display name (`W_Q`, `final RMSNorm`).
    pub name: String,
    /// What it computes.
    pub kind: OpKind,
    /// Component for FLOP shares (`attention_projections`, `ffn`, `lm_head`, …).
    pub component: String,
    /// Under which activation conventions its output is kept for the backward pass.
    pub saved: Saved,
    /// Elements per token this op adds to the inference KV cache (W_K and W_V: their output width).
    pub kv_cache: Option<Expr>,
    /// How tensor parallelism splits it (Megatron): a column-parallel linear shards its output, a
    /// row-parallel linear gathers it back; the ops between them work on shards.
    pub tensor_parallel: Option<TensorParallel>,
    /// Where its inputs come from: names of earlier ops of its stage, or `stage input`; empty
    /// for the previous op's output (the stage input for the first op). Saved tensors are
    /// identified by where they come from, so a tensor several ops keep is counted once.
    pub inputs: Vec<String>,
    /// A routed expert's op: stored E times, run k times per token.
    pub experts: Option<Experts>,
    /// The window of a sliding-window layer's attention and cache ops (W).
    pub window: Option<Expr>,
    /// Multi-head latent attention: the head width this attention op works at when the up-projection
    /// is absorbed into the query and the output (r_kv + D_r for QKᵀ, r_kv for AV) — decoding then
    /// attends to the cached latent directly.
    pub absorbed_head_dim: Option<Expr>,
    /// Reads the cached latent (latent attention's up-projection): decoding without absorption
    /// runs it on every cached token, not only the new one.
    pub reads_cache: bool,
}

impl Op {
    /// An op as written with only a name, a kind and a component: saves nothing, feeds no cache,
    /// reads the previous op, not split, not an expert, no window.
    pub fn new(name: impl Into<String>, kind: OpKind, component: impl Into<String>) -> Op {
        Op {
            name: name.into(),
            kind,
            component: component.into(),
            saved: Saved::Never,
            kv_cache: None,
            inputs: Vec::new(),
            tensor_parallel: None,
            experts: None,
            window: None,
            absorbed_head_dim: None,
            reads_cache: false,
        }
    }
}

/// Which activation-memory conventions keep an op's output for the backward pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Saved {
    /// Not kept under any convention.
    #[default]
    Never,
    /// On CS336's list (and therefore also under `all`).
    Cs336,
    /// Kept only when every intermediate counts (`all`).
    All,
}

choices! {
    /// Which activations count toward activation memory.
    ActivationConvention {
        /// The CS336 assignment's list: per block the two norm outputs, Q, K, V, QKᵀ, softmax,
        /// weighted sum, output projection, W1 output, activation output, W2 output; then the
        /// final norm, the logits and the cross-entropy probabilities.
        #[default]
        Cs336 = "cs336",
        /// Every intermediate the architecture's ops save (adds e.g. SwiGLU's W3 output and product).
        All = "all",
        /// Korthikanti et al. (2022): what each op keeps for its own backward pass (inputs, softmax
        /// output, 1-byte dropout masks) in the activation dtype; 34·s·b·h + 5·a·s²·b bytes per GPT
        /// layer in 16-bit.
        Korthikanti = "korthikanti",
        /// What PyTorch eager keeps with library ops (measured: `derivations/saves.toml`), each
        /// tensor once however many ops keep it.
        Torch = "torch",
        /// What the CS336 handout's hand-written ops keep (measured, likewise).
        Manual = "manual",
    }
}

impl ActivationConvention {
    /// Name as used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        self.word()
    }

    /// The measured implementation this convention follows, if it is one.
    pub fn implementation(self) -> Option<tensor_saves::Implementation> {
        match self {
            ActivationConvention::Torch => Some(tensor_saves::Implementation::Torch),
            ActivationConvention::Manual => Some(tensor_saves::Implementation::Manual),
            _ => None,
        }
    }
}

/// Which FLOPs count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlopConvention {
    /// Also count element-wise work (norms, softmax, activations, adds). Off in CS336.
    pub elementwise: bool,
    /// Halve the two T² attention matmuls (a causal mask skips the upper triangle). Off in CS336.
    pub causal: bool,
    /// Sliding-window layers compute only the keys in their window: T·min(T, W) scores per head
    /// (a kernel that skips masked blocks); off, they compute the full T² (eager attention).
    pub windowed: bool,
}

/// Element-wise FLOPs per element of each op kind (`derivations/ops.toml`), and the bytes of the
/// FlashAttention statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Costs {
    /// RMSNorm.
    pub rmsnorm: i64,
    /// LayerNorm without its bias.
    pub layernorm: i64,
    /// Softmax, per score.
    pub softmax: i64,
    /// SiLU.
    pub silu: i64,
    /// GELU (tanh approximation).
    pub gelu: i64,
    /// Rotary embedding.
    pub rope: i64,
    /// Log-softmax cross-entropy, per logit.
    pub cross_entropy: i64,
    /// Dropout.
    pub dropout: i64,
    /// A bias add (also LayerNorm's bias), per output.
    pub bias: i64,
    /// An element-wise product.
    pub elementwise_product: i64,
    /// A residual add.
    pub residual_add: i64,
    /// Bytes per element of FlashAttention's log-sum-exp statistics.
    pub flash_statistics_bytes: i64,
}

impl Costs {
    /// The built-in op costs.
    pub fn builtin() -> Costs {
        static BUILT: std::sync::OnceLock<Costs> = std::sync::OnceLock::new();
        *BUILT.get_or_init(|| crate::loader::read_builtin("derivations/ops.toml", Costs::read))
    }

    /// Reads `ops.toml`.
    pub fn read(source: &Source) -> Result<Costs> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            elementwise: Costs,
        }
        Ok(crate::loader::read_toml::<File>(source)?.elementwise)
    }

    /// The cost of an activation function.
    pub fn activation(&self, function: Activation) -> i64 {
        match function {
            Activation::Silu => self.silu,
            Activation::Gelu | Activation::GeluTanh => self.gelu,
        }
    }
}

//! Per-operation rules: for each kind of op, its trainable parameters, its forward FLOPs (matmul of
//! m×n by n×p = 2mnp; element-wise work counted separately and only when asked) and its operand
//! shapes. Every op acts on a batch of B sequences of T tokens. Ops know nothing of models or output.

use crate::algebra::Expr;

/// The element-wise activation functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// x·σ(x).
    Silu,
    /// Gaussian error linear unit (tanh approximation).
    Gelu,
}

impl Activation {
    /// Name as written in model files.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Silu => "silu",
            Activation::Gelu => "gelu",
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

/// Which activations count toward activation memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ActivationConvention {
    /// The CS336 assignment's list: per block the two norm outputs, Q, K, V, QKᵀ, softmax, weighted
    /// sum, output projection, W1 output, activation output, W2 output; then the final norm, the
    /// logits and the cross-entropy probabilities.
    #[default]
    Cs336,
    /// Every intermediate the architecture's ops save (adds e.g. SwiGLU's W3 output and product).
    All,
    /// Korthikanti et al. (2022): what each op keeps for its own backward pass (inputs, softmax
    /// output, 1-byte dropout masks) in the activation dtype; 34·s·b·h + 5·a·s²·b bytes per GPT
    /// layer in 16-bit.
    Korthikanti,
}

impl ActivationConvention {
    /// Name as used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            ActivationConvention::Cs336 => "cs336",
            ActivationConvention::All => "all",
            ActivationConvention::Korthikanti => "korthikanti",
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
}

fn b() -> Expr {
    Expr::sym("B")
}
fn t() -> Expr {
    Expr::sym("T")
}
fn tokens() -> Expr {
    b() * t()
}
fn prod(v: Vec<Expr>) -> Expr {
    Expr::product(v)
}
fn n(k: i64) -> Expr {
    Expr::int(k)
}

/// Element-wise FLOPs per element, by op. These are the named, documented costs used when
/// element-wise FLOPs are counted; they are conventions, not measurements.
pub mod elementwise_cost {
    /// RMSNorm: square, accumulate, scale by the reciprocal root, multiply by the gain.
    pub const RMSNORM: i64 = 4;
    /// LayerNorm: mean, subtract, square, accumulate, normalise, gain (+ bias).
    pub const LAYERNORM: i64 = 6;
    /// Softmax: max, subtract, exp, accumulate, divide.
    pub const SOFTMAX: i64 = 5;
    /// SiLU x·σ(x): negate, exp, add one, divide.
    pub const SILU: i64 = 4;
    /// GELU (tanh approximation): cube, multiply-add, scale, tanh, add one, halve, multiply, multiply.
    pub const GELU: i64 = 8;
    /// RoPE: two multiplies and one add per element.
    pub const ROPE: i64 = 3;
    /// Cross-entropy: log-softmax over the logits (max, subtract, exp, accumulate).
    pub const CROSS_ENTROPY: i64 = 4;
    /// Dropout: apply the mask and rescale.
    pub const DROPOUT: i64 = 2;
}

impl Op {
    /// Trainable parameters.
    pub fn params(&self) -> Expr {
        match &self.kind {
            OpKind::Embedding { rows, width } => rows.clone() * width.clone(),
            OpKind::Linear { tied: true, bias, output, .. } => {
                if *bias {
                    output.clone()
                } else {
                    Expr::zero()
                }
            }
            OpKind::Linear { input, output, bias, .. } => {
                let weight = input.clone() * output.clone();
                if *bias { weight + output.clone() } else { weight }
            }
            OpKind::RmsNorm { width } => width.clone(),
            OpKind::LayerNorm { width, bias } => {
                if *bias {
                    n(2) * width.clone()
                } else {
                    width.clone()
                }
            }
            _ => Expr::zero(),
        }
    }

    /// Forward FLOPs of matrix multiplications: 2mnp for (m×n)·(n×p).
    pub fn matmul_flops(&self) -> Expr {
        match &self.kind {
            OpKind::Linear { input, output, .. } => prod(vec![n(2), tokens(), input.clone(), output.clone()]),
            OpKind::AttentionScores { heads, head_dim } | OpKind::AttentionValues { heads, head_dim } => {
                prod(vec![n(2), b(), heads.clone(), t(), t(), head_dim.clone()])
            }
            _ => Expr::zero(),
        }
    }

    /// Forward FLOPs of element-wise work (bias adds, norms, softmax, activations, products, adds).
    pub fn elementwise_flops(&self) -> Expr {
        use elementwise_cost::*;
        let per_token = |k: i64, width: &Expr| prod(vec![n(k), tokens(), width.clone()]);
        match &self.kind {
            OpKind::Linear { output, bias: true, .. } => per_token(1, output),
            OpKind::RmsNorm { width } => per_token(RMSNORM, width),
            OpKind::LayerNorm { width, bias } => per_token(LAYERNORM + i64::from(*bias), width),
            OpKind::Rope { width } => per_token(ROPE, width),
            OpKind::Softmax { heads } => prod(vec![n(SOFTMAX), b(), heads.clone(), t(), t()]),
            OpKind::Activation { function, width } => {
                let cost = match function {
                    Activation::Silu => SILU,
                    Activation::Gelu => GELU,
                };
                per_token(cost, width)
            }
            OpKind::ElementwiseProduct { width } | OpKind::ResidualAdd { width } => per_token(1, width),
            OpKind::CrossEntropy { vocab } => per_token(CROSS_ENTROPY, vocab),
            OpKind::Dropout { width } => per_token(DROPOUT, width),
            _ => Expr::zero(),
        }
    }

    /// Forward FLOPs under a convention.
    pub fn forward_flops(&self, convention: FlopConvention) -> Expr {
        let attention = matches!(self.kind, OpKind::AttentionScores { .. } | OpKind::AttentionValues { .. });
        let matmul = if convention.causal && attention {
            Expr::num(crate::algebra::Rational::new(1.into(), 2.into())) * self.matmul_flops()
        } else {
            self.matmul_flops()
        };
        if convention.elementwise { matmul + self.elementwise_flops() } else { matmul }
    }

    /// Elements of the op's output tensor (what it would keep for the backward pass).
    pub fn output_elements(&self) -> Expr {
        let per_token = |w: &Expr| tokens() * w.clone();
        match &self.kind {
            OpKind::Embedding { width, .. } => per_token(width),
            OpKind::Linear { output, .. } => per_token(output),
            OpKind::AttentionScores { heads, .. } | OpKind::Softmax { heads } => {
                prod(vec![b(), heads.clone(), t(), t()])
            }
            OpKind::AttentionValues { heads, head_dim } => per_token(&(heads.clone() * head_dim.clone())),
            OpKind::CrossEntropy { vocab } => per_token(vocab),
            OpKind::RmsNorm { width }
            | OpKind::LayerNorm { width, .. }
            | OpKind::Rope { width }
            | OpKind::Activation { width, .. }
            | OpKind::ElementwiseProduct { width }
            | OpKind::ResidualAdd { width }
            | OpKind::Dropout { width } => per_token(width),
        }
    }

    /// What the op keeps for its own backward pass, as Korthikanti et al. count it: (elements of
    /// inputs or outputs kept in the activation dtype, elements of 1-byte dropout masks).
    /// With `flash`, the T² tensors are recomputed in the backward pass instead of kept.
    pub fn saved_for_backward(&self, flash: bool) -> (Expr, Expr) {
        if flash && self.is_attention_matrix() {
            return (Expr::zero(), Expr::zero());
        }
        let per_token = |w: &Expr| tokens() * w.clone();
        let scores = |heads: &Expr| if flash { Expr::zero() } else { prod(vec![b(), heads.clone(), t(), t()]) };
        let kept = match &self.kind {
            OpKind::Embedding { .. } | OpKind::Rope { .. } | OpKind::ResidualAdd { .. } | OpKind::Dropout { .. } => {
                Expr::zero()
            }
            OpKind::Linear { input, .. } => per_token(input),
            OpKind::RmsNorm { width } | OpKind::LayerNorm { width, .. } | OpKind::Activation { width, .. } => {
                per_token(width)
            }
            OpKind::AttentionScores { heads, head_dim } => {
                Expr::int(2) * per_token(&(heads.clone() * head_dim.clone()))
            }
            OpKind::Softmax { heads } => scores(heads),
            OpKind::AttentionValues { heads, head_dim } => {
                scores(heads) + per_token(&(heads.clone() * head_dim.clone()))
            }
            OpKind::ElementwiseProduct { width } => Expr::int(2) * per_token(width),
            OpKind::CrossEntropy { vocab } => per_token(vocab),
        };
        let masks = match &self.kind {
            OpKind::Dropout { width } => per_token(width),
            _ => Expr::zero(),
        };
        (kept, masks)
    }

    /// True for tensors of T² elements per head, which FlashAttention recomputes instead of keeping.
    pub fn is_attention_matrix(&self) -> bool {
        match &self.kind {
            OpKind::AttentionScores { .. } | OpKind::Softmax { .. } => true,
            OpKind::Dropout { width } => width.symbols().contains(&"T".to_string()),
            _ => false,
        }
    }

    /// The log-sum-exp FlashAttention keeps per row of each head's scores instead of the matrix.
    pub fn flash_statistics(&self) -> Expr {
        match &self.kind {
            OpKind::Softmax { heads } => prod(vec![b(), heads.clone(), t()]),
            _ => Expr::zero(),
        }
    }

    /// Decode FLOPs for one new token of one sequence attending to T cached positions.
    pub fn decode_flops(&self, convention: FlopConvention) -> Expr {
        match &self.kind {
            OpKind::AttentionScores { heads, head_dim } | OpKind::AttentionValues { heads, head_dim } => {
                prod(vec![n(2), heads.clone(), t(), head_dim.clone()])
            }
            OpKind::Softmax { heads } if convention.elementwise => {
                prod(vec![n(elementwise_cost::SOFTMAX), heads.clone(), t()])
            }
            OpKind::Softmax { .. } => Expr::zero(),
            // Everything else works token by token: its forward cost for B = 1, T = 1.
            _ => self.forward_flops(convention).substitute(&|s| (s == "B" || s == "T").then(Expr::one)),
        }
    }

    /// Activation elements kept for the backward pass under a convention.
    pub fn saved_elements(&self, convention: ActivationConvention) -> Expr {
        let kept = match (self.saved, convention) {
            (Saved::Cs336, _) | (Saved::All, ActivationConvention::All | ActivationConvention::Korthikanti) => true,
            (Saved::Never, _) | (Saved::All, ActivationConvention::Cs336) => false,
        };
        if kept { self.output_elements() } else { Expr::zero() }
    }

    /// Operand shapes, each a list of dimensions: `[[B·T, H], [H, H]]` for a linear layer.
    pub fn operands(&self) -> Vec<Vec<Expr>> {
        let per_token = |w: &Expr| vec![vec![tokens(), w.clone()]];
        match &self.kind {
            OpKind::Embedding { rows, width } => vec![vec![rows.clone(), width.clone()], vec![tokens()]],
            OpKind::Linear { input, output, .. } => {
                vec![vec![tokens(), input.clone()], vec![input.clone(), output.clone()]]
            }
            OpKind::RmsNorm { width } | OpKind::LayerNorm { width, .. } | OpKind::Rope { width } => per_token(width),
            OpKind::AttentionScores { heads, head_dim } => {
                vec![vec![b() * heads.clone(), t(), head_dim.clone()], vec![b() * heads.clone(), head_dim.clone(), t()]]
            }
            OpKind::Softmax { heads } => vec![vec![b() * heads.clone(), t(), t()]],
            OpKind::AttentionValues { heads, head_dim } => {
                vec![vec![b() * heads.clone(), t(), t()], vec![b() * heads.clone(), t(), head_dim.clone()]]
            }
            OpKind::Activation { width, .. }
            | OpKind::ElementwiseProduct { width }
            | OpKind::ResidualAdd { width }
            | OpKind::Dropout { width } => per_token(width),
            OpKind::CrossEntropy { vocab } => per_token(vocab),
        }
    }

    /// The rule used, in words, for the derivation table.
    pub fn rule(&self) -> String {
        match &self.kind {
            OpKind::Embedding { .. } => "gather: V×H table, 0 FLOPs".into(),
            OpKind::Linear { tied: true, .. } => "matmul 2mnp, weight tied".into(),
            OpKind::Linear { bias: false, .. } => "matmul 2mnp".into(),
            OpKind::Linear { bias: true, .. } => "matmul 2mnp + bias".into(),
            OpKind::RmsNorm { .. } => "RMSNorm, gain only".into(),
            OpKind::LayerNorm { bias: true, .. } => "LayerNorm, gain + bias".into(),
            OpKind::LayerNorm { bias: false, .. } => "LayerNorm, gain only".into(),
            OpKind::Rope { .. } => "rotary, no params".into(),
            OpKind::AttentionScores { .. } => "QKᵀ per head, 2mnp".into(),
            OpKind::Softmax { .. } => "row softmax".into(),
            OpKind::AttentionValues { .. } => "softmax·V per head, 2mnp".into(),
            OpKind::Activation { function, .. } => format!("{} element-wise", function.name()),
            OpKind::ElementwiseProduct { .. } => "element-wise product".into(),
            OpKind::ResidualAdd { .. } => "residual add".into(),
            OpKind::CrossEntropy { .. } => "softmax cross-entropy".into(),
            OpKind::Dropout { .. } => "dropout, 1-byte mask".into(),
        }
    }

    /// Every size the op is built from, named, for validation (each must be a positive integer).
    pub fn dimensions(&self) -> Vec<(&'static str, &Expr)> {
        match &self.kind {
            OpKind::Embedding { rows, width } => vec![("rows", rows), ("width", width)],
            OpKind::Linear { input, output, .. } => vec![("in", input), ("out", output)],
            OpKind::AttentionScores { heads, head_dim } | OpKind::AttentionValues { heads, head_dim } => {
                vec![("heads", heads), ("head_dim", head_dim)]
            }
            OpKind::Softmax { heads } => vec![("heads", heads)],
            OpKind::CrossEntropy { vocab } => vec![("vocab", vocab)],
            OpKind::Dropout { width } => vec![("width", width)],
            OpKind::RmsNorm { width }
            | OpKind::LayerNorm { width, .. }
            | OpKind::Rope { width }
            | OpKind::Activation { width, .. }
            | OpKind::ElementwiseProduct { width }
            | OpKind::ResidualAdd { width } => vec![("width", width)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algebra::worker::{WaitOptions, exclusive};
    use crate::algebra::{self, Engine};

    fn s(name: &str) -> Expr {
        Expr::sym(name)
    }

    fn op(kind: OpKind) -> Op {
        Op { name: "op".into(), kind, component: "c".into(), saved: Saved::Cs336, kv_cache: None }
    }

    /// Asserts params and matmul FLOPs equal the expected formulas, symbolically.
    fn check(kind: OpKind, params: &str, matmul: &str, elementwise: &str) {
        let o = op(kind);
        let (params, matmul, elementwise) = (params.to_string(), matmul.to_string(), elementwise.to_string());
        exclusive(&WaitOptions::default(), move |engine: &Engine| {
            let read = |t: &str| algebra::parse(t, &algebra::any_symbol).unwrap();
            assert!(engine.equal(&o.params(), &read(&params)).unwrap(), "params of {:?}", o.kind);
            assert!(engine.equal(&o.matmul_flops(), &read(&matmul)).unwrap(), "matmul FLOPs of {:?}", o.kind);
            assert!(
                engine.equal(&o.elementwise_flops(), &read(&elementwise)).unwrap(),
                "element-wise FLOPs of {:?}",
                o.kind
            );
        })
        .unwrap();
    }

    #[test]
    fn embedding_is_a_gather_with_a_table_of_parameters() {
        check(OpKind::Embedding { rows: s("V"), width: s("H") }, "V*H", "0", "0");
    }

    #[test]
    fn linear_without_bias_costs_2mnp() {
        check(OpKind::Linear { input: s("H"), output: s("F"), bias: false, tied: false }, "H*F", "2*B*T*H*F", "0");
    }

    #[test]
    fn linear_with_bias_adds_out_parameters_and_one_add_per_output() {
        check(
            OpKind::Linear { input: s("H"), output: s("F"), bias: true, tied: false },
            "H*F + F",
            "2*B*T*H*F",
            "B*T*F",
        );
    }

    #[test]
    fn rmsnorm_has_a_gain_and_no_matmul() {
        check(OpKind::RmsNorm { width: s("H") }, "H", "0", "4*B*T*H");
    }

    #[test]
    fn layernorm_has_gain_and_bias() {
        check(OpKind::LayerNorm { width: s("H"), bias: true }, "2*H", "0", "7*B*T*H");
        check(OpKind::LayerNorm { width: s("H"), bias: false }, "H", "0", "6*B*T*H");
    }

    #[test]
    fn rope_has_no_parameters() {
        check(OpKind::Rope { width: s("H") }, "0", "0", "3*B*T*H");
    }

    #[test]
    fn attention_scores_cost_2_b_t_squared_h_over_all_heads() {
        check(OpKind::AttentionScores { heads: s("A"), head_dim: s("H") * s("A").pow(-1) }, "0", "2*B*T^2*H", "0");
    }

    #[test]
    fn softmax_is_element_wise_over_every_score() {
        check(OpKind::Softmax { heads: s("A") }, "0", "0", "5*B*A*T^2");
    }

    #[test]
    fn attention_values_cost_2_b_t_squared_h_over_all_heads() {
        check(OpKind::AttentionValues { heads: s("A"), head_dim: s("H") * s("A").pow(-1) }, "0", "2*B*T^2*H", "0");
    }

    #[test]
    fn activations_are_element_wise() {
        check(OpKind::Activation { function: Activation::Silu, width: s("F") }, "0", "0", "4*B*T*F");
        check(OpKind::Activation { function: Activation::Gelu, width: s("F") }, "0", "0", "8*B*T*F");
    }

    #[test]
    fn products_and_residuals_cost_one_flop_per_element() {
        check(OpKind::ElementwiseProduct { width: s("F") }, "0", "0", "B*T*F");
        check(OpKind::ResidualAdd { width: s("H") }, "0", "0", "B*T*H");
    }

    #[test]
    fn cross_entropy_is_a_log_softmax_over_the_vocabulary() {
        check(OpKind::CrossEntropy { vocab: s("V") }, "0", "0", "4*B*T*V");
    }

    #[test]
    fn tied_linear_layers_own_no_parameters_but_still_cost_flops() {
        check(OpKind::Linear { input: s("H"), output: s("V"), bias: false, tied: true }, "0", "2*B*T*H*V", "0");
    }

    #[test]
    fn saved_activations_follow_the_convention() {
        let mut o = op(OpKind::Softmax { heads: s("A") });
        exclusive(&WaitOptions::default(), move |engine: &Engine| {
            let read = |t: &str| algebra::parse(t, &algebra::any_symbol).unwrap();
            assert!(engine.equal(&o.saved_elements(ActivationConvention::Cs336), &read("B*A*T^2")).unwrap());
            o.saved = Saved::All;
            assert!(o.saved_elements(ActivationConvention::Cs336).is_zero());
            assert!(engine.equal(&o.saved_elements(ActivationConvention::All), &read("B*A*T^2")).unwrap());
            o.saved = Saved::Never;
            assert!(o.saved_elements(ActivationConvention::All).is_zero());
        })
        .unwrap();
    }

    #[test]
    fn forward_flops_follow_the_convention() {
        let o = op(OpKind::Linear { input: s("H"), output: s("H"), bias: true, tied: false });
        exclusive(&WaitOptions::default(), move |engine: &Engine| {
            let matmul_only = o.forward_flops(FlopConvention { elementwise: false, causal: false });
            let all = o.forward_flops(FlopConvention { elementwise: true, causal: false });
            let read = |t: &str| algebra::parse(t, &algebra::any_symbol).unwrap();
            assert!(engine.equal(&matmul_only, &read("2*B*T*H^2")).unwrap());
            assert!(engine.equal(&all, &read("2*B*T*H^2 + B*T*H")).unwrap());
        })
        .unwrap();
    }
}

//! Per-op rules for parameters, FLOPs, operand shapes and decoding: a matmul of m×n by n×p costs
//! 2mnp; element-wise work costs what `derivations/ops.toml` says per element, counted only when
//! asked; every op acts on a batch of B sequences of T tokens.

use super::{Costs, FlopConvention, Op, OpKind};
use crate::algebra::Expr;
use crate::symbol::Role;

/// The batch size B.
pub(super) fn b() -> Expr {
    Role::Batch.expr()
}

/// The context length T.
pub(super) fn t() -> Expr {
    Role::Context.expr()
}

/// Tokens in a batch, B·T.
pub(super) fn tokens() -> Expr {
    b() * t()
}

/// A product of factors.
pub(super) fn prod(v: Vec<Expr>) -> Expr {
    Expr::product(v)
}

fn n(k: i64) -> Expr {
    Expr::int(k)
}

impl Op {
    /// Shapes of the op's trainable tensors: a weight matrix, a bias or gain vector. A tied
    /// weight belongs to another op.
    pub fn param_shapes(&self) -> Vec<Vec<Expr>> {
        match &self.kind {
            OpKind::Embedding { rows, width } => vec![vec![rows.clone(), width.clone()]],
            OpKind::Linear { input, output, bias, tied } => {
                let mut shapes = if *tied { vec![] } else { vec![vec![input.clone(), output.clone()]] };
                if *bias {
                    shapes.push(vec![output.clone()]);
                }
                shapes
            }
            OpKind::RmsNorm { width } => vec![vec![width.clone()]],
            OpKind::LayerNorm { width, bias: true } => vec![vec![width.clone()], vec![width.clone()]],
            OpKind::LayerNorm { width, bias: false } => vec![vec![width.clone()]],
            OpKind::Sinks { heads } => vec![vec![heads.clone()]],
            OpKind::HeadRmsNorm { head_dim, .. } => vec![vec![head_dim.clone()]],
            _ => vec![],
        }
    }

    /// Copies of the op's weights held in memory: E for a routed expert, else 1.
    pub fn copies_stored(&self) -> Expr {
        self.experts.as_ref().map_or_else(Expr::one, |e| e.count.clone())
    }

    /// Copies each token runs: k for a routed expert (top-k routing), else 1.
    pub fn copies_run(&self) -> Expr {
        self.experts.as_ref().map_or_else(Expr::one, |e| e.active.clone())
    }

    /// Trainable parameters: the elements of every trainable tensor, of every stored copy.
    pub fn params(&self) -> Expr {
        self.copies_stored() * self.params_per_copy()
    }

    /// Parameters one token's computation touches: k of E experts' copies.
    pub fn active_params(&self) -> Expr {
        self.copies_run() * self.params_per_copy()
    }

    fn params_per_copy(&self) -> Expr {
        Expr::sum(self.param_shapes().into_iter().map(Expr::product).collect())
    }

    /// Elements of the factored second moment of an optimizer like Adafactor: a row and a column
    /// per matrix, every element of a vector.
    pub fn factored_state(&self) -> Expr {
        self.copies_stored() * Expr::sum(self.param_shapes().into_iter().map(Expr::sum).collect())
    }

    /// Keys each query of this op meets: T, or min(T, W) = T_w for a sliding-window layer's
    /// attention when the convention counts only the window.
    fn keys(&self, windowed: bool) -> Expr {
        if windowed && self.window.is_some() { Role::WindowSpan.expr() } else { t() }
    }

    /// Forward FLOPs of matrix multiplications: 2mnp for (m×n)·(n×p), each token through its k
    /// experts; the T² attention matmuls over every key.
    pub fn matmul_flops(&self) -> Expr {
        self.copies_run() * self.matmul_flops_over(false)
    }

    fn matmul_flops_over(&self, windowed: bool) -> Expr {
        match &self.kind {
            OpKind::Linear { input, output, .. } => prod(vec![n(2), tokens(), input.clone(), output.clone()]),
            OpKind::AttentionScores { heads, head_dim } | OpKind::AttentionValues { heads, head_dim } => {
                prod(vec![n(2), b(), heads.clone(), t(), self.keys(windowed), head_dim.clone()])
            }
            _ => Expr::zero(),
        }
    }

    /// Forward FLOPs of element-wise work (bias adds, norms, softmax, activations, products, adds),
    /// at the per-element costs of `derivations/ops.toml`.
    pub fn elementwise_flops(&self, costs: &Costs) -> Expr {
        self.copies_run() * self.elementwise_flops_over(costs, false)
    }

    fn elementwise_flops_over(&self, costs: &Costs, windowed: bool) -> Expr {
        let per_token = |k: i64, width: &Expr| prod(vec![n(k), tokens(), width.clone()]);
        match &self.kind {
            OpKind::Linear { output, bias: true, .. } => per_token(costs.bias, output),
            OpKind::RmsNorm { width } => per_token(costs.rmsnorm, width),
            OpKind::HeadRmsNorm { heads, head_dim } => per_token(costs.rmsnorm, &(heads.clone() * head_dim.clone())),
            OpKind::LayerNorm { width, bias } => per_token(costs.layernorm + if *bias { costs.bias } else { 0 }, width),
            OpKind::Rope { width } => per_token(costs.rope, width),
            OpKind::Softmax { heads } => prod(vec![n(costs.softmax), b(), heads.clone(), t(), self.keys(windowed)]),
            OpKind::Activation { function, width } => per_token(costs.activation(*function), width),
            OpKind::ElementwiseProduct { width } => per_token(costs.elementwise_product, width),
            OpKind::ResidualAdd { width } => per_token(costs.residual_add, width),
            OpKind::CrossEntropy { vocab } => per_token(costs.cross_entropy, vocab),
            OpKind::Dropout { width } => per_token(costs.dropout, width),
            _ => Expr::zero(),
        }
    }

    /// Forward FLOPs under a convention.
    pub fn forward_flops(&self, convention: FlopConvention, costs: &Costs) -> Expr {
        let attention = matches!(self.kind, OpKind::AttentionScores { .. } | OpKind::AttentionValues { .. });
        let run = self.copies_run();
        let full = run.clone() * self.matmul_flops_over(convention.windowed);
        let matmul = if convention.causal && attention {
            Expr::num(crate::algebra::Rational::new(1.into(), 2.into())) * full
        } else {
            full
        };
        if convention.elementwise {
            matmul + run * self.elementwise_flops_over(costs, convention.windowed)
        } else {
            matmul
        }
    }

    /// What the op keeps for its own backward pass, as Korthikanti et al. count it: (elements of
    /// inputs or outputs kept in the activation dtype, elements of 1-byte dropout masks).
    /// Decode FLOPs for one new token of one sequence attending to T cached positions (a
    /// sliding-window layer to the T_w = min(T, W) in its window); `absorbed`, latent attention
    /// works at its absorbed head width.
    pub fn decode_flops(&self, convention: FlopConvention, costs: &Costs) -> Expr {
        self.decode_flops_read(convention, costs, false)
    }

    /// Decode FLOPs as [`Op::decode_flops`], with latent attention absorbed or not.
    pub fn decode_flops_read(&self, convention: FlopConvention, costs: &Costs, absorbed: bool) -> Expr {
        match &self.kind {
            OpKind::AttentionScores { heads, head_dim } | OpKind::AttentionValues { heads, head_dim } => {
                let width = match (&self.absorbed_head_dim, absorbed) {
                    (Some(w), true) => w.clone(),
                    _ => head_dim.clone(),
                };
                prod(vec![n(2), heads.clone(), self.keys(true), width])
            }
            OpKind::Softmax { heads } if convention.elementwise => {
                prod(vec![n(costs.softmax), heads.clone(), self.keys(true)])
            }
            OpKind::Softmax { .. } => Expr::zero(),
            // Expanding the cached latent again for every cached token, unless absorbed.
            _ if self.reads_cache && !absorbed => self.keys(true) * self.decode_flops_read(convention, costs, true),
            // Everything else works token by token: its forward cost for B = 1, T = 1.
            _ => self
                .forward_flops(convention, costs)
                .substitute(&|s| (s == Role::Batch.symbol() || s == Role::Context.symbol()).then(Expr::one)),
        }
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
            OpKind::Sinks { heads } => vec![vec![heads.clone()]],
            OpKind::HeadRmsNorm { heads, head_dim } => per_token(&(heads.clone() * head_dim.clone())),
        }
    }

    /// The rule used, in words, for the derivation table; a routed expert's says how many copies
    /// are stored and run.
    pub fn rule(&self) -> String {
        let base = self.kind_rule();
        match &self.experts {
            Some(e) => format!(
                "{base}; {} copies, {} per token",
                crate::algebra::print(&e.count, crate::algebra::Notation::Unicode),
                crate::algebra::print(&e.active, crate::algebra::Notation::Unicode)
            ),
            None => base,
        }
    }

    fn kind_rule(&self) -> String {
        match &self.kind {
            OpKind::Embedding { .. } => "row gather, 0 FLOPs".into(),
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
            OpKind::Sinks { .. } => "one learned logit per head".into(),
            OpKind::HeadRmsNorm { .. } => "RMSNorm per head, gain shared by heads".into(),
        }
    }

    /// Every size the op is built from, named, for validation (each must be a positive integer).
    pub fn dimensions(&self) -> Vec<(&'static str, &Expr)> {
        match &self.kind {
            OpKind::Embedding { rows, width } => vec![("rows", rows), ("width", width)],
            OpKind::Linear { input, output, .. } => vec![("in", input), ("out", output)],
            OpKind::AttentionScores { heads, head_dim }
            | OpKind::AttentionValues { heads, head_dim }
            | OpKind::HeadRmsNorm { heads, head_dim } => vec![("heads", heads), ("head_dim", head_dim)],
            OpKind::Softmax { heads } | OpKind::Sinks { heads } => vec![("heads", heads)],
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

    /// A size of the op by its field name, to change it.
    pub fn field_mut(&mut self, field: &str) -> Option<&mut Expr> {
        match (&mut self.kind, field) {
            (OpKind::Embedding { rows, .. }, "rows") => Some(rows),
            (OpKind::Linear { input, .. }, "in") => Some(input),
            (OpKind::Linear { output, .. }, "out") => Some(output),
            (
                OpKind::AttentionScores { heads, .. }
                | OpKind::AttentionValues { heads, .. }
                | OpKind::Softmax { heads }
                | OpKind::Sinks { heads }
                | OpKind::HeadRmsNorm { heads, .. },
                "heads",
            ) => Some(heads),
            (
                OpKind::AttentionScores { head_dim, .. }
                | OpKind::AttentionValues { head_dim, .. }
                | OpKind::HeadRmsNorm { head_dim, .. },
                "head_dim",
            ) => Some(head_dim),
            (OpKind::CrossEntropy { vocab }, "vocab") => Some(vocab),
            (
                OpKind::Embedding { width, .. }
                | OpKind::RmsNorm { width }
                | OpKind::LayerNorm { width, .. }
                | OpKind::Rope { width }
                | OpKind::Activation { width, .. }
                | OpKind::ElementwiseProduct { width }
                | OpKind::ResidualAdd { width }
                | OpKind::Dropout { width },
                "width",
            ) => Some(width),
            _ => None,
        }
    }

    /// The fields a model file may give for this op's kind (besides name, kind, component,
    /// saved and kv_cache).
    pub fn fields(&self) -> Vec<&'static str> {
        let mut fields: Vec<&'static str> = self.dimensions().into_iter().map(|(f, _)| f).collect();
        match self.kind {
            OpKind::Linear { .. } => fields.extend(["bias", "tied"]),
            OpKind::LayerNorm { .. } => fields.push("bias"),
            OpKind::Activation { .. } => fields.push("function"),
            _ => {}
        }
        fields
    }

    /// The kind as written in model files.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            OpKind::Embedding { .. } => "embedding",
            OpKind::Linear { .. } => "linear",
            OpKind::RmsNorm { .. } => "rmsnorm",
            OpKind::LayerNorm { .. } => "layernorm",
            OpKind::Rope { .. } => "rope",
            OpKind::AttentionScores { .. } => "attention_scores",
            OpKind::Softmax { .. } => "softmax",
            OpKind::AttentionValues { .. } => "attention_values",
            OpKind::Activation { .. } => "activation",
            OpKind::ElementwiseProduct { .. } => "elementwise_product",
            OpKind::ResidualAdd { .. } => "residual_add",
            OpKind::CrossEntropy { .. } => "cross_entropy",
            OpKind::Dropout { .. } => "dropout",
            OpKind::Sinks { .. } => "sinks",
            OpKind::HeadRmsNorm { .. } => "head_rmsnorm",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algebra::worker::{WaitOptions, exclusive};
    use crate::algebra::{self, Engine};
    use crate::ops::{Activation, ActivationConvention, Saved};

    fn s(name: &str) -> Expr {
        Expr::sym(name)
    }

    fn op(kind: OpKind) -> Op {
        Op { saved: Saved::Cs336, ..Op::new("op", kind, "c") }
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
                engine.equal(&o.elementwise_flops(&crate::ops::Costs::builtin()), &read(&elementwise)).unwrap(),
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
            let costs = crate::ops::Costs::builtin();
            let matmul_only =
                o.forward_flops(FlopConvention { elementwise: false, causal: false, windowed: false }, &costs);
            let all = o.forward_flops(FlopConvention { elementwise: true, causal: false, windowed: false }, &costs);
            let read = |t: &str| algebra::parse(t, &algebra::any_symbol).unwrap();
            assert!(engine.equal(&matmul_only, &read("2*B*T*H^2")).unwrap());
            assert!(engine.equal(&all, &read("2*B*T*H^2 + B*T*H")).unwrap());
        })
        .unwrap();
    }
}

//! Symbolic totals built from the per-op rules: parameters and forward FLOPs of a model, per stage
//! and per FLOP component; training memory, optimizer FLOPs and the largest batch that fits. A [`Quantity`] carries its raw sum, its textbook closed form, its unit
//! and (when every symbol is bound) its exact value.

use crate::algebra::{self, Engine, Expr, LayoutRules, Rational};
use crate::dim::{Precision, Unit};
use crate::error::Result;
use crate::model::{Model, Stage};
use crate::ops::{ActivationConvention, FlopConvention};
use crate::optimizer::Optimizer;
use std::collections::BTreeMap;

/// A named, unit-carrying symbolic quantity.
#[derive(Clone, Debug)]
pub struct Quantity {
    /// Stable machine name (`params`, `flops.forward.ffn`).
    pub name: String,
    /// What it is, in words.
    pub title: String,
    /// Its unit.
    pub unit: Unit,
    /// The sum as built from the rules, before simplification.
    pub raw: Expr,
    /// The simplified closed form.
    pub closed: Expr,
    /// The exact value under the bindings, if every symbol is bound.
    pub value: Option<Rational>,
    /// What to show instead of a value, when there is no value to show (`does not fit`).
    pub verdict: Option<String>,
}

/// What quantities are simplified and evaluated with: the algebra engine, the layout of closed
/// forms and the bound values.
#[derive(Clone)]
pub struct Context<'e> {
    /// The algebra (only exists on the session's worker thread).
    pub engine: &'e Engine,
    /// How closed forms are laid out.
    pub layout: LayoutRules,
    /// Bound symbol values.
    pub values: BTreeMap<String, Rational>,
}

impl Context<'_> {
    /// Simplifies `raw` and evaluates it.
    pub fn quantity(&self, name: &str, title: &str, unit: Unit, raw: Expr) -> Result<Quantity> {
        let closed = self.simplify(&raw)?;
        let value = Some(self.value(&raw)?);
        Ok(Quantity { name: name.to_string(), title: title.to_string(), unit, raw, closed, value, verdict: None })
    }

    /// Simplified form only.
    pub fn simplify(&self, e: &Expr) -> Result<Expr> {
        Ok(self.engine.simplify(e, &self.layout)?)
    }

    /// Exact value; every symbol a derivation uses is bound, so a missing one is an error.
    pub fn value(&self, e: &Expr) -> Result<Rational> {
        Ok(algebra::evaluate(e, &self.values)?)
    }

    /// The same context with closed forms split by `symbol` (memory as `a·B + b`).
    pub fn split_by(&self, symbol: &str) -> Context<'_> {
        Context {
            engine: self.engine,
            layout: LayoutRules { split_by: Some(symbol.to_string()), ..self.layout.clone() },
            values: self.values.clone(),
        }
    }
}

/// Parameters of one pass through a stage.
pub fn stage_params(stage: &Stage) -> Expr {
    Expr::sum(stage.ops.iter().map(|op| op.params()).collect())
}

/// Forward FLOPs of one pass through a stage.
pub fn stage_forward_flops(stage: &Stage, convention: FlopConvention) -> Expr {
    Expr::sum(stage.ops.iter().map(|op| op.forward_flops(convention)).collect())
}

/// Σ over stages of repeat × (per-pass amount).
fn over_stages(model: &Model, per_stage: impl Fn(&Stage) -> Expr) -> Expr {
    Expr::sum(model.stages.iter().map(|s| s.repeat.clone() * per_stage(s)).collect())
}

/// Trainable parameters of the model.
pub fn params(model: &Model) -> Expr {
    over_stages(model, stage_params)
}

/// Forward FLOPs of the model for a batch of B sequences of T tokens.
pub fn forward_flops(model: &Model, convention: FlopConvention) -> Expr {
    over_stages(model, |s| stage_forward_flops(s, convention))
}

/// Forward FLOPs of the ops in one component.
pub fn component_flops(model: &Model, convention: FlopConvention, component: &str) -> Expr {
    over_stages(model, |s| {
        Expr::sum(s.ops.iter().filter(|op| op.component == component).map(|op| op.forward_flops(convention)).collect())
    })
}

/// The stage repeated per layer, if exactly one stage repeats.
pub fn layer_stage(model: &Model) -> Option<&Stage> {
    let mut repeated = model.stages.iter().filter(|s| s.repeat != Expr::one());
    match (repeated.next(), repeated.next()) {
        (Some(s), None) => Some(s),
        _ => None,
    }
}

/// How parameters, gradients and optimizer state are stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// Every tensor in the training precision (fp32: 4 + 4 + 8 = 16 bytes per parameter).
    #[default]
    Uniform,
    /// Mixed precision: 16-bit weights and gradients, fp32 master weights, m and v (2 + 2 + 4 + 8).
    Mixed,
    /// Mixed precision with fp32 gradients (2 + 4 + 4 + 8).
    MixedFp32Grads,
}

impl Layout {
    /// Name as used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Uniform => "uniform",
            Layout::Mixed => "mixed",
            Layout::MixedFp32Grads => "mixed-fp32-grads",
        }
    }

    /// Bytes per parameter of (weights, fp32 master copy, gradients, each optimizer state tensor).
    pub fn bytes_per_param(self, precision: Precision) -> (i64, i64, i64, i64) {
        match self {
            Layout::Uniform => (precision.bytes(), 0, precision.bytes(), precision.bytes()),
            Layout::Mixed => (2, 4, 2, 4),
            Layout::MixedFp32Grads => (2, 4, 4, 4),
        }
    }
}

/// What is kept for the backward pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActivationSettings {
    /// Which activations count.
    pub convention: ActivationConvention,
    /// Full recomputation: each repeated block keeps only its input; backward reruns the forward.
    pub recompute: bool,
    /// FlashAttention: no T² tensors kept, the fp32 log-sum-exp per row instead.
    pub flash: bool,
    /// Bytes per activation element (the compute dtype).
    pub bytes: i64,
}

/// Bytes of fp32 log-sum-exp statistics kept by FlashAttention.
const FLASH_STATISTICS_BYTES: i64 = 4;

/// Bytes one op keeps for the backward pass under the settings (outside full recomputation).
pub fn op_activation_bytes(op: &crate::ops::Op, s: ActivationSettings) -> Expr {
    let bytes = Expr::int(s.bytes);
    let kept = match s.convention {
        ActivationConvention::Korthikanti => {
            let (kept, masks) = op.saved_for_backward(s.flash);
            bytes * kept + masks
        }
        _ if s.flash && op.is_attention_matrix() => Expr::zero(),
        convention => bytes * op.saved_elements(convention),
    };
    let statistics = if s.flash { Expr::int(FLASH_STATISTICS_BYTES) * op.flash_statistics() } else { Expr::zero() };
    kept + statistics
}

/// Elements one op keeps for the backward pass under the settings (dropout masks and
/// FlashAttention statistics included, whatever their bytes).
pub fn op_activation_elements(op: &crate::ops::Op, s: ActivationSettings) -> Expr {
    let kept = match s.convention {
        ActivationConvention::Korthikanti => {
            let (kept, masks) = op.saved_for_backward(s.flash);
            kept + masks
        }
        _ if s.flash && op.is_attention_matrix() => Expr::zero(),
        convention => op.saved_elements(convention),
    };
    if s.flash { kept + op.flash_statistics() } else { kept }
}

/// With full recomputation, what a repeated stage keeps: its input, B·T × the first op's width.
pub fn recomputed_stage_bytes(stage: &Stage, s: ActivationSettings) -> Expr {
    let width = stage.ops.first().and_then(|op| op.dimensions().last().map(|(_, w)| (*w).clone()));
    Expr::product(vec![Expr::int(s.bytes), Expr::sym("B"), Expr::sym("T"), width.unwrap_or_else(|| Expr::sym("H"))])
}

/// Bytes of activations kept for the backward pass over the whole model.
pub fn activation_bytes(model: &Model, s: ActivationSettings) -> Expr {
    over_stages(model, |stage| {
        if s.recompute && stage.repeat != Expr::one() {
            return recomputed_stage_bytes(stage, s);
        }
        Expr::sum(stage.ops.iter().map(|op| op_activation_bytes(op, s)).collect())
    })
}

/// The memory terms of training with an optimizer, in bytes: parameters (16-bit weights in mixed
/// precision), fp32 master weights (mixed only), gradients, optimizer state (one element per
/// parameter per state tensor) and saved activations.
pub struct MemoryTerms {
    /// Parameters as used in the forward pass.
    pub params: Expr,
    /// fp32 master copy of the weights (mixed precision), else 0.
    pub master: Expr,
    /// Gradients.
    pub gradients: Expr,
    /// Optimizer state.
    pub optimizer: Expr,
    /// Saved activations.
    pub activations: Expr,
}

impl MemoryTerms {
    /// Memory of training `model` with `optimizer` at `precision` in `layout`, activations as `saved`.
    pub fn new(
        model: &Model,
        precision: Precision,
        layout: Layout,
        optimizer: &Optimizer,
        saved: ActivationSettings,
    ) -> Self {
        let p = params(model);
        let per_param = |bytes: i64| Expr::int(bytes) * p.clone();
        let state = optimizer.state.len() as i64;
        let (weights, master, gradients, moments) = layout.bytes_per_param(precision);
        MemoryTerms {
            params: per_param(weights),
            master: per_param(master),
            gradients: per_param(gradients),
            optimizer: per_param(moments * state),
            activations: activation_bytes(model, saved),
        }
    }

    /// Everything but the activations.
    pub fn fixed(&self) -> Expr {
        Expr::sum(vec![self.params.clone(), self.master.clone(), self.gradients.clone(), self.optimizer.clone()])
    }

    /// All terms.
    pub fn total(&self) -> Expr {
        self.fixed() + self.activations.clone()
    }
}

/// Bytes of the inference KV cache: every op's cached elements per token, for B sequences of T
/// tokens, at `bytes` per element.
pub fn kv_cache_bytes(model: &Model, bytes: i64) -> Expr {
    over_stages(model, |s| {
        Expr::sum(
            s.ops
                .iter()
                .filter_map(|op| op.kv_cache.clone())
                .map(|w| Expr::product(vec![Expr::int(bytes), Expr::sym("B"), Expr::sym("T"), w]))
                .collect(),
        )
    })
}

/// FLOPs to decode one token of one sequence with T positions cached.
pub fn decode_flops(model: &Model, convention: FlopConvention) -> Expr {
    over_stages(model, |s| Expr::sum(s.ops.iter().map(|op| op.decode_flops(convention)).collect()))
}

/// Optimizer FLOPs per step: per-parameter operations × P plus per-step scalars.
pub fn optimizer_flops(model: &Model, optimizer: &Optimizer) -> Expr {
    Expr::int(optimizer.flops_per_param()) * params(model) + Expr::int(optimizer.flops_per_step())
}

/// The largest batch whose memory `a·B + b` fits in `budget` bytes, or how much is missing when
/// even one sequence does not fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchFit {
    /// ⌊(budget − b)/a⌋ ≥ 1.
    Largest(Rational),
    /// a + b > budget by this many bytes.
    DoesNotFit(Rational),
    /// Memory does not grow with B (a = 0) and b fits: any batch fits.
    Unbounded,
}

/// Solves `a·B + b ≤ budget` for the largest whole B ≥ 1.
pub fn largest_batch(a: &Rational, b: &Rational, budget: &Rational) -> BatchFit {
    let zero = Rational::from_integer(0.into());
    if a <= &zero {
        return if b <= budget { BatchFit::Unbounded } else { BatchFit::DoesNotFit(b - budget) };
    }
    let one_sequence = a + b;
    if &one_sequence > budget {
        return BatchFit::DoesNotFit(one_sequence - budget);
    }
    BatchFit::Largest(((budget - b) / a).floor())
}

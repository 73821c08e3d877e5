//! Symbolic totals built from the per-op rules: parameters and forward FLOPs of a model, per stage
//! and per FLOP component; training memory, optimizer FLOPs and the largest batch that fits. A [`Quantity`] carries its raw sum, its textbook closed form, its unit
//! and (when every symbol is bound) its exact value.

use crate::algebra::{self, Expr, LayoutRules, Rational};
use crate::dim::{Precision, Unit};
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

/// What quantities are simplified and evaluated with.
pub struct Context {
    /// How closed forms are laid out.
    pub layout: LayoutRules,
    /// Bound symbol values.
    pub values: BTreeMap<String, Rational>,
}

impl Context {
    /// Simplifies `raw` and evaluates it.
    pub fn quantity(&self, name: &str, title: &str, unit: Unit, raw: Expr) -> Quantity {
        let closed = algebra::simplify(&raw, &self.layout);
        let value = algebra::evaluate(&raw, &self.values).ok();
        Quantity { name: name.to_string(), title: title.to_string(), unit, raw, closed, value, verdict: None }
    }

    /// Simplified form only.
    pub fn simplify(&self, e: &Expr) -> Expr {
        algebra::simplify(e, &self.layout)
    }

    /// Exact value, if bound.
    pub fn value(&self, e: &Expr) -> Option<Rational> {
        algebra::evaluate(e, &self.values).ok()
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

/// Activation elements kept for the backward pass under a convention, over the whole model.
pub fn activation_elements(model: &Model, convention: ActivationConvention) -> Expr {
    over_stages(model, |s| Expr::sum(s.ops.iter().map(|op| op.saved_elements(convention)).collect()))
}

/// The four memory terms of training with an optimizer, in bytes: parameters, gradients,
/// optimizer state (one element per parameter per state tensor) and saved activations.
pub struct MemoryTerms {
    /// Parameters: bytes × P.
    pub params: Expr,
    /// Gradients: bytes × P.
    pub gradients: Expr,
    /// Optimizer state: bytes × state tensors × P.
    pub optimizer: Expr,
    /// Saved activations: bytes × saved elements.
    pub activations: Expr,
}

impl MemoryTerms {
    /// Memory of training `model` with `optimizer` at `precision`, activations under `convention`.
    pub fn new(model: &Model, precision: Precision, optimizer: &Optimizer, convention: ActivationConvention) -> Self {
        let bytes = Expr::int(precision.bytes());
        let p = params(model);
        MemoryTerms {
            params: bytes.clone() * p.clone(),
            gradients: bytes.clone() * p.clone(),
            optimizer: Expr::product(vec![bytes.clone(), Expr::int(optimizer.state.len() as i64), p]),
            activations: bytes * activation_elements(model, convention),
        }
    }

    /// The sum of the four terms.
    pub fn total(&self) -> Expr {
        Expr::sum(vec![self.params.clone(), self.gradients.clone(), self.optimizer.clone(), self.activations.clone()])
    }
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
}

/// Solves `a·B + b ≤ budget` for the largest whole B ≥ 1.
pub fn largest_batch(a: &Rational, b: &Rational, budget: &Rational) -> BatchFit {
    let one_sequence = a + b;
    if &one_sequence > budget || a <= &Rational::from_integer(0.into()) {
        return BatchFit::DoesNotFit(one_sequence - budget);
    }
    BatchFit::Largest(((budget - b) / a).floor())
}

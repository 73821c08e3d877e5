//! Symbolic totals built from the per-op rules: parameters and forward FLOPs of a model, per stage
//! and per FLOP component. A [`Quantity`] carries its raw sum, its textbook closed form, its unit
//! and (when every symbol is bound) its exact value.

use crate::algebra::{self, Expr, LayoutRules, Rational};
use crate::dim::Unit;
use crate::model::{Model, Stage};
use crate::ops::FlopConvention;
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
        Quantity { name: name.to_string(), title: title.to_string(), unit, raw, closed, value }
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

//! Symbolic totals built from the per-op rules, and the catalog that names them: parameters and
//! forward FLOPs of a model, per stage and per FLOP component ([`sums`]); training memory, the
//! optimizer and the largest batch ([`memory`]); and [`Catalog`], where every named quantity
//! (`params`, `memory.total`, `batch.max`, …) is defined once, with its unit and the conventions it
//! reads. A [`Quantity`] carries its raw sum, its textbook closed form, its unit and its value.

pub mod catalog;
pub mod choices;
mod conventions;
pub mod memory;
pub mod parallel;
pub mod sums;

pub use catalog::{BatchLine, Catalog, Entry};
pub use conventions::Conventions;
pub use memory::{ActivationSettings, BatchFit, Layout, largest_batch};
pub use sums::{component_flops, forward_flops, layer_stage, params, stage_forward_flops, stage_params};

use crate::algebra::{self, Engine, Expr, LayoutRules, Rational};
use crate::diagnostic::Source;
use crate::dim::Unit;
use crate::error::Result;
use serde::Deserialize;
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
    /// The exact value under the bindings (none for a batch that does not fit).
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

/// Reads the quantity aliases: (alias, quantity name).
pub fn read_aliases(source: &Source) -> Result<Vec<(String, String)>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        aliases: BTreeMap<String, String>,
    }
    Ok(crate::loader::read_toml::<File>(source)?.aliases.into_iter().collect())
}

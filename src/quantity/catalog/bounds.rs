//! The inverse questions of parallel training, as closed-form boundaries of the per-GPU memory:
//! the largest micro-batch b that fits a budget, and the smallest data-parallel degree d whose
//! sharding makes the step fit. Per-GPU memory is linear in b (activations grow with it) and of
//! the form α + β/d in d (ZeRO shards the model states over the d ranks), so both are solved
//! exactly: ⌊(M − rest)/a⌋ and ⌈β/(M − α)⌉.

use super::{BatchLine, Catalog, batch_unit};
use crate::algebra::{Expr, Rational};
use crate::dim::{self, Unit};
use crate::error::Result;
use crate::quantity::memory::largest_batch;
use crate::quantity::{Context, Quantity};
use crate::symbol::Role;

/// The boundary quantities: name, what it solves for and which budget (0 the first reading).
const BOUNDS: [(&str, Solve, usize); 4] = [
    ("gpu.micro_batch.max", Solve::MicroBatch, 0),
    ("gpu.micro_batch.max.binary", Solve::MicroBatch, 1),
    ("gpu.dp.min", Solve::DataParallel, 0),
    ("gpu.dp.min.binary", Solve::DataParallel, 1),
];

#[derive(Clone, Copy, PartialEq)]
enum Solve {
    MicroBatch,
    DataParallel,
}

/// The unit of a boundary quantity, if `name` is one.
pub(super) fn unit(name: &str) -> Option<Unit> {
    BOUNDS.iter().find(|(n, ..)| *n == name).map(|(_, solve, _)| match solve {
        Solve::MicroBatch => batch_unit(),
        Solve::DataParallel => Unit::none(),
    })
}

/// The boundary names as the listing shows them: name, unit, title.
pub(super) fn listed() -> Vec<(&'static str, Unit, String)> {
    BOUNDS
        .iter()
        .map(|(name, solve, index)| {
            let budget = if *index == 0 { "the first memory reading" } else { "the second memory reading" };
            let title = match solve {
                Solve::MicroBatch => format!("largest micro-batch size b whose step fits {budget} per GPU"),
                Solve::DataParallel => format!("smallest data-parallel degree d whose step fits {budget} per GPU"),
            };
            (*name, unit(name).unwrap_or_else(Unit::none), title)
        })
        .collect()
}

impl Catalog<'_> {
    /// The boundary names that exist: under parallel training, one per memory budget.
    pub(super) fn bound_names(&self) -> Vec<String> {
        if self.conventions.parallel.is_none() {
            return vec![];
        }
        let budgets = self.conventions.budgets().len();
        BOUNDS.iter().filter(|(_, _, i)| *i < budgets).map(|(n, ..)| n.to_string()).collect()
    }

    /// A boundary quantity, `None` if `name` is not one or it does not exist here.
    pub(super) fn bound_quantity(&self, ctx: &Context, name: &str) -> Result<Option<Quantity>> {
        let Some((_, solve, index)) = BOUNDS.iter().find(|(n, ..)| *n == name) else { return Ok(None) };
        let Some((label, budget)) = self.conventions.budgets().get(*index).cloned() else { return Ok(None) };
        let Some(total) = self.raw("gpu.memory.total") else { return Ok(None) };
        let (symbol, power) = match solve {
            Solve::MicroBatch => (Role::MicroBatchSize.symbol(), 1),
            Solve::DataParallel => (Role::DataParallel.symbol(), -1),
        };
        let Some(line) = BatchLine::in_power(ctx, &total, symbol, power)? else { return Ok(None) };
        let quantity = |title: String, closed: Expr, value: Option<Rational>, verdict: Option<String>| Quantity {
            name: name.to_string(),
            title,
            unit: unit(name).unwrap_or_else(Unit::none),
            raw: closed.clone(),
            closed,
            value,
            verdict,
        };
        let room = Expr::num(budget.clone()) - line.b_expr.clone();
        Ok(Some(match solve {
            Solve::MicroBatch => {
                let fit = largest_batch(&line.a, &line.b, &budget);
                let closed = Expr::Floor(Box::new(room * line.a_expr.clone().pow(-1)));
                let title =
                    format!("largest micro-batch size b per GPU, ⌊(M − rest)/(bytes per sequence)⌋ for {label}");
                quantity(title, closed, fit.largest(), fit.verdict())
            }
            Solve::DataParallel => {
                let title = format!("smallest data-parallel degree d per GPU, ⌈β/(M − α)⌉ for {label}");
                let zero = Rational::from_integer(0.into());
                let one = Rational::from_integer(1.into());
                if line.b >= budget {
                    // What does not shrink with d already fills the GPU: no degree helps.
                    let verdict = format!(
                        "no d fits: what does not shrink with d already takes {}, {} over",
                        dim::bytes(&line.b),
                        dim::bytes(&(&line.b - &budget))
                    );
                    quantity(title, Expr::zero(), None, Some(verdict))
                } else if line.a <= zero {
                    // Nothing is sharded over d (no ZeRO): the step fits at any d, so at d = 1.
                    quantity(title, Expr::one(), Some(one), None)
                } else {
                    let smallest = (&line.a / (&budget - &line.b)).ceil().max(one);
                    let closed = Expr::Ceil(Box::new(line.a_expr.clone() * room.pow(-1)));
                    quantity(title, closed, Some(smallest), None)
                }
            }
        }))
    }
}

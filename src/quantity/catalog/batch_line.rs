//! A quantity split by one symbol's power: memory = a·B + b for the largest batch, and the same
//! split in d⁻¹ for what ZeRO shards.

use crate::algebra::{Expr, Rational};
use crate::error::Result;
use crate::quantity::Context;
use crate::symbol::Role;

/// The solution of memory = a·B + b for the largest batch, at the bound sizes and as closed forms.
#[derive(Clone, Debug)]
pub struct BatchLine {
    /// Bytes per sequence.
    pub a: Rational,
    /// Bytes that do not depend on B.
    pub b: Rational,
    /// a as a closed form.
    pub a_expr: Expr,
    /// b as a closed form.
    pub b_expr: Expr,
}

impl BatchLine {
    /// `e` as a·B + b, the one place a quantity is split by the batch size. `None` when `e` is
    /// not linear in B.
    pub fn of(ctx: &Context, e: &Expr) -> Result<Option<BatchLine>> {
        BatchLine::in_power(ctx, e, Role::Batch.symbol(), 1)
    }

    /// `e` as a·xᵏ + b for the symbol x and the power k (`d` and −1 for what ZeRO shards).
    /// `None` when `e` has other powers of x.
    pub fn in_power(ctx: &Context, e: &Expr, symbol: &str, power: i32) -> Result<Option<BatchLine>> {
        let Some(by_power) = ctx.engine.coefficients(e, symbol)? else { return Ok(None) };
        if by_power.keys().any(|k| *k != 0 && *k != power) {
            return Ok(None);
        }
        let part = |k: i32| by_power.get(&k).cloned().unwrap_or_else(Expr::zero);
        let (a_raw, b_raw) = (part(power), part(0));
        Ok(Some(BatchLine {
            a: ctx.value(&a_raw)?,
            b: ctx.value(&b_raw)?,
            a_expr: ctx.simplify(&a_raw)?,
            b_expr: ctx.simplify(&b_raw)?,
        }))
    }
}

//! The left side of a claim derived under some readings, kept by the reference so each set of
//! readings is derived once.

use crate::algebra::{Expr, Rational};
use std::collections::BTreeMap;

/// The left side derived under some readings, before their substitutions and scale.
pub struct Derived {
    /// The left side's expression.
    pub(super) expr: Expr,
    /// Bytes per element of the precision in effect.
    pub(super) bytes: i64,
    /// Every symbol's value, the training settings (peak, utilisation, steps) as the readings
    /// have them.
    pub(super) values: BTreeMap<String, Rational>,
}

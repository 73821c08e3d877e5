//! The unit of a claim's formula, read with markers: quantities carry their units, unit words
//! theirs, and a bare number in front of a count may stand for any unit (bytes per parameter).

use super::reference::{Reference, base_of_marker};
use crate::algebra::{Expr, Rational};
use crate::dim::Unit;
use std::collections::BTreeMap;

/// How a formula's dimension came out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dimension {
    /// No unit written and none forced: bare numbers and sizes can be read in any unit.
    Free,
    /// A definite unit.
    Known(Unit),
}

/// Two terms of a sum with different units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch(pub Unit, pub Unit);

impl Reference<'_> {
    /// The unit of a marked formula, or the first sum that adds different units.
    pub fn dimension(&self, e: &Expr) -> Result<Dimension, Mismatch> {
        match e {
            Expr::Num(_) | Expr::Floor(_) | Expr::Ceil(_) => Ok(Dimension::Free),
            Expr::Sym(name) => {
                if let Some(base) = base_of_marker(name) {
                    return Ok(Dimension::Known(Unit::of(base)));
                }
                match name.strip_prefix("q_").and_then(|i| i.parse::<usize>().ok()) {
                    Some(i) => Ok(self.quantity_at(i).map(|q| Dimension::Known(q.unit)).unwrap_or(Dimension::Free)),
                    None => Ok(self.symbol_unit(name).map(Dimension::Known).unwrap_or(Dimension::Free)),
                }
            }
            Expr::Pow(b, k) => Ok(match self.dimension(b)? {
                Dimension::Known(u) => {
                    let mut out = Unit::none();
                    for _ in 0..k.unsigned_abs() {
                        out = if *k > 0 { out.times(&u) } else { out.per(&u) };
                    }
                    Dimension::Known(out)
                }
                Dimension::Free => Dimension::Free,
            }),
            Expr::Mul(factors) => {
                let explicit = factors.iter().any(has_unit_marker);
                let numeric = factors.iter().any(|f| self.is_pure_number(f));
                let mut unit = Unit::none();
                let mut known = false;
                for f in factors {
                    if let Dimension::Known(u) = self.dimension(f)? {
                        unit = unit.times(&u);
                        known = true;
                    }
                }
                // A bare number times a count (16 * params, (4 + 4 + 8) * params, (6 + 12/d) * P)
                // may carry any unit: people write bytes per parameter without saying so. Written
                // units always count.
                if known && (explicit || !numeric) { Ok(Dimension::Known(unit)) } else { Ok(Dimension::Free) }
            }
            Expr::Add(terms) => {
                let mut seen: Option<Unit> = None;
                for t in terms {
                    if let Dimension::Known(u) = self.dimension(t)? {
                        match &seen {
                            Some(s) if *s != u => return Err(Mismatch(s.clone(), u)),
                            _ => seen = Some(u),
                        }
                    }
                }
                Ok(seen.map(Dimension::Known).unwrap_or(Dimension::Free))
            }
        }
    }

    /// Whether `e` is a number as people write one in front of a count: a constant other than ±1
    /// (`16`, `4 + 4 + 8`, `2^4`), or a sum of such a constant and unitless terms (`6 + 12/d`,
    /// Megatron's bytes per parameter). A pure number is dimensionless wherever it is written.
    fn is_pure_number(&self, e: &Expr) -> bool {
        let constant = |e: &Expr| crate::algebra::evaluate(e, &BTreeMap::new()).ok();
        match e {
            Expr::Add(terms) => {
                terms.iter().any(|t| constant(t).is_some_and(|v| v != Rational::from_integer(0.into())))
                    && terms.iter().all(|t| matches!(self.dimension(t), Ok(Dimension::Free)))
                    && !has_unit_marker(e)
            }
            _ if has_unit_marker(e) => false,
            _ => constant(e).is_some_and(|v| v.numer().magnitude() != v.denom().magnitude()),
        }
    }
}

fn has_unit_marker(e: &Expr) -> bool {
    match e {
        Expr::Sym(s) => base_of_marker(s).is_some(),
        Expr::Pow(b, _) | Expr::Floor(b) | Expr::Ceil(b) => has_unit_marker(b),
        Expr::Mul(v) | Expr::Add(v) => v.iter().any(has_unit_marker),
        Expr::Num(_) => false,
    }
}

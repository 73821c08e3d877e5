//! Bounds on the work any input can cause. A formula, a model file or a `--set` value must not make
//! tally run for minutes or fill memory while it holds the per-user lock, so every expression is
//! measured before it is expanded and every number is measured as it grows. The bounds are far
//! above what any real model needs (degrees of 4, a few hundred terms, numbers of 10²⁵) and far
//! below what would hurt.

use super::expr::{Expr, Rational};
use num_traits::Signed;
use std::collections::BTreeMap;

/// Highest power of one symbol in any expression (a written exponent, or one built by products).
pub const MAX_DEGREE: u64 = 64;

/// Most terms an expansion may produce (estimated before expanding: products multiply counts).
pub const MAX_TERMS: u128 = 200_000;

/// Most bits in the numerator or denominator of any number (about 4,900 decimal digits).
pub const MAX_BITS: u64 = 16_384;

/// Most work an expansion may take, as terms × (64 + bits of the largest coefficient): many terms
/// with small numbers, or few with long ones, but not both (135,000 terms of 2,700-bit numbers
/// took seconds). Real models stay below 10⁵.
pub const MAX_WORK: u128 = 20_000_000;

/// An input past one of the bounds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// A symbol's power is above [`MAX_DEGREE`].
    #[error("`{symbol}` would be raised to the power {degree}; tally handles powers up to {MAX_DEGREE}")]
    Degree {
        /// The symbol.
        symbol: String,
        /// Its power (a bound, if the expression was not yet expanded).
        degree: u64,
    },
    /// Multiplying out would give more than [`MAX_TERMS`] terms.
    #[error("multiplying this out would give about {terms} terms; tally stops at {MAX_TERMS}")]
    Terms {
        /// The estimate.
        terms: u128,
    },
    /// A number is longer than [`MAX_BITS`].
    #[error("a number here has more than {} digits; tally stops there", MAX_BITS * 3 / 10)]
    Number,
    /// Multiplying out would give many terms with long numbers (past [`MAX_WORK`]).
    #[error(
        "multiplying this out would give about {terms} terms with numbers of up to {digits} digits; tally stops before that much work"
    )]
    Work {
        /// The terms estimate.
        terms: u128,
        /// Digits of the largest coefficient, estimated.
        digits: u64,
    },
}

/// Checks a number's size.
pub fn check_number(n: &Rational) -> Result<(), LimitError> {
    if n.numer().bits() > MAX_BITS || n.denom().bits() > MAX_BITS {
        return Err(LimitError::Number);
    }
    Ok(())
}

/// Checks, before computing it, that `base^k` stays within [`MAX_BITS`].
pub fn check_power(base: &Rational, k: i32) -> Result<(), LimitError> {
    let bits = base.numer().abs().bits().max(base.denom().bits());
    if bits > 1 && bits.saturating_mul(u64::from(k.unsigned_abs())) > MAX_BITS {
        return Err(LimitError::Number);
    }
    Ok(())
}

/// Checks, before [`Expr::pow`] computes them, the numbers `e^k` would multiply out: a power of a
/// product raises each numeric factor.
pub fn check_power_of(e: &Expr, k: i32) -> Result<(), LimitError> {
    match e {
        Expr::Num(n) => check_power(n, k),
        Expr::Mul(v) => v.iter().try_for_each(|f| check_power_of(f, k)),
        Expr::Pow(b, j) => check_power_of(b, j.saturating_mul(k)),
        _ => Ok(()),
    }
}

/// Checks that `e` can be expanded within the bounds: no symbol above [`MAX_DEGREE`], no more than
/// [`MAX_TERMS`] terms, no number above [`MAX_BITS`].
pub fn check_expandable(e: &Expr) -> Result<(), LimitError> {
    let terms = term_estimate(e);
    if terms > MAX_TERMS {
        return Err(LimitError::Terms { terms });
    }
    // The total degree bounds every symbol's; only past it is each symbol measured (the first by
    // name past the bound is named).
    if total_degree_bound(e) > MAX_DEGREE
        && let Some((symbol, degree)) = degree_bounds(e).into_iter().find(|(_, degree)| *degree > MAX_DEGREE)
    {
        return Err(LimitError::Degree { symbol: symbol.to_string(), degree });
    }
    check_numbers(e)?;
    let bits = coefficient_bits(e);
    if bits > MAX_BITS {
        return Err(LimitError::Number);
    }
    if terms.saturating_mul(64 + u128::from(bits)) > MAX_WORK {
        return Err(LimitError::Work { terms, digits: bits * 3 / 10 });
    }
    Ok(())
}

/// An upper bound on the bits of any coefficient of the expanded form: products add bits, a sum
/// of n terms adds log₂ n, a power multiplies (the multinomial coefficients included).
fn coefficient_bits(e: &Expr) -> u64 {
    let log2 = |n: u128| 128 - u64::from(n.leading_zeros());
    match e {
        Expr::Num(n) => n.numer().bits().max(n.denom().bits()),
        Expr::Sym(_) | Expr::Floor(_) | Expr::Ceil(_) => 0,
        Expr::Add(v) => v.iter().map(coefficient_bits).max().unwrap_or(0).saturating_add(log2(v.len() as u128)),
        Expr::Mul(v) => v.iter().map(coefficient_bits).fold(0, u64::saturating_add),
        Expr::Pow(b, k) => {
            let per = coefficient_bits(b).saturating_add(log2(term_estimate(b)));
            per.saturating_mul(u64::from(k.unsigned_abs()))
        }
    }
}

/// Checks every number written in `e`.
pub fn check_numbers(e: &Expr) -> Result<(), LimitError> {
    match e {
        Expr::Num(n) => check_number(n),
        Expr::Sym(_) => Ok(()),
        Expr::Add(v) | Expr::Mul(v) => v.iter().try_for_each(check_numbers),
        Expr::Pow(b, _) | Expr::Floor(b) | Expr::Ceil(b) => check_numbers(b),
    }
}

/// An upper bound on the number of terms of the expanded form (saturating).
pub fn term_estimate(e: &Expr) -> u128 {
    match e {
        Expr::Num(_) | Expr::Sym(_) | Expr::Floor(_) | Expr::Ceil(_) => 1,
        Expr::Add(v) => v.iter().map(term_estimate).fold(0u128, u128::saturating_add),
        Expr::Mul(v) => v.iter().map(term_estimate).fold(1u128, u128::saturating_mul),
        // (t₁ + … + tₙ)ᵏ has at most C(n + k − 1, k) distinct monomials.
        Expr::Pow(b, k) => multisets(term_estimate(b), u128::from(k.unsigned_abs())),
    }
}

/// C(n + k − 1, k), saturating.
fn multisets(n: u128, k: u128) -> u128 {
    if n <= 1 {
        return 1;
    }
    let mut out: u128 = 1;
    for i in 0..k {
        // out · (n + i) / (i + 1) stays an integer at every step.
        out = match out.checked_mul(n + i) {
            Some(v) => v / (i + 1),
            None => return u128::MAX,
        };
        if out > MAX_TERMS * 1000 {
            return u128::MAX;
        }
    }
    out
}

/// An upper bound on the total degree of any monomial of `e` (absolute), and so on every
/// symbol's power: one walk, nothing allocated.
fn total_degree_bound(e: &Expr) -> u64 {
    match e {
        Expr::Num(_) => 0,
        Expr::Sym(_) => 1,
        Expr::Add(v) => v.iter().map(total_degree_bound).max().unwrap_or(0),
        Expr::Mul(v) => v.iter().map(total_degree_bound).fold(0, u64::saturating_add),
        Expr::Pow(b, k) => total_degree_bound(b).saturating_mul(u64::from(k.unsigned_abs())),
        Expr::Floor(b) | Expr::Ceil(b) => total_degree_bound(b),
    }
}

/// An upper bound on the power of every symbol in `e` (absolute: negative powers count too),
/// by name: [`degree_bound`] of each symbol, in one walk.
fn degree_bounds(e: &Expr) -> BTreeMap<&str, u64> {
    match e {
        Expr::Num(_) => BTreeMap::new(),
        Expr::Sym(s) => BTreeMap::from([(&**s, 1)]),
        Expr::Add(v) | Expr::Mul(v) => {
            let add = matches!(e, Expr::Mul(_));
            let mut out = BTreeMap::new();
            for t in v {
                for (s, d) in degree_bounds(t) {
                    let bound = out.entry(s).or_insert(0u64);
                    *bound = if add { bound.saturating_add(d) } else { (*bound).max(d) };
                }
            }
            out
        }
        Expr::Pow(b, k) => {
            let mut out = degree_bounds(b);
            out.values_mut().for_each(|d| *d = d.saturating_mul(u64::from(k.unsigned_abs())));
            out
        }
        Expr::Floor(b) | Expr::Ceil(b) => degree_bounds(b),
    }
}

/// An upper bound on the power of `symbol` in `e` (absolute: negative powers count too).
pub fn degree_bound(e: &Expr, symbol: &str) -> u64 {
    match e {
        Expr::Num(_) => 0,
        Expr::Sym(s) => u64::from(**s == *symbol),
        Expr::Add(v) => v.iter().map(|t| degree_bound(t, symbol)).max().unwrap_or(0),
        Expr::Mul(v) => v.iter().map(|t| degree_bound(t, symbol)).fold(0, u64::saturating_add),
        Expr::Pow(b, k) => degree_bound(b, symbol).saturating_mul(u64::from(k.unsigned_abs())),
        Expr::Floor(b) | Expr::Ceil(b) => degree_bound(b, symbol),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algebra::{any_symbol, parse};

    fn read(t: &str) -> Expr {
        parse(t, &any_symbol).unwrap()
    }

    #[test]
    fn powers_built_by_products_are_bounded() {
        assert!(check_expandable(&read("H^64")).is_ok());
        assert!(matches!(check_expandable(&read("H^64*H")), Err(LimitError::Degree { degree: 65, .. })));
        assert!(matches!(check_expandable(&read("H^33*H^32")), Err(LimitError::Degree { .. })));
    }

    #[test]
    fn big_expansions_are_refused_before_they_start() {
        assert!(matches!(check_expandable(&read("(H+L+V+T+A+1)^40")), Err(LimitError::Terms { .. })));
        assert!(check_expandable(&read("(H+L+V+T+A+1)^4")).is_ok());
    }

    #[test]
    fn coefficients_that_would_grow_past_the_bound_are_refused_before_expanding() {
        assert_eq!(check_expandable(&read("(H + 3 + 1e400)^40")), Err(LimitError::Number));
        assert!(check_expandable(&read("(H + 3)^40")).is_ok());
    }

    #[test]
    fn numbers_are_bounded_before_they_are_computed() {
        let big = Rational::from_integer(num_traits::pow(num_bigint::BigInt::from(10), 4000));
        assert!(check_power(&big, 64).is_err());
        assert!(check_power(&Rational::from_integer(2.into()), 64).is_ok());
    }
}

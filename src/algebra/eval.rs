//! Exact evaluation of tally's own expressions: rationals in, a rational out, no engine involved.
//! A value is computed bottom-up over the tree, so its cost is the size of the tree times the size
//! of the numbers — and numbers are bounded (see [`super::limits`]).

use super::expr::{Expr, Rational};
use super::limits::{self, LimitError};
use num_traits::{One, Zero};
use std::collections::BTreeMap;

/// Why an expression has no value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// Some symbols have no value (sorted, without repeats).
    #[error("no value for {}", .0.join(", "))]
    Unbound(Vec<String>),
    /// A denominator is zero at these values.
    #[error("a denominator is zero at these values")]
    DivisionByZero,
    /// An intermediate number grew past the bound.
    #[error(transparent)]
    Limit(#[from] LimitError),
}

/// The exact value of `e` with every symbol taken from `values`.
pub fn evaluate(e: &Expr, values: &BTreeMap<String, Rational>) -> Result<Rational, EvalError> {
    let unbound: Vec<String> = e.symbols().into_iter().filter(|s| !values.contains_key(s)).collect();
    if !unbound.is_empty() {
        return Err(EvalError::Unbound(unbound));
    }
    value(e, values)
}

fn value(e: &Expr, values: &BTreeMap<String, Rational>) -> Result<Rational, EvalError> {
    let out = match e {
        Expr::Num(n) => n.clone(),
        Expr::Sym(s) => values.get(s).cloned().ok_or_else(|| EvalError::Unbound(vec![s.clone()]))?,
        Expr::Add(terms) => {
            let mut sum = Rational::zero();
            for t in terms {
                sum += value(t, values)?;
            }
            sum
        }
        Expr::Mul(factors) => {
            let mut product = Rational::one();
            for f in factors {
                product *= value(f, values)?;
                limits::check_number(&product)?;
            }
            product
        }
        Expr::Pow(base, k) => {
            let b = value(base, values)?;
            if b.is_zero() && *k < 0 {
                return Err(EvalError::DivisionByZero);
            }
            limits::check_power(&b, *k)?;
            num_traits::Pow::pow(b, *k)
        }
        Expr::Floor(inner) => value(inner, values)?.floor(),
    };
    limits::check_number(&out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algebra::{any_symbol, parse};

    fn at(text: &str, pairs: &[(&str, i64)]) -> Result<Rational, EvalError> {
        let values = pairs.iter().map(|(k, v)| (k.to_string(), Rational::from_integer((*v).into()))).collect();
        evaluate(&parse(text, &any_symbol).unwrap(), &values)
    }

    #[test]
    fn values_are_exact_rationals() {
        assert_eq!(
            at("2*V*H^3 + H/A", &[("H", 1600), ("A", 25), ("V", 50257)]).unwrap().to_string(),
            "411705344000064"
        );
        assert_eq!(at("H/3", &[("H", 1600)]).unwrap(), Rational::new(1600.into(), 3.into()));
    }

    #[test]
    fn unbound_symbols_are_named_once_and_sorted() {
        assert_eq!(at("L*H + L", &[]).unwrap_err(), EvalError::Unbound(vec!["H".into(), "L".into()]));
    }

    #[test]
    fn a_zero_denominator_is_an_error_not_a_panic() {
        assert_eq!(at("1/(H-H)", &[("H", 3)]).unwrap_err(), EvalError::DivisionByZero);
        assert_eq!(at("H/(H-3)", &[("H", 3)]).unwrap_err(), EvalError::DivisionByZero);
    }

    #[test]
    fn floors_round_down() {
        let e = Expr::Floor(Box::new(parse("7/2", &any_symbol).unwrap()));
        assert_eq!(evaluate(&e, &BTreeMap::new()).map(|r| r.to_string()), Ok("3".into()));
    }
}

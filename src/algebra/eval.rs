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
    if let Some((n, d)) = small(e, values) {
        return Ok(Rational::new_raw(n.into(), d.into()));
    }
    match value(e, values) {
        // Every unbound symbol is named, in order, not only the first one met.
        Err(EvalError::Unbound(_)) => {
            Err(EvalError::Unbound(e.symbols().into_iter().filter(|s| !values.contains_key(s)).collect()))
        }
        other => other,
    }
}

/// A fraction in machine integers: numerator, positive denominator, in lowest terms.
type Small = (i128, i128);

fn small_of(r: &Rational) -> Option<Small> {
    use num_traits::ToPrimitive;
    Some((r.numer().to_i128()?, r.denom().to_i128()?))
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    (a, b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `n/d` in lowest terms with a positive denominator; `None` for a zero denominator.
fn reduced(n: i128, d: i128) -> Option<Small> {
    if d == 0 {
        return None;
    }
    let g = gcd(n, d).max(1);
    let (n, d) = (n / g, d / g);
    if d < 0 { Some((n.checked_neg()?, d.checked_neg()?)) } else { Some((n, d)) }
}

fn small_times((a, b): Small, (c, d): Small) -> Option<Small> {
    if b == 1 && d == 1 {
        return Some((a.checked_mul(c)?, 1));
    }
    // Cross-cancel first, so the products stay small.
    let (g1, g2) = (gcd(a, d).max(1), gcd(c, b).max(1));
    reduced((a / g1).checked_mul(c / g2)?, (b / g2).checked_mul(d / g1)?)
}

fn small_plus((a, b): Small, (c, d): Small) -> Option<Small> {
    if b == 1 && d == 1 {
        return Some((a.checked_add(c)?, 1));
    }
    reduced(a.checked_mul(d)?.checked_add(c.checked_mul(b)?)?, b.checked_mul(d)?)
}

/// The value in machine integers, the way nearly every value fits; `None` when a number would
/// not fit, a symbol is unbound or a denominator is zero — the big-number evaluation then gives
/// the value or the error. Numbers this small are far inside the bounds of [`limits`].
fn small(e: &Expr, values: &BTreeMap<String, Rational>) -> Option<Small> {
    match e {
        Expr::Num(n) => small_of(n),
        Expr::Sym(s) => small_of(values.get(&**s)?),
        Expr::Add(terms) => terms.iter().try_fold((0, 1), |sum, t| small_plus(sum, small(t, values)?)),
        Expr::Mul(factors) => factors.iter().try_fold((1, 1), |product, f| small_times(product, small(f, values)?)),
        Expr::Pow(base, k) => {
            // Past 127 any base other than 0 and ±1 overflows; those few go the big way.
            if k.unsigned_abs() > 127 {
                return None;
            }
            let b = small(base, values)?;
            let mut out = (1, 1);
            for _ in 0..k.unsigned_abs() {
                out = small_times(out, b)?;
            }
            if *k < 0 { reduced(out.1, out.0) } else { Some(out) }
        }
        Expr::Floor(inner) => {
            let (n, d) = small(inner, values)?;
            Some((n.div_euclid(d), 1))
        }
        Expr::Ceil(inner) => {
            let (n, d) = small(inner, values)?;
            Some((n.checked_neg()?.div_euclid(d).checked_neg()?, 1))
        }
    }
}

fn value(e: &Expr, values: &BTreeMap<String, Rational>) -> Result<Rational, EvalError> {
    let out = match e {
        Expr::Num(n) => n.clone(),
        Expr::Sym(s) => values.get(&**s).cloned().ok_or_else(|| EvalError::Unbound(vec![s.to_string()]))?,
        Expr::Add(terms) => {
            let mut sum = Rational::zero();
            for t in terms {
                super::expr::plus(&mut sum, &value(t, values)?);
            }
            sum
        }
        Expr::Mul(factors) => {
            let mut product = Rational::one();
            for f in factors {
                super::expr::times(&mut product, &value(f, values)?);
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
        Expr::Ceil(inner) => value(inner, values)?.ceil(),
    };
    limits::check_number(&out)?;
    Ok(out)
}

/// The prime modulus of [`evaluate_mod`]: 2⁶¹ − 1.
pub const MODULUS: u64 = (1 << 61) - 1;

fn mul_mod(a: u64, b: u64) -> u64 {
    // A Mersenne modulus reduces with a shift and an add instead of a division.
    let x = a as u128 * b as u128;
    let folded = (x & MODULUS as u128) as u64 + (x >> 61) as u64;
    let folded = (folded & MODULUS) + (folded >> 61);
    if folded >= MODULUS { folded - MODULUS } else { folded }
}

fn pow_mod(mut base: u64, mut exp: u64) -> u64 {
    let mut out = 1;
    while exp > 0 {
        if exp & 1 == 1 {
            out = mul_mod(out, base);
        }
        base = mul_mod(base, base);
        exp >>= 1;
    }
    out
}

fn rational_mod(r: &Rational) -> Option<u64> {
    use num_traits::ToPrimitive;
    // Small integers (nearly every constant) need no big-number division.
    if let (Some(n), Some(d)) = (r.numer().to_i64(), r.denom().to_u64()) {
        let n = n.rem_euclid(MODULUS as i64) as u64;
        let d = d % MODULUS;
        return (d != 0).then(|| mul_mod(n, pow_mod(d, MODULUS - 2)));
    }
    let p = num_bigint::BigInt::from(MODULUS);
    let reduce = |n: &num_bigint::BigInt| ((n % &p + &p) % &p).to_u64();
    let (numer, denom) = (reduce(r.numer())?, reduce(r.denom())?);
    (denom != 0).then(|| mul_mod(numer, pow_mod(denom, MODULUS - 2)))
}

/// `e` modulo the prime 2⁶¹ − 1, every symbol taken from `values` (residues): a fingerprint for
/// testing whether two formulas are one (equal formulas agree at every point; different ones at
/// a random point only by rare accident). `None` for a floor, an unbound symbol, or a
/// denominator that vanishes modulo the prime.
pub fn evaluate_mod(e: &Expr, values: &BTreeMap<String, u64>) -> Option<u64> {
    Some(match e {
        Expr::Num(n) => rational_mod(n)?,
        Expr::Sym(s) => *values.get(&**s)?,
        Expr::Add(terms) => {
            let mut sum = 0u64;
            for t in terms {
                sum = (sum + evaluate_mod(t, values)?) % MODULUS;
            }
            sum
        }
        Expr::Mul(factors) => {
            let mut product = 1u64;
            for f in factors {
                product = mul_mod(product, evaluate_mod(f, values)?);
            }
            product
        }
        Expr::Pow(base, k) => {
            let b = evaluate_mod(base, values)?;
            if *k < 0 {
                if b == 0 {
                    return None;
                }
                pow_mod(pow_mod(b, MODULUS - 2), k.unsigned_abs() as u64)
            } else {
                pow_mod(b, *k as u64)
            }
        }
        Expr::Floor(_) | Expr::Ceil(_) => return None,
    })
}

/// `e` in floating point, every symbol taken from `values`: a quick estimate to screen values
/// before they are computed exactly. `None` for an unbound symbol.
pub fn evaluate_f64(e: &Expr, values: &BTreeMap<String, f64>) -> Option<f64> {
    use num_traits::ToPrimitive;
    Some(match e {
        Expr::Num(n) => n.to_f64()?,
        Expr::Sym(s) => *values.get(&**s)?,
        Expr::Add(terms) => terms.iter().map(|t| evaluate_f64(t, values)).sum::<Option<f64>>()?,
        Expr::Mul(factors) => factors.iter().map(|f| evaluate_f64(f, values)).product::<Option<f64>>()?,
        Expr::Pow(base, k) => evaluate_f64(base, values)?.powi(*k),
        Expr::Floor(inner) => evaluate_f64(inner, values)?.floor(),
        Expr::Ceil(inner) => evaluate_f64(inner, values)?.ceil(),
    })
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
    fn machine_integers_and_big_numbers_give_the_same_values() {
        let read = |f: &str| parse(f, &any_symbol).unwrap();
        let floor = |f: &str| Expr::Floor(Box::new(read(f)));
        let ceil = |f: &str| Expr::Ceil(Box::new(read(f)));
        let formulas = [
            ("sum", read("2*V*H^3 + H/A - 7/3")),
            ("largest batch", floor("(80000000000 - 16*P)/(4*B*T*H)") + ceil("H/A/7")),
            ("zero denominator", read("(H - 1600)^-1 * A")),
            ("fractions", read("-H^5/(A^3*V) + 1/(V^2)")),
            ("negative rounding", ceil("-H/7") + floor("-V/3")),
            ("near the top of i128", read("(A*H)^4*V^3")),
        ];
        let values: BTreeMap<String, Rational> =
            [("H", 1600), ("A", 25), ("V", 50257), ("B", 8), ("T", 1024), ("P", 124)]
                .iter()
                .map(|(k, v)| (k.to_string(), Rational::from_integer((*v).into())))
                .collect();
        for (f, e) in formulas {
            let big = value(&e, &values);
            match small(&e, &values) {
                Some((n, d)) => assert_eq!(Ok(Rational::new(n.into(), d.into())), big, "{f}"),
                None => assert!(big.is_err(), "{f}: machine integers gave up on {big:?}"),
            }
            assert_eq!(evaluate(&e, &values), big, "{f}");
        }
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

#[cfg(test)]
mod fingerprints {
    use super::*;
    use crate::algebra::{any_symbol, parse};

    #[test]
    fn equal_formulas_have_equal_fingerprints_and_different_ones_do_not() {
        let values: BTreeMap<String, u64> = [("H", 123_456_789u64), ("V", 987_654_321), ("A", 55_555)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let f = |t: &str| evaluate_mod(&parse(t, &any_symbol).unwrap(), &values);
        assert_eq!(f("(H + V)^2/A"), f("H^2/A + 2*H*V/A + V^2/A"));
        assert_ne!(f("(H + V)^2/A"), f("H^2/A + V^2/A"));
        assert_eq!(f("1/2*H"), f("H/2"));
        assert_eq!(f("H // 2"), None);
        let exact: BTreeMap<String, f64> = [("H".to_string(), 1600.0)].into_iter().collect();
        assert_eq!(evaluate_f64(&parse("2*H^2 + 1/4", &any_symbol).unwrap(), &exact), Some(5_120_000.25));
    }
}

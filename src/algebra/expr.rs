//! tally's own expression tree. Everything outside `algebra` builds and inspects formulas through
//! this type; symbolica never leaks out. The tree keeps the order it was built in, so a layout made
//! by the layout step prints exactly as laid out.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::sync::Arc;

/// Exact rational number used for every coefficient and every substituted value.
pub type Rational = BigRational;

/// A symbolic expression over named symbols (short names such as `H`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expr {
    /// An exact rational constant.
    Num(Rational),
    /// A symbol, by its short name (shared: trees are copied often, names never change).
    Sym(Arc<str>),
    /// A sum, printed in the order of its terms.
    Add(Vec<Expr>),
    /// A product, printed in the order of its factors.
    Mul(Vec<Expr>),
    /// A power with an integer exponent (negative exponents print as division).
    Pow(Box<Expr>, i32),
    /// The largest integer not above the argument (the largest whole batch); shown, never expanded.
    Floor(Box<Expr>),
    /// The smallest integer not below the argument (the smallest whole degree); shown, never expanded.
    Ceil(Box<Expr>),
}

/// `a *= b`, without the gcd reduction when both are whole (nearly every constant is).
pub(super) fn times(a: &mut Rational, b: &Rational) {
    if a.is_integer() && b.is_integer() {
        *a = Rational::from_integer(a.numer() * b.numer());
    } else {
        *a *= b;
    }
}

/// `a += b`, likewise.
pub(super) fn plus(a: &mut Rational, b: &Rational) {
    if a.is_integer() && b.is_integer() {
        *a = Rational::from_integer(a.numer() + b.numer());
    } else {
        *a += b;
    }
}

impl Expr {
    /// An integer constant.
    pub fn int(n: i64) -> Expr {
        Expr::Num(Rational::from_integer(BigInt::from(n)))
    }

    /// A rational constant from an exact value.
    pub fn num(r: Rational) -> Expr {
        Expr::Num(r)
    }

    /// A symbol by short name.
    pub fn sym(name: &str) -> Expr {
        Expr::Sym(Arc::from(name))
    }

    /// `0`.
    pub fn zero() -> Expr {
        Expr::int(0)
    }

    /// `1`.
    pub fn one() -> Expr {
        Expr::int(1)
    }

    /// Sum of several expressions; an empty sum is 0 and a single term stays itself.
    pub fn sum(terms: Vec<Expr>) -> Expr {
        let mut flat = Vec::new();
        for t in terms {
            match t {
                Expr::Add(inner) => flat.extend(inner),
                Expr::Num(ref n) if n.is_zero() => {}
                other => flat.push(other),
            }
        }
        match flat.len() {
            0 => Expr::zero(),
            1 => flat.pop().unwrap_or_else(Expr::zero),
            _ => Expr::Add(flat),
        }
    }

    /// Product of several expressions; constants are multiplied together in front.
    pub fn product(factors: Vec<Expr>) -> Expr {
        let mut coeff = Rational::one();
        let mut rest = Vec::new();
        for f in factors {
            match f {
                Expr::Num(n) => times(&mut coeff, &n),
                Expr::Mul(inner) => {
                    for g in inner {
                        match g {
                            Expr::Num(n) => times(&mut coeff, &n),
                            other => rest.push(other),
                        }
                    }
                }
                other => rest.push(other),
            }
        }
        if coeff.is_zero() {
            return Expr::zero();
        }
        if !coeff.is_one() || rest.is_empty() {
            rest.insert(0, Expr::Num(coeff));
        }
        match rest.len() {
            1 => rest.pop().unwrap_or_else(Expr::one),
            _ => Expr::Mul(rest),
        }
    }

    /// `self^exponent`; powers of products and of powers are distributed, so a denominator such as
    /// `(U·R)⁻¹` becomes `U⁻¹·R⁻¹` and every power in the tree sits on a symbol or a sum.
    pub fn pow(self, exponent: i32) -> Expr {
        match (exponent, self) {
            (0, _) => Expr::one(),
            (1, e) => e,
            (k, Expr::Num(n)) if !n.is_zero() || k > 0 => Expr::Num(num_traits::Pow::pow(n, k)),
            (k, Expr::Mul(factors)) => Expr::product(factors.into_iter().map(|f| f.pow(k)).collect()),
            (k, Expr::Pow(base, j)) => base.pow(j.saturating_mul(k)),
            (k, e) => Expr::Pow(Box::new(e), k),
        }
    }

    /// `self / other`.
    pub fn divide(self, other: Expr) -> Expr {
        match other {
            Expr::Num(n) if !n.is_zero() => Expr::product(vec![Expr::Num(n.recip()), self]),
            other => Expr::product(vec![self, other.pow(-1)]),
        }
    }

    /// True if a floor or ceiling occurs. Those are tally's own: they never cross into
    /// symbolica (which would keep them as unknown functions) and are only ever evaluated, never
    /// rearranged.
    pub fn has_floor(&self) -> bool {
        match self {
            Expr::Floor(_) | Expr::Ceil(_) => true,
            Expr::Num(_) | Expr::Sym(_) => false,
            Expr::Pow(b, _) => b.has_floor(),
            Expr::Add(v) | Expr::Mul(v) => v.iter().any(Expr::has_floor),
        }
    }

    /// The constant value if the expression is a bare number.
    pub fn as_number(&self) -> Option<&Rational> {
        match self {
            Expr::Num(n) => Some(n),
            _ => None,
        }
    }

    /// True if the expression is the literal constant 0.
    pub fn is_zero(&self) -> bool {
        matches!(self, Expr::Num(n) if n.is_zero())
    }

    /// Every symbol name that occurs, sorted and without repeats.
    pub fn symbols(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_symbols(&mut out);
        out.sort();
        out.dedup();
        out
    }

    fn collect_symbols(&self, out: &mut Vec<String>) {
        match self {
            Expr::Num(_) => {}
            Expr::Sym(s) => out.push(s.to_string()),
            Expr::Add(v) | Expr::Mul(v) => v.iter().for_each(|e| e.collect_symbols(out)),
            Expr::Pow(b, _) | Expr::Floor(b) | Expr::Ceil(b) => b.collect_symbols(out),
        }
    }

    /// Replaces symbols by expressions, structurally (no simplification).
    pub fn substitute(&self, lookup: &dyn Fn(&str) -> Option<Expr>) -> Expr {
        match self {
            Expr::Num(_) => self.clone(),
            Expr::Sym(s) => lookup(s).unwrap_or_else(|| self.clone()),
            Expr::Add(v) => Expr::sum(v.iter().map(|e| e.substitute(lookup)).collect()),
            Expr::Mul(v) => Expr::product(v.iter().map(|e| e.substitute(lookup)).collect()),
            Expr::Pow(b, k) => b.substitute(lookup).pow(*k),
            Expr::Floor(b) => Expr::Floor(Box::new(b.substitute(lookup))),
            Expr::Ceil(b) => Expr::Ceil(Box::new(b.substitute(lookup))),
        }
    }

    /// True when a leading minus sign would print (negative leading coefficient).
    pub fn is_negative_term(&self) -> bool {
        match self {
            Expr::Num(n) => n.is_negative(),
            Expr::Mul(v) => v.first().is_some_and(Expr::is_negative_term),
            _ => false,
        }
    }
}

impl std::ops::Add for Expr {
    type Output = Expr;
    fn add(self, rhs: Expr) -> Expr {
        Expr::sum(vec![self, rhs])
    }
}

impl std::ops::Mul for Expr {
    type Output = Expr;
    fn mul(self, rhs: Expr) -> Expr {
        Expr::product(vec![self, rhs])
    }
}

impl std::ops::Neg for Expr {
    type Output = Expr;
    fn neg(self) -> Expr {
        Expr::product(vec![Expr::int(-1), self])
    }
}

impl std::ops::Sub for Expr {
    type Output = Expr;
    fn sub(self, rhs: Expr) -> Expr {
        self + (-rhs)
    }
}

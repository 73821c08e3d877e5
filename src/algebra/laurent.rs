//! Expansion of Laurent polynomials by tally itself. Nearly every closed form tally derives is a
//! sum of products of symbols with integer powers and rational coefficients (`H/A` is `H·A⁻¹`);
//! multiplying those out needs no computer algebra, and doing it here means a derivation never
//! has to start symbolica (about 1 ms per process) or convert trees to atoms and back (half of its
//! expansion time). What is not such a polynomial — a negative power of a sum, `x/(a + b)` — is
//! left to symbolica ([`super::Engine::expand`] falls back). A test checks both engines agree on
//! every closed form of every built-in model.

use super::engine::AlgebraError;
use super::expr::{Expr, Rational, plus, times};
use super::layout::Term;
use super::limits;
use num_traits::{One, Zero};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// Exponent of each symbol of a monomial (never 0), by name.
type Powers = BTreeMap<String, i32>;

/// A polynomial: its monomials in the order they first appear when the expression is multiplied
/// out from left to right (the order a reader wrote them in: embedding, blocks, head), each with
/// its coefficient. A coefficient that cancels to 0 keeps its place until the end, so a monomial's
/// place never depends on cancellation.
#[derive(Default)]
struct Poly {
    terms: Vec<(Powers, Rational)>,
    index: FxHashMap<Powers, usize>,
}

impl Poly {
    fn constant(c: Rational) -> Poly {
        let mut p = Poly::default();
        p.add(Powers::new(), c);
        p
    }

    fn add(&mut self, powers: Powers, c: Rational) {
        match self.index.get(&powers) {
            Some(&i) => plus(&mut self.terms[i].1, &c),
            None => {
                self.index.insert(powers.clone(), self.terms.len());
                self.terms.push((powers, c));
            }
        }
    }

    fn is_zero(&self) -> bool {
        self.terms.iter().all(|(_, c)| c.is_zero())
    }
}

/// The monomials of `e` multiplied out, in the order they first appear, or `None` when `e` is
/// not a Laurent polynomial (a floor, or a negative power of a sum). Checks the same bounds as an
/// expansion by symbolica.
pub(super) fn expand(e: &Expr) -> Result<Option<Vec<Term>>, AlgebraError> {
    let Some(poly) = poly(e)? else { return Ok(None) };
    Ok(Some(
        poly.terms.into_iter().filter(|(_, c)| !c.is_zero()).map(|(powers, coeff)| Term { coeff, powers }).collect(),
    ))
}

/// The expression a list of monomials stands for: coefficient first, then the symbols by name.
pub(super) fn to_expr(terms: &[Term]) -> Expr {
    Expr::sum(
        terms
            .iter()
            .map(|t| {
                let mut factors = vec![Expr::Num(t.coeff.clone())];
                factors.extend(t.powers.iter().map(|(s, k)| Expr::sym(s).pow(*k)));
                Expr::product(factors)
            })
            .collect(),
    )
}

fn poly(e: &Expr) -> Result<Option<Poly>, AlgebraError> {
    Ok(Some(match e {
        Expr::Num(n) => Poly::constant(n.clone()),
        Expr::Sym(s) => {
            let mut p = Poly::default();
            p.add(Powers::from([(s.clone(), 1)]), Rational::one());
            p
        }
        Expr::Add(terms) => {
            let mut sum = Poly::default();
            for t in terms {
                let Some(p) = poly(t)? else { return Ok(None) };
                for (powers, c) in p.terms {
                    sum.add(powers, c);
                }
            }
            sum
        }
        Expr::Mul(factors) => {
            let mut product = Poly::constant(Rational::one());
            for f in factors {
                let Some(p) = poly(f)? else { return Ok(None) };
                product = multiply(&product, &p)?;
            }
            product
        }
        Expr::Pow(base, k) => {
            let Some(base) = poly(base)? else { return Ok(None) };
            if *k >= 0 {
                let mut power = Poly::constant(Rational::one());
                for _ in 0..*k {
                    power = multiply(&power, &base)?;
                }
                power
            } else if base.is_zero() {
                return Err(AlgebraError::DivisionByZero);
            } else if let [(powers, coeff)] = &base.terms[..] {
                let (powers, coeff) = (powers.clone(), coeff.clone());
                limits::check_power(&coeff, *k)?;
                let coeff = num_traits::Pow::pow(coeff, *k);
                let powers = powers
                    .into_iter()
                    .map(|(s, j)| Ok((s, degree(j, *k)?)))
                    .collect::<Result<Powers, AlgebraError>>()?;
                let mut p = Poly::default();
                p.add(powers, coeff);
                p
            } else {
                return Ok(None);
            }
        }
        Expr::Floor(_) | Expr::Ceil(_) => return Ok(None),
    }))
}

/// `j·k`, a power of a power, within the degree bound.
fn degree(j: i32, k: i32) -> Result<i32, AlgebraError> {
    let d = i64::from(j) * i64::from(k);
    if d.unsigned_abs() > limits::MAX_DEGREE {
        return Err(limits::LimitError::Degree { symbol: String::new(), degree: d.unsigned_abs() }.into());
    }
    Ok(d as i32)
}

/// Every term of `a` times every term of `b`, `a`'s terms outermost: the left-to-right order.
fn multiply(a: &Poly, b: &Poly) -> Result<Poly, AlgebraError> {
    let terms = a.terms.len() as u128 * b.terms.len() as u128;
    if terms > limits::MAX_TERMS {
        return Err(limits::LimitError::Terms { terms }.into());
    }
    let mut out = Poly::default();
    for (pa, ca) in &a.terms {
        for (pb, cb) in &b.terms {
            let mut powers = pa.clone();
            for (s, k) in pb {
                let entry = powers.entry(s.clone()).or_insert(0);
                *entry += k;
                if u64::from(entry.unsigned_abs()) > limits::MAX_DEGREE {
                    let degree = u64::from(entry.unsigned_abs());
                    return Err(limits::LimitError::Degree { symbol: s.clone(), degree }.into());
                }
                if *entry == 0 {
                    powers.remove(s);
                }
            }
            let mut c = ca.clone();
            times(&mut c, cb);
            limits::check_number(&c)?;
            out.add(powers, c);
        }
    }
    Ok(out)
}

//! Expansion of Laurent polynomials by tally itself. Nearly every closed form tally derives is a
//! sum of products of symbols with integer powers and rational coefficients (`H/A` is `H·A⁻¹`);
//! multiplying those out needs no computer algebra, and doing it here means a derivation never
//! has to start symbolica (about 1 ms per process) or convert trees to atoms and back (half of its
//! expansion time). What is not such a polynomial — a negative power of a sum, `x/(a + b)` — is
//! left to symbolica (the engine's `expand` falls back). A test checks both engines agree on
//! every closed form of every built-in model.

use super::expr::{Expr, Rational, plus, times};
use super::failure::AlgebraError;
use super::layout::Term;
use super::limits;
use num_traits::{One, Zero};
use rustc_hash::FxHashMap;

/// Exponent of each symbol of a monomial (never 0), by the symbol's number in the [`Names`] of
/// the expansion, sorted by that number.
type Powers = Vec<(u32, i32)>;

/// The symbols of one expansion, numbered in the order they are met: monomials compare, hash and
/// multiply as short lists of numbers instead of maps of strings.
#[derive(Default)]
struct Names {
    names: Vec<String>,
    numbers: FxHashMap<String, u32>,
}

impl Names {
    fn number(&mut self, name: &str) -> u32 {
        if let Some(&n) = self.numbers.get(name) {
            return n;
        }
        let n = self.names.len() as u32;
        self.names.push(name.to_string());
        self.numbers.insert(name.to_string(), n);
        n
    }
}

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
    fn monomial(powers: Powers, c: Rational) -> Poly {
        let mut p = Poly::default();
        p.add(powers, c);
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
    let mut names = Names::default();
    let Some(poly) = poly(e, &mut names)? else { return Ok(None) };
    let name = |n: u32| names.names[n as usize].clone();
    Ok(Some(
        poly.terms
            .into_iter()
            .filter(|(_, c)| !c.is_zero())
            .map(|(powers, coeff)| Term { coeff, powers: powers.into_iter().map(|(s, k)| (name(s), k)).collect() })
            .collect(),
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

/// A factor that is a single monomial (a number, a symbol, a power of a symbol), multiplied into
/// `powers` and `coeff` without building a polynomial; `false` for anything else.
fn monomial_factor(
    f: &Expr,
    names: &mut Names,
    powers: &mut Powers,
    coeff: &mut Rational,
) -> Result<bool, AlgebraError> {
    let (symbol, k) = match f {
        Expr::Num(n) => {
            times(coeff, n);
            limits::check_number(coeff)?;
            return Ok(true);
        }
        Expr::Sym(s) => (s, 1),
        Expr::Pow(base, k) => match base.as_ref() {
            Expr::Sym(s) => (s, *k),
            _ => return Ok(false),
        },
        _ => return Ok(false),
    };
    let n = names.number(symbol);
    multiply_powers(powers, &[(n, k)], names)?;
    Ok(true)
}

fn poly(e: &Expr, names: &mut Names) -> Result<Option<Poly>, AlgebraError> {
    Ok(Some(match e {
        Expr::Add(terms) => {
            let mut sum = Poly::default();
            for t in terms {
                let Some(p) = poly(t, names)? else { return Ok(None) };
                for (powers, c) in p.terms {
                    sum.add(powers, c);
                }
            }
            sum
        }
        Expr::Mul(factors) => {
            // The monomial factors first, as one monomial; then the sums, left to right. A
            // monomial has one term, so the order terms come out in is unchanged.
            let (mut powers, mut coeff) = (Powers::new(), Rational::one());
            let mut rest = Vec::new();
            for f in factors {
                if !monomial_factor(f, names, &mut powers, &mut coeff)? {
                    rest.push(f);
                }
            }
            let mut product = Poly::monomial(powers, coeff);
            for f in rest {
                let Some(p) = poly(f, names)? else { return Ok(None) };
                product = multiply(&product, &p, names)?;
            }
            product
        }
        Expr::Pow(base, k) if !matches!(base.as_ref(), Expr::Sym(_)) => {
            let Some(base) = poly(base, names)? else { return Ok(None) };
            if *k >= 0 {
                let mut power = Poly::monomial(Powers::new(), Rational::one());
                for _ in 0..*k {
                    power = multiply(&power, &base, names)?;
                }
                power
            } else if base.is_zero() {
                return Err(AlgebraError::DivisionByZero);
            } else if let [(powers, coeff)] = &base.terms[..] {
                limits::check_power(coeff, *k)?;
                let coeff = num_traits::Pow::pow(coeff.clone(), *k);
                let powers = powers
                    .iter()
                    .map(|&(s, j)| Ok((s, degree(j, *k, s, names)?)))
                    .collect::<Result<Powers, AlgebraError>>()?;
                Poly::monomial(powers, coeff)
            } else {
                return Ok(None);
            }
        }
        Expr::Floor(_) | Expr::Ceil(_) => return Ok(None),
        monomial => {
            let (mut powers, mut coeff) = (Powers::new(), Rational::one());
            monomial_factor(monomial, names, &mut powers, &mut coeff)?;
            Poly::monomial(powers, coeff)
        }
    }))
}

/// `j·k`, a power of a power, within the degree bound.
fn degree(j: i32, k: i32, symbol: u32, names: &Names) -> Result<i32, AlgebraError> {
    let d = i64::from(j) * i64::from(k);
    if d.unsigned_abs() > limits::MAX_DEGREE {
        let symbol = names.names[symbol as usize].clone();
        return Err(limits::LimitError::Degree { symbol, degree: d.unsigned_abs() }.into());
    }
    Ok(d as i32)
}

/// `powers · other`: exponents of the same symbol add, and a symbol whose exponent reaches 0 goes.
fn multiply_powers(powers: &mut Powers, other: &[(u32, i32)], names: &Names) -> Result<(), AlgebraError> {
    for &(s, k) in other {
        match powers.binary_search_by_key(&s, |&(t, _)| t) {
            Ok(i) => {
                let sum = powers[i].1 + k;
                if u64::from(sum.unsigned_abs()) > limits::MAX_DEGREE {
                    let symbol = names.names[s as usize].clone();
                    return Err(limits::LimitError::Degree { symbol, degree: u64::from(sum.unsigned_abs()) }.into());
                }
                if sum == 0 {
                    powers.remove(i);
                } else {
                    powers[i].1 = sum;
                }
            }
            Err(i) if k != 0 => powers.insert(i, (s, k)),
            Err(_) => {}
        }
    }
    Ok(())
}

/// Every term of `a` times every term of `b`, `a`'s terms outermost: the left-to-right order.
fn multiply(a: &Poly, b: &Poly, names: &Names) -> Result<Poly, AlgebraError> {
    let terms = a.terms.len() as u128 * b.terms.len() as u128;
    if terms > limits::MAX_TERMS {
        return Err(limits::LimitError::Terms { terms }.into());
    }
    let mut out = Poly::default();
    for (pa, ca) in &a.terms {
        for (pb, cb) in &b.terms {
            let mut powers = pa.clone();
            multiply_powers(&mut powers, pb, names)?;
            let mut c = ca.clone();
            times(&mut c, cb);
            limits::check_number(&c)?;
            out.add(powers, c);
        }
    }
    Ok(out)
}

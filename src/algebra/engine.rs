//! The bridge to symbolica: the only file that names it (with `session.rs`, which owns the permit).
//! Expressions cross the bridge as text: tally prints its [`Expr`] in plain ASCII with every symbol
//! prefixed (so no name can clash with one of symbolica's built-ins), symbolica parses, computes and
//! prints, and tally reads the result back with its own parser.

use super::expr::{Expr, Rational};
use super::layout::Term;
use super::parse::parse;
use num_traits::One;
use std::collections::BTreeMap;
use symbolica::atom::{Atom, AtomCore};
use symbolica::parse;

const PREFIX: &str = "tly";

fn engine_text(e: &Expr) -> String {
    match e {
        Expr::Num(n) if n.is_integer() => format!("({})", n.numer()),
        Expr::Num(n) => format!("({}/{})", n.numer(), n.denom()),
        Expr::Sym(s) => format!("{PREFIX}{s}"),
        Expr::Add(v) => format!("({})", v.iter().map(engine_text).collect::<Vec<_>>().join("+")),
        Expr::Mul(v) => format!("({})", v.iter().map(engine_text).collect::<Vec<_>>().join("*")),
        Expr::Pow(b, k) => format!("({}^({k}))", engine_text(b)),
        // symbolica keeps an unknown function as it is: floor stays unevaluated, never expanded.
        Expr::Floor(b) => format!("floor({})", engine_text(b)),
    }
}

fn to_atom(e: &Expr) -> Atom {
    let text = engine_text(e);
    parse!(&text)
}

fn from_atom(a: &Atom) -> Expr {
    let text = a.to_string();
    let resolve = |name: &str| -> Result<Expr, String> {
        let bare = name.rsplit("::").next().unwrap_or(name);
        bare.strip_prefix(PREFIX).map(Expr::sym).ok_or_else(|| format!("symbolica returned an unknown name `{name}`"))
    };
    // The text is symbolica's own rendering of what tally sent: failing to read it back is a bug.
    parse(&text, &resolve).unwrap_or_else(|err| panic!("cannot read back `{text}`: {}", err.message))
}

/// Multiplies out every product and power (with cancellation of `A·(H/A)`).
pub fn expand(e: &Expr) -> Expr {
    from_atom(&to_atom(e).expand())
}

/// The expanded form as a list of monomials, or `None` if it is not a (Laurent) polynomial.
pub fn terms(e: &Expr) -> Option<Vec<Term>> {
    let expanded = expand(e);
    let items = match expanded {
        Expr::Add(v) => v,
        other => vec![other],
    };
    items.iter().map(monomial_of).collect()
}

fn monomial_of(e: &Expr) -> Option<Term> {
    let mut term = Term { coeff: Rational::one(), powers: BTreeMap::new() };
    let factors = match e {
        Expr::Mul(v) => v.clone(),
        other => vec![other.clone()],
    };
    for f in factors {
        match f {
            Expr::Num(n) => term.coeff *= n,
            Expr::Sym(s) => *term.powers.entry(s).or_insert(0) += 1,
            Expr::Pow(b, k) => match *b {
                Expr::Sym(s) => *term.powers.entry(s).or_insert(0) += k,
                _ => return None,
            },
            _ => return None,
        }
    }
    term.powers.retain(|_, k| *k != 0);
    Some(term)
}

/// True when `a − b` expands to zero.
pub fn equal(a: &Expr, b: &Expr) -> bool {
    let difference = to_atom(a) - to_atom(b);
    difference.expand().is_zero()
}

/// Substitutes exact values for symbols and evaluates; returns the unbound symbols on failure.
pub fn evaluate(e: &Expr, values: &BTreeMap<String, Rational>) -> Result<Rational, Vec<String>> {
    let unbound: Vec<String> = e.symbols().into_iter().filter(|s| !values.contains_key(s)).collect();
    if !unbound.is_empty() {
        return Err(unbound);
    }
    let mut atom = to_atom(e);
    for symbol in e.symbols() {
        let value = &values[&symbol];
        let pattern = parse!(&format!("{PREFIX}{symbol}"));
        atom = atom.replace(pattern).with(to_atom(&Expr::Num(value.clone())));
    }
    match from_atom(&atom.expand()) {
        Expr::Num(n) => Ok(n),
        other => panic!("substitution left a non-number: {other:?}"),
    }
}

/// The first symbolica call of a process; the session module routes its banner to stderr.
pub fn warm_up() {
    let _ = parse!("1");
}

//! The algebra stage: tally's expression type, the formula reader, the textbook layout and the
//! printers, plus the bridge to symbolica (the only module of tally allowed to use it).
//! Must not know about models, units or output formats.

mod engine;
mod expr;
mod layout;
mod parse;
mod print;
pub mod session;

pub use expr::{Expr, Rational};
pub use layout::{LayoutRules, Term};
pub use parse::{ParseError, Resolver, any_symbol, parse, parse_decimal};
pub use print::{Notation, print, superscript};

/// Expands and lays out `e` the textbook way; non-polynomials come back expanded as they are.
pub fn simplify(e: &Expr, rules: &LayoutRules) -> Expr {
    match engine::terms(e) {
        Some(terms) => layout::layout(&terms, rules),
        None => engine::expand(e),
    }
}

/// Multiplies out every product (symbolica's `expand`).
pub fn expand(e: &Expr) -> Expr {
    engine::expand(e)
}

/// The monomials of the expanded form, if it is a polynomial in its symbols (negative powers allowed).
pub fn terms(e: &Expr) -> Option<Vec<Term>> {
    engine::terms(e)
}

/// Symbolic equality: `a − b` expands to 0.
pub fn equal(a: &Expr, b: &Expr) -> bool {
    engine::equal(a, b)
}

/// Exact value of `e` with every symbol bound; the unbound symbols otherwise.
pub fn evaluate(e: &Expr, values: &std::collections::BTreeMap<String, Rational>) -> Result<Rational, Vec<String>> {
    engine::evaluate(e, values)
}

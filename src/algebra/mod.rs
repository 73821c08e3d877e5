//! The algebra stage: tally's expression type, the formula reader, the textbook layout and the
//! printers, plus the bridge to symbolica (the only module of tally allowed to use it).
//! Must not know about models, units or output formats.

mod engine;
mod eval;
mod expr;
mod failure;
mod laurent;
mod layout;
pub mod limits;
mod number;
mod parse;
pub mod permit;
mod print;
pub mod worker;

pub use engine::Engine;
pub use eval::{EvalError, MODULUS, evaluate, evaluate_f64, evaluate_mod};
pub use expr::{Expr, Rational};
pub use failure::AlgebraError;
pub use layout::{LayoutRules, Term};
pub use number::read_number;
pub use parse::{ParseError, Resolver, Syntax, any_symbol, number_literals, parse, parse_decimal, parse_with};
pub use print::{Notation, print, superscript};

use std::collections::{BTreeMap, HashMap, HashSet};

impl Engine {
    /// Expands and lays out `e` the textbook way; non-polynomials come back expanded as they are.
    /// Outer terms come in the order they first appear in `e` as written (for a model: embedding,
    /// blocks, head), so `VH + L(…) + H + VH` reads `2VH + L(…) + H`. A floor is left as written.
    pub fn simplify(&self, e: &Expr, rules: &LayoutRules) -> Result<Expr, AlgebraError> {
        // Looked up without copying the expression (a hit is the common case).
        if let Some(done) = self.simplified.borrow().get(rules).and_then(|by_expr| by_expr.get(e)) {
            return Ok(done.clone());
        }
        let done = self.lay_out(e, rules)?;
        self.simplified.borrow_mut().entry(rules.clone()).or_default().insert(e.clone(), done.clone());
        Ok(done)
    }

    fn lay_out(&self, e: &Expr, rules: &LayoutRules) -> Result<Expr, AlgebraError> {
        if e.has_floor() {
            // The terms without a floor are laid out as usual; each floor keeps its place, with
            // its inside laid out.
            let terms = match e {
                Expr::Add(terms) => terms.as_slice(),
                other => std::slice::from_ref(other),
            };
            let (floors, plain): (Vec<&Expr>, Vec<&Expr>) = terms.iter().partition(|t| t.has_floor());
            let mut out = Vec::new();
            for f in floors {
                out.push(match f {
                    Expr::Floor(inner) => Expr::Floor(Box::new(self.simplify(inner, rules)?)),
                    Expr::Ceil(inner) => Expr::Ceil(Box::new(self.simplify(inner, rules)?)),
                    other => other.clone(),
                });
            }
            out.push(self.simplify(&Expr::sum(plain.into_iter().cloned().collect()), rules)?);
            return Ok(Expr::sum(out));
        }
        match self.written_order(e)? {
            Some(terms) => Ok(layout::layout(&terms, rules)),
            None => self.expand(e),
        }
    }

    /// Multiplies out every product; a floor is left as written.
    pub fn expanded(&self, e: &Expr) -> Result<Expr, AlgebraError> {
        if e.has_floor() { Ok(e.clone()) } else { self.expand(e) }
    }

    /// The monomials of the expanded form, if it is a polynomial in its symbols (negative powers
    /// allowed); `None` for a floor or a power of a sum.
    pub fn monomials(&self, e: &Expr) -> Result<Option<Vec<Term>>, AlgebraError> {
        if e.has_floor() { Ok(None) } else { self.terms(e) }
    }

    /// The expanded `e` as a polynomial in `symbol`: power → coefficient (an expression free of it).
    /// `None` if `e` is not a polynomial in its symbols.
    pub fn coefficients(&self, e: &Expr, symbol: &str) -> Result<Option<BTreeMap<i32, Expr>>, AlgebraError> {
        // Each coefficient keeps the order its terms have in `e` (model order), not the engine's.
        let Some(terms) = (if e.has_floor() { None } else { self.written_order(e)? }) else { return Ok(None) };
        let mut out: BTreeMap<i32, Vec<Expr>> = BTreeMap::new();
        for mut term in terms {
            let k = term.powers.remove(symbol).unwrap_or(0);
            let mut factors = vec![Expr::Num(term.coeff.clone())];
            factors.extend(term.powers.iter().map(|(s, p)| Expr::sym(s).pow(*p)));
            out.entry(k).or_default().push(Expr::product(factors));
        }
        Ok(Some(out.into_iter().map(|(k, v)| (k, Expr::sum(v))).collect()))
    }

    /// `e` with every floor of a whole-number polynomial dropped: ⌊p⌋ = p when p has integer
    /// coefficients and only whole, non-negative powers of symbols that `whole` says are integers
    /// (Python's `x // 1` of a size formula).
    pub fn without_integral_floors(&self, e: &Expr, whole: &dyn Fn(&str) -> bool) -> Result<Expr, AlgebraError> {
        Ok(match e {
            Expr::Floor(inner) => {
                let inner = self.without_integral_floors(inner, whole)?;
                let integral = !inner.has_floor()
                    && self.terms(&inner)?.is_some_and(|terms| {
                        terms.iter().all(|t| t.coeff.is_integer() && t.powers.iter().all(|(s, k)| *k > 0 && whole(s)))
                    });
                if integral { inner } else { Expr::Floor(Box::new(inner)) }
            }
            Expr::Ceil(inner) => Expr::Ceil(Box::new(self.without_integral_floors(inner, whole)?)),
            Expr::Num(_) | Expr::Sym(_) => e.clone(),
            Expr::Pow(b, k) => self.without_integral_floors(b, whole)?.pow(*k),
            Expr::Add(v) => {
                Expr::sum(v.iter().map(|t| self.without_integral_floors(t, whole)).collect::<Result<_, _>>()?)
            }
            Expr::Mul(v) => {
                Expr::product(v.iter().map(|t| self.without_integral_floors(t, whole)).collect::<Result<_, _>>()?)
            }
        })
    }

    /// The monomials of `e` in the order they first appear when `e` is multiplied out from left
    /// to right (model order: embedding, blocks, head), not the engine's.
    fn written_order(&self, e: &Expr) -> Result<Option<Vec<Term>>, AlgebraError> {
        let Some((mut terms, ordered)) = self.terms_ordered(e)? else { return Ok(None) };
        if !ordered {
            let order = appearance(e);
            terms.sort_by_key(|t| order.get(&t.powers).copied().unwrap_or(usize::MAX));
        }
        Ok(Some(terms))
    }

    /// Symbolic equality: `a − b` expands to 0 (with a floor: the same tree).
    pub fn same(&self, a: &Expr, b: &Expr) -> Result<bool, AlgebraError> {
        if a.has_floor() || b.has_floor() { Ok(a == b) } else { self.equal(a, b) }
    }
}

type Powers = BTreeMap<String, i32>;

/// Monomials (as symbol powers) → the position where each first appears when `e` is multiplied
/// out from left to right. Structural only: no cancellation, so it orders terms but never decides
/// them. Linear in the size of the expansion: a sum is walked once, never copied per term.
fn appearance(e: &Expr) -> HashMap<Powers, usize> {
    let mut order = HashMap::new();
    let mut seen = HashSet::new();
    distribute(&[e], &mut Vec::new(), &mut |powers| {
        if seen.insert(powers.clone()) {
            order.insert(powers, order.len());
        }
    });
    order
}

/// Calls `emit` with the symbol powers of every product of one term from each sum, in the order
/// they come out when `pending` (a product still to multiply out) is distributed left to right.
/// `chosen` holds the plain factors picked so far.
fn distribute<'e>(pending: &[&'e Expr], chosen: &mut Vec<&'e Expr>, emit: &mut dyn FnMut(Powers)) {
    let Some((first, rest)) = pending.split_first() else {
        emit_powers(chosen, emit);
        return;
    };
    match first {
        Expr::Add(terms) => {
            for t in terms {
                let mut next = Vec::with_capacity(rest.len() + 1);
                next.push(t);
                next.extend_from_slice(rest);
                distribute(&next, chosen, emit);
            }
        }
        Expr::Mul(factors) => {
            let mut next: Vec<&Expr> = factors.iter().collect();
            next.extend_from_slice(rest);
            distribute(&next, chosen, emit);
        }
        other => {
            chosen.push(other);
            distribute(rest, chosen, emit);
            chosen.pop();
        }
    }
}

fn emit_powers(chosen: &[&Expr], emit: &mut dyn FnMut(Powers)) {
    let mut powers = Powers::new();
    for f in chosen {
        match f {
            Expr::Num(_) => {}
            Expr::Sym(s) => *powers.entry(s.to_string()).or_insert(0) += 1,
            Expr::Pow(b, k) => match b.as_ref() {
                Expr::Sym(s) => *powers.entry(s.to_string()).or_insert(0) += k,
                _ => return,
            },
            _ => return,
        }
    }
    powers.retain(|_, k| *k != 0);
    emit(powers);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(t: &str) -> Expr {
        parse(t, &any_symbol).unwrap()
    }

    fn rules() -> LayoutRules {
        LayoutRules {
            rank: ["B", "A", "K", "T", "V", "L", "H", "F"].iter().map(|s| s.to_string()).collect(),
            factor_axes: vec!["B".into(), "T".into()],
            collect: vec!["L".into()],
            split_by: None,
        }
    }

    fn in_engine<R: Send + 'static>(f: impl FnOnce(&Engine) -> R + Send + 'static) -> R {
        worker::exclusive(&worker::WaitOptions::default(), f).unwrap()
    }

    /// Every letter is its own symbol, as with single-letter vocabularies.
    fn letters(name: &str) -> Result<Expr, String> {
        Ok(Expr::product(name.chars().map(|c| Expr::sym(&c.to_string())).collect()))
    }

    #[test]
    fn people_notation_parses_to_the_same_expression() {
        for text in ["2*V*H + L*(16*H^2 + 2*H) + H", "2VH + L(16H² + 2H) + H", "2·V·H + L[16H**2 + 2H] + H"] {
            let unicode = print(&parse(text, &letters).unwrap(), Notation::Unicode);
            assert_eq!(unicode, "2VH + L(16H² + 2H) + H", "{text}");
        }
    }

    #[test]
    fn printing_alternates_bracket_shapes_by_depth() {
        let e = read("16*(2*V*H + L*(16*H^2 + 2*H) + H)");
        assert_eq!(print(&e, Notation::Unicode), "16[2VH + L(16H² + 2H) + H]");
        assert_eq!(print(&e, Notation::Ascii), "16*(2*V*H + L*(16*H^2 + 2*H) + H)");
        assert_eq!(print(&e, Notation::Latex), "16\\left[2VH + L\\left(16H^{2} + 2H\\right) + H\\right]");
    }

    #[test]
    fn negative_powers_print_as_division() {
        assert_eq!(print(&read("2*B*T*H/A"), Notation::Unicode), "2BTH/A");
        assert_eq!(print(&read("H/(2*A)"), Notation::Ascii), "H/(2*A)");
        assert_eq!(print(&read("H/A"), Notation::Latex), "\\frac{H}{A}");
    }

    #[test]
    fn parse_errors_point_at_the_culprit() {
        let err = parse("2*H + )", &any_symbol).unwrap_err();
        assert_eq!(err.span, 6..7);
        let err = parse("2*(H + 1", &any_symbol).unwrap_err();
        assert!(err.message.contains("never closed"), "{}", err.message);
        let err = parse("H^V", &any_symbol).unwrap_err();
        assert!(err.message.contains("exponent"), "{}", err.message);
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("19.5e12").unwrap(), Rational::from_integer(19_500_000_000_000u64.into()));
        assert_eq!(parse_decimal("0.5").unwrap(), Rational::new(1.into(), 2.into()));
        assert!(parse_decimal("1.2.3").is_none());
    }

    #[test]
    fn layout_collects_by_layer_count_and_pulls_the_token_axes() {
        in_engine(|engine| {
            let flops = read("L*(8*B*T*H^2 + 4*B*T^2*H) + 2*B*T*V*H");
            assert_eq!(print(&engine.simplify(&flops, &rules()).unwrap(), Notation::Unicode), "2BT[L(2TH + 4H²) + VH]");
            let params = read("V*H + L*(4*H^2 + 2*H) + H + V*H");
            assert_eq!(print(&engine.simplify(&params, &rules()).unwrap(), Notation::Unicode), "2VH + L(4H² + 2H) + H");
        });
    }

    #[test]
    fn layout_splits_memory_into_static_and_per_batch_parts() {
        in_engine(|engine| {
            let memory = read("16*(2*V*H + L*(16*H^2 + 2*H) + H) + 4*B*T*(L*(16*H + 2*A*T) + H + 2*V)");
            let split = LayoutRules { split_by: Some("B".into()), ..rules() };
            assert_eq!(
                print(&engine.simplify(&memory, &split).unwrap(), Notation::Unicode),
                "16[2VH + L(16H² + 2H) + H] + 4BT[L(2AT + 16H) + H + 2V]"
            );
        });
    }

    #[test]
    fn floors_are_evaluated_exactly_and_never_sent_to_the_engine() {
        in_engine(|engine| {
            let values: BTreeMap<String, Rational> = [("H".to_string(), Rational::from_integer(7.into()))].into();
            let e = Expr::Floor(Box::new(read("H/2"))) + read("H");
            assert_eq!(evaluate(&e, &values).unwrap(), Rational::from_integer(10.into()));
            assert!(engine.monomials(&e).unwrap().is_none());
            assert_eq!(engine.simplify(&e, &rules()).unwrap(), e);
            assert!(engine.same(&e, &e.clone()).unwrap());
        });
    }

    #[test]
    fn heads_cancel_in_attention_flops() {
        in_engine(|engine| {
            assert!(engine.equal(&read("2*B*A*T*T*(H/A)"), &read("2*B*T^2*H")).unwrap());
            assert!(!engine.equal(&read("2*B*T^2*H"), &read("4*B*T^2*H")).unwrap());
        });
    }

    #[test]
    fn results_are_read_structurally_whatever_the_size_of_the_numbers() {
        in_engine(|engine| {
            let big = read("123456789012345678901234567890*H + 1/98765432109876543210");
            let mut terms = engine.terms(&big).unwrap().unwrap();
            terms.sort_by_key(|t| t.powers.len());
            let coefficients: Vec<String> = terms.iter().map(|t| t.coeff.to_string()).collect();
            assert_eq!(coefficients, ["1/98765432109876543210", "123456789012345678901234567890"]);
            assert!(engine.equal(&read("(H+1)^2"), &read("H^2 + 2*H + 1")).unwrap());
            assert_eq!(engine.expand(&read("1/(H-H)")), Err(AlgebraError::DivisionByZero));
        });
    }
}

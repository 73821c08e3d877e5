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
pub use parse::{ParseError, Resolver, Syntax, any_symbol, number_literals, parse, parse_decimal, parse_with};
pub use print::{Notation, print, superscript};

/// Expands and lays out `e` the textbook way; non-polynomials come back expanded as they are.
/// Outer terms come in the order they first appear in `e` as written (for a model: embedding,
/// blocks, head), so `VH + L(…) + H + VH` reads `2VH + L(…) + H`.
pub fn simplify(e: &Expr, rules: &LayoutRules) -> Expr {
    if has_floor(e) {
        return e.clone();
    }
    match engine::terms(e) {
        Some(mut terms) => {
            let mut order = Vec::new();
            appearance(e, &mut order);
            terms.sort_by_key(|t| order.iter().position(|p| *p == t.powers).unwrap_or(usize::MAX));
            layout::layout(&terms, rules)
        }
        None => engine::expand(e),
    }
}

type Powers = std::collections::BTreeMap<String, i32>;

/// Monomials (as symbol powers) in the order they first appear when `e` is multiplied out from
/// left to right. Structural only: no cancellation, so it orders terms but never decides them.
fn appearance(e: &Expr, out: &mut Vec<Powers>) {
    match e {
        Expr::Add(terms) => terms.iter().for_each(|t| appearance(t, out)),
        Expr::Mul(factors) => match factors.iter().position(|f| matches!(f, Expr::Add(_))) {
            Some(i) => {
                if let Expr::Add(terms) = &factors[i] {
                    for t in terms {
                        let mut distributed = factors.clone();
                        distributed[i] = t.clone();
                        appearance(&Expr::product(distributed), out);
                    }
                }
            }
            None => record(e, out),
        },
        _ => record(e, out),
    }
}

fn record(e: &Expr, out: &mut Vec<Powers>) {
    let mut powers = Powers::new();
    let factors = match e {
        Expr::Mul(v) => v.clone(),
        other => vec![other.clone()],
    };
    for f in factors {
        match f {
            Expr::Num(_) => {}
            Expr::Sym(s) => *powers.entry(s).or_insert(0) += 1,
            Expr::Pow(b, k) => match *b {
                Expr::Sym(s) => *powers.entry(s).or_insert(0) += k,
                _ => return,
            },
            _ => return,
        }
    }
    powers.retain(|_, k| *k != 0);
    if !out.contains(&powers) {
        out.push(powers);
    }
}

/// Multiplies out every product (symbolica's `expand`); a floor is left as written.
pub fn expand(e: &Expr) -> Expr {
    if has_floor(e) { e.clone() } else { engine::expand(e) }
}

/// The monomials of the expanded form, if it is a polynomial in its symbols (negative powers allowed).
pub fn terms(e: &Expr) -> Option<Vec<Term>> {
    if has_floor(e) { None } else { engine::terms(e) }
}

/// A floor is tally's own: it never crosses into symbolica, which would keep it as an unknown
/// function. Floors are only ever evaluated, never rearranged.
fn has_floor(e: &Expr) -> bool {
    match e {
        Expr::Floor(_) => true,
        Expr::Num(_) | Expr::Sym(_) => false,
        Expr::Pow(b, _) => has_floor(b),
        Expr::Add(v) | Expr::Mul(v) => v.iter().any(has_floor),
    }
}

/// `e` with every floor replaced by its exact value (floors nest, innermost first).
fn floors_evaluated(e: &Expr, values: &std::collections::BTreeMap<String, Rational>) -> Result<Expr, Vec<String>> {
    Ok(match e {
        Expr::Floor(inner) => {
            let v = evaluate(&floors_evaluated(inner, values)?, values)?;
            Expr::Num(v.floor())
        }
        Expr::Num(_) | Expr::Sym(_) => e.clone(),
        Expr::Pow(b, k) => Expr::Pow(Box::new(floors_evaluated(b, values)?), *k),
        Expr::Add(v) => Expr::Add(v.iter().map(|t| floors_evaluated(t, values)).collect::<Result<_, _>>()?),
        Expr::Mul(v) => Expr::Mul(v.iter().map(|t| floors_evaluated(t, values)).collect::<Result<_, _>>()?),
    })
}

/// The expanded `e` as a polynomial in `symbol`: power → coefficient (an expression free of it).
/// `None` if `e` is not a polynomial in its symbols.
pub fn coefficients(e: &Expr, symbol: &str) -> Option<std::collections::BTreeMap<i32, Expr>> {
    let mut out: std::collections::BTreeMap<i32, Vec<Expr>> = std::collections::BTreeMap::new();
    for mut term in engine::terms(e)? {
        let k = term.powers.remove(symbol).unwrap_or(0);
        let mut factors = vec![Expr::Num(term.coeff.clone())];
        factors.extend(term.powers.iter().map(|(s, p)| Expr::sym(s).pow(*p)));
        out.entry(k).or_default().push(Expr::product(factors));
    }
    Some(out.into_iter().map(|(k, v)| (k, Expr::sum(v))).collect())
}

/// Symbolic equality: `a − b` expands to 0 (with a floor: the same tree).
pub fn equal(a: &Expr, b: &Expr) -> bool {
    if has_floor(a) || has_floor(b) { a == b } else { engine::equal(a, b) }
}

/// Exact value of `e` with every symbol bound; the unbound symbols otherwise.
pub fn evaluate(e: &Expr, values: &std::collections::BTreeMap<String, Rational>) -> Result<Rational, Vec<String>> {
    if has_floor(e) { engine::evaluate(&floors_evaluated(e, values)?, values) } else { engine::evaluate(e, values) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

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

    fn in_engine<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
        session::exclusive(f).unwrap()
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
        in_engine(|| {
            let flops = read("L*(8*B*T*H^2 + 4*B*T^2*H) + 2*B*T*V*H");
            assert_eq!(print(&simplify(&flops, &rules()), Notation::Unicode), "2BT[L(2TH + 4H²) + VH]");
            let params = read("V*H + L*(4*H^2 + 2*H) + H + V*H");
            assert_eq!(print(&simplify(&params, &rules()), Notation::Unicode), "2VH + L(4H² + 2H) + H");
        });
    }

    #[test]
    fn layout_splits_memory_into_static_and_per_batch_parts() {
        in_engine(|| {
            let memory = read("16*(2*V*H + L*(16*H^2 + 2*H) + H) + 4*B*T*(L*(16*H + 2*A*T) + H + 2*V)");
            let split = LayoutRules { split_by: Some("B".into()), ..rules() };
            assert_eq!(
                print(&simplify(&memory, &split), Notation::Unicode),
                "16[2VH + L(16H² + 2H) + H] + 4BT[L(2AT + 16H) + H + 2V]"
            );
        });
    }

    #[test]
    fn floors_are_evaluated_exactly_and_never_sent_to_the_engine() {
        in_engine(|| {
            let values: BTreeMap<String, Rational> = [("H".to_string(), Rational::from_integer(7.into()))].into();
            let e = Expr::Floor(Box::new(read("H/2"))) + read("H");
            assert_eq!(evaluate(&e, &values).unwrap(), Rational::from_integer(10.into()));
            assert!(terms(&e).is_none());
            assert_eq!(simplify(&e, &rules()), e);
            assert!(equal(&e, &e.clone()));
        });
    }

    #[test]
    fn heads_cancel_in_attention_flops() {
        in_engine(|| {
            assert!(equal(&read("2*B*A*T*T*(H/A)"), &read("2*B*T^2*H")));
            assert!(!equal(&read("2*B*T^2*H"), &read("4*B*T^2*H")));
        });
    }

    #[test]
    fn evaluation_is_exact_and_reports_unbound_symbols() {
        in_engine(|| {
            let values: BTreeMap<String, Rational> = [("H", 1600), ("A", 25), ("V", 50257)]
                .iter()
                .map(|(k, v)| (k.to_string(), Rational::from_integer((*v).into())))
                .collect();
            let v = evaluate(&read("2*V*H^3 + H/A"), &values).unwrap();
            assert_eq!(v.to_string(), "411705344000064");
            let third = evaluate(&read("H/3"), &values).unwrap();
            assert_eq!(third, Rational::new(1600.into(), 3.into()));
            assert_eq!(evaluate(&read("L*H"), &values).unwrap_err(), vec!["L".to_string()]);
        });
    }
}

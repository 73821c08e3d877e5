//! A claimed formula against the derivation: equal as formulas, equal only under a relation, off by
//! a constant factor (with the likely cause and the number to strike), or differing by terms, each
//! missing or extra term attributed to the ops whose rules produce it.

use super::claim::Claim;
use super::dimension::{Dimension, Mismatch};
use super::explain::Explanation;
use super::number::{compare_values, shown};
use super::reference::Reference;
use super::rounded::{rounded, rounded_precision};
use super::terms::term_differences;
use super::{Finding, Target, Verdict, operand_labels, shift, unreadable};
use crate::algebra::{self, Expr, Notation, Rational, print};
use crate::dim::{self, Unit};
use num_traits::{One, Zero};
use std::ops::Range;

/// The caret for a factor: a number written outside any bracket and equal to the factor (the last
/// one, where people append a conversion), if there is one.
pub(super) fn factor_caret(text: &str, offset: usize, factor: &Rational) -> Option<Range<usize>> {
    let depth = |at: usize| {
        text[..at].chars().fold(0i32, |d, c| match c {
            '(' | '[' | '{' => d + 1,
            ')' | ']' | '}' => d - 1,
            _ => d,
        })
    };
    algebra::number_literals(text, algebra::Syntax::people())
        .into_iter()
        .rev()
        .find(|(span, v)| v == factor && depth(span.start) == 0)
        .map(|(span, _)| shift(&span, offset))
}

pub(super) fn check_formula(
    claim: &Claim,
    part: &Range<usize>,
    reading: &super::reference::MarkedFormula,
    target: &Target,
    r: &Reference,
) -> (Finding, Option<Rational>) {
    let text = &claim.text[part.clone()];
    let whole = part.clone();
    let mut evidence = reading.notes.clone();
    let unit = &target.unit;
    // A unit word standing where the model has a size of the same letters (`h` for `H`) is the
    // likeliest cause of a dimension error: it leads the report, and the fix writes the size.
    let shadow = reading.shadowed.first().map(|(word, symbol)| {
        (format!("`{word}` read as a unit; did you mean the symbol {symbol}?"), format!("write {symbol}, not {word}"))
    });
    match r.dimension(&reading.marked) {
        Err(Mismatch(a, b)) => {
            let labels = operand_labels(text, part.start, r, (&a, &b));
            return (
                Finding {
                    verdict: Verdict::Wrong,
                    headline: match &shadow {
                        Some((cause, _)) => format!("dimension error: {cause}"),
                        None => format!("dimension error: the formula adds {} to {}", a.name(), b.name()),
                    },
                    caret: whole,
                    label: "terms in different units".into(),
                    evidence,
                    fix: Some(shadow.map(|(_, fix)| fix).unwrap_or_else(|| "add quantities of one unit only".into())),
                    labels,
                },
                None,
            );
        }
        Ok(Dimension::Known(found)) if found != *unit && *unit != Unit::none() => {
            let hint = if found == Unit::byte().times(&Unit::byte()).per(&Unit::param())
                || found == Unit::byte().times(&Unit::byte())
            {
                "the 4 bytes per element are already inside the 16 bytes per parameter: multiplying by both counts them twice"
            } else {
                ""
            };
            if !hint.is_empty() {
                evidence.push(hint.to_string());
            }
            return (
                Finding {
                    verdict: Verdict::Wrong,
                    headline: match &shadow {
                        Some((cause, _)) => format!("dimension error: {cause}"),
                        None => format!("dimension error: expected {}, found {}", unit.name(), found.name()),
                    },
                    caret: whole,
                    label: format!("this is in {}", found.name()),
                    evidence,
                    fix: shadow.map(|(_, fix)| fix),
                    labels: vec![],
                },
                None,
            );
        }
        _ => {}
    }
    let claimed = r.unmark(&reading.marked);
    let is_whole = |s: &str| r.symbols.get(s).is_some_and(|d| d.whole);
    let claimed = r.engine.without_integral_floors(&claimed, &is_whole).unwrap_or(claimed);
    // A size the model does not have, written in the claim (D for a model whose heads are H/A
    // wide), stands for what the vocabulary says it is otherwise.
    let stand_ins = stand_ins(r, &claimed);
    let claimed = claimed.substitute(&|s| stand_ins.iter().find(|(n, _)| n == s).map(|(_, e)| e.clone()));
    let stand_in_words: Vec<String> =
        stand_ins.iter().map(|(s, e)| format!("{s} = {}", print(e, Notation::Unicode))).collect();
    if !stand_ins.is_empty() {
        evidence.push(format!("read {} (the model has no size of that name)", stand_in_words.join(", ")));
    }
    // Anything the algebra cannot work with (a zero denominator, a power past the bounds) is
    // reported on the claim before it is compared.
    if let Err(e) = r.engine.expanded(&claimed) {
        return (unreadable(e.to_string(), whole), None);
    }
    let claimed_value = algebra::evaluate(&claimed, &r.values).ok();
    let Some(derived) = &target.expr else {
        // batch.max(…) is solved, not a formula: compare values only.
        let finding =
            compare_values(r, claimed_value.clone(), target, whole, evidence, "the formula", &Rational::zero());
        return (finding, claimed_value);
    };
    let closed = |e: &Expr| print(&r.engine.simplify(e, &r.layout()).unwrap_or_else(|_| e.clone()), Notation::Unicode);
    if r.engine.same(&claimed, derived).unwrap_or(false) {
        evidence.push(format!("both are {}", closed(derived)));
        let headline = match stand_in_words.is_empty() {
            true => "holds: equal to the derivation as formulas".to_string(),
            false => format!("holds: equal to the derivation as formulas, with {}", stand_in_words.join(", ")),
        };
        return (Finding::holds(headline, whole, evidence), claimed_value);
    }
    // The architecture's relations (F = 4H) are part of it: a claim written with them substituted
    // is compared in that form.
    // A relation is used only where the claim does not name its symbol: a claim in F keeps F.
    let named = claimed.symbols();
    let involved = derived.symbols();
    let relations: Vec<(String, Expr)> =
        r.relations().into_iter().filter(|(s, _)| !named.contains(s) && involved.contains(s)).collect();
    let with_relations =
        |e: &Expr| e.substitute(&|s| relations.iter().find(|(name, _)| name == s).map(|(_, formula)| formula.clone()));
    let (claimed, derived) = (&with_relations(&claimed), &with_relations(derived));
    let relation_words: Vec<String> =
        relations.iter().map(|(s, e)| format!("{s} = {}", print(e, Notation::Unicode))).collect();
    if !relations.is_empty() && r.engine.same(claimed, derived).unwrap_or(false) {
        evidence.push(format!("both are {} with {}", closed(derived), relation_words.join(", ")));
        let headline = format!("holds: equal to the derivation as formulas, with {}", relation_words.join(", "));
        return (Finding::holds(headline, whole, evidence), claimed_value);
    }
    // A formula written with rounded numbers (15.518 GB·B + 34.03 GB) is right when each of its
    // coefficients is, to the precision written.
    if let Some(tolerance) = rounded_precision(text) {
        return (rounded(claim, part, claimed, derived, target, &tolerance, evidence, r), claimed_value);
    }
    let derived_value = target.value.clone();
    if let (Some(c), Some(d)) = (&claimed_value, &derived_value) {
        evidence.push(format!("claimed: {}", shown(c, unit)));
        evidence.push(format!("derived: {} = {}", shown(d, unit), closed(derived)));
    }
    if claimed_value.is_some() && claimed_value == derived_value {
        return (
            Finding {
                verdict: Verdict::HoldsNumerically,
                headline: format!("holds numerically at these sizes only ({})", r.id),
                caret: whole,
                label: "a different formula".into(),
                evidence,
                fix: Some(format!("the general form is {}", closed(derived))),
                labels: vec![],
            },
            claimed_value,
        );
    }
    if let Some(search) = target.search(r, &relations) {
        let found = search.formula(claimed);
        if !found.is_empty() {
            return (explained(claim, part, &found, derived, evidence, r), claimed_value);
        }
    }
    if let Some(factor) = constant_factor(r.engine, claimed, derived) {
        evidence.push("no reading explains this factor".into());
        let literal = factor_caret(text, part.start, &factor);
        let caret = literal.clone().unwrap_or(whole.clone());
        let words = if factor > Rational::one() { "too large" } else { "too small" };
        let fix = literal
            .and_then(|span| without_factor(&claim.text, part, &span))
            .unwrap_or_else(|| format!("{} = {}", &claim.text[claim.lhs.clone()], closed(derived)));
        return (
            Finding {
                verdict: Verdict::Wrong,
                headline: format!("wrong by a factor of {}: {words}", dim::plain(&factor)),
                caret,
                label: format!("× {}", dim::plain(&factor)),
                evidence,
                fix: Some(fix),
                labels: vec![],
            },
            claimed_value,
        );
    }
    if let Some(factor) = symbolic_factor(r.engine, claimed, derived) {
        let shown = print(&factor, Notation::Unicode);
        evidence.push("no reading explains this factor".into());
        return (
            Finding {
                verdict: Verdict::Wrong,
                headline: format!("wrong by a factor of {shown}"),
                caret: whole,
                label: format!("× {shown}"),
                evidence,
                fix: Some(format!("{} = {}", &claim.text[claim.lhs.clone()], closed(derived))),
                labels: vec![],
            },
            claimed_value,
        );
    }
    term_differences(claim, claimed, derived, target, whole, evidence, r, claimed_value, &relations)
}

/// The claim's symbols the model does not bind that stand for a formula in ones it does (`D` is
/// `H/A` for a model without a head width of its own), from the vocabulary's `otherwise`.
fn stand_ins(r: &Reference, claimed: &Expr) -> Vec<(String, Expr)> {
    claimed
        .symbols()
        .into_iter()
        .filter(|s| !r.values.contains_key(s))
        .filter_map(|s| {
            let def = r.symbols.get(&s)?;
            let formula = algebra::parse(def.otherwise.as_deref()?, &|w| r.symbols.resolve(w)).ok()?;
            formula.symbols().iter().all(|x| r.values.contains_key(x)).then_some((s, formula))
        })
        .collect()
}

/// `claimed = c·m · derived` for a constant c and a monomial m of symbols that is not 1 (1/L,
/// K/A, 1/(BT)): the same factor on every term.
fn symbolic_factor(engine: &algebra::Engine, claimed: &Expr, derived: &Expr) -> Option<Expr> {
    use std::collections::BTreeMap;
    let a = engine.monomials(claimed).ok()??;
    let b = engine.monomials(derived).ok()??;
    let first = b.first()?;
    // A zero term (the expansion of 0) has no factor to divide by.
    if a.len() != b.len() || b.iter().any(|t| t.coeff.is_zero()) {
        return None;
    }
    let shifted = |powers: &BTreeMap<String, i32>, by: &BTreeMap<String, i32>| {
        let mut out = powers.clone();
        for (s, k) in by {
            *out.entry(s.clone()).or_insert(0) += k;
        }
        out.retain(|_, k| *k != 0);
        out
    };
    for candidate in &a {
        let mut by = candidate.powers.clone();
        for (s, k) in &first.powers {
            *by.entry(s.clone()).or_insert(0) -= k;
        }
        by.retain(|_, k| *k != 0);
        if by.is_empty() {
            continue;
        }
        let c = &candidate.coeff / &first.coeff;
        let all = b.iter().all(|tb| {
            let want = shifted(&tb.powers, &by);
            a.iter().any(|ta| ta.powers == want && ta.coeff == &c * &tb.coeff)
        });
        if all {
            let mut factors = vec![Expr::num(c)];
            factors.extend(by.iter().map(|(s, k)| Expr::sym(s).pow(*k)));
            return Some(Expr::product(factors));
        }
    }
    None
}

/// A finding for a formula that one reading (or a pair) explains exactly.
fn explained(
    claim: &Claim,
    part: &Range<usize>,
    all: &[Explanation],
    derived: &Expr,
    mut evidence: Vec<String>,
    r: &Reference,
) -> Finding {
    let closed = |e: &Expr| print(&r.engine.simplify(e, &r.layout()).unwrap_or_else(|_| e.clone()), Notation::Unicode);
    let found = &all[0];
    let others: Vec<String> = all[1..].iter().take(3).map(|f| format!("`{}`", f.ids())).collect();
    let also = (!others.is_empty()).then(|| format!("also explained by: {}", others.join(", ")));
    let described = found.describe(r);
    let under = found.expr.as_ref().map(closed).unwrap_or_default();
    let lhs = &claim.text[claim.lhs.clone()];
    if described.verdict == Verdict::HoldsUnder {
        evidence.push(format!("under `{}`: {lhs} = {under}", found.ids()));
        evidence.push(format!("the conventions in effect give {lhs} = {}", closed(derived)));
        evidence.extend(also);
        return Finding {
            verdict: Verdict::HoldsUnder,
            headline: described.headline,
            caret: part.clone(),
            label: String::new(),
            evidence,
            fix: described.options.map(|o| format!("to derive under it: {o}")),
            labels: vec![],
        };
    }
    evidence.push(format!("the claim is the derivation under `{}`: {under}", found.ids()));
    evidence.extend(also);
    // A reading that only scales the claim points at the number that scales it, when one is written.
    let literal = found.numeric_scale(r).and_then(|f| factor_caret(&claim.text[part.clone()], part.start, &f));
    let fix = literal
        .as_ref()
        .and_then(|span| without_factor(&claim.text, part, span))
        .unwrap_or_else(|| format!("{lhs} = {}", closed(derived)));
    Finding {
        verdict: Verdict::Wrong,
        headline: described.headline,
        label: match (&literal, found.numeric_scale(r)) {
            (Some(_), Some(f)) => format!("× {}", dim::plain(&f)),
            _ => format!("explained by `{}`", found.ids()),
        },
        caret: literal.unwrap_or(part.clone()),
        evidence,
        fix: Some(fix),
        labels: vec![],
    }
}

/// The claim with the culprit factor taken out (`16 * total_params * 4` → `16 * total_params`),
/// when the factor is a plain multiplication in the formula.
pub(super) fn without_factor(text: &str, part: &Range<usize>, literal: &Range<usize>) -> Option<String> {
    let before = text[part.start..literal.start].trim_end();
    let after = text[literal.end..part.end].trim_start();
    let (head, tail) = if let Some(b) = before.strip_suffix(['*', '×', '·']) {
        (b.trim_end().to_string(), text[literal.end..part.end].to_string())
    } else if let Some(a) = after.strip_prefix(['*', '×', '·']) {
        (text[part.start..literal.start].to_string(), a.trim_start().to_string())
    } else {
        return None;
    };
    Some(format!("{}{head}{tail}{}", &text[..part.start], &text[part.end..]))
}

/// `claimed = c · derived` for a constant c ≠ 1.
pub(super) fn constant_factor(engine: &algebra::Engine, claimed: &Expr, derived: &Expr) -> Option<Rational> {
    let a = engine.monomials(claimed).ok()??;
    let b = engine.monomials(derived).ok()??;
    if a.len() != b.len() || b.is_empty() || b.iter().any(|t| t.coeff.is_zero()) {
        return None;
    }
    let mut factor: Option<Rational> = None;
    for tb in &b {
        let ta = a.iter().find(|t| t.powers == tb.powers)?;
        let f = &ta.coeff / &tb.coeff;
        match &factor {
            Some(g) if *g != f => return None,
            _ => factor = Some(f),
        }
    }
    factor.filter(|f| !f.is_one() && !f.is_zero())
}

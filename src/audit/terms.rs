//! What differs when no reading explains a claimed formula: its terms against the derivation's,
//! each missing term named by the ops whose rules produce it, each extra one only among what the
//! derivation does not count, with the fewest ops that add up to it.

use super::claim::Claim;
use super::reference::{self, Reference};
use super::{Family, Finding, Target, Verdict};
use crate::algebra::{Expr, Notation, Rational, print};
use num_traits::{Signed, Zero};
use std::ops::Range;

#[allow(clippy::too_many_arguments)]
pub(super) fn term_differences(
    claim: &Claim,
    claimed: &Expr,
    derived: &Expr,
    target: &Target,
    whole: Range<usize>,
    mut evidence: Vec<String>,
    r: &Reference,
    claimed_value: Option<Rational>,
    relations: &[(String, Expr)],
) -> (Finding, Option<Rational>) {
    let layout = r.layout();
    let closed = |e: &Expr| print(&r.engine.simplify(e, &layout).unwrap_or_else(|_| e.clone()), Notation::Unicode);
    let difference = claimed.clone() - derived.clone();
    let Ok(Some(terms)) = r.engine.monomials(&difference) else {
        evidence.push(format!("the claim minus the derivation is {}", closed(&difference)));
        return (
            Finding {
                verdict: Verdict::Wrong,
                headline: "wrong: a different formula".into(),
                caret: whole,
                label: "differs".into(),
                evidence,
                fix: Some(format!("{} = {}", &claim.text[claim.lhs.clone()], closed(derived))),
                labels: vec![],
            },
            claimed_value,
        );
    };
    let (mut missing, mut extra) = (0, 0);
    for t in &terms {
        let monomial = Expr::product(
            std::iter::once(Expr::num(t.coeff.abs()))
                .chain(t.powers.iter().map(|(s, k)| Expr::sym(s).pow(*k)))
                .collect(),
        );
        let layers = crate::symbol::Role::Layers.symbol();
        let per_layer = t.powers.get(layers) == Some(&1);
        let shown_term = if per_layer {
            let mut p = t.powers.clone();
            p.remove(layers);
            let e = Expr::product(
                std::iter::once(Expr::num(t.coeff.abs())).chain(p.iter().map(|(s, k)| Expr::sym(s).pow(*k))).collect(),
            );
            format!("{} per layer", closed(&e))
        } else {
            closed(&monomial)
        };
        // A missing term is something the derivation counts; an extra one can only be something
        // it does not (never a tensor or parameter already in the sum).
        use reference::Contribution as C;
        let saved_counted: &[C] = match r.conventions.activations {
            crate::ops::ActivationConvention::Cs336 => &[C::SavedCs336],
            _ => &[C::SavedCs336, C::SavedAllOnly],
        };
        let kinds: Vec<C> = match (target.family, t.coeff.is_negative()) {
            (Family::Memory, true) => [saved_counted, &[C::Params]].concat(),
            (Family::Memory, false) => {
                let uncounted: &[C] = if saved_counted.len() == 1 { &[C::SavedAllOnly] } else { &[] };
                [uncounted, &[C::AbsentBias]].concat()
            }
            (Family::Flops | Family::Time, true) => vec![C::Flops],
            (Family::Flops | Family::Time, false) => vec![C::UncountedFlops, C::ParamsPerToken],
            (Family::Count, true) => vec![C::Params],
            (Family::Count, false) => vec![C::AbsentBias],
            _ => vec![C::Params, C::Flops, C::SavedCs336, C::SavedAllOnly],
        };
        let owners = r.attribute(&t.powers, &kinds, relations);
        // How many whole tensors (memory) or op outputs the term amounts to, if it is a whole number.
        let tensors = (target.family == Family::Memory
            && t.coeff.is_integer()
            && (t.coeff.numer() % r.bytes_per_element).is_zero())
        .then(|| t.coeff.abs() / Rational::from_integer(r.bytes_per_element.into()));
        let whose = if owners.is_empty() {
            "no op's rule has a term of this shape".to_string()
        } else {
            owners
                .iter()
                .map(|(k, found)| {
                    // The term in the ops' own unit: elements for saved tensors, else as it is.
                    let saved = matches!(k, C::SavedCs336 | C::SavedAllOnly);
                    let need = match (&tensors, saved, target.family) {
                        (Some(_), true, _) => Some(t.coeff.abs() / Rational::from_integer(r.bytes_per_element.into())),
                        (_, false, Family::Count | Family::Flops | Family::Time) if *k != C::ParamsPerToken => {
                            Some(t.coeff.abs())
                        }
                        _ => None,
                    };
                    let every: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
                    let equal = found.windows(2).all(|w| w[0].1.abs() == w[1].1.abs());
                    let which = match need.as_ref().and_then(|n| exact_subset(found, n).map(|s| (n, s))) {
                        Some((_, subset)) if subset.len() == found.len() && found.len() > 1 => {
                            format!("exactly {}", every.join(", "))
                        }
                        // Ops of one size: any k of them; say how many, not which.
                        Some((_, subset)) if equal => format!("{} of {}", subset.len(), every.join(", ")),
                        Some((_, subset)) => {
                            let names: Vec<&str> = subset.iter().map(|i| every[*i]).collect();
                            format!("{} (the fewest that add up to it)", names.join(", "))
                        }
                        None => every.join(", "),
                    };
                    format!("{} {which}", k.words())
                })
                .collect::<Vec<_>>()
                .join("; or ")
        };
        // In elements: 32BTH bytes are 8BTH elements of 4 bytes (how many tensors that is depends
        // on their sizes, which the ops below say).
        let elements = match &tensors {
            Some(_) => {
                let per_element = Rational::from_integer(r.bytes_per_element.into());
                let mut powers = t.powers.clone();
                if per_layer {
                    powers.remove(crate::symbol::Role::Layers.symbol());
                }
                let count = Expr::product(
                    std::iter::once(Expr::num(t.coeff.abs() / per_element))
                        .chain(powers.iter().map(|(s, k)| Expr::sym(s).pow(*k)))
                        .collect(),
                );
                format!(" = {} elements × {} bytes", closed(&count), r.bytes_per_element)
            }
            None => String::new(),
        };
        // Say which relation made an op's size match, only when one did.
        let needs_relations = !relations.is_empty() && {
            let plain = r.attribute(&t.powers, &kinds, &[]);
            plain.iter().map(|(k, v)| (*k, v.len())).collect::<Vec<_>>()
                != owners.iter().map(|(k, v)| (*k, v.len())).collect::<Vec<_>>()
        };
        let with_relations = if !needs_relations {
            String::new()
        } else {
            let words: Vec<String> =
                relations.iter().map(|(s, e)| format!("{s} = {}", print(e, Notation::Unicode))).collect();
            format!(" (with {})", words.join(", "))
        };
        let whose = if owners.is_empty() { whose } else { format!("{whose}{with_relations}") };
        let shown_term = format!("{shown_term}{elements}");
        if t.coeff.is_negative() {
            missing += 1;
            evidence.push(format!("missing {shown_term}: {whose}"));
        } else {
            extra += 1;
            evidence.push(format!("extra {shown_term}: {whose}"));
        }
    }
    let headline = match (missing, extra) {
        (m, 0) => format!("wrong: {m} term{} missing", if m == 1 { "" } else { "s" }),
        (0, e) => format!("wrong: {e} extra term{}", if e == 1 { "" } else { "s" }),
        (m, e) => format!("wrong: {m} term{} missing and {e} extra", if m == 1 { "" } else { "s" }),
    };
    (
        Finding {
            verdict: Verdict::Wrong,
            headline,
            caret: whole,
            label: "differs from the derivation".into(),
            evidence,
            fix: Some(format!("{} = {}", &claim.text[claim.lhs.clone()], closed(derived))),
            labels: vec![],
        },
        claimed_value,
    )
}

/// The smallest set of ops whose coefficients add up to `need` exactly (each op at most once), if
/// there is one and the ops are few enough to try every set.
fn exact_subset(found: &[(String, Rational)], need: &Rational) -> Option<Vec<usize>> {
    if found.len() > 16 {
        return None;
    }
    let mut best: Option<Vec<usize>> = None;
    for mask in 1u32..(1 << found.len()) {
        let chosen: Vec<usize> = (0..found.len()).filter(|i| mask & (1 << i) != 0).collect();
        if best.as_ref().is_some_and(|b| b.len() <= chosen.len()) {
            continue;
        }
        let sum: Rational = chosen.iter().map(|i| found[*i].1.abs()).sum();
        if &sum == need {
            best = Some(chosen);
        }
    }
    best
}

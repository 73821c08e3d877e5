//! A formula written with rounded numbers (`15.518 GB * B + 34.03 GB`): right when each of its
//! coefficients is, to the precision written.

use super::claim::Claim;
use super::number::compare_values;
use super::reference::Reference;
use super::{Finding, Target};
use crate::algebra::{self, Expr, Rational};
use crate::dim;
use num_traits::{Signed, Zero};
use std::ops::Range;

/// The relative precision of a formula's rounded numbers (half a unit in the last written place
/// over the number, the coarsest of them); `None` when every number is written whole.
pub(super) fn rounded_precision(text: &str) -> Option<Rational> {
    let mut coarsest: Option<Rational> = None;
    for (span, _) in algebra::number_literals(text, algebra::Syntax::people()) {
        let written = &text[span];
        let digits: String = written.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        let Some((_, fraction)) = digits.split_once('.') else { continue };
        let Some(plain) = algebra::parse_decimal(&digits).filter(|v| !v.is_zero()) else { continue };
        let half_unit =
            Rational::new(1.into(), 2.into()) / Rational::from_integer(num_traits::pow(10.into(), fraction.len()));
        let relative = half_unit / plain.abs();
        if coarsest.as_ref().is_none_or(|c| relative > *c) {
            coarsest = Some(relative);
        }
    }
    coarsest
}

/// A rounded formula against the derivation: the derivation at the bound sizes of every symbol the
/// claim does not name, compared coefficient by coefficient within `tolerance` (relative). When a
/// coefficient is off, the claim is checked as a value (and explained by readings if it can be).
#[allow(clippy::too_many_arguments)]
pub(super) fn rounded(
    claim: &Claim,
    part: &Range<usize>,
    claimed: &Expr,
    derived: &Expr,
    target: &Target,
    tolerance: &Rational,
    mut evidence: Vec<String>,
    r: &Reference,
) -> Finding {
    let named = claimed.symbols();
    let partial = derived.substitute(&|s| {
        if named.iter().any(|n| n == s) { None } else { r.values.get(s).map(|v| Expr::num(v.clone())) }
    });
    let terms = |e: &Expr| -> Option<std::collections::BTreeMap<Vec<(String, i32)>, Rational>> {
        let mut out = std::collections::BTreeMap::new();
        for t in r.engine.monomials(e).ok()?? {
            *out.entry(t.powers.into_iter().collect()).or_insert_with(Rational::zero) += t.coeff;
        }
        Some(out)
    };
    let (Some(c), Some(d)) = (terms(claimed), terms(&partial)) else {
        return compare_values(
            r,
            algebra::evaluate(claimed, &r.values).ok(),
            target,
            part.clone(),
            evidence,
            "the formula",
            &Rational::zero(),
        );
    };
    let keys: std::collections::BTreeSet<_> = c.keys().chain(d.keys()).cloned().collect();
    let zero = Rational::zero();
    let close = keys.iter().all(|k| {
        let (a, b) = (c.get(k).unwrap_or(&zero), d.get(k).unwrap_or(&zero));
        (a - b).abs() <= tolerance * a.abs().max(b.abs())
    });
    // Highest powers first, digits grouped: 15,517,753,344·B + 34,032,921,600 bytes.
    let mut shown_terms: Vec<(i32, String)> = d
        .iter()
        .filter(|(_, v)| !v.is_zero())
        .map(|(powers, v)| {
            let factors: Vec<String> = powers
                .iter()
                .map(|(s, k)| if *k == 1 { s.clone() } else { format!("{s}{}", algebra::superscript(*k)) })
                .collect();
            let degree = powers.iter().map(|(_, k)| *k).sum();
            let number =
                if factors.is_empty() { dim::exact(v) } else { format!("{}·{}", dim::exact(v), factors.join("·")) };
            (degree, number)
        })
        .collect();
    shown_terms.sort_by_key(|(degree, _)| -degree);
    let terms_text: Vec<String> = shown_terms.into_iter().map(|(_, t)| t).collect();
    evidence.push(format!("derived at these sizes: {} {}", terms_text.join(" + "), target.unit.name()));
    let claimed_value = algebra::evaluate(claimed, &r.values).ok();
    if close {
        evidence.push(format!(
            "every coefficient agrees to the precision written (±{}%)",
            dim::decimal(&(tolerance * Rational::from_integer(100.into())), 4)
        ));
        return Finding::holds(
            "holds: equal to the derivation to the precision written".into(),
            part.clone(),
            evidence,
        );
    }
    // Off: the claim as a number, within the same relative precision.
    let absolute = claimed_value.as_ref().map(|v| tolerance * v.abs()).unwrap_or_default();
    let _ = claim;
    compare_values(r, claimed_value, target, part.clone(), evidence, "the formula", &absolute)
}

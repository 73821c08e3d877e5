//! A stated number against the derivation: read with its unit, compared within the precision it is
//! written to (or the claim's tolerance), with the known factors that would explain a difference.

use super::claim::Claim;
use super::reference::{Dimension, Reference};
use super::{Family, Finding, Target, Verdict, unreadable};
use crate::algebra::{self, Expr, Rational};
use crate::dim::{self, Base, Unit};
use num_traits::{One, Signed, Zero};
use std::ops::Range;

/// A stated value against the derivation (and against its own formula, when one precedes it).
pub(super) fn check_number(
    claim: &Claim,
    part: &Range<usize>,
    marked: &Expr,
    target: &Target,
    formula: Option<&(Rational, Range<usize>)>,
    r: &Reference,
) -> Finding {
    let text = &claim.text[part.clone()];
    let stated = match algebra::evaluate(&r.unmark(marked), &Default::default()) {
        Ok(v) => v,
        Err(_) => return unreadable("not a number".into(), part.clone()),
    };
    let unit = &target.unit;
    let mut evidence = Vec::new();
    if let Ok(Dimension::Known(u)) = r.dimension(marked)
        && u != *unit
        && *unit != Unit::none()
    {
        return Finding {
            verdict: Verdict::Wrong,
            headline: format!("dimension error: {} is in {}, the quantity is in {}", text, u.name(), unit.name()),
            caret: part.clone(),
            label: format!("this is in {}", u.name()),
            evidence,
            fix: None,
            labels: vec![],
        };
    }
    // Impossible results come first: they are wrong whatever the formula.
    if target.family == Family::Batch && (stated <= Rational::zero() || !stated.is_integer()) {
        evidence.push("a batch size is a whole number of sequences, at least 1".into());
        match (&target.value, &target.verdict) {
            (Some(v), _) => evidence.push(format!("derived: {}", shown(v, unit))),
            (None, Some(words)) => evidence.push(format!("derived: {words}")),
            _ => {}
        }
        return Finding {
            verdict: Verdict::Wrong,
            headline: format!("impossible: a batch size of {}", dim::exact(&stated)),
            caret: part.clone(),
            label: "not a batch size".into(),
            evidence,
            fix: target.value.as_ref().map(|v| format!("{} = {}", &claim.text[claim.lhs.clone()], dim::exact(v))),
            labels: vec![],
        };
    }
    let name = &claim.text[claim.lhs.clone()];
    if name.trim() == "mfu" && stated > Rational::one() {
        return Finding {
            verdict: Verdict::Wrong,
            headline: "impossible: MFU above 100%".into(),
            caret: part.clone(),
            label: "more than the hardware's peak".into(),
            evidence: vec!["model FLOPs utilisation is a fraction of peak, at most 1".into()],
            fix: None,
            labels: vec![],
        };
    }
    let tolerance = tolerance_for(text, claim.tolerance.as_deref(), &stated);
    let close = |a: &Rational, b: &Rational| (a - b).abs() <= tolerance;
    if let Some((value, span)) = formula
        && !close(value, &stated)
    {
        evidence.push(format!("its own formula gives {}", shown(value, unit)));
        evidence.push(format!("stated: {text}, after `{}`", &claim.text[span.clone()]));
        return Finding {
            verdict: Verdict::Wrong,
            headline: "arithmetic: the stated number does not follow from its own formula".into(),
            caret: part.clone(),
            label: format!("should be {}", dim::display(value, unit)),
            evidence,
            fix: Some(format!("{} = {}", name, dim::display(value, unit))),
            labels: vec![],
        };
    }
    compare_values(r, Some(stated), target, part.clone(), evidence, text, &tolerance)
}

/// Half a unit in the last written place, times the unit's factor; or the claim's own tolerance.
pub(super) fn tolerance_for(text: &str, explicit: Option<&str>, stated: &Rational) -> Rational {
    if let Some(t) = explicit {
        let (number, percent) = match t.trim().strip_suffix('%') {
            Some(n) => (n, true),
            None => (t.trim(), false),
        };
        if let Some(mut v) = algebra::parse_decimal(number) {
            if percent {
                v /= Rational::from_integer(100.into());
            }
            return v * stated.abs();
        }
    }
    let literal = algebra::number_literals(text, algebra::Syntax::people()).into_iter().next();
    let Some((span, value)) = literal else { return Rational::zero() };
    let written = &text[span];
    let digits: String = written.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',').collect();
    let places = digits.split_once('.').map(|(_, f)| f.len()).unwrap_or(0);
    // The written number scaled to the stated value: unit factors and magnitude suffixes.
    let scale = if value.is_zero() { Rational::one() } else { stated / &value };
    let plain = algebra::parse_decimal(&digits.replace(',', "")).unwrap_or_else(Rational::one);
    let suffix_scale = if plain.is_zero() { Rational::one() } else { &value / plain };
    let half_ulp = Rational::new(1.into(), 2.into()) / Rational::from_integer(num_traits::pow(10.into(), places));
    half_ulp * scale * suffix_scale
}

pub(super) fn compare_values(
    r: &Reference,
    claimed: Option<Rational>,
    target: &Target,
    caret: Range<usize>,
    mut evidence: Vec<String>,
    what: &str,
    tolerance: &Rational,
) -> Finding {
    let unit = &target.unit;
    match (&claimed, &target.value) {
        (Some(c), Some(d)) if (c - d).abs() <= *tolerance => {
            Finding::holds(format!("holds: {}", shown(d, unit)), caret, evidence)
        }
        (Some(_), None) if target.family != Family::Batch => Finding {
            verdict: Verdict::Unreadable,
            headline: format!(
                "cannot check: {}",
                target.verdict.clone().unwrap_or_else(|| "the quantity has no value at these sizes".into())
            ),
            caret,
            label: String::new(),
            evidence,
            fix: None,
            labels: vec![],
        },
        (Some(_), None) => {
            if let Some(words) = &target.verdict {
                evidence.push(format!("derived: {words}"));
            }
            Finding {
                verdict: Verdict::Wrong,
                headline: "wrong: no batch fits, not even one sequence".into(),
                caret,
                label: "no batch size fits".into(),
                evidence,
                fix: Some("shorten T, recompute activations, lower the precision, or use more memory".into()),
                labels: vec![],
            }
        }
        (Some(c), Some(d)) => {
            evidence.push(format!("claimed: {}", shown(c, unit)));
            evidence.push(format!("derived: {}", shown(d, unit)));
            if !d.is_zero() {
                let ratio = c / d;
                for cause in causes(r, c, d, tolerance, target.family) {
                    evidence.push(format!("likely cause: {cause}"));
                }
                evidence.push(format!("ratio claimed/derived: {}", dim::decimal(&ratio, 4)));
            }
            Finding {
                verdict: Verdict::Wrong,
                headline: format!("wrong: {} is not {}", what, dim::display(d, unit)),
                caret,
                label: format!("derived: {}", dim::display(d, unit)),
                evidence,
                fix: None,
                labels: vec![],
            }
        }
        (None, _) => Finding {
            verdict: Verdict::Unreadable,
            headline: "the formula has symbols without values at these sizes".into(),
            caret,
            label: String::new(),
            evidence,
            fix: None,
            labels: vec![],
        },
    }
}

/// Likely causes of `claimed` ≠ `derived`: every known factor k with |claimed − k·derived| within
/// the tolerance of the claim (0 for formulas).
pub(super) fn causes(
    r: &Reference,
    claimed: &Rational,
    derived: &Rational,
    tolerance: &Rational,
    family: Family,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for cause in &r.data.causes {
        if cause.family.as_deref().is_some_and(|f| f != family.id()) {
            continue;
        }
        if (claimed - &cause.factor * derived).abs() <= *tolerance && !out.contains(&cause.text) {
            out.push(cause.text.clone());
        }
    }
    out
}

pub(super) fn shown(v: &Rational, unit: &Unit) -> String {
    let exact = dim::exact_with_unit(v, unit);
    let rounded = dim::display(v, unit);
    if exact == rounded || !v.is_integer() || unit.is(Base::Second) {
        rounded
    } else {
        format!("{exact} ≈ {rounded}")
    }
}

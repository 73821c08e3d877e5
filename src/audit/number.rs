//! A stated number against the derivation: read with its unit, compared within the precision it is
//! written to (or the claim's tolerance), with the known factors that would explain a difference.

use super::claim::Claim;
use super::dimension::Dimension;
use super::explain::Explanation;
use super::reference::Reference;
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
    // Sizes, counts, bytes, FLOPs and times are never negative, whatever the model.
    if stated < Rational::zero() && target.family != Family::Other {
        let what = match target.family {
            Family::Memory => "an amount of memory",
            Family::Flops => "a FLOP count",
            Family::Time => "a duration",
            _ => "a count",
        };
        if let Some(v) = &target.value {
            evidence.push(format!("derived: {}", shown(v, unit)));
        }
        return Finding {
            verdict: Verdict::Wrong,
            headline: format!("impossible: {what} cannot be negative ({text})"),
            caret: part.clone(),
            label: "negative".into(),
            evidence,
            fix: target.value.as_ref().map(|v| format!("{name} = {}", dim::display(v, unit))),
            labels: vec![],
        };
    }
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
    let text = text.trim_end().strip_suffix('%').unwrap_or(text);
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
        (Some(c), None) => {
            if let Some(words) = &target.verdict {
                evidence.push(format!("derived: {words}"));
            }
            if let Some(found) = explain_value(r, c, target, tolerance) {
                let no_value = Rational::zero();
                return explained(r, &found, &no_value, target, caret, evidence);
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
            if let Some(found) = explain_value(r, c, target, tolerance) {
                return explained(r, &found, d, target, caret, evidence);
            }
            // A near miss that rounds to the same display (2,127,060,800 vs 2.13B) is told by its
            // exact difference, and by the op whose parameters it equals when there is one.
            let near = dim::display(c, unit) == dim::display(d, unit);
            if !d.is_zero() && !near {
                evidence.push(format!("ratio claimed/derived: {}", dim::decimal(&(c / d), 4)));
            }
            if !d.is_zero() {
                evidence.push("no reading explains the difference".into());
            }
            let headline = match near {
                true => near_miss(r, c, d, unit),
                false => format!("wrong: {} is not {}", what, dim::display(d, unit)),
            };
            Finding {
                verdict: Verdict::Wrong,
                headline,
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

/// The headline of a claimed value that differs from the derived one by less than their display
/// shows: the exact difference, and for parameters the op (once, or in every repeat of its stage)
/// whose parameter count it equals (`3,200 params more: as many as final LayerNorm's, 2H`).
fn near_miss(r: &Reference, claimed: &Rational, derived: &Rational, unit: &Unit) -> String {
    let difference = claimed - derived;
    let size = difference.abs();
    let direction = if difference.is_positive() { "more" } else { "fewer" };
    let exact = dim::exact_with_unit(&size, unit);
    let head = format!("wrong: {exact} {direction} than the derived {}", dim::exact_with_unit(derived, unit));
    if !unit.is(Base::Param) {
        return head;
    }
    let value = |e: &Expr| algebra::evaluate(e, &r.values).ok();
    for stage in &r.model.stages {
        let repeat = value(&stage.repeat).unwrap_or_else(Rational::one);
        for op in &stage.ops {
            let params = op.params();
            let Some(per) = value(&params).filter(|v| !v.is_zero()) else { continue };
            let formula = algebra::print(&params, algebra::Notation::Unicode);
            if per == size {
                return format!("{head}: as many as {}'s ({formula}, in {})", op.name, stage.name);
            }
            if per.clone() * repeat.clone() == size && !repeat.is_one() {
                let times = algebra::print(&stage.repeat, algebra::Notation::Unicode);
                return format!("{head}: as many as {}'s in every {} ({times} × {formula})", op.name, stage.name);
            }
        }
    }
    // A few copies of one op (two norm vectors): the first op whose count divides the difference.
    for stage in &r.model.stages {
        for op in &stage.ops {
            let params = op.params();
            let Some(per) = value(&params).filter(|v| !v.is_zero()) else { continue };
            if let Some(n) = (2..=4).find(|n| per.clone() * Rational::from_integer((*n).into()) == size) {
                let formula =
                    algebra::print(&(Expr::num(Rational::from_integer(n.into())) * params), algebra::Notation::Unicode);
                return format!("{head}: as many as {n} × {}'s ({formula}, in {})", op.name, stage.name);
            }
        }
    }
    head
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

/// The readings under which a stated value is right: the first, with the others that also match.
fn explain_value<'a>(
    r: &'a Reference,
    claimed: &Rational,
    target: &'a Target,
    tolerance: &Rational,
) -> Option<Vec<Explanation<'a>>> {
    let found = target.search(r, &[])?.value(claimed, tolerance);
    (!found.is_empty()).then_some(found)
}

/// A finding for a stated value that a reading (or a pair) explains.
fn explained(
    r: &Reference,
    found: &[Explanation],
    derived: &Rational,
    target: &Target,
    caret: Range<usize>,
    mut evidence: Vec<String>,
) -> Finding {
    let first = &found[0];
    let described = first.describe(r);
    let unit = &target.unit;
    if let Some(v) = &first.value {
        evidence.push(format!("under `{}`: {}", first.ids(), shown(v, unit)));
    }
    let others: Vec<String> = found[1..].iter().take(3).map(|f| format!("`{}`", f.ids())).collect();
    if !others.is_empty() {
        evidence.push(format!("also consistent with: {}", others.join(", ")));
    }
    let shown_derived = target.value.as_ref().map(|_| dim::display(derived, unit));
    Finding {
        verdict: described.verdict,
        headline: described.headline,
        caret,
        label: match (&described.verdict, &shown_derived) {
            (Verdict::Wrong, Some(d)) => format!("derived: {d}"),
            _ => String::new(),
        },
        evidence,
        fix: match described.verdict {
            Verdict::HoldsUnder => described.options.map(|o| format!("to derive under it: {o}")),
            _ => None,
        },
        labels: vec![],
    }
}

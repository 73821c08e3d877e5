//! Auditing hand-written claims: each claim's formula and stated number are read the way people
//! write them, compared with the derivation (symbolically, then numerically), and every difference is
//! explained — a constant factor with its likely causes, missing or extra terms attributed to the
//! ops they belong to, a dimension error with both units, arithmetic that does not follow from its
//! own formula, an impossible result. The audit never prints; `report` renders it.

pub mod claim;
mod derived;
mod dimension;
mod explain;
mod formula;
mod number;
pub mod readings;
mod rounded;
mod terms;

use formula::check_formula;
use number::check_number;
pub mod reference;
pub mod report;
pub mod request;

use crate::algebra::{self, Expr, Rational};
use crate::diagnostic::{Diagnostic, Kind, Label, Source};
use crate::dim::{Base, Unit};
use crate::quantity::largest_batch;
use claim::Claim;
use dimension::{Dimension, Mismatch};
use num_traits::Zero;
use reference::Reference;
use std::ops::Range;
use std::sync::Arc;

/// How a claim (or one of its right sides) came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Equal to the derivation as formulas.
    Holds,
    /// Right under another legitimate convention or as a standard approximation.
    HoldsUnder,
    /// Equal in value at these sizes only.
    HoldsNumerically,
    /// Not what the derivation gives.
    Wrong,
    /// Could not be read.
    Unreadable,
}

/// What was found about one side of a claim.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The verdict of this side.
    pub verdict: Verdict,
    /// One line saying what is wrong (or right).
    pub headline: String,
    /// Where in the claim to point (byte range of the claim text).
    pub caret: Range<usize>,
    /// A short label under the caret.
    pub label: String,
    /// Supporting facts, one per line.
    pub evidence: Vec<String>,
    /// A suggested correction.
    pub fix: Option<String>,
    /// Other labelled places of the claim (the two operands of a unit clash).
    pub labels: Vec<Label>,
}

impl Finding {
    /// A claim that holds, with the evidence for it.
    pub(super) fn holds(headline: String, caret: Range<usize>, evidence: Vec<String>) -> Finding {
        Finding { verdict: Verdict::Holds, headline, caret, label: String::new(), evidence, fix: None, labels: vec![] }
    }

    /// The finding as a diagnostic on the claim's text.
    pub fn diagnostic(&self, claim: &Claim) -> Diagnostic {
        let kind = match self.verdict {
            Verdict::Holds => Kind::Holds,
            Verdict::HoldsNumerically | Verdict::HoldsUnder => Kind::Note,
            Verdict::Wrong => Kind::Wrong,
            Verdict::Unreadable => Kind::Error,
        };
        let source = Arc::new(Source { name: format!("claim {}", claim.id), text: claim.text.clone() });
        let mut d = Diagnostic::new(kind, &self.headline).with_code(&claim.id).in_source(source);
        // Labels on the parts (the two operands of a dimension clash) say more than one label on
        // the whole; drawn together they only cross each other.
        if self.labels.is_empty() {
            d = d.with_label(Label::primary(self.caret.clone(), &self.label));
        } else {
            d.labels = self.labels.clone();
            d.labels[0].primary = true;
        }
        d.notes = self.evidence.clone();
        // The corrected claim reads as the last line of evidence, after what it corrects.
        d.notes.extend(self.fix.iter().map(|fix| format!("fix: {fix}")));
        d
    }
}

/// The audit of one claim.
#[derive(Clone, Debug)]
pub struct ClaimReport {
    /// The claim.
    pub claim: Claim,
    /// Findings, one or more per right side.
    pub findings: Vec<Finding>,
}

impl Target {
    /// A search for the readings that explain a claim about this left side.
    fn search<'a, 'e>(
        &'a self,
        r: &'a Reference<'e>,
        relations: &'a [(String, Expr)],
    ) -> Option<explain::Search<'a, 'e>> {
        let lhs = match (&self.marked, &self.budget) {
            (Some(marked), _) => explain::Lhs::Formula(marked),
            (None, Some(budget)) => explain::Lhs::Batch(budget.clone()),
            (None, None) => return None,
        };
        Some(explain::Search::new(r, lhs, relations))
    }
}

impl ClaimReport {
    /// The worst verdict among the findings.
    pub fn verdict(&self) -> Verdict {
        self.findings.iter().map(|f| f.verdict).max().unwrap_or(Verdict::Holds)
    }
}

/// The audit of all claims.
#[derive(Clone, Debug)]
pub struct Report {
    /// What the claims were checked against.
    pub model: String,
    /// One report per claim, in order.
    pub claims: Vec<ClaimReport>,
    /// A claim that holds only under another convention counts as wrong (`--strict`).
    pub strict: bool,
}

impl Report {
    /// 0 every claim holds (under some convention, unless strict), 1 some claim is wrong, 2 some
    /// claim could not be read.
    pub fn exit_code(&self) -> u8 {
        match self.claims.iter().map(ClaimReport::verdict).max() {
            Some(Verdict::Unreadable) => 2,
            Some(Verdict::Wrong) => 1,
            _ if self.strict && self.claims.iter().any(|c| c.verdict() == Verdict::HoldsUnder) => 1,
            _ => 0,
        }
    }
}

/// What the left side of a claim refers to.
struct Target {
    /// Its rules-built expression (None for batch.max, which is solved, not summed).
    expr: Option<Expr>,
    /// The left side as read, quantities as markers (for re-deriving it under readings).
    marked: Option<Expr>,
    /// The budget of `batch.max(…)`.
    budget: Option<Rational>,
    /// Its exact value (None when it does not exist, e.g. a batch that does not fit).
    value: Option<Rational>,
    unit: Unit,
    /// Words for a value that does not exist.
    verdict: Option<String>,
    /// Kind of quantity, for the causes table.
    family: Family,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Memory,
    Flops,
    Time,
    Count,
    Batch,
    Other,
}

fn family_of(unit: &Unit) -> Family {
    if unit.is(Base::Byte) {
        Family::Memory
    } else if unit.is(Base::Flop) {
        Family::Flops
    } else if unit.is(Base::Second) {
        Family::Time
    } else if unit.is(Base::Param) {
        Family::Count
    } else if unit.is(Base::Sequence) {
        Family::Batch
    } else {
        Family::Other
    }
}

/// Labels on the first term of a sum in each of two clashing units, so a dimension error points at
/// both operands: the formula is split at its top-level `+` and `−`, each term read on its own.
pub(super) fn operand_labels(text: &str, offset: usize, r: &Reference, (a, b): (&Unit, &Unit)) -> Vec<Label> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            // A sign inside a number's exponent (1e-9) does not split.
            '+' | '-' | '−' if depth == 0 && !(i > 0 && matches!(bytes[i - 1], b'e' | b'E')) => {
                terms.push(start..i);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    terms.push(start..text.len());
    let unit_of = |span: &Range<usize>| match r.read(&text[span.clone()], false).map(|rd| r.dimension(&rd.marked)) {
        Ok(Ok(Dimension::Known(u))) => Some(u),
        _ => None,
    };
    let trimmed = |span: &Range<usize>| {
        let t = &text[span.clone()];
        let lead = t.len() - t.trim_start().len();
        span.start + lead..span.start + lead + t.trim().len()
    };
    [a, b]
        .into_iter()
        .filter_map(|unit| {
            let span = terms.iter().find(|s| unit_of(s).as_ref() == Some(unit))?;
            Some(Label::secondary(shift(&trimmed(span), offset), format!("this is in {}", unit.name())))
        })
        .collect()
}

pub(super) fn shift(r: &Range<usize>, by: usize) -> Range<usize> {
    r.start + by..r.end + by
}

pub(super) fn unreadable(message: String, caret: Range<usize>) -> Finding {
    Finding {
        verdict: Verdict::Unreadable,
        headline: message,
        caret,
        label: "here".into(),
        evidence: vec![],
        fix: None,
        labels: vec![],
    }
}

/// A quantity written as if it took an argument (`flops.step(80GB)`, `params[0]`): only
/// `batch.max(BUDGET)` takes one, and reading the bracket as a product would claim something
/// nobody meant.
fn quantity_called(text: &str, offset: usize, r: &Reference) -> Option<Finding> {
    let bytes = text.as_bytes();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let in_name = c.is_alphanumeric() || c == '_' || (c == '.' && start.is_some());
        match (in_name, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let name = &text[s..i];
                if matches!(bytes[i], b'(' | b'[') && name.contains('.') && r.quantity(name).is_some() {
                    return Some(unreadable(
                        format!(
                            "`{name}` takes no argument (only batch.max(BUDGET) does); to multiply, write {name} * {}",
                            &text[i..]
                        ),
                        offset + s..offset + i + 1,
                    ));
                }
                start = None;
            }
            _ => {}
        }
    }
    None
}

/// Checks every claim against the reference.
pub fn check(claims: &[Claim], reference: &Reference) -> Report {
    let reports =
        claims.iter().map(|c| ClaimReport { claim: c.clone(), findings: check_claim(c, reference) }).collect();
    Report { model: reference.id.clone(), claims: reports, strict: false }
}

fn check_claim(claim: &Claim, r: &Reference) -> Vec<Finding> {
    let lhs_text = &claim.text[claim.lhs.clone()];
    let target = match target(lhs_text, claim.lhs.start, r) {
        Ok(t) => t,
        Err(f) => return vec![*f],
    };
    let mut findings = Vec::new();
    let mut formula_value: Option<(Rational, Range<usize>)> = None;
    // A stated count (parameters, FLOPs, tokens) reads `8B` as 8 billion: 8 times the batch size is
    // no count anyone states.
    let counts = matches!(target.family, Family::Count | Family::Flops);
    for part in &claim.rhs {
        let text = &claim.text[part.clone()];
        if r.is_stated_number(text, counts) {
            match r.read_stated(text, counts) {
                Ok(stated) => {
                    let mut finding = check_number(claim, part, &stated.marked, &target, formula_value.as_ref(), r);
                    finding.evidence.extend(stated.notes);
                    findings.push(finding)
                }
                Err(e) => findings.push(unreadable(e.message, shift(&e.span, part.start))),
            }
            continue;
        }
        match r.read(text, false) {
            Err(e) => findings.push(unreadable(e.message, shift(&e.span, part.start))),
            Ok(reading) => {
                let (finding, value) = check_formula(claim, part, &reading, &target, r);
                formula_value = value.map(|v| (v, part.clone()));
                findings.push(finding);
            }
        }
    }
    findings
}

/// Resolves the left side: a quantity expression, or `batch.max(BUDGET)`.
/// What the left side names: its formula, value, unit and family (a finding when it cannot be read;
/// boxed, as findings are large and the error is the rare path).
fn target(text: &str, offset: usize, r: &Reference) -> Result<Target, Box<Finding>> {
    if let Some(inner) = text.strip_prefix("batch.max(").and_then(|t| t.strip_suffix(')')) {
        let budget = r
            .data
            .units
            .parse_bytes(inner)
            .map_err(|e| unreadable(e, offset + "batch.max(".len()..offset + text.len() - 1))?;
        let Some(line) = r.batch_line() else {
            return Err(
                unreadable("training memory is not linear in B here".into(), offset..offset + text.len()).into()
            );
        };
        let fit = largest_batch(&line.a, &line.b, &budget);
        let (value, verdict) = (fit.largest(), fit.verdict());
        return Ok(Target {
            expr: None,
            marked: None,
            budget: Some(budget),
            value,
            unit: Unit::of(Base::Sequence),
            verdict,
            family: Family::Batch,
        });
    }
    if let Some(finding) = quantity_called(text, offset, r) {
        return Err(Box::new(finding));
    }
    if text.trim() == "mfu" && r.quantity("mfu").is_none() {
        // Without a measured throughput there is no MFU to compare with, but an impossible one is
        // still impossible.
        return Ok(Target {
            expr: None,
            marked: None,
            budget: None,
            value: None,
            unit: Unit::none(),
            verdict: Some("no measured throughput given (--tokens-per-second)".into()),
            family: Family::Other,
        });
    }
    if let Some(unit) = r.unit_name(text.trim()) {
        return Err(Box::new(unreadable(
            format!(
                "`{}` is a unit, not a quantity; name what is claimed, e.g. {}",
                text.trim(),
                r.quantities_in(&unit).join(", ")
            ),
            offset..offset + text.len(),
        )));
    }
    let reading = r.read(text, false).map_err(|e| unreadable(e.message, shift(&e.span, offset)))?;
    let unit = match r.dimension(&reading.marked) {
        Ok(Dimension::Known(u)) => u,
        // A number times a quantity on the left (`2 * memory.params`) keeps the quantity's unit:
        // on the right a bare number may stand for bytes per parameter, on the left it cannot.
        Ok(Dimension::Free) => r.unit_of_quantities(&reading.marked).unwrap_or_else(Unit::none),
        Err(Mismatch(a, b)) => {
            return Err(Box::new(Finding {
                verdict: Verdict::Wrong,
                headline: format!("the left side adds {} to {}", a.name(), b.name()),
                caret: offset..offset + text.len(),
                label: "different units".into(),
                evidence: vec![],
                fix: None,
                labels: operand_labels(text, offset, r, (&a, &b)),
            }));
        }
    };
    let expr = r.unmark(&reading.marked);
    // A left side that is zero whatever the sizes (`0`, `params - params`) names nothing to
    // check, and nothing can be compared with it as a ratio.
    if r.engine.same(&expr, &Expr::num(Rational::zero())).unwrap_or(false) {
        return Err(Box::new(unreadable(
            "the left side is zero whatever the sizes; name the quantity the claim is about, e.g. params = 2VH + L(16H² + 2H) + H".into(),
            offset..offset + text.len(),
        )));
    }
    let value = algebra::evaluate(&expr, &r.values).ok();
    let verdict = if value.is_none() { r.quantity(text.trim()).and_then(|(_, q)| q.verdict.clone()) } else { None };
    Ok(Target {
        expr: Some(expr),
        marked: Some(reading.marked),
        budget: None,
        value,
        family: family_of(&unit),
        unit,
        verdict,
    })
}

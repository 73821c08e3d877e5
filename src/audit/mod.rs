//! Auditing hand-written claims: each claim's formula and stated number are read the way people
//! write them, compared with the derivation (symbolically, then numerically), and every difference is
//! explained — a constant factor with its likely causes, missing or extra terms attributed to the
//! ops they belong to, a dimension error with both units, arithmetic that does not follow from its
//! own formula, an impossible result. The audit never prints; `report` renders it.

pub mod claim;
pub mod reference;
pub mod report;

use crate::algebra::{self, Expr, Notation, Rational, print};
use crate::diagnostic::{Diagnostic, Kind, Label, Source};
use crate::dim::{self, Base, Unit};
use crate::quantity::{BatchFit, largest_batch};
use claim::Claim;
use num_traits::{One, Signed, Zero};
use reference::{Dimension, Reference};
use std::ops::Range;
use std::sync::Arc;

/// How a claim (or one of its right sides) came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Equal to the derivation as formulas.
    Holds,
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
    /// The finding as a diagnostic on the claim's text.
    pub fn diagnostic(&self, claim: &Claim) -> Diagnostic {
        let kind = match self.verdict {
            Verdict::Holds => Kind::Holds,
            Verdict::HoldsNumerically => Kind::Note,
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
}

impl Report {
    /// 0 every claim holds, 1 some claim is wrong, 2 some claim could not be read.
    pub fn exit_code(&self) -> u8 {
        match self.claims.iter().map(ClaimReport::verdict).max() {
            Some(Verdict::Unreadable) => 2,
            Some(Verdict::Wrong) => 1,
            _ => 0,
        }
    }
}

/// What the left side of a claim refers to.
struct Target {
    /// Its rules-built expression (None for batch.max, which is solved, not summed).
    expr: Option<Expr>,
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

impl Family {
    /// The name data files use for it (`derivations/causes.toml`).
    fn id(self) -> &'static str {
        match self {
            Family::Memory => "memory",
            Family::Flops => "flops",
            Family::Time => "time",
            Family::Count => "count",
            Family::Batch => "batch",
            Family::Other => "other",
        }
    }
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
    } else {
        Family::Other
    }
}

/// Labels on the first term of a sum in each of two clashing units, so a dimension error points at
/// both operands: the formula is split at its top-level `+` and `−`, each term read on its own.
fn operand_labels(text: &str, offset: usize, r: &Reference, (a, b): (&Unit, &Unit)) -> Vec<Label> {
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

fn shift(r: &Range<usize>, by: usize) -> Range<usize> {
    r.start + by..r.end + by
}

fn unreadable(message: String, caret: Range<usize>) -> Finding {
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

/// Checks every claim against the reference.
pub fn check(claims: &[Claim], reference: &Reference) -> Report {
    let reports =
        claims.iter().map(|c| ClaimReport { claim: c.clone(), findings: check_claim(c, reference) }).collect();
    Report { model: reference.id.clone(), claims: reports }
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
        let total = r.quantity("memory.total").map(|(_, q)| q.raw.clone());
        let batch = crate::symbol::Role::Batch.symbol();
        let coefficients = total.as_ref().and_then(|t| r.engine.coefficients(t, batch).ok().flatten());
        let values: std::collections::BTreeMap<String, Rational> =
            r.values.iter().filter(|(k, _)| *k != batch).map(|(k, v)| (k.clone(), v.clone())).collect();
        let coefficient =
            |k: i32| coefficients.as_ref().and_then(|c| c.get(&k)).and_then(|e| algebra::evaluate(e, &values).ok());
        let (Some(a), Some(b)) = (coefficient(1), coefficient(0)) else {
            return Err(
                unreadable("training memory is not linear in B here".into(), offset..offset + text.len()).into()
            );
        };
        let (value, verdict) = match largest_batch(&a, &b, &budget) {
            BatchFit::Largest(n) => (Some(n), None),
            BatchFit::Unbounded => (None, Some("any batch fits: memory does not grow with B".to_string())),
            BatchFit::DoesNotFit(missing) => {
                (None, Some(format!("even B = 1 does not fit: one sequence needs {} more", dim::bytes(&missing))))
            }
        };
        return Ok(Target { expr: None, value, unit: Unit::of(Base::Sequence), verdict, family: Family::Batch });
    }
    if text.trim() == "mfu" && r.quantity("mfu").is_none() {
        // Without a measured throughput there is no MFU to compare with, but an impossible one is
        // still impossible.
        return Ok(Target {
            expr: None,
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
        Ok(Dimension::Free) => Unit::none(),
        Err(reference::Mismatch(a, b)) => {
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
    let value = algebra::evaluate(&expr, &r.values).ok();
    let verdict = if value.is_none() { r.quantity(text.trim()).and_then(|(_, q)| q.verdict.clone()) } else { None };
    Ok(Target { expr: Some(expr), value, family: family_of(&unit), unit, verdict })
}

/// Likely causes of `claimed` ≠ `derived`: every known factor k with |claimed − k·derived| within
/// the tolerance of the claim (0 for formulas).
fn causes(r: &Reference, claimed: &Rational, derived: &Rational, tolerance: &Rational, family: Family) -> Vec<String> {
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

fn number_text(v: &Rational) -> String {
    if v.is_integer() { v.numer().to_string() } else { format!("{}/{}", v.numer(), v.denom()) }
}

fn shown(v: &Rational, unit: &Unit) -> String {
    let exact = dim::exact_with_unit(v, unit);
    let rounded = dim::display(v, unit);
    if exact == rounded || !v.is_integer() || unit.is(Base::Second) {
        rounded
    } else {
        format!("{exact} ≈ {rounded}")
    }
}

/// The caret for a factor: a number written outside any bracket and equal to the factor (the last
/// one, where people append a conversion), if there is one.
fn factor_caret(text: &str, offset: usize, factor: &Rational) -> Option<Range<usize>> {
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

fn check_formula(
    claim: &Claim,
    part: &Range<usize>,
    reading: &reference::Reading,
    target: &Target,
    r: &Reference,
) -> (Finding, Option<Rational>) {
    let text = &claim.text[part.clone()];
    let whole = part.clone();
    let mut evidence = reading.notes.clone();
    let unit = &target.unit;
    match r.dimension(&reading.marked) {
        Err(reference::Mismatch(a, b)) => {
            let labels = operand_labels(text, part.start, r, (&a, &b));
            return (
                Finding {
                    verdict: Verdict::Wrong,
                    headline: format!("dimension error: the formula adds {} to {}", a.name(), b.name()),
                    caret: whole,
                    label: "terms in different units".into(),
                    evidence,
                    fix: Some("add quantities of one unit only".into()),
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
                    headline: format!("dimension error: expected {}, found {}", unit.name(), found.name()),
                    caret: whole,
                    label: format!("this is in {}", found.name()),
                    evidence,
                    fix: None,
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
        return (
            Finding {
                verdict: Verdict::Holds,
                headline: "holds: equal to the derivation as formulas".into(),
                caret: whole,
                label: String::new(),
                evidence,
                fix: None,
                labels: vec![],
            },
            claimed_value,
        );
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
        return (
            Finding {
                verdict: Verdict::Holds,
                headline: format!("holds: equal to the derivation as formulas, with {}", relation_words.join(", ")),
                caret: whole,
                label: String::new(),
                evidence,
                fix: None,
                labels: vec![],
            },
            claimed_value,
        );
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
    if let Some(factor) = constant_factor(r.engine, claimed, derived) {
        let mut likely = causes(r, &factor, &Rational::one(), &Rational::zero(), target.family);
        if likely.is_empty() {
            likely.push("no usual cause matches this factor".into());
        }
        for c in &likely {
            evidence.push(format!("likely cause: {c}"));
        }
        let literal = factor_caret(text, part.start, &factor);
        let caret = literal.clone().unwrap_or(whole.clone());
        let words = if factor > Rational::one() { "too large" } else { "too small" };
        let fix = literal
            .and_then(|span| without_factor(&claim.text, part, &span))
            .unwrap_or_else(|| format!("{} = {}", &claim.text[claim.lhs.clone()], closed(derived)));
        return (
            Finding {
                verdict: Verdict::Wrong,
                headline: format!("wrong by a factor of {}: {words}", number_text(&factor)),
                caret,
                label: format!("× {}", number_text(&factor)),
                evidence,
                fix: Some(fix),
                labels: vec![],
            },
            claimed_value,
        );
    }
    term_differences(claim, claimed, derived, target, whole, evidence, r, claimed_value)
}

/// The claim with the culprit factor taken out (`16 * total_params * 4` → `16 * total_params`),
/// when the factor is a plain multiplication in the formula.
fn without_factor(text: &str, part: &Range<usize>, literal: &Range<usize>) -> Option<String> {
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
fn constant_factor(engine: &algebra::Engine, claimed: &Expr, derived: &Expr) -> Option<Rational> {
    let a = engine.monomials(claimed).ok()??;
    let b = engine.monomials(derived).ok()??;
    if a.len() != b.len() || b.is_empty() {
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

#[allow(clippy::too_many_arguments)]
fn term_differences(
    claim: &Claim,
    claimed: &Expr,
    derived: &Expr,
    target: &Target,
    whole: Range<usize>,
    mut evidence: Vec<String>,
    r: &Reference,
    claimed_value: Option<Rational>,
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
        use reference::Contribution as C;
        let kinds: &[C] = match target.family {
            Family::Memory => &[C::SavedCs336, C::SavedAllOnly, C::Params],
            Family::Flops | Family::Time => &[C::Flops],
            Family::Count => &[C::Params],
            _ => &[C::Params, C::Flops, C::SavedCs336, C::SavedAllOnly],
        };
        let owners = r.attribute(&t.powers, kinds);
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
                .map(|(k, names)| {
                    let count = Rational::from_integer((names.len() as i64).into());
                    let lead = match &tensors {
                        Some(n) if *n == count => format!("exactly the {} ", names.len()),
                        Some(n) if *n < count => format!("{} of the {} ", dim::exact(n), names.len()),
                        _ => String::new(),
                    };
                    format!("{lead}{} {}", k.words(), names.join(", "))
                })
                .collect::<Vec<_>>()
                .join("; or ")
        };
        let elements = match &tensors {
            Some(n) => {
                format!(
                    " = {} tensor{} × {} bytes",
                    dim::exact(n),
                    if n.is_one() { "" } else { "s" },
                    r.bytes_per_element
                )
            }
            None => String::new(),
        };
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

/// A stated value against the derivation (and against its own formula, when one precedes it).
fn check_number(
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
fn tolerance_for(text: &str, explicit: Option<&str>, stated: &Rational) -> Rational {
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

fn compare_values(
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
        (Some(c), Some(d)) if (c - d).abs() <= *tolerance => Finding {
            verdict: Verdict::Holds,
            headline: format!("holds: {}", shown(d, unit)),
            caret,
            label: String::new(),
            evidence,
            fix: None,
            labels: vec![],
        },
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

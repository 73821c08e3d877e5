//! Explanation by derivation: a claim that differs from the derivation is re-derived under every
//! reading that concerns its left side (`derivations/readings.toml`), then under every compatible
//! pair, and the first reading under which the claim is exactly right names what the claim did.
//!
//! A formula is compared by identity testing: both sides are evaluated exactly at two fixed points
//! where every symbol has an unrelated value (a different formula agrees there only by accident),
//! and a match is confirmed symbolically. A stated number is compared with the value under the
//! reading at the bound sizes, within the precision it is written to.

use super::derived::Derived;
use super::readings::{Applied, Reading, ReadingKind, finish_expression_level};
use super::reference::Reference;
use crate::algebra::{self, Expr, Rational};
use crate::quantity::largest_batch;
use crate::symbol::Role;
use num_traits::Signed;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Readings under which a claim is exactly right, and the quantity derived under them.
pub struct Explanation<'d> {
    /// One reading, or two.
    pub readings: Vec<&'d Reading>,
    /// The claimed quantity under the readings (`None` for a largest batch, which is solved).
    pub expr: Option<Expr>,
    /// Its value at the bound sizes.
    pub value: Option<Rational>,
}

impl Explanation<'_> {
    /// The weightiest kind among the readings: a mistake outweighs an approximation, which
    /// outweighs a convention.
    pub fn kind(&self) -> ReadingKind {
        self.readings.iter().map(|r| r.kind).max().unwrap_or(ReadingKind::Convention)
    }
}

/// What the claim's left side is.
pub enum Lhs<'a> {
    /// A formula over quantities and symbols (markers as the reference reads them).
    Formula(&'a Expr),
    /// The largest batch that fits this many bytes.
    Batch(Rational),
}

/// A search for the readings that explain one claim.
pub struct Search<'a, 'e> {
    r: &'a Reference<'e>,
    lhs: Lhs<'a>,
    relations: &'a [(String, Expr)],
    /// The readings that concern the left side, in the order they are tried.
    readings: Vec<&'a Reading>,
}

/// Two fixed evaluation points: every symbol gets an unrelated residue modulo the prime of
/// [`algebra::evaluate_mod`], drawn from its name (so reports never change from run to run, and a
/// symbol has the same value whatever else a claim names).
fn points(symbols: &[String]) -> Vec<BTreeMap<String, u64>> {
    let mix = |mut z: u64| {
        // splitmix64's finaliser
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let name_hash =
        |s: &str| s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    (1u64..=2)
        .map(|seed| {
            symbols
                .iter()
                .map(|s| (s.clone(), mix(name_hash(s) ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)) % algebra::MODULUS))
                .collect()
        })
        .collect()
}

fn substitute_relations(e: Expr, relations: &[(String, Expr)]) -> Expr {
    if relations.is_empty() {
        return e;
    }
    e.substitute(&|s| relations.iter().find(|(name, _)| name == s).map(|(_, f)| f.clone()))
}

impl<'a, 'e> Search<'a, 'e> {
    /// A search over the readings that concern `lhs`; `relations` (F = 4H) are substituted in
    /// every derived form, as they were in the claim.
    pub fn new(r: &'a Reference<'e>, lhs: Lhs<'a>, relations: &'a [(String, Expr)]) -> Search<'a, 'e> {
        let names = match &lhs {
            Lhs::Formula(marked) => r.names_in(marked),
            Lhs::Batch(_) => vec!["batch.max".to_string()],
        };
        let mut readings: Vec<&Reading> =
            super::readings::Reading::all(r.data).iter().filter(|rd| names.iter().any(|n| rd.applies_to(n))).collect();
        // By rank, then in file order (the sort is stable).
        readings.sort_by_key(|rd| rd.rank);
        Search { r, lhs, relations, readings }
    }

    /// The left side under the readings that change how it is derived (options, ops, the
    /// optimizer, replaced quantities), before substitutions and scale; with the bytes per element
    /// and the training bindings (peak, utilisation, steps) in effect. Cached in the reference, for
    /// every claim about the same left side.
    fn unfinished(&self, readings: &[&Reading]) -> Option<Rc<Derived>> {
        let ids: Vec<&str> = readings.iter().map(|r| r.id.as_str()).collect();
        let key = format!("{}|{}", self.lhs_key(), ids.join("+"));
        if let Some(hit) = self.r.under_readings.borrow().get(&key) {
            return hit.clone();
        }
        let applied = Applied::new(&self.r.model, &self.r.options, self.r.data, readings);
        let result = applied.and_then(|applied| {
            let expr = match &self.lhs {
                Lhs::Formula(marked) => self.r.unmark_under(marked, &applied)?,
                Lhs::Batch(_) => applied.quantity("memory.total")?,
            };
            let mut values = self.r.values.clone();
            for (symbol, value, _) in applied.conventions.bindings().ok()? {
                values.insert(symbol, value);
            }
            Some(Rc::new(Derived { expr, bytes: applied.conventions.precision.bytes, values }))
        });
        self.r.under_readings.borrow_mut().insert(key, result.clone());
        result
    }

    /// The left side under `readings` evaluated modulo the fingerprint prime at `points` (with
    /// the relations), without building the finished formula: the unfinished derivation is
    /// evaluated at each point moved by the readings' substitutions, times their scale.
    fn fingerprint(&self, readings: &[&Reading], points: &[BTreeMap<String, u64>]) -> Option<Vec<u64>> {
        // Points give every symbol a value from its name alone, so the fingerprint depends only on
        // the left side, the readings and the relations: it is computed once per reference.
        let ids: Vec<&str> = readings.iter().map(|r| r.id.as_str()).collect();
        let relations: Vec<&str> = self.relations.iter().map(|(s, _)| s.as_str()).collect();
        let key = format!("{}|{}|{}", self.lhs_key(), ids.join("+"), relations.join(","));
        if let Some(hit) = self.r.fingerprints.borrow().get(&key) {
            return hit.clone();
        }
        let result = self.fingerprint_uncached(readings, points);
        self.r.fingerprints.borrow_mut().insert(key, result.clone());
        result
    }

    fn lhs_key(&self) -> String {
        match &self.lhs {
            Lhs::Formula(marked) => format!("{marked:?}"),
            Lhs::Batch(_) => "memory.total".to_string(),
        }
    }

    fn fingerprint_uncached(&self, readings: &[&Reading], points: &[BTreeMap<String, u64>]) -> Option<Vec<u64>> {
        let derivation: Vec<&Reading> = readings.iter().copied().filter(|r| !r.is_expression_level()).collect();
        let derived = self.unfinished(&derivation)?;
        let (e, bytes) = (&derived.expr, derived.bytes);
        let substitutions: Vec<&(String, Expr)> = readings.iter().flat_map(|r| r.substitute.iter()).collect();
        let scales: Vec<&Expr> = readings.iter().filter_map(|r| r.scale.as_ref()).collect();
        points
            .iter()
            .map(|point| {
                let mut at = point.clone();
                for (symbol, formula) in self.relations {
                    at.insert(symbol.clone(), algebra::evaluate_mod(formula, point)?);
                }
                at.insert("bytes".into(), bytes as u64);
                let mut moved = at.clone();
                for (symbol, formula) in &substitutions {
                    moved.insert(symbol.clone(), algebra::evaluate_mod(formula, &at)?);
                }
                let mut value = algebra::evaluate_mod(e, &moved)?;
                for s in &scales {
                    value =
                        ((value as u128 * algebra::evaluate_mod(s, &at)? as u128) % algebra::MODULUS as u128) as u64;
                }
                Some(value)
            })
            .collect()
    }

    /// The left side under `readings` at the bound sizes in floating point, the same way.
    fn estimate(&self, readings: &[&Reading]) -> Option<f64> {
        let ids: Vec<&str> = readings.iter().map(|r| r.id.as_str()).collect();
        let key = format!("{}|{}", self.lhs_key(), ids.join("+"));
        if let Some(hit) = self.r.estimates.borrow().get(&key) {
            return *hit;
        }
        let result = self.estimate_uncached(readings);
        self.r.estimates.borrow_mut().insert(key, result);
        result
    }

    fn estimate_uncached(&self, readings: &[&Reading]) -> Option<f64> {
        use num_traits::ToPrimitive;
        let derivation: Vec<&Reading> = readings.iter().copied().filter(|r| !r.is_expression_level()).collect();
        let derived = self.unfinished(&derivation)?;
        let e = &derived.expr;
        let mut at: BTreeMap<String, f64> =
            derived.values.iter().filter_map(|(k, v)| Some((k.clone(), v.to_f64()?))).collect();
        at.insert("bytes".into(), derived.bytes as f64);
        let mut moved = at.clone();
        for (symbol, formula) in readings.iter().flat_map(|r| r.substitute.iter()) {
            moved.insert(symbol.clone(), algebra::evaluate_f64(formula, &at)?);
        }
        let mut value = algebra::evaluate_f64(e, &moved)?;
        for s in readings.iter().filter_map(|r| r.scale.as_ref()) {
            value *= algebra::evaluate_f64(s, &at)?;
        }
        Some(value)
    }

    /// The left side (for a largest batch: the training memory) under `readings`, finished.
    fn finished_under(&self, readings: &[&Reading]) -> Option<Expr> {
        Some(self.finished_with_values(readings)?.0)
    }

    /// The same, with the symbol values under the readings.
    fn finished_with_values(&self, readings: &[&Reading]) -> Option<(Expr, BTreeMap<String, Rational>)> {
        let derivation: Vec<&Reading> = readings.iter().copied().filter(|r| !r.is_expression_level()).collect();
        let derived = self.unfinished(&derivation)?;
        Some((finish_expression_level(derived.expr.clone(), readings, derived.bytes), derived.values.clone()))
    }

    /// The derived form of the left side under `readings`.
    fn expr_under(&self, readings: &[&Reading]) -> Option<Expr> {
        let Lhs::Formula(_) = &self.lhs else { return None };
        Some(substitute_relations(self.finished_under(readings)?, self.relations))
    }

    /// The value of the left side under `readings` at the bound sizes (cached in the reference).
    fn value_under(&self, readings: &[&Reading]) -> Option<Rational> {
        let ids: Vec<&str> = readings.iter().map(|r| r.id.as_str()).collect();
        let budget = match &self.lhs {
            Lhs::Batch(b) => b.to_string(),
            Lhs::Formula(_) => String::new(),
        };
        let key = format!("{}|{}|{budget}", self.lhs_key(), ids.join("+"));
        if let Some(hit) = self.r.exact_values.borrow().get(&key) {
            return hit.clone();
        }
        let result = self.value_under_uncached(readings);
        self.r.exact_values.borrow_mut().insert(key, result.clone());
        result
    }

    fn value_under_uncached(&self, readings: &[&Reading]) -> Option<Rational> {
        match &self.lhs {
            Lhs::Formula(_) => {
                let (e, values) = self.finished_with_values(readings)?;
                algebra::evaluate(&substitute_relations(e, self.relations), &values).ok()
            }
            Lhs::Batch(budget) => {
                let (total, values) = self.finished_with_values(readings)?;
                let batch = Role::Batch.symbol();
                let at = |b: i64| {
                    let mut values = values.clone();
                    values.insert(batch.to_string(), Rational::from_integer(b.into()));
                    algebra::evaluate(&total, &values).ok()
                };
                let (zero, one, two) = (at(0)?, at(1)?, at(2)?);
                // Only memory that grows linearly with B has a largest batch of this form.
                if &two - &one != &one - &zero {
                    return None;
                }
                largest_batch(&(&one - &zero), &zero, budget).largest()
            }
        }
    }

    /// Pairs of the readings in `tried` (indices into `self.readings`) that can hold together,
    /// legitimate pairs first, then in file order.
    fn pairs(&self, tried: &[usize]) -> Vec<(usize, usize)> {
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        for (n, &i) in tried.iter().enumerate() {
            for &j in &tried[n + 1..] {
                if self.readings[i].compatible(self.readings[j]) {
                    pairs.push((i, j));
                }
            }
        }
        pairs.sort_by_key(|&(i, j)| (self.readings[i].rank.max(self.readings[j].rank), i, j));
        pairs
    }

    /// The readings under which the claimed formula is exactly the derivation: every single
    /// reading that explains it, in order; else the first pair that does.
    pub fn formula(&self, claimed: &Expr) -> Vec<Explanation<'a>> {
        let mut symbols = claimed.symbols();
        symbols.extend(self.r.values.keys().cloned());
        symbols.sort();
        symbols.dedup();
        let points = points(&symbols);
        let Some(want) = points.iter().map(|p| algebra::evaluate_mod(claimed, p)).collect::<Option<Vec<_>>>() else {
            return vec![];
        };
        let base = self.fingerprint(&[], &points);
        let confirm = |readings: Vec<&'a Reading>, e: Expr| {
            self.r.engine.same(claimed, &e).unwrap_or(false).then(|| Explanation {
                value: algebra::evaluate(&e, &self.r.values).ok(),
                expr: Some(e),
                readings,
            })
        };
        let mut found = Vec::new();
        let mut tried = Vec::new();
        for (i, rd) in self.readings.iter().enumerate() {
            let got = self.fingerprint(&[rd], &points);
            if got.is_none() || got == base {
                continue;
            }
            if got.as_ref() == Some(&want)
                && let Some(explained) = self.expr_under(&[rd]).and_then(|e| confirm(vec![rd], e))
            {
                found.push(explained);
                continue;
            }
            tried.push(i);
        }
        if !found.is_empty() {
            return found;
        }
        for (i, j) in self.pairs(&tried) {
            let pair = [self.readings[i], self.readings[j]];
            if self.fingerprint(&pair, &points).as_ref() == Some(&want)
                && let Some(explained) = self.expr_under(&pair).and_then(|e| confirm(pair.to_vec(), e))
            {
                return vec![explained];
            }
        }
        found
    }

    /// The readings under which a stated value is right within `tolerance`: every single reading
    /// that matches, in order; else the first pair that does.
    pub fn value(&self, claimed: &Rational, tolerance: &Rational) -> Vec<Explanation<'a>> {
        use num_traits::ToPrimitive;
        let base = self.value_under(&[]);
        let (claimed_f, tolerance_f) = (claimed.to_f64().unwrap_or(f64::NAN), tolerance.to_f64().unwrap_or(0.0));
        // A quick floating-point look first; only near misses are computed exactly.
        let near = |readings: &[&Reading]| match &self.lhs {
            Lhs::Formula(_) => self
                .estimate(readings)
                .is_none_or(|v| (v - claimed_f).abs() <= tolerance_f + 1e-9 * (v.abs() + claimed_f.abs())),
            Lhs::Batch(_) => true,
        };
        let close = |v: &Rational| (v - claimed).abs() <= *tolerance;
        let explanation = |readings: Vec<&'a Reading>, value: Rational| Explanation {
            expr: match self.lhs {
                Lhs::Formula(_) => self.expr_under(&readings),
                Lhs::Batch(_) => None,
            },
            value: Some(value),
            readings,
        };
        let mut found = Vec::new();
        let mut tried = Vec::new();
        for (i, rd) in self.readings.iter().enumerate() {
            if !near(&[rd]) {
                tried.push(i);
                continue;
            }
            let Some(v) = self.value_under(&[rd]) else { continue };
            if Some(&v) == base.as_ref() {
                continue;
            }
            if close(&v) {
                found.push(explanation(vec![rd], v));
            } else {
                tried.push(i);
            }
        }
        if !found.is_empty() {
            return found;
        }
        for (i, j) in self.pairs(&tried) {
            let pair = [self.readings[i], self.readings[j]];
            if near(&pair)
                && let Some(v) = self.value_under(&pair)
                && close(&v)
            {
                return vec![explanation(pair.to_vec(), v)];
            }
        }
        found
    }
}

/// How a claim reads once explained: the verdict, the headline, and what to do.
pub struct Described {
    /// Holds under a convention or approximation, or wrong.
    pub verdict: super::Verdict,
    /// `holds under another convention: …`, `wrong: …`.
    pub headline: String,
    /// The options that derive under the convention (`--activations all`), if any.
    pub options: Option<String>,
}

impl Explanation<'_> {
    /// The verdict and headline: legitimate readings say under what the claim holds; a mistake
    /// says what was done wrong (and under which convention, when a pair has one).
    pub fn describe(&self, r: &Reference) -> Described {
        let bytes = r.conventions.precision.bytes;
        let said = |kind: ReadingKind| {
            self.readings
                .iter()
                .filter(|rd| rd.kind == kind)
                .map(|rd| rd.sentence(&r.values, bytes))
                .collect::<Vec<_>>()
                .join("; and ")
        };
        let (conventions, approximations, mistakes) =
            (said(ReadingKind::Convention), said(ReadingKind::Approximation), said(ReadingKind::Mistake));
        let flags: Vec<String> = self
            .readings
            .iter()
            .filter(|rd| rd.kind != ReadingKind::Mistake)
            .flat_map(|rd| rd.set.iter().map(|(name, value)| format!("--{} {value}", name.replace('_', "-"))))
            .collect();
        let options = (!flags.is_empty()).then(|| flags.join(" "));
        let under = |text: &str| if text.is_empty() { String::new() } else { format!(", under {text}") };
        let (verdict, headline) = match self.kind() {
            ReadingKind::Mistake => {
                let legit = [conventions.as_str(), approximations.as_str()]
                    .into_iter()
                    .filter(|t| !t.is_empty())
                    .collect::<Vec<_>>()
                    .join("; and ");
                (super::Verdict::Wrong, format!("wrong: {mistakes}{}", under(&legit)))
            }
            ReadingKind::Approximation => (
                super::Verdict::HoldsUnder,
                format!("holds as an approximation: {approximations}{}", under(&conventions)),
            ),
            ReadingKind::Convention => {
                (super::Verdict::HoldsUnder, format!("holds under another convention: {conventions}"))
            }
        };
        Described { verdict, headline, options }
    }

    /// The readings' ids, for the evidence line.
    pub fn ids(&self) -> String {
        self.readings.iter().map(|rd| rd.id.as_str()).collect::<Vec<_>>().join(" + ")
    }

    /// The whole claim's factor under a reading that only scales it, as a number.
    pub fn numeric_scale(&self, r: &Reference) -> Option<Rational> {
        let [rd] = self.readings.as_slice() else { return None };
        let scale = rd.scale.as_ref()?;
        let bytes = Rational::from_integer(r.conventions.precision.bytes.into());
        let values: BTreeMap<String, Rational> = [("bytes".to_string(), bytes)].into_iter().collect();
        algebra::evaluate(scale, &values).ok()
    }
}

//! Readings: named changes to a derivation (`derivations/readings.toml`), under which a claim may
//! be exactly right. A reading sets conventions, changes the architecture's ops, substitutes a
//! symbol, replaces a quantity by another formula, or scales the whole claim; the audit re-derives
//! the claimed quantity under readings and pairs of readings and names the one that matches.

use crate::algebra::{self, Expr, Rational};
use crate::diagnostic::Source;
use crate::error::{Error, Result};
use crate::facts::Facts;
use crate::model::{Model, ModelChange};
use crate::optimizer::Per;
use crate::options::Options;
use crate::quantity::{Catalog, Conventions};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use toml::Spanned;

/// What a claim that matches a reading is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadingKind {
    /// Another legitimate convention: the claim holds under it.
    Convention,
    /// A standard approximation: the claim holds as that estimate.
    Approximation,
    /// A mistake: the claim is wrong, and this is why.
    Mistake,
}

/// A change to the optimizer's update as a reading sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerChange {
    /// The scalar work done once per step is not counted.
    NoStepScalars,
}

/// One named change to the derivation.
#[derive(Clone, Debug)]
pub struct Reading {
    /// A short stable id (`activations-all`).
    pub id: String,
    /// Legitimate or a mistake.
    pub kind: ReadingKind,
    /// Its place in the search: lower ranks are tried and named first (by default conventions 0,
    /// approximations 1, mistakes 2; the data can say a convention is less likely than a mistake).
    pub rank: u8,
    /// What it says about a claim, with `{SYMBOL}` and `{bytes}` filled in from the bindings.
    pub says: String,
    /// Quantities it applies to: names or prefixes ending in `*` (`memory.*`); empty for all.
    pub applies: Vec<String>,
    /// Conventions it sets (`activations = "all"`).
    pub set: Vec<(String, String)>,
    /// A change to the architecture's ops.
    pub model: Option<ModelChange>,
    /// A change to the optimizer's update.
    pub optimizer: Option<OptimizerChange>,
    /// Symbols replaced by formulas (`K = "A"`, `B = "1"`).
    pub substitute: Vec<(String, Expr)>,
    /// A factor on the whole claimed quantity; may use `bytes` (bytes per element).
    pub scale: Option<Expr>,
    /// Quantities replaced by formulas over quantities and symbols (`flops.step` =
    /// `6*params*B*T`); the quantities in a formula are derived under the reading's other changes.
    pub replace: Vec<(String, Expr)>,
}

/// The marker a replacement formula leaves for the catalog quantity with this index.
fn quantity_marker(index: usize) -> String {
    format!("qr_{index}")
}

/// The symbol standing for the bytes per element of the precision in effect.
const BYTES: &str = "bytes";

impl Reading {
    /// The readings of `facts`, parsed on first use. The built-in file is checked by tests; a
    /// broken one is a bug.
    pub fn all(facts: &Facts) -> &[Reading] {
        let parsed = facts.readings.get(|sources| {
            let all: Vec<Reading> = sources
                .iter()
                .flat_map(|s| Reading::read(s, facts).unwrap_or_else(|e| panic!("built-in {} is invalid: {e}", s.name)))
                .collect();
            std::sync::Arc::new(all)
        });
        parsed.downcast_ref::<Vec<Reading>>().expect("the readings are parsed only here")
    }

    /// Reads `readings.toml`: every formula parsed, every name checked, with file positions.
    pub fn read(source: &Source, data: &Facts) -> Result<Vec<Reading>> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Entry {
            id: String,
            kind: ReadingKind,
            #[serde(default)]
            rank: Option<u8>,
            says: String,
            #[serde(default)]
            applies: Vec<String>,
            #[serde(default)]
            set: BTreeMap<Spanned<String>, Spanned<String>>,
            #[serde(default)]
            model: Option<Spanned<String>>,
            #[serde(default)]
            optimizer: Option<OptimizerChange>,
            #[serde(default)]
            substitute: BTreeMap<Spanned<String>, Spanned<String>>,
            #[serde(default)]
            scale: Option<Spanned<String>>,
            #[serde(default)]
            replace: BTreeMap<Spanned<String>, Spanned<String>>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            reading: Vec<Entry>,
        }
        let file: File = crate::loader::read_toml(source)?;
        let entries = Catalog::entries();
        let quantity_index = |name: &str| entries.iter().position(|e| e.name == name);
        let symbol = |name: &str| data.symbols.get(name).map(|d| Expr::sym(&d.short));
        let formula = |text: &Spanned<String>, quantities: bool| {
            algebra::parse_with(
                text.get_ref(),
                &|name| {
                    if name == BYTES {
                        return Ok(Expr::sym(BYTES));
                    }
                    if quantities && let Some(i) = quantity_index(name) {
                        return Ok(Expr::sym(&quantity_marker(i)));
                    }
                    symbol(name).ok_or_else(|| format!("unknown name `{name}`"))
                },
                algebra::Syntax { dotted_names: true, ..Default::default() },
            )
            .map_err(|e| Error::at(source, text.span(), format!("`{}`: {}", text.get_ref(), e.message)))
        };
        let mut out = Vec::new();
        for e in file.reading {
            let mut set = Vec::new();
            for (name, value) in &e.set {
                Options::default()
                    .set(name.get_ref(), value.get_ref())
                    .map_err(|err| Error::at(source, name.span(), err.to_string()))?;
                set.push((name.get_ref().clone(), value.get_ref().clone()));
            }
            let model = match &e.model {
                Some(m) => Some(m.get_ref().parse::<ModelChange>().map_err(|err| Error::at(source, m.span(), err))?),
                None => None,
            };
            let mut substitute = Vec::new();
            for (name, value) in &e.substitute {
                let short =
                    data.symbols.get(name.get_ref()).map(|d| d.short.clone()).ok_or_else(|| {
                        Error::at(source, name.span(), format!("unknown symbol `{}`", name.get_ref()))
                    })?;
                substitute.push((short, formula(value, false)?));
            }
            let scale = e.scale.as_ref().map(|s| formula(s, false)).transpose()?;
            let mut replace = Vec::new();
            for (name, value) in &e.replace {
                if quantity_index(name.get_ref()).is_none() {
                    return Err(Error::at(source, name.span(), format!("unknown quantity `{}`", name.get_ref())));
                }
                replace.push((name.get_ref().clone(), formula(value, true)?));
            }
            let rank = e.rank.unwrap_or(match e.kind {
                ReadingKind::Convention => 0,
                ReadingKind::Approximation => 1,
                ReadingKind::Mistake => 2,
            });
            out.push(Reading {
                id: e.id,
                kind: e.kind,
                rank,
                says: e.says,
                applies: e.applies,
                set,
                model,
                optimizer: e.optimizer,
                substitute,
                scale,
                replace,
            });
        }
        Ok(out)
    }

    /// True if the reading concerns a quantity of this name.
    pub fn applies_to(&self, quantity: &str) -> bool {
        self.applies.is_empty()
            || self.applies.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => quantity.starts_with(prefix),
                None => p == quantity,
            })
    }

    /// Whether two readings can hold together: not two values of one convention, not two
    /// changes of one symbol or quantity, at most one change to the ops (scales multiply).
    pub fn compatible(&self, other: &Reading) -> bool {
        let clash =
            |a: &[(String, String)], b: &[(String, String)]| a.iter().any(|(x, _)| b.iter().any(|(y, _)| x == y));
        let names = |v: &[(String, Expr)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        let overlap = |a: Vec<String>, b: Vec<String>| a.iter().any(|n| b.contains(n));
        let conflicts = [
            clash(&self.set, &other.set),
            self.model.is_some() && other.model.is_some(),
            overlap(names(&self.substitute), names(&other.substitute)),
            overlap(names(&self.replace), names(&other.replace)),
        ];
        !conflicts.contains(&true)
    }

    /// The sentence, with `{SYMBOL}` replaced by the symbol's bound value and `{bytes}` by the
    /// bytes per element.
    pub fn sentence(&self, values: &BTreeMap<String, Rational>, bytes: i64) -> String {
        let mut out = self.says.replace("{bytes}", &bytes.to_string());
        for (name, value) in values {
            out = out.replace(&format!("{{{name}}}"), &crate::dim::exact(value));
        }
        out
    }
}

/// The derivation under a set of readings: the changed architecture and conventions, and the
/// expression-level changes left to apply to the claimed quantity.
pub struct Applied<'m> {
    /// The architecture after the readings' op changes (borrowed when they change none).
    pub model: Cow<'m, Model>,
    /// The conventions after the readings' settings.
    pub conventions: Conventions,
    substitute: Vec<(String, Expr)>,
    scale: Option<Expr>,
    replace: Vec<(String, Expr)>,
}

impl Reading {
    /// True if the reading only substitutes symbols or scales the claim: it changes the finished
    /// expression, not how it is derived.
    pub fn is_expression_level(&self) -> bool {
        self.set.is_empty() && self.model.is_none() && self.optimizer.is_none() && self.replace.is_empty()
    }
}

impl<'m> Applied<'m> {
    /// Applies `readings` to a model under `options`; `None` when one of them changes nothing
    /// (a convention already in effect, a head already tied) or cannot apply (a precision the
    /// hardware has no peak for).
    pub fn new(model: &'m Model, options: &Options, data: &Facts, readings: &[&Reading]) -> Option<Applied<'m>> {
        let mut changed_options = options.clone();
        let mut model = Cow::Borrowed(model);
        let mut substitute = Vec::new();
        let mut scale: Option<Expr> = None;
        let mut replace = Vec::new();
        let mut no_step_scalars = false;
        for r in readings {
            let before = changed_options.clone();
            for (name, value) in &r.set {
                changed_options.set(name, value).ok()?;
            }
            if !r.set.is_empty() && changed_options == before {
                return None;
            }
            if let Some(change) = r.model {
                model = Cow::Owned(model.changed(change)?);
            }
            no_step_scalars |= r.optimizer == Some(OptimizerChange::NoStepScalars);
            substitute.extend(r.substitute.iter().cloned());
            if let Some(s) = &r.scale {
                scale = Some(match scale {
                    Some(before) => before * s.clone(),
                    None => s.clone(),
                });
            }
            replace.extend(r.replace.iter().cloned());
        }
        let mut conventions = crate::resolve::conventions(&changed_options, data).ok()?;
        if no_step_scalars {
            let lines = conventions.optimizer.line.len();
            conventions.optimizer.line.retain(|l| l.per != Per::Step);
            if conventions.optimizer.line.len() == lines {
                return None;
            }
        }
        Some(Applied { model, conventions, substitute, scale, replace })
    }

    /// The rules-built expression of quantity `name` under the readings (before substitutions
    /// and scale, which apply to the whole claim: see [`Applied::finish`]).
    pub fn quantity(&self, name: &str) -> Option<Expr> {
        let catalog = Catalog::new(&self.model, &self.conventions);
        match self.replace.iter().find(|(n, _)| n == name) {
            Some((_, formula)) => {
                let entries = Catalog::entries();
                let missing = std::cell::Cell::new(false);
                let e = formula.substitute(&|marker| {
                    let i: usize = marker.strip_prefix("qr_")?.parse().ok()?;
                    let q = catalog.raw(entries[i].name);
                    missing.set(missing.get() || q.is_none());
                    q
                });
                (!missing.get()).then_some(e)
            }
            None => catalog.raw(name),
        }
    }

    /// The claimed quantity's expression `e` with the readings' substitutions and scale applied.
    pub fn finish(&self, e: Expr) -> Expr {
        finish(e, &self.substitute, self.scale.as_ref(), self.conventions.precision.bytes)
    }
}

/// `e` with symbols substituted, then scaled; `bytes` fills in the bytes per element.
pub fn finish(e: Expr, substitute: &[(String, Expr)], scale: Option<&Expr>, bytes: i64) -> Expr {
    let bytes = Expr::int(bytes);
    let resolve = |s: &Expr| s.substitute(&|name| (name == BYTES).then(|| bytes.clone()));
    let substituted = if substitute.is_empty() {
        e
    } else {
        e.substitute(&|name| substitute.iter().find(|(s, _)| s == name).map(|(_, f)| resolve(f)))
    };
    match scale {
        Some(s) => resolve(s) * substituted,
        None => substituted,
    }
}

/// The expression-level changes of `readings` applied to `e` (see [`Reading::is_expression_level`]).
pub fn finish_expression_level(e: Expr, readings: &[&Reading], bytes: i64) -> Expr {
    let substitute: Vec<(String, Expr)> = readings.iter().flat_map(|r| r.substitute.iter().cloned()).collect();
    let scales: Vec<Expr> = readings.iter().filter_map(|r| r.scale.clone()).collect();
    let scale = (!scales.is_empty()).then(|| Expr::product(scales));
    finish(e, &substitute, scale.as_ref(), bytes)
}

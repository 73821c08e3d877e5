//! `tally sweep`: quantities over a grid of sizes, models and conventions. Each quantity's closed
//! form is derived once per model and conventions, the symbols that do not vary are substituted,
//! and what is left — a polynomial in the swept symbols — is compiled ([`poly::Poly`]) and
//! evaluated exactly at every point, streamed row by row so memory stays flat however large the
//! grid.

mod output;
mod poly;
mod values;

pub use output::{RowFormat, run};
pub use poly::Poly;
pub use values::Values;

use crate::algebra::{Engine, Expr, Rational};
use crate::error::{Error, Result};
use crate::facts::Facts;
use crate::model::Origin;
use crate::quantity::{BatchFit, Catalog, Context, largest_batch};
use crate::request::DeriveRequest;
use crate::symbol::Role;
use num_traits::ToPrimitive;
use std::collections::{BTreeMap, BTreeSet};

/// The most points one sweep may have.
pub const MAX_POINTS: u128 = 100_000_000;

/// One varied axis, as `--vary NAME=VALUES` gives it.
#[derive(Clone, Debug, PartialEq)]
pub enum Axis {
    /// A symbol over whole numbers (`B=1..1024`).
    Symbol { symbol: String, values: Values },
    /// Models by name (`model=gpt2-small,gpt2-medium`).
    Model(Vec<String>),
    /// A convention by its option name (`precision=fp32,bf16`).
    Option { name: String, values: Vec<String> },
}

impl Axis {
    /// Reads `NAME=VALUES`: a comma-separated list whose items are values or ranges — `a..b`
    /// (every whole number), `a..b:s` (step s), `a..b*f` (times f).
    pub fn parse(text: &str, data: &Facts) -> Result<Axis> {
        let bad = |reason: String| Error::BadOption { option: "--vary".into(), value: text.into(), reason };
        let Some((name, values)) = text.split_once('=') else {
            return Err(bad("write NAME=VALUES, e.g. --vary B=1..1024 or --vary model=gpt2-small,gpt2-xl".into()));
        };
        let (name, items) = (name.trim(), values.split(',').map(str::trim).filter(|v| !v.is_empty()));
        if name == "model" {
            return Ok(Axis::Model(items.map(str::to_string).collect()));
        }
        if let Some(def) = data.symbols.get(name) {
            let values = Values::parse(values).map_err(&bad)?;
            let Some((least, greatest)) = values.extent() else { return Err(bad("no values".into())) };
            // Each run increases, so its ends bound it: checking the least and the greatest
            // value checks them all.
            for v in [least, greatest] {
                def.check(&Rational::from_integer(v.into()))
                    .map_err(|reason| bad(format!("{} ({}) = {v}: {reason}", def.short, def.long)))?;
            }
            return Ok(Axis::Symbol { symbol: def.short.clone(), values });
        }
        let values: Vec<String> = items.map(str::to_string).collect();
        let mut probe = crate::options::Options::default();
        for v in &values {
            probe.set(name, v).map_err(|e| {
                bad(format!("{name} is neither a symbol nor a convention, or {v} is not one of its values: {e}"))
            })?;
        }
        Ok(Axis::Option { name: name.to_string(), values })
    }

    fn len(&self) -> u128 {
        match self {
            Axis::Symbol { values, .. } => values.len(),
            Axis::Model(v) => v.len() as u128,
            Axis::Option { values, .. } => values.len() as u128,
        }
    }

    /// What the axis varies: a symbol, `model`, or an option's name.
    pub fn name(&self) -> &str {
        match self {
            Axis::Symbol { symbol, .. } => symbol,
            Axis::Model(_) => "model",
            Axis::Option { name, .. } => name,
        }
    }
}

/// What to sweep: the request every point starts from, the axes and the quantities.
#[derive(Clone, Debug)]
pub struct SweepRequest {
    /// Model, preset, fixed `--set` values and conventions.
    pub base: DeriveRequest,
    /// The varied axes, outermost first.
    pub axes: Vec<Axis>,
    /// Catalog quantity names.
    pub quantities: Vec<String>,
}

/// What a sweep asks of the session that runs it: the facts, and each model's quantities
/// compiled on the session's algebra thread. The session implements it.
pub trait Compile {
    /// The facts the session knows.
    fn facts(&self) -> &Facts;
    /// The quantities `names` of `request`, compiled over the `swept` symbols ([`compile`]).
    fn compile_sweep(&self, request: &DeriveRequest, swept: &[String], names: &[String]) -> Result<Compiled>;
}

/// The quantities of one model under one set of conventions, compiled over the swept symbols.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The swept symbols, then the derived ones (T_w, T_h) computed per point.
    pub variables: Vec<String>,
    /// Per quantity: its formula, or the a·B + b line of a largest batch with the budget.
    pub quantities: Vec<Compiled1>,
    /// Size formulas of the model that must stay positive whole numbers, with what they are.
    pub sites: Vec<(String, Poly)>,
    /// The window W, when the model has one and it is not swept.
    pub window: Option<i128>,
    /// The context T when it is not swept.
    pub context: Option<i128>,
}

/// One compiled quantity.
#[derive(Clone, Debug)]
pub enum Compiled1 {
    /// A polynomial in the variables.
    Value(Poly),
    /// The largest batch under a budget: memory = a·B + b.
    Batch { a: Poly, b: Poly, budget: Rational },
}

/// Compiles the request's quantities for one model and set of conventions (on the worker).
pub fn compile(
    engine: &Engine,
    data: &Facts,
    request: &DeriveRequest,
    swept: &[String],
    names: &[String],
) -> Result<Compiled> {
    let (selection, bindings, conventions) = crate::resolve::prepare(data, request)?;
    let catalog = Catalog::new(&selection.model, &conventions);
    let ctx = Context { engine, layout: data.symbols.layout(), values: bindings.values() };
    // What each bound symbol becomes: a swept symbol stays itself, a relation over swept symbols
    // becomes its formula, everything else its value.
    let mut depends: BTreeSet<String> = swept.iter().cloned().collect();
    loop {
        let before = depends.len();
        for b in &bindings.entries {
            if let Origin::Relation(f) = &b.origin
                && f.symbols().iter().any(|s| depends.contains(s))
            {
                depends.insert(b.symbol.clone());
            }
        }
        if depends.len() == before {
            break;
        }
    }
    let windowed = [Role::WindowSpan.symbol(), Role::WindowCache.symbol()];
    let window_varies = [Role::Context.symbol(), Role::Window.symbol()].iter().any(|s| depends.contains(*s));
    let mut variables: Vec<String> = swept.to_vec();
    if window_varies && bindings.get(Role::Window.symbol()).is_some() {
        variables.extend(windowed.iter().map(|s| s.to_string()));
    }
    let replace = |e: &Expr| -> Expr {
        let mut out = e.clone();
        for _ in 0..8 {
            let next = out.substitute(&|s| {
                if variables.iter().any(|v| v == s) {
                    return None;
                }
                let b = bindings.entries.iter().find(|b| b.symbol == s)?;
                Some(match &b.origin {
                    Origin::Relation(f) if depends.contains(s) => f.clone(),
                    _ => Expr::num(b.value.clone()),
                })
            });
            if next == out {
                break;
            }
            out = next;
        }
        out
    };
    let polynomial = |e: &Expr, what: &str| -> Result<Poly> {
        match engine.monomials(&replace(e))? {
            Some(terms) if terms.iter().all(|t| t.powers.keys().all(|s| variables.contains(s))) => {
                Ok(Poly::compile(&terms, &variables))
            }
            _ => Err(Error::Usage(format!(
                "{what} is not a polynomial in the swept symbols; tally sweep cannot compile it"
            ))),
        }
    };
    let mut quantities = Vec::new();
    for name in names {
        if let Some(index) = ["batch.max", "batch.max.binary"].iter().position(|n| n == name) {
            let line = catalog.batch_line(&ctx)?;
            let (Some(line), Some((_, budget))) = (line, conventions.budgets().get(index).cloned()) else {
                return Err(Error::Usage(format!("{name} does not exist for {}", selection.id)));
            };
            let (a, b) = (polynomial(&line.a_expr, name)?, polynomial(&line.b_expr, name)?);
            quantities.push(Compiled1::Batch { a, b, budget });
            continue;
        }
        let raw = catalog.raw(name).ok_or_else(|| Error::Unknown {
            what: format!("quantity of {}", selection.id),
            name: name.clone(),
            known: catalog.names(),
        })?;
        quantities.push(Compiled1::Value(polynomial(&raw, name)?));
    }
    let mut sites = Vec::new();
    for site in &selection.model.sites {
        let e = replace(&site.expr);
        if e.symbols().iter().any(|s| variables.contains(s)) {
            sites.push((
                format!("{}: {}", site.what, crate::algebra::print(&site.expr, crate::algebra::Notation::Unicode)),
                polynomial(&site.expr, &site.what)?,
            ));
        }
    }
    // A size bounded by another (k of the E experts) stays within its bound at every point:
    // checked as the site bound − size + 1, which must stay a positive whole number.
    for b in &bindings.entries {
        let Some(bound) = data.symbols.get(&b.symbol).and_then(|d| d.bound_symbol()) else { continue };
        if bindings.get(bound).is_none() || !(variables.contains(&b.symbol) || variables.iter().any(|v| v == bound)) {
            continue;
        }
        let gap = Expr::sym(bound) - Expr::sym(&b.symbol) + Expr::num(Rational::from_integer(1.into()));
        sites.push((
            format!("{bound} − {} + 1 ({} is at most {bound})", b.symbol, b.symbol),
            polynomial(&gap, &b.symbol)?,
        ));
    }
    let whole = |s: &str| bindings.get(s).and_then(|v| v.to_integer().to_i128());
    Ok(Compiled {
        variables,
        quantities,
        sites,
        window: whole(Role::Window.symbol()),
        context: whole(Role::Context.symbol()),
    })
}

impl Compiled {
    /// The quantities at one point (`x` gives the swept symbols; derived ones are added): exact
    /// values, `None` where a batch does not fit. An error names a size that is not a positive
    /// whole number there.
    pub fn at(&self, swept: &[String], x: &[i128]) -> Result<Vec<Option<Rational>>> {
        let mut values = Vec::new();
        self.at_into(swept, x, &mut Vec::new(), &mut values)?;
        Ok(values
            .into_iter()
            .map(|v| match v {
                Value::Whole(n) => Some(Rational::from_integer(n.into())),
                Value::Exact(r) => Some(r),
                Value::None => None,
            })
            .collect())
    }

    /// Checks, at one point, that every size that varies is a positive whole number (`point` is a
    /// buffer the caller reuses).
    pub fn check_sites(&self, swept: &[String], x: &[i128], point: &mut Vec<i128>) -> Result<()> {
        self.fill(swept, x, point);
        self.sites_hold(swept, x, point)
    }

    /// The point with the derived variables (T_w, T_h) after the swept ones.
    fn fill(&self, swept: &[String], x: &[i128], point: &mut Vec<i128>) {
        point.clear();
        point.extend_from_slice(x);
        if self.variables.len() > swept.len() {
            let get = |s: &str, fixed: Option<i128>| swept.iter().position(|v| v == s).map(|i| x[i]).or(fixed);
            let (t, w) = (get(Role::Context.symbol(), self.context), get(Role::Window.symbol(), self.window));
            let (t, w) = (t.unwrap_or(0), w.unwrap_or(0));
            point.extend([t.min(w), t.min(w - 1)]);
        }
    }

    fn sites_hold(&self, swept: &[String], x: &[i128], point: &[i128]) -> Result<()> {
        for (what, site) in &self.sites {
            if site.at_whole(point).is_some_and(|n| n > 0) {
                continue;
            }
            let v = site.at(point);
            if !v.is_integer() || v <= Rational::from_integer(0.into()) {
                let at: Vec<String> = swept.iter().zip(x).map(|(s, v)| format!("{s} = {v}")).collect();
                return Err(Error::InvalidSize(format!(
                    "{what} = {} at {}; it must be a positive whole number",
                    crate::dim::exact_fraction(&v),
                    at.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// [`Compiled::at`] into buffers the caller reuses from point to point (the sweep's loop).
    pub fn at_into(&self, swept: &[String], x: &[i128], point: &mut Vec<i128>, values: &mut Vec<Value>) -> Result<()> {
        self.fill(swept, x, point);
        self.sites_hold(swept, x, point)?;
        values.clear();
        values.extend(self.quantities.iter().map(|q| match q {
            Compiled1::Value(p) => match p.at_whole(point) {
                Some(n) => Value::Whole(n),
                None => Value::Exact(p.at(point)),
            },
            Compiled1::Batch { a, b, budget } => match largest_batch(&a.at(point), &b.at(point), budget) {
                BatchFit::Largest(n) => Value::Exact(n),
                _ => Value::None,
            },
        }));
        Ok(())
    }
}

/// One value of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A whole number that fits 128 bits.
    Whole(i128),
    /// Any other exact value.
    Exact(Rational),
    /// No value (a batch that does not fit).
    None,
}

/// Every point of the symbol axes, outermost first.
pub fn points<'a>(axes: &'a [&'a Values]) -> Odometer<'a> {
    Odometer { axes, index: vec![0; axes.len()], point: axes.iter().map(|a| a.get(0)).collect(), started: false }
}

/// The points of a grid one after the other, in one buffer (no allocation per point).
pub struct Odometer<'a> {
    axes: &'a [&'a Values],
    index: Vec<u128>,
    point: Vec<i128>,
    started: bool,
}

impl Odometer<'_> {
    /// The next point, or `None` after the last.
    pub fn next_point(&mut self) -> Option<&[i128]> {
        if !self.started {
            self.started = true;
            return (!self.axes.iter().any(|a| a.is_empty())).then_some(self.point.as_slice());
        }
        for i in (0..self.axes.len()).rev() {
            self.index[i] += 1;
            if self.index[i] < self.axes[i].len() {
                self.point[i] = self.axes[i].get(self.index[i]);
                return Some(self.point.as_slice());
            }
            self.index[i] = 0;
            self.point[i] = self.axes[i].get(0);
        }
        None
    }
}

/// The number of points of a request (all axes), refused above [`MAX_POINTS`].
pub fn size(axes: &[Axis]) -> Result<u128> {
    let n = axes.iter().try_fold(1u128, |n, a| n.checked_mul(a.len()));
    match n {
        Some(n) if n <= MAX_POINTS => Ok(n),
        Some(n) => Err(Error::Usage(format!(
            "the sweep has {} points; at most {}",
            crate::dim::group_thousands(&n.to_string()),
            crate::dim::group_thousands(&MAX_POINTS.to_string())
        ))),
        None => Err(Error::Usage(format!(
            "the sweep has more than 2¹²⁸ points; at most {}",
            crate::dim::group_thousands(&MAX_POINTS.to_string())
        ))),
    }
}

/// Each thing is varied once and not also fixed: `--vary B=1 --vary batch_size=2`, or `--set B=4`
/// with `--vary B=…`, or `--precision bf16` with `--vary precision=…`, would give rows that
/// contradict themselves.
pub fn check_axes(request: &SweepRequest, data: &Facts) -> Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for axis in &request.axes {
        let name = axis.name();
        if seen.contains(&name) {
            return Err(Error::BadOption {
                option: "--vary".into(),
                value: name.into(),
                reason: format!("`{name}` is varied twice; give all its values in one --vary"),
            });
        }
        seen.push(name);
    }
    for set in &request.base.sets {
        let (symbol, _) = crate::resolve::parse_set(set, &data.symbols)?;
        if seen.contains(&symbol.as_str()) {
            return Err(Error::BadOption {
                option: "--vary".into(),
                value: symbol.clone(),
                reason: format!("`{symbol}` is both fixed (--set {set}) and varied; leave out one of them"),
            });
        }
    }
    let changed = request.base.options.changed();
    for axis in &request.axes {
        if let Axis::Option { name, .. } = axis {
            let flag = format!("--{}", name.replace('_', "-"));
            if changed.contains(&flag.as_str()) {
                return Err(Error::BadOption {
                    option: "--vary".into(),
                    value: name.clone(),
                    reason: format!("`{name}` is both given ({flag}) and varied; leave out one of them"),
                });
            }
        }
    }
    Ok(())
}

/// Which values of the outer axes (models, conventions) each combination takes.
pub fn combinations(axes: &[Axis]) -> Vec<BTreeMap<usize, String>> {
    let outer: Vec<(usize, Vec<String>)> = axes
        .iter()
        .enumerate()
        .filter_map(|(i, a)| match a {
            Axis::Model(v) => Some((i, v.clone())),
            Axis::Option { values, .. } => Some((i, values.clone())),
            Axis::Symbol { .. } => None,
        })
        .collect();
    let mut out = vec![BTreeMap::new()];
    for (i, values) in outer {
        out = out
            .into_iter()
            .flat_map(|combo| {
                values.iter().map(move |v| {
                    let mut c = combo.clone();
                    c.insert(i, v.clone());
                    c
                })
            })
            .collect();
    }
    out
}

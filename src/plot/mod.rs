//! `tally plot`: the derivations as charts (SVG). Each kind asks the session (through
//! [`Evaluate`], which the session implements) for the catalog's quantities at a series of settings — the same substitution `tally derive --set …` makes — and
//! lays the exact values out as a [`chart::Chart`], which `draw` draws with plotters (as SVG, or as
//! TikZ for LaTeX; [`embed`] puts charts into documents). No figure is
//! typed in here: every number on a chart is a quantity's value or a hardware figure from the data.
//! Like the rest of the library, nothing here prints or writes files; the SVG comes back as text.

pub mod chart;
mod draw;
pub mod embed;
mod ink;
mod roofline;
mod shares;
mod tikz;
mod training;

use crate::algebra::Rational;
use crate::derivation::Document;
use crate::dim;
use crate::error::{Error, Result};
use crate::facts::Facts;
use crate::preset::Selection;
use crate::quantity::{Conventions, Quantity};
use crate::request::{DeriveRequest, ServeRequest};
use crate::resolve::parse_set;
use num_traits::ToPrimitive;
use std::collections::BTreeMap;

pub use crate::request::{ChartKind, ChartRequest, PlotRequest, Points, check_flags, default_model, read_points};

/// What a chart asks of the session that draws it: the facts, single quantities and serving
/// documents, each as `tally derive --quantity` or `tally serve` would give them.
pub trait Evaluate {
    /// The facts the session knows.
    fn facts(&self) -> &Facts;
    /// One named quantity of a model.
    fn quantity(&self, request: &DeriveRequest, name: &str) -> Result<Quantity>;
    /// Serving a model.
    fn serve(&self, request: &DeriveRequest, serve: &ServeRequest) -> Result<Document>;
}

/// The chart of `plot` for `request`, as an SVG document.
pub fn plot(session: &dyn Evaluate, request: &DeriveRequest, plot: &PlotRequest) -> Result<String> {
    svg(&chart(session, request, plot)?)
}

/// A chart drawn as an SVG document.
pub fn svg(chart: &chart::Chart) -> Result<String> {
    draw::svg(chart).map_err(|e| Error::Usage(format!("the chart could not be drawn: {e}")))
}

/// A chart drawn as a TikZ picture (`\begin{tikzpicture}…`), one point per pixel of the SVG.
pub fn tikz(chart: &chart::Chart) -> Result<String> {
    tikz::render(chart).map_err(|e| Error::Usage(format!("the chart could not be drawn: {e}")))
}

/// The chart of `plot` for `request`, as data (every value on it from the session).
pub fn chart(session: &dyn Evaluate, request: &DeriveRequest, plot: &PlotRequest) -> Result<chart::Chart> {
    check_flags(plot)?;
    Ok(match plot.kind {
        ChartKind::MemoryVsBatch => training::memory_vs_batch(session, request, plot)?,
        ChartKind::TimeVsMfu => training::time_vs_mfu(session, request, plot)?,
        ChartKind::TimeVsGpus => training::time_vs_gpus(session, request, plot)?,
        ChartKind::GpuMemory => training::gpu_memory(session, request, plot)?,
        ChartKind::SharesVsSize => shares::vs_size(session, request, plot)?,
        ChartKind::SharesVsContext => shares::vs_context(session, request, plot)?,
        ChartKind::Roofline => roofline::roofline(session, request, plot)?,
    })
}

/// The model, conventions and bound values of a request: what `tally derive` binds, worked out
/// without the algebra (for titles and sizes; every plotted value comes from the session).
pub(crate) struct Setting {
    selection: Selection,
    conventions: Conventions,
    values: BTreeMap<String, Rational>,
}

impl Setting {
    fn of(data: &Facts, request: &DeriveRequest) -> Result<Setting> {
        let (selection, bindings, conventions) = crate::resolve::prepare(data, request)?;
        Ok(Setting { selection, conventions, values: bindings.values() })
    }

    /// A bound size, `1` when the model has no such symbol.
    fn size(&self, symbol: &str) -> Rational {
        self.values.get(symbol).cloned().unwrap_or_else(|| Rational::from_integer(1.into()))
    }

    /// `gpt2-xl (cs336-2025)`.
    fn model(&self) -> String {
        let arch = &self.selection.model.name;
        if self.selection.id == *arch { arch.clone() } else { format!("{} ({arch})", self.selection.id) }
    }

    /// The training conventions and hardware in one line.
    fn training(&self) -> String {
        let c = &self.conventions;
        let recompute = if c.recompute { ", full recomputation" } else { "" };
        format!(
            "{}, {} layout, {}, {} activations{recompute}; {} ({})",
            c.precision.name,
            c.layout.name,
            c.optimizer.display,
            c.activations.name(),
            c.hardware.name,
            c.hardware.summary
        )
    }

    /// `T = 1,024`, the sizes a chart holds fixed.
    fn bound(&self, symbols: &[&str]) -> String {
        let shown: Vec<String> =
            symbols.iter().filter_map(|s| self.values.get(*s).map(|v| format!("{s} = {}", dim::exact(v)))).collect();
        shown.join(", ")
    }
}

/// Refuses `--set` of the symbols a chart varies itself.
fn refuse_sets(data: &Facts, request: &DeriveRequest, symbols: &[&str], varied: &str) -> Result<()> {
    for s in &request.sets {
        let (symbol, _) = parse_set(s, &data.symbols)?;
        if symbols.contains(&symbol.as_str()) {
            return Err(Error::Usage(format!("this chart varies {varied} itself; leave out --set {s}")));
        }
    }
    Ok(())
}

/// The request with one more `SYMBOL=VALUE` binding.
fn with_set(request: &DeriveRequest, symbol: &str, value: &Rational) -> DeriveRequest {
    let mut out = request.clone();
    out.sets.push(format!("{symbol}={}", dim::plain(value)));
    out
}

/// A quantity that must have a value here.
fn value(session: &dyn Evaluate, request: &DeriveRequest, name: &str) -> Result<Rational> {
    let q: Quantity = session.quantity(request, name)?;
    q.value.ok_or_else(|| {
        Error::Usage(format!("{name} has no value here: {}", q.verdict.unwrap_or_else(|| "not defined".into())))
    })
}

/// A value in floating point, for drawing only.
fn float(value: &Rational) -> f64 {
    value.to_f64().unwrap_or(f64::NAN)
}

/// The first `places` decimals of a value (`1.25`), trailing zeros kept.
fn decimals(value: &Rational, places: usize) -> String {
    dim::decimal(value, places)
}

/// 10⁹ bytes.
fn gigabytes(bytes: &Rational) -> Rational {
    bytes / Rational::from_integer(1_000_000_000u64.into())
}

/// The end of an axis at or above `v`: the next multiple of the step its ticks would take.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let step = chart::linear_ticks(0.0, v).get(1).map_or(v, |t| t.0);
    (v / step - 1e-9).ceil() * step
}

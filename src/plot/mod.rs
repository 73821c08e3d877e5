//! `tally plot`: the derivations as charts (SVG). Each kind asks the [`Session`] for the catalog's
//! quantities at a series of settings — the same substitution `tally derive --set …` makes — and
//! lays the exact values out as a [`chart::Chart`], which `draw` draws with plotters (as SVG, or as
//! TikZ for LaTeX; [`embed`] puts charts into documents). No figure is
//! typed in here: every number on a chart is a quantity's value or a hardware figure from the data.
//! Like the rest of the library, nothing here prints or writes files; the SVG comes back as text.

pub mod chart;
mod draw;
pub mod embed;
mod ink;
mod points;
mod roofline;
mod shares;
mod tikz;
mod training;

use crate::algebra::Rational;
use crate::data::Data;
use crate::dim;
use crate::error::{Error, Result};
use crate::preset::Selection;
use crate::quantity::{Conventions, Quantity};
use crate::session::{DeriveRequest, Session, parse_set};
use num_traits::ToPrimitive;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use points::{Points, read_points};

choices! {
    /// What `tally plot` can draw.
    Kind {
        /// Training memory against the batch size, with the memory budgets and the largest batch.
        #[default]
        MemoryVsBatch = "memory-vs-batch",
        /// Forward-FLOP shares by component across a model's size presets.
        SharesVsSize = "shares-vs-size",
        /// Forward-FLOP shares by component against the context length.
        SharesVsContext = "shares-vs-context",
        /// Training time against MFU.
        TimeVsMfu = "time-vs-mfu",
        /// Training time against the number of GPUs (data parallel).
        TimeVsGpus = "time-vs-gpus",
        /// Per-GPU memory by term across parallel layouts.
        GpuMemory = "gpu-memory",
        /// The inference roofline with decode and prefill.
        Roofline = "roofline",
    }
}

/// What to plot beside the model, bindings and options of a [`DeriveRequest`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlotRequest {
    /// The kind of chart.
    pub kind: Kind,
    /// Values along the horizontal axis, `A..B` or `a,b,c` (batch sizes, context lengths, MFUs,
    /// GPU counts or concurrencies, by kind); each kind has a default.
    pub range: Option<String>,
    /// Size presets for `shares-vs-size` (comma-separated); every preset of the model by default.
    pub presets: Option<String>,
    /// Parallel layouts for `gpu-memory`, `;`-separated, each as `--parallel` takes it.
    pub layouts: Option<String>,
    /// The KV cache's precision for `roofline`; the weights' by default.
    pub kv_precision: Option<String>,
}

/// The model `kind` plots when none is named.
pub fn default_model(kind: Kind) -> &'static str {
    match kind {
        Kind::SharesVsSize => "cs336-2025",
        _ => crate::session::DEFAULT_MODEL,
    }
}

/// The chart of `plot` for `request`, as an SVG document.
pub fn plot(session: &Session, request: &DeriveRequest, plot: &PlotRequest) -> Result<String> {
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
pub fn chart(session: &Session, request: &DeriveRequest, plot: &PlotRequest) -> Result<chart::Chart> {
    check_flags(plot)?;
    Ok(match plot.kind {
        Kind::MemoryVsBatch => training::memory_vs_batch(session, request, plot)?,
        Kind::TimeVsMfu => training::time_vs_mfu(session, request, plot)?,
        Kind::TimeVsGpus => training::time_vs_gpus(session, request, plot)?,
        Kind::GpuMemory => training::gpu_memory(session, request, plot)?,
        Kind::SharesVsSize => shares::vs_size(session, request, plot)?,
        Kind::SharesVsContext => shares::vs_context(session, request, plot)?,
        Kind::Roofline => roofline::roofline(session, request, plot)?,
    })
}

/// Flags that belong to other kinds are refused rather than ignored.
pub(crate) fn check_flags(plot: &PlotRequest) -> Result<()> {
    let owners: [(&str, bool, &[Kind]); 3] = [
        ("--presets", plot.presets.is_some(), &[Kind::SharesVsSize]),
        ("--layouts", plot.layouts.is_some(), &[Kind::GpuMemory]),
        ("--kv-precision", plot.kv_precision.is_some(), &[Kind::Roofline]),
    ];
    for (flag, given, kinds) in owners {
        if given && !kinds.contains(&plot.kind) {
            let names: Vec<&str> = kinds.iter().map(|k| k.word()).collect();
            return Err(Error::Usage(format!("{flag} is for `tally plot {}` only", names.join("`, `"))));
        }
    }
    if plot.range.is_some() && matches!(plot.kind, Kind::SharesVsSize | Kind::GpuMemory) {
        return Err(Error::Usage(format!(
            "--range has no meaning for {}; it plots {}",
            plot.kind,
            if plot.kind == Kind::GpuMemory { "the layouts of --layouts" } else { "the presets of --presets" }
        )));
    }
    Ok(())
}

/// The model, conventions and bound values of a request: what `tally derive` binds, worked out
/// without the algebra (for titles and sizes; every plotted value comes from the session).
pub(crate) struct Setting {
    selection: Selection,
    conventions: Conventions,
    values: BTreeMap<String, Rational>,
}

impl Setting {
    fn of(data: &Data, request: &DeriveRequest) -> Result<Setting> {
        let (selection, bindings, conventions) = crate::session::prepare(data, request)?;
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
fn refuse_sets(data: &Data, request: &DeriveRequest, symbols: &[&str], varied: &str) -> Result<()> {
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
fn value(session: &Session, request: &DeriveRequest, name: &str) -> Result<Rational> {
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

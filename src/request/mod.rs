//! Requests: what a caller asks tally for, as plain values (serde where JSON is JSON out) —
//! derive a model, audit claims, list what the facts hold, serve, plan, draw a chart. They sit
//! below everything that answers them: resolving a request against the facts is its own step
//! (above them), and the session only opens the door.

mod points;

use crate::diagnostic::Source;
use crate::error::{Error, Result};
use crate::options::Options;
use serde::{Deserialize, Serialize};

pub use points::{Points, read_points};

/// The model derived and audited against when none is named (`derivations/defaults.toml`).
pub fn default_model_name() -> &'static str {
    &crate::options::Defaults::builtin().model
}

/// What to derive: a model (a built-in name, or a model file's text), a preset, `SYMBOL=VALUE`
/// bindings and the options.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeriveRequest {
    /// A built-in model name (`gpt2-xl`, `llama/llama-3-8b`); ignored when `file` is given.
    pub model: String,
    /// A model file's text, with the name to point at in messages.
    pub file: Option<Source>,
    /// A size preset of the model.
    pub preset: Option<String>,
    /// Bindings as written: `T=16384`, `context_length=16,384`.
    pub sets: Vec<String>,
    /// The options.
    pub options: Options,
}

/// Claims to audit: claim texts, claims files' texts, and the model and options they are checked
/// against unless a claims file says otherwise per claim.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditRequest {
    /// Claims as written (`params = 2VH + L(16H² + 2H) + H`).
    pub claims: Vec<String>,
    /// A claims file's text (TOML with `[[claim]]`s).
    pub file: Option<Source>,
    /// The model (default: the claims file's, else gpt2-xl).
    pub model: Option<String>,
    /// The text of a model file named by `model`, with the name to point at in messages.
    pub model_file: Option<Source>,
    /// A size preset of `model`.
    pub preset: Option<String>,
    /// Count a claim that holds only under another convention as wrong.
    pub strict: bool,
    /// Bindings as written.
    pub sets: Vec<String>,
    /// The options.
    pub options: Options,
}

choices! {
    /// What `tally list` can list.
    List {
        /// Architectures and size presets.
        #[default]
        Models = "models",
        /// Answer sheets.
        Sheets = "sheets",
        /// Symbols with their long names.
        Symbols = "symbols",
        /// Accelerators with memory and peak FLOP/s.
        Hardware = "hardware",
        /// Named quantities: unit, meaning, what each is built from, the conventions it reads.
        Quantities = "quantities",
        /// Optimizers with their FLOPs per parameter and state.
        Optimizers = "optimizers",
        /// Precisions with their bytes per element.
        Precisions = "precisions",
    }
}

/// What to serve, beside the model, bindings and options of a [`DeriveRequest`] (whose options
/// give the weights' precision, the hardware, the memory budget and the FLOP conventions).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeRequest {
    /// Tokens per sequence (binds T); the model's own when absent.
    pub context: Option<u64>,
    /// Sequences served at once (binds B); 1 when absent.
    pub concurrency: Option<u64>,
    /// The KV cache's precision (`fp8`); the weights' when absent.
    pub kv_precision: Option<String>,
}

/// What to plan.
#[derive(Clone, Debug)]
pub struct PlanRequest {
    /// GPUs in all.
    pub gpus: u64,
    /// Tokens per sequence (binds T).
    pub seq: u64,
    /// Sequences per step in all (d·m·b).
    pub global_batch: u64,
    /// The run's options (precision, layout, hardware, activation convention, …).
    pub options: Options,
    /// Layouts to list.
    pub top: usize,
}

/// A drawn chart's width in pixels (points in TikZ); both backends draw the same geometry.
pub const CHART_WIDTH: u32 = 880;
/// A drawn chart's height in pixels.
pub const CHART_HEIGHT: u32 = 600;

choices! {
    /// What `tally plot` can draw.
    ChartKind {
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
    pub kind: ChartKind,
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
pub fn default_model(kind: ChartKind) -> &'static str {
    match kind {
        ChartKind::SharesVsSize => "cs336-2025",
        _ => default_model_name(),
    }
}

/// Flags that belong to other kinds are refused rather than ignored.
pub fn check_flags(plot: &PlotRequest) -> Result<()> {
    let owners: [(&str, bool, &[ChartKind]); 3] = [
        ("--presets", plot.presets.is_some(), &[ChartKind::SharesVsSize]),
        ("--layouts", plot.layouts.is_some(), &[ChartKind::GpuMemory]),
        ("--kv-precision", plot.kv_precision.is_some(), &[ChartKind::Roofline]),
    ];
    for (flag, given, kinds) in owners {
        if given && !kinds.contains(&plot.kind) {
            let names: Vec<&str> = kinds.iter().map(|k| k.word()).collect();
            return Err(Error::Usage(format!("{flag} is for `tally plot {}` only", names.join("`, `"))));
        }
    }
    if plot.range.is_some() && matches!(plot.kind, ChartKind::SharesVsSize | ChartKind::GpuMemory) {
        return Err(Error::Usage(format!(
            "--range has no meaning for {}; it plots {}",
            plot.kind,
            if plot.kind == ChartKind::GpuMemory { "the layouts of --layouts" } else { "the presets of --presets" }
        )));
    }
    Ok(())
}

/// A chart as `tally plot` is asked for it: the model, bindings and options, and the kind of chart.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChartRequest {
    /// The model, bindings and options.
    pub derive: DeriveRequest,
    /// The kind of chart and its flags.
    pub plot: PlotRequest,
}

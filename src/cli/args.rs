//! The command line's grammar (clap). Values are parsed into the library's own option types.

pub use super::model::ModelArgs;
pub use super::options::{OptionArgs, parse_format};
use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use tally::render::Format;
use tally::session::List;

#[derive(Parser)]
#[command(name = "tally", version, about = "Symbolic training-cost accounting for Transformer language models")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// A directory of extra data: hardware.toml, precisions.toml, layouts.toml,
    /// optimizers/*.toml, models/*.toml (also TALLY_DATA).
    #[arg(long, global = true, value_name = "DIR", env = "TALLY_DATA")]
    pub data: Option<PathBuf>,
    /// Give up (exit 2) after waiting this many seconds for another tally run of yours to finish
    /// with symbolica (one run per user at a time). [default: wait as long as it takes]
    #[arg(long, global = true, value_name = "SECONDS", allow_hyphen_values = true)]
    pub wait_timeout: Option<String>,
    /// Fit text output to N columns [default: the terminal's width when writing to one; no limit
    /// in a pipe or file].
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(40..))]
    pub width: Option<u16>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Derive a model's parameters, FLOPs, training memory, largest batch, training time and
    /// inference costs step by step, or answer a CS336 sheet (`tally derive cs336-2025`).
    Derive(Box<DeriveArgs>),
    /// Check hand-written formulas and stated numbers against the derivation.
    /// Exit status: 0 every claim holds, 1 some claim is wrong, 2 the input could not be read.
    Audit(Box<AuditArgs>),
    /// The parallel layouts of a model on N GPUs that fit, fastest first (data, tensor, pipeline
    /// and context degrees, ZeRO stage, sequence parallelism, recomputation, micro-batches).
    Plan(Box<PlanArgs>),
    /// Serving a model for inference: weights and KV-cache memory, the largest concurrency and
    /// context that fit, prefill and decode times on a per-op roofline.
    Serve(Box<super::serve::ServeArgs>),
    /// Quantities over a grid of sizes, models and conventions, evaluated exactly from closed
    /// forms derived once: `tally sweep --vary B=1..1024 --vary T=1024,4096 --quantity memory.total`.
    Sweep(Box<super::sweep::SweepArgs>),
    /// Charts of the derivations as SVG: memory vs batch, FLOP shares vs size or context, time vs
    /// MFU or GPUs, per-GPU memory across layouts, the inference roofline.
    Plot(Box<super::plot::PlotArgs>),
    /// Write the tally model file a Hugging Face config.json becomes, to edit or to derive.
    Import {
        /// The config.json, or a folder holding one.
        #[arg(long, value_name = "PATH")]
        hf_config: PathBuf,
        /// Write to this file (atomically) instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// List what tally knows.
    List {
        /// What to list.
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(List::WORDS)
            .map(|word| word.parse::<List>().unwrap_or_default()))]
        what: List,
    },
    /// Print a shell completion script: `tally completions bash > ~/.local/share/bash-completion/completions/tally`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

impl Command {
    /// Whether the command was asked for JSON, so that a failure is reported as JSON too.
    pub fn writes_json(&self) -> bool {
        match self {
            Command::Derive(a) => a.format == Format::Json,
            Command::Audit(a) => a.format == AuditFormat::Json,
            Command::Plan(a) => a.format == Format::Json,
            Command::Serve(a) => a.format == Format::Json,
            Command::Sweep(a) => a.format == tally::session::RowFormat::Json,
            _ => false,
        }
    }
}

#[derive(Args)]
pub struct DeriveArgs {
    /// An answer sheet (cs336-2025, cs336-2024, or a sheet file), or a model as for --model.
    #[arg(value_name = "SHEET|MODEL")]
    pub positional: Option<String>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output format: text, markdown, latex (or tex), json, html.
    #[arg(long, default_value = "text", value_parser = parse_format)]
    pub format: Format,
    /// Write to FILE instead of standard output (atomically; never over one of the inputs).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// LaTeX only: emit a complete, compilable document.
    #[arg(long)]
    pub standalone: bool,
    #[command(flatten)]
    pub options: OptionArgs,
}

#[derive(Args)]
pub struct AuditArgs {
    /// Claims to check, each `QUANTITY = FORMULA`, `QUANTITY = NUMBER UNIT`, or both:
    /// "memory.params + memory.gradients + memory.optimizer = 16 * total_params * 4".
    #[arg(value_name = "CLAIM")]
    pub claims: Vec<String>,
    /// A claims file (TOML: [[claim]] with id, quantity, formula and/or value, tolerance, set and
    /// conventions); `-` reads it from standard input.
    #[arg(long = "claims", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// A claim that holds only under another convention or as an approximation counts as wrong
    /// (exit status 1).
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,
    #[command(flatten)]
    pub options: OptionArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub enum AuditFormat {
    /// Compiler-style diagnostics.
    Text,
    /// Markdown.
    Markdown,
    /// JSON.
    Json,
}

/// `tally plan`.
#[derive(Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// GPUs in all.
    #[arg(long, value_name = "N")]
    pub gpus: u64,
    /// Tokens per sequence.
    #[arg(long, value_name = "TOKENS")]
    pub seq: u64,
    /// Sequences per step in all (data-parallel degree × micro-batches × micro-batch size).
    #[arg(long, value_name = "SEQUENCES")]
    pub global_batch: u64,
    /// Layouts to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Output format: text, markdown, latex, html, or json (for tools).
    #[arg(long, default_value = "text", value_parser = parse_format)]
    pub format: Format,
    #[command(flatten)]
    pub options: OptionArgs,
}

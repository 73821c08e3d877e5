//! `tally serve`: its arguments and how they become a request. The library does the rest.

use super::files::Inputs;
use super::model::ModelArgs;
use super::options::parse_format;
use clap::Args;
use tally::error::Error;
use tally::options::{AttentionFlops, FlopCount, Options, SlidingCache};
use tally::render::{self, Format};
use tally::session::{DeriveRequest, ServeRequest, Session};

/// `tally serve`.
#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Accelerator: its memory, peak FLOP/s and memory bandwidth (`tally list hardware`).
    #[arg(long, value_name = "NAME", default_value_t = Options::default().hardware)]
    pub hardware: String,
    /// Precision of the weights; also picks the hardware's peak (`tally list precisions`).
    #[arg(long, value_name = "NAME", default_value = "bf16")]
    pub precision: String,
    /// Precision of the KV cache [default: the weights' precision].
    #[arg(long, value_name = "NAME")]
    pub kv_precision: Option<String>,
    /// Tokens per sequence (binds T) [default: the model's context].
    #[arg(long, value_name = "TOKENS")]
    pub context: Option<u64>,
    /// Sequences served at once (binds B).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub concurrency: u64,
    /// Memory budget: 80GB (10⁹ bytes) or 80GiB (2³⁰ bytes) [default: the hardware's memory,
    /// read as the hardware data says].
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Which FLOPs count: matmul or all (element-wise work too).
    #[arg(long, default_value_t = Options::default().flops)]
    pub flops: FlopCount,
    /// Attention FLOPs of prefill: full (the T×T matmuls), causal (halved) or window (sliding layers: T·min(T, W)).
    #[arg(long, default_value_t = Options::default().attention_flops)]
    pub attention_flops: AttentionFlops,
    /// Tokens a sliding layer's KV cache holds: window (min(T, W)), hf-dynamic (min(T, W − 1)) or full (T).
    #[arg(long, default_value_t = Options::default().sliding_cache)]
    pub sliding_cache: SlidingCache,
    /// Output format: text, markdown, latex (or tex), json, html.
    #[arg(long, default_value = "text", value_parser = parse_format)]
    pub format: Format,
    /// LaTeX only: emit a complete, compilable document.
    #[arg(long)]
    pub standalone: bool,
}

/// Runs `tally serve` in an open session and returns the text to print.
pub fn run(args: &ServeArgs, session: Session, inputs: &mut Inputs, width: Option<usize>) -> Result<String, Error> {
    let options = Options {
        precision: args.precision.clone(),
        hardware: args.hardware.clone(),
        memory: args.memory.clone(),
        flops: args.flops,
        attention_flops: args.attention_flops,
        sliding_cache: args.sliding_cache,
        ..Options::default()
    };
    let name = args.model.model.clone().unwrap_or_else(|| tally::session::default_model_name().to_string());
    let (file, preset) = super::model::model_source(&args.model, &name, session.facts(), inputs)?;
    let request = DeriveRequest { model: name, file, preset, sets: args.model.sets.clone(), options };
    let serve = ServeRequest {
        context: args.context,
        concurrency: Some(args.concurrency),
        kv_precision: args.kv_precision.clone(),
    };
    let doc = session.serve(&request, &serve)?;
    drop(session);
    for note in &doc.notes {
        super::say(&format!("tally: {}\n", tally::diagnostic::printable(note)));
    }
    Ok(match (args.format, width) {
        (Format::Text, Some(w)) => render::render_text(&doc, w),
        (format, _) => render::render(&doc, format, args.standalone),
    })
}

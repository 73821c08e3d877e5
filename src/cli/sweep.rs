//! `tally sweep`: its arguments and how they become a request; rows stream to stdout.

use super::files::Inputs;
use super::model::ModelArgs;
use super::options::OptionArgs;
use clap::Args;
use tally::error::Error;
use tally::session::{Axis, DeriveRequest, RowFormat as Format, Session, SweepRequest};

/// `tally sweep`.
#[derive(Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// An axis of the grid, repeatable: a symbol (`B=1..1024`, `T=1024,4096,16384`, `H=512..4096:512`,
    /// `B=1..1024*2`), `model=gpt2-small,gpt2-xl`, or a convention (`precision=fp32,bf16`).
    #[arg(long = "vary", value_name = "NAME=VALUES", required = true)]
    pub vary: Vec<String>,
    /// Quantities to evaluate, comma-separated (`tally list quantities`).
    #[arg(long = "quantity", value_name = "NAMES", default_value = "memory.total,flops.step")]
    pub quantities: Vec<String>,
    /// Output: csv, json or markdown.
    #[arg(long, default_value_t = Format::Csv)]
    pub format: Format,
    #[command(flatten)]
    pub options: OptionArgs,
}

/// Runs `tally sweep`, writing rows to stdout as they are evaluated.
pub fn run(args: &SweepArgs, session: Session, inputs: &mut Inputs) -> Result<(), Error> {
    let name = args.model.model.clone().unwrap_or_else(|| tally::session::default_model_name().to_string());
    let (file, preset) = super::model::model_source(&args.model, &name, session.facts(), inputs)?;
    let axes = args.vary.iter().map(|v| Axis::parse(v, session.facts())).collect::<Result<Vec<_>, _>>()?;
    if args.model.model.is_some() && axes.iter().any(|a| matches!(a, Axis::Model(_))) {
        return Err(Error::Usage(
            "the model is both given (--model) and varied (--vary model=…); leave out one of them".into(),
        ));
    }
    let quantities = args
        .quantities
        .iter()
        .flat_map(|q| q.split(','))
        .map(|q| q.trim().to_string())
        .filter(|q| !q.is_empty())
        .collect();
    let base =
        DeriveRequest { model: name, file, preset, sets: args.model.sets.clone(), options: args.options.options() };
    let request = SweepRequest { base, axes, quantities };
    // Not `stdout().lock()`: the algebra's worker flushes stdout once when symbolica starts, and
    // a lock held here while the worker runs would never be let go.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
    match session.sweep(&request, args.format, &mut out) {
        // A closed pipe (`| head`) ends the sweep quietly.
        Err(Error::Output { reason, .. }) if reason.contains("Broken pipe") => Ok(()),
        other => other,
    }
}

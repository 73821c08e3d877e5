//! `tally plot KIND`: its arguments and how they become a request. The library builds the chart
//! from the derivations and draws it; this file only reads the arguments and names the model.

use super::files::Inputs;
use super::model::ModelArgs;
use super::options::OptionArgs;
use clap::Args;
use clap::builder::TypedValueParser;
use std::path::PathBuf;
use tally::error::Error;
use tally::session::{ChartKind, DeriveRequest, PlotRequest, Session};

/// `tally plot`.
#[derive(Args)]
pub struct PlotArgs {
    /// The chart to draw (shares-vs-size compares the presets of --model, cs336-2025 unless given).
    #[arg(value_name = "KIND", value_parser = clap::builder::PossibleValuesParser::new(ChartKind::WORDS)
        .map(|word| word.parse::<ChartKind>().unwrap_or_default()))]
    pub kind: ChartKind,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Values along the horizontal axis, A..B or a,b,c: batch sizes (memory-vs-batch, the extent
    /// shown) [default: 0 to past the largest batch], context lengths (shares-vs-context, doubling
    /// from A) [default: 256..65536], MFUs (time-vs-mfu, hundredths) [default: 0.1..0.7], GPU
    /// counts (time-vs-gpus, doubling) [default: 1..1024], concurrencies (roofline) [default:
    /// 1,8,64,512].
    #[arg(long, value_name = "A..B|LIST")]
    pub range: Option<String>,
    /// shares-vs-size: the size presets to compare, comma-separated [default: every preset of the
    /// model's architecture].
    #[arg(long, value_name = "NAMES")]
    pub presets: Option<String>,
    /// gpu-memory: the parallel layouts, `;`-separated, each as --parallel takes it
    /// [default: "dp=8;dp=4,pp=2;dp=2,pp=4;pp=8"].
    #[arg(long, value_name = "LAYOUTS")]
    pub layouts: Option<String>,
    /// roofline: the KV cache's precision [default: the weights'; the weights are bf16 unless
    /// --precision says otherwise, as in `tally serve`].
    #[arg(long, value_name = "NAME")]
    pub kv_precision: Option<String>,
    /// Write the SVG to FILE (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub options: OptionArgs,
}

/// Runs `tally plot` in an open session and returns the SVG.
pub fn run(args: &PlotArgs, session: Session, inputs: &mut Inputs) -> Result<String, Error> {
    let options = args.options.options();
    // Options first: a bad --hardware is the mistake, whatever else is wrong.
    session.check_options(&options)?;
    let name = args.model.model.clone().unwrap_or_else(|| tally::session::default_model(args.kind).to_string());
    let (file, preset) = super::model::model_source(&args.model, &name, session.facts(), inputs)?;
    if let Some(path) = &args.output {
        inputs.check_output(path)?;
    }
    let request = DeriveRequest { model: name, file, preset, sets: args.model.sets.clone(), options };
    let plot = PlotRequest {
        kind: args.kind,
        range: args.range.clone(),
        presets: args.presets.clone(),
        layouts: args.layouts.clone(),
        kv_precision: args.kv_precision.clone(),
    };
    let svg = session.plot(&request, &plot)?;
    drop(session);
    Ok(svg)
}

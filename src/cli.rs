//! The command line: arguments in, one derivation out. Reads files and prints; all the work is
//! the library's. Exit status: 0 success, 2 the input could not be used.

use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use tally::algebra::{self, Rational};
use tally::derivation::{self, DeriveOptions};
use tally::error::Error;
use tally::ops::FlopConvention;
use tally::preset::Registry;
use tally::render::{self, Format};
use tally::symbol::SymbolTable;

#[derive(Parser)]
#[command(name = "tally", version, about = "Symbolic training-cost accounting for Transformer language models")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Derive parameters and forward FLOPs of a model, step by step.
    Derive(DeriveArgs),
    /// List what tally knows.
    List {
        /// What to list.
        #[arg(value_enum)]
        what: ListWhat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ListWhat {
    /// Architectures and size presets.
    Models,
    /// Symbols with their long names.
    Symbols,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FlopsArg {
    /// Only matrix multiplications (CS336's convention).
    Matmul,
    /// Matrix multiplications and element-wise work (norms, softmax, activations, adds).
    All,
}

#[derive(clap::Args)]
struct DeriveArgs {
    /// Model: an architecture, a size preset, ARCH/PRESET, or a model file (.toml).
    #[arg(value_name = "MODEL")]
    positional: Option<String>,
    /// Model: an architecture, a size preset, ARCH/PRESET, or a model file (.toml).
    #[arg(long, value_name = "NAME|FILE")]
    model: Option<String>,
    /// Bind a symbol, by short or long name: --set T=16384, --set context_length=16384. Repeatable.
    #[arg(long = "set", value_name = "SYMBOL=VALUE")]
    sets: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// LaTeX only: emit a complete, compilable document.
    #[arg(long)]
    standalone: bool,
    /// Which FLOPs count.
    #[arg(long, value_enum, default_value_t = FlopsArg::Matmul)]
    flops: FlopsArg,
}

/// Runs the command line and returns the process exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Derive(args) => derive(args),
        Command::List { what } => {
            list(what);
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn list(what: ListWhat) {
    let symbols = SymbolTable::builtin();
    let rows: Vec<(String, String)> = match what {
        ListWhat::Models => Registry::builtin(&symbols).listing(),
        ListWhat::Symbols => {
            symbols.all().iter().map(|s| (format!("{} {}", s.short, s.long), s.meaning.clone())).collect()
        }
    };
    let width = rows.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (name, summary) in rows {
        out.push_str(&format!("{name:<width$}  {summary}\n"));
    }
    print!("{out}");
}

/// `SYMBOL=VALUE` with a known symbol and a positive whole number.
fn parse_set(arg: &str, symbols: &SymbolTable) -> Result<(String, Rational), Error> {
    let bad = |reason: String| Error::BadSet { arg: arg.to_string(), reason };
    let Some((name, value)) = arg.split_once('=') else {
        return Err(bad("expected SYMBOL=VALUE, e.g. --set T=16384".into()));
    };
    let def = symbols.get(name.trim()).ok_or_else(|| bad(symbols.resolve(name.trim()).err().unwrap_or_default()))?;
    let cleaned: String = value.trim().chars().filter(|c| *c != ',').collect();
    let number = algebra::parse_decimal(&cleaned)
        .ok_or_else(|| bad(format!("`{value}` is not a number (write e.g. {}=1024)", def.short)))?;
    if !number.is_integer() || number <= Rational::from_integer(0.into()) {
        return Err(bad(format!("{} ({}) must be a positive whole number, not `{value}`", def.short, def.long)));
    }
    Ok((def.short.clone(), number))
}

fn derive(args: DeriveArgs) -> Result<(), Error> {
    let symbols = SymbolTable::builtin();
    let name = match (&args.positional, &args.model) {
        (Some(_), Some(_)) => {
            return Err(Error::BadSet {
                arg: "MODEL".into(),
                reason: "give the model either as an argument or with --model, not both".into(),
            });
        }
        (Some(n), None) | (None, Some(n)) => n.clone(),
        (None, None) => "gpt2-xl".to_string(),
    };
    let selection = Registry::builtin(&symbols).select(&name, &symbols)?;
    let sets = args.sets.iter().map(|s| parse_set(s, &symbols)).collect::<Result<Vec<_>, _>>()?;
    let options = DeriveOptions { flops: FlopConvention { elementwise: matches!(args.flops, FlopsArg::All) } };
    let (format, standalone) = (args.format, args.standalone);
    let work = move || -> Result<String, Error> {
        let bindings = selection.model.bind(selection.preset.as_ref(), &sets, &symbols)?;
        let doc = derivation::derive(&selection, &bindings, &symbols, options);
        Ok(render::render(&doc, format, standalone))
    };
    let output = algebra::session::exclusive(work).map_err(|e| Error::Io {
        path: algebra::session::lock_path().display().to_string(),
        reason: e.to_string(),
    })??;
    match &args.output {
        Some(path) => std::fs::write(path, output)
            .map_err(|e| Error::Output { path: path.display().to_string(), reason: e.to_string() }),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(output.as_bytes()).and_then(|_| stdout.flush()).or_else(|e| {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    Ok(())
                } else {
                    Err(Error::Output { path: "stdout".into(), reason: e.to_string() })
                }
            })
        }
    }
}

//! The command line: arguments in, one derivation out. Reads files and prints; all the work is
//! the library's. Exit status: 0 success, 2 the input could not be used.

mod files;

use clap::{Parser, Subcommand, ValueEnum};
use files::Inputs;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use tally::algebra::worker::{self, WaitOptions};
use tally::algebra::{self, Engine, Rational};
use tally::audit;
use tally::derivation::{self, DeriveOptions, TrainingOptions};
use tally::dim::{self, Precision};
use tally::error::Error;
use tally::hardware::Hardware;
use tally::model::Origin;
use tally::ops::{ActivationConvention, FlopConvention};
use tally::preset::Registry;
use tally::quantity::Layout;
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
    /// Derive a model's parameters, FLOPs, training memory, largest batch, training time and
    /// inference costs step by step, or answer a CS336 sheet (`tally derive cs336-2025`).
    Derive(Box<DeriveArgs>),
    /// Check hand-written formulas and stated numbers against the derivation.
    /// Exit status: 0 every claim holds, 1 some claim is wrong, 2 the input could not be read.
    Audit(Box<AuditArgs>),
    /// List what tally knows.
    List {
        /// What to list.
        #[arg(value_enum)]
        what: ListWhat,
    },
    /// Print a shell completion script: `tally completions bash > ~/.local/share/bash-completion/completions/tally`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args)]
struct AuditArgs {
    /// Claims to check, each `QUANTITY = FORMULA`, `QUANTITY = NUMBER UNIT`, or both:
    /// "memory.params + memory.gradients + memory.optimizer = 16 * total_params * 4".
    #[arg(value_name = "CLAIM")]
    claims: Vec<String>,
    /// A claims file (TOML: [[claim]] with id, quantity, formula and/or value, tolerance).
    #[arg(long = "claims", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Model to check against (default: the claims file's `model`, else gpt2-xl).
    #[arg(long, value_name = "NAME|FILE")]
    model: Option<String>,
    /// Bind a symbol, by short or long name. Repeatable.
    #[arg(long = "set", value_name = "SYMBOL=VALUE")]
    sets: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    format: AuditFormat,
    #[command(flatten)]
    training: TrainingArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum AuditFormat {
    /// Compiler-style diagnostics.
    Text,
    /// Markdown.
    Markdown,
    /// JSON.
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ListWhat {
    /// Architectures and size presets.
    Models,
    /// Answer sheets (`tally derive cs336-2025`).
    Sheets,
    /// Symbols with their long names.
    Symbols,
    /// Accelerators with memory and peak FLOP/s.
    Hardware,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FlopsArg {
    /// Only matrix multiplications (CS336's convention).
    Matmul,
    /// Matrix multiplications and element-wise work (norms, softmax, activations, adds).
    All,
}

#[derive(clap::Args)]
struct DeriveArgs {
    /// An answer sheet (cs336-2025, cs336-2024, or a sheet file), or a model as for --model.
    #[arg(value_name = "SHEET|MODEL")]
    positional: Option<String>,
    /// Model: an architecture, a size preset, ARCH/PRESET, or a model file (FILE.toml or
    /// FILE.toml:PRESET).
    #[arg(long, value_name = "NAME|FILE")]
    model: Option<String>,
    /// A size preset of the model (for a model file or an architecture): --preset small.
    #[arg(long, value_name = "NAME")]
    preset: Option<String>,
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
    #[command(flatten)]
    training: TrainingArgs,
}

/// Conventions and training settings shared by `derive` and `audit`.
#[derive(clap::Args)]
struct TrainingArgs {
    /// Which FLOPs count.
    #[arg(long, value_enum, default_value_t = FlopsArg::Matmul)]
    flops: FlopsArg,
    /// Bytes per element of parameters, gradients, optimizer state and activations; also picks the
    /// hardware peak.
    #[arg(long, value_enum, default_value_t = PrecisionArg::Fp32)]
    precision: PrecisionArg,
    /// Attention FLOPs: the full T×T matmuls, or halved for a causal mask.
    #[arg(long, value_enum, default_value_t = AttentionFlopsArg::Full)]
    attention_flops: AttentionFlopsArg,
    /// Which activations count toward memory: CS336's list, every intermediate, or what each op
    /// keeps for its backward pass (Korthikanti et al., with 1-byte dropout masks).
    #[arg(long, value_enum, default_value_t = ActivationsArg::Cs336)]
    activations: ActivationsArg,
    /// Activation recomputation: none, or full (each block keeps only its input; the backward
    /// pass reruns the forward).
    #[arg(long, value_enum, default_value_t = RecomputeArg::None)]
    recompute: RecomputeArg,
    /// Attention kernel: standard, or flash (no T² tensors kept; an fp32 log-sum-exp per row).
    #[arg(long, value_enum, default_value_t = KernelArg::Standard)]
    attention_kernel: KernelArg,
    /// How weights, gradients and AdamW state are stored: every tensor in --precision (uniform),
    /// mixed (16-bit weights and gradients + fp32 master, m, v), or mixed with fp32 gradients.
    #[arg(long, value_enum, default_value_t = LayoutArg::Uniform)]
    layout: LayoutArg,
    /// Accelerator for memory and peak FLOP/s (see `tally list hardware`).
    #[arg(long, value_name = "NAME", default_value = derivation::DEFAULT_HARDWARE)]
    hardware: String,
    /// Memory budget for the largest batch: 80GB (10⁹ bytes) or 80GiB (2³⁰ bytes).
    /// [default: the hardware's memory, tried as both GB and GiB]
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    memory: Option<String>,
    /// Model FLOPs utilisation, a fraction of peak in (0, 1] (0.5 or 50%); binds U.
    #[arg(long, value_name = "FRACTION", default_value = "0.5", allow_hyphen_values = true)]
    mfu: String,
    /// Optimizer steps of the training run; binds S.
    #[arg(long, value_name = "N", default_value = "400000", allow_hyphen_values = true)]
    steps: String,
    /// A measured training throughput to turn into MFU.
    #[arg(long, value_name = "RATE", allow_hyphen_values = true)]
    tokens_per_second: Option<String>,
    /// Give up (exit 2) after waiting this many seconds for another tally run of yours to finish
    /// with symbolica (one run per user at a time). [default: wait as long as it takes]
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    wait_timeout: Option<String>,
}

/// The training options given with a value other than their default.
fn changed_options(args: &TrainingArgs) -> Vec<&'static str> {
    /// The training options alone, to read their defaults.
    #[derive(Parser)]
    struct Defaults {
        #[command(flatten)]
        training: TrainingArgs,
    }
    let defaults = Defaults::parse_from(["tally"]).training;
    let mut changed = Vec::new();
    let mut check = |name: &'static str, differs: bool| {
        if differs {
            changed.push(name);
        }
    };
    check("--flops", args.flops != defaults.flops);
    check("--precision", args.precision != defaults.precision);
    check("--attention-flops", args.attention_flops != defaults.attention_flops);
    check("--activations", args.activations != defaults.activations);
    check("--recompute", args.recompute != defaults.recompute);
    check("--attention-kernel", args.attention_kernel != defaults.attention_kernel);
    check("--layout", args.layout != defaults.layout);
    check("--hardware", args.hardware != defaults.hardware);
    check("--memory", args.memory.is_some());
    check("--mfu", args.mfu != defaults.mfu);
    check("--steps", args.steps != defaults.steps);
    check("--tokens-per-second", args.tokens_per_second.is_some());
    changed
}

/// How long to wait for the per-user lock, from `--wait-timeout`.
fn wait_options(args: &TrainingArgs) -> Result<WaitOptions, Error> {
    let timeout = match &args.wait_timeout {
        None => None,
        Some(text) => {
            let seconds = algebra::parse_decimal(text.trim())
                .filter(|v| *v >= Rational::from_integer(0.into()) && *v <= Rational::from_integer(86_400.into()))
                .ok_or_else(|| {
                    bad("--wait-timeout", text, "give a number of seconds from 0 to 86400 (e.g. 30 or 2.5)")
                })?;
            let millis = (seconds * Rational::from_integer(1000.into())).floor().to_integer();
            Some(std::time::Duration::from_millis(u64::try_from(millis).unwrap_or(0)))
        }
    };
    Ok(WaitOptions { timeout, quiet: false })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum PrecisionArg {
    /// 4 bytes per element; fp32 peak.
    Fp32,
    /// 4 bytes per element (fp32 storage); TF32 tensor-core peak.
    Tf32,
    /// 2 bytes per element; bf16 peak.
    Bf16,
    /// 2 bytes per element; fp16 peak.
    Fp16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ActivationsArg {
    /// The CS336 assignment's list of saved activations.
    Cs336,
    /// Every intermediate the architecture's ops save.
    All,
    /// What each op keeps for its own backward pass, with dropout masks (Korthikanti et al. 2022).
    Korthikanti,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum AttentionFlopsArg {
    /// Full QKᵀ and AV.
    Full,
    /// Causal: the two T² matmuls halved.
    Causal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum RecomputeArg {
    /// Keep every activation of the chosen list.
    None,
    /// Keep only each block's input; rerun the forward pass during backward.
    Full,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum KernelArg {
    /// Materialise the T×T attention matrices.
    Standard,
    /// FlashAttention: recompute them, keep the log-sum-exp.
    Flash,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LayoutArg {
    /// Every tensor in --precision.
    Uniform,
    /// 16-bit weights and gradients, fp32 master weights, m and v.
    Mixed,
    /// 16-bit weights, fp32 gradients, master weights, m and v.
    MixedFp32Grads,
}

/// Runs the command line and returns the process exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap echoes the arguments it rejects; they are printed without control characters.
            let text = e.render().to_string();
            if e.use_stderr() {
                eprint!("{}", tally::diagnostic::printable(&text));
                return ExitCode::from(2);
            }
            print!("{}", tally::diagnostic::printable(&text));
            return ExitCode::SUCCESS;
        }
    };
    let result = match cli.command {
        Command::Derive(args) => derive(*args).map(|()| 0),
        Command::Audit(args) => audit(*args),
        Command::List { what } => {
            list(what);
            Ok(0)
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "tally", &mut std::io::stdout());
            Ok(0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", tally::diagnostic::printable(&e.to_string()));
            ExitCode::from(2)
        }
    }
}

fn list(what: ListWhat) {
    let symbols = SymbolTable::builtin();
    let rows: Vec<(String, String)> = match what {
        ListWhat::Models => Registry::builtin(&symbols).listing(),
        ListWhat::Sheets => derivation::Sheet::listing(),
        ListWhat::Hardware => Hardware::builtin()
            .into_iter()
            .map(|h| {
                let peaks: Vec<String> = h
                    .peak
                    .iter()
                    .map(|(p, v)| {
                        format!(
                            "{p} {} TFLOP/s",
                            dim::decimal(&(v / Rational::from_integer(1_000_000_000_000u64.into())), 1)
                        )
                    })
                    .collect();
                (h.name.clone(), format!("{}, {}: {}", h.summary, h.memory_nominal, peaks.join(", ")))
            })
            .collect(),
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

/// `SYMBOL=VALUE` with a known symbol and a value it can take (a positive whole number for a
/// size; a fraction up to 1 for MFU). Commas are read only as thousands separators (`16,384`).
fn parse_set(arg: &str, symbols: &SymbolTable) -> Result<(String, Rational), Error> {
    let bad = |reason: String| Error::BadSet { arg: arg.to_string(), reason };
    let Some((name, value)) = arg.split_once('=') else {
        return Err(bad("expected SYMBOL=VALUE, e.g. --set T=16384".into()));
    };
    let def = symbols.get(name.trim()).ok_or_else(|| bad(symbols.resolve(name.trim()).err().unwrap_or_default()))?;
    let number = read_number(value.trim()).ok_or_else(|| {
        bad(format!("`{value}` is not a number (write e.g. {}=1024 or {}=16,384)", def.short, def.short))
    })?;
    def.check(&number).map_err(|reason| bad(format!("{} ({}) {reason}, not `{value}`", def.short, def.long)))?;
    Ok((def.short.clone(), number))
}

/// A number as people type it on a command line: `16384`, `16,384`, `1e9`, `0.5`. A comma must
/// separate groups of three digits (`1,2` is not a number).
fn read_number(text: &str) -> Option<Rational> {
    let (whole, rest) = match text.find(['.', 'e', 'E']) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let mut groups = whole.split(',');
    let first = groups.next()?;
    let grouped = whole.contains(',');
    if grouped && (first.is_empty() || first.len() > 3 || groups.clone().any(|g| g.len() != 3)) {
        return None;
    }
    algebra::parse_decimal(&format!("{}{rest}", whole.replace(',', "")))
}

fn bad(option: &str, value: &str, reason: impl Into<String>) -> Error {
    Error::BadOption { option: option.into(), value: value.into(), reason: reason.into() }
}

fn training_options(args: &TrainingArgs) -> Result<TrainingOptions, Error> {
    let precision = match args.precision {
        PrecisionArg::Fp32 => Precision::Fp32,
        PrecisionArg::Tf32 => Precision::Tf32,
        PrecisionArg::Bf16 => Precision::Bf16,
        PrecisionArg::Fp16 => Precision::Fp16,
    };
    let activations = match args.activations {
        ActivationsArg::Cs336 => ActivationConvention::Cs336,
        ActivationsArg::All => ActivationConvention::All,
        ActivationsArg::Korthikanti => ActivationConvention::Korthikanti,
    };
    let layout = match args.layout {
        LayoutArg::Uniform => Layout::Uniform,
        LayoutArg::Mixed => Layout::Mixed,
        LayoutArg::MixedFp32Grads => Layout::MixedFp32Grads,
    };
    let recompute = matches!(args.recompute, RecomputeArg::Full);
    let flash = matches!(args.attention_kernel, KernelArg::Flash);
    let hardware = Hardware::find(&args.hardware)?;
    let budget = match &args.memory {
        Some(text) => Some((text.clone(), dim::parse_bytes(text).map_err(|e| bad("--memory", text, e))?)),
        None => None,
    };
    let tokens_per_second = match &args.tokens_per_second {
        Some(text) => {
            let v = algebra::parse_decimal(&text.replace(',', ""))
                .ok_or_else(|| bad("--tokens-per-second", text, "not a number"))?;
            if v <= Rational::from_integer(0.into()) {
                return Err(bad("--tokens-per-second", text, "a throughput must be positive"));
            }
            Some(v)
        }
        None => None,
    };
    let steps = algebra::parse_decimal(&args.steps.replace(',', ""))
        .filter(|v| v.is_integer() && *v > Rational::from_integer(0.into()))
        .ok_or_else(|| bad("--steps", &args.steps, "the number of steps must be a positive whole number"))?;
    let (mfu_text, scale) = match args.mfu.trim().strip_suffix('%') {
        Some(p) => (p.trim(), Rational::new(1.into(), 100.into())),
        None => (args.mfu.trim(), Rational::from_integer(1.into())),
    };
    let mfu = algebra::parse_decimal(mfu_text)
        .map(|v| v * scale)
        .ok_or_else(|| bad("--mfu", &args.mfu, "not a number (write 0.5 or 50%)"))?;
    if mfu <= Rational::from_integer(0.into()) || mfu > Rational::from_integer(1.into()) {
        return Err(bad("--mfu", &args.mfu, "MFU is a fraction of peak and must lie in (0, 1] (0.5 or 50%)"));
    }
    Ok(TrainingOptions {
        precision,
        activations,
        layout,
        recompute,
        flash,
        hardware,
        budget,
        tokens_per_second,
        steps,
        mfu,
    })
}

fn flop_convention(args: &TrainingArgs) -> FlopConvention {
    FlopConvention {
        elementwise: matches!(args.flops, FlopsArg::All),
        causal: matches!(args.attention_flops, AttentionFlopsArg::Causal),
    }
}

fn derive(args: DeriveArgs) -> Result<(), Error> {
    let symbols = SymbolTable::builtin();
    let wait = wait_options(&args.training)?;
    // Options first: `--memory 80 GB` leaves `GB` as a stray argument, and the memory is the mistake.
    let training = training_options(&args.training)?;
    let name = match (&args.positional, &args.model) {
        (Some(p), Some(m)) => {
            return Err(Error::Usage(format!(
                "two models given: `{p}` as an argument and `{m}` with --model; give the model once"
            )));
        }
        (Some(n), None) | (None, Some(n)) => n.clone(),
        (None, None) => "gpt2-xl".to_string(),
    };
    let flops = flop_convention(&args.training);
    let (format, standalone) = (args.format, args.standalone);
    let mut inputs = Inputs::default();
    if args.model.is_none()
        && let Some(sheet) = find_sheet(&name, &mut inputs)?
    {
        let mut changed = changed_options(&args.training);
        if !args.sets.is_empty() {
            changed.insert(0, "--set");
        }
        if args.preset.is_some() {
            changed.insert(0, "--preset");
        }
        if !changed.is_empty() {
            return Err(Error::Usage(format!(
                "{} cannot be used with the answer sheet `{name}`: it answers each part at the assignment's own sizes and settings, so {} would change nothing; for a derivation with your options use --model (e.g. --model gpt2-xl)",
                changed.join(", "),
                if changed.len() == 1 { "the option" } else { "the options" }
            )));
        }
        if let Some(path) = &args.output {
            inputs.check_output(path)?;
        }
        let options = DeriveOptions { flops, training };
        let work = move |engine: &Engine| -> Result<String, Error> {
            let doc = derivation::answer(engine, &sheet, &options, &symbols)?;
            Ok(render::render(&doc, format, standalone))
        };
        return emit(run_exclusive(&wait, work)?, &args.output, &inputs);
    }
    let selection = select_model(&name, args.preset.as_deref(), &symbols, &mut inputs)?;
    if let Some(path) = &args.output {
        inputs.check_output(path)?;
    }
    // Training symbols first, so that an explicit --set of S, U or R wins.
    let mut sets = training.bindings()?;
    for s in &args.sets {
        let (symbol, value) = parse_set(s, &symbols)?;
        sets.push((symbol, value, Origin::Set));
    }
    let options = DeriveOptions { flops, training };
    let work = move |engine: &Engine| -> Result<String, Error> {
        let bindings = selection.model.bind(selection.preset.as_ref(), &sets, &symbols)?;
        let doc = derivation::derive(engine, &selection, &bindings, &symbols, &options)?;
        Ok(render::render(&doc, format, standalone))
    };
    emit(run_exclusive(&wait, work)?, &args.output, &inputs)
}

/// A built-in answer sheet by name (any letter case), or a file that is one (a TOML file with
/// `[[part]]`s).
fn find_sheet(name: &str, inputs: &mut Inputs) -> Result<Option<derivation::Sheet>, Error> {
    if let Some(sheet) = derivation::Sheet::builtin(&name.to_lowercase()) {
        return Ok(Some(sheet));
    }
    let path = std::path::Path::new(name);
    if !name.ends_with(".toml") || !path.is_file() {
        return Ok(None);
    }
    let source = inputs.read(path)?;
    derivation::Sheet::from_toml(&source).transpose()
}

/// A model by built-in name, or a model file (`FILE.toml`, `FILE.toml:PRESET`); `preset` picks
/// one of its size presets.
fn select_model(
    name: &str,
    preset: Option<&str>,
    symbols: &SymbolTable,
    inputs: &mut Inputs,
) -> Result<tally::preset::Selection, Error> {
    let registry = Registry::builtin(symbols);
    if let Some(mut selection) = registry.select(name)? {
        if let Some(note) = &selection.note {
            eprintln!("tally: {note}");
        }
        if let Some(p) = preset {
            let qualified = format!("{}/{p}", selection.model.name);
            selection = registry.select(&qualified)?.ok_or_else(|| registry.unknown(&qualified))?;
        }
        return Ok(selection);
    }
    let (file, file_preset) = match name.rsplit_once(':') {
        Some((f, p)) if f.ends_with(".toml") && !p.contains('/') => (f, Some(p)),
        _ => (name, None),
    };
    let path = std::path::Path::new(file);
    if !(file.ends_with(".toml") || path.exists() || file.contains(std::path::MAIN_SEPARATOR)) {
        return Err(registry.unknown(name));
    }
    if let (Some(a), Some(b)) = (file_preset, preset)
        && a != b
    {
        return Err(Error::Usage(format!("two presets given: `{a}` after the file name and `{b}` with --preset")));
    }
    let source = inputs.read(path)?;
    tally::preset::from_source(&source, file_preset.or(preset), symbols)
}

/// Runs the algebra under the per-user symbolica lock (see `tally::algebra::worker`).
fn run_exclusive<R: Send + 'static>(
    wait: &WaitOptions,
    work: impl FnOnce(&Engine) -> Result<R, Error> + Send + 'static,
) -> Result<R, Error> {
    worker::exclusive(wait, work)?
}

/// Writes the rendered output to the file (atomically, never over an input) or to stdout (a
/// closed pipe is not an error).
fn emit(output: String, path: &Option<PathBuf>, inputs: &Inputs) -> Result<(), Error> {
    match path {
        Some(path) => inputs.write(path, &output),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(tally::diagnostic::printable(&output).as_bytes()).and_then(|_| stdout.flush()).or_else(
                |e| {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        Ok(())
                    } else {
                        Err(Error::Output { path: "stdout".into(), reason: e.to_string() })
                    }
                },
            )
        }
    }
}

/// Reads the claims (arguments and file), derives the reference for each model they name, checks
/// them, prints the report; returns 0 if every claim holds, 1 if any is wrong, 2 if any is unreadable.
fn audit(args: AuditArgs) -> Result<u8, Error> {
    let symbols = SymbolTable::builtin();
    let wait = wait_options(&args.training)?;
    let mut claims = Vec::new();
    let mut file_model = None;
    let mut inputs = Inputs::default();
    if let Some(path) = &args.file {
        let source = inputs.read(path)?;
        let (model, from_file) = audit::claim::from_file(&source)?;
        file_model = model;
        claims.extend(from_file);
    }
    for (i, text) in args.claims.iter().enumerate() {
        let claim = audit::claim::Claim::parse(&format!("c{}", i + 1), text).map_err(|(message, span)| {
            let source = tally::diagnostic::Source { name: format!("claim {}", i + 1), text: text.clone() };
            Error::Located { message, at: tally::diagnostic::snippet(&source, span) }
        })?;
        claims.push(claim);
    }
    if claims.is_empty() {
        return Err(Error::BadOption {
            option: "CLAIM".into(),
            value: String::new(),
            reason: "give at least one claim, e.g. \"params = 2*V*H + L*(16*H^2 + 2*H) + H\", or --claims FILE".into(),
        });
    }
    let default_model = args.model.clone().or(file_model).unwrap_or_else(|| "gpt2-xl".to_string());
    let training = training_options(&args.training)?;
    let flops = flop_convention(&args.training);
    let mut user_sets = Vec::new();
    for s in &args.sets {
        let (symbol, value) = parse_set(s, &symbols)?;
        user_sets.push((symbol, value, Origin::Set));
    }
    // Group claims by the model and conventions they are checked against; the report keeps the
    // order the claims were given in.
    let key = move |c: &audit::claim::Claim| {
        (c.model.clone().unwrap_or_else(|| default_model.clone()), c.conventions.clone())
    };
    let mut groups: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for c in &claims {
        if !groups.contains(&key(c)) {
            groups.push(key(c));
        }
    }
    let mut references = Vec::new();
    for (model, conventions) in &groups {
        let selection = select_model(model, None, &symbols, &mut inputs)?;
        let mut options = DeriveOptions { flops, training: training.clone() };
        for (name, value) in conventions {
            apply_convention(&mut options, name, value)?;
        }
        let mut group_sets = options.training.bindings()?;
        group_sets.extend(user_sets.iter().cloned());
        references.push(((model.clone(), conventions.clone()), selection, options, group_sets));
    }
    let format = args.format;
    let work = move |engine: &Engine| -> Result<(String, u8), Error> {
        let mut report = audit::Report { model: String::new(), claims: Vec::new() };
        let mut names = Vec::new();
        for (group, selection, options, sets) in &references {
            let bindings = selection.model.bind(selection.preset.as_ref(), sets, &symbols)?;
            let reference = audit::reference::Reference::new(engine, selection, &bindings, &symbols, options)?;
            let mine: Vec<_> = claims.iter().filter(|c| &key(c) == group).cloned().collect();
            let part = audit::check(&mine, &reference);
            if !names.contains(&part.model) {
                names.push(part.model.clone());
            }
            report.claims.extend(part.claims);
        }
        report.model = names.join(", ");
        let order = |c: &audit::ClaimReport| claims.iter().position(|k| k.id == c.claim.id && k.text == c.claim.text);
        report.claims.sort_by_key(order);
        let text = match format {
            AuditFormat::Text => audit::report::text(&report),
            AuditFormat::Markdown => audit::report::markdown(&report),
            AuditFormat::Json => audit::report::json(&report),
        };
        Ok((text, report.exit_code()))
    };
    let (text, code) = run_exclusive(&wait, work)?;
    emit(text, &None, &inputs)?;
    Ok(code)
}

/// A convention named in a claims file, applied to the options of its claims.
fn apply_convention(options: &mut DeriveOptions, name: &str, value: &str) -> Result<(), Error> {
    let unknown = |known: &[&str]| Error::Unknown {
        what: format!("{name} convention"),
        name: value.to_string(),
        known: known.iter().map(|k| k.to_string()).collect(),
    };
    match (name, value) {
        ("activations", "cs336") => options.training.activations = ActivationConvention::Cs336,
        ("activations", "all") => options.training.activations = ActivationConvention::All,
        ("activations", "korthikanti") => options.training.activations = ActivationConvention::Korthikanti,
        ("activations", _) => return Err(unknown(&["cs336", "all", "korthikanti"])),
        ("precision", "fp32") => options.training.precision = Precision::Fp32,
        ("precision", "tf32") => options.training.precision = Precision::Tf32,
        ("precision", "bf16") => options.training.precision = Precision::Bf16,
        ("precision", "fp16") => options.training.precision = Precision::Fp16,
        ("precision", _) => return Err(unknown(&["fp32", "tf32", "bf16", "fp16"])),
        ("flops", "matmul") => options.flops.elementwise = false,
        ("flops", "all") => options.flops.elementwise = true,
        ("flops", _) => return Err(unknown(&["matmul", "all"])),
        ("attention_flops", "full") => options.flops.causal = false,
        ("attention_flops", "causal") => options.flops.causal = true,
        ("attention_flops", _) => return Err(unknown(&["full", "causal"])),
        _ => return Err(unknown(&[])),
    }
    Ok(())
}

//! The command line: parse the arguments, read the files they name, call the library, render,
//! print, and set the exit status (0 success, 1 a claim is wrong, 2 the input could not be used).
//! No domain logic lives here.

mod args;
mod files;
mod model;
mod options;
mod plot;
mod serve;
mod sweep;

use args::{AuditFormat, Cli, Command};
use clap::{CommandFactory, Parser};
use files::Inputs;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tally::diagnostic::{self, printable};
use tally::error::Error;
use tally::render;
use tally::session::{
    AuditRequest, DataFile, DeriveRequest, Facts, List, Rational, Session, SessionOptions, WaitOptions, read_number,
};

/// Runs the command line and returns the process exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap echoes the arguments it rejects; they are printed without control characters.
            let text = printable(&e.render().to_string()).into_owned();
            if e.use_stderr() {
                say(&text);
                // Asked for JSON (as far as the words tell), a script gets the failure as JSON.
                let args: Vec<String> = std::env::args().collect();
                let json = args.windows(2).any(|w| w[0] == "--format" && w[1] == "json")
                    || args.iter().any(|a| a == "--format=json");
                if json {
                    let headline = text.lines().next().unwrap_or_default().trim_start_matches("error: ");
                    let error = tally::diagnostic::Diagnostic::error(headline);
                    let _ = emit(&diagnostic::json(&error, 2), None, &Inputs::default());
                }
                return ExitCode::from(2);
            }
            // --help and --version: a closed pipe is not an error; a full disk is.
            return match emit(&text, None, &Inputs::default()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    say(&diagnostic::render(&e.diagnostic(), false));
                    ExitCode::from(2)
                }
            };
        }
    };
    let mut inputs = Inputs::default();
    let json = cli.command.writes_json();
    match run(cli, &mut inputs) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let diagnostic = e.diagnostic();
            say(&diagnostic::render(&diagnostic, colour));
            // A script that asked for JSON gets every outcome as JSON on stdout, failures too
            // (unless stdout itself is what failed).
            if json && !matches!(&e, Error::Output { path, .. } if path == "stdout") {
                let _ = emit(&diagnostic::json(&diagnostic, 2), None, &inputs);
            }
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli, inputs: &mut Inputs) -> Result<u8, Error> {
    let Cli { command, data, wait_timeout, width: cli_width } = cli;
    let open = |inputs: &mut Inputs| open(data.as_deref(), wait_timeout.as_deref(), inputs);
    match command {
        Command::Completions { shell } => {
            // Written to memory first: clap_complete panics when its writer fails.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tally", &mut script);
            emit(&String::from_utf8_lossy(&script), None, inputs).map(|()| 0)
        }
        Command::List { what } => {
            let session_data = data_files(data.as_deref(), inputs)?;
            let data =
                if session_data.is_empty() { Facts::builtin().clone() } else { Facts::with_user_files(&session_data)? };
            emit(&listing(&data, what)?, None, inputs).map(|()| 0)
        }
        Command::Derive(args) => {
            let session = open(inputs)?;
            let options = args.options.options();
            // Options first: `--memory 80 GB` leaves `GB` as a stray argument, and the memory is the mistake.
            session.check_options(&options)?;
            let name = match (&args.positional, &args.model.model) {
                (Some(p), Some(m)) => {
                    return Err(Error::Usage(format!(
                        "two models given: `{p}` as an argument and `{m}` with --model; give the model once"
                    )));
                }
                (Some(n), None) | (None, Some(n)) => n.clone(),
                (None, None) => tally::session::default_model_name().to_string(),
            };
            let sheet = model::sheet_file(&name, args.model.model.is_none(), inputs)?;
            let mut doc = if args.model.model.is_none()
                && (sheet.is_some() || tally::session::is_sheet(session.facts(), &name))
            {
                check_output(&args.output, inputs)?;
                let request = DeriveRequest {
                    model: name,
                    file: sheet,
                    preset: args.model.preset.clone(),
                    sets: args.model.sets.clone(),
                    options,
                };
                session.answer(&request)?
            } else {
                let (file, preset) = model::model_source(&args.model, &name, session.facts(), inputs)?;
                check_output(&args.output, inputs)?;
                let request = DeriveRequest { model: name, file, preset, sets: args.model.sets.clone(), options };
                session.derive(&request)?
            };
            session.draw_figures(&mut doc, args.format)?;
            drop(session);
            for note in &doc.notes {
                say(&format!("tally: {}\n", printable(note)));
            }
            let text = shown(&doc, args.format, args.standalone, width(cli_width, args.output.is_none()));
            let done = emit(&text, args.output.as_deref(), inputs).map(|()| 0);
            // The process ends next: freeing the document's thousands of small allocations one
            // by one would only delay the exit.
            std::mem::forget((doc, text));
            done
        }
        Command::Plan(args) => {
            let options = args.options.options();
            let chosen: Vec<&str> = options
                .changed()
                .into_iter()
                .filter(|o| {
                    [
                        "--parallel",
                        "--micro-batches",
                        "--micro-batch-size",
                        "--zero",
                        "--sequence-parallel",
                        "--recompute",
                    ]
                    .contains(o)
                })
                .collect();
            if !chosen.is_empty() {
                return Err(Error::Usage(format!("tally plan chooses {} itself; leave them out", chosen.join(", "))));
            }
            if args.gpus == 0 || args.seq == 0 || args.global_batch == 0 {
                return Err(Error::Usage("--gpus, --seq and --global-batch are positive whole numbers".into()));
            }
            let session = open(inputs)?;
            let name = args.model.model.clone().unwrap_or_else(|| tally::session::default_model_name().to_string());
            let (file, preset) = model::model_source(&args.model, &name, session.facts(), inputs)?;
            let request = DeriveRequest { model: name, file, preset, sets: args.model.sets.clone(), options };
            let plan = tally::session::PlanRequest {
                gpus: args.gpus,
                seq: args.seq,
                global_batch: args.global_batch,
                options: request.options.clone(),
                top: args.top,
            };
            let plan = session.plan(&request, &plan)?;
            drop(session);
            let text = match args.format {
                render::Format::Json => serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n",
                format => shown(&tally::session::plan_document(&plan), format, false, width(cli_width, true)),
            };
            emit(&text, None, inputs).map(|()| 0)
        }
        Command::Import { hf_config, output } => {
            check_output(&output, inputs)?;
            let text = model::import(&hf_config, open(inputs)?.facts(), inputs)?;
            emit(&text, output.as_deref(), inputs).map(|()| 0)
        }
        Command::Sweep(args) => sweep::run(&args, open(inputs)?, inputs).map(|()| 0),
        Command::Serve(args) => {
            let text = serve::run(&args, open(inputs)?, inputs, width(cli_width, true))?;
            emit(&text, None, inputs).map(|()| 0)
        }
        Command::Plot(args) => {
            let svg = plot::run(&args, open(inputs)?, inputs)?;
            emit(&svg, args.output.as_deref(), inputs).map(|()| 0)
        }
        Command::Audit(args) => {
            let file = args.file.as_deref().map(|p| inputs.read(p)).transpose()?;
            let session = open(inputs)?;
            let (model_file, preset) = match (&args.model.model, &args.model.hf_config) {
                (Some(name), _) => model::model_source(&args.model, name, session.facts(), inputs)?,
                (None, Some(_)) => model::model_source(&args.model, "", session.facts(), inputs)?,
                (None, None) => (None, args.model.preset.clone()),
            };
            let request = AuditRequest {
                claims: args.claims.clone(),
                file,
                model: args.model.model.clone(),
                model_file,
                preset,
                sets: args.model.sets.clone(),
                options: args.options.options(),
                strict: args.strict,
            };
            let report = session.audit(&request)?;
            drop(session);
            let text = match args.format {
                AuditFormat::Text => tally::session::audit_report::text(
                    &report,
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
                ),
                AuditFormat::Markdown => tally::session::audit_report::markdown(&report),
                AuditFormat::Json => tally::session::audit_report::json(&report),
            };
            emit(&text, None, inputs)?;
            Ok(report.exit_code())
        }
    }
}

/// Writes a message to stderr. A message that cannot be written (stderr a full disk, or a pipe
/// whose reader has gone) is dropped: the exit status still says what happened.
pub(crate) fn say(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes()).and_then(|()| stderr.flush());
}

/// Opens the library session: the lock (waiting as --wait-timeout says) and the user's data.
fn open(data: Option<&Path>, wait_timeout: Option<&str>, inputs: &mut Inputs) -> Result<Session, Error> {
    let timeout = match wait_timeout {
        None => None,
        Some(text) => {
            let seconds = read_number(text)
                .filter(|v| *v >= Rational::from_integer(0.into()) && *v <= Rational::from_integer(86_400.into()))
                .ok_or_else(|| Error::BadOption {
                    option: "--wait-timeout".into(),
                    value: text.to_string(),
                    reason: "give a number of seconds from 0 to 86400 (e.g. 30 or 2.5)".into(),
                })?;
            let millis = (seconds * Rational::from_integer(1000.into())).floor().to_integer();
            Some(std::time::Duration::from_millis(u64::try_from(millis).unwrap_or(0)))
        }
    };
    let data_files = data_files(data, inputs)?;
    Session::open(SessionOptions { wait: WaitOptions { timeout, quiet: false }, data_files })
}

/// The files of a user's data directory, each with its place inside it.
fn data_files(dir: Option<&Path>, inputs: &mut Inputs) -> Result<Vec<DataFile>, Error> {
    let Some(dir) = dir else { return Ok(vec![]) };
    let mut out = Vec::new();
    for relative in files::data_files(dir)? {
        let source = inputs.read(&dir.join(&relative))?;
        out.push(DataFile { place: relative.display().to_string(), source });
    }
    Ok(out)
}

fn check_output(path: &Option<PathBuf>, inputs: &Inputs) -> Result<(), Error> {
    path.as_deref().map(|p| inputs.check_output(p)).unwrap_or(Ok(()))
}

/// Writes the output to the file (atomically, never over an input) or to stdout (a closed pipe is
/// not an error), without control characters.
fn emit(output: &str, path: Option<&Path>, inputs: &Inputs) -> Result<(), Error> {
    match path {
        Some(path) => inputs.write(path, output),
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(printable(output).as_bytes()).and_then(|_| stdout.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(Error::Output { path: "stdout".into(), reason: e.to_string() })
                }
                _ => Ok(()),
            }
        }
    }
}

/// The text width to fit: `--width`, else the terminal's when stdout is one (and is where the
/// output goes), else none (pipes and files get whole lines, the same every time).
fn width(given: Option<u16>, to_stdout: bool) -> Option<usize> {
    if let Some(w) = given {
        return Some(w.into());
    }
    if !to_stdout || !std::io::stdout().is_terminal() {
        return None;
    }
    // SAFETY: TIOCGWINSZ fills the winsize struct it is given; a failure leaves it zeroed.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col >= 40).then_some(size.ws_col.into())
}

/// A document in `format`; text fitted to `width` when there is one.
fn shown(doc: &tally::session::Document, format: render::Format, standalone: bool, width: Option<usize>) -> String {
    match (format, width) {
        (render::Format::Text, Some(w)) => render::render_text(doc, w),
        _ => render::render(doc, format, standalone),
    }
}

/// `tally list …` as aligned name/summary lines.
fn listing(data: &Facts, what: List) -> Result<String, Error> {
    let rows = tally::session::listing(data, what)?;
    let width = rows.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0);
    Ok(rows.iter().map(|(name, summary)| format!("{name:<width$}  {summary}\n")).collect())
}

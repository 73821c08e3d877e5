//! The door into tally as a library. A [`Session`] holds the per-user lock and the worker thread
//! that owns symbolica's permit (so no caller can forget them) and the data (built-in, plus a
//! user's data files); it derives documents, single quantities and answer sheets, and audits
//! claims. Requests and options are plain values (serde), so JSON in is JSON out.
//!
//! ```
//! use tally::session::{DeriveRequest, Session, SessionOptions};
//!
//! let session = Session::open(SessionOptions::default())?;
//! let request = DeriveRequest { model: "gpt2-xl".into(), ..DeriveRequest::default() };
//! let params = session.quantity(&request, "params")?;
//! assert_eq!(params.value.unwrap().to_string(), "2127057600");
//!
//! let report = session.audit(&tally::session::AuditRequest {
//!     claims: vec!["memory.params + memory.gradients + memory.optimizer = 16 * total_params * 4".into()],
//!     ..Default::default()
//! })?;
//! assert_eq!(report.exit_code(), 1); // wrong by a factor of 4: fp32's bytes counted twice
//! # Ok::<(), tally::error::Error>(())
//! ```

use crate::algebra::worker::{WaitOptions, Worker};
use crate::algebra::{Engine, Rational};
use crate::audit::claim::Claim;
use crate::audit::{self, Report, reference::Reference};
use crate::data::Data;
use crate::derivation::{self, Document};
use crate::diagnostic::{Diagnostic, Label, Source};
use crate::error::{Error, Result};
use crate::model::Origin;
use crate::options::{Options, read_number};
use crate::preset::{self, Selection};
use crate::quantity::{Catalog, Context, Quantity};
use crate::symbol::SymbolTable;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The model derived and audited against when none is named.
pub const DEFAULT_MODEL: &str = "gpt2-xl";

/// How a session starts: how it waits for another run of the same user, and a user's data files
/// (named by their path inside the data directory: `hardware.toml`, `optimizers/NAME.toml`, …).
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// Waiting for the per-user lock.
    pub wait: WaitOptions,
    /// A user's data files, already read.
    pub data_files: Vec<crate::data::DataFile>,
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

/// An open session: the lock, the worker thread and the data.
pub struct Session {
    worker: Worker,
    data: Arc<Data>,
}

impl Session {
    /// Takes the per-user lock, starts the worker thread, and reads the user's data files.
    pub fn open(options: SessionOptions) -> Result<Session> {
        let data = if options.data_files.is_empty() {
            Data::shared().clone()
        } else {
            Arc::new(Data::with_user_files(&options.data_files)?)
        };
        let worker = Worker::start(&options.wait)?;
        Ok(Session { worker, data })
    }

    /// The data this session knows.
    pub fn data(&self) -> &Data {
        &self.data
    }

    fn run<R: Send + 'static>(&self, job: impl FnOnce(&Engine, &Data) -> Result<R> + Send + 'static) -> Result<R> {
        let data = self.data.clone();
        self.worker.run(move |engine| job(engine, &data))
    }

    /// A sweep's quantities compiled for one model and set of conventions (`crate::sweep`).
    pub fn compile_sweep(
        &self,
        request: &DeriveRequest,
        swept: &[String],
        quantities: &[String],
    ) -> Result<crate::sweep::Compiled> {
        let (request, swept, quantities) = (request.clone(), swept.to_vec(), quantities.to_vec());
        self.run(move |engine, data| crate::sweep::compile(engine, data, &request, &swept, &quantities))
    }

    /// The whole derivation of a model.
    pub fn derive(&self, request: &DeriveRequest) -> Result<Document> {
        let request = request.clone();
        self.run(move |engine, data| {
            let (selection, bindings, conventions) = prepare(data, &request)?;
            let mut doc = derivation::derive(engine, &selection, &bindings, &data.symbols, &conventions)?;
            doc.notes.extend(selection.note);
            crate::plot::embed::place(&mut doc, &request, data);
            Ok(doc)
        })
    }

    /// One named quantity of a model, without building a document.
    pub fn quantity(&self, request: &DeriveRequest, name: &str) -> Result<Quantity> {
        let (request, name) = (request.clone(), name.to_string());
        self.run(move |engine, data| {
            let (selection, bindings, conventions) = prepare(data, &request)?;
            let ctx = Context { engine, layout: data.symbols.layout(), values: bindings.values() };
            let catalog = Catalog::new(&selection.model, &conventions);
            catalog.quantity(&ctx, &name)?.ok_or_else(|| Error::Unknown {
                what: format!("quantity of {}", selection.id),
                name: name.clone(),
                known: catalog.names(),
            })
        })
    }

    /// The parallel layouts of `request.model` that fit, fastest first (`request.options` give
    /// the precision, layout, hardware and activation convention; the plan chooses the degrees).
    pub fn plan(&self, request: &DeriveRequest, plan: &crate::plan::PlanRequest) -> Result<crate::plan::Plan> {
        let (request, plan) = (request.clone(), plan.clone());
        self.run(move |_, data| {
            let selection = select(data, &request.model, request.file.as_ref(), request.preset.as_deref())?;
            crate::plan::plan(data, &selection, &crate::plan::PlanRequest { options: request.options.clone(), ..plan })
        })
    }

    /// Serving `request.model`: weights and KV-cache memory, the largest concurrency and context
    /// that fit, prefill and decode on a per-op roofline (`request.options` give the weights'
    /// precision, the hardware and the FLOP conventions).
    pub fn serve(&self, request: &DeriveRequest, serve: &crate::serve::ServeRequest) -> Result<Document> {
        let (request, serve) = (request.clone(), serve.clone());
        self.run(move |engine, data| crate::serve::serve(engine, data, &request, &serve))
    }

    /// An answer sheet: a built-in one by `request.model`, or a sheet file's text in
    /// `request.file`. A sheet answers each part at the assignment's own sizes and settings, so
    /// bindings, a preset or options other than the defaults are refused: they would change nothing.
    pub fn answer(&self, request: &DeriveRequest) -> Result<Document> {
        let mut changed = request.options.changed();
        let extra = [(!request.sets.is_empty()).then_some("--set"), request.preset.as_ref().map(|_| "--preset")];
        changed.splice(0..0, extra.into_iter().flatten());
        let name = request.model.clone();
        if !changed.is_empty() {
            return Err(Error::Usage(format!(
                "{} cannot be used with the answer sheet `{name}`: it answers each part at the assignment's own sizes and settings, so {} would change nothing; for a derivation with your options use --model (e.g. --model gpt2-xl)",
                changed.join(", "),
                if changed.len() == 1 { "the option" } else { "the options" }
            )));
        }
        let file = request.file.clone();
        self.run(move |engine, data| {
            let sheet = match &file {
                Some(source) => derivation::Sheet::from_toml(source).ok_or_else(|| {
                    Error::Usage(format!("`{}` is not an answer sheet (it has no [[part]])", source.name))
                })??,
                None => data.sheet(&name).cloned().ok_or_else(|| Error::Unknown {
                    what: "answer sheet".into(),
                    name: name.clone(),
                    known: data.sheets.iter().map(|s| s.name().to_string()).collect(),
                })?,
            };
            derivation::answer(engine, &sheet, data)
        })
    }

    /// Draws the charts of `doc` that `format` shows (SVG for HTML, TikZ for LaTeX) and leaves
    /// them undrawn for the formats that only name them, which so pay nothing for them.
    pub fn draw_figures(&self, doc: &mut Document, format: crate::render::Format) -> Result<()> {
        crate::plot::embed::draw(self, doc, format)
    }

    /// Audits claims: each is checked against the model and conventions it names (claims files may
    /// set them per claim); the report keeps the order the claims were given in.
    pub fn audit(&self, request: &AuditRequest) -> Result<Report> {
        let request = request.clone();
        self.run(move |engine, data| audit_claims(engine, data, &request))
    }
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

/// What the data holds of one kind, as (name, one-line summary) rows. Quantities are those of
/// the default model under the default conventions.
pub fn listing(data: &Data, what: List) -> Result<Vec<(String, String)>> {
    Ok(match what {
        List::Models => {
            let mut rows = data.models.listing();
            // Models tally knows by their Hugging Face config, imported when chosen.
            for (name, config) in &data.hf_presets {
                let family = serde_json::from_str::<serde_json::Value>(&config.text)
                    .ok()
                    .and_then(|c| c.get("model_type").and_then(|t| t.as_str()).map(str::to_string))
                    .unwrap_or_default();
                rows.push((name.clone(), format!("Hugging Face config ({family}), imported")));
            }
            rows
        }
        List::Sheets => data.sheets.iter().map(|s| (s.name().to_string(), s.title().to_string())).collect(),
        List::Hardware => data.hardware.iter().map(|h| (h.name.clone(), h.describe())).collect(),
        List::Symbols => {
            data.symbols.all().iter().map(|s| (format!("{} {}", s.short, s.long), s.meaning.clone())).collect()
        }
        List::Quantities => {
            let selection = select(data, DEFAULT_MODEL, None, None)?;
            let conventions = Options::default().resolve(data)?;
            Catalog::new(&selection.model, &conventions).listing()
        }
        List::Optimizers => data.optimizers.iter().map(|o| (o.name.clone(), o.describe())).collect(),
        List::Precisions => data.precisions.iter().map(|p| (p.name.clone(), p.describe())).collect(),
    })
}

/// Whether `name` is a built-in answer sheet.
pub fn is_sheet(data: &Data, name: &str) -> bool {
    data.sheet(name).is_some()
}

/// The model, bindings and conventions of a request.
pub(crate) fn prepare(
    data: &Data,
    request: &DeriveRequest,
) -> Result<(Selection, crate::model::Bindings, crate::quantity::Conventions)> {
    let selection = select(data, &request.model, request.file.as_ref(), request.preset.as_deref())?;
    let conventions = request.options.resolve(data)?;
    let mut sets = conventions.bindings()?;
    for s in &request.sets {
        let (symbol, value) = parse_set(s, &data.symbols)?;
        sets.push((symbol, value, Origin::Set));
    }
    let bindings = selection.model.bind(selection.preset.as_ref(), &sets, &data.symbols)?;
    if let Some(parallel) = &conventions.parallel {
        let written = request.options.parallel.clone().unwrap_or_default();
        parallel.check_splits(&bindings.values(), "--parallel", &written)?;
    }
    Ok((selection, bindings, conventions))
}

/// A model by built-in name or from a model file's text; `preset` picks one of its presets.
pub fn select(data: &Data, name: &str, file: Option<&Source>, preset: Option<&str>) -> Result<Selection> {
    if let Some(source) = file {
        return preset::from_source(source, preset, data);
    }
    let registry = &data.models;
    let Some(selection) = registry.select(name)? else {
        return match hf_preset(data, name)? {
            Some(source) => preset::from_source(&source, preset, data),
            None => Err(registry.unknown(name)),
        };
    };
    match preset {
        Some(p) => {
            let qualified = format!("{}/{p}", selection.model.name);
            registry.select(&qualified)?.ok_or_else(|| registry.unknown(&qualified))
        }
        None => Ok(selection),
    }
}

/// A model tally knows by its Hugging Face config (`mixtral-8x7b`), imported as a model file.
pub fn hf_preset(data: &Data, name: &str) -> Result<Option<Source>> {
    let wanted = name.trim().to_lowercase();
    let Some((id, config)) = data.hf_presets.iter().find(|(n, _)| *n == wanted) else { return Ok(None) };
    let imported = crate::model::hf::import(config, id, data.hf_families(), &data.symbols)?;
    Ok(Some(Source { name: format!("{} (imported as {})", config.name, imported.family), text: imported.text }))
}

/// `SYMBOL=VALUE` with a known symbol and a value it can take (a positive whole number for a
/// size; a fraction up to 1 for MFU). Commas are read only as thousands separators (`16,384`).
pub fn parse_set(arg: &str, symbols: &SymbolTable) -> Result<(String, Rational)> {
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

fn audit_claims(engine: &Engine, data: &Data, request: &AuditRequest) -> Result<Report> {
    let mut claims = Vec::new();
    let mut file_model = None;
    if let Some(source) = &request.file {
        let (model, from_file) = audit::claim::from_file(source)?;
        file_model = model;
        claims.extend(from_file);
    }
    for (i, text) in request.claims.iter().enumerate() {
        let claim = Claim::parse(&format!("c{}", i + 1), text).map_err(|(message, span)| {
            let source = Arc::new(Source { name: format!("claim {}", i + 1), text: text.clone() });
            Error::Located(Box::new(Diagnostic::error(message).in_source(source).with_label(Label::primary(span, ""))))
        })?;
        claims.push(claim);
    }
    if claims.is_empty() {
        return Err(Error::Usage(
            "give at least one claim, e.g. \"params = 2*V*H + L*(16*H^2 + 2*H) + H\", or --claims FILE".into(),
        ));
    }
    let default_model = request.model.clone().or(file_model).unwrap_or_else(|| DEFAULT_MODEL.to_string());
    // Claims are checked in groups that share a model, conventions and bindings.
    type Group = (String, Vec<(String, String)>, Vec<String>);
    let key = |c: &Claim| -> Group {
        (c.model.clone().unwrap_or_else(|| default_model.clone()), c.conventions.clone(), c.sets.clone())
    };
    let mut groups: Vec<Group> = Vec::new();
    for c in &claims {
        if !groups.contains(&key(c)) {
            groups.push(key(c));
        }
    }
    let mut report = Report { model: String::new(), claims: Vec::new(), strict: request.strict };
    let mut names = Vec::new();
    for group in &groups {
        let (model, conventions, claim_sets) = group;
        let mut options = request.options.clone();
        for (name, value) in conventions {
            options.set(name, value)?;
        }
        // The request's own model (a file, a preset) applies to claims that name no other.
        let own = request.model.as_ref() == Some(model);
        let derive = DeriveRequest {
            model: model.clone(),
            file: if own { request.model_file.clone() } else { None },
            preset: if own || request.model.is_none() { request.preset.clone() } else { None },
            sets: request.sets.iter().chain(claim_sets).cloned().collect(),
            options,
        };
        let (selection, bindings, resolved) = prepare(data, &derive)?;
        let reference = Reference::new(engine, data, &selection, &bindings, &derive.options, &resolved);
        let mine: Vec<Claim> = claims.iter().filter(|c| key(c) == *group).cloned().collect();
        let part = audit::check(&mine, &reference);
        if !names.contains(&part.model) {
            names.push(part.model.clone());
        }
        report.claims.extend(part.claims);
    }
    report.model = names.join(", ");
    let order = |c: &audit::ClaimReport| claims.iter().position(|k| k.id == c.claim.id && k.text == c.claim.text);
    report.claims.sort_by_key(order);
    Ok(report)
}

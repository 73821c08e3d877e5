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

use crate::algebra::Engine;
use crate::algebra::worker::Worker;
use crate::derivation;
use crate::error::{Error, Result};
use crate::quantity::{Catalog, Context, Quantity};
use crate::resolve::{prepare, select};
use std::sync::Arc;

pub use crate::algebra::worker::WaitOptions;
pub use crate::algebra::{Rational, read_number};
pub use crate::audit::{Report, report as audit_report};
pub use crate::derivation::Document;
pub use crate::facts::Facts;
pub use crate::loader::DataFile;
pub use crate::plan::{Plan, document as plan_document};
pub use crate::request::{
    AuditRequest, CHART_HEIGHT, CHART_WIDTH, ChartKind, DeriveRequest, List, PlanRequest, PlotRequest, ServeRequest,
    check_flags, default_model, default_model_name,
};
pub use crate::resolve::{import_hf, is_sheet, listing, parse_set};
pub use crate::sheet::Sheet;
pub use crate::sweep::{Axis, RowFormat, SweepRequest};

/// How a session starts: how it waits for another run of the same user, and a user's data files
/// (named by their path inside the data directory: `hardware.toml`, `optimizers/NAME.toml`, …).
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// Waiting for the per-user lock.
    pub wait: WaitOptions,
    /// A user's data files, already read.
    pub data_files: Vec<DataFile>,
}

/// An open session: the lock, the worker thread and the data.
pub struct Session {
    worker: Worker,
    data: Arc<Facts>,
}

impl Session {
    /// Takes the per-user lock, starts the worker thread, and reads the user's data files.
    pub fn open(options: SessionOptions) -> Result<Session> {
        let data = if options.data_files.is_empty() {
            Facts::shared().clone()
        } else {
            Arc::new(Facts::with_user_files(&options.data_files)?)
        };
        let worker = Worker::start(&options.wait)?;
        Ok(Session { worker, data })
    }

    /// The facts this session knows.
    pub fn facts(&self) -> &Facts {
        &self.data
    }

    /// Checks options against the facts without deriving anything (so a mistaken option is
    /// reported before the arguments that follow it).
    pub fn check_options(&self, options: &crate::options::Options) -> Result<()> {
        crate::resolve::conventions(options, &self.data).map(|_| ())
    }

    fn run<R: Send + 'static>(&self, job: impl FnOnce(&Engine, &Facts) -> Result<R> + Send + 'static) -> Result<R> {
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
            derivation::place(&mut doc, &request, data);
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
    pub fn plan(&self, request: &DeriveRequest, plan: &PlanRequest) -> Result<Plan> {
        let (request, plan) = (request.clone(), plan.clone());
        self.run(move |_, data| {
            let selection = select(data, &request.model, request.file.as_ref(), request.preset.as_deref())?;
            crate::plan::plan(data, &selection, &PlanRequest { options: request.options.clone(), ..plan })
        })
    }

    /// Serving `request.model`: weights and KV-cache memory, the largest concurrency and context
    /// that fit, prefill and decode on a per-op roofline (`request.options` give the weights'
    /// precision, the hardware and the FLOP conventions).
    pub fn serve(&self, request: &DeriveRequest, serve: &ServeRequest) -> Result<Document> {
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
                Some(source) => crate::sheet::Sheet::from_toml(source).ok_or_else(|| {
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
        self.run(move |engine, data| crate::audit::request::answer(engine, data, &request))
    }

    /// The chart of `plot` for `request`, as an SVG document.
    pub fn plot(&self, request: &DeriveRequest, plot: &PlotRequest) -> Result<String> {
        crate::plot::plot(self, request, plot)
    }

    /// Runs a sweep, writing its rows to `out` as they are evaluated; the whole request is
    /// checked before the first byte.
    pub fn sweep(&self, request: &SweepRequest, format: RowFormat, out: &mut dyn std::io::Write) -> Result<()> {
        crate::sweep::run(self, request, format, out)
    }
}

impl crate::plot::Evaluate for Session {
    fn facts(&self) -> &Facts {
        Session::facts(self)
    }

    fn quantity(&self, request: &DeriveRequest, name: &str) -> Result<Quantity> {
        Session::quantity(self, request, name)
    }

    fn serve(&self, request: &DeriveRequest, serve: &ServeRequest) -> Result<Document> {
        Session::serve(self, request, serve)
    }
}

impl crate::sweep::Compile for Session {
    fn facts(&self) -> &Facts {
        Session::facts(self)
    }

    fn compile_sweep(
        &self,
        request: &DeriveRequest,
        swept: &[String],
        names: &[String],
    ) -> Result<crate::sweep::Compiled> {
        Session::compile_sweep(self, request, swept, names)
    }
}

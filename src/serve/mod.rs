//! `tally serve`: inference the way people ask about it. How much memory serving a model takes
//! (every weight resident, the KV cache per token), the largest concurrency and context that fit
//! the hardware's memory, and how long prefill and decode take on a per-op roofline: each op takes
//! the longer of its FLOPs at the peak and its bytes at the memory bandwidth. Every figure comes
//! from the op rules and the catalog, evaluated exactly at the bound sizes; rounding happens only
//! when a renderer shows a value. Like the rest of the library, nothing here prints.

mod fit;
mod roofline;

use crate::algebra::{Engine, Expr, Rational};
use crate::derivation::{Block, Cell, Document, Row, Table, text};
use crate::dim::{self, Precision, Unit};
use crate::error::{Error, Result};
use crate::facts::Facts;
use crate::model::{Model, Origin, Stage};
use crate::ops::Op;
use crate::preset::Selection;
use crate::quantity::{Context, Conventions, Quantity};
use crate::request::{DeriveRequest, ServeRequest};
use crate::resolve::{parse_set, select};
use crate::symbol::Role;

/// The symbol of the memory bandwidth in formulas (β, as in the roofline model).
const BANDWIDTH: &str = "beta";

/// Everything the sections share: the model, the two storage precisions, the hardware's peak and
/// bandwidth, the algebra with the bound values, and how to bind the model again at another T.
pub(crate) struct Setup<'e> {
    selection: Selection,
    /// Values of every symbol, β included.
    ctx: Context<'e>,
    /// The conventions with the weights' precision.
    weights: Conventions,
    /// The same with the KV cache's precision.
    kv: Conventions,
    peak: Rational,
    bandwidth: Rational,
    /// The bindings as given (peak, context, concurrency, `--set`), to bind again at another T.
    sets: Vec<(String, Rational, Origin)>,
    data: &'e Facts,
}

impl Setup<'_> {
    fn model(&self) -> &Model {
        &self.selection.model
    }

    /// `raw` simplified and evaluated as a named quantity.
    fn quantity(&self, name: &str, title: &str, unit: Unit, raw: Expr) -> Result<Quantity> {
        self.ctx.quantity(name, title, unit, raw)
    }

    /// A quantity shown as `view` with a value worked out otherwise (a sum of per-op maxima).
    fn shown(&self, name: &str, title: &str, unit: Unit, view: Expr, value: Rational) -> Quantity {
        Quantity {
            name: name.into(),
            title: title.into(),
            unit,
            raw: view.clone(),
            closed: view,
            value: Some(value),
            verdict: None,
        }
    }

    /// The model with one stage of the given ops, run once: the catalog then answers for them.
    fn alone(&self, stage: &Stage, ops: Vec<Op>) -> Model {
        let stage = Stage { name: stage.name.clone(), repeat: Expr::one(), ops };
        Model { stages: vec![stage], ..self.model().clone() }
    }

    /// The symbol values with T bound to `context` (relations and window spans follow it).
    fn values_at(&self, context: u64) -> Result<std::collections::BTreeMap<String, Rational>> {
        let mut sets = self.sets.clone();
        sets.retain(|(s, _, _)| s != Role::Context.symbol());
        sets.push((
            Role::Context.symbol().into(),
            Rational::from_integer(context.into()),
            Origin::Option("--context".into()),
        ));
        let bindings = self.model().bind(self.selection.preset.as_ref(), &sets, &self.data.symbols)?;
        let mut values = bindings.values();
        values.insert(BANDWIDTH.into(), self.bandwidth.clone());
        Ok(values)
    }
}

/// The serving document: weights, the KV cache, what fits, prefill and decode on the roofline.
pub fn serve(engine: &Engine, data: &Facts, request: &DeriveRequest, serve: &ServeRequest) -> Result<Document> {
    for (flag, value, what) in
        [("--context", serve.context, "tokens"), ("--concurrency", serve.concurrency, "sequences")]
    {
        if value == Some(0) {
            return Err(Error::Usage(format!("{flag} is a positive whole number of {what}, not 0")));
        }
    }
    let selection = select(data, &request.model, request.file.as_ref(), request.preset.as_deref())?;
    let weights = crate::resolve::conventions(&request.options, data)?;
    let hardware = &weights.hardware;
    let bandwidth = hardware.memory_bandwidth.clone().ok_or_else(|| Error::BadOption {
        option: "--hardware".into(),
        value: hardware.name.clone(),
        reason: format!(
            "{} ({}) has no memory bandwidth in the hardware data (`memory_bandwidth`, bytes per second), which the roofline needs; choose hardware that has one (`tally list hardware`) or add it in a --data directory's hardware.toml",
            hardware.name, hardware.summary
        ),
    })?;
    let mut kv = weights.clone();
    kv.precision = kv_precision(data, serve.kv_precision.as_deref(), &weights.precision)?;
    let peak = hardware.peak_at(&weights.precision.name)?;
    let mut sets = vec![(
        Role::Peak.symbol().to_string(),
        peak.clone(),
        Origin::Option(format!("{} {} peak", hardware.name, weights.precision.name)),
    )];
    if let Some(t) = serve.context {
        sets.push((
            Role::Context.symbol().into(),
            Rational::from_integer(t.into()),
            Origin::Option("--context".into()),
        ));
    }
    let concurrency = Rational::from_integer(serve.concurrency.unwrap_or(1).into());
    sets.push((Role::Batch.symbol().into(), concurrency, Origin::Option("--concurrency".into())));
    for s in &request.sets {
        let (symbol, value) = parse_set(s, &data.symbols)?;
        if symbol == Role::Batch.symbol() || symbol == Role::Context.symbol() {
            return Err(Error::Usage(format!(
                "give the concurrency with --concurrency and the context with --context, not --set {symbol}=…"
            )));
        }
        sets.push((symbol, value, Origin::Set));
    }
    let bindings = selection.model.bind(selection.preset.as_ref(), &sets, &data.symbols)?;
    let mut values = bindings.values();
    values.insert(BANDWIDTH.into(), bandwidth.clone());
    let ctx = Context { engine, layout: data.symbols.layout(), values };
    let setup = Setup { selection, ctx, weights, kv, peak, bandwidth, sets, data };
    document(&setup, &bindings)
}

/// The KV cache's precision by name, or the weights' when none is given.
fn kv_precision(data: &Facts, name: Option<&str>, weights: &Precision) -> Result<Precision> {
    let Some(name) = name else { return Ok(weights.clone()) };
    data.precision(name).cloned().map_err(|_| Error::BadOption {
        option: "--kv-precision".into(),
        value: name.into(),
        reason: format!(
            "unknown precision; known: {} (`tally list precisions`)",
            data.precisions.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
        ),
    })
}

/// `1 byte`, `2 bytes`.
fn bytes(n: i64) -> String {
    dim::exact_with_unit(&Rational::from_integer(n.into()), &Unit::byte())
}

fn document(setup: &Setup, bindings: &crate::model::Bindings) -> Result<Document> {
    let selection = &setup.selection;
    let (w, kv, hw) = (&setup.weights.precision, &setup.kv.precision, &setup.weights.hardware);
    let tera = Rational::from_integer(1_000_000_000_000u64.into());
    let conventions = vec![
        ("weights".to_string(), format!("{}: {} per element, every parameter resident", w.name, bytes(w.bytes))),
        ("kv_cache".into(), format!("{}: {} per element", kv.name, bytes(kv.bytes))),
        ("flops".into(), if setup.weights.flops.elementwise { "matmul + element-wise" } else { "matmul only" }.into()),
        (
            "attention_flops".into(),
            if setup.weights.flops.causal { "causal: prefill's QKᵀ and AV halved" } else { "full QKᵀ and AV" }.into(),
        ),
        (
            "hardware".into(),
            format!(
                "{} ({}): {} TFLOP/s dense {}, memory {} TB/s",
                hw.name,
                hw.summary,
                dim::exact(&(setup.peak.clone() / tera.clone())),
                w.name,
                dim::exact(&(setup.bandwidth.clone() / tera))
            ),
        ),
        ("memory".into(), setup.weights.budgets().iter().map(|(l, _)| l.clone()).collect::<Vec<_>>().join(" and ")),
        ("counted".into(), "weights and the KV cache; no activations, workspace, CUDA context or allocator reserve".into()),
        (
            "roofline".into(),
            "per op max(FLOPs/R, bytes/β); bytes = weights read once per step + the KV cache the attention reads; activations in and out not counted".into(),
        ),
    ];
    let mut blocks = vec![Block::Heading("Model".into())];
    let preset = selection.preset.as_ref().map(|p| format!(" with the {} preset ({})", p.name, p.summary));
    blocks.push(Block::Paragraph(vec![text(format!(
        "Architecture {}: {}{}. Serving B sequences at once, each T tokens long; R is the peak at {} and β the memory bandwidth.",
        setup.model().name,
        setup.model().summary,
        preset.unwrap_or_default(),
        w.name
    ))]));
    let mut table = crate::derivation::bindings_table(bindings, &setup.data.symbols);
    table.rows.push(Row::plain(vec![
        Cell::Math(Expr::sym(BANDWIDTH)),
        Cell::Text("memory_bandwidth".into()),
        Cell::Text("bytes per second the device memory moves".into()),
        Cell::Number(setup.bandwidth.clone()),
        Cell::Text(format!("{} memory bandwidth", hw.name)),
    ]));
    blocks.push(Block::Table(table));
    blocks.push(Block::Table(Table {
        columns: vec![("convention".into(), false), ("in effect".into(), false)],
        rows: conventions.iter().map(|(k, v)| Row::plain(vec![Cell::Text(k.clone()), Cell::Text(v.clone())])).collect(),
    }));
    let mut quantities = Vec::new();
    let rows = roofline::costs(setup);
    let memory = fit::append(setup, roofline::weights_read(setup, &rows), &mut blocks, &mut quantities)?;
    roofline::append(setup, &rows, &memory, &mut blocks, &mut quantities)?;
    let mut values: Vec<(String, Rational)> =
        bindings.entries.iter().map(|b| (b.symbol.clone(), b.value.clone())).collect();
    values.push((BANDWIDTH.into(), setup.bandwidth.clone()));
    Ok(Document {
        title: format!("tally serve: {} on {} ({} weights, {} KV cache)", selection.id, hw.name, w.name, kv.name),
        model: selection.id.clone(),
        bindings: values,
        conventions,
        quantities,
        blocks,
        notes: selection.note.iter().cloned().collect(),
    })
}

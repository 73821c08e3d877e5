//! A derivation as a document: headings, paragraphs, tables and equation chains over tally's own
//! expressions, plus the named quantities it computed. Built once, rendered in any format by
//! [`crate::render`]. This module decides *what* is said, never how it is printed.

mod sheet;
mod training;

pub use sheet::{Sheet, answer};

use crate::algebra::{Engine, Expr, Rational};
use crate::dim::Precision;
use crate::dim::{self, Unit};
use crate::error::Result;
use crate::hardware::Hardware;
use crate::model::{Bindings, Origin};
use crate::ops::ActivationConvention;
use crate::ops::FlopConvention;
use crate::preset::Selection;
use crate::quantity::{self, Context, Quantity};
use crate::symbol::SymbolTable;

/// A rendered-format-independent derivation.
#[derive(Clone, Debug)]
pub struct Document {
    /// Title line.
    pub title: String,
    /// Model id (`gpt2-xl`).
    pub model: String,
    /// Bound symbols in vocabulary order.
    pub bindings: Vec<(String, Rational)>,
    /// Named conventions in effect: (name, value).
    pub conventions: Vec<(String, String)>,
    /// Every quantity computed, in order.
    pub quantities: Vec<Quantity>,
    /// The body.
    pub blocks: Vec<Block>,
}

/// A piece of the body.
#[derive(Clone, Debug)]
pub enum Block {
    /// A section heading.
    Heading(String),
    /// Running text with inline math.
    Paragraph(Vec<Inline>),
    /// A table.
    Table(Table),
    /// A chain of equalities, one per line.
    Equations(Vec<Equation>),
}

/// Inline content.
#[derive(Clone, Debug)]
pub enum Inline {
    /// Plain words.
    Text(String),
    /// A formula.
    Math(Expr),
}

/// A table with typed cells.
#[derive(Clone, Debug)]
pub struct Table {
    /// Column headings; `true` marks right-aligned (numeric) columns.
    pub columns: Vec<(String, bool)>,
    /// The rows.
    pub rows: Vec<Row>,
}

/// A table row; `total` rows are set apart (subtotals and totals).
#[derive(Clone, Debug)]
pub struct Row {
    /// The cells, one per column.
    pub cells: Vec<Cell>,
    /// A subtotal or total.
    pub total: bool,
}

impl Row {
    /// An ordinary row.
    pub fn plain(cells: Vec<Cell>) -> Row {
        Row { cells, total: false }
    }

    /// A subtotal or total row.
    pub fn total(cells: Vec<Cell>) -> Row {
        Row { cells, total: true }
    }
}

/// A table cell.
#[derive(Clone, Debug)]
pub enum Cell {
    /// Words.
    Text(String),
    /// A formula.
    Math(Expr),
    /// Operand shapes, `(BT×H)·(H×H)`.
    Shape(Vec<Vec<Expr>>),
    /// An exact number (grouped digits).
    Number(Rational),
    /// Nothing.
    Empty,
}

/// `lhs = rhs₁ = rhs₂ …`, with an optional note after it.
#[derive(Clone, Debug)]
pub struct Equation {
    /// Left-hand side as plain text (`P`) and as LaTeX (`P`).
    pub lhs: (String, String),
    /// The successive right-hand sides.
    pub rhs: Vec<Side>,
    /// A short remark (`with F = 4H`).
    pub note: Option<String>,
}

/// One right-hand side.
#[derive(Clone, Debug)]
pub enum Side {
    /// A formula.
    Expr(Expr),
    /// An exact value with its unit (shown exactly, then rounded with the unit's display).
    Value(Rational, Unit),
}

impl Side {
    /// `≈` rather than `=` before it: a value that is not a whole number is shown rounded.
    pub fn relation(&self) -> &'static str {
        match self {
            Side::Value(v, _) if !v.is_integer() => "≈",
            _ => "=",
        }
    }
}

/// Options of `tally derive`.
#[derive(Clone, Debug, Default)]
pub struct DeriveOptions {
    /// Which FLOPs count.
    pub flops: FlopConvention,
    /// How training is accounted.
    pub training: TrainingOptions,
}

/// How training memory, batch and time are accounted. Steps (S), utilisation (U) and peak (R) are
/// symbols with bindings; these are the conventions around them.
#[derive(Clone, Debug)]
pub struct TrainingOptions {
    /// Bytes per element of parameters, gradients, optimizer state and activations.
    pub precision: Precision,
    /// Which activations are kept for the backward pass.
    pub activations: ActivationConvention,
    /// How weights, gradients and optimizer state are stored.
    pub layout: crate::quantity::Layout,
    /// Full activation recomputation (keep block inputs, rerun the forward in the backward pass).
    pub recompute: bool,
    /// FlashAttention (no T² tensors kept).
    pub flash: bool,
    /// The accelerator (memory budget and peak FLOP/s).
    pub hardware: Hardware,
    /// An explicit memory budget: as written, and in bytes. Without one, the hardware's nominal
    /// memory is tried both as decimal GB and as binary GiB.
    pub budget: Option<(String, Rational)>,
    /// A measured throughput to turn into MFU.
    pub tokens_per_second: Option<Rational>,
    /// Optimizer steps of the run (binds S).
    pub steps: Rational,
    /// Model FLOPs utilisation in (0, 1] (binds U).
    pub mfu: Rational,
}

impl TrainingOptions {
    /// S, U and R (the hardware's peak at the precision) as bindings, to be applied before any
    /// `--set` so that an explicit value wins.
    pub fn bindings(&self) -> crate::error::Result<Vec<(String, Rational, Origin)>> {
        let peak = self.hardware.peak_at(self.precision)?;
        let peak_origin = format!("{} {} peak", self.hardware.name, self.precision.name());
        Ok(vec![
            ("S".into(), self.steps.clone(), Origin::Option("--steps".into())),
            ("U".into(), self.mfu.clone(), Origin::Option("--mfu".into())),
            ("R".into(), peak, Origin::Option(peak_origin)),
        ])
    }
}

impl Default for TrainingOptions {
    fn default() -> Self {
        TrainingOptions {
            precision: Precision::Fp32,
            activations: ActivationConvention::Cs336,
            layout: crate::quantity::Layout::Uniform,
            recompute: false,
            flash: false,
            hardware: Hardware::find(DEFAULT_HARDWARE).unwrap_or_else(|e| panic!("built-in hardware: {e}")),
            budget: None,
            tokens_per_second: None,
            steps: Rational::from_integer(400_000.into()),
            mfu: Rational::new(1.into(), 2.into()),
        }
    }
}

/// The accelerator assumed when none is named.
pub const DEFAULT_HARDWARE: &str = "a100-80gb";

fn text(s: impl Into<String>) -> Inline {
    Inline::Text(s.into())
}

fn value_side(q: &Quantity) -> Option<Side> {
    q.value.clone().map(|v| Side::Value(v, q.unit.clone()))
}

fn chain(lhs: (&str, &str), q: &Quantity, raw_view: Option<Expr>, note: Option<String>) -> Equation {
    let mut rhs = Vec::new();
    if let Some(r) = raw_view {
        rhs.push(Side::Expr(r));
    }
    rhs.push(Side::Expr(q.closed.clone()));
    rhs.extend(value_side(q));
    Equation { lhs: (lhs.0.to_string(), lhs.1.to_string()), rhs, note }
}

/// The derivation: op table, parameter and FLOP closed forms, values and shares, then training
/// FLOPs, memory, the largest batch and training time.
pub fn derive(
    engine: &Engine,
    selection: &Selection,
    bindings: &Bindings,
    symbols: &SymbolTable,
    options: &DeriveOptions,
) -> Result<Document> {
    let model = &selection.model;
    let ctx = Context { engine, layout: symbols.layout(), values: bindings.values() };
    let conv = options.flops;
    let training = &options.training;
    let flops_convention = if conv.elementwise { "matmul + element-wise" } else { "matmul only" };
    let conventions = vec![
        ("flops".to_string(), flops_convention.to_string()),
        (
            "attention_flops".to_string(),
            if conv.causal { "causal: QKᵀ and AV halved" } else { "full QKᵀ and AV (no causal halving)" }.to_string(),
        ),
        (
            "backward".to_string(),
            if training.recompute { "2 × forward, plus one forward recomputed" } else { "2 × forward" }.to_string(),
        ),
        ("optimizer".to_string(), "adamw".to_string()),
        (
            "precision".to_string(),
            format!("{}: {} bytes per element", training.precision.name(), training.precision.bytes()),
        ),
        ("layout".to_string(), {
            let (w, m, g, o) = training.layout.bytes_per_param(training.precision);
            format!(
                "{}: weights {w} + master {m} + gradients {g} + m, v 2×{o} bytes per parameter",
                training.layout.name()
            )
        }),
        ("activations".to_string(), training.activations.name().to_string()),
        ("recompute".to_string(), if training.recompute { "full" } else { "none" }.to_string()),
        (
            "attention_kernel".to_string(),
            if training.flash { "flash: T² tensors recomputed, fp32 log-sum-exp kept" } else { "standard" }.to_string(),
        ),
        ("hardware".to_string(), format!("{} ({})", training.hardware.name, training.hardware.summary)),
        (
            "memory".to_string(),
            match &training.budget {
                Some((text, _)) => text.clone(),
                None => format!(
                    "{} nominal, tried as {}",
                    training.hardware.memory_nominal,
                    training.hardware.readings.join(" and ")
                ),
            },
        ),
        ("values".to_string(), "closed forms keep B; values use the bound B".to_string()),
    ];
    let mut blocks = Vec::new();

    // Configuration.
    blocks.push(Block::Heading("Model".into()));
    let preset_words = match &selection.preset {
        Some(p) => format!(" with the {} preset ({})", p.name, p.summary),
        None => String::new(),
    };
    blocks
        .push(Block::Paragraph(vec![text(format!("Architecture {}: {}{}.", model.name, model.summary, preset_words))]));
    blocks.push(Block::Table(bindings_table(bindings, symbols)));
    blocks.push(Block::Table(Table {
        columns: vec![("convention".into(), false), ("in effect".into(), false)],
        rows: conventions.iter().map(|(k, v)| Row::plain(vec![Cell::Text(k.clone()), Cell::Text(v.clone())])).collect(),
    }));

    // Per-op table.
    blocks.push(Block::Heading("Operations".into()));
    blocks.push(Block::Paragraph(vec![
        text("Each op's rule gives its trainable parameters and forward FLOPs for a batch of "),
        Inline::Math(Expr::sym("B")),
        text(" sequences of "),
        Inline::Math(Expr::sym("T")),
        text(" tokens (a matmul of m×n by n×p costs 2mnp). Values are at the bindings above."),
    ]));
    blocks.push(Block::Table(op_table(selection, &ctx, conv, &|_| true)?));

    // Quantities.
    let params = ctx.quantity("params", "trainable parameters", Unit::param(), quantity::params(model))?;
    let fp32 = ctx.quantity(
        "bytes.params.fp32",
        "parameter memory in fp32 (4 bytes/param)",
        Unit::byte(),
        Expr::int(4) * quantity::params(model),
    )?;
    let flops = ctx.quantity("flops.forward", "forward FLOPs", Unit::flop(), quantity::forward_flops(model, conv))?;
    let mut quantities = vec![params.clone(), fp32.clone()];
    let layer = quantity::layer_stage(model);
    let layer_quantities = layer
        .map(|stage| -> Result<(Quantity, Quantity)> {
            Ok((
                ctx.quantity("params.per_layer", "parameters per layer", Unit::param(), quantity::stage_params(stage))?,
                ctx.quantity(
                    "flops.forward_per_layer",
                    "forward FLOPs per layer",
                    Unit::flop(),
                    quantity::stage_forward_flops(stage, conv),
                )?,
            ))
        })
        .transpose()?;

    blocks.push(Block::Heading("Parameters".into()));
    let stage_view = Expr::sum(
        model
            .stages
            .iter()
            .map(|s| Ok(Expr::product(vec![s.repeat.clone(), ctx.simplify(&quantity::stage_params(s))?])))
            .collect::<Result<_>>()?,
    );
    let mut eqs = vec![chain(("P", "P"), &params, Some(stage_view), Some("sum over stages".into()))];
    eqs.extend(relation_variants(("P", "P"), &params, selection, &ctx)?);
    if let Some((pl, _)) = &layer_quantities {
        eqs.push(chain(("P_layer", "P_{\\text{layer}}"), pl, None, Some("one Transformer block".into())));
    }
    eqs.push(Equation {
        lhs: ("M_fp32".into(), "M_{\\text{fp32}}".into()),
        rhs: [Side::Expr(Expr::int(4) * Expr::sym("P")), Side::Expr(fp32.closed.clone())]
            .into_iter()
            .chain(value_side(&fp32))
            .collect(),
        note: Some("4 bytes per fp32 parameter".into()),
    });
    blocks.push(Block::Equations(eqs));

    blocks.push(Block::Heading("Forward FLOPs".into()));
    let mut eqs = vec![chain(
        ("C_fwd", "C_{\\text{fwd}}"),
        &flops,
        None,
        Some(format!("{flops_convention}, B sequences of T tokens")),
    )];
    eqs.extend(relation_variants(("C_fwd", "C_{\\text{fwd}}"), &flops, selection, &ctx)?);
    if let Some((pl, fl)) = layer_quantities {
        eqs.push(chain(("C_layer", "C_{\\text{layer}}"), &fl, None, Some("one Transformer block".into())));
        quantities.push(pl);
        quantities.push(fl);
    }
    blocks.push(Block::Equations(eqs));
    quantities.push(flops.clone());

    // Shares by component.
    let components: Vec<Quantity> = model
        .components
        .iter()
        .map(|(id, title)| {
            ctx.quantity(
                &format!("flops.forward.{id}"),
                title,
                Unit::flop(),
                quantity::component_flops(model, conv, id),
            )
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .filter(|q| !q.closed.is_zero())
        .collect();
    blocks.push(Block::Heading("Where the forward FLOPs go".into()));
    blocks.push(Block::Table(shares_table(&components)));
    if let Some(q) = components.iter().max_by(|a, b| a.value.cmp(&b.value))
        && q.value.is_some()
    {
        blocks.push(Block::Paragraph(vec![text(format!(
            "The largest share is {} at these sizes; component formulas show how shares move with T, H and V.",
            q.title
        ))]));
    }
    quantities.extend(components);
    training::append(selection, &ctx, options, &mut blocks, &mut quantities)?;

    Ok(Document {
        title: format!("tally derive: {} ({})", selection.id, model.name),
        model: selection.id.clone(),
        bindings: bindings.entries.iter().map(|b| (b.symbol.clone(), b.value.clone())).collect(),
        conventions,
        quantities,
        blocks,
    })
}

/// The closed form again with each relation (F = 4H) substituted, when it changes the form.
fn relation_variants(lhs: (&str, &str), q: &Quantity, selection: &Selection, ctx: &Context) -> Result<Vec<Equation>> {
    let mut out = Vec::new();
    for (symbol, formula) in &selection.model.relations {
        if !q.raw.symbols().contains(symbol) {
            continue;
        }
        let substituted = q.raw.substitute(&|s| (s == symbol).then(|| formula.clone()));
        let note = format!("with {symbol} = {}", crate::algebra::print(formula, crate::algebra::Notation::Unicode));
        out.push(Equation {
            lhs: (lhs.0.to_string(), lhs.1.to_string()),
            rhs: vec![Side::Expr(ctx.simplify(&substituted)?)],
            note: Some(note),
        });
    }
    Ok(out)
}

fn bindings_table(bindings: &Bindings, symbols: &SymbolTable) -> Table {
    let rows = bindings
        .entries
        .iter()
        .map(|b| {
            let def = symbols.get(&b.symbol);
            let origin = match &b.origin {
                Origin::Default => "architecture default".to_string(),
                Origin::Preset(p) => format!("preset {p}"),
                Origin::Set => "--set".to_string(),
                Origin::Option(o) => o.clone(),
                Origin::Relation(e) => {
                    format!("{} = {}", b.symbol, crate::algebra::print(e, crate::algebra::Notation::Unicode))
                }
            };
            Row::plain(vec![
                Cell::Math(Expr::sym(&b.symbol)),
                Cell::Text(def.map(|d| d.long.clone()).unwrap_or_default()),
                Cell::Text(def.map(|d| d.meaning.clone()).unwrap_or_default()),
                Cell::Number(b.value.clone()),
                Cell::Text(origin),
            ])
        })
        .collect();
    Table {
        columns: vec![
            ("symbol".into(), false),
            ("name".into(), false),
            ("meaning".into(), false),
            ("value".into(), true),
            ("from".into(), false),
        ],
        rows,
    }
}

/// The per-op table; `keep` chooses the ops listed (stage subtotals always cover every op).
fn op_table(
    selection: &Selection,
    ctx: &Context,
    conv: FlopConvention,
    keep: &dyn Fn(&crate::ops::Op) -> bool,
) -> Result<Table> {
    let mut rows = Vec::new();
    let number = |e: &Expr| ctx.value(e).map(Cell::Number);
    for stage in &selection.model.stages {
        let listed: Vec<_> = stage.ops.iter().filter(|op| keep(op)).collect();
        if listed.is_empty() {
            continue;
        }
        for (i, op) in listed.into_iter().enumerate() {
            let p = op.params();
            let f = op.forward_flops(conv);
            rows.push(Row::plain(vec![
                if i == 0 { Cell::Text(stage.name.clone()) } else { Cell::Empty },
                Cell::Text(op.name.clone()),
                Cell::Text(op.rule()),
                Cell::Shape(op.operands()),
                Cell::Math(ctx.simplify(&p)?),
                Cell::Math(ctx.simplify(&f)?),
                number(&p)?,
                number(&f)?,
            ]));
        }
        let p = quantity::stage_params(stage);
        let f = quantity::stage_forward_flops(stage, conv);
        let once = stage.repeat == Expr::one();
        let label = if once { format!("{} total", stage.name) } else { format!("{} (one of them)", stage.name) };
        rows.push(Row::total(vec![
            Cell::Text(label),
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
            Cell::Math(ctx.simplify(&p)?),
            Cell::Math(ctx.simplify(&f)?),
            number(&p)?,
            number(&f)?,
        ]));
        if !once {
            let (rp, rf) = (stage.repeat.clone() * p, stage.repeat.clone() * f);
            rows.push(Row::total(vec![
                Cell::Text(format!(
                    "{} × {}",
                    stage.name,
                    crate::algebra::print(&stage.repeat, crate::algebra::Notation::Unicode)
                )),
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Math(ctx.simplify(&rp)?),
                Cell::Math(ctx.simplify(&rf)?),
                number(&rp)?,
                number(&rf)?,
            ]));
        }
    }
    Ok(Table {
        columns: vec![
            ("stage".into(), false),
            ("op".into(), false),
            ("rule".into(), false),
            ("operands".into(), false),
            ("params".into(), false),
            ("forward FLOPs".into(), false),
            ("params".into(), true),
            ("forward FLOPs".into(), true),
        ],
        rows,
    })
}

fn shares_table(components: &[Quantity]) -> Table {
    let values: Option<Vec<Rational>> = components.iter().map(|q| q.value.clone()).collect();
    let shares = values.as_deref().map(dim::percentages);
    let rows = components
        .iter()
        .enumerate()
        .map(|(i, q)| {
            Row::plain(vec![
                Cell::Text(q.title.clone()),
                Cell::Math(q.closed.clone()),
                q.value.clone().map(Cell::Number).unwrap_or(Cell::Empty),
                shares.as_ref().map(|s| Cell::Text(s[i].clone())).unwrap_or(Cell::Empty),
            ])
        })
        .collect();
    Table {
        columns: vec![
            ("component".into(), false),
            ("forward FLOPs".into(), false),
            ("value".into(), true),
            ("share".into(), true),
        ],
        rows,
    }
}

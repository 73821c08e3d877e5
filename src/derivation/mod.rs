//! A derivation as a document: the catalog's quantities laid out as headings, paragraphs, tables
//! and equation chains. This module decides *what* is said, never how it is printed
//! (the renderers above it do).

mod document;
mod figures;
mod inference;
mod parallel;
mod sheet;
mod training;

pub use document::{Block, Cell, Document, Equation, Figure, Inline, Lhs, Row, Side, Table, text};
pub use figures::place;
pub use sheet::answer;

use crate::algebra::{Engine, Expr, Notation, print};
use crate::error::Result;
use crate::model::Bindings;
use crate::ops::{FlopConvention, Op};
use crate::preset::Selection;
use crate::quantity::{self, Catalog, Context, Conventions, Quantity};
use crate::symbol::SymbolTable;

/// The conventions in effect, as (name, value) in words: every derivation lists them.
pub fn convention_words(c: &Conventions) -> Vec<(String, String)> {
    let pair = |k: &str, v: String| (k.to_string(), v);
    let layout = &c.layout;
    let bytes = |s: &quantity::memory::Storage| s.bytes(&c.precision);
    let states = c.optimizer.state.len();
    vec![
        pair("flops", if c.flops.elementwise { "matmul + element-wise" } else { "matmul only" }.into()),
        pair(
            "attention_flops",
            match (c.flops.causal, c.flops.windowed) {
                (true, _) => "causal: QKᵀ and AV halved",
                (false, true) => "window: sliding-window layers T·min(T, W) keys per head, other layers T²",
                (false, false) => "full QKᵀ and AV (no causal halving)",
            }
            .into(),
        ),
        pair("backward", if c.recompute { "2 × forward, plus one forward recomputed" } else { "2 × forward" }.into()),
        pair("optimizer", c.optimizer.name.clone()),
        pair(
            "steps",
            if c.steps_given {
                format!("{} (--steps)", crate::dim::exact(&c.steps))
            } else {
                format!(
                    "S = {} steps (the default of --steps): an assumption, not your run",
                    crate::dim::exact(&c.steps)
                )
            },
        ),
        pair("precision", format!("{}: {} bytes per element", c.precision.name, c.precision.bytes)),
        pair(
            "layout",
            format!(
                "{}: weights {} + master {} + gradients {} + {} {}×{} bytes per parameter",
                layout.name,
                bytes(&layout.weights),
                bytes(&layout.master),
                bytes(&layout.gradients),
                c.optimizer.state_names().replace(" and ", ", "),
                states,
                bytes(&layout.states)
            ),
        ),
        pair("activations", c.activations.name().into()),
        pair("recompute", if c.recompute { "full" } else { "none" }.into()),
        pair(
            "attention_kernel",
            if c.flash { "flash: T² tensors recomputed, fp32 log-sum-exp kept" } else { "standard" }.into(),
        ),
        pair("hardware", format!("{} ({})", c.hardware.name, c.hardware.summary)),
        pair(
            "memory",
            match &c.budget {
                Some((text, _)) => text.clone(),
                None => {
                    let readings: Vec<&str> = c.hardware.readings.iter().map(|(r, _)| r.as_str()).collect();
                    format!("{} nominal, tried as {}", c.hardware.memory_nominal, readings.join(" and "))
                }
            },
        ),
        pair("values", "closed forms keep B; values use the bound B".into()),
    ]
}

/// The derivation: op table, parameter and FLOP closed forms, values and shares, then training
/// FLOPs, memory, the largest batch and training time.
pub fn derive(
    engine: &Engine,
    selection: &Selection,
    bindings: &Bindings,
    symbols: &SymbolTable,
    conventions: &Conventions,
) -> Result<Document> {
    let model = &selection.model;
    let ctx = Context { engine, layout: symbols.layout(), values: bindings.values() };
    let catalog = Catalog::new(model, conventions);
    let conv = conventions.flops;
    let words = convention_words(conventions);
    let mut blocks = Vec::new();

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
        rows: words.iter().map(|(k, v)| Row::plain(vec![Cell::Text(k.clone()), Cell::Text(v.clone())])).collect(),
    }));

    blocks.push(Block::Heading("Operations".into()));
    blocks.push(Block::Paragraph(vec![
        text("Each op's rule gives its trainable parameters and forward FLOPs for a batch of "),
        Inline::Math(crate::symbol::Role::Batch.expr()),
        text(" sequences of "),
        Inline::Math(crate::symbol::Role::Context.expr()),
        text(" tokens (a matmul of m×n by n×p costs 2mnp). Values are at the bindings above."),
    ]));
    blocks.push(Block::Table(op_table(selection, &ctx, conv, &|_| true)?));

    let params = catalog.get(&ctx, "params")?;
    let fp32 = catalog.get(&ctx, "bytes.params.fp32")?;
    let flops = catalog.get(&ctx, "flops.forward")?;
    let per_layer = catalog.quantity(&ctx, "params.per_layer")?;
    let flops_per_layer = catalog.quantity(&ctx, "flops.forward_per_layer")?;
    let mut quantities = vec![params.clone(), fp32.clone()];

    blocks.push(Block::Heading("Parameters".into()));
    let stage_view = Expr::sum(
        model
            .stages
            .iter()
            .map(|s| Ok(Expr::product(vec![s.repeat.clone(), ctx.simplify(&quantity::stage_params(s))?])))
            .collect::<Result<_>>()?,
    );
    let mut eqs = vec![if stage_view == params.closed || model.stages.len() < 2 {
        Equation::chain("P", vec![], &params, "")
    } else {
        Equation::chain("P", vec![stage_view], &params, "sum over stages")
    }];
    eqs.extend(relation_variants("P", &params, selection, &ctx)?);
    if let Some(pl) = &per_layer {
        eqs.push(Equation::chain("P_layer", vec![], pl, "one Transformer block"));
    }
    if let Some(active) = catalog.quantity(&ctx, "params.active")? {
        eqs.push(Equation::chain("P_active", vec![], &active, "each token runs k of the E routed experts"));
        quantities.push(active);
    }
    eqs.push(Equation::chain("M_fp32", vec![Expr::int(4) * Expr::sym("P")], &fp32, "4 bytes per fp32 parameter"));
    blocks.push(Block::Equations(eqs));

    blocks.push(Block::Heading("Forward FLOPs".into()));
    let flops_words = if conv.elementwise { "matmul + element-wise" } else { "matmul only" };
    let mut eqs = vec![Equation::chain("C_fwd", vec![], &flops, &format!("{flops_words}, B sequences of T tokens"))];
    eqs.extend(relation_variants("C_fwd", &flops, selection, &ctx)?);
    if let Some(fl) = &flops_per_layer {
        eqs.push(Equation::chain("C_layer", vec![], fl, "one Transformer block"));
    }
    quantities.extend(per_layer);
    quantities.extend(flops_per_layer);
    blocks.push(Block::Equations(eqs));
    quantities.push(flops);

    let components =
        catalog.components().iter().map(|(name, _)| catalog.get(&ctx, name)).collect::<Result<Vec<_>>>()?;
    blocks.push(Block::Heading("Where the forward FLOPs go".into()));
    blocks.push(Block::Table(shares_table(&components)));
    if let Some(q) = components.iter().max_by(|a, b| a.value.cmp(&b.value)) {
        blocks.push(Block::Paragraph(vec![text(format!(
            "The largest share is {} at these sizes; component formulas show how shares move with T, H and V.",
            q.title
        ))]));
    }
    quantities.extend(components);
    training::append(selection, &ctx, &catalog, &mut blocks, &mut quantities)?;

    Ok(Document {
        title: format!("tally derive: {} ({})", selection.id, model.name),
        model: selection.id.clone(),
        bindings: bindings.entries.iter().map(|b| (b.symbol.clone(), b.value.clone())).collect(),
        conventions: words,
        quantities,
        blocks,
        notes: vec![],
    })
}

/// The closed form again with each relation (F = 4H) substituted — only for a relation that holds
/// at the bound sizes, so no specialisation is shown that the model does not have.
fn relation_variants(lhs: &str, q: &Quantity, selection: &Selection, ctx: &Context) -> Result<Vec<Equation>> {
    let mut out = Vec::new();
    for (symbol, formula) in &selection.model.relations {
        if !q.raw.symbols().contains(symbol) {
            continue;
        }
        let holds = match (ctx.values.get(symbol), crate::algebra::evaluate(formula, &ctx.values)) {
            (Some(bound), Ok(by_relation)) => *bound == by_relation,
            _ => false,
        };
        if !holds {
            continue;
        }
        let substituted = q.raw.substitute(&|s| (s == symbol).then(|| formula.clone()));
        let note = format!("with {symbol} = {}", print(formula, Notation::Unicode));
        out.push(Equation::of(lhs, vec![Side::Expr(ctx.simplify(&substituted)?)], &note));
    }
    Ok(out)
}

/// The bound symbols with their names, meanings, values and where each value came from.
pub(crate) fn bindings_table(bindings: &Bindings, symbols: &SymbolTable) -> Table {
    let rows = bindings
        .entries
        .iter()
        .map(|b| {
            let def = symbols.get(&b.symbol);
            let origin = match &b.origin {
                crate::model::Origin::Relation(e) => format!("{} = {}", b.symbol, print(e, Notation::Unicode)),
                other => other.words(),
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
fn op_table(selection: &Selection, ctx: &Context, conv: FlopConvention, keep: &dyn Fn(&Op) -> bool) -> Result<Table> {
    let model = &selection.model;
    let mut rows = Vec::new();
    let number = |e: &Expr| ctx.value(e).map(Cell::Number);
    let sums = |p: &Expr, f: &Expr| -> Result<[Cell; 4]> {
        Ok([Cell::Math(ctx.simplify(p)?), Cell::Math(ctx.simplify(f)?), number(p)?, number(f)?])
    };
    for stage in &model.stages {
        let listed: Vec<_> = stage.ops.iter().filter(|op| keep(op)).collect();
        if listed.is_empty() {
            continue;
        }
        // A table that lists only some ops (the matmuls) totals what it lists, and says so.
        let every = listed.len() == stage.ops.len();
        let (p, f) = if every {
            (quantity::stage_params(stage), quantity::stage_forward_flops(model, stage, conv))
        } else {
            (
                Expr::sum(listed.iter().map(|op| op.params()).collect()),
                Expr::sum(listed.iter().map(|op| op.forward_flops(conv, &model.costs)).collect()),
            )
        };
        for (i, op) in listed.into_iter().enumerate() {
            let mut cells = vec![
                if i == 0 { Cell::Text(stage.name.clone()) } else { Cell::Empty },
                Cell::Text(op.name.clone()),
                Cell::Text(op.rule()),
                Cell::Shape(op.operands()),
            ];
            cells.extend(sums(&op.params(), &op.forward_flops(conv, &model.costs))?);
            rows.push(Row::plain(cells));
        }
        let once = stage.repeat == Expr::one();
        let label = match (once, every) {
            (true, true) => format!("{} total", stage.name),
            (false, true) => format!("{} (one of them)", stage.name),
            (true, false) => format!("{}: the ops listed", stage.name),
            (false, false) => format!("{} (one of them): the ops listed", stage.name),
        };
        let mut cells = vec![Cell::Text(label), Cell::Empty, Cell::Empty, Cell::Empty];
        cells.extend(sums(&p, &f)?);
        rows.push(Row::total(cells));
        if !once {
            let (rp, rf) = (stage.repeat.clone() * p, stage.repeat.clone() * f);
            let label = format!(
                "{} × {}{}",
                stage.name,
                print(&stage.repeat, Notation::Unicode),
                if every { "" } else { ": the ops listed" }
            );
            let mut cells = vec![Cell::Text(label), Cell::Empty, Cell::Empty, Cell::Empty];
            cells.extend(sums(&rp, &rf)?);
            rows.push(Row::total(cells));
        }
    }
    Ok(Table {
        columns: vec![
            ("stage".into(), false),
            ("op".into(), false),
            ("rule".into(), false),
            ("operands".into(), false),
            ("params (formula)".into(), false),
            ("forward FLOPs (formula)".into(), false),
            ("params".into(), true),
            ("forward FLOPs".into(), true),
        ],
        rows,
    })
}

/// Each component's forward FLOPs with its share of the total.
fn shares_table(components: &[Quantity]) -> Table {
    let total: crate::algebra::Rational = components.iter().filter_map(|q| q.value.clone()).sum();
    let rows = components
        .iter()
        .map(|q| {
            let share = match (&q.value, total > crate::algebra::Rational::from_integer(0.into())) {
                (Some(v), true) => Cell::Percent(v / &total, 2),
                _ => Cell::Empty,
            };
            Row::plain(vec![
                Cell::Text(q.title.clone()),
                Cell::Math(q.closed.clone()),
                q.value.clone().map(Cell::Number).unwrap_or(Cell::Empty),
                share,
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

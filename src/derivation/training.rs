//! The training part of a derivation: backward and optimizer FLOPs, the memory of training with
//! the optimizer (each saved activation listed), the largest batch that fits a memory budget, the
//! training time, and inference. Every quantity comes from the catalog; this file lays them out.

use super::{Block, Cell, Equation, Inline, Row, Table, relation_variants, text};
use crate::algebra::{Expr, Notation, Rational, print};
use crate::dim;
use crate::error::Result;
use crate::optimizer::{Optimizer, Per};
use crate::preset::Selection;
use crate::quantity::memory::{self, ActivationSettings};
use crate::quantity::{BatchFit, Catalog, Context, Quantity, largest_batch};
use crate::symbol::Role;

mod advice;
use advice::advice;

/// Appends the training sections and their quantities.
pub(super) fn append(
    selection: &Selection,
    ctx: &Context,
    catalog: &Catalog,
    blocks: &mut Vec<Block>,
    quantities: &mut Vec<Quantity>,
) -> Result<()> {
    let c = catalog.conventions;
    let optimizer = &c.optimizer;

    blocks.push(Block::Heading("Training step FLOPs".into()));
    let backward = catalog.get(ctx, "flops.backward")?;
    let opt = catalog.get(ctx, "flops.optimizer")?;
    let step = catalog.get(ctx, "flops.step")?;
    blocks.push(Block::Paragraph(vec![text(format!(
        "The {} update written as element-wise operations; every listed operation is one FLOP, per parameter \
         or once per step. {} per parameter and {} per step come out of the list.",
        optimizer.display,
        optimizer.flops_per_param(),
        optimizer.flops_per_step()
    ))]));
    blocks.push(Block::Table(update_table(optimizer)));
    let step_note = if c.recompute {
        "forward + backward + the blocks' forward again (recomputation) + optimizer, batch of B sequences"
    } else {
        "forward + backward + optimizer, batch of B sequences"
    };
    let recomputed = catalog.recomputed_forward();
    let mut opt_form = Expr::int(optimizer.flops_per_param()) * Expr::sym("P");
    if optimizer.flops_per_factored() > 0 {
        opt_form = opt_form + Expr::int(optimizer.flops_per_factored()) * Expr::sym("P_factored");
    }
    opt_form = opt_form + Expr::int(optimizer.flops_per_step());
    let mut equations = vec![
        Equation::chain("C_bwd", vec![Expr::int(2) * Expr::sym("C_fwd")], &backward, "backward = 2 × forward"),
        Equation::chain("C_opt", vec![opt_form], &opt, &format!("{}, from the update lines", optimizer.display)),
    ];
    let mut step_form = Expr::int(3) * Expr::sym("C_fwd") + Expr::sym("C_opt");
    if c.recompute {
        let q = ctx.quantity(
            "flops.recompute",
            "the blocks' forward pass, recomputed",
            crate::dim::Unit::flop(),
            recomputed,
        )?;
        equations.push(Equation::chain("C_recompute", vec![], &q, "the L blocks only; the LM head is not recomputed"));
        step_form = step_form + Expr::sym("C_recompute");
    }
    equations.push(Equation::chain("C_step", vec![step_form], &step, step_note));
    blocks.push(Block::Equations(equations));
    approximations(catalog, ctx, blocks, quantities)?;

    // Memory.
    let precision = &c.precision;
    let saved = c.saved();
    let layout = &c.layout;
    let (w, m, g) =
        (layout.weights.bytes(precision), layout.master.bytes(precision), layout.gradients.bytes(precision));
    let state_bytes = |s: &crate::optimizer::State| match &s.bytes {
        Some(b) => dim::exact(b),
        None => layout.states.bytes(precision).to_string(),
    };
    blocks.push(Block::Heading(format!("Training memory ({}, {} layout)", precision.name, layout.name)));
    // Each state in words: what it is, how many elements it has, how many bytes each.
    let each: Vec<String> = optimizer
        .state
        .iter()
        .map(|s| match s.shape {
            crate::optimizer::Shape::Factored => format!(
                "{}, the {}: one element per row and per column of each matrix, {} bytes each",
                s.name,
                s.summary,
                state_bytes(s)
            ),
            _ => format!("{}, the {}: {} bytes per parameter", s.name, s.summary, state_bytes(s)),
        })
        .collect();
    let states = match each.len() {
        0 => "keeps no state".to_string(),
        1 => format!("keeps 1 state tensor ({})", each[0]),
        n => format!("keeps {n} state tensors ({})", each.join("; ")),
    };
    blocks.push(Block::Paragraph(vec![text(format!(
        "Per parameter: weights {w} bytes{}, gradients {g}; {} {states}. \
         Activations are what the forward pass keeps for the backward pass, {} bytes per element, under the \
         `{}` convention{}{}:",
        if m > 0 { format!(" plus a {m}-byte master copy") } else { String::new() },
        optimizer.display,
        precision.bytes,
        c.activations.name(),
        if c.recompute { ", with full recomputation (each block keeps only its input)" } else { "" },
        if c.flash { ", with FlashAttention (no T² tensors; an fp32 log-sum-exp per row)" } else { "" },
    ))]));
    blocks.push(Block::Table(activation_table(selection, ctx, saved)?));
    let get = |name: &str| catalog.get(ctx, name);
    let (m_params, m_grads, m_opt, m_act) =
        (get("memory.params")?, get("memory.gradients")?, get("memory.optimizer")?, get("memory.activations")?);
    let m_master = catalog.quantity(ctx, "memory.master")?;
    let (m_static, m_total) = (get("memory.static")?, get("memory.total")?);
    let per_param = |bytes: i64| Expr::int(bytes) * Expr::sym("P");
    let mut eqs = vec![Equation::chain("M_params", vec![per_param(w)], &m_params, "")];
    if let Some(master) = &m_master {
        let copy = match &layout.master {
            memory::Storage::Fixed(p) => format!("{} copy", p.name),
            _ => "copy".into(),
        };
        eqs.push(Equation::chain("M_master", vec![per_param(m)], master, &copy));
    }
    eqs.push(Equation::chain("M_grads", vec![per_param(g)], &m_grads, ""));
    // With one element per parameter in every state tensor, the optimizer's memory reads k·P.
    let per_param_states: Option<Rational> = optimizer
        .state
        .iter()
        .map(|s| match s.shape {
            crate::optimizer::Shape::Param => {
                Some(s.bytes.clone().unwrap_or_else(|| Rational::from_integer(layout.states.bytes(precision).into())))
            }
            crate::optimizer::Shape::Factored => None,
        })
        .sum();
    let opt_view = per_param_states.map(|k| Expr::num(k) * Expr::sym("P")).into_iter().collect();
    eqs.push(Equation::chain("M_opt", opt_view, &m_opt, &optimizer.state_names()));
    eqs.push(Equation::chain("M_act", vec![], &m_act, &format!("{} activation list", c.activations.name())));
    let m_overheads = catalog.quantity(ctx, "memory.overheads")?;
    if let Some(o) = &m_overheads {
        let mut named = Vec::new();
        if let Some((written, _)) = &c.reserve {
            named.push(format!("reserve {written} (--reserve)"));
        }
        if c.logits_temporary {
            named.push("the logits' gradient, B·T·V elements (--temporaries logits)".to_string());
        }
        eqs.push(Equation::chain("M_overheads", vec![], o, &named.join(" + ")));
    }
    eqs.push(Equation::chain("M_total", vec![], &m_total, "all terms"));
    eqs.extend(relation_variants("M_total", &m_total, selection, &ctx.split_by(Role::Batch.symbol()))?);
    blocks.push(Block::Equations(eqs));
    let line = catalog.batch_line(ctx)?;
    if let Some(line) = &line {
        blocks.push(Block::Paragraph(vec![
            text("At these sizes, as a function of the batch size: "),
            Inline::Math(Expr::num(line.a.clone()) * Role::Batch.expr() + Expr::num(line.b.clone())),
            text(format!(
                " bytes, i.e. {} bytes per sequence on top of {} bytes.",
                dim::exact(&line.a),
                dim::exact(&line.b)
            )),
        ]));
    }
    quantities.extend([backward, opt, step, m_params]);
    quantities.extend(m_master);
    quantities.extend([m_grads, m_opt, m_act]);
    quantities.extend(m_overheads);
    quantities.extend([m_static, m_total]);

    if let Some(line) = &line {
        batch_section(catalog, ctx, line, blocks, quantities)?;
    }
    time_section(catalog, ctx, blocks, quantities)?;
    super::inference::inference_section(catalog, ctx, blocks, quantities)?;
    super::parallel::parallel_section(catalog, ctx, blocks, quantities)
}

fn update_table(optimizer: &Optimizer) -> Table {
    let mut rows: Vec<Row> = optimizer
        .line
        .iter()
        .map(|l| {
            Row::plain(vec![
                Cell::Written { unicode: l.text.clone(), latex: l.latex.clone() },
                Cell::Text(
                    match l.per {
                        Per::Param => "parameter",
                        Per::Factored => "factored element",
                        Per::Step => "step",
                    }
                    .into(),
                ),
                Cell::Text(l.ops.join(", ")),
                Cell::Number(Rational::from_integer(l.ops.len().into())),
            ])
        })
        .collect();
    let totals = [
        ("per parameter", optimizer.flops_per_param()),
        ("per factored element", optimizer.flops_per_factored()),
        ("per step", optimizer.flops_per_step()),
    ];
    for (label, n) in totals.into_iter().filter(|(label, n)| *n > 0 || *label != "per factored element") {
        rows.push(Row::total(vec![
            Cell::Text(format!("total {label}")),
            Cell::Empty,
            Cell::Empty,
            Cell::Number(Rational::from_integer(n.into())),
        ]));
    }
    Table {
        columns: vec![
            ("update".into(), false),
            ("once per".into(), false),
            ("operations".into(), false),
            ("FLOPs".into(), true),
        ],
        rows,
    }
}

fn activation_table(selection: &Selection, ctx: &Context, saved: ActivationSettings) -> Result<Table> {
    let mut rows = Vec::new();
    for stage in &selection.model.stages {
        let repeat = print(&stage.repeat, Notation::Unicode);
        let times = if repeat == "1" { String::new() } else { format!("× {repeat}") };
        if saved.recompute && stage.repeat != Expr::one() {
            let kept = memory::recomputed_stage_bytes(stage, saved);
            let elements = memory::recomputed_stage_bytes(stage, ActivationSettings { bytes: 1, ..saved });
            rows.push(Row::plain(vec![
                Cell::Text(stage.name.clone()),
                Cell::Text("block input (everything else recomputed)".into()),
                Cell::Text("recompute full".into()),
                Cell::Math(ctx.simplify(&elements)?),
                Cell::Math(ctx.simplify(&kept)?),
                Cell::Text(times.clone()),
                Cell::Number(ctx.value(&(stage.repeat.clone() * kept))?),
            ]));
            continue;
        }
        let mut first = true;
        for tensor in memory::stage_tensors(&selection.model, stage, saved) {
            let kept = tensor.total();
            if kept.is_zero() {
                continue;
            }
            let stage_cell = if first { Cell::Text(stage.name.clone()) } else { Cell::Empty };
            first = false;
            rows.push(Row::plain(vec![
                stage_cell,
                Cell::Text(tensor.label.clone()),
                Cell::Text(tensor.kept_by.clone()),
                Cell::Math(ctx.simplify(&tensor.elements)?),
                Cell::Math(ctx.simplify(&kept)?),
                Cell::Text(times.clone()),
                Cell::Number(ctx.value(&(stage.repeat.clone() * kept))?),
            ]));
        }
    }
    let all = memory::activation_bytes(&selection.model, saved);
    rows.push(Row::total(vec![
        Cell::Text("total bytes".into()),
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Math(ctx.simplify(&all)?),
        Cell::Empty,
        Cell::Number(ctx.value(&all)?),
    ]));
    Ok(Table {
        columns: vec![
            ("stage".into(), false),
            ("kept for backward".into(), false),
            ("kept by".into(), false),
            ("elements".into(), false),
            ("bytes".into(), false),
            ("repeat".into(), false),
            ("bytes in all".into(), true),
        ],
        rows,
    })
}

/// Training FLOPs per token from the rules beside the 6N and PaLM (6N + 12·L·H·T) estimates.
fn approximations(
    catalog: &Catalog,
    ctx: &Context,
    blocks: &mut Vec<Block>,
    quantities: &mut Vec<Quantity>,
) -> Result<()> {
    let exact = catalog.get(ctx, "flops.train_per_token")?;
    let six_n = catalog.get(ctx, "flops.approx.6n")?;
    let palm = catalog.get(ctx, "flops.approx.palm")?;
    blocks.push(Block::Paragraph(vec![text(
        "Training FLOPs per token from the rules, beside the usual estimates (N = all parameters):",
    )]));
    let ratio = |q: &Quantity| match (&exact.value, &q.value) {
        (Some(e), Some(a)) if *a != Rational::from_integer(0.into()) => {
            format!("exact / estimate = {}", dim::decimal(&(e / a), 4))
        }
        _ => String::new(),
    };
    let rows = [&exact, &six_n, &palm]
        .iter()
        .map(|q| {
            Row::plain(vec![
                Cell::Text(q.title.clone()),
                Cell::Math(q.closed.clone()),
                q.value.clone().map(Cell::Number).unwrap_or(Cell::Empty),
                Cell::Text(if q.name == exact.name { String::new() } else { ratio(q) }),
            ])
        })
        .collect();
    blocks.push(Block::Table(Table {
        columns: vec![
            ("per token".into(), false),
            ("formula".into(), false),
            ("FLOPs".into(), true),
            ("ratio".into(), false),
        ],
        rows,
    }));
    quantities.extend([exact, six_n, palm]);
    Ok(())
}

fn batch_section(
    catalog: &Catalog,
    ctx: &Context,
    line: &crate::quantity::catalog::BatchLine,
    blocks: &mut Vec<Block>,
    quantities: &mut Vec<Quantity>,
) -> Result<()> {
    blocks.push(Block::Heading("Largest batch that fits".into()));
    let (a, b) = (&line.a, &line.b);
    let positive = *a > Rational::from_integer(0.into());
    let mut rows = Vec::new();
    let mut sentences = Vec::new();
    for (i, (label, budget)) in catalog.conventions.budgets().iter().enumerate() {
        let fit = largest_batch(a, b, budget);
        let bound = || dim::decimal(&((budget - b) / a), 3);
        let answer = match &fit {
            BatchFit::Largest(n) => dim::exact(n),
            BatchFit::Unbounded => "any".to_string(),
            BatchFit::DoesNotFit(missing) => {
                sentences.push(format!(
                    "With {label} even B = 1 does not fit: one sequence needs {} bytes, {} more than the budget. {}",
                    dim::exact(&(a + b)),
                    dim::bytes(missing),
                    advice(catalog, ctx, line, budget)?
                ));
                "does not fit".to_string()
            }
        };
        rows.push(Row::plain(vec![
            Cell::Text(label.clone()),
            Cell::Number(budget.clone()),
            Cell::Text(match fit {
                BatchFit::Largest(_) => format!("B ≤ {}", bound()),
                BatchFit::DoesNotFit(_) if positive => format!("B ≤ {}: no B ≥ 1", bound()),
                BatchFit::DoesNotFit(_) => "no B fits".to_string(),
                BatchFit::Unbounded => "memory does not grow with B".to_string(),
            }),
            Cell::Text(answer),
        ]));
        let name = if i == 0 { "batch.max" } else { "batch.max.binary" };
        if positive && let Some(q) = catalog.quantity(ctx, name)? {
            quantities.push(q);
        }
    }
    blocks.push(Block::Paragraph(vec![
        text("Solve "),
        Inline::Math(Expr::num(a.clone()) * Role::Batch.expr() + Expr::num(b.clone())),
        text(" ≤ budget for the largest whole B:"),
    ]));
    blocks.push(Block::Table(Table {
        columns: vec![
            ("budget".into(), false),
            ("bytes".into(), true),
            ("solution".into(), false),
            ("largest B".into(), true),
        ],
        rows,
    }));
    for s in sentences {
        blocks.push(Block::Paragraph(vec![text(s)]));
    }
    Ok(())
}

fn time_section(
    catalog: &Catalog,
    ctx: &Context,
    blocks: &mut Vec<Block>,
    quantities: &mut Vec<Quantity>,
) -> Result<()> {
    let c = catalog.conventions;
    blocks.push(Block::Heading("Training time".into()));
    let (words, symbolic) = match &c.tokens_per_second {
        Some(rate) => (
            format!("S steps of B·T tokens at the measured τ = {} tokens/s:", dim::decimal(rate, 0)),
            Role::Steps.expr() * Role::Batch.expr() * Role::Context.expr() * Expr::sym("tau").pow(-1),
        ),
        None => (
            format!(
                "S steps of C_step FLOPs on one {} at {} with peak R and utilisation U:",
                c.hardware.summary, c.precision.name
            ),
            Role::Steps.expr() * Expr::sym("C_step") * (Role::Mfu.expr() * Role::Peak.expr()).pow(-1),
        ),
    };
    blocks.push(Block::Paragraph(vec![text(words)]));
    let time = catalog.get(ctx, "time.training")?;
    blocks.push(Block::Equations(vec![Equation::chain("t", vec![symbolic], &time, "")]));
    quantities.push(time);
    // The time reads like an answer; what it assumes must be said.
    let batch = ctx.value(&Role::Batch.expr())?;
    let one = batch == Rational::from_integer(1.into());
    let mut assumed =
        vec![format!("B = {} {} per step", dim::exact(&batch), if one { "sequence" } else { "sequences" })];
    if !c.steps_given {
        assumed.push(format!("S = {} steps (the default of --steps)", dim::exact(&c.steps)));
    }
    if c.tokens_per_second.is_none() {
        assumed.push(format!("U = {} (--mfu)", dim::exact(&c.mfu)));
    }
    blocks.push(Block::Paragraph(vec![text(format!(
        "This time assumes {}: give your run's values (--set B=…, --steps, --mfu or --tokens-per-second).",
        assumed.join(", ")
    ))]));
    if let (Some(rate), Some(mfu)) = (&c.tokens_per_second, catalog.quantity(ctx, "mfu")?) {
        blocks.push(Block::Paragraph(vec![text(format!(
            "MFU from a measured {} tokens/s: model FLOPs per token (forward + backward, 3·C_fwd/(BT)) × tokens/s ÷ peak.",
            dim::decimal(rate, 0)
        ))]));
        if let Some(v) = &mfu.value {
            let percent = dim::decimal(&(v * Rational::from_integer(100.into())), 1);
            let verdict = if *v > Rational::from_integer(1.into()) {
                format!(
                    "MFU = {percent}%: above 100%, so this throughput is impossible on this hardware at this precision — check the measurement or the FLOP count."
                )
            } else {
                format!("MFU = {percent}% of peak.")
            };
            blocks.push(Block::Paragraph(vec![text(verdict)]));
        }
        quantities.push(mfu);
    }
    Ok(())
}

//! The training part of a derivation: backward and optimizer FLOPs, the memory of training with
//! AdamW (each saved activation listed), the largest batch that fits a memory budget, and the
//! training time at a given MFU.

use super::{Block, Cell, DeriveOptions, Equation, Inline, Row, Side, Table, relation_variants, text};
use crate::algebra::{Expr, Notation, Rational, print};
use crate::dim::{self, Unit, parse_bytes};
use crate::error::Result;
use crate::ops::{ActivationConvention, Saved};
use crate::optimizer::{Optimizer, Per};
use crate::preset::Selection;
use crate::quantity::{self, ActivationSettings, BatchFit, Context, MemoryTerms, Quantity};
use num_bigint::BigInt;
use num_traits::{Signed, Zero};

fn lhs(text: &str, latex: &str) -> (String, String) {
    (text.to_string(), latex.to_string())
}

fn with_value(mut rhs: Vec<Side>, q: &Quantity) -> Vec<Side> {
    rhs.push(Side::Expr(q.closed.clone()));
    if let Some(v) = &q.value {
        rhs.push(Side::Value(v.clone(), q.unit.clone()));
    }
    rhs
}

fn eq(lhs: (String, String), rhs: Vec<Side>, note: &str) -> Equation {
    Equation { lhs, rhs, note: (!note.is_empty()).then(|| note.to_string()) }
}

/// Appends the training sections and their quantities.
pub(super) fn append(
    selection: &Selection,
    ctx: &Context,
    options: &DeriveOptions,
    blocks: &mut Vec<Block>,
    quantities: &mut Vec<Quantity>,
) -> Result<()> {
    let model = &selection.model;
    let training = &options.training;
    let adamw = Optimizer::adamw();
    let forward = quantity::forward_flops(model, options.flops);
    let split = ctx.split_by("B");

    // FLOPs of one training step.
    blocks.push(Block::Heading("Training step FLOPs".into()));
    let backward =
        ctx.quantity("flops.backward", "backward FLOPs (2× forward)", Unit::flop(), Expr::int(2) * forward.clone())?;
    let optimizer = ctx.quantity(
        "flops.optimizer",
        "AdamW FLOPs per step",
        Unit::flop(),
        quantity::optimizer_flops(model, &adamw),
    )?;
    // Full recomputation reruns the forward pass inside the backward pass.
    let forwards = if training.recompute { 2 } else { 1 };
    let step_raw = Expr::sum(vec![Expr::int(forwards) * forward.clone(), backward.raw.clone(), optimizer.raw.clone()]);
    let step = split.quantity("flops.step", "FLOPs of one training step", Unit::flop(), step_raw)?;
    blocks.push(Block::Paragraph(vec![text(format!(
        "The {} update written as element-wise operations; every listed operation is one FLOP, per parameter \
         or once per step. {} per parameter and {} per step come out of the list.",
        adamw.name,
        adamw.flops_per_param(),
        adamw.flops_per_step()
    ))]));
    blocks.push(Block::Table(update_table(&adamw)));
    let step_form = Expr::int(2 + forwards) * Expr::sym("C_fwd") + Expr::sym("C_opt");
    let step_note = if training.recompute {
        "forward + recomputed forward + backward + optimizer, batch of B sequences"
    } else {
        "forward + backward + optimizer, batch of B sequences"
    };
    blocks.push(Block::Equations(vec![
        eq(
            lhs("C_bwd", "C_{\\text{bwd}}"),
            with_value(vec![Side::Expr(Expr::int(2) * Expr::sym("C_fwd"))], &backward),
            "backward = 2 × forward",
        ),
        eq(
            lhs("C_opt", "C_{\\text{opt}}"),
            with_value(
                vec![Side::Expr(
                    Expr::int(adamw.flops_per_param()) * Expr::sym("P") + Expr::int(adamw.flops_per_step()),
                )],
                &optimizer,
            ),
            "AdamW, from the update lines",
        ),
        eq(lhs("C_step", "C_{\\text{step}}"), with_value(vec![Side::Expr(step_form)], &step), step_note),
    ]));
    approximations(model, ctx, &forward, blocks, quantities)?;

    // Memory.
    let precision = training.precision;
    let saved = ActivationSettings {
        convention: training.activations,
        recompute: training.recompute,
        flash: training.flash,
        bytes: precision.bytes(),
    };
    let terms = MemoryTerms::new(model, precision, training.layout, &adamw, saved);
    let (w, m, g, o) = training.layout.bytes_per_param(precision);
    let title = format!("Training memory ({}, {} layout)", precision.name(), training.layout.name());
    blocks.push(Block::Heading(title));
    blocks.push(Block::Paragraph(vec![text(format!(
        "Per parameter: weights {w} bytes{}, gradients {g}, and the {} AdamW state tensors ({}) {o} bytes each. \
         Activations are what the forward pass keeps for the backward pass, {} bytes per element, under the \
         `{}` convention{}{}:",
        if m > 0 { format!(" plus a {m}-byte fp32 master copy") } else { String::new() },
        adamw.state.len(),
        adamw.state.join(", "),
        precision.bytes(),
        training.activations.name(),
        if training.recompute { ", with full recomputation (each block keeps only its input)" } else { "" },
        if training.flash { ", with FlashAttention (no T² tensors; an fp32 log-sum-exp per row)" } else { "" },
    ))]));
    blocks.push(Block::Table(activation_table(selection, ctx, saved)?));
    let m_params = ctx.quantity("memory.params", "parameter memory", Unit::byte(), terms.params.clone())?;
    let m_master = ctx.quantity("memory.master", "fp32 master weights", Unit::byte(), terms.master.clone())?;
    let m_grads = ctx.quantity("memory.gradients", "gradient memory", Unit::byte(), terms.gradients.clone())?;
    let m_opt =
        ctx.quantity("memory.optimizer", "AdamW state memory (m and v)", Unit::byte(), terms.optimizer.clone())?;
    let m_act =
        ctx.quantity("memory.activations", "saved activation memory", Unit::byte(), terms.activations.clone())?;
    let m_total = split.quantity("memory.total", "training memory", Unit::byte(), terms.total())?;
    let per_param = |bytes: i64| Side::Expr(Expr::int(bytes) * Expr::sym("P"));
    let mut eqs = vec![eq(lhs("M_params", "M_{\\text{params}}"), with_value(vec![per_param(w)], &m_params), "")];
    if m > 0 {
        eqs.push(eq(lhs("M_master", "M_{\\text{master}}"), with_value(vec![per_param(m)], &m_master), "fp32 copy"));
    }
    eqs.extend([
        eq(lhs("M_grads", "M_{\\text{grads}}"), with_value(vec![per_param(g)], &m_grads), ""),
        eq(lhs("M_opt", "M_{\\text{opt}}"), with_value(vec![per_param(2 * o)], &m_opt), "m and v"),
        eq(
            lhs("M_act", "M_{\\text{act}}"),
            with_value(vec![], &m_act),
            &format!("{} activation list", training.activations.name()),
        ),
        eq(lhs("M_total", "M_{\\text{total}}"), with_value(vec![], &m_total), "all terms"),
    ]);
    eqs.extend(relation_variants(("M_total", "M_{\\text{total}}"), &m_total, selection, &split)?);
    blocks.push(Block::Equations(eqs));
    let linear = linear_in_batch(&m_total.raw, ctx)?;
    let coefficients = batch_coefficients(&m_total.raw, ctx)?;
    if let Some((a, b)) = &linear {
        blocks.push(Block::Paragraph(vec![
            text("At these sizes, as a function of the batch size: "),
            Inline::Math(Expr::num(a.clone()) * Expr::sym("B") + Expr::num(b.clone())),
            text(format!(" bytes, i.e. {} bytes per sequence on top of {} bytes.", dim::exact(a), dim::exact(b))),
        ]));
    }
    let m_static =
        ctx.quantity("memory.static", "parameters, gradients and optimizer state", Unit::byte(), terms.fixed())?;
    quantities.extend([backward, optimizer, step, m_params]);
    if m > 0 {
        quantities.push(m_master);
    }
    quantities.extend([m_grads, m_opt, m_act, m_static, m_total]);

    // Largest batch.
    if let (Some((a, b)), Some((a_expr, b_expr))) = (&linear, &coefficients) {
        batch_section(training, (a, b), (a_expr, b_expr), blocks, quantities)?;
    }

    // Time and MFU.
    time_section(options, &split, &forward, blocks, quantities)?;

    // Inference.
    inference_section(model, ctx, options, blocks, quantities)
}

/// The closed forms a and b of memory = a·B + b.
fn batch_coefficients(total: &Expr, ctx: &Context) -> Result<Option<(Expr, Expr)>> {
    let Some(by_power) = ctx.engine.coefficients(total, "B")? else { return Ok(None) };
    let get = |k: i32| by_power.get(&k).map(|e| ctx.simplify(e)).unwrap_or_else(|| Ok(Expr::zero()));
    Ok(Some((get(1)?, get(0)?)))
}

/// (a, b) with memory = a·B + b at the bound sizes, if memory is linear in B.
fn linear_in_batch(total: &Expr, ctx: &Context) -> Result<Option<(Rational, Rational)>> {
    let Some(by_power) = ctx.engine.coefficients(total, "B")? else { return Ok(None) };
    if by_power.keys().any(|k| *k != 0 && *k != 1) {
        return Ok(None);
    }
    let value = |k: i32| by_power.get(&k).map(|e| ctx.value(e)).unwrap_or_else(|| Ok(Rational::from_integer(0.into())));
    Ok(Some((value(1)?, value(0)?)))
}

fn update_table(optimizer: &Optimizer) -> Table {
    let mut rows: Vec<Row> = optimizer
        .line
        .iter()
        .map(|l| {
            Row::plain(vec![
                Cell::Text(l.text.clone()),
                Cell::Text(match l.per {
                    Per::Param => "parameter".into(),
                    Per::Step => "step".into(),
                }),
                Cell::Text(l.ops.join(", ")),
                Cell::Number(Rational::from_integer(BigInt::from(l.ops.len()))),
            ])
        })
        .collect();
    for (label, n) in [("per parameter", optimizer.flops_per_param()), ("per step", optimizer.flops_per_step())] {
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
            let kept = quantity::recomputed_stage_bytes(stage, saved);
            let elements = quantity::recomputed_stage_bytes(stage, ActivationSettings { bytes: 1, ..saved });
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
        for op in &stage.ops {
            let kept = quantity::op_activation_bytes(op, saved);
            if kept.is_zero() {
                continue;
            }
            let why = match (saved.convention, op.saved) {
                (ActivationConvention::Korthikanti, _) => "kept for its backward",
                (_, Saved::Cs336) => "CS336 list",
                (_, Saved::All) => "all intermediates",
                (_, Saved::Never) => "FlashAttention statistics",
            };
            let stage_cell = if first { Cell::Text(stage.name.clone()) } else { Cell::Empty };
            first = false;
            let elements = quantity::op_activation_elements(op, saved);
            rows.push(Row::plain(vec![
                stage_cell,
                Cell::Text(op.name.clone()),
                Cell::Text(why.into()),
                Cell::Math(ctx.simplify(&elements)?),
                Cell::Math(ctx.simplify(&kept)?),
                Cell::Text(times.clone()),
                Cell::Number(ctx.value(&(stage.repeat.clone() * kept))?),
            ]));
        }
    }
    let all = quantity::activation_bytes(&selection.model, saved);
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
            ("counted by".into(), false),
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
    model: &crate::model::Model,
    ctx: &Context,
    forward: &Expr,
    blocks: &mut Vec<Block>,
    quantities: &mut Vec<Quantity>,
) -> Result<()> {
    let per_token = Expr::int(3) * forward.clone() * (Expr::sym("B") * Expr::sym("T")).pow(-1);
    let exact = ctx.quantity(
        "flops.train_per_token",
        "training FLOPs per token (forward + backward)",
        Unit::flop(),
        per_token,
    )?;
    let n = quantity::params(model);
    let six_n = ctx.quantity("flops.approx.6n", "6N estimate per token", Unit::flop(), Expr::int(6) * n.clone())?;
    let palm_raw =
        Expr::int(6) * n + Expr::product(vec![Expr::int(12), Expr::sym("L"), Expr::sym("H"), Expr::sym("T")]);
    let palm = ctx.quantity("flops.approx.palm", "6N + 12·L·H·T (PaLM) estimate per token", Unit::flop(), palm_raw)?;
    blocks.push(Block::Paragraph(vec![text(
        "Training FLOPs per token from the rules, beside the usual estimates (N = all parameters):",
    )]));
    let ratio = |q: &Quantity| match (&exact.value, &q.value) {
        (Some(e), Some(a)) if !a.is_zero() => format!("exact / estimate = {}", dim::decimal(&(e / a), 4)),
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

/// KV-cache bytes and FLOPs per decoded token.
fn inference_section(
    model: &crate::model::Model,
    ctx: &Context,
    options: &DeriveOptions,
    blocks: &mut Vec<Block>,
    quantities: &mut Vec<Quantity>,
) -> Result<()> {
    let bytes = options.training.precision.bytes();
    let cache = quantity::kv_cache_bytes(model, bytes);
    if cache.is_zero() {
        return Ok(());
    }
    blocks.push(Block::Heading("Inference".into()));
    let kv = ctx.quantity("memory.kv_cache", "KV cache for B sequences of T tokens", Unit::byte(), cache)?;
    let decode = ctx.quantity(
        "flops.decode_per_token",
        "FLOPs to decode one token with T positions cached",
        Unit::flop(),
        quantity::decode_flops(model, options.flops),
    )?;
    blocks.push(Block::Paragraph(vec![text(format!(
        "Every K and V projection output is cached for each of the T positions, {bytes} bytes per element \
         ({}); decoding one token runs every op once and attends to the T cached positions.",
        options.training.precision.name()
    ))]));
    blocks.push(Block::Equations(vec![
        eq(lhs("M_kv", "M_{\\text{kv}}"), with_value(vec![], &kv), "K and V of every layer"),
        eq(lhs("C_decode", "C_{\\text{decode}}"), with_value(vec![], &decode), "one token, one sequence"),
    ]));
    quantities.extend([kv, decode]);
    Ok(())
}

/// The memory budgets to try: the one given with --memory, else the hardware's readings of its
/// marketed memory (decimal GB, and binary GiB where the device has it).
fn budgets(training: &super::TrainingOptions) -> Result<Vec<(String, Rational)>> {
    if let Some(b) = &training.budget {
        return Ok(vec![b.clone()]);
    }
    training
        .hardware
        .readings
        .iter()
        .map(|reading| {
            let bytes = parse_bytes(reading).map_err(|reason| crate::error::Error::BadOption {
                option: format!("hardware {} reading", training.hardware.name),
                value: reading.clone(),
                reason,
            })?;
            let words =
                if reading.ends_with("GiB") { "binary, 2³⁰ bytes per GiB" } else { "decimal, 10⁹ bytes per GB" };
            Ok((format!("{reading} ({words})"), bytes))
        })
        .collect()
}

fn batch_section(
    training: &super::TrainingOptions,
    (a, b): (&Rational, &Rational),
    (a_expr, b_expr): (&Expr, &Expr),
    blocks: &mut Vec<Block>,
    quantities: &mut Vec<Quantity>,
) -> Result<()> {
    blocks.push(Block::Heading("Largest batch that fits".into()));
    let mut rows = Vec::new();
    let mut sentences = Vec::new();
    for (i, (label, budget)) in budgets(training)?.iter().enumerate() {
        let fit = quantity::largest_batch(a, b, budget);
        let bound = || dim::decimal(&((budget - b) / a), 3);
        let (answer, value, verdict) = match &fit {
            BatchFit::Unbounded => {
                ("any".to_string(), None, Some("any batch fits: memory does not grow with B".to_string()))
            }
            BatchFit::Largest(n) => (dim::exact(n), Some(n.clone()), None),
            BatchFit::DoesNotFit(missing) => {
                let sentence = format!(
                    "With {label} even B = 1 does not fit: one sequence needs {} bytes, {} more than the budget. \
                     {}Use less memory per sequence (shorter T, recomputation, lower precision) or more memory.",
                    dim::exact(&(a + b)),
                    dim::bytes(missing),
                    if b > budget {
                        format!("Parameters, gradients and optimizer state alone need {}. ", dim::bytes(b))
                    } else {
                        String::new()
                    }
                );
                sentences.push(sentence);
                let verdict = format!("does not fit: one sequence needs {} more", dim::bytes(missing));
                ("does not fit".to_string(), None, Some(verdict))
            }
        };
        rows.push(Row::plain(vec![
            Cell::Text(label.clone()),
            Cell::Number(budget.clone()),
            Cell::Text(match fit {
                BatchFit::Largest(_) => format!("B ≤ {}", bound()),
                BatchFit::DoesNotFit(_) if a.is_positive() => format!("B ≤ {}: no B ≥ 1", bound()),
                BatchFit::DoesNotFit(_) => "no B fits".to_string(),
                BatchFit::Unbounded => "memory does not grow with B".to_string(),
            }),
            Cell::Text(answer),
        ]));
        let name = if i == 0 { "batch.max".to_string() } else { "batch.max.binary".to_string() };
        // The bound before taking the floor: (budget − b)/a with a, b the closed-form coefficients.
        if !a.is_positive() {
            continue;
        }
        let bound_expr = Expr::Floor(Box::new((Expr::num(budget.clone()) - b_expr.clone()) * a_expr.clone().pow(-1)));
        quantities.push(Quantity {
            name,
            title: format!("largest whole batch, ⌊(budget − b)/a⌋ for {label}"),
            unit: Unit::of(crate::dim::Base::Sequence),
            raw: bound_expr.clone(),
            closed: bound_expr,
            value,
            verdict,
        });
    }
    blocks.push(Block::Paragraph(vec![
        text("Solve "),
        Inline::Math(Expr::num(a.clone()) * Expr::sym("B") + Expr::num(b.clone())),
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
    options: &DeriveOptions,
    ctx: &Context,
    forward: &Expr,
    blocks: &mut Vec<Block>,
    quantities: &mut Vec<Quantity>,
) -> Result<()> {
    let training = &options.training;
    let model_step = Expr::int(3) * forward.clone();
    blocks.push(Block::Heading("Training time".into()));
    blocks.push(Block::Paragraph(vec![text(format!(
        "S steps of C_step FLOPs on one {} at {} with peak R and utilisation U:",
        training.hardware.summary,
        training.precision.name()
    ))]));
    let step_flops =
        quantities.iter().find(|q| q.name == "flops.step").map(|q| q.raw.clone()).unwrap_or(model_step.clone());
    let time_raw = Expr::sym("S") * step_flops * (Expr::sym("U") * Expr::sym("R")).pow(-1);
    let time = ctx.quantity("time.training", "training time", Unit::of(crate::dim::Base::Second), time_raw)?;
    let symbolic = Expr::sym("S") * Expr::sym("C_step") * (Expr::sym("U") * Expr::sym("R")).pow(-1);
    blocks.push(Block::Equations(vec![eq(lhs("t", "t"), with_value(vec![Side::Expr(symbolic)], &time), "")]));
    quantities.push(time);

    if let Some(rate) = &training.tokens_per_second {
        let per_token = model_step * (Expr::sym("B") * Expr::sym("T")).pow(-1);
        let raw = Expr::num(rate.clone()) * per_token * Expr::sym("R").pow(-1);
        let mfu = ctx.quantity("mfu", "model FLOPs utilisation from the measured throughput", Unit::none(), raw)?;
        blocks.push(Block::Paragraph(vec![text(format!(
            "MFU from a measured {} tokens/s: model FLOPs per token (forward + backward, 3·C_fwd/(BT)) × tokens/s ÷ peak.",
            dim::decimal(rate, 0)
        ))]));
        if let Some(v) = &mfu.value {
            let percent = dim::decimal(&(v * Rational::from_integer(100.into())), 1);
            let verdict = if v > &Rational::from_integer(1.into()) {
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

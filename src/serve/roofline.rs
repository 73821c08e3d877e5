//! Prefill and decode on a per-op roofline. Each op takes max(FLOPs/R, bytes/β): its FLOPs from
//! the op rules (`forward_flops` for a prefill of T tokens, `decode_flops` per sequence for a
//! decode step), its bytes the weights it reads once per step plus, for a stage's attention, the
//! KV cache it reads. Activations in and out are not counted (B·H-sized against H²-sized weights
//! in decode). The attention core of a stage (QKᵀ, softmax, AV) is one fused kernel reading the
//! cache once. Then where decode turns compute-bound: the concurrency at which the weight matmuls
//! reach the ridge R/β, the attention's intensity (which B does not change), and the whole step.

use super::Setup;
use super::fit::Memory;
use crate::algebra::{Expr, Rational};
use crate::derivation::{Block, Cell, Equation, Row, Side, Table, text};
use crate::dim::{self, Base, Unit};
use crate::error::Result;
use crate::model::Stage;
use crate::ops::{Op, OpKind};
use crate::quantity::{Catalog, Quantity};
use crate::symbol::Role;
use num_traits::Zero;

/// One row of a roofline: an op, or a stage's fused attention, per pass through its stage.
pub(super) struct Cost {
    stage: usize,
    label: String,
    /// The fused attention (reads the cache).
    attention: bool,
    /// Weight elements it reads.
    weights: Expr,
    /// FLOPs of a prefill of one sequence of T tokens.
    prefill: Expr,
    /// FLOPs of one decode step of B sequences.
    decode: Expr,
    /// KV-cache bytes it reads for B sequences of T tokens.
    kv: Expr,
}

fn b() -> Expr {
    Role::Batch.expr()
}

/// `e` for one sequence.
fn one_sequence(e: &Expr) -> Expr {
    e.substitute(&|s| (s == Role::Batch.symbol()).then(Expr::one))
}

/// Ops that attend over the cached positions: the attention kinds, and any op whose decode cost
/// grows with the context (T, or a window's span of it).
fn attends(setup: &Setup, op: &Op) -> bool {
    let t = Role::Context.symbol();
    matches!(op.kind, OpKind::AttentionScores { .. } | OpKind::Softmax { .. } | OpKind::AttentionValues { .. })
        || op
            .decode_flops(setup.weights.flops, &setup.model().costs)
            .symbols()
            .iter()
            .any(|s| s == t || s.strip_prefix(t).is_some_and(|rest| rest.starts_with('_')))
}

/// Weight elements an op reads per step: its own (a routed expert's k of E, as the catalog's
/// `params.active` counts them), the shared matrix for a tied head, nothing for an embedding
/// table (a gather of B rows).
fn read(setup: &Setup, stage: &Stage, op: &Op) -> Expr {
    match &op.kind {
        OpKind::Embedding { .. } => Expr::zero(),
        OpKind::Linear { input, output, bias, tied: true } => {
            input.clone() * output.clone() + if *bias { output.clone() } else { Expr::zero() }
        }
        _ => Catalog::new(&setup.alone(stage, vec![op.clone()]), &setup.weights)
            .raw("params.active")
            .unwrap_or_else(|| op.params()),
    }
}

/// The roofline's rows, stage by stage in op order.
pub(super) fn costs(setup: &Setup) -> Vec<Cost> {
    let (conv, costs) = (setup.weights.flops, &setup.model().costs);
    let mut out = Vec::new();
    for (i, stage) in setup.model().stages.iter().enumerate() {
        // Inference runs no dropout and computes no loss.
        let ops: Vec<(&Op, bool)> = stage
            .ops
            .iter()
            .filter(|op| !matches!(op.kind, OpKind::Dropout { .. } | OpKind::CrossEntropy { .. }))
            .map(|op| (op, attends(setup, op)))
            .collect();
        let core: Vec<&Op> = ops.iter().filter(|(_, a)| *a).map(|(op, _)| *op).collect();
        let mut fused = false;
        for (op, attention) in &ops {
            if !attention {
                out.push(Cost {
                    stage: i,
                    label: op.name.clone(),
                    attention: false,
                    weights: read(setup, stage, op),
                    prefill: one_sequence(&op.forward_flops(conv, costs)),
                    decode: b() * op.decode_flops(conv, costs),
                    kv: Expr::zero(),
                });
                continue;
            }
            if std::mem::replace(&mut fused, true) {
                continue;
            }
            // The fused attention sits where its first op does and reads the stage's cache.
            let kv = Catalog::new(&setup.alone(stage, stage.ops.clone()), &setup.kv).raw("memory.kv_cache");
            let names: Vec<&str> = core.iter().map(|op| op.name.as_str()).collect();
            out.push(Cost {
                stage: i,
                label: format!("attention ({})", names.join(", ")),
                attention: true,
                weights: Expr::zero(),
                prefill: one_sequence(&Expr::sum(core.iter().map(|op| op.forward_flops(conv, costs)).collect())),
                decode: b() * Expr::sum(core.iter().map(|op| op.decode_flops(conv, costs)).collect()),
                kv: kv.unwrap_or_else(Expr::zero),
            });
        }
    }
    out
}

/// Weight elements one decode step reads, over every stage.
pub(super) fn weights_read(setup: &Setup, rows: &[Cost]) -> Expr {
    let stages = &setup.model().stages;
    Expr::sum(rows.iter().map(|c| stages[c.stage].repeat.clone() * c.weights.clone()).collect())
}

/// A phase: its FLOPs and bytes per row, as formulas.
struct Phase {
    name: &'static str,
    flops: Vec<Expr>,
    bytes: Vec<Expr>,
}

/// Appends the prefill and decode sections and the crossover.
pub(super) fn append(
    setup: &Setup,
    rows: &[Cost],
    memory: &Memory,
    blocks: &mut Vec<Block>,
    quantities: &mut Vec<Quantity>,
) -> Result<()> {
    let b_w = Expr::int(setup.weights.precision.bytes);
    let weights: Vec<Expr> = rows.iter().map(|c| b_w.clone() * c.weights.clone()).collect();
    let with_kv = |one: bool| -> Vec<Expr> {
        rows.iter()
            .zip(&weights)
            .map(|(c, w)| w.clone() + if one { one_sequence(&c.kv) } else { c.kv.clone() })
            .collect()
    };
    let prefill =
        Phase { name: "prefill", flops: rows.iter().map(|c| c.prefill.clone()).collect(), bytes: with_kv(true) };
    let decode =
        Phase { name: "decode", flops: rows.iter().map(|c| c.decode.clone()).collect(), bytes: with_kv(false) };
    blocks.push(Block::Heading("Prefill and decode on the roofline".into()));
    blocks.push(Block::Paragraph(vec![text(format!(
        "Each op takes the longer of its FLOPs at the peak R and its bytes at the memory bandwidth β: the weights it reads once per step (shared by the B sequences) and, for a stage's attention — QKᵀ, softmax and AV fused into one kernel — the KV cache it reads. Activations in and out are not counted; inference runs no dropout and computes no loss. Memory-bound below the ridge R/β = {} FLOPs per byte, compute-bound above it. Prefill is one sequence of T tokens (the time to the first token); decode is one token for each of B sequences with T positions cached. A time's closed form keeps each op on the side of the ridge it is on at these sizes.",
        dim::decimal(&(setup.peak.clone() / setup.bandwidth.clone()), 1)
    ))]));
    let context = Role::Context.expr();
    for (phase, tokens, note) in [
        (&prefill, context.clone(), "one sequence of T tokens"),
        (&decode, b(), "B sequences, one token each, T positions cached"),
    ] {
        time(setup, rows, phase, tokens, note, blocks, quantities)?;
    }
    crossover(setup, rows, memory, blocks, quantities)
}

/// One phase: the per-op table, its totals, its time and its throughput.
fn time(
    setup: &Setup,
    rows: &[Cost],
    phase: &Phase,
    tokens: Expr,
    note: &str,
    blocks: &mut Vec<Block>,
    quantities: &mut Vec<Quantity>,
) -> Result<()> {
    let ctx = &setup.ctx;
    let stages = &setup.model().stages;
    let (r, beta) = (Role::Peak.expr(), Expr::sym(super::BANDWIDTH));
    let seconds = Unit::of(Base::Second);
    let mut table = Vec::new();
    let mut chosen = Vec::new();
    let mut totals = (Rational::zero(), Rational::zero(), Rational::zero());
    for (i, stage) in stages.iter().enumerate() {
        let mut pass = (Rational::zero(), Rational::zero(), Rational::zero());
        let mut first = true;
        for (k, cost) in rows.iter().enumerate().filter(|(_, c)| c.stage == i) {
            let (f, q) = (ctx.value(&phase.flops[k])?, ctx.value(&phase.bytes[k])?);
            if f.is_zero() && q.is_zero() {
                continue;
            }
            let (compute, transfer) = (f.clone() / setup.peak.clone(), q.clone() / setup.bandwidth.clone());
            let bound = compute >= transfer;
            let t = if bound { compute } else { transfer };
            chosen.push(
                stage.repeat.clone()
                    * if bound {
                        phase.flops[k].clone() * r.clone().pow(-1)
                    } else {
                        phase.bytes[k].clone() * beta.clone().pow(-1)
                    },
            );
            table.push(Row::plain(vec![
                if first { Cell::Text(stage.name.clone()) } else { Cell::Empty },
                Cell::Text(cost.label.clone()),
                Cell::Math(ctx.simplify(&phase.flops[k])?),
                Cell::Math(ctx.simplify(&phase.bytes[k])?),
                Cell::Number(f.clone()),
                Cell::Number(q.clone()),
                Cell::Text(if bound { "compute" } else { "memory" }.into()),
                Cell::Text(dim::display(&t, &seconds)),
            ]));
            first = false;
            pass = (pass.0 + f, pass.1 + q, pass.2 + t);
        }
        if first {
            continue;
        }
        let repeat = ctx.value(&stage.repeat)?;
        let subtotal = |label: String, k: &Rational| {
            Row::total(vec![
                Cell::Text(label),
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Number(pass.0.clone() * k.clone()),
                Cell::Number(pass.1.clone() * k.clone()),
                Cell::Empty,
                Cell::Text(dim::display(&(pass.2.clone() * k.clone()), &seconds)),
            ])
        };
        if stage.repeat != Expr::one() {
            table.push(subtotal(format!("{} (one of them)", stage.name), &Rational::from_integer(1.into())));
            let times = crate::algebra::print(&stage.repeat, crate::algebra::Notation::Unicode);
            table.push(subtotal(format!("{} × {times}", stage.name), &repeat));
        }
        totals = (totals.0 + pass.0 * repeat.clone(), totals.1 + pass.1 * repeat.clone(), totals.2 + pass.2 * repeat);
    }
    table.push(Row::total(vec![
        Cell::Text("total".into()),
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Number(totals.0.clone()),
        Cell::Number(totals.1.clone()),
        Cell::Empty,
        Cell::Text(dim::display(&totals.2, &seconds)),
    ]));
    let over = |per: &[Expr]| {
        Expr::sum(rows.iter().zip(per).map(|(c, e)| stages[c.stage].repeat.clone() * e.clone()).collect())
    };
    let name = phase.name;
    let flops = setup.quantity(
        &format!("serve.{name}.flops"),
        &format!("{name} FLOPs, {note}"),
        Unit::flop(),
        over(&phase.flops),
    )?;
    let bytes = setup.quantity(
        &format!("serve.{name}.bytes"),
        &format!("{name} bytes moved, {note}"),
        Unit::byte(),
        over(&phase.bytes),
    )?;
    let t = setup.quantity(
        &format!("serve.{name}.time"),
        &format!("{name} time on the per-op roofline"),
        seconds,
        Expr::sum(chosen),
    )?;
    let t_symbol = format!("t_{name}");
    // A model file whose ops read and compute nothing takes no time: there is no rate to give.
    let rate = if totals.2.is_zero() {
        None
    } else {
        Some(setup.shown(
            &format!("serve.{name}.tokens_per_second"),
            &format!("{name} tokens per second"),
            Unit::of(Base::Token).per(&Unit::of(Base::Second)),
            tokens.clone() * Expr::sym(&t_symbol).pow(-1),
            ctx.value(&tokens)? / totals.2.clone(),
        ))
    };
    blocks.push(Block::Heading(format!("{}{} ({note})", name[..1].to_uppercase(), &name[1..])));
    blocks.push(Block::Table(Table {
        columns: vec![
            ("stage".into(), false),
            ("op".into(), false),
            ("FLOPs (formula)".into(), false),
            ("bytes (formula)".into(), false),
            ("FLOPs".into(), true),
            ("bytes".into(), true),
            ("bound".into(), false),
            ("time".into(), true),
        ],
        rows: table,
    }));
    let (c_symbol, q_symbol) = (format!("C_{name}"), format!("Q_{name}"));
    let mut eqs = vec![
        Equation::chain(&c_symbol, vec![], &flops, note),
        Equation::chain(&q_symbol, vec![], &bytes, "weights read + KV cache read"),
        Equation::chain(&t_symbol, vec![], &t, "Σ over ops of max(FLOPs/R, bytes/β)"),
    ];
    eqs.extend(rate.iter().map(|r| Equation::chain(&format!("r_{name}"), vec![], r, "tokens per second")));
    blocks.push(Block::Equations(eqs));
    quantities.extend([flops, bytes, t]);
    quantities.extend(rate);
    Ok(())
}

/// Where decode turns compute-bound.
fn crossover(
    setup: &Setup,
    rows: &[Cost],
    memory: &Memory,
    blocks: &mut Vec<Block>,
    quantities: &mut Vec<Quantity>,
) -> Result<()> {
    let ctx = &setup.ctx;
    let stages = &setup.model().stages;
    let (r, beta) = (Role::Peak.expr(), Expr::sym(super::BANDWIDTH));
    let per_sequence = |attention: bool, e: fn(&Cost) -> &Expr| {
        Expr::sum(
            rows.iter()
                .filter(|c| c.attention == attention)
                .map(|c| stages[c.stage].repeat.clone() * one_sequence(e(c)))
                .collect(),
        )
    };
    let (c_w, c_attn) = (per_sequence(false, |c| &c.decode), per_sequence(true, |c| &c.decode));
    let q_kv = one_sequence(&memory.kv);
    let ratio = Unit::flop().per(&Unit::byte());
    let ridge = setup.quantity(
        "serve.ridge",
        "the hardware's ridge point, R/β",
        ratio.clone(),
        r.clone() * beta.clone().pow(-1),
    )?;
    let mut eqs =
        vec![Equation::chain("I_ridge", vec![], &ridge, "FLOPs per byte where compute and memory take equally long")];
    quantities.push(ridge.clone());
    let ridge = ridge.value.unwrap_or_else(Rational::zero);
    let q_w = &memory.weights_read;
    let (cw, qw) = (ctx.value(&c_w)?, ctx.value(q_w)?);
    let mut words = Vec::new();
    if !cw.is_zero() {
        let closed =
            Expr::Ceil(Box::new(r.clone() * ctx.simplify(q_w)? * (beta.clone() * ctx.simplify(&c_w)?).pow(-1)));
        let value = (qw.clone() * setup.peak.clone() / (setup.bandwidth.clone() * cw.clone())).ceil();
        let q = Quantity {
            name: "serve.decode.crossover.weights".into(),
            title: "smallest concurrency at which the weight matmuls are compute-bound".into(),
            unit: Unit::of(Base::Sequence),
            raw: closed.clone(),
            closed: closed.clone(),
            value: Some(value.clone()),
            verdict: None,
        };
        let view = Expr::Ceil(Box::new(Expr::sym("Q_w") * r.clone() * (beta.clone() * Expr::sym("c_w")).pow(-1)));
        eqs.push(Equation::of(
            "B_ridge",
            vec![Side::Expr(view), Side::Expr(closed), Side::Value(value.clone(), q.unit.clone())],
            "c_w: decode FLOPs of the ops with weights, per sequence",
        ));
        words.push(format!("the weight matmuls turn compute-bound at B = {}", dim::exact(&value)));
        quantities.push(q);
    }
    let q_kv_value = ctx.value(&q_kv)?;
    if !q_kv_value.is_zero() {
        let raw = c_attn.clone() * q_kv.clone().pow(-1);
        // A quotient of monomials simplifies; of sums (layers of two kinds) it is shown as one.
        let closed = match ctx.engine.monomials(&raw)? {
            Some(_) => ctx.simplify(&raw)?,
            None => ctx.simplify(&c_attn)? * ctx.simplify(&q_kv)?.pow(-1),
        };
        let value = ctx.value(&c_attn)? / q_kv_value.clone();
        let q = Quantity {
            name: "serve.decode.attention_intensity".into(),
            title: "the attention's FLOPs per byte of KV cache read (the same at every B)".into(),
            unit: ratio.clone(),
            raw,
            closed,
            value: Some(value.clone()),
            verdict: None,
        };
        eqs.push(Equation::chain("I_attn", vec![], &q, "per sequence: its FLOPs over its KV bytes"));
        words.push(format!(
            "the attention, at {} whatever B, is {} at every B",
            dim::display(&value, &ratio),
            if value < ridge { "memory-bound" } else { "compute-bound" }
        ));
        quantities.push(q);
    }
    // The step as a whole: B·c/R against (Q_w + B·q_kv)/β.
    let c = c_w.clone() + c_attn.clone();
    let denominator = setup.bandwidth.clone() * ctx.value(&c)? - setup.peak.clone() * q_kv_value.clone();
    let closed = Expr::Ceil(Box::new(
        r.clone() * ctx.simplify(q_w)? * (beta.clone() * ctx.simplify(&c)? - r.clone() * ctx.simplify(&q_kv)?).pow(-1),
    ));
    let view = Expr::Ceil(Box::new(
        Expr::sym("Q_w") * r.clone() * (beta.clone() * Expr::sym("c") - r.clone() * Expr::sym("q_kv")).pow(-1),
    ));
    let t = dim::exact(&ctx.values[Role::Context.symbol()]);
    let (value, verdict) = if denominator > Rational::zero() {
        (Some((qw * setup.peak.clone() / denominator).ceil()), None)
    } else {
        (None, Some(format!("never at T = {t}: a sequence's KV reads outlast its FLOPs (q_kv/β ≥ c/R)")))
    };
    let mut rhs = vec![Side::Expr(view), Side::Expr(closed.clone())];
    let note = "c, q_kv: decode FLOPs and KV bytes per sequence";
    match (&value, &verdict) {
        (Some(v), _) => {
            rhs.push(Side::Value(v.clone(), Unit::of(Base::Sequence)));
            eqs.push(Equation::of("B_step", rhs, note));
            words.push(format!("the whole step at B = {}", dim::exact(v)));
        }
        (None, Some(_)) => {
            eqs.push(Equation::of("B_step", rhs, &format!("{note}; never at T = {t}: q_kv/β ≥ c/R")));
            words.push(format!("the whole step never does at T = {t}"));
        }
        _ => {}
    }
    quantities.push(Quantity {
        name: "serve.decode.crossover.step".into(),
        title: "smallest concurrency at which a decode step is compute-bound as a whole".into(),
        unit: Unit::of(Base::Sequence),
        raw: closed.clone(),
        closed,
        value,
        verdict,
    });
    blocks.push(Block::Heading("When decode turns compute-bound".into()));
    blocks.push(Block::Paragraph(vec![text(format!(
        "A decode step's FLOPs grow with B, the weights it reads do not: the weight matmuls turn compute-bound when B·c_w/R reaches Q_w/β, the whole step when B·c/R reaches (Q_w + B·q_kv)/β. Here {}.",
        words.join("; ")
    ))]));
    blocks.push(Block::Equations(eqs));
    Ok(())
}

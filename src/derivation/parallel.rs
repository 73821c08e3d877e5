//! The per-GPU section of a derivation under parallel training: the layout, where the model sits,
//! whose ZeRO formulas, then memory by term, FLOPs, the pipeline bubble, communication per
//! collective and the step time — each a catalog quantity with its closed form in the degrees.

use super::{Block, Equation, text};
use crate::dim;
use crate::error::Result;
use crate::quantity::{Catalog, Context, Quantity};
use crate::symbol::Role;

/// Equations for the per-GPU quantities that exist, with what they stand for.
const SHOWN: [(&str, &str, &str); 14] = [
    ("gpu.params", "P_gpu", "first stage: the embedding and L/p blocks, split by t"),
    ("gpu.memory.weights", "M_w", "weights"),
    ("gpu.memory.gradients", "M_g", "gradients"),
    ("gpu.memory.optimizer", "M_o", "optimizer state and master copy"),
    ("gpu.memory.model_states", "M_states", "model states"),
    ("gpu.memory.activations", "M_act", "micro-batches in flight"),
    ("gpu.memory.total", "M_gpu", "all terms"),
    ("gpu.flops.step", "C_gpu", "m micro-batches of b sequences over t·p·c GPUs"),
    ("gpu.bubble", "beta", "idle fraction of the pipeline"),
    ("gpu.comm.dp", "X_dp", "data parallel: all-reduce of the gradients"),
    ("gpu.comm.tp", "X_tp", "tensor parallel: 4 all-reduces per layer and micro-batch"),
    ("gpu.comm.pp", "X_pp", "pipeline: activations out, gradients back, per micro-batch"),
    ("gpu.comm.cp", "X_cp", "context parallel: K and V gathered per layer"),
    ("gpu.time.step", "t_step", "compute at U·R with the bubble + exposed communication"),
];

/// Appends the per-GPU section when the conventions ask for parallel training.
pub fn parallel_section(
    catalog: &Catalog,
    ctx: &Context,
    blocks: &mut Vec<super::Block>,
    quantities: &mut Vec<Quantity>,
) -> Result<()> {
    let Some(parallel) = catalog.conventions.parallel.as_ref() else { return Ok(()) };
    let value = |r: Role| {
        parallel.degrees.get(r.symbol()).cloned().unwrap_or_else(|| crate::algebra::Rational::from_integer(1.into()))
    };
    let degree = |r: Role| dim::exact(&value(r));
    blocks.push(Block::Heading(format!(
        "Per GPU: dp={} × tp={} × pp={} × cp={} ({} GPUs)",
        degree(Role::DataParallel),
        degree(Role::TensorParallel),
        degree(Role::PipelineParallel),
        degree(Role::ContextParallel),
        dim::exact(&parallel.gpus())
    )));
    let zero = match parallel.zero {
        crate::options::Zero::Fsdp => "FSDP (ZeRO-3 with the next block prefetched)".to_string(),
        z => format!("ZeRO stage {}", crate::quantity::parallel::zero_stage(z)),
    };
    blocks.push(Block::Paragraph(vec![text(format!(
        "The most-loaded GPU is the first pipeline stage: the token embedding and L/p blocks (the LM head sits on the last stage{}). Tensor parallelism splits every linear and embedding weight by t (norm gains are replicated) and, Megatron style, the activations between a column- and a row-parallel linear{}; context parallelism splits the sequence by c. Each data-parallel rank runs m micro-batches of b sequences (global batch d·m·b = {} sequences); with {} the first stage holds {} micro-batches' activations. Model states: {}, {} convention — {}.",
        if value(Role::PipelineParallel) == crate::algebra::Rational::from_integer(1.into()) {
            "; with one stage, everything is here"
        } else {
            ""
        },
        if parallel.sequence_parallel { ", and with sequence parallelism the rest of them too" } else { "" },
        dim::exact(&(value(Role::DataParallel) * value(Role::MicroBatches) * value(Role::MicroBatchSize))),
        match parallel.schedule {
            crate::options::Schedule::OneFOneB => "1F1B",
            crate::options::Schedule::Interleaved => "the interleaved schedule",
        },
        match parallel.schedule {
            crate::options::Schedule::OneFOneB => "p".to_string(),
            crate::options::Schedule::Interleaved => "p·(1 + (p − 1)/(p·v))".to_string(),
        },
        zero,
        parallel.convention.name,
        parallel.convention.summary,
    ))]));
    // The step's quantities read best in terms of the others; their expanded forms are long.
    let by_name = |text: &str| crate::algebra::parse(text, &crate::algebra::any_symbol).ok();
    let links = catalog.conventions.hardware.links.as_ref();
    let mut equations = Vec::new();
    for (name, symbol, note) in SHOWN {
        let Some(q) = catalog.quantity(ctx, name)? else { continue };
        // A collective that moves nothing at these degrees (cp = 1) is left out.
        if name.starts_with("gpu.comm.")
            && q.value.as_ref().is_some_and(|v| *v == crate::algebra::Rational::from_integer(0.into()))
        {
            continue;
        }
        let form = match name {
            "gpu.flops.step" => by_name("C_step/(t*p*c)"),
            "gpu.comm.dp" => {
                let g = catalog.conventions.layout.gradients.bytes(&catalog.conventions.precision);
                let factor = if crate::quantity::parallel::zero_stage(parallel.zero) == 3 { 3 } else { 2 };
                by_name(&format!("{factor}*{g}*(d - 1)*P_gpu/d"))
            }
            "gpu.time.step" => {
                let mut terms = vec!["C_gpu*(1 + beta)/(U*R)".to_string()];
                for (x, present) in [("X_tp", "gpu.comm.tp"), ("X_pp", "gpu.comm.pp"), ("X_cp", "gpu.comm.cp")] {
                    if quantities.iter().any(|q| q.name == present) {
                        terms.push(format!("{x}/W_{}", &x[2..]));
                    }
                }
                if parallel.overlap == crate::options::Overlap::None
                    && quantities.iter().any(|q| q.name == "gpu.comm.dp")
                {
                    terms.push("X_dp/W_dp".into());
                }
                by_name(&terms.join(" + "))
            }
            _ => None,
        };
        let note = match (name, links) {
            ("gpu.flops.step", _) => "C_step for a batch B = m·b".to_string(),
            ("gpu.time.step", Some(l)) => format!(
                "W = {} within a node, {} across nodes ({} GPUs per node); {}",
                rate(&l.node),
                rate(&l.network),
                l.gpus_per_node,
                match parallel.overlap {
                    crate::options::Overlap::DataParallel => "the gradient reduction overlaps the backward pass",
                    crate::options::Overlap::None => "nothing overlaps",
                }
            ),
            _ => note.to_string(),
        };
        let equation = match form {
            Some(form) => {
                let mut rhs = vec![super::Side::Expr(form)];
                if let Some(v) = &q.value {
                    rhs.push(super::Side::Value(v.clone(), q.unit.clone()));
                }
                Equation::of(symbol, rhs, &note)
            }
            None => Equation::chain(symbol, vec![], &q, &note),
        };
        equations.push(equation);
        quantities.push(q);
    }
    blocks.push(Block::Equations(equations));
    if let Some(total) = quantities.iter().find(|q| q.name == "gpu.memory.total").and_then(|q| q.value.clone()) {
        let verdicts: Vec<String> = catalog
            .conventions
            .budgets()
            .iter()
            .map(|(label, budget)| {
                if total <= *budget {
                    format!("fits {label} with {} to spare", dim::bytes(&(budget - &total)))
                } else {
                    format!("does not fit {label}: {} over", dim::bytes(&(&total - budget)))
                }
            })
            .collect();
        blocks.push(Block::Paragraph(vec![text(format!("Per GPU the step {}.", verdicts.join("; it ")))]));
    }
    bounds(catalog, ctx, blocks, quantities)
}

/// The inverse questions: the largest micro-batch and the smallest data-parallel degree that fit
/// each budget, solved from M_gpu = rest + a·b and M_gpu = α + β/d.
fn bounds(catalog: &Catalog, ctx: &Context, blocks: &mut Vec<Block>, quantities: &mut Vec<Quantity>) -> Result<()> {
    let Some(total) = catalog.raw("gpu.memory.total") else { return Ok(()) };
    let by_name = |text: &str| crate::algebra::parse(text, &crate::algebra::any_symbol).ok();
    let mut equations = Vec::new();
    let lines = [
        (Role::MicroBatchSize, 1, "a_b", "bytes per sequence of a micro-batch: M_gpu = rest + a_b·b"),
        (Role::DataParallel, -1, "beta_d", "the bytes ZeRO shards over the d ranks: M_gpu = α + β/d"),
    ];
    for (role, power, name, note) in lines {
        let Some(line) = crate::quantity::BatchLine::in_power(ctx, &total, role.symbol(), power)? else { continue };
        let unit = crate::dim::Unit::byte();
        equations.push(Equation::of(
            name,
            vec![super::Side::Expr(line.a_expr.clone()), super::Side::Value(line.a.clone(), unit.clone())],
            note,
        ));
        if role == Role::DataParallel {
            equations.push(Equation::of(
                "alpha_d",
                vec![super::Side::Value(line.b.clone(), unit)],
                "what does not shrink with d (activations, replicated states)",
            ));
        }
    }
    type Round = fn(Box<crate::algebra::Expr>) -> crate::algebra::Expr;
    let forms: [(&str, &str, &str, Round); 2] = [
        ("gpu.micro_batch.max", "b_max", "(M - M_gpu + a_b*b)/a_b", crate::algebra::Expr::Floor),
        ("gpu.dp.min", "d_min", "beta_d/(M - alpha_d)", crate::algebra::Expr::Ceil),
    ];
    for (index, (label, _)) in catalog.conventions.budgets().iter().enumerate() {
        for (base, symbol, form, round) in forms {
            let name = if index == 0 { base.to_string() } else { format!("{base}.binary") };
            let Some(q) = catalog.quantity(ctx, &name)? else { continue };
            let note = format!("M = {label}");
            let mut rhs: Vec<super::Side> =
                by_name(form).into_iter().map(|e| super::Side::Expr(round(Box::new(e)))).collect();
            match (&q.value, &q.verdict) {
                (Some(v), _) => rhs.push(super::Side::Value(v.clone(), q.unit.clone())),
                (None, Some(verdict)) => {
                    equations.push(Equation::of(symbol, rhs, &format!("{note}: {verdict}")));
                    quantities.push(q);
                    continue;
                }
                (None, None) => {}
            }
            equations.push(Equation::of(symbol, rhs, &note));
            quantities.push(q);
        }
    }
    if !equations.is_empty() {
        blocks.push(Block::Paragraph(vec![text(
            "The inverse questions — the largest micro-batch and the smallest data-parallel degree that fit — have closed-form boundaries: per-GPU memory grows linearly in b and shrinks as α + β/d in d (the other degrees held).".to_string(),
        )]));
        blocks.push(Block::Equations(equations));
    }
    Ok(())
}

/// A bandwidth as people quote it: `450 GB/s`.
fn rate(bytes_per_second: &crate::algebra::Rational) -> String {
    let giga = crate::algebra::Rational::from_integer(1_000_000_000u64.into());
    format!("{} GB/s", dim::decimal(&(bytes_per_second / giga), 0))
}

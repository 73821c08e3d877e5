//! What serving keeps in memory and what fits: the weights (all resident; what one decode step
//! reads), the KV cache per token and for B sequences of T tokens, and for each memory reading the
//! largest concurrency at the given context and the largest context at the given concurrency,
//! from memory = weights + B·T·m_kv ≤ budget.

use super::Setup;
use crate::algebra::{Expr, Rational, any_symbol, parse};
use crate::derivation::{Block, Equation, Side, text};
use crate::dim::{self, Base, Unit};
use crate::error::Result;
use crate::quantity::{Catalog, Quantity};
use crate::symbol::Role;
use num_traits::{One, Zero};

/// The largest context a search tries: beyond it the cache has stopped growing with T.
const CONTEXT_CAP: u64 = 1 << 40;

/// The memory figures the roofline reuses.
pub(super) struct Memory {
    /// Weight bytes one decode step reads (every matrix once, shared by the B sequences).
    pub weights_read: Expr,
    /// KV-cache bytes for B sequences of T tokens (zero for a model that caches nothing).
    pub kv: Expr,
}

/// Appends the memory sections (`weights_read`: the weight elements a decode step reads); returns
/// what the roofline needs.
pub(super) fn append(
    setup: &Setup,
    weights_read: Expr,
    blocks: &mut Vec<Block>,
    quantities: &mut Vec<Quantity>,
) -> Result<Memory> {
    let ctx = &setup.ctx;
    let catalog = Catalog::new(setup.model(), &setup.weights);
    let (w, kv_precision) = (&setup.weights.precision, &setup.kv.precision);
    let b_w = Expr::int(w.bytes);
    let params = catalog.get(ctx, "params")?;
    let resident = setup.quantity(
        "serve.memory.weights",
        &format!("every weight resident in {}", w.name),
        Unit::byte(),
        b_w.clone() * params.raw.clone(),
    )?;
    let active = catalog.quantity(ctx, "params.active")?;
    let read_raw = b_w * weights_read;
    let read =
        setup.quantity("serve.memory.weights_read", "weight bytes one decode step reads", Unit::byte(), read_raw)?;

    blocks.push(Block::Heading("Weights".into()));
    blocks.push(Block::Paragraph(vec![text(format!(
        "Every parameter stays in memory, {} each ({}). A decode step reads each weight matrix once for all B sequences; an embedding table is a gather (B rows, counted with the activations: not at all), a tied head reads the shared matrix{}.",
        super::bytes(w.bytes),
        w.name,
        if active.is_some() {
            ", and an expert layer the k experts one token runs (P_active: B tokens routed apart touch up to min(B·k, E) experts, so at larger B a step reads more)"
        } else {
            ""
        }
    ))]));
    let mut eqs = vec![
        Equation::chain("P", vec![], &params, ""),
        Equation::chain("M_weights", vec![Expr::int(w.bytes) * Expr::sym("P")], &resident, "all resident"),
    ];
    if let Some(a) = &active {
        eqs.push(Equation::chain("P_active", vec![], a, "parameters one token touches"));
    }
    eqs.push(Equation::chain("Q_w", vec![], &read, "weights read per decode step"));
    blocks.push(Block::Equations(eqs));
    quantities.extend([params, resident.clone()]);
    quantities.extend(active);
    quantities.push(read.clone());

    let kv_raw = Catalog::new(setup.model(), &setup.kv).raw("memory.kv_cache").unwrap_or_else(Expr::zero);
    let memory = Memory { weights_read: read.raw.clone(), kv: kv_raw.clone() };
    if kv_raw.is_zero() || ctx.value(&kv_raw)?.is_zero() {
        blocks.push(Block::Paragraph(vec![text(format!(
            "{} caches nothing per token at these sizes: memory does not grow with B or T.",
            setup.model().name
        ))]));
        return Ok(memory);
    }
    let per_token = (Role::Batch.expr() * Role::Context.expr()).pow(-1);
    let m_kv = setup.quantity(
        "serve.kv_cache.per_token",
        &format!("KV-cache bytes per token in {}", kv_precision.name),
        Unit::byte().per(&Unit::of(Base::Token)),
        kv_raw.clone() * per_token,
    )?;
    let kv = setup.quantity(
        "serve.kv_cache",
        &format!("KV cache for B sequences of T tokens in {}", kv_precision.name),
        Unit::byte(),
        kv_raw.clone(),
    )?;
    let total = setup.quantity(
        "serve.memory.total",
        "weights and KV cache",
        Unit::byte(),
        resident.raw.clone() + kv_raw.clone(),
    )?;
    blocks.push(Block::Heading("KV cache".into()));
    blocks.push(Block::Paragraph(vec![text(format!(
        "Every op that caches keys or values keeps its output for each of the T positions of each of the B sequences, {} per element ({}).",
        super::bytes(kv_precision.bytes),
        kv_precision.name
    ))]));
    let sym = |s: &str| Expr::sym(s);
    blocks.push(Block::Equations(vec![
        Equation::chain("m_kv", vec![], &m_kv, "bytes per token, every layer"),
        Equation::chain("M_kv", vec![Role::Batch.expr() * Role::Context.expr() * sym("m_kv")], &kv, ""),
        Equation::chain("M_serve", vec![sym("M_weights") + sym("M_kv")], &total, "weights and cache"),
    ]));
    quantities.extend([m_kv.clone(), kv.clone(), total]);
    limits(setup, &resident, &m_kv, &kv, blocks, quantities)?;
    Ok(memory)
}

/// For each memory reading: the largest B at this T and the largest T at this B.
fn limits(
    setup: &Setup,
    resident: &Quantity,
    m_kv: &Quantity,
    kv: &Quantity,
    blocks: &mut Vec<Block>,
    quantities: &mut Vec<Quantity>,
) -> Result<()> {
    let ctx = &setup.ctx;
    let value = |q: &Quantity| q.value.clone().unwrap_or_else(Rational::zero);
    let (weights, per_token, cache) = (value(resident), value(m_kv), value(kv));
    let kv_raw = &kv.raw;
    let (b, t) = (ctx.values[Role::Batch.symbol()].clone(), ctx.values[Role::Context.symbol()].clone());
    let kv_one = kv_raw.substitute(&|s| (s == Role::Batch.symbol()).then(Expr::one));
    let per_sequence = ctx.value(&kv_one)?;
    let form =
        |text: &str| Side::Expr(Expr::Floor(Box::new(parse(text, &any_symbol).unwrap_or_else(|_| Expr::zero()))));
    let mut eqs = Vec::new();
    let mut words = Vec::new();
    for (index, (label, budget)) in setup.weights.budgets().into_iter().enumerate() {
        let suffix = if index == 0 { "" } else { ".binary" };
        let spare = budget.clone() - weights.clone();
        let note = format!("M_budget = {label}");
        // The closed forms keep the budget as a symbol: ⌊(M_budget − 2P)/(T·m_kv)⌋ in model symbols.
        let closed = |a: Expr| -> Result<Expr> {
            Ok(Expr::Floor(Box::new((Expr::sym("M_budget") - resident.closed.clone()) * a.pow(-1))))
        };
        let b_max = (spare.clone() / per_sequence.clone()).floor();
        let (b_value, b_verdict) = verdict(&spare, &b_max, "sequence", &weights, &budget);
        let b_closed = closed(Role::Context.expr() * m_kv.closed.clone())?;
        let bq = Quantity {
            name: format!("serve.concurrency.max{suffix}"),
            title: format!("largest concurrency at T = {} for {label}", dim::exact(&t)),
            unit: Unit::of(Base::Sequence),
            raw: b_closed.clone(),
            closed: b_closed.clone(),
            value: b_value,
            verdict: b_verdict,
        };
        // T: linear in T when the cache is; checked by binding T again, searched when it is not.
        let guess = (spare.clone() / (b.clone() * per_token.clone())).floor();
        let t_found = largest_context(setup, &weights, kv_raw, &budget, &guess)?;
        let proportional = t_found.as_ref().is_some_and(|f| *f == guess);
        let (t_value, mut t_verdict) =
            verdict(&spare, &t_found.clone().unwrap_or(guess.clone()), "token", &weights, &budget);
        if t_found.is_none() && spare > Rational::zero() {
            t_verdict = Some(format!(
                "no limit from memory up to T = {}: the cache stops growing",
                dim::exact(&Rational::from_integer(CONTEXT_CAP.into()))
            ));
        }
        let t_closed = closed(Role::Batch.expr() * m_kv.closed.clone())?;
        let tq = Quantity {
            name: format!("serve.context.max{suffix}"),
            title: format!("largest context at B = {} for {label}", dim::exact(&b)),
            unit: Unit::of(Base::Token),
            raw: t_closed.clone(),
            closed: t_closed.clone(),
            value: t_value.clone(),
            verdict: t_verdict.clone(),
        };
        for (symbol, view, q, at) in [
            ("B_max", "(M_budget - M_weights)/(T*m_kv)", &bq, format!("T = {}", dim::exact(&t))),
            ("T_max", "(M_budget - M_weights)/(B*m_kv)", &tq, format!("B = {}", dim::exact(&b))),
        ] {
            let mut rhs = vec![form(view), Side::Expr(q.closed.clone())];
            let mut note = format!("{note}, {at}");
            match (&q.value, &q.verdict) {
                (Some(v), _) => rhs.push(Side::Value(v.clone(), q.unit.clone())),
                // The weights alone: said once in the paragraph; the note stays short.
                (None, Some(_)) if spare < Rational::zero() => note = format!("{note}: does not fit"),
                (None, Some(v)) => note = format!("{note}: {v}"),
                (None, None) => {}
            }
            if symbol == "T_max" && !proportional && t_value.is_some() {
                note.push_str("; the cache is not proportional to T, so T_max is found by binding T again");
            }
            eqs.push(Equation::of(symbol, rhs, &note));
        }
        let total = weights.clone() + cache.clone();
        words.push(if total <= budget {
            format!("fits {label} with {} to spare", dim::bytes(&(budget.clone() - total)))
        } else {
            let weights_alone = if spare < Rational::zero() {
                format!(", the weights alone {} over", dim::bytes(&(weights.clone() - budget.clone())))
            } else {
                String::new()
            };
            format!("does not fit {label}: {} over{weights_alone}", dim::bytes(&(total - budget.clone())))
        });
        quantities.extend([bq, tq]);
    }
    blocks.push(Block::Heading("What fits in memory".into()));
    blocks.push(Block::Paragraph(vec![text(format!(
        "Serving memory is M_weights + B·T·m_kv, linear in B. At B = {} and T = {} it {}. The largest whole B at this T and the largest whole T at this B, per reading of the memory (T_max is what memory allows, not the context the model was trained for):",
        dim::exact(&b),
        dim::exact(&t),
        words.join("; it ")
    ))]));
    blocks.push(Block::Equations(eqs));
    Ok(())
}

/// The value of a largest count, or why there is none (the weights alone do not fit, or not even
/// one sequence or token does).
fn verdict(
    spare: &Rational,
    largest: &Rational,
    what: &str,
    weights: &Rational,
    budget: &Rational,
) -> (Option<Rational>, Option<String>) {
    if *spare < Rational::zero() {
        let over = weights.clone() - budget.clone();
        return (None, Some(format!("does not fit: the weights alone need {} more", dim::bytes(&over))));
    }
    if *largest < Rational::one() {
        return (None, Some(format!("does not fit: not even one {what}")));
    }
    (Some(largest.clone()), None)
}

/// The largest T whose memory fits `budget` at the bound B, binding T again at each try (a
/// sliding-window layer's cache stops growing at its window). The linear guess is confirmed when
/// it fits and one more token does not; otherwise the answer is searched. `None` when even the
/// cap fits.
fn largest_context(
    setup: &Setup,
    weights: &Rational,
    kv: &Expr,
    budget: &Rational,
    guess: &Rational,
) -> Result<Option<Rational>> {
    if weights > budget {
        return Ok(Some(Rational::zero()));
    }
    let fits = |t: u64| -> Result<bool> {
        let values = setup.values_at(t)?;
        Ok(weights.clone() + crate::algebra::evaluate(kv, &values)? <= *budget)
    };
    let guess: Option<u64> = guess.to_integer().try_into().ok();
    if let Some(g) = guess.filter(|g| *g < CONTEXT_CAP) {
        let confirmed = if g == 0 { !fits(1)? } else { fits(g)? && !fits(g + 1)? };
        if confirmed {
            return Ok(Some(Rational::from_integer(g.into())));
        }
    }
    if !fits(1)? {
        return Ok(Some(Rational::zero()));
    }
    let (mut lo, mut hi) = (1u64, 2u64);
    while fits(hi)? {
        if hi >= CONTEXT_CAP {
            return Ok(None);
        }
        (lo, hi) = (hi, hi * 2);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid)? { lo = mid } else { hi = mid }
    }
    Ok(Some(Rational::from_integer(lo.into())))
}

//! `tally plan`: the parallel layouts of a model on N GPUs that fit, ranked by estimated step time.
//! Every layout is a setting of the per-GPU closed forms (`quantity::parallel`): the forms are built
//! once per family of conventions (ZeRO stage, sequence parallelism, recomputation, one or several
//! pipeline stages) and evaluated at each layout's degrees, in floating point to rank and exactly
//! for the layouts shown.

use crate::algebra::{self, Expr, Rational};
use crate::dim;
use crate::error::{Error, Result};
use crate::facts::Facts;
use crate::preset::Selection;
use crate::quantity::Catalog;
use crate::request::PlanRequest;
use crate::symbol::Role;
use serde::Serialize;
use std::collections::BTreeMap;

/// One layout and what it costs per GPU.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedLayout {
    /// Data-parallel degree.
    pub dp: u64,
    /// Tensor-parallel degree.
    pub tp: u64,
    /// Pipeline stages.
    pub pp: u64,
    /// Context-parallel degree.
    pub cp: u64,
    /// ZeRO stage (0–3).
    pub zero: u8,
    /// Sequence parallelism.
    pub sequence_parallel: bool,
    /// Activation recomputation: none, selective, full.
    pub recompute: String,
    /// Sequences per micro-batch.
    pub micro_batch_size: u64,
    /// Micro-batches per step.
    pub micro_batches: u64,
    /// Bytes per GPU by term (exact integers as strings).
    pub memory: BTreeMap<String, String>,
    /// Bytes per GPU in all.
    pub memory_total: String,
    /// Estimated step time, seconds (rounded to microseconds).
    pub step_seconds: f64,
    /// The step time exactly, for the layouts shown.
    #[serde(skip)]
    pub step_exact: Option<Rational>,
}

/// Layout families that cannot work, with why.
#[derive(Clone, Debug, Serialize)]
pub struct Rejected {
    /// Which layouts (`tp=16`, `dp=2 tp=8 pp=4 cp=1`).
    pub family: String,
    /// Why.
    pub reason: String,
}

/// The plan: the best layouts that fit, and what was ruled out.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// Model id.
    pub model: String,
    /// GPUs in all.
    pub gpus: u64,
    /// Hardware.
    pub hardware: String,
    /// The memory budget per GPU, bytes.
    pub budget: String,
    /// Layouts tried.
    pub tried: usize,
    /// Layouts that fit.
    pub fitting: usize,
    /// The best, fastest first.
    pub layouts: Vec<PlannedLayout>,
    /// Families that cannot work.
    pub rejected: Vec<Rejected>,
}

/// One family's closed forms: memory per GPU, step time, and the memory terms by name.
type Forms = (Expr, Expr, Vec<(String, Expr)>);

/// A layout's degrees by symbol: d, t, p, c, m, b, v.
type Degrees = [(&'static str, u64); 7];

/// Per family of layouts: the least memory estimated, whether any layout fits, and the layout
/// (its forms' key and degrees) where the least was found.
type FamilyLeast = (f64, bool, Option<(String, Degrees)>);

/// A layout's degrees d, t, p, c, m, b, v bound to the symbols that play them.
fn layout_degrees([d, t, p, c, m, b, v]: [u64; 7]) -> Degrees {
    [
        (Role::DataParallel.symbol(), d),
        (Role::TensorParallel.symbol(), t),
        (Role::PipelineParallel.symbol(), p),
        (Role::ContextParallel.symbol(), c),
        (Role::MicroBatches.symbol(), m),
        (Role::MicroBatchSize.symbol(), b),
        (Role::VirtualStages.symbol(), v),
    ]
}

/// The model's values with a layout's degrees bound.
fn at_degrees(values: &BTreeMap<String, Rational>, degrees: &[(&str, u64)]) -> BTreeMap<String, Rational> {
    let mut exact = values.clone();
    for (s, v) in degrees {
        exact.insert(s.to_string(), Rational::from_integer((*v).into()));
    }
    exact
}

/// Bytes as GB (10⁹ bytes) to one decimal, rounded once from the exact value.
fn gigabytes(bytes: &Rational) -> String {
    dim::decimal(&(bytes / Rational::from_integer(1_000_000_000.into())), 1)
}

/// The most GPUs a plan is made for: far beyond any cluster, and small enough that the divisors
/// are found in a moment (by trial division up to the square root).
pub const MAX_GPUS: u64 = 1_000_000_000;

/// The divisors of `n`, in increasing order, in O(√n) steps.
fn divisors(n: u64) -> Vec<u64> {
    let (mut small, mut large) = (Vec::new(), Vec::new());
    let mut k = 1;
    while k * k <= n {
        if n.is_multiple_of(k) {
            small.push(k);
            if k * k != n {
                large.push(n / k);
            }
        }
        k += 1;
    }
    small.extend(large.into_iter().rev());
    small
}

/// Degrees as people list them: `tp=16, 32, 64` (at most six, then how many more).
fn degree_list(flag: &str, values: &[u64]) -> String {
    let shown: Vec<String> = values.iter().take(6).map(u64::to_string).collect();
    let more = values.len().saturating_sub(6);
    let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
    format!("{flag}={}{tail}", shown.join(", "))
}

/// Plans `selection` on `request.gpus` GPUs.
pub fn plan(data: &Facts, selection: &Selection, request: &PlanRequest) -> Result<Plan> {
    let base = crate::resolve::conventions(&request.options, data)?;
    let links = base.hardware.links.clone().ok_or_else(|| Error::BadOption {
        option: "--hardware".into(),
        value: base.hardware.name.clone(),
        reason: "the hardware data gives no link bandwidths (`links`), which planning needs".into(),
    })?;
    let budget = base.budgets().first().map(|(_, b)| b.clone()).unwrap_or_else(|| Rational::from_integer(0.into()));
    let mut fixed: Vec<(String, Rational, crate::model::Origin)> = base.bindings()?;
    fixed.push(("T".into(), Rational::from_integer(request.seq.into()), crate::model::Origin::Set));
    let bindings = selection.model.bind(selection.preset.as_ref(), &fixed, &data.symbols)?;
    let values = bindings.values();
    let size = |s: &str| values.get(s).and_then(|v| v.to_integer().try_into().ok()).unwrap_or(1u64);
    let (heads, kv_heads, layers) = (size("A"), values.get("K").map(|_| size("K")), size("L"));
    let gpus = request.gpus;
    let mut rejected: Vec<Rejected> = Vec::new();
    let mut reject = |family: String, reason: String| {
        if !rejected.iter().any(|r| r.family == family) {
            rejected.push(Rejected { family, reason });
        }
    };
    // The closed forms per family of conventions, built once.
    let mut forms: BTreeMap<String, Option<Forms>> = BTreeMap::new();
    let mut candidates: Vec<(f64, PlannedLayout, String)> = Vec::new();
    // Per family (dp, tp, pp, cp): the least memory any of its layouts needs, and whether one fits.
    // Per family: the least memory, whether a layout fits, and where the least was found.
    let mut families: BTreeMap<String, FamilyLeast> = BTreeMap::new();
    let grid = &crate::options::Defaults::builtin().plan;
    let mut tried = 0;
    if gpus == 0 || gpus > MAX_GPUS {
        return Err(Error::BadOption {
            option: "--gpus".into(),
            value: gpus.to_string(),
            reason: format!("plan for 1 to {} GPUs", dim::group_thousands(&MAX_GPUS.to_string())),
        });
    }
    let all = divisors(gpus);
    let node = links.gpus_per_node as u64;
    let too_wide: Vec<u64> = all.iter().copied().filter(|t| *t > node).collect();
    let mut unsplit: Vec<u64> = Vec::new();
    for t in all.iter().copied().filter(|t| *t <= node) {
        if heads % t != 0 || kv_heads.is_some_and(|k| k % t != 0) {
            reject(
                format!("tp={t}"),
                format!(
                    "{heads} heads{} do not split over {t} GPUs",
                    kv_heads.map(|k| format!(" ({k} key/value heads)")).unwrap_or_default()
                ),
            );
            continue;
        }
        for p in all.iter().copied().filter(|p| (gpus / t).is_multiple_of(*p)) {
            if !layers.is_multiple_of(p) {
                if !unsplit.contains(&p) {
                    unsplit.push(p);
                }
                continue;
            }
            for c in grid.context_parallel.iter().copied().filter(|c| (gpus / (t * p)).is_multiple_of(*c)) {
                if !request.seq.is_multiple_of(c) {
                    continue;
                }
                let d = gpus / (t * p * c);
                for b in grid.micro_batch_size.iter().copied() {
                    if !request.global_batch.is_multiple_of(d * b) {
                        continue;
                    }
                    let m = request.global_batch / (d * b);
                    // With one data-parallel rank ZeRO partitions nothing: stage 0 stands for all.
                    let stages: &[u8] = if d == 1 { &[0] } else { &[0, 1, 2, 3] };
                    for &zero in stages {
                        for sp in [false, true] {
                            if sp && t == 1 {
                                continue;
                            }
                            for recompute in ["none", "selective", "full"] {
                                tried += 1;
                                let key = format!("{zero}|{sp}|{recompute}|{}", p == 1);
                                let family = forms.entry(key.clone()).or_insert_with(|| {
                                    let mut o = request.options.clone();
                                    o.set("zero", &zero.to_string()).ok()?;
                                    o.set("sequence_parallel", if sp { "on" } else { "off" }).ok()?;
                                    o.set("recompute", recompute).ok()?;
                                    o.set("parallel", &format!("dp=1,tp=1,pp={}", if p == 1 { 1 } else { 2 })).ok()?;
                                    let conventions = crate::resolve::conventions(&o, data).ok()?;
                                    let catalog = Catalog::new(&selection.model, &conventions);
                                    let terms: Vec<(String, Expr)> = [
                                        "gpu.memory.weights",
                                        "gpu.memory.gradients",
                                        "gpu.memory.optimizer",
                                        "gpu.memory.activations",
                                    ]
                                    .iter()
                                    .filter_map(|n| {
                                        catalog.raw(n).map(|e| (n.trim_start_matches("gpu.memory.").to_string(), e))
                                    })
                                    .collect();
                                    Some((catalog.raw("gpu.memory.total")?, catalog.raw("gpu.time.step")?, terms))
                                });
                                let Some((memory, time, terms)) = family.clone() else { continue };
                                let mut at: BTreeMap<String, f64> = values
                                    .iter()
                                    .filter_map(|(k, v)| Some((k.clone(), num_traits::ToPrimitive::to_f64(v)?)))
                                    .collect();
                                let degrees: Degrees = layout_degrees([d, t, p, c, m, b, 1]);
                                for (s, v) in degrees {
                                    at.insert(s.into(), v as f64);
                                }
                                let (Some(mem), Some(secs)) =
                                    (algebra::evaluate_f64(&memory, &at), algebra::evaluate_f64(&time, &at))
                                else {
                                    continue;
                                };
                                let label = format!("dp={d} tp={t} pp={p} cp={c}");
                                let fits = mem <= num_traits::ToPrimitive::to_f64(&budget).unwrap_or(0.0);
                                let entry = families.entry(label.clone()).or_insert((f64::INFINITY, false, None));
                                if mem < entry.0 {
                                    *entry = (mem, entry.1, Some((key.clone(), degrees)));
                                }
                                entry.1 |= fits;
                                if !fits {
                                    continue;
                                }
                                let layout = PlannedLayout {
                                    dp: d,
                                    tp: t,
                                    pp: p,
                                    cp: c,
                                    zero,
                                    sequence_parallel: sp,
                                    recompute: recompute.into(),
                                    micro_batch_size: b,
                                    micro_batches: m,
                                    memory: terms.iter().map(|(n, _)| (n.clone(), String::new())).collect(),
                                    memory_total: String::new(),
                                    step_seconds: (secs * 1e6).round() / 1e6,
                                    step_exact: None,
                                };
                                candidates.push((secs, layout, label));
                            }
                        }
                    }
                }
            }
        }
    }
    if !unsplit.is_empty() {
        reject(degree_list("pp", &unsplit), format!("{layers} layers do not split into that many stages"));
    }
    if !too_wide.is_empty() {
        reject(
            degree_list("tp", &too_wide),
            format!("t > {node} crosses nodes: tensor parallelism stays within a node's NVLink"),
        );
    }
    // Families (dp, tp, pp, cp) with no layout that fits.
    for (family, (_, fits, least)) in &families {
        if *fits {
            continue;
        }
        // The least memory, evaluated exactly at the layout where the estimate found it.
        let exact = least.as_ref().and_then(|(key, degrees)| {
            let (memory, _, _) = forms.get(key)?.as_ref()?;
            algebra::evaluate(memory, &at_degrees(&values, degrees)).ok()
        });
        let shown = exact.map(|b| format!("{} GB", gigabytes(&b))).unwrap_or_else(|| "more than the budget".into());
        rejected.push(Rejected {
            family: family.clone(),
            reason: format!(
                "does not fit: at least {shown} per GPU with every ZeRO stage, recomputation and micro-batch size tried"
            ),
        });
    }
    let fitting = candidates.len();
    candidates.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.2.cmp(&b.2)));
    let mut layouts = Vec::new();
    for (_, mut layout, _) in candidates.into_iter().take(request.top) {
        // Exact bytes for the layouts shown.
        let key = format!("{}|{}|{}|{}", layout.zero, layout.sequence_parallel, layout.recompute, layout.pp == 1);
        let Some(Some((memory, time, terms))) = forms.get(&key) else { continue };
        let exact = at_degrees(
            &values,
            &layout_degrees([
                layout.dp,
                layout.tp,
                layout.pp,
                layout.cp,
                layout.micro_batches,
                layout.micro_batch_size,
                1,
            ]),
        );
        // The step time shown is the exact one, rounded once to microseconds.
        if let Ok(seconds) = algebra::evaluate(time, &exact) {
            let micros = (&seconds * Rational::from_integer(1_000_000.into())).round();
            layout.step_seconds = num_traits::ToPrimitive::to_f64(&(micros / Rational::from_integer(1_000_000.into())))
                .unwrap_or(layout.step_seconds);
            layout.step_exact = Some(seconds);
        }
        for (name, e) in terms {
            layout.memory.insert(
                name.clone(),
                algebra::evaluate(e, &exact).map(|v| v.to_integer().to_string()).unwrap_or_default(),
            );
        }
        layout.memory_total = algebra::evaluate(memory, &exact).map(|v| v.to_integer().to_string()).unwrap_or_default();
        layouts.push(layout);
    }
    if layouts.is_empty() {
        rejected.push(Rejected {
            family: "every layout".into(),
            reason: format!("none fits {} per GPU", dim::bytes(&budget)),
        });
    }
    Ok(Plan {
        model: selection.id.clone(),
        gpus,
        hardware: base.hardware.name.clone(),
        budget: budget.to_integer().to_string(),
        tried,
        fitting,
        layouts,
        rejected,
    })
}

/// The plan as a document, for text, Markdown, LaTeX and HTML.
pub fn document(plan: &Plan) -> crate::derivation::Document {
    use crate::derivation::{Block, Cell, Document, Row, Table, text};
    let gb = |bytes: &str| {
        bytes.parse::<num_bigint::BigInt>().map(|b| gigabytes(&Rational::from_integer(b))).unwrap_or_default()
    };
    let mut rows = Vec::new();
    for (i, l) in plan.layouts.iter().enumerate() {
        let term = |n: &str| l.memory.get(n).map(|b| gb(b)).unwrap_or_else(|| "—".into());
        rows.push(Row::plain(vec![
            Cell::Text((i + 1).to_string()),
            Cell::Text(format!("{}×{}×{}×{}", l.dp, l.tp, l.pp, l.cp)),
            Cell::Text(l.zero.to_string()),
            Cell::Text(if l.sequence_parallel { "on".into() } else { "off".into() }),
            Cell::Text(l.recompute.clone()),
            Cell::Text(format!("{}×{}", l.micro_batches, l.micro_batch_size)),
            Cell::Text(term("weights")),
            Cell::Text(term("gradients")),
            Cell::Text(term("optimizer")),
            Cell::Text(term("activations")),
            Cell::Text(gb(&l.memory_total)),
            Cell::Text(
                l.step_exact.as_ref().map(|t| dim::decimal(t, 3)).unwrap_or_else(|| format!("{:.3}", l.step_seconds)),
            ),
        ]));
    }
    let columns = [
        ("#", false),
        ("dp×tp×pp×cp", false),
        ("ZeRO", false),
        ("SP", false),
        ("recompute", false),
        ("m×b", false),
        ("weights GB", true),
        ("grads GB", true),
        ("optimizer GB", true),
        ("activations GB", true),
        ("total GB", true),
        ("step s", true),
    ]
    .iter()
    .map(|(c, r)| (c.to_string(), *r))
    .collect();
    let mut blocks = vec![
        Block::Paragraph(vec![text(format!(
            "{} layouts of {} on {} × {} tried; {} fit in {} GB per GPU (GB = 10⁹ bytes). The fastest by estimated step time (compute at the MFU with the pipeline bubble, plus the communication that does not overlap), with the memory of the most-loaded GPU by term:",
            plan.tried,
            plan.model,
            plan.gpus,
            plan.hardware,
            plan.fitting,
            gb(&plan.budget)
        ))]),
        Block::Table(Table { columns, rows }),
    ];
    if !plan.rejected.is_empty() {
        blocks.push(Block::Heading("Ruled out".into()));
        let rows = plan
            .rejected
            .iter()
            .map(|r| Row::plain(vec![Cell::Text(r.family.clone()), Cell::Text(r.reason.clone())]))
            .collect();
        blocks.push(Block::Table(Table { columns: vec![("layouts".into(), false), ("why".into(), false)], rows }));
    }
    Document {
        title: format!("tally plan: {} on {} GPUs", plan.model, plan.gpus),
        model: plan.model.clone(),
        bindings: vec![],
        conventions: vec![],
        quantities: vec![],
        blocks,
        notes: vec![],
    }
}

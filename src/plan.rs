//! `tally plan`: the parallel layouts of a model on N GPUs that fit, ranked by estimated step time.
//! Every layout is a setting of the per-GPU closed forms (`quantity::parallel`): the forms are built
//! once per family of conventions (ZeRO stage, sequence parallelism, recomputation, one or several
//! pipeline stages) and evaluated at each layout's degrees, in floating point to rank and exactly
//! for the layouts shown.

use crate::algebra::{self, Expr, Rational};
use crate::data::Data;
use crate::error::{Error, Result};
use crate::options::Options;
use crate::preset::Selection;
use crate::quantity::Catalog;
use serde::Serialize;
use std::collections::BTreeMap;

/// What to plan.
#[derive(Clone, Debug)]
pub struct PlanRequest {
    /// GPUs in all.
    pub gpus: u64,
    /// Tokens per sequence (binds T).
    pub seq: u64,
    /// Sequences per step in all (d·m·b).
    pub global_batch: u64,
    /// The run's options (precision, layout, hardware, activation convention, …).
    pub options: Options,
    /// Layouts to list.
    pub top: usize,
}

/// One layout and what it costs per GPU.
#[derive(Clone, Debug, Serialize)]
pub struct Layout {
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
    pub layouts: Vec<Layout>,
    /// Families that cannot work.
    pub rejected: Vec<Rejected>,
}

/// One family's closed forms: memory per GPU, step time, and the memory terms by name.
type Forms = (Expr, Expr, Vec<(String, Expr)>);

fn divisors(n: u64) -> Vec<u64> {
    (1..=n).filter(|k| n.is_multiple_of(*k)).collect()
}

/// Plans `selection` on `request.gpus` GPUs.
pub fn plan(data: &Data, selection: &Selection, request: &PlanRequest) -> Result<Plan> {
    let base = request.options.resolve(data)?;
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
    let mut candidates: Vec<(f64, Layout, String)> = Vec::new();
    // Per family (dp, tp, pp, cp): the least memory any of its layouts needs, and whether one fits.
    let mut families: BTreeMap<String, (f64, bool)> = BTreeMap::new();
    let mut tried = 0;
    for t in divisors(gpus) {
        if t > links.gpus_per_node as u64 {
            reject(
                format!("tp={t}"),
                format!("t > {} crosses nodes: tensor parallelism stays within a node's NVLink", links.gpus_per_node),
            );
            continue;
        }
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
        for p in divisors(gpus / t) {
            if layers % p != 0 {
                reject(format!("pp={p}"), format!("{layers} layers do not split into {p} stages"));
                continue;
            }
            for c in divisors(gpus / (t * p)).into_iter().filter(|c| [1, 2, 4, 8].contains(c)) {
                if !request.seq.is_multiple_of(c) {
                    continue;
                }
                let d = gpus / (t * p * c);
                for b in [1u64, 2, 4, 8] {
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
                                let family = forms.entry(key).or_insert_with(|| {
                                    let mut o = request.options.clone();
                                    o.set("zero", &zero.to_string()).ok()?;
                                    o.set("sequence_parallel", if sp { "on" } else { "off" }).ok()?;
                                    o.set("recompute", recompute).ok()?;
                                    o.set("parallel", &format!("dp=1,tp=1,pp={}", if p == 1 { 1 } else { 2 })).ok()?;
                                    let conventions = o.resolve(data).ok()?;
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
                                for (s, v) in [("d", d), ("t", t), ("p", p), ("c", c), ("m", m), ("b", b), ("v", 1)] {
                                    at.insert(s.into(), v as f64);
                                }
                                let (Some(mem), Some(secs)) =
                                    (algebra::evaluate_f64(&memory, &at), algebra::evaluate_f64(&time, &at))
                                else {
                                    continue;
                                };
                                let label = format!("dp={d} tp={t} pp={p} cp={c}");
                                let fits = mem <= num_traits::ToPrimitive::to_f64(&budget).unwrap_or(0.0);
                                let entry = families.entry(label.clone()).or_insert((f64::INFINITY, false));
                                entry.0 = entry.0.min(mem);
                                entry.1 |= fits;
                                if !fits {
                                    continue;
                                }
                                let layout = Layout {
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
                                };
                                candidates.push((secs, layout, label));
                            }
                        }
                    }
                }
            }
        }
    }
    // Families (dp, tp, pp, cp) with no layout that fits.
    for (family, (least, fits)) in &families {
        if !fits {
            let gb = least / 1e9;
            rejected.push(Rejected {
                family: family.clone(),
                reason: format!("does not fit: at least {gb:.1} GB per GPU with every ZeRO stage, recomputation and micro-batch size tried"),
            });
        }
    }
    let fitting = candidates.len();
    candidates.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.2.cmp(&b.2)));
    let mut layouts = Vec::new();
    for (_, mut layout, _) in candidates.into_iter().take(request.top) {
        // Exact bytes for the layouts shown.
        let key = format!("{}|{}|{}|{}", layout.zero, layout.sequence_parallel, layout.recompute, layout.pp == 1);
        let Some(Some((memory, _, terms))) = forms.get(&key) else { continue };
        let mut exact = values.clone();
        for (s, v) in [
            ("d", layout.dp),
            ("t", layout.tp),
            ("p", layout.pp),
            ("c", layout.cp),
            ("m", layout.micro_batches),
            ("b", layout.micro_batch_size),
            ("v", 1),
        ] {
            exact.insert(s.into(), Rational::from_integer(v.into()));
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
        rejected
            .push(Rejected { family: "every layout".into(), reason: format!("none fits {} bytes per GPU", budget) });
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
    let gb = |bytes: &str| bytes.parse::<u128>().map(|b| format!("{:.1}", b as f64 / 1e9)).unwrap_or_default();
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
            Cell::Text(format!("{:.3}", l.step_seconds)),
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

//! The training charts: memory against the batch size, training time against MFU and against the
//! GPU count, and per-GPU memory by term across parallel layouts.

use super::Evaluate;
use super::chart::{Axis, Bars, Body, Chart, Curve, Dash, Lines, Mark, Marker, Rule};
use super::{
    PlotRequest, Setting, decimals, float, gigabytes, nice_ceiling, read_points, refuse_sets, value, with_set,
};
use crate::algebra::Rational;
use crate::dim;
use crate::error::{Error, Result};
use crate::request::DeriveRequest;
use crate::symbol::Role;

const DAY: u64 = 86_400;

fn int(n: u64) -> Rational {
    Rational::from_integer(n.into())
}

/// The memory budgets as horizontal lines in GB, one dash pattern each.
fn budget_rules(setting: &Setting) -> Vec<Rule> {
    let dashes = [Dash::Dashed, Dash::Dotted, Dash::DashDot];
    setting
        .conventions
        .budgets()
        .iter()
        .enumerate()
        .map(|(i, (label, bytes))| Rule {
            label: format!("{label}: {} GB", decimals(&gigabytes(bytes), 1)),
            short: format!("{}: {} GB", label.split(' ').next().unwrap_or(label), decimals(&gigabytes(bytes), 1)),
            y: float(&gigabytes(bytes)),
            dash: dashes[i % dashes.len()],
        })
        .collect()
}

/// Training memory a·B + b against B, the budgets, and the largest batch for each.
pub(super) fn memory_vs_batch(session: &dyn Evaluate, request: &DeriveRequest, plot: &PlotRequest) -> Result<Chart> {
    let data = session.facts();
    let batch = Role::Batch.symbol();
    refuse_sets(data, request, &[batch], "the batch size B")?;
    let setting = Setting::of(data, request)?;
    // memory.total is a·B + b: its values at B = 1 and B = 2 give a and b exactly.
    let at_one = with_set(request, batch, &int(1));
    let m1 = value(session, &at_one, "memory.total")?;
    let m2 = value(session, &with_set(request, batch, &int(2)), "memory.total")?;
    let a = &m2 - &m1;
    let b = &m1 - &a;
    let memory = |n: &Rational| a.clone() * n.clone() + b.clone();
    let budgets = setting.conventions.budgets();
    let mut largest = Vec::new();
    let mut notes = Vec::new();
    for (i, (label, _)) in budgets.iter().enumerate() {
        let name = if i == 0 { "batch.max" } else { "batch.max.binary" };
        let q = session.quantity(&at_one, name)?;
        match (q.value, q.verdict) {
            (Some(n), _) => largest.push((i, label.clone(), n)),
            (None, verdict) => {
                notes.push(format!("{label}: {name} {}.", verdict.unwrap_or_else(|| "has no value".into())))
            }
        }
    }
    let (lo, hi) = match &plot.range {
        Some(text) => read_points(text)?.extent(text)?,
        None => {
            let most = largest.iter().map(|(_, _, n)| float(n)).fold(1.0, f64::max);
            (int(0), Rational::from_float(nice_ceiling(most * 1.25)).unwrap_or_else(|| int(8)))
        }
    };
    let rules = budget_rules(&setting);
    let top = rules.iter().map(|r| r.y).fold(float(&gigabytes(&memory(&hi))), f64::max);
    let marks = largest
        .iter()
        .filter(|(_, _, n)| *n >= lo && *n <= hi)
        .map(|(i, _, n)| Mark {
            label: format!(
                "{} = {} ({} GB)",
                if *i == 0 { "batch.max" } else { "batch.max.binary" },
                dim::exact(n),
                decimals(&gigabytes(&memory(n)), 1)
            ),
            x: float(n),
            y: float(&gigabytes(&memory(n))),
            drop: true,
            marker: if *i == 1 { Marker::Square } else { Marker::Disc },
        })
        .collect();
    let curve = Curve {
        label: format!("memory.total = a·B + b = {} per sequence × B + {}", dim::bytes(&a), dim::bytes(&b)),
        points: [&lo, &hi].iter().map(|n| (float(n), float(&gigabytes(&memory(n))))).collect(),
        dash: Dash::Solid,
        markers: false,
    };
    notes.insert(
        0,
        format!(
            "a = {} bytes per sequence and b = {} bytes, exact, from memory.total at B = 1 and B = 2; the largest batch is ⌊(budget − b)/a⌋.",
            dim::exact(&a),
            dim::exact(&b)
        ),
    );
    Ok(Chart {
        title: format!("Training memory vs batch size: {}", setting.model()),
        subtitle: format!("{}; {}", setting.training(), setting.bound(&["T"])),
        x: Axis::linear("batch size B (sequences)", float(&lo), float(&hi)),
        y: Axis::linear("training memory (GB, 10⁹ bytes)", 0.0, nice_ceiling(top * 1.05)),
        body: Body::Lines(Lines { curves: vec![curve], rules, marks }),
        notes,
    })
}

/// The training setting in words: steps, batch, context and the peak.
fn run_words(setting: &Setting) -> String {
    let c = &setting.conventions;
    let peak = c.hardware.peak_at(&c.precision.name).unwrap_or_default();
    format!(
        "{}; {}, R = {} TFLOP/s ({} peak)",
        setting.training(),
        setting.bound(&[Role::Steps.symbol(), Role::Batch.symbol(), Role::Context.symbol()]),
        dim::exact(&(peak / int(1_000_000_000_000))),
        c.precision.name
    )
}

/// Training time against MFU.
pub(super) fn time_vs_mfu(session: &dyn Evaluate, request: &DeriveRequest, plot: &PlotRequest) -> Result<Chart> {
    let data = session.facts();
    refuse_sets(data, request, &[Role::Mfu.symbol()], "the MFU U")?;
    let setting = Setting::of(data, request)?;
    let text = plot.range.clone().unwrap_or_else(|| "0.1..0.7".into());
    let points = read_points(&text)?;
    let mfus = points.hundredths(&text)?;
    let days = |seconds: &Rational| seconds / int(DAY);
    let mut curve = Vec::new();
    for u in &mfus {
        let mut at = request.clone();
        at.options.mfu = dim::exact_fraction(u);
        curve.push((float(u), float(&days(&value(session, &at, "time.training")?))));
    }
    let own = days(&value(session, request, "time.training")?);
    let mfu = &setting.conventions.mfu;
    let inside = mfus.first().is_some_and(|f| f <= mfu) && mfus.last().is_some_and(|l| l >= mfu);
    let marks = inside
        .then(|| Mark {
            label: format!("U = {} (--mfu): {} days", dim::exact(mfu), days_shown(&own)),
            x: float(mfu),
            y: float(&own),
            drop: true,
            marker: Marker::Disc,
        })
        .into_iter()
        .collect();
    let top = curve.iter().map(|(_, d)| *d).fold(0.0, f64::max);
    let (lo, hi) = (curve.first().map_or(0.0, |p| p.0), curve.last().map_or(1.0, |p| p.0));
    let listed = matches!(points, super::Points::List(_));
    Ok(Chart {
        title: format!("Training time vs MFU: {}", setting.model()),
        subtitle: run_words(&setting),
        x: Axis::linear("model FLOPs utilisation U (fraction of peak)", lo, hi),
        y: Axis::linear("training time (days)", 0.0, nice_ceiling(top * 1.05)),
        body: Body::Lines(Lines {
            curves: vec![Curve {
                label: "time.training = S·C_step/(U·R)".into(),
                points: curve,
                dash: Dash::Solid,
                markers: listed,
            }],
            rules: vec![],
            marks,
        }),
        notes: vec![format!(
            "Each point is time.training at that U ({} values); C_step is one step's FLOPs, forward, backward and optimizer.",
            mfus.len()
        )],
    })
}

/// Days to three significant figures or so: `412`, `41.2`, `4.12`, `0.412`.
fn days_shown(days: &Rational) -> String {
    let places = [(100, 0), (10, 1), (1, 2)].iter().find(|(at, _)| *days >= int(*at)).map_or(3, |(_, p)| *p);
    decimals(days, places)
}

/// A log axis over the decades that hold `values`.
fn decades(label: &str, values: impl Iterator<Item = f64> + Clone) -> Axis {
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(0.0, f64::max);
    Axis::log(label, 10f64.powf(lo.log10().floor()), 10f64.powf(hi.log10().ceil().max(lo.log10().floor() + 1.0)))
}

/// Training time against the number of GPUs, data parallel, from the per-GPU step time.
pub(super) fn time_vs_gpus(session: &dyn Evaluate, request: &DeriveRequest, plot: &PlotRequest) -> Result<Chart> {
    let data = session.facts();
    let o = &request.options;
    if o.parallel.is_some() || o.micro_batch_size.is_some() || o.micro_batches.is_some() {
        return Err(Error::Usage(
            "this chart sets --parallel dp=N and the micro-batch itself; leave out --parallel, --micro-batches and --micro-batch-size".into(),
        ));
    }
    refuse_sets(
        data,
        request,
        &[Role::DataParallel.symbol(), Role::MicroBatchSize.symbol(), Role::MicroBatches.symbol()],
        "the data-parallel degree",
    )?;
    let setting = Setting::of(data, request)?;
    if setting.conventions.hardware.links.is_none() {
        return Err(Error::BadOption {
            option: "--hardware".into(),
            value: setting.conventions.hardware.name.clone(),
            reason: "the hardware data gives no link bandwidths (`links`), which the per-GPU step time needs".into(),
        });
    }
    let text = plot.range.clone().unwrap_or_else(|| "1..1024".into());
    let gpus = read_points(&text)?.doubling(&text, "GPU counts")?;
    let (batch, steps) = (setting.size(Role::Batch.symbol()), setting.size(Role::Steps.symbol()));
    let one = value(session, request, "time.training")? / int(DAY);
    let (mut derived, mut ideal) = (Vec::new(), Vec::new());
    for n in &gpus {
        let mut at = request.clone();
        at.options.parallel = Some(format!("dp={n}"));
        at.options.micro_batch_size = Some(dim::plain(&batch));
        let step = value(session, &at, "gpu.time.step")?;
        let time = steps.clone() / int(*n) * step / int(DAY);
        derived.push((*n as f64, float(&time)));
        ideal.push((*n as f64, float(&(one.clone() / int(*n)))));
    }
    let ticks: Vec<(f64, String)> = gpus.iter().map(|n| (*n as f64, dim::exact(&int(*n)))).collect();
    let all = derived.iter().chain(&ideal).map(|p| p.1);
    let overlap = setting.conventions.parallel.as_ref().map(|p| p.overlap).unwrap_or(o.overlap);
    Ok(Chart {
        title: format!("Training time vs GPUs (data parallel): {}", setting.model()),
        subtitle: run_words(&setting),
        x: Axis::log("GPUs N (data-parallel degree)", gpus[0] as f64, gpus[gpus.len() - 1] as f64).with_ticks(ticks),
        y: decades("training time (days)", all),
        body: Body::Lines(Lines {
            curves: vec![
                Curve {
                    label: format!("(S/N) × gpu.time.step at --parallel dp=N, --overlap {}", o.overlap),
                    points: derived,
                    dash: Dash::Solid,
                    markers: true,
                },
                Curve {
                    label: "time.training / N (perfect scaling)".into(),
                    points: ideal,
                    dash: Dash::Dashed,
                    markers: false,
                },
            ],
            rules: vec![],
            marks: vec![],
        }),
        notes: vec![
            format!(
                "Each GPU takes a micro-batch of B = {} sequence(s), so a step takes N·B sequences and S/N steps train on the same S·B·T tokens as one GPU.",
                dim::exact(&batch)
            ),
            format!(
                "gpu.time.step: compute at U·R plus the communication not overlapped (--overlap {overlap}; the gradient all-reduce crosses nodes above {} GPUs).",
                setting.conventions.hardware.links.as_ref().map(|l| l.gpus_per_node).unwrap_or(8)
            ),
        ],
    })
}

/// The default layouts: eight GPUs split by data and pipeline parallelism, which any model whose
/// layer count is a multiple of 8 takes.
const LAYOUTS: &str = "dp=8;dp=4,pp=2;dp=2,pp=4;pp=8";

/// Per-GPU memory by term across parallel layouts.
pub(super) fn gpu_memory(session: &dyn Evaluate, request: &DeriveRequest, plot: &PlotRequest) -> Result<Chart> {
    let data = session.facts();
    if request.options.parallel.is_some() {
        return Err(Error::Usage("give the layouts with --layouts \"dp=8;dp=4,tp=2\", not --parallel".into()));
    }
    let text = plot.layouts.clone().unwrap_or_else(|| LAYOUTS.into());
    let layouts: Vec<&str> = text.split(';').map(str::trim).filter(|l| !l.is_empty()).collect();
    if layouts.is_empty() || layouts.len() > 16 {
        return Err(Error::BadOption {
            option: "--layouts".into(),
            value: text.clone(),
            reason: "give 1 to 16 layouts separated by `;`, e.g. \"dp=8;dp=4,pp=2\"".into(),
        });
    }
    let terms = [
        ("gpu.memory.weights", "weights"),
        ("gpu.memory.gradients", "gradients"),
        ("gpu.memory.optimizer", "optimizer state (and master copy)"),
        ("gpu.memory.activations", "activations"),
    ];
    let mut parts: Vec<String> = terms.iter().map(|(_, p)| p.to_string()).collect();
    let (mut values, mut totals, mut settings) = (Vec::new(), Vec::new(), Vec::new());
    for layout in &layouts {
        let mut at = request.clone();
        at.options.parallel = Some(layout.to_string());
        // The layout is the user's --layouts item, whichever check refuses it.
        let setting = Setting::of(data, &at).map_err(|e| match e {
            Error::BadOption { option, reason, .. } if option == "--parallel" => {
                Error::BadOption { option: "--layouts".into(), value: layout.to_string(), reason }
            }
            other => other,
        })?;
        let parallel = setting.conventions.parallel.as_ref().expect("--parallel was given");
        if parallel.convention.terms.is_none() {
            return Err(Error::BadOption {
                option: "--zero-convention".into(),
                value: parallel.convention.name.clone(),
                reason: "it estimates totals only; the chart stacks weights, gradients and optimizer state (use paper or deepspeed-docs)".into(),
            });
        }
        let mut row = Vec::new();
        for (name, _) in terms {
            row.push(value(session, &at, name)?);
        }
        let total = value(session, &at, "gpu.memory.total")?;
        row.push(total.clone() - row.iter().cloned().sum::<Rational>());
        values.push(row);
        totals.push(total);
        settings.push(setting);
    }
    // What the terms leave out of the total: a reserve and temporaries, when asked for.
    let overheads = values.iter().any(|row| row[terms.len()] != int(0));
    if overheads {
        parts.push("overheads (reserve, temporaries)".into());
    } else {
        values.iter_mut().for_each(|row| row.truncate(terms.len()));
    }
    let setting = &settings[0];
    let rules = budget_rules(setting);
    let top = totals.iter().map(|t| float(&gigabytes(t))).chain(rules.iter().map(|r| r.y)).fold(0.0, f64::max);
    let ticks = layouts.iter().enumerate().map(|(i, l)| (i as f64, l.to_string())).collect();
    let parallel = setting.conventions.parallel.as_ref().expect("--parallel was given");
    Ok(Chart {
        title: format!("Memory per GPU by term across layouts: {}", setting.model()),
        subtitle: format!(
            "{}; ZeRO stage {} ({} convention); {}",
            setting.training(),
            parallel.zero,
            parallel.convention.name,
            setting.bound(&[Role::Context.symbol(), Role::MicroBatchSize.symbol(), Role::MicroBatches.symbol()])
        ),
        x: Axis::linear("parallel layout (--parallel)", -0.5, layouts.len() as f64 - 0.5).with_ticks(ticks),
        y: Axis::linear("memory per GPU (GB, 10⁹ bytes)", 0.0, nice_ceiling(top * 1.08)),
        body: Body::Bars(Bars {
            categories: layouts.iter().map(|l| l.to_string()).collect(),
            parts,
            values: values.iter().map(|row| row.iter().map(|v| float(&gigabytes(v))).collect()).collect(),
            inside: values.iter().map(|row| row.iter().map(|v| decimals(&gigabytes(v), 1)).collect()).collect(),
            above: totals.iter().map(|t| format!("{} GB", decimals(&gigabytes(t), 1))).collect(),
            rules,
        }),
        notes: vec![
            "The most-loaded GPU (the first pipeline stage): gpu.memory.weights, .gradients, .optimizer and .activations, in GB; the total is gpu.memory.total.".into(),
        ],
    })
}

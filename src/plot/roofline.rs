//! The inference roofline: attainable FLOP/s against arithmetic intensity, the roof min(R, I·β)
//! from the hardware data, and the decode step at several concurrencies and the prefill as
//! `tally serve` works them out (per-op roofline: each op takes max(FLOPs/R, bytes/β)).

use super::Evaluate;
use super::chart::{Axis, Body, Chart, Curve, Dash, Lines, Mark, Marker};
use super::{PlotRequest, Setting, float, read_points};
use crate::algebra::Rational;
use crate::derivation::Document;
use crate::dim::{self, Base, Unit};
use crate::error::{Error, Result};
use crate::request::DeriveRequest;
use crate::request::ServeRequest;
use crate::resolve::parse_set;
use crate::symbol::Role;

/// A phase of serving as a point: FLOPs per byte, and FLOPs per second on the per-op roofline.
struct Point {
    intensity: Rational,
    rate: Rational,
}

fn quantity(doc: &Document, name: &str) -> Result<Rational> {
    doc.quantities
        .iter()
        .find(|q| q.name == name)
        .and_then(|q| q.value.clone())
        .ok_or_else(|| Error::Usage(format!("the serving derivation has no value for {name} here")))
}

fn point(doc: &Document, phase: &str) -> Result<Point> {
    let flops = quantity(doc, &format!("serve.{phase}.flops"))?;
    let bytes = quantity(doc, &format!("serve.{phase}.bytes"))?;
    let time = quantity(doc, &format!("serve.{phase}.time"))?;
    let zero = Rational::from_integer(0.into());
    if bytes == zero || time == zero {
        return Err(Error::Usage(format!(
            "the model's {phase} moves no bytes or takes no time: there is no roofline point"
        )));
    }
    Ok(Point { intensity: flops.clone() / bytes, rate: flops / time })
}

/// A hardware figure exactly in tera-units: `989.4 TFLOP/s`, `3.35 TB/s`.
fn tera(value: &Rational, unit: &str) -> String {
    format!("{} T{unit}", dim::exact(&(value / Rational::from_integer(1_000_000_000_000u64.into()))))
}

/// A derived rate to three figures: `26.3 TFLOP/s`.
fn rate(value: &Rational) -> String {
    dim::display(value, &Unit::flop().per(&Unit::of(Base::Second)))
}

/// The roofline of serving `request.model` at the concurrencies of `--range`.
pub(super) fn roofline(session: &dyn Evaluate, request: &DeriveRequest, plot: &PlotRequest) -> Result<Chart> {
    let data = session.facts();
    let mut request = request.clone();
    // Inference weights are 16-bit unless asked otherwise, as `tally serve` has it.
    if !request.options.changed().contains(&"--precision") {
        request.options.precision = "bf16".into();
    }
    let mut context = None;
    let mut sets = Vec::new();
    for s in &request.sets {
        let (symbol, value) = parse_set(s, &data.symbols)?;
        if symbol == Role::Batch.symbol() {
            return Err(Error::Usage(format!("give the concurrencies with --range (e.g. 1,8,64,512), not --set {s}")));
        }
        if symbol == Role::Context.symbol() {
            context = Some(
                u64::try_from(value.to_integer())
                    .map_err(|_| Error::Usage(format!("--set {s}: too long a context")))?,
            );
        } else {
            sets.push(s.clone());
        }
    }
    request.sets = sets;
    let text = plot.range.clone().unwrap_or_else(|| "1,8,64,512".into());
    let concurrencies = read_points(&text)?.doubling(&text, "concurrencies")?;
    let mut decode = Vec::new();
    let mut first: Option<Document> = None;
    for b in &concurrencies {
        let serve = ServeRequest { context, concurrency: Some(*b), kv_precision: plot.kv_precision.clone() };
        let doc = session.serve(&request, &serve)?;
        decode.push(point(&doc, "decode")?);
        first.get_or_insert(doc);
    }
    let doc = first.expect("at least one concurrency");
    let prefill = point(&doc, "prefill")?;
    let ridge = quantity(&doc, "serve.ridge")?;
    let setting = Setting::of(data, &request)?;
    let hardware = &setting.conventions.hardware;
    let peak = hardware.peak_at(&setting.conventions.precision.name)?;
    let bandwidth = hardware
        .memory_bandwidth
        .clone()
        .ok_or_else(|| Error::Usage(format!("{} has no memory bandwidth in the hardware data", hardware.name)))?;
    let t = doc.bindings.iter().find(|(s, _)| s == Role::Context.symbol()).map(|(_, v)| v.clone());
    // The axes span the decades that hold every point and the ridge, with room on each side.
    let xs: Vec<f64> = decode.iter().chain([&prefill]).map(|p| float(&p.intensity)).chain([float(&ridge)]).collect();
    let x = Axis::log(
        "arithmetic intensity (FLOP/byte)",
        10f64.powf((xs.iter().cloned().fold(f64::INFINITY, f64::min) / 2.0).log10().floor()),
        10f64.powf((xs.iter().cloned().fold(0.0, f64::max) * 2.0).log10().ceil()),
    );
    let ys: Vec<f64> = decode.iter().chain([&prefill]).map(|p| float(&p.rate)).collect();
    let y = Axis::log(
        "attainable performance (FLOP/s)",
        10f64.powf((ys.iter().cloned().fold(f64::INFINITY, f64::min) / 2.0).log10().floor()),
        10f64.powf((float(&peak) * 2.0).log10().ceil()),
    );
    let (beta, r) = (float(&bandwidth), float(&peak));
    let start = x.min.max(y.min / beta);
    let roof = Curve {
        label: format!(
            "roof: min(R, I·β), R = {} ({}), β = {}",
            tera(&peak, "FLOP/s"),
            setting.conventions.precision.name,
            tera(&bandwidth, "B/s")
        ),
        points: vec![(start, start * beta), (float(&ridge), r), (x.max, r)],
        dash: Dash::Solid,
        markers: false,
    };
    let steps = Curve {
        label: "decode step, one token for each of B sequences (serve.decode.flops / .bytes, / .time)".into(),
        points: decode.iter().map(|p| (float(&p.intensity), float(&p.rate))).collect(),
        dash: Dash::Dotted,
        markers: true,
    };
    let mut marks: Vec<Mark> = decode
        .iter()
        .zip(&concurrencies)
        .map(|(p, b)| Mark {
            label: format!("B = {}: {}", dim::exact(&Rational::from_integer((*b).into())), rate(&p.rate)),
            x: float(&p.intensity),
            y: float(&p.rate),
            drop: false,
            marker: Marker::None,
        })
        .collect();
    marks.push(Mark {
        label: format!("ridge R/β = {} FLOP/byte", dim::decimal(&ridge, 1)),
        x: float(&ridge),
        y: r,
        drop: true,
        marker: Marker::Disc,
    });
    marks.push(Mark {
        label: format!("prefill: {}", rate(&prefill.rate)),
        x: float(&prefill.intensity),
        y: float(&prefill.rate),
        drop: false,
        marker: Marker::Square,
    });
    let kv = plot.kv_precision.clone().unwrap_or_else(|| setting.conventions.precision.name.clone());
    Ok(Chart {
        title: format!("Inference roofline: {} on {}", setting.model(), hardware.name),
        subtitle: format!(
            "{} weights, {kv} KV cache, T = {}; {} ({}): R = {}, β = {}",
            setting.conventions.precision.name,
            t.as_ref().map(dim::exact).unwrap_or_default(),
            hardware.name,
            hardware.summary,
            tera(&peak, "FLOP/s"),
            tera(&bandwidth, "B/s")
        ),
        x,
        y,
        body: Body::Lines(Lines { curves: vec![roof, steps], rules: vec![], marks }),
        notes: vec![
            "A point's intensity is the phase's FLOPs over its bytes (weights read once per step + the KV cache read), its height the FLOPs over the time on the per-op roofline (each op takes max(FLOPs/R, bytes/β)), so it lies on or under the roof.".into(),
        ],
    })
}

//! Forward-FLOP shares by component (the catalog's `flops.forward.<component>` over
//! `flops.forward`) as stacked bars: across a model's size presets, or against the context length.

use super::Evaluate;
use super::chart::{Axis, Bars, Body, Chart};
use super::{PlotRequest, Setting, float, read_points, refuse_sets, value, with_set};
use crate::algebra::Rational;
use crate::dim::{self, Unit};
use crate::error::{Error, Result};
use crate::quantity::Catalog;
use crate::request::DeriveRequest;
use crate::resolve::select;
use crate::symbol::Role;

/// One bar: each component's FLOPs, and the forward FLOPs they add up to.
struct Column {
    parts: Vec<Rational>,
    total: Rational,
}

/// The components of the model under the request's conventions: quantity names and titles.
fn components(session: &dyn Evaluate, request: &DeriveRequest) -> Result<Vec<(String, String)>> {
    let setting = Setting::of(session.facts(), request)?;
    let list = Catalog::new(&setting.selection.model, &setting.conventions).components();
    if list.is_empty() {
        return Err(Error::Usage(format!(
            "{} names no FLOP components ([components] in its model file), so there are no shares to plot",
            setting.model()
        )));
    }
    Ok(list)
}

fn column(session: &dyn Evaluate, request: &DeriveRequest, names: &[(String, String)]) -> Result<Column> {
    let parts = names.iter().map(|(name, _)| value(session, request, name)).collect::<Result<Vec<_>>>()?;
    Ok(Column { parts, total: value(session, request, "flops.forward")? })
}

/// The stacked bars of shares in percent, with the forward FLOPs above each bar.
fn bars(categories: Vec<String>, names: &[(String, String)], columns: &[Column]) -> Bars {
    let hundred = Rational::from_integer(100.into());
    let mut parts: Vec<String> = names.iter().map(|(_, title)| title.clone()).collect();
    // Whatever the components leave out of the total (ops in no component) is shown, not dropped.
    let rest: Vec<Rational> =
        columns.iter().map(|c| c.total.clone() - c.parts.iter().cloned().sum::<Rational>()).collect();
    let other = rest.iter().any(|r| *r != Rational::from_integer(0.into()));
    if other {
        parts.push("other ops".into());
    }
    let shares: Vec<Vec<Rational>> = columns
        .iter()
        .zip(&rest)
        .map(|(c, r)| {
            let mut row: Vec<Rational> = c.parts.clone();
            if other {
                row.push(r.clone());
            }
            row.iter().map(|p| p.clone() / c.total.clone() * hundred.clone()).collect()
        })
        .collect();
    Bars {
        categories,
        parts,
        values: shares.iter().map(|row| row.iter().map(float).collect()).collect(),
        inside: shares.iter().map(|row| row.iter().map(|s| format!("{}%", dim::decimal(s, 1))).collect()).collect(),
        above: columns.iter().map(|c| dim::display(&c.total, &Unit::flop())).collect(),
        rules: vec![],
    }
}

fn percent_axis() -> Axis {
    let ticks = (0..=5).map(|k| (k as f64 * 20.0, format!("{}", k * 20))).collect();
    Axis::linear("share of forward FLOPs (%)", 0.0, 108.0).with_ticks(ticks)
}

fn category_axis(label: &str, categories: &[String]) -> Axis {
    let ticks = categories.iter().enumerate().map(|(i, c)| (i as f64, c.clone())).collect();
    Axis::linear(label, -0.5, categories.len() as f64 - 0.5).with_ticks(ticks)
}

/// The shares across the size presets of the model's architecture.
pub(super) fn vs_size(session: &dyn Evaluate, request: &DeriveRequest, plot: &PlotRequest) -> Result<Chart> {
    let data = session.facts();
    if let Some(p) = &request.preset {
        return Err(Error::Usage(format!(
            "this chart plots several presets; choose them with --presets (not --preset {p})"
        )));
    }
    let selection = select(data, &request.model, request.file.as_ref(), None)?;
    let architecture = selection.model.clone();
    let presets: Vec<String> = match &plot.presets {
        Some(list) => list.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
        None => architecture.presets.iter().map(|p| p.name.clone()).collect(),
    };
    if presets.is_empty() {
        return Err(Error::Usage(format!(
            "{} has no size presets to compare; give some with --presets, or plot shares-vs-context",
            architecture.name
        )));
    }
    // A model picked by a preset's name (`gpt2-xl`) is plotted across its architecture's presets.
    let builtin = request.file.is_none() && data.models.select(&request.model)?.is_some();
    let base = DeriveRequest {
        model: if builtin { architecture.name.clone() } else { request.model.clone() },
        ..request.clone()
    };
    let mut columns = Vec::new();
    let mut names = Vec::new();
    for preset in &presets {
        let at = DeriveRequest { preset: Some(preset.clone()), ..base.clone() };
        if names.is_empty() {
            names = components(session, &at)?;
        }
        columns.push(column(session, &at, &names)?);
    }
    let first = Setting::of(data, &DeriveRequest { preset: Some(presets[0].clone()), ..base.clone() })?;
    Ok(Chart {
        title: format!("Forward-FLOP shares by component vs model size: {}", architecture.name),
        subtitle: format!(
            "{} FLOPs, {} attention; {}",
            if first.conventions.flops.elementwise { "matmul and element-wise" } else { "matmul" },
            if first.conventions.flops.causal { "causal" } else { "full" },
            first.bound(&[Role::Batch.symbol(), Role::Context.symbol()])
        ),
        x: category_axis("size preset", &presets),
        y: percent_axis(),
        body: Body::Bars(bars(presets.clone(), &names, &columns)),
        notes: vec![
            "Each segment is flops.forward.<component> / flops.forward at that preset's sizes; above each bar, flops.forward for the batch.".into(),
        ],
    })
}

/// The shares against the context length T.
pub(super) fn vs_context(session: &dyn Evaluate, request: &DeriveRequest, plot: &PlotRequest) -> Result<Chart> {
    let data = session.facts();
    let context = Role::Context.symbol();
    refuse_sets(data, request, &[context], "the context length T")?;
    let text = plot.range.clone().unwrap_or_else(|| "256..65536".into());
    let lengths = read_points(&text)?.doubling(&text, "context lengths")?;
    let names = components(session, request)?;
    let mut columns = Vec::new();
    for t in &lengths {
        columns.push(column(session, &with_set(request, context, &Rational::from_integer((*t).into())), &names)?);
    }
    let setting = Setting::of(data, request)?;
    let categories: Vec<String> = lengths.iter().map(|t| dim::exact(&Rational::from_integer((*t).into()))).collect();
    Ok(Chart {
        title: format!("Forward-FLOP shares by component vs context length: {}", setting.model()),
        subtitle: format!(
            "{} FLOPs, {} attention; {}",
            if setting.conventions.flops.elementwise { "matmul and element-wise" } else { "matmul" },
            if setting.conventions.flops.causal { "causal" } else { "full" },
            setting.bound(&[Role::Batch.symbol(), "L", "H"])
        ),
        x: category_axis("context length T (tokens)", &categories),
        y: percent_axis(),
        body: Body::Bars(bars(categories.clone(), &names, &columns)),
        notes: vec![
            "Each segment is flops.forward.<component> / flops.forward with T bound as shown; above each bar, flops.forward for the batch.".into(),
        ],
    })
}

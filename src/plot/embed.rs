//! Charts inside documents. A document holds each chart as a request (what `tally plot` would be
//! asked) beside the derivation it illustrates; [`draw`] draws them only for a format that shows
//! charts — SVG for HTML, TikZ for LaTeX — so text, Markdown and JSON never pay for a chart.
//! [`place`] chooses the charts of a derivation; answer sheets name theirs in their data
//! (`crate::derivation::figures`).

use super::{Kind, PlotRequest};
use crate::data::Data;
use crate::derivation::{Block, Document, Figure};
use crate::dim;
use crate::error::Result;
use crate::render::Format;
use crate::session::{DeriveRequest, Session, parse_set};
use crate::symbol::Role;
use serde::{Deserialize, Serialize};

/// A chart as `tally plot` is asked for it: the model, bindings and options, and the kind of chart.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChartRequest {
    /// The model, bindings and options.
    pub derive: DeriveRequest,
    /// The kind of chart and its flags.
    pub plot: PlotRequest,
}

/// Draws every requested chart of `doc` that `format` shows and that is not drawn yet: SVG for
/// HTML, TikZ for LaTeX; nothing for the other formats.
pub fn draw(session: &Session, doc: &mut Document, format: Format) -> Result<()> {
    let tikz = match format {
        Format::Html => false,
        Format::Latex => true,
        Format::Text | Format::Markdown | Format::Json => return Ok(()),
    };
    for block in &mut doc.blocks {
        let Block::Figure(figure) = block else { continue };
        let Some(request) = &figure.chart else { continue };
        let drawn = if tikz { &mut figure.tikz } else { &mut figure.svg };
        if drawn.is_empty() {
            let chart = super::chart(session, &request.derive, &request.plot)?;
            *drawn = if tikz { super::tikz(&chart)? } else { super::svg(&chart)? };
        }
    }
    Ok(())
}

/// The charts of a derivation, each after the section it illustrates: the forward-FLOP shares
/// against the context length after "Where the forward FLOPs go", and training memory against
/// the batch size after "Largest batch that fits". A chart that would not mean anything is left
/// out: no shares without FLOP components, no single-GPU memory line under `--parallel`.
pub fn place(doc: &mut Document, request: &DeriveRequest, data: &Data) {
    let mut figures = Vec::new();
    let context = Role::Context.symbol();
    let bound = |symbol: &str| doc.bindings.iter().find(|(s, _)| s == symbol).map(|(_, v)| v.clone());
    let has = |prefix: &str| doc.quantities.iter().any(|q| q.name.starts_with(prefix) && q.value.is_some());
    let whole = bound(context).filter(|t| t.is_integer()).and_then(|t| u64::try_from(t.to_integer()).ok());
    if let (Some(t), true) = (whole, has("flops.forward.")) {
        // Two halvings below the bound length and four doublings above it, so T is one of the bars.
        let mut low = t;
        for _ in 0..2 {
            if low % 2 == 0 {
                low /= 2;
            }
        }
        let high = t.saturating_mul(16);
        let words = |n: u64| dim::exact(&crate::algebra::Rational::from_integer(n.into()));
        figures.push((
            "Where the forward FLOPs go",
            Figure::planned(
                Kind::SharesVsContext.word(),
                &format!(
                    "Forward-FLOP shares by component as the context length T doubles from {} to {} tokens (this derivation binds T = {}).",
                    words(low),
                    words(high),
                    words(t)
                ),
                ChartRequest {
                    derive: without(request, context, data),
                    plot: PlotRequest {
                        kind: Kind::SharesVsContext,
                        range: Some(format!("{low}..{high}")),
                        ..PlotRequest::default()
                    },
                },
            ),
        ));
    }
    // Also when no batch fits: the line above the budgets shows by how much.
    if request.options.parallel.is_none() && doc.quantities.iter().any(|q| q.name == "batch.max") {
        figures.push((
            "Largest batch that fits",
            Figure::planned(
                Kind::MemoryVsBatch.word(),
                "Training memory against the batch size B, with the memory budgets and the largest batch that fits each.",
                ChartRequest {
                    derive: without(request, Role::Batch.symbol(), data),
                    plot: PlotRequest { kind: Kind::MemoryVsBatch, ..PlotRequest::default() },
                },
            ),
        ));
    }
    // From the last section up, so the places found first stay where they were.
    let mut at: Vec<(usize, Figure)> =
        figures.into_iter().filter_map(|(heading, f)| section_end(doc, heading).map(|i| (i, f))).collect();
    at.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
    for (i, figure) in at {
        doc.blocks.insert(i, Block::Figure(figure));
    }
}

/// Where the section under `heading` ends: the next heading, or the end of the document.
fn section_end(doc: &Document, heading: &str) -> Option<usize> {
    let start = doc.blocks.iter().position(|b| matches!(b, Block::Heading(h) if h == heading))?;
    let next = doc.blocks[start + 1..].iter().position(|b| matches!(b, Block::Heading(_)));
    Some(next.map_or(doc.blocks.len(), |n| start + 1 + n))
}

/// The request without its bindings of `symbol`, which the chart varies itself.
fn without(request: &DeriveRequest, symbol: &str, data: &Data) -> DeriveRequest {
    let mut out = request.clone();
    out.sets.retain(|s| parse_set(s, &data.symbols).map(|(bound, _)| bound != symbol).unwrap_or(true));
    out
}

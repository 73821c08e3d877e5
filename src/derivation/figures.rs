//! The charts an answer sheet asks for. A part may carry `figure = { kind = "shares-vs-size",
//! presets = "…", caption = "…" }` with the fields of `tally plot` (kind, model, preset, set,
//! range, presets, layouts, options); the figure goes right after the part, as a request only:
//! it is drawn later, and only for a format that shows charts (by the chart drawer, above), so
//! answering a sheet costs no more with figures than without. Everything is checked here, when
//! the sheet is answered, so a mistake in a sheet file is reported at its place. [`place`]
//! chooses the charts of a derivation.

use super::{Block, Document, Figure};
use crate::error::{Error, Result};
use crate::facts::Facts;
use crate::options::Options;
use crate::request::{ChartKind, ChartRequest, DeriveRequest, PlotRequest, check_flags, read_points};
use crate::resolve::parse_set;
use crate::sheet::FigureFile;
use crate::symbol::Role;

/// The figure block of a part: its chart request at the part's options (`options`) and the sheet's
/// model, with an id not used before in `blocks`.
pub(super) fn block(file: &FigureFile, model: &str, options: &Options, data: &Facts, sheet: &str) -> Result<Block> {
    let bad = |field: &str, value: &str, reason: String| Error::BadOption {
        option: format!("{sheet}: figure.{field}"),
        value: value.to_string(),
        reason,
    };
    let mut options = options.clone();
    for (name, value) in &file.options {
        options.set(name, value).map_err(|e| bad("options", name, e.to_string()))?;
    }
    let mut sets = Vec::new();
    for (name, value) in &file.set {
        let def = data.symbols.get(name).ok_or_else(|| {
            bad("set", name, data.symbols.resolve(name).err().unwrap_or_else(|| "not a symbol".into()))
        })?;
        sets.push(format!("{}={value}", def.short));
    }
    if let Some(range) = &file.range {
        read_points(range).map_err(|e| bad("range", range, e.to_string()))?;
    }
    let plot = PlotRequest {
        kind: file.kind,
        range: file.range.clone(),
        presets: file.presets.clone(),
        layouts: file.layouts.clone(),
        kv_precision: None,
    };
    check_flags(&plot).map_err(|e| bad("kind", file.kind.word(), e.to_string()))?;
    let derive = DeriveRequest {
        model: file.model.clone().unwrap_or_else(|| model.to_string()),
        file: None,
        preset: file.preset.clone(),
        sets,
        options,
    };
    Ok(Block::Figure(Figure::planned(file.kind.word(), &file.caption, ChartRequest { derive, plot })))
}

/// Makes the figure ids of a document unique (`shares-vs-context`, `shares-vs-context-2`), since
/// each is an anchor of the HTML page.
pub(super) fn unique_ids(blocks: &mut [Block]) {
    let mut seen: Vec<String> = Vec::new();
    for block in blocks {
        let Block::Figure(f) = block else { continue };
        let stem = f.id.clone();
        let mut n = 1;
        while seen.contains(&f.id) {
            n += 1;
            f.id = format!("{stem}-{n}");
        }
        seen.push(f.id.clone());
    }
}

/// The charts of a derivation, each after the section it illustrates: the forward-FLOP shares
/// against the context length after "Where the forward FLOPs go", and training memory against
/// the batch size after "Largest batch that fits". A chart that would not mean anything is left
/// out: no shares without FLOP components, no single-GPU memory line under `--parallel`.
pub fn place(doc: &mut Document, request: &DeriveRequest, data: &Facts) {
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
        let words = |n: u64| crate::dim::exact(&crate::algebra::Rational::from_integer(n.into()));
        figures.push((
            "Where the forward FLOPs go",
            Figure::planned(
                ChartKind::SharesVsContext.word(),
                &format!(
                    "Forward-FLOP shares by component as the context length T doubles from {} to {} tokens (this derivation binds T = {}).",
                    words(low),
                    words(high),
                    words(t)
                ),
                ChartRequest {
                    derive: without(request, context, data),
                    plot: PlotRequest {
                        kind: ChartKind::SharesVsContext,
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
                ChartKind::MemoryVsBatch.word(),
                "Training memory against the batch size B, with the memory budgets and the largest batch that fits each.",
                ChartRequest {
                    derive: without(request, Role::Batch.symbol(), data),
                    plot: PlotRequest { kind: ChartKind::MemoryVsBatch, ..PlotRequest::default() },
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
fn without(request: &DeriveRequest, symbol: &str, data: &Facts) -> DeriveRequest {
    let mut out = request.clone();
    out.sets.retain(|s| parse_set(s, &data.symbols).map(|(bound, _)| bound != symbol).unwrap_or(true));
    out
}

//! The charts an answer sheet asks for. A part may carry `figure = { kind = "shares-vs-size",
//! presets = "…", caption = "…" }` with the fields of `tally plot` (kind, model, preset, set,
//! range, presets, layouts, options); the figure goes right after the part, as a request only:
//! it is drawn later, and only for a format that shows charts (`crate::plot::embed::draw`), so
//! answering a sheet costs no more with figures than without. Everything is checked here, when
//! the sheet is answered, so a mistake in a sheet file is reported at its place.

use super::{Block, Figure};
use crate::data::Data;
use crate::error::{Error, Result};
use crate::options::Options;
use crate::plot::embed::ChartRequest;
use crate::plot::{Kind, PlotRequest, read_points};
use crate::session::DeriveRequest;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A part's `figure` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FigureFile {
    kind: Kind,
    caption: String,
    /// The sheet's model unless given.
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    preset: Option<String>,
    #[serde(default)]
    set: BTreeMap<String, i64>,
    #[serde(default)]
    range: Option<String>,
    #[serde(default)]
    presets: Option<String>,
    #[serde(default)]
    layouts: Option<String>,
    /// Options on top of the part's own (`training`), by name: `{ precision = "bf16" }`.
    #[serde(default)]
    options: BTreeMap<String, String>,
}

/// The figure block of a part: its chart request at the part's options (`options`) and the sheet's
/// model, with an id not used before in `blocks`.
pub(super) fn block(file: &FigureFile, model: &str, options: &Options, data: &Data, sheet: &str) -> Result<Block> {
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
    crate::plot::check_flags(&plot).map_err(|e| bad("kind", file.kind.word(), e.to_string()))?;
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

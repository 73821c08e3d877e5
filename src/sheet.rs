//! An answer sheet's file: its parts as written, and the sheet as tally holds it (a built-in
//! sheet by its header until it is first answered).

use crate::diagnostic::Source;
use crate::error::Result;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetFile {
    pub name: String,
    pub title: String,
    pub model: String,
    pub intro: String,
    pub part: Vec<PartFile>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartFile {
    pub heading: String,
    pub question: String,
    pub kind: String,
    #[serde(default)]
    pub show: Vec<String>,
    #[serde(default)]
    pub answer: String,
    #[serde(default)]
    pub set: BTreeMap<String, i64>,
    #[serde(default)]
    pub presets: Vec<String>,
    #[serde(default)]
    pub training: Option<TrainingFile>,
    /// For `kind = "readings"`: the readings of an ambiguous source, the first the one the sheet
    /// answers with.
    #[serde(default)]
    pub reading: Vec<ReadingFile>,
    /// A chart after the part, drawn where the format shows charts.
    #[serde(default)]
    pub figure: Option<FigureFile>,
}

/// One reading of an ambiguous assignment: what it says, which source it follows, and the change
/// to the sheet's model that gives it (none for the model as written).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadingFile {
    pub name: String,
    pub follows: String,
    #[serde(default)]
    pub change: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingFile {
    pub steps: Option<i64>,
    pub mfu: Option<String>,
    pub hardware: Option<String>,
    pub precision: Option<String>,
}

/// An answer sheet: a user's is read and checked when given; a built-in one (tested) is read
/// when first answered, and only its header (name, title, model) before.
#[derive(Clone, Debug)]
pub struct Sheet {
    name: String,
    title: String,
    model: String,
    file: Arc<OnceLock<SheetFile>>,
    pub source: Source,
}

/// The part of a sheet file before its first `[[part]]`.
#[derive(Deserialize)]
struct SheetHeader {
    name: String,
    title: String,
    model: String,
}

impl Sheet {
    /// Reads a sheet from TOML; `None` if the text is not a sheet at all (no `[[part]]`).
    pub fn from_toml(source: &Source) -> Option<Result<Sheet>> {
        let value: toml::Table = toml::from_str(&source.text).ok()?;
        if !value.contains_key("part") {
            return None;
        }
        Some(crate::loader::read_toml::<SheetFile>(source).map(|file| Sheet {
            name: file.name.clone(),
            title: file.title.clone(),
            model: file.model.clone(),
            file: Arc::new(OnceLock::from(file)),
            source: source.clone(),
        }))
    }

    /// A built-in sheet, read when first answered.
    pub fn built_in(source: &Source) -> Sheet {
        let text = &source.text;
        let head = text.find("\n[[part]]").map(|at| &text[..at]).unwrap_or(text);
        let header: SheetHeader = toml::from_str::<toml::Table>(head)
            .ok()
            .and_then(|t| toml::Value::Table(t).try_into().ok())
            .unwrap_or_else(|| panic!("built-in {} has no sheet header", source.name));
        let SheetHeader { name, title, model } = header;
        Sheet { name, title, model, file: Arc::default(), source: source.clone() }
    }

    pub fn file(&self) -> &SheetFile {
        self.file.get_or_init(|| {
            crate::loader::read_toml(&self.source)
                .unwrap_or_else(|e| panic!("built-in {} is invalid: {e}", self.source.name))
        })
    }

    /// The sheet's name (`cs336-2025`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The sheet's title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The model the sheet is about.
    pub fn model(&self) -> &str {
        &self.model
    }
}

/// A part's `figure` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureFile {
    pub kind: crate::request::ChartKind,
    pub caption: String,
    /// The sheet's model unless given.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub preset: Option<String>,
    #[serde(default)]
    pub set: BTreeMap<String, i64>,
    #[serde(default)]
    pub range: Option<String>,
    #[serde(default)]
    pub presets: Option<String>,
    #[serde(default)]
    pub layouts: Option<String>,
    /// Options on top of the part's own (`training`), by name: `{ precision = "bf16" }`.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    /// A built-in sheet is known by its header until it is answered: the header must say what the
    /// whole file says.
    #[test]
    fn every_built_in_sheet_header_is_its_files() {
        let sheets = &crate::facts::Facts::builtin().sheets;
        assert!(sheets.len() >= 2);
        for sheet in sheets {
            let file = sheet.file();
            assert_eq!((sheet.name(), sheet.title(), sheet.model()), (&*file.name, &*file.title, &*file.model));
        }
    }
}

//! An answer sheet's file: its parts as written, and the sheet as tally holds it (a built-in
//! sheet by its header until it is first answered).

use crate::diagnostic::Source;
use crate::error::Result;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SheetFile {
    pub(super) name: String,
    pub(super) title: String,
    pub(super) model: String,
    pub(super) intro: String,
    pub(super) part: Vec<PartFile>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PartFile {
    pub(super) heading: String,
    pub(super) question: String,
    pub(super) kind: String,
    #[serde(default)]
    pub(super) show: Vec<String>,
    #[serde(default)]
    pub(super) answer: String,
    #[serde(default)]
    pub(super) set: BTreeMap<String, i64>,
    #[serde(default)]
    pub(super) presets: Vec<String>,
    #[serde(default)]
    pub(super) training: Option<TrainingFile>,
    /// For `kind = "readings"`: the readings of an ambiguous source, the first the one the sheet
    /// answers with.
    #[serde(default)]
    pub(super) reading: Vec<ReadingFile>,
    /// A chart after the part (`super::figures`).
    #[serde(default)]
    pub(super) figure: Option<crate::derivation::figures::FigureFile>,
}

/// One reading of an ambiguous assignment: what it says, which source it follows, and the change
/// to the sheet's model that gives it (none for the model as written).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReadingFile {
    pub(super) name: String,
    pub(super) follows: String,
    #[serde(default)]
    pub(super) change: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TrainingFile {
    pub(super) steps: Option<i64>,
    pub(super) mfu: Option<String>,
    pub(super) hardware: Option<String>,
    pub(super) precision: Option<String>,
}

/// An answer sheet: a user's is read and checked when given; a built-in one (tested) is read
/// when first answered, and only its header (name, title, model) before.
#[derive(Clone, Debug)]
pub struct Sheet {
    name: String,
    title: String,
    model: String,
    file: Arc<OnceLock<SheetFile>>,
    pub(in crate::derivation) source: Source,
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
        Some(crate::data::read_toml::<SheetFile>(source).map(|file| Sheet {
            name: file.name.clone(),
            title: file.title.clone(),
            model: file.model.clone(),
            file: Arc::new(OnceLock::from(file)),
            source: source.clone(),
        }))
    }

    /// A built-in sheet, read when first answered.
    pub(crate) fn built_in(source: &Source) -> Sheet {
        let text = &source.text;
        let head = text.find("\n[[part]]").map(|at| &text[..at]).unwrap_or(text);
        let header: SheetHeader = toml::from_str::<toml::Table>(head)
            .ok()
            .and_then(|t| toml::Value::Table(t).try_into().ok())
            .unwrap_or_else(|| panic!("built-in {} has no sheet header", source.name));
        let SheetHeader { name, title, model } = header;
        Sheet { name, title, model, file: Arc::default(), source: source.clone() }
    }

    pub(super) fn file(&self) -> &SheetFile {
        self.file.get_or_init(|| {
            crate::data::read_toml(&self.source)
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

#[cfg(test)]
mod tests {
    /// A built-in sheet is known by its header until it is answered: the header must say what the
    /// whole file says.
    #[test]
    fn every_built_in_sheet_header_is_its_files() {
        let sheets = &crate::data::Data::builtin().sheets;
        assert!(sheets.len() >= 2);
        for sheet in sheets {
            let file = sheet.file();
            assert_eq!((sheet.name(), sheet.title(), sheet.model()), (&*file.name, &*file.title, &*file.model));
        }
    }
}

//! The architectures tally knows (from `derivations/models/` and a user's data directory) and
//! choosing one by name: an architecture (`cs336-2025`), a size preset (`gpt2-xl`),
//! `architecture/preset`, or a model file's text.

use crate::diagnostic::Source;
use crate::error::{Error, Result};
use crate::model::{Model, ModelFacts, Preset};
use crate::suggestion::suggest;
use std::sync::{Arc, OnceLock};

/// A model chosen for a run: the architecture, maybe a preset, and the name to show.
#[derive(Clone, Debug)]
pub struct Selection {
    /// The architecture.
    pub model: Model,
    /// The size preset, if any.
    pub preset: Option<Preset>,
    /// What to call it in output (`gpt2-xl`, `cs336-2025`).
    pub id: String,
    /// Said on stderr when the name picked something the user may not expect (`xl` is gpt2/xl).
    pub note: Option<String>,
}

/// All models tally knows without being given a file. A built-in architecture is read when a run
/// first needs it (a derivation needs one of them): until then only its header — name, summary
/// and presets, the part before its first `[[stage]]` — is known.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    entries: Vec<Entry>,
}

/// One architecture: its header, and the model, read now (a user's file) or on first use.
#[derive(Clone, Debug)]
struct Entry {
    name: String,
    summary: String,
    /// Each preset's name and summary.
    presets: Vec<(String, String)>,
    /// The built-in file to read the model from; shared by clones of the data.
    model: Arc<(OnceLock<Model>, Option<Source>)>,
}

impl Entry {
    fn model(&self) -> &Model {
        let (cell, source) = self.model.as_ref();
        cell.get_or_init(|| {
            let source = source.as_ref().expect("an entry without a model has its built-in source");
            // Built-in architectures read against the built-in facts: a data directory cannot
            // replace symbols, op costs or save rules, and a built-in extends only built-ins.
            Model::from_toml(source, &ModelFacts::builtin(Registry::builtin()))
                .unwrap_or_else(|e| panic!("built-in {} is invalid: {e}", source.name))
        })
    }
}

/// What a name picks: the entry's index, the preset's name and a note for the user.
type Found<'a> = (usize, Option<&'a str>, Option<String>);

/// The part of a model file before its first `[[stage]]`.
#[derive(serde::Deserialize)]
struct Header {
    name: String,
    summary: String,
    #[serde(default)]
    preset: Vec<PresetHeader>,
}

#[derive(serde::Deserialize)]
struct PresetHeader {
    name: String,
    #[serde(default)]
    summary: String,
}

fn header_of(source: &Source) -> Header {
    let text = &source.text;
    let head = text.find("\n[[stage]]").map(|at| &text[..at]).unwrap_or(text);
    let table: toml::Table =
        toml::from_str(head).unwrap_or_else(|e| panic!("built-in {} is invalid: {e}", source.name));
    toml::Value::Table(table).try_into().unwrap_or_else(|e| panic!("built-in {} has no header: {e}", source.name))
}

impl crate::model::Bases for Registry {
    fn architecture(&self, name: &str) -> Option<&Model> {
        Registry::architecture(self, name)
    }

    fn architectures(&self) -> Vec<String> {
        Registry::architectures(self)
    }
}

impl Registry {
    /// The built-in architectures.
    pub fn builtin() -> &'static Registry {
        static BUILT: OnceLock<Registry> = OnceLock::new();
        BUILT.get_or_init(|| {
            let mut registry = Registry::default();
            for source in crate::loader::builtin_of(crate::loader::FileKind::Model) {
                registry.add_builtin(source);
            }
            registry
        })
    }

    fn put(&mut self, entry: Entry) {
        match self.entries.iter().position(|e| e.name == entry.name) {
            Some(i) => self.entries[i] = entry,
            None => self.entries.push(entry),
        }
    }

    /// Adds an architecture, replacing one of the same name.
    pub fn add(&mut self, model: Model) {
        self.put(Entry {
            name: model.name.clone(),
            summary: model.summary.clone(),
            presets: model.presets.iter().map(|p| (p.name.clone(), p.summary.clone())).collect(),
            model: Arc::new((OnceLock::from(model), None)),
        });
    }

    /// Adds a built-in architecture, read from `source` when first needed.
    pub(crate) fn add_builtin(&mut self, source: Source) {
        let header = header_of(&source);
        self.put(Entry {
            name: header.name,
            summary: header.summary,
            presets: header.preset.into_iter().map(|p| (p.name, p.summary)).collect(),
            model: Arc::new((OnceLock::new(), Some(source))),
        });
    }

    /// An architecture by exact name.
    pub fn architecture(&self, name: &str) -> Option<&Model> {
        self.entries.iter().find(|e| e.name == name).map(Entry::model)
    }

    /// The architectures' names.
    pub fn architectures(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.name.clone()).collect()
    }

    /// Every selectable name with a one-line summary: architectures, then their presets.
    pub fn listing(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            out.push((e.name.clone(), e.summary.clone()));
            for (preset, summary) in &e.presets {
                // The first architecture's presets go by their own names; others are listed
                // qualified, which always works (`gpt2/small`), so no listed name is ambiguous.
                let name = if i == 0 { preset.clone() } else { format!("{}/{preset}", e.name) };
                out.push((name, format!("{summary} ({})", e.name)));
            }
        }
        out
    }

    /// The selection of preset `preset` (or of the architecture's default) of entry `index`.
    fn selection(&self, index: usize, preset: Option<&str>, note: Option<String>) -> Selection {
        let m = self.entries[index].model();
        let chosen = match preset {
            Some(p) => m.presets.iter().find(|q| q.name == p).cloned(),
            None => m.default_preset.as_deref().and_then(|p| m.preset(p)).cloned(),
        };
        let id = match (preset, &chosen) {
            (Some(_), Some(p)) if index == 0 => p.name.clone(),
            (Some(_), Some(p)) => format!("{}/{}", m.name, p.name),
            _ => m.name.clone(),
        };
        Selection { model: m.clone(), preset: chosen, id, note }
    }

    /// Picks a built-in model by architecture name, preset name or `architecture/preset`, in any
    /// letter case. A preset name shared by several architectures is refused as ambiguous; a
    /// preset found under an architecture other than the first is named in `Selection::note`.
    /// `Ok(None)` when no built-in model has that name (the caller may try it as a file).
    pub fn select(&self, name: &str) -> Result<Option<Selection>> {
        Ok(self.find(name)?.map(|(i, preset, note)| self.selection(i, preset, note)))
    }

    /// Whether `name` picks a built-in model (as [`Registry::select`] would), without reading or
    /// copying it.
    pub fn knows(&self, name: &str) -> Result<bool> {
        Ok(self.find(name)?.is_some())
    }

    /// The entry, preset and note `name` picks, from the headers alone.
    fn find(&self, name: &str) -> Result<Option<Found<'_>>> {
        let wanted = name.trim().to_lowercase();
        if let Some((arch, preset)) = wanted.split_once('/')
            && let Some(i) = self.entries.iter().position(|e| e.name.to_lowercase() == arch)
        {
            let e = &self.entries[i];
            return match e.presets.iter().find(|(p, _)| p.to_lowercase() == preset) {
                Some((p, _)) => Ok(Some((i, Some(p), None))),
                None => Err(Error::Unknown {
                    what: format!("preset of {}", e.name),
                    name: preset.to_string(),
                    known: e.presets.iter().map(|(p, _)| p.clone()).collect(),
                }),
            };
        }
        if let Some(i) = self.entries.iter().position(|e| e.name.to_lowercase() == wanted) {
            return Ok(Some((i, None, None)));
        }
        let found: Vec<(usize, &str)> = self
            .entries
            .iter()
            .enumerate()
            .flat_map(|(i, e)| {
                e.presets.iter().filter(|(p, _)| p.to_lowercase() == wanted).map(move |(p, _)| (i, p.as_str()))
            })
            .collect();
        // The first architecture's presets go by their own names (as listed), so they win.
        if let Some((i, p)) = found.iter().find(|(i, _)| *i == 0) {
            return Ok(Some((*i, Some(p), None)));
        }
        match found.as_slice() {
            [] => Ok(None),
            [(i, p)] => Ok(Some((*i, Some(p), Some(format!("`{name}` is the preset {}/{p}", self.entries[*i].name))))),
            several => Err(Error::Usage(format!(
                "`{name}` is a preset of several architectures; name one: {}",
                several.iter().map(|(i, p)| format!("{}/{p}", self.entries[*i].name)).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// The error for a name that is neither a built-in model nor a file, with the closest names.
    pub fn unknown(&self, name: &str) -> Error {
        let known: Vec<String> = self.listing().into_iter().map(|(n, _)| n).collect();
        Error::UnknownModel { name: name.to_string(), suggestion: suggest(name, &known), known }
    }
}

/// A model read from a file's text; `preset` picks one of its presets (default: the file's
/// `default_preset`).
pub fn from_source(source: &Source, preset: Option<&str>, facts: &ModelFacts) -> Result<Selection> {
    let model = Model::from_toml(source, facts)?;
    let chosen = match preset {
        Some(name) => Some(model.preset(name).cloned().ok_or_else(|| Error::Unknown {
            what: format!("preset of {}", source.name),
            name: name.to_string(),
            known: model.presets.iter().map(|p| p.name.clone()).collect(),
        })?),
        None => model.default_preset.as_deref().and_then(|p| model.preset(p)).cloned(),
    };
    let id = match &chosen {
        Some(p) => format!("{}/{}", model.name, p.name),
        None => model.name.clone(),
    };
    Ok(Selection { model, preset: chosen, id, note: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A built-in architecture is known by its header until it is read: the header must say
    /// what the whole file says.
    #[test]
    fn every_built_in_header_is_its_models() {
        let entries = &Registry::builtin().entries;
        assert!(entries.len() >= 4);
        for e in entries {
            let m = e.model();
            assert_eq!((&e.name, &e.summary), (&m.name, &m.summary));
            let presets: Vec<(String, String)> =
                m.presets.iter().map(|p| (p.name.clone(), p.summary.clone())).collect();
            assert_eq!(e.presets, presets, "{}", e.name);
        }
    }
}

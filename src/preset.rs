//! The architectures tally knows (from `derivations/models/` and a user's data directory) and
//! choosing one by name: an architecture (`cs336-2025`), a size preset (`gpt2-xl`),
//! `architecture/preset`, or a model file's text.

use crate::data::Data;
use crate::diagnostic::Source;
use crate::error::{Error, Result};
use crate::model::{Model, Preset};

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

/// All models tally knows without being given a file.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    models: Vec<Model>,
}

impl Registry {
    /// The built-in architectures.
    pub fn builtin() -> &'static Registry {
        &Data::builtin().models
    }

    /// Adds an architecture, replacing one of the same name.
    pub fn add(&mut self, model: Model) {
        match self.models.iter().position(|m| m.name == model.name) {
            Some(i) => self.models[i] = model,
            None => self.models.push(model),
        }
    }

    /// An architecture by exact name.
    pub fn architecture(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The architectures' names.
    pub fn architectures(&self) -> Vec<String> {
        self.models.iter().map(|m| m.name.clone()).collect()
    }

    /// Every selectable name with a one-line summary: architectures, then their presets.
    pub fn listing(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for m in &self.models {
            out.push((m.name.clone(), m.summary.clone()));
            for p in &m.presets {
                // The first architecture's presets go by their own names; others are listed
                // qualified, which always works (`gpt2/small`), so no listed name is ambiguous.
                let home = std::ptr::eq(m, &self.models[0]);
                let name = if home { p.name.clone() } else { format!("{}/{}", m.name, p.name) };
                out.push((name, format!("{} ({})", p.summary, m.name)));
            }
        }
        out
    }

    /// Picks a built-in model by architecture name, preset name or `architecture/preset`, in any
    /// letter case. A preset name shared by several architectures is refused as ambiguous; a
    /// preset found under an architecture other than the first is named in `Selection::note`.
    /// `Ok(None)` when no built-in model has that name (the caller may try it as a file).
    pub fn select(&self, name: &str) -> Result<Option<Selection>> {
        let wanted = name.trim().to_lowercase();
        let id = |m: &Model, p: Option<&Preset>| match p {
            Some(p) if std::ptr::eq(m, &self.models[0]) => p.name.clone(),
            Some(p) => format!("{}/{}", m.name, p.name),
            None => m.name.clone(),
        };
        if let Some((arch, preset)) = wanted.split_once('/')
            && let Some(m) = self.models.iter().find(|m| m.name.to_lowercase() == arch)
        {
            return match m.presets.iter().find(|p| p.name.to_lowercase() == preset) {
                Some(p) => {
                    Ok(Some(Selection { model: m.clone(), preset: Some(p.clone()), id: id(m, Some(p)), note: None }))
                }
                None => Err(Error::Unknown {
                    what: format!("preset of {}", m.name),
                    name: preset.to_string(),
                    known: m.presets.iter().map(|p| p.name.clone()).collect(),
                }),
            };
        }
        if let Some(m) = self.models.iter().find(|m| m.name.to_lowercase() == wanted) {
            let preset = m.default_preset.as_deref().and_then(|p| m.preset(p)).cloned();
            return Ok(Some(Selection { model: m.clone(), preset, id: m.name.clone(), note: None }));
        }
        let found: Vec<(&Model, &Preset)> = self
            .models
            .iter()
            .flat_map(|m| m.presets.iter().filter(|p| p.name.to_lowercase() == wanted).map(move |p| (m, p)))
            .collect();
        // The first architecture's presets go by their own names (as listed), so they win.
        if let Some((m, p)) = found.iter().find(|(m, _)| std::ptr::eq(*m, &self.models[0])) {
            return Ok(Some(Selection {
                model: (*m).clone(),
                preset: Some((*p).clone()),
                id: id(m, Some(p)),
                note: None,
            }));
        }
        match found.as_slice() {
            [] => Ok(None),
            [(m, p)] => {
                let home = std::ptr::eq(*m, &self.models[0]);
                let note = (!home).then(|| format!("`{name}` is the preset {}/{}", m.name, p.name));
                Ok(Some(Selection { model: (*m).clone(), preset: Some((*p).clone()), id: id(m, Some(p)), note }))
            }
            several => Err(Error::Usage(format!(
                "`{name}` is a preset of several architectures; name one: {}",
                several.iter().map(|(m, p)| format!("{}/{}", m.name, p.name)).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// The error for a name that is neither a built-in model nor a file, with the closest names.
    pub fn unknown(&self, name: &str) -> Error {
        let known: Vec<String> = self.listing().into_iter().map(|(n, _)| n).collect();
        Error::UnknownModel { name: name.to_string(), suggestion: suggest(name, &known), known }
    }
}

/// The closest name within a third of its length in edits, for "did you mean".
pub fn suggest(name: &str, known: &[String]) -> Option<String> {
    let name = name.to_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&name, &k.to_lowercase()), k))
        .filter(|(d, _)| *d <= (name.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.clone())
}

/// Levenshtein distance in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != b[j])).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// A model read from a file's text; `preset` picks one of its presets (default: the file's
/// `default_preset`).
pub fn from_source(source: &Source, preset: Option<&str>, data: &Data) -> Result<Selection> {
    let model = Model::from_toml(source, data)?;
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

//! The built-in model files (embedded from `derivations/models/`) and choosing one by name: an
//! architecture (`cs336-2025`), a size preset (`gpt2-xl`), `architecture/preset`, or a path.

use crate::diagnostic::Source;
use crate::error::{Error, Result};
use crate::model::{Model, Preset};
use crate::symbol::SymbolTable;

const BUILTIN: &[(&str, &str)] = &[
    ("derivations/models/cs336-2025.toml", include_str!("../derivations/models/cs336-2025.toml")),
    ("derivations/models/cs336-2024.toml", include_str!("../derivations/models/cs336-2024.toml")),
    ("derivations/models/gpt2.toml", include_str!("../derivations/models/gpt2.toml")),
    ("derivations/models/llama.toml", include_str!("../derivations/models/llama.toml")),
];

/// A model chosen for a run: the architecture, maybe a preset, and the name to show.
#[derive(Clone, Debug)]
pub struct Selection {
    /// The architecture.
    pub model: Model,
    /// The size preset, if any.
    pub preset: Option<Preset>,
    /// What to call it in output (`gpt2-xl`, `cs336-2025`).
    pub id: String,
}

/// All models tally knows without being given a file.
pub struct Registry {
    models: Vec<Model>,
}

impl Registry {
    /// The embedded model files. A broken built-in file is a bug in tally, caught by its tests.
    pub fn builtin(symbols: &SymbolTable) -> Registry {
        let models = BUILTIN
            .iter()
            .map(|(name, text)| {
                let source = Source { name: name.to_string(), text: text.to_string() };
                Model::from_toml(&source, symbols).unwrap_or_else(|e| panic!("built-in {name} is invalid: {e}"))
            })
            .collect();
        Registry { models }
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

    /// Picks a model by architecture name, preset name, `architecture/preset`, or file path.
    pub fn select(&self, name: &str, symbols: &SymbolTable) -> Result<Selection> {
        let (arch, preset) = match name.split_once('/') {
            Some((a, p)) if self.models.iter().any(|m| m.name == a) => (Some(a), Some(p)),
            _ => (None, None),
        };
        for m in &self.models {
            if let (Some(a), Some(p)) = (arch, preset) {
                if m.name == a
                    && let Some(found) = m.preset(p)
                {
                    return Ok(Selection { model: m.clone(), preset: Some(found.clone()), id: name.to_string() });
                }
            } else if m.name == name {
                let preset = m.default_preset.as_deref().and_then(|p| m.preset(p)).cloned();
                return Ok(Selection { model: m.clone(), preset, id: name.to_string() });
            } else if let Some(found) = m.preset(name) {
                return Ok(Selection { model: m.clone(), preset: Some(found.clone()), id: name.to_string() });
            }
        }
        if name.ends_with(".toml") || name.contains(std::path::MAIN_SEPARATOR) {
            return from_file(name, symbols);
        }
        Err(Error::UnknownModel { name: name.to_string(), known: self.listing().into_iter().map(|(n, _)| n).collect() })
    }
}

/// Reads a model file from disk; its `default_preset` (if any) is selected.
pub fn from_file(path: &str, symbols: &SymbolTable) -> Result<Selection> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::Io { path: path.to_string(), reason: e.to_string() })?;
    let source = Source { name: path.to_string(), text };
    let model = Model::from_toml(&source, symbols)?;
    let preset = model.default_preset.as_deref().and_then(|p| model.preset(p)).cloned();
    let id = match &preset {
        Some(p) => format!("{}/{}", model.name, p.name),
        None => model.name.clone(),
    };
    Ok(Selection { model, preset, id })
}

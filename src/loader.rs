//! The ground floor of tally's facts: which data files exist, what each kind of file is, reading a
//! TOML file with its positions in errors, and the small containers the domains keep their facts
//! in. It knows no domain: each domain parses its own files (`SymbolTable::from_source`,
//! `Hardware::read`, …) and the aggregate of all facts is assembled above them (the facts floor).
//! Built-in files are embedded in the binary; a user data directory (`--data DIR` or
//! `TALLY_DATA`) adds to them or replaces them by name, read by the caller (the library reads no
//! files) and checked with the same positioned errors.

use crate::diagnostic::Source;
use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use std::sync::OnceLock;

/// Every built-in data file, as (path, text), in the order they are loaded: what a file refers to
/// comes before it (symbols and costs before models, units and precisions before hardware).
pub const BUILTIN: &[(&str, &str)] = &[
    ("derivations/defaults.toml", include_str!("../derivations/defaults.toml")),
    ("derivations/symbols.toml", include_str!("../derivations/symbols.toml")),
    ("derivations/units.toml", include_str!("../derivations/units.toml")),
    ("derivations/precisions.toml", include_str!("../derivations/precisions.toml")),
    ("derivations/layouts.toml", include_str!("../derivations/layouts.toml")),
    ("derivations/hardware.toml", include_str!("../derivations/hardware.toml")),
    ("derivations/aliases.toml", include_str!("../derivations/aliases.toml")),
    ("derivations/readings.toml", include_str!("../derivations/readings.toml")),
    ("derivations/ops.toml", include_str!("../derivations/ops.toml")),
    ("derivations/saves.toml", include_str!("../derivations/saves.toml")),
    ("derivations/zero.toml", include_str!("../derivations/zero.toml")),
    ("derivations/optimizers/adamw.toml", include_str!("../derivations/optimizers/adamw.toml")),
    ("derivations/optimizers/adam.toml", include_str!("../derivations/optimizers/adam.toml")),
    ("derivations/optimizers/sgd-momentum.toml", include_str!("../derivations/optimizers/sgd-momentum.toml")),
    ("derivations/optimizers/adafactor.toml", include_str!("../derivations/optimizers/adafactor.toml")),
    ("derivations/optimizers/adam-8bit.toml", include_str!("../derivations/optimizers/adam-8bit.toml")),
    ("derivations/models/cs336-2025.toml", include_str!("../derivations/models/cs336-2025.toml")),
    ("derivations/models/cs336-2024.toml", include_str!("../derivations/models/cs336-2024.toml")),
    ("derivations/models/gpt2.toml", include_str!("../derivations/models/gpt2.toml")),
    ("derivations/models/llama.toml", include_str!("../derivations/models/llama.toml")),
    ("derivations/hf/deepseek_v3.toml", include_str!("../derivations/hf/deepseek_v3.toml")),
    ("derivations/hf/gemma2.toml", include_str!("../derivations/hf/gemma2.toml")),
    ("derivations/hf/gemma3.toml", include_str!("../derivations/hf/gemma3.toml")),
    ("derivations/hf/gpt2.toml", include_str!("../derivations/hf/gpt2.toml")),
    ("derivations/hf/gpt_oss.toml", include_str!("../derivations/hf/gpt_oss.toml")),
    ("derivations/hf/llama.toml", include_str!("../derivations/hf/llama.toml")),
    ("derivations/hf/mistral.toml", include_str!("../derivations/hf/mistral.toml")),
    ("derivations/hf/mixtral.toml", include_str!("../derivations/hf/mixtral.toml")),
    ("derivations/hf/phi3.toml", include_str!("../derivations/hf/phi3.toml")),
    ("derivations/hf/qwen2.toml", include_str!("../derivations/hf/qwen2.toml")),
    ("derivations/hf/qwen2_moe.toml", include_str!("../derivations/hf/qwen2_moe.toml")),
    ("derivations/hf/qwen3.toml", include_str!("../derivations/hf/qwen3.toml")),
    ("derivations/hf/qwen3_moe.toml", include_str!("../derivations/hf/qwen3_moe.toml")),
    ("derivations/hf-presets/deepseek-v3.json", include_str!("../derivations/hf-presets/deepseek-v3.json")),
    ("derivations/hf-presets/gemma-2-9b.json", include_str!("../derivations/hf-presets/gemma-2-9b.json")),
    ("derivations/hf-presets/gemma-3-27b.json", include_str!("../derivations/hf-presets/gemma-3-27b.json")),
    ("derivations/hf-presets/gpt-oss-20b.json", include_str!("../derivations/hf-presets/gpt-oss-20b.json")),
    ("derivations/hf-presets/mistral-7b.json", include_str!("../derivations/hf-presets/mistral-7b.json")),
    ("derivations/hf-presets/mixtral-8x7b.json", include_str!("../derivations/hf-presets/mixtral-8x7b.json")),
    ("derivations/hf-presets/phi-3-mini.json", include_str!("../derivations/hf-presets/phi-3-mini.json")),
    ("derivations/hf-presets/qwen1.5-moe-a2.7b.json", include_str!("../derivations/hf-presets/qwen1.5-moe-a2.7b.json")),
    ("derivations/hf-presets/qwen2-7b.json", include_str!("../derivations/hf-presets/qwen2-7b.json")),
    ("derivations/hf-presets/qwen3-30b-a3b.json", include_str!("../derivations/hf-presets/qwen3-30b-a3b.json")),
    ("derivations/hf-presets/qwen3-8b.json", include_str!("../derivations/hf-presets/qwen3-8b.json")),
    ("derivations/cs336-2025.toml", include_str!("../derivations/cs336-2025.toml")),
    ("derivations/cs336-2024.toml", include_str!("../derivations/cs336-2024.toml")),
];

/// The text of the built-in file at `path` (`derivations/symbols.toml`). A missing one is a bug
/// in tally, caught by its tests.
pub fn builtin(path: &str) -> Source {
    let (name, text) =
        BUILTIN.iter().find(|(p, _)| *p == path).unwrap_or_else(|| panic!("no built-in data file {path}"));
    Source { name: name.to_string(), text: text.to_string() }
}

/// The built-in file at `path` read by `read`. tally's own files are checked by its tests, so one
/// that does not read is a bug in tally, not a user's mistake: it panics, naming the file.
pub fn read_builtin<T>(path: &str, read: impl FnOnce(&Source) -> Result<T>) -> T {
    let source = builtin(path);
    read(&source).unwrap_or_else(|e| panic!("built-in {} is invalid: {e}", source.name))
}

/// The built-in files of one kind, in load order.
pub fn builtin_of(kind: FileKind) -> impl Iterator<Item = Source> {
    BUILTIN
        .iter()
        .filter(move |(path, _)| kind_of(path) == Some(kind))
        .map(|(path, text)| Source { name: path.to_string(), text: text.to_string() })
}

/// The kind of a data file, from its path. The order is the order a user's files are read in
/// (precisions before hardware, so a new precision can have peaks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    /// What tally assumes when the user says nothing.
    Defaults,
    /// The vocabulary of formulas.
    Symbols,
    /// Number formats.
    Precisions,
    /// Storage layouts.
    Layouts,
    /// Accelerators.
    Hardware,
    /// Unit words.
    Units,
    /// Other names of quantities.
    Aliases,
    /// The audit's readings.
    Readings,
    /// What implementations keep for the backward pass.
    Saves,
    /// ZeRO conventions.
    Zero,
    /// Element-wise op costs.
    Costs,
    /// One optimizer.
    Optimizer,
    /// One architecture.
    Model,
    /// One Hugging Face config family.
    HfFamily,
    /// One model known by its Hugging Face config.
    HfPreset,
    /// One answer sheet.
    Sheet,
}

/// A file of a user's data directory: where it sits in the directory (`optimizers/lion.toml`),
/// which says what it holds, and its text, named as messages should name it (its full path).
#[derive(Clone, Debug)]
pub struct DataFile {
    /// Its path inside the data directory.
    pub place: String,
    /// Its text and display name.
    pub source: Source,
}

/// What a data file at `path` holds, or `None` for a file tally does not read.
pub fn kind_of(path: &str) -> Option<FileKind> {
    let file = path.rsplit('/').next().unwrap_or(path);
    let dir = path.rsplit('/').nth(1).unwrap_or("");
    Some(match (dir, file) {
        ("optimizers", f) if f.ends_with(".toml") => FileKind::Optimizer,
        ("models", f) if f.ends_with(".toml") => FileKind::Model,
        ("hf", f) if f.ends_with(".toml") => FileKind::HfFamily,
        ("hf-presets", f) if f.ends_with(".json") => FileKind::HfPreset,
        (_, "defaults.toml") => FileKind::Defaults,
        (_, "symbols.toml") => FileKind::Symbols,
        (_, "precisions.toml") => FileKind::Precisions,
        (_, "layouts.toml") => FileKind::Layouts,
        (_, "hardware.toml") => FileKind::Hardware,
        (_, "units.toml") => FileKind::Units,
        (_, "aliases.toml") => FileKind::Aliases,
        (_, "readings.toml") => FileKind::Readings,
        (_, "saves.toml") => FileKind::Saves,
        (_, "zero.toml") => FileKind::Zero,
        (_, "ops.toml") => FileKind::Costs,
        ("sheets", f) | (_, f) if f.ends_with(".toml") => FileKind::Sheet,
        _ => return None,
    })
}

/// Reads a TOML data file into `T`, with the file's positions in errors.
pub fn read_toml<T: DeserializeOwned>(source: &Source) -> Result<T> {
    toml::from_str(&source.text).map_err(|e| Error::at(source, e.span().unwrap_or(0..0), e.message()))
}

/// Puts `item` in `list`, replacing one of the same name (a user's file wins over a built-in one).
pub fn upsert<T>(list: &mut Vec<T>, item: T, name: impl Fn(&T) -> &str) {
    match list.iter().position(|x| name(x) == name(&item)) {
        Some(i) => list[i] = item,
        None => list.push(item),
    }
}

/// Facts read from their sources the first time they are asked for. Start-up reads only what
/// every run needs; the audit's readings and the Hugging Face families wait until they are used.
#[derive(Clone)]
pub struct Lazy<T> {
    sources: Vec<Source>,
    value: OnceLock<T>,
}

impl<T> Default for Lazy<T> {
    fn default() -> Self {
        Lazy { sources: Vec::new(), value: OnceLock::new() }
    }
}

impl<T> std::fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.sources.iter().map(|s| s.name.as_str()).collect();
        f.debug_struct("Lazy").field("sources", &names).field("read", &self.value.get().is_some()).finish()
    }
}

impl<T> Lazy<T> {
    /// Facts to be read from `sources`.
    pub fn of(sources: Vec<Source>) -> Lazy<T> {
        Lazy { sources, value: OnceLock::new() }
    }

    /// Adds a source, replacing one of the same file name (a user's file wins over a built-in one).
    pub fn add(&mut self, source: Source) {
        let file = |s: &Source| s.name.rsplit('/').next().unwrap_or(&s.name).to_string();
        self.sources.retain(|s| file(s) != file(&source));
        self.sources.push(source);
        self.value = OnceLock::new();
    }

    /// The facts, read by `read` from the sources on first use.
    pub fn get(&self, read: impl FnOnce(&[Source]) -> T) -> &T {
        self.value.get_or_init(|| read(&self.sources))
    }
}

/// The item of `list` called `name` (or one of its aliases), in any letter case; an error naming
/// the known ones otherwise.
pub fn named<'a, T>(
    list: &'a [T],
    what: &str,
    name: &str,
    id: impl Fn(&T) -> &String,
    aliases: impl Fn(&T) -> &[String],
) -> Result<&'a T> {
    let wanted = name.trim().to_lowercase();
    list.iter().find(|x| *id(x) == wanted || aliases(x).contains(&wanted)).ok_or_else(|| Error::Unknown {
        what: what.into(),
        name: name.to_string(),
        known: list.iter().map(|x| id(x).clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_file_has_a_kind() {
        for (path, _) in BUILTIN {
            assert!(kind_of(path).is_some(), "{path}");
        }
        assert_eq!(kind_of("optimizers/lion.toml"), Some(FileKind::Optimizer));
        assert_eq!(kind_of("my/hardware.toml"), Some(FileKind::Hardware));
        assert_eq!(builtin("derivations/units.toml").name, "derivations/units.toml");
    }
}

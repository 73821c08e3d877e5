//! Facts about the world, as data: the symbols, precisions, storage layouts, accelerators,
//! optimizers, unit words, quantity aliases, readings, element-wise op costs, architectures
//! and answer sheets, all read from `derivations/` (embedded in the binary) by this one loader.
//! A user data directory (`--data DIR` or `TALLY_DATA`) adds to them or replaces them by name
//! without recompiling; its files are read by the caller (the library reads no files) and checked
//! here with the same positioned errors as the built-in ones.

use crate::derivation::Sheet;
use crate::diagnostic::Source;
use crate::dim::{Precision, UnitWord, Units};
use crate::error::{Error, Result};
use crate::hardware::Hardware;
use crate::model::Model;
use crate::ops::Costs;
use crate::optimizer::Optimizer;
use crate::preset::Registry;
use crate::quantity::Layout;
use crate::symbol::SymbolTable;
use serde::de::DeserializeOwned;
use std::sync::OnceLock;

/// Every built-in data file, as (path, text), in the order they are loaded: what a file refers to
/// comes before it (symbols and costs before models, units and precisions before hardware).
const BUILTIN: &[(&str, &str)] = &[
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

/// Everything tally knows that is not a rule.
#[derive(Clone, Debug, Default)]
pub struct Data {
    /// The vocabulary of formulas.
    pub symbols: SymbolTable,
    /// Number formats.
    pub precisions: Vec<Precision>,
    /// How weights, gradients and optimizer state are stored.
    pub layouts: Vec<Layout>,
    /// Accelerators.
    pub hardware: Vec<Hardware>,
    /// Optimizers, each an update written as element-wise operations.
    pub optimizers: Vec<Optimizer>,
    /// Unit words.
    pub units: Units,
    /// Other names of quantities: (alias, quantity).
    pub aliases: Vec<(String, String)>,
    /// Named changes to a derivation under which the audit explains a claim (read when first
    /// asked for: only the audit needs them).
    readings: Lazy<Vec<crate::audit::readings::Reading>>,
    /// Element-wise FLOPs per element of each op kind.
    pub costs: Costs,
    /// What implementations keep for the backward pass.
    pub saves: std::sync::Arc<crate::ops::saves::SaveRules>,
    /// How ZeRO conventions split the model states.
    pub zero: Vec<crate::quantity::parallel::ZeroConvention>,
    /// Architectures and their size presets.
    pub models: Registry,
    /// Answer sheets.
    pub sheets: Vec<Sheet>,
    /// Hugging Face config families and the architecture files that model them (read when a
    /// config is first imported).
    hf_families: Lazy<Vec<crate::model::hf::Family>>,
    /// Models known by a Hugging Face config (`mixtral-8x7b`): name and the config's text.
    pub hf_presets: Vec<(String, Source)>,
}

/// The kind of a data file, from its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Symbols,
    Precisions,
    Layouts,
    Hardware,
    Units,
    Aliases,
    Readings,
    Saves,
    Zero,
    Costs,
    Optimizer,
    Model,
    HfFamily,
    HfPreset,
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

fn kind_of(path: &str) -> Option<Kind> {
    let file = path.rsplit('/').next().unwrap_or(path);
    let dir = path.rsplit('/').nth(1).unwrap_or("");
    Some(match (dir, file) {
        ("optimizers", f) if f.ends_with(".toml") => Kind::Optimizer,
        ("models", f) if f.ends_with(".toml") => Kind::Model,
        ("hf", f) if f.ends_with(".toml") => Kind::HfFamily,
        ("hf-presets", f) if f.ends_with(".json") => Kind::HfPreset,
        (_, "symbols.toml") => Kind::Symbols,
        (_, "precisions.toml") => Kind::Precisions,
        (_, "layouts.toml") => Kind::Layouts,
        (_, "hardware.toml") => Kind::Hardware,
        (_, "units.toml") => Kind::Units,
        (_, "aliases.toml") => Kind::Aliases,
        (_, "readings.toml") => Kind::Readings,
        (_, "saves.toml") => Kind::Saves,
        (_, "zero.toml") => Kind::Zero,
        (_, "ops.toml") => Kind::Costs,
        ("sheets", f) | (_, f) if f.ends_with(".toml") => Kind::Sheet,
        _ => return None,
    })
}

/// Reads a TOML data file into `T`, with the file's positions in errors.
pub fn read_toml<T: DeserializeOwned>(source: &Source) -> Result<T> {
    toml::from_str(&source.text).map_err(|e| Error::at(source, e.span().unwrap_or(0..0), e.message()))
}

/// Puts `item` in `list`, replacing one of the same name (a user's file wins over a built-in one).
fn upsert<T>(list: &mut Vec<T>, item: T, name: impl Fn(&T) -> &str) {
    match list.iter().position(|x| name(x) == name(&item)) {
        Some(i) => list[i] = item,
        None => list.push(item),
    }
}

/// Data read from its sources the first time it is asked for. Start-up reads only what every
/// run needs; the audit's readings and the Hugging Face families wait until they are used.
#[derive(Clone, Debug, Default)]
struct Lazy<T> {
    sources: Vec<Source>,
    value: OnceLock<T>,
}

impl<T> Lazy<T> {
    fn of(sources: Vec<Source>) -> Lazy<T> {
        Lazy { sources, value: OnceLock::new() }
    }

    /// Adds a source, replacing one of the same file name (a user's file wins over a built-in one).
    fn add(&mut self, source: Source) {
        let file = |s: &Source| s.name.rsplit('/').next().unwrap_or(&s.name).to_string();
        self.sources.retain(|s| file(s) != file(&source));
        self.sources.push(source);
        self.value = OnceLock::new();
    }

    fn get(&self, read: impl FnOnce(&[Source]) -> T) -> &T {
        self.value.get_or_init(|| read(&self.sources))
    }
}

/// The item of `list` called `name` (or one of its aliases), in any letter case; an error naming
/// the known ones otherwise.
fn named<'a, T>(
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

impl Data {
    /// The built-in data, read once. A broken built-in file is a bug in tally, caught by its tests.
    pub fn builtin() -> &'static Data {
        Data::shared()
    }

    /// The built-in data, shared: a session holds it without copying.
    pub fn shared() -> &'static std::sync::Arc<Data> {
        static BUILT: OnceLock<std::sync::Arc<Data>> = OnceLock::new();
        BUILT.get_or_init(|| {
            let mut data = Data::default();
            for (path, text) in BUILTIN {
                let source = Source { name: path.to_string(), text: text.to_string() };
                let kind = kind_of(path).unwrap_or_else(|| panic!("built-in {path} has no kind"));
                data.add(kind, &source, true).unwrap_or_else(|e| panic!("built-in {path} is invalid: {e}"));
            }
            std::sync::Arc::new(data)
        })
    }

    /// The built-in data with a user's files added. Each file's place in the data directory
    /// (`hardware.toml`, `precisions.toml`, `layouts.toml`, `optimizers/NAME.toml`,
    /// `models/NAME.toml`) says what it holds; its source name is what messages show.
    pub fn with_user_files(files: &[DataFile]) -> Result<Data> {
        let mut data = Data::builtin().clone();
        let mut sorted: Vec<(Option<Kind>, &DataFile)> = files.iter().map(|f| (kind_of(&f.place), f)).collect();
        // Precisions before hardware, so a new precision can have peaks.
        sorted.sort_by_key(|(kind, _)| kind.map(|k| k as u8).unwrap_or(u8::MAX));
        for (kind, file) in sorted {
            match kind {
                Some(Kind::Symbols | Kind::Units | Kind::Costs | Kind::Aliases | Kind::Saves) | None => {
                    return Err(Error::Usage(format!(
                        "`{}` is not a file a data directory can hold: use hardware.toml, precisions.toml, layouts.toml, optimizers/NAME.toml or models/NAME.toml",
                        file.source.name
                    )));
                }
                Some(kind) => data.add(kind, &file.source, false)?,
            }
        }
        Ok(data)
    }

    /// Reads one data file into the collection it belongs to; `built_in` for tally's own files
    /// (read lazily where they can be: they are tested), not a user's (read and checked now).
    fn add(&mut self, kind: Kind, source: &Source, built_in: bool) -> Result<()> {
        match Some(kind) {
            Some(Kind::Symbols) => self.symbols = SymbolTable::from_source(source)?,
            Some(Kind::Precisions) => {
                for p in Precision::read(source)? {
                    upsert(&mut self.precisions, p, |p| &p.name);
                }
            }
            Some(Kind::Layouts) => {
                for l in Layout::read(source, &self.precisions)? {
                    upsert(&mut self.layouts, l, |l| &l.name);
                }
            }
            Some(Kind::Hardware) => {
                for h in Hardware::read(source, &self.precisions, &self.units)? {
                    upsert(&mut self.hardware, h, |h| &h.name);
                }
            }
            Some(Kind::Units) => self.units = Units::read(source)?,
            Some(Kind::Aliases) => self.aliases = crate::quantity::read_aliases(source)?,
            Some(Kind::Readings) => self.readings = Lazy::of(vec![source.clone()]),
            Some(Kind::Costs) => self.costs = Costs::read(source)?,
            Some(Kind::Zero) => self.zero = crate::quantity::parallel::ZeroConvention::read(source)?,
            Some(Kind::Saves) => self.saves = std::sync::Arc::new(crate::ops::saves::SaveRules::read(source)?),
            Some(Kind::Optimizer) => upsert(&mut self.optimizers, Optimizer::read(source)?, |o| &o.name),
            // Built-in architectures are read when first used (one run needs one of them).
            Some(Kind::Model) if built_in => self.models.add_builtin(source.clone()),
            Some(Kind::Model) => {
                let model = Model::from_toml(source, self)?;
                self.models.add(model);
            }
            Some(Kind::HfFamily) => {
                // A user's family file is read now, so that a broken one is refused at once.
                if !built_in {
                    crate::model::hf::Family::read(source)?;
                }
                self.hf_families.add(source.clone());
            }
            Some(Kind::HfPreset) => {
                let file = source.name.rsplit('/').next().unwrap_or(&source.name);
                let name = file.trim_end_matches(".json").to_string();
                upsert(&mut self.hf_presets, (name, source.clone()), |(n, _)| n);
            }
            Some(Kind::Sheet) if built_in => {
                let sheet = Sheet::built_in(source);
                upsert(&mut self.sheets, sheet, |s| s.name());
            }
            Some(Kind::Sheet) => {
                if let Some(sheet) = Sheet::from_toml(source) {
                    let sheet = sheet?;
                    upsert(&mut self.sheets, sheet, |s| s.name());
                }
            }
            None => return Err(Error::Usage(format!("`{}` is not a data file tally knows", source.name))),
        }
        Ok(())
    }

    /// The audit's readings. The built-in file is checked by tests; a broken one is a bug.
    pub fn readings(&self) -> &[crate::audit::readings::Reading] {
        self.readings.get(|sources| {
            sources
                .iter()
                .flat_map(|s| {
                    crate::audit::readings::Reading::read(s, self)
                        .unwrap_or_else(|e| panic!("built-in {} is invalid: {e}", s.name))
                })
                .collect()
        })
    }

    /// The Hugging Face config families (user files were checked when the data was read).
    pub fn hf_families(&self) -> &[crate::model::hf::Family] {
        self.hf_families.get(|sources| {
            sources
                .iter()
                .map(|s| {
                    crate::model::hf::Family::read(s)
                        .unwrap_or_else(|e| panic!("family file {} is invalid: {e}", s.name))
                })
                .collect()
        })
    }

    /// A precision by name (any letter case).
    pub fn precision(&self, name: &str) -> Result<&Precision> {
        named(&self.precisions, "precision", name, |p| &p.name, |_| &[])
    }

    /// A storage layout by name.
    pub fn layout(&self, name: &str) -> Result<&Layout> {
        named(&self.layouts, "layout", name, |l| &l.name, |_| &[])
    }

    /// An accelerator by name or alias, in any letter case.
    pub fn hardware(&self, name: &str) -> Result<&Hardware> {
        named(&self.hardware, "hardware", name, |h| &h.name, |h| &h.aliases)
    }

    /// An optimizer by name.
    pub fn optimizer(&self, name: &str) -> Result<&Optimizer> {
        named(&self.optimizers, "optimizer", name, |o| &o.name, |_| &[])
    }

    /// A built-in answer sheet by name (any letter case).
    pub fn sheet(&self, name: &str) -> Option<&Sheet> {
        let wanted = name.trim().to_lowercase();
        self.sheets.iter().find(|s| s.name() == wanted)
    }

    /// What a unit word stands for; `claims` leaves out words that clash with symbols there.
    pub fn unit(&self, word: &str, claims: bool) -> Option<&UnitWord> {
        self.units.find(word, claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_file_loads_and_knows_its_kind() {
        let data = Data::builtin();
        assert!(data.precision("fp8").is_ok_and(|p| p.bytes == 1));
        assert!(data.hardware("H100").is_ok_and(|h| h.peak.contains_key("fp8")));
        assert!(["adamw", "adam", "sgd-momentum", "adafactor", "adam-8bit"].iter().all(|o| data.optimizer(o).is_ok()));
        assert!(data.sheet("cs336-2025").is_some());
        assert_eq!(kind_of("optimizers/lion.toml"), Some(Kind::Optimizer));
        assert_eq!(kind_of("my/hardware.toml"), Some(Kind::Hardware));
    }

    #[test]
    fn a_user_file_of_a_kind_that_cannot_be_overridden_is_refused() {
        let source = Source { name: "/home/u/tally/symbols.toml".into(), text: String::new() };
        assert!(Data::with_user_files(&[DataFile { place: "symbols.toml".into(), source }]).is_err());
    }
}

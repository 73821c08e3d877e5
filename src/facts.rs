//! Everything tally knows that is not a rule, assembled: the symbols, precisions, storage
//! layouts, accelerators, optimizers, unit words, quantity aliases, readings, element-wise op
//! costs, architectures and answer sheets. The files are found by `crate::loader`; each domain
//! reads its own; this floor, above the domains, puts them together and adds a user's data
//! directory to the built-in facts.

use crate::diagnostic::Source;
use crate::dim::{Precision, UnitWord, Units};
use crate::error::{Error, Result};
use crate::hardware::Hardware;
use crate::loader::{self, DataFile, FileKind, Lazy, named, upsert};
use crate::model::hf::Family;
use crate::model::{Model, ModelFacts};
use crate::ops::Costs;
use crate::ops::tensor_saves::SaveRules;
use crate::optimizer::Optimizer;
use crate::preset::Registry;
use crate::quantity::Layout;
use crate::quantity::parallel::ZeroConvention;
use crate::sheet::Sheet;
use crate::symbol::SymbolTable;
use std::any::Any;
use std::sync::{Arc, OnceLock};

/// Facts parsed by a floor above this one, which this one cannot name (the audit's readings):
/// that floor reads them on first use and downcasts them back.
pub type Opaque = Arc<dyn Any + Send + Sync>;

/// Everything tally knows that is not a rule.
#[derive(Clone, Debug, Default)]
pub struct Facts {
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
    /// Named changes to a derivation under which the audit explains a claim: parsed by the audit
    /// when first asked for (only the audit needs them).
    pub readings: Lazy<Opaque>,
    /// Element-wise FLOPs per element of each op kind.
    pub costs: Costs,
    /// What implementations keep for the backward pass.
    pub saves: Arc<SaveRules>,
    /// How ZeRO conventions split the model states.
    pub zero: Vec<ZeroConvention>,
    /// Architectures and their size presets.
    pub models: Registry,
    /// Answer sheets.
    pub sheets: Vec<Sheet>,
    /// Hugging Face config families and the architecture files that model them (read when a
    /// config is first imported).
    hf_families: Lazy<Vec<Family>>,
    /// Models known by a Hugging Face config (`mixtral-8x7b`): name and the config's text.
    pub hf_presets: Vec<(String, Source)>,
}

impl Facts {
    /// The built-in facts, read once. A broken built-in file is a bug in tally, caught by its tests.
    pub fn builtin() -> &'static Facts {
        Facts::shared()
    }

    /// The built-in facts, shared: a session holds them without copying.
    pub fn shared() -> &'static Arc<Facts> {
        static BUILT: OnceLock<Arc<Facts>> = OnceLock::new();
        BUILT.get_or_init(|| {
            let mut facts = Facts {
                symbols: SymbolTable::builtin().clone(),
                units: Units::builtin().clone(),
                costs: Costs::builtin(),
                saves: SaveRules::builtin().clone(),
                models: Registry::builtin().clone(),
                ..Facts::default()
            };
            for (path, text) in loader::BUILTIN {
                let source = Source { name: path.to_string(), text: text.to_string() };
                let kind = loader::kind_of(path).unwrap_or_else(|| panic!("built-in {path} has no kind"));
                facts.add(kind, &source, true).unwrap_or_else(|e| panic!("built-in {path} is invalid: {e}"));
            }
            Arc::new(facts)
        })
    }

    /// The built-in facts with a user's files added. Each file's place in the data directory
    /// (`hardware.toml`, `precisions.toml`, `layouts.toml`, `optimizers/NAME.toml`,
    /// `models/NAME.toml`) says what it holds; its source name is what messages show.
    pub fn with_user_files(files: &[DataFile]) -> Result<Facts> {
        let mut facts = Facts::builtin().clone();
        let mut sorted: Vec<(Option<FileKind>, &DataFile)> =
            files.iter().map(|f| (loader::kind_of(&f.place), f)).collect();
        // Precisions before hardware, so a new precision can have peaks; unknown files last.
        sorted.sort_by_key(|(kind, _)| (kind.is_none(), *kind));
        for (kind, file) in sorted {
            match kind {
                Some(
                    FileKind::Defaults
                    | FileKind::Symbols
                    | FileKind::Units
                    | FileKind::Costs
                    | FileKind::Aliases
                    | FileKind::Saves,
                )
                | None => {
                    return Err(Error::Usage(format!(
                        "`{}` is not a file a data directory can hold: use hardware.toml, precisions.toml, layouts.toml, optimizers/NAME.toml or models/NAME.toml",
                        file.source.name
                    )));
                }
                Some(kind) => facts.add(kind, &file.source, false)?,
            }
        }
        Ok(facts)
    }

    /// What a model file is read against: the vocabulary, op costs, save rules and the
    /// architectures it may extend.
    pub fn model_facts(&self) -> ModelFacts<'_> {
        ModelFacts { symbols: &self.symbols, costs: self.costs, saves: self.saves.clone(), bases: &self.models }
    }

    /// Reads one data file into the collection it belongs to; `built_in` for tally's own files
    /// (read lazily where they can be: they are tested), not a user's (read and checked now).
    fn add(&mut self, kind: FileKind, source: &Source, built_in: bool) -> Result<()> {
        match kind {
            // The defaults, vocabulary, units, op costs, save rules and built-in architectures are each
            // domain's own built-in facts, taken above; a data directory cannot replace them.
            FileKind::Defaults | FileKind::Symbols | FileKind::Units | FileKind::Costs | FileKind::Saves => {}
            FileKind::Model if built_in => {}
            FileKind::Precisions => {
                for p in Precision::read(source)? {
                    upsert(&mut self.precisions, p, |p| &p.name);
                }
            }
            FileKind::Layouts => {
                for l in Layout::read(source, &self.precisions)? {
                    upsert(&mut self.layouts, l, |l| &l.name);
                }
            }
            FileKind::Hardware => {
                for h in Hardware::read(source, &self.precisions, &self.units)? {
                    upsert(&mut self.hardware, h, |h| &h.name);
                }
            }
            FileKind::Aliases => self.aliases = crate::quantity::read_aliases(source)?,
            FileKind::Readings => self.readings = Lazy::of(vec![source.clone()]),
            FileKind::Zero => self.zero = ZeroConvention::read(source)?,
            FileKind::Optimizer => upsert(&mut self.optimizers, Optimizer::read(source)?, |o| &o.name),
            FileKind::Model => {
                let model = Model::from_toml(source, &self.model_facts())?;
                self.models.add(model);
            }
            FileKind::HfFamily => {
                // A user's family file is read now, so that a broken one is refused at once.
                if !built_in {
                    Family::read(source)?;
                }
                self.hf_families.add(source.clone());
            }
            FileKind::HfPreset => {
                let file = source.name.rsplit('/').next().unwrap_or(&source.name);
                let name = file.trim_end_matches(".json").to_string();
                upsert(&mut self.hf_presets, (name, source.clone()), |(n, _)| n);
            }
            FileKind::Sheet if built_in => {
                let sheet = Sheet::built_in(source);
                upsert(&mut self.sheets, sheet, |s| s.name());
            }
            FileKind::Sheet => {
                if let Some(sheet) = Sheet::from_toml(source) {
                    let sheet = sheet?;
                    upsert(&mut self.sheets, sheet, |s| s.name());
                }
            }
        }
        Ok(())
    }

    /// The Hugging Face config families (user files were checked when the facts were read).
    pub fn hf_families(&self) -> &[Family] {
        self.hf_families.get(|sources| {
            sources
                .iter()
                .map(|s| Family::read(s).unwrap_or_else(|e| panic!("family file {} is invalid: {e}", s.name)))
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
    fn every_built_in_file_loads() {
        let facts = Facts::builtin();
        assert!(facts.precision("fp8").is_ok_and(|p| p.bytes == 1));
        assert!(facts.hardware("H100").is_ok_and(|h| h.peak.contains_key("fp8")));
        assert!(["adamw", "adam", "sgd-momentum", "adafactor", "adam-8bit"].iter().all(|o| facts.optimizer(o).is_ok()));
        assert!(facts.sheet("cs336-2025").is_some());
        assert!(!facts.models.architectures().is_empty());
    }

    #[test]
    fn a_user_file_of_a_kind_that_cannot_be_overridden_is_refused() {
        let source = Source { name: "/home/u/tally/symbols.toml".into(), text: String::new() };
        assert!(Facts::with_user_files(&[DataFile { place: "symbols.toml".into(), source }]).is_err());
    }
}

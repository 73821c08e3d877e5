//! Architectures as data: a model file (TOML) becomes stages of [`Op`]s with symbolic sizes, size
//! presets, default values and relations such as F = 4H ([`reader`], which also applies
//! `extends`). Binding a preset and `--set` values gives exact values for every symbol, checked to
//! be positive whole numbers wherever a size is needed ([`bind`]).

mod bind;
pub mod hf;
mod reader;
mod transform;

pub use reader::OP_KINDS;
pub use transform::ModelChange;

use crate::algebra::{Expr, Rational};
use crate::diagnostic::Source;
use crate::ops::{Costs, Op};
use num_bigint::BigInt;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::Arc;

pub use crate::ops::STAGE_INPUT;

/// What a model file is read against: the vocabulary its formulas use, the op costs and save
/// rules its ops carry, and the architectures it may `extends`.
pub struct ModelFacts<'a> {
    /// The vocabulary of formulas.
    pub symbols: &'a crate::symbol::SymbolTable,
    /// Element-wise FLOPs per element of each op kind.
    pub costs: Costs,
    /// What implementations keep for the backward pass.
    pub saves: Arc<crate::ops::tensor_saves::SaveRules>,
    /// The architectures a file may extend.
    pub bases: &'a dyn Bases,
}

impl<'a> ModelFacts<'a> {
    /// The built-in vocabulary, costs and save rules, with `bases` to extend.
    pub fn builtin(bases: &'a dyn Bases) -> ModelFacts<'a> {
        ModelFacts {
            symbols: crate::symbol::SymbolTable::builtin(),
            costs: Costs::builtin(),
            saves: crate::ops::tensor_saves::SaveRules::builtin().clone(),
            bases,
        }
    }
}

/// The architectures a model file can `extends`, by name (the registry of architectures, which
/// sits above the model and is known here only by this).
pub trait Bases {
    /// An architecture by exact name.
    fn architecture(&self, name: &str) -> Option<&Model>;
    /// Every architecture's name.
    fn architectures(&self) -> Vec<String>;
}

/// A run of ops repeated `repeat` times (the L Transformer blocks).
#[derive(Clone, Debug)]
pub struct Stage {
    /// Display name (`Transformer block`).
    pub name: String,
    /// How many times it runs (1 or L).
    pub repeat: Expr,
    /// Its ops in order.
    pub ops: Vec<Op>,
}

/// Named sizes for an architecture (GPT-2 XL).
#[derive(Clone, Debug)]
pub struct Preset {
    /// Name used on the command line.
    pub name: String,
    /// One line for listings.
    pub summary: String,
    /// Symbol (short name) → value.
    pub sizes: BTreeMap<String, BigInt>,
}

/// An architecture read from a model file.
#[derive(Clone, Debug)]
pub struct Model {
    /// Architecture name (`cs336-2025`).
    pub name: String,
    /// One line describing it.
    pub summary: String,
    /// The preset used when none is named.
    pub default_preset: Option<String>,
    /// Values used when neither a preset nor `--set` gives one.
    pub defaults: BTreeMap<String, BigInt>,
    /// Symbols defined by others unless set: F = 4H.
    pub relations: Vec<(String, Expr)>,
    /// Component id → display name, in display order.
    pub components: Vec<(String, String)>,
    /// Size presets in file order.
    pub presets: Vec<Preset>,
    /// The stages in execution order.
    pub stages: Vec<Stage>,
    /// Every size formula of the file with where it is written, checked when sizes are bound.
    pub sites: Vec<SizeSite>,
    /// Where each relation is written (same order as `relations`).
    pub relation_spans: Vec<(Arc<Source>, Range<usize>)>,
    /// The file the model was read from, for pointing at a place in it.
    pub source: Arc<Source>,
    /// Element-wise FLOPs per element of each op kind (from the data it was read with).
    pub costs: Costs,
    /// What implementations keep for the backward pass (from the data it was read with).
    pub saves: Arc<crate::ops::tensor_saves::SaveRules>,
    /// The architecture this one extends, if any.
    pub extends: Option<String>,
}

/// What a size formula is for, which decides what values it may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteKind {
    /// A tensor dimension of an op (rows, width, in, out, heads, head_dim, vocab).
    Dimension,
    /// How many times a stage runs.
    Repeat,
    /// Elements an op caches per token for inference.
    KvCache,
    /// A formula the file requires to be whole (H/A).
    WholeNumber,
}

/// One size formula in a model file.
#[derive(Clone, Debug)]
pub struct SizeSite {
    /// What it sizes, in words (`op `W_Q` in `Transformer block`: out`).
    pub what: String,
    /// The formula.
    pub expr: Expr,
    /// Where it is written (the string, quotes included).
    pub span: Range<usize>,
    /// The file it is written in (a model that extends another has sites in both).
    pub source: Arc<Source>,
    /// The op it sizes (None for a stage's repeat or a whole-number formula) and the field.
    pub field: (Option<String>, &'static str),
    /// What it is for.
    pub kind: SiteKind,
}

/// Where a symbol's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The architecture's default.
    Default,
    /// A size preset.
    Preset(String),
    /// `--set` on the command line.
    Set,
    /// A command-line option or its default (`--steps`, `--mfu`, the hardware's peak).
    Option(String),
    /// A relation such as F = 4H.
    Relation(Expr),
}

impl Origin {
    /// Where a value came from, in words (`--set`, `preset gpt2-xl`).
    pub fn words(&self) -> String {
        match self {
            Origin::Default => "architecture default".into(),
            Origin::Preset(p) => format!("preset {p}"),
            Origin::Set => "--set".into(),
            Origin::Option(o) => o.clone(),
            Origin::Relation(e) => format!("from {}", crate::algebra::print(e, crate::algebra::Notation::Unicode)),
        }
    }
}

/// One bound symbol.
#[derive(Clone, Debug)]
pub struct Binding {
    /// Short name.
    pub symbol: String,
    /// Exact value.
    pub value: Rational,
    /// Where it came from.
    pub origin: Origin,
}

/// Every bound symbol, in vocabulary order.
#[derive(Clone, Debug, Default)]
pub struct Bindings {
    /// The bindings in vocabulary order.
    pub entries: Vec<Binding>,
}

impl Bindings {
    /// Symbol → value, for evaluation.
    pub fn values(&self) -> BTreeMap<String, Rational> {
        self.entries.iter().map(|b| (b.symbol.clone(), b.value.clone())).collect()
    }

    /// The value of one symbol.
    pub fn get(&self, symbol: &str) -> Option<&Rational> {
        self.entries.iter().find(|b| b.symbol == symbol).map(|b| &b.value)
    }
}

impl Model {
    /// The preset of that name.
    pub fn preset(&self, name: &str) -> Option<&Preset> {
        self.presets.iter().find(|p| p.name == name)
    }

    /// Every symbol the model's sizes are written in (relations included where they feed one).
    pub fn symbols_used(&self) -> BTreeSet<String> {
        let mut used: BTreeSet<String> = self.sites.iter().flat_map(|site| site.expr.symbols()).collect();
        // The op rules add their own axes (B·T tokens per op).
        for op in self.stages.iter().flat_map(|s| &s.ops) {
            let rules = [op.params(), op.matmul_flops(), op.elementwise_flops(&self.costs), op.output_elements()];
            used.extend(rules.iter().flat_map(Expr::symbols));
        }
        loop {
            let before = used.len();
            for (symbol, formula) in &self.relations {
                if used.contains(symbol) {
                    used.extend(formula.symbols());
                }
            }
            if used.len() == before {
                return used;
            }
        }
    }
}

//! The vocabulary of formulas: each symbol's short name (shown), long name (accepted everywhere) and
//! meaning, read from `derivations/symbols.toml`. Also decides how closed forms are laid out, since
//! that is a property of the symbols (which are per-token axes, which one counts layers).

use crate::algebra::{Expr, LayoutRules, Rational, parse_decimal};
use crate::diagnostic::Source;
use crate::error::{Error, Result};
use num_traits::Signed;
use serde::Deserialize;

/// One symbol of the vocabulary.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolDef {
    /// Name shown in formulas (`H`).
    pub short: String,
    /// Name accepted as a synonym (`d_model`).
    pub long: String,
    /// Other names people write for it (`hidden_size`, `n_embd`): Hugging Face config keys,
    /// nanoGPT's and Megatron's names.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// What it counts, for tables and help.
    pub meaning: String,
    /// A per-token axis (B, T): its common power is pulled in front of closed forms.
    #[serde(default)]
    pub axis: bool,
    /// Closed forms are collected by this symbol (L).
    #[serde(default)]
    pub collect: bool,
    /// Values must be whole numbers (sizes); `false` for fractions such as MFU.
    #[serde(default = "yes")]
    pub whole: bool,
    /// The largest value that makes sense: an exact decimal (1 for a utilisation), or another
    /// symbol (a token runs at most E of the E experts: `k` is at most `E`).
    #[serde(default)]
    pub at_most: Option<String>,
    /// Used by the training derivation whatever the model (batch, steps, utilisation, peak), so
    /// `--set` may give it even when no size of the model is written in it.
    #[serde(default)]
    pub training: bool,
    /// What the rules use it for, if anything (the batch size, the context length, …).
    #[serde(default)]
    pub role: Option<Role>,
    /// Its unit when it has one (`FLOP/s` for a peak throughput), in unit words joined by `/`
    /// and `·`; sizes and counts have none.
    #[serde(default)]
    pub unit: Option<String>,
    /// What a claim's symbol stands for when the model does not have it, as a formula in other
    /// symbols (`D` is `H/A` for a model without a head width of its own).
    #[serde(default)]
    pub otherwise: Option<String>,
}

/// What tally's own rules use a symbol for: ops act on a batch of sequences of tokens, closed
/// forms are collected by the layer count, training time divides by utilisation and peak. The
/// rules name roles, never letters; `derivations/symbols.toml` says which symbol plays each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sequences per batch (B).
    Batch,
    /// Tokens per sequence (T).
    Context,
    /// Transformer blocks (L).
    Layers,
    /// Model width (H).
    Width,
    /// Optimizer steps (S).
    Steps,
    /// Model FLOPs utilisation (U).
    Mfu,
    /// Peak FLOP/s (R).
    Peak,
    /// A sliding-window layer's window (W).
    Window,
    /// Tokens a sliding-window layer attends to: min(T, W), bound from T and W (T_w).
    WindowSpan,
    /// Tokens transformers' dynamic cache keeps for a sliding layer: min(T, W − 1) (T_h).
    WindowCache,
    /// The data-parallel degree (d).
    DataParallel,
    /// The tensor-parallel degree (t).
    TensorParallel,
    /// The pipeline-parallel degree (p).
    PipelineParallel,
    /// The context-parallel degree (c).
    ContextParallel,
    /// Micro-batches per step and pipeline (m).
    MicroBatches,
    /// Sequences per micro-batch (b).
    MicroBatchSize,
    /// Virtual pipeline stages per GPU (v).
    VirtualStages,
}

impl Role {
    /// The parallel degrees, in the order layouts are written: d, t, p, c.
    pub const GPU_DEGREES: [Role; 4] =
        [Role::DataParallel, Role::TensorParallel, Role::PipelineParallel, Role::ContextParallel];
    /// Every degree of a parallel layout: the four above, then m, v, b.
    pub const DEGREES: [Role; 7] = [
        Role::DataParallel,
        Role::TensorParallel,
        Role::PipelineParallel,
        Role::ContextParallel,
        Role::MicroBatches,
        Role::VirtualStages,
        Role::MicroBatchSize,
    ];
}

impl Role {
    /// The symbol that plays this role in the built-in vocabulary.
    pub fn symbol(self) -> &'static str {
        SymbolTable::builtin().with_role(self)
    }

    /// That symbol as an expression.
    pub fn expr(self) -> Expr {
        Expr::sym(self.symbol())
    }
}

impl SymbolDef {
    /// The symbol this one may not exceed, when its bound is another symbol.
    pub fn bound_symbol(&self) -> Option<&str> {
        self.at_most.as_deref().filter(|b| parse_decimal(b).is_none())
    }

    /// Whether `value` is one this symbol can take: positive, whole where it must be, and at most
    /// its bound; the reason in words otherwise.
    pub fn check(&self, value: &Rational) -> std::result::Result<(), String> {
        if !value.is_positive() {
            return Err(if self.whole { "must be a positive whole number" } else { "must be positive" }.into());
        }
        if self.whole && !value.is_integer() {
            return Err("must be a whole number".into());
        }
        if let Some(limit) = self.at_most.as_deref().and_then(parse_decimal)
            && value > &limit
        {
            return Err(format!("must be at most {limit} ({})", self.meaning));
        }
        Ok(())
    }
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SymbolFile {
    symbol: Vec<SymbolDef>,
}

/// All known symbols, in writing order.
#[derive(Clone, Debug, Default)]
pub struct SymbolTable {
    symbols: Vec<SymbolDef>,
}

impl SymbolTable {
    /// The built-in vocabulary.
    pub fn builtin() -> &'static SymbolTable {
        static BUILT: std::sync::OnceLock<SymbolTable> = std::sync::OnceLock::new();
        BUILT.get_or_init(|| crate::loader::read_builtin("derivations/symbols.toml", SymbolTable::from_source))
    }

    /// Reads a symbols file; every role must be played by exactly one symbol.
    pub fn from_source(source: &Source) -> Result<SymbolTable> {
        let file: SymbolFile = crate::loader::read_toml(source)?;
        let roles = [
            Role::Batch,
            Role::Context,
            Role::Layers,
            Role::Width,
            Role::Steps,
            Role::Mfu,
            Role::Peak,
            Role::Window,
            Role::WindowSpan,
            Role::WindowCache,
            Role::DataParallel,
            Role::TensorParallel,
            Role::PipelineParallel,
            Role::ContextParallel,
            Role::MicroBatches,
            Role::MicroBatchSize,
            Role::VirtualStages,
        ];
        for role in roles {
            if file.symbol.iter().filter(|s| s.role == Some(role)).count() != 1 {
                return Err(Error::at(source, 0..0, format!("exactly one symbol must have role {role:?}")));
            }
        }
        Ok(SymbolTable { symbols: file.symbol })
    }

    /// The short name of the symbol that plays `role`.
    pub fn with_role(&self, role: Role) -> &str {
        self.symbols.iter().find(|s| s.role == Some(role)).map(|s| s.short.as_str()).unwrap_or("?")
    }

    /// Looks a symbol up by short or long name.
    pub fn get(&self, name: &str) -> Option<&SymbolDef> {
        self.symbols
            .iter()
            .find(|s| s.short == name || s.long == name)
            .or_else(|| self.symbols.iter().find(|s| s.aliases.iter().any(|a| a == name)))
    }

    /// All symbols in writing order.
    pub fn all(&self) -> &[SymbolDef] {
        &self.symbols
    }

    /// A resolver for [`crate::algebra::parse`] that accepts short and long names.
    pub fn resolve(&self, name: &str) -> std::result::Result<Expr, String> {
        match self.get(name) {
            Some(def) => Ok(Expr::sym(&def.short)),
            None => Err(format!(
                "unknown symbol `{name}`; known symbols: {}",
                self.symbols.iter().map(|s| format!("{} ({})", s.short, s.long)).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// Layout rules for closed forms in this vocabulary.
    pub fn layout(&self) -> LayoutRules {
        LayoutRules {
            rank: self.symbols.iter().map(|s| s.short.clone()).collect(),
            factor_axes: self.symbols.iter().filter(|s| s.axis).map(|s| s.short.clone()).collect(),
            collect: self.symbols.iter().filter(|s| s.collect).map(|s| s.short.clone()).collect(),
            split_by: None,
        }
    }
}

//! The vocabulary of formulas: each symbol's short name (shown), long name (accepted everywhere) and
//! meaning, read from `derivations/symbols.toml`. Also decides how closed forms are laid out, since
//! that is a property of the symbols (which are per-token axes, which one counts layers).

use crate::algebra::{Expr, LayoutRules, Rational, parse_decimal};
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
    /// The largest value that makes sense (1 for a utilisation), as an exact decimal.
    #[serde(default)]
    pub at_most: Option<String>,
    /// Used by the training derivation whatever the model (batch, steps, utilisation, peak), so
    /// `--set` may give it even when no size of the model is written in it.
    #[serde(default)]
    pub training: bool,
}

impl SymbolDef {
    /// Whether `value` is one this symbol can take: positive, whole where it must be, and at most
    /// its bound; the reason in words otherwise.
    pub fn check(&self, value: &Rational) -> Result<(), String> {
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
#[derive(Clone, Debug)]
pub struct SymbolTable {
    symbols: Vec<SymbolDef>,
}

const SYMBOLS_TOML: &str = include_str!("../derivations/symbols.toml");

impl SymbolTable {
    /// The built-in vocabulary.
    pub fn builtin() -> SymbolTable {
        let file: SymbolFile =
            toml::from_str(SYMBOLS_TOML).unwrap_or_else(|e| panic!("derivations/symbols.toml is invalid: {e}"));
        SymbolTable { symbols: file.symbol }
    }

    /// Looks a symbol up by short or long name.
    pub fn get(&self, name: &str) -> Option<&SymbolDef> {
        self.symbols.iter().find(|s| s.short == name || s.long == name)
    }

    /// All symbols in writing order.
    pub fn all(&self) -> &[SymbolDef] {
        &self.symbols
    }

    /// A resolver for [`crate::algebra::parse`] that accepts short and long names.
    pub fn resolve(&self, name: &str) -> Result<Expr, String> {
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

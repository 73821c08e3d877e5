//! Importing a Hugging Face `config.json`. Each family's architecture file (`derivations/hf/NAME.toml`)
//! is a tally model file with an `[hf]` table saying which config keys give which sizes, which key
//! ties the LM head, and how the layers divide into kinds (sliding-window or full attention, dense
//! or mixture-of-experts feed-forward). The import binds those sizes from the config, keeps the
//! stages whose layers exist, and writes the result as a tally model file whose one preset is the
//! config — the same file `tally import` saves for a user to edit.

use crate::algebra::{self, Rational};
use crate::diagnostic::Source;
use crate::error::{Error, Result};
use crate::symbol::SymbolTable;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

mod layers;

use layers::LayerRule;

/// One family of Hugging Face configs and the architecture file that models it.
#[derive(Clone, Debug)]
pub struct Family {
    /// The family's name (`mixtral`).
    pub name: String,
    /// The `model_type` values it reads.
    pub model_types: Vec<String>,
    spec: Spec,
    source: Source,
}

/// The `[hf]` table of a family file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    model_types: Vec<String>,
    /// The key of the language model's own config inside a multimodal wrapper (`text_config`).
    #[serde(default)]
    text_config: Option<String>,
    /// Symbol → the config key that gives it.
    sizes: BTreeMap<String, SizeKey>,
    /// The key that says whether the LM head shares the embedding's weights.
    #[serde(default)]
    tie: Option<Tie>,
    /// Which layers have sliding-window attention (their stages have `window`).
    #[serde(default)]
    sliding: Option<LayerRule>,
    /// Which layers have a mixture of experts.
    #[serde(default)]
    experts: Option<LayerRule>,
}

/// A size's config key: one key, or keys tried in order with a default formula over other sizes.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum SizeKey {
    Key(String),
    Keys {
        keys: Vec<String>,
        #[serde(default)]
        default: Option<String>,
    },
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tie {
    key: String,
    default: bool,
    /// The LM head op, by name.
    op: String,
}

/// The layer-count symbols a family's stages repeat by.
const SLIDING: (&str, &str) = ("L_s", "L_f");
const EXPERTS: (&str, &str) = ("L_e", "L_d");

/// A config imported as a tally model file.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The family that read it.
    pub family: String,
    /// The model file's text (an architecture with the config as its one preset).
    pub text: String,
    /// Config keys the import did not read, in the config's order.
    pub unused: Vec<String>,
}

impl Family {
    /// The family file's one-line summary.
    pub fn summary(&self) -> String {
        self.source
            .text
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| t.get("summary").and_then(|s| s.as_str()).map(str::to_string))
            .unwrap_or_else(|| self.name.clone())
    }

    /// Reads a family file (its `[hf]` table; the rest is a model file, read when imported).
    pub fn read(source: &Source) -> Result<Family> {
        #[derive(Deserialize)]
        struct File {
            name: String,
            hf: toml::Spanned<Spec>,
        }
        let file: File = crate::loader::read_toml(source)?;
        let spec = file.hf.into_inner();
        Ok(Family { name: file.name, model_types: spec.model_types.clone(), spec, source: source.clone() })
    }
}

/// The family that reads a config's `model_type`.
fn family_of<'f>(families: &'f [Family], config: &Source, json: &Value) -> Result<&'f Family> {
    let Some(model_type) = json.get("model_type").and_then(Value::as_str) else {
        return Err(Error::at(
            config,
            0..0,
            "this config has no `model_type`: tally needs it to pick the architecture",
        ));
    };
    families.iter().find(|f| f.model_types.iter().any(|t| t == model_type)).ok_or_else(|| {
        let mut known: Vec<String> = families.iter().flat_map(|f| f.model_types.clone()).collect();
        known.sort();
        Error::at(
            config,
            key_span(config, "model_type"),
            format!("model_type `{model_type}` is not one tally can import; known: {}", known.join(", ")),
        )
    })
}

/// Reads `config.json` and writes it as a tally model file of its family; `preset` names the
/// config's preset (the model's folder name, or a built-in preset's name).
pub fn import(config: &Source, preset: &str, families: &[Family], symbols: &SymbolTable) -> Result<Imported> {
    let json: Value = serde_json::from_str(&config.text).map_err(|e| {
        let at = offset_of(&config.text, e.line(), e.column());
        Error::at(config, at..at + 1, format!("this is not valid JSON: {e}"))
    })?;
    if !json.is_object() {
        return Err(Error::at(config, 0..1, "a config.json holds one JSON object"));
    }
    let family = family_of(families, config, &json)?;
    let spec = &family.spec;
    let mut read: BTreeSet<String> = ["model_type".to_string()].into();
    // A multimodal wrapper (gemma3) keeps the language model's config in a table of its own.
    let text = match spec.text_config.as_deref().and_then(|k| json.get(k).map(|v| (k, v))) {
        Some((key, inner)) if inner.is_object() => {
            read.insert(key.to_string());
            inner
        }
        _ => &json,
    };
    let mut inner_read: BTreeSet<String> = ["model_type".to_string()].into();
    let BoundSizes { mut sizes, mut unusable } = bind_sizes(config, text, spec, symbols, &mut inner_read)?;
    if let Some(e) = unusable.remove("L") {
        return Err(e);
    }
    let layer_count = sizes.get("L").cloned().unwrap_or_default();
    let whole = |r: &Rational| r.to_integer().try_into().unwrap_or(0u64);
    let mut counts: BTreeMap<&str, Rational> = BTreeMap::new();
    for (rule, (yes, no)) in [(&spec.sliding, SLIDING), (&spec.experts, EXPERTS)] {
        let Some(rule) = rule else { continue };
        let n = rule.count(config, text, whole(&layer_count), &mut inner_read)?;
        if n == 0 {
            // Sizes only layers of this kind use are not sizes of this model.
            for symbol in &rule.sizes {
                sizes.remove(symbol);
                unusable.remove(symbol);
            }
        }
        counts.insert(yes, Rational::from_integer(n.into()));
        counts.insert(no, &layer_count - Rational::from_integer(n.into()));
    }
    let tied = match &spec.tie {
        Some(tie) => {
            inner_read.insert(tie.key.clone());
            match text.get(&tie.key) {
                None | Some(Value::Null) => tie.default,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(Error::at(
                        config,
                        key_span(config, &tie.key),
                        format!("`{}` should be true or false, not {other}", tie.key),
                    ));
                }
            }
        }
        None => false,
    };
    let mut unused: Vec<String> = keys(&json).into_iter().filter(|k| !read.contains(k)).collect();
    if !std::ptr::eq(text, &json) {
        let key = spec.text_config.clone().unwrap_or_default();
        unused.extend(keys(text).into_iter().filter(|k| !inner_read.contains(k)).map(|k| format!("{key}.{k}")));
    } else {
        unused.retain(|k| !inner_read.contains(k));
    }
    if let Some((_, e)) = unusable.into_iter().next() {
        return Err(e);
    }
    let summary = format!(
        "{} (from {}); config keys not used: {}",
        family.summary(),
        config.name,
        if unused.is_empty() { "none".to_string() } else { unused.join(", ") }
    );
    let text_toml = model_file(family, preset, config, (&sizes, &counts), tied, &summary)?;
    Ok(Imported { family: family.name.clone(), text: text_toml, unused })
}

/// Sizes bound from a config, and the sizes that could not be: kept apart because a size that no
/// layer uses (the window of a model whose layers all attend fully) is not an error.
struct BoundSizes {
    sizes: BTreeMap<String, Rational>,
    unusable: BTreeMap<String, Error>,
}

/// Binds every size the family reads: the first key present and not null, else the default
/// formula over the sizes already bound (in as many passes as defaults need).
fn bind_sizes(
    config: &Source,
    json: &Value,
    spec: &Spec,
    symbols: &SymbolTable,
    read: &mut BTreeSet<String>,
) -> Result<BoundSizes> {
    let mut bound = BoundSizes { sizes: BTreeMap::new(), unusable: BTreeMap::new() };
    let mut keys_of: BTreeMap<String, String> = BTreeMap::new();
    let mut defaults: Vec<(&str, &str, Vec<String>)> = Vec::new();
    for (symbol, key) in &spec.sizes {
        let (keys, default) = match key {
            SizeKey::Key(k) => (vec![k.clone()], None),
            SizeKey::Keys { keys, default } => (keys.clone(), default.as_deref()),
        };
        read.extend(keys.iter().cloned());
        let found = keys.iter().find_map(|k| json.get(k).filter(|v| !v.is_null()).map(|v| (k, v)));
        match (found, default) {
            (Some((k, v)), _) => {
                keys_of.insert(symbol.clone(), k.clone());
                match size_value(symbols, symbol, v) {
                    Ok(value) => {
                        bound.sizes.insert(symbol.clone(), value);
                    }
                    Err(reason) => {
                        bound.unusable.insert(
                            symbol.clone(),
                            Error::at(config, key_span(config, k), format!("`{k}` should be {reason}, not {v}")),
                        );
                    }
                }
            }
            (None, Some(formula)) => defaults.push((symbol, formula, keys)),
            (None, None) => {
                let long = symbols.get(symbol).map(|d| format!(" ({})", d.meaning)).unwrap_or_default();
                // A key written as null is there: say so, and point at it.
                let error = match keys.iter().find(|k| json.get(k.as_str()).is_some()) {
                    Some(k) => Error::at(
                        config,
                        key_span(config, k),
                        format!("`{k}` is null, but this model uses {symbol}{long}: give it a positive whole number"),
                    ),
                    None => Error::at(
                        config,
                        0..1,
                        format!("this config has no `{}`: tally reads {symbol}{long} from it", keys.join("` or `")),
                    ),
                };
                bound.unusable.insert(symbol.clone(), error);
            }
        }
    }
    while !defaults.is_empty() {
        let before = defaults.len();
        let mut left = Vec::new();
        for (symbol, formula, keys) in defaults {
            let expr = algebra::parse(formula, &algebra::any_symbol)
                .map_err(|e| Error::Usage(format!("family file: default `{formula}` for {symbol}: {}", e.message)))?;
            // A default over a size that could not be bound is left unbound: the size it depends
            // on carries the error, reported if that size is used.
            if expr.symbols().iter().any(|s| bound.unusable.contains_key(s)) {
                continue;
            }
            match algebra::evaluate(&expr, &bound.sizes) {
                Ok(v) if v.is_integer() && v > Rational::from_integer(0.into()) => {
                    bound.sizes.insert(symbol.to_string(), v);
                }
                Ok(v) => {
                    // Point at the divisor's key (A in H/A), else the first key the formula reads.
                    let mut symbols = divisors(&expr);
                    symbols.extend(expr.symbols());
                    let at = symbols.iter().find_map(|s| keys_of.get(s)).map(|k| key_span(config, k));
                    bound.unusable.insert(
                        symbol.to_string(),
                        Error::at(
                            config,
                            at.unwrap_or(0..1),
                            format!(
                                "without `{}`, {symbol} = {formula} = {}, not a positive whole number",
                                keys.join("` or `"),
                                crate::dim::exact_fraction(&v)
                            ),
                        ),
                    );
                }
                Err(_) => left.push((symbol, formula, keys)),
            }
        }
        if left.len() == before {
            let names: Vec<&str> = left.iter().map(|(s, ..)| *s).collect();
            return Err(Error::Usage(format!("family file: defaults for {} depend on each other", names.join(", "))));
        }
        defaults = left;
    }
    // A size bounded by another (k of the E experts) is checked where the config writes it.
    for (symbol, value) in &bound.sizes {
        let Some(limit_symbol) = symbols.get(symbol).and_then(|d| d.bound_symbol()) else { continue };
        if let (Some(limit), Some(key)) = (bound.sizes.get(limit_symbol), keys_of.get(symbol))
            && value > limit
        {
            let limit_key = keys_of.get(limit_symbol).map(|k| format!("`{k}`")).unwrap_or_else(|| limit_symbol.into());
            return Err(Error::at(
                config,
                key_span(config, key),
                format!(
                    "`{key}` = {} is more than {limit_key} = {}",
                    crate::dim::exact(value),
                    crate::dim::exact(limit)
                ),
            ));
        }
    }
    Ok(bound)
}

/// A size's value from the config: a positive whole number within the symbol's bounds (the same
/// check `--set` makes), or why not.
fn size_value(symbols: &SymbolTable, symbol: &str, v: &Value) -> std::result::Result<Rational, String> {
    let value = v.as_u64().filter(|n| *n > 0).ok_or_else(|| "a positive whole number".to_string())?;
    let value = Rational::from_integer(value.into());
    if let Some(def) = symbols.get(symbol) {
        def.check(&value)?;
    }
    Ok(value)
}

/// The family's architecture with the config's sizes as its one preset: stages whose layers the
/// config does not have are left out, a layer kind every layer has repeats L times, and the head
/// is tied as the config says.
fn model_file(
    family: &Family,
    preset: &str,
    config: &Source,
    (sizes, counts): (&BTreeMap<String, Rational>, &BTreeMap<&str, Rational>),
    tied: bool,
    summary: &str,
) -> Result<String> {
    let broken = |what: String| Error::at(&family.source, 0..0, what);
    let mut table: toml::Table = family.source.text.parse().map_err(|e| broken(format!("{e}")))?;
    table.remove("hf");
    table.insert("summary".into(), toml::Value::String(summary.into()));
    let layers = sizes.get("L").cloned().unwrap_or_default();
    let mut all_sizes = sizes.clone();
    if let Some(toml::Value::Array(stages)) = table.get_mut("stage") {
        stages.retain_mut(|stage| {
            let Some(repeat) = stage.get("repeat").and_then(|r| r.as_str()).map(str::to_string) else { return true };
            let Some(count) = counts.get(repeat.as_str()) else { return true };
            if *count == Rational::from_integer(0.into()) {
                return false;
            }
            if *count == layers {
                if let Some(stage) = stage.as_table_mut() {
                    stage.insert("repeat".into(), toml::Value::String("L".into()));
                }
            } else {
                all_sizes.insert(repeat, count.clone());
            }
            true
        });
        if let Some(tie) = &family.spec.tie {
            let head = stages
                .iter_mut()
                .filter_map(|s| s.get_mut("op").and_then(|o| o.as_array_mut()))
                .flatten()
                .find(|op| op.get("name").and_then(|n| n.as_str()) == Some(tie.op.as_str()))
                .ok_or_else(|| broken(format!("the tie op `{}` is not an op of {}", tie.op, family.name)))?;
            if let Some(head) = head.as_table_mut() {
                head.insert("tied".into(), toml::Value::Boolean(tied));
            }
        }
    }
    let mut preset_sizes = toml::Table::new();
    for (symbol, value) in &all_sizes {
        // Past TOML's 64-bit integers a size is written as its digits.
        let v = match i64::try_from(value.to_integer()) {
            Ok(v) => toml::Value::Integer(v),
            Err(_) => toml::Value::String(value.to_integer().to_string()),
        };
        preset_sizes.insert(symbol.clone(), v);
    }
    let mut entry = toml::Table::new();
    entry.insert("name".into(), toml::Value::String(preset.into()));
    entry.insert("summary".into(), toml::Value::String(format!("{preset}: sizes read from {}", config.name)));
    entry.insert("sizes".into(), toml::Value::Table(preset_sizes));
    table.insert("preset".into(), toml::Value::Array(vec![toml::Value::Table(entry)]));
    table.insert("default_preset".into(), toml::Value::String(preset.into()));
    toml::to_string(&table).map_err(|e| broken(format!("{e}")))
}

/// The symbols a formula divides by.
fn divisors(e: &algebra::Expr) -> Vec<String> {
    match e {
        algebra::Expr::Pow(base, k) if *k < 0 => base.symbols(),
        algebra::Expr::Add(v) | algebra::Expr::Mul(v) => v.iter().flat_map(divisors).collect(),
        _ => vec![],
    }
}

/// The keys of a JSON object in the order the file writes them.
fn keys(json: &Value) -> Vec<String> {
    json.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// Where `"key":` first appears in the config, for messages (the start of the file if nowhere).
pub(super) fn key_span(config: &Source, key: &str) -> std::ops::Range<usize> {
    let quoted = format!("\"{key}\"");
    config.text.find(&quoted).map(|at| at..at + quoted.len()).unwrap_or(0..1)
}

/// The byte offset of a 1-based line and column.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
    (start + column.saturating_sub(1)).min(text.len().saturating_sub(1))
}

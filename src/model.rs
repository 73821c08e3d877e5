//! Architectures as data: a model file (TOML) becomes stages of [`Op`]s with symbolic sizes, size
//! presets, default values and relations such as F = 4H. Binding a preset and `--set` values gives
//! exact values for every symbol, checked to be positive whole numbers wherever a size is needed.

use crate::algebra::{self, Expr, Rational};
use crate::diagnostic::{Source, snippet};
use crate::error::{Error, Result};
use crate::ops::{Activation, Op, OpKind, Saved};
use crate::symbol::SymbolTable;
use num_bigint::BigInt;
use num_traits::Signed;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    name: String,
    summary: String,
    #[serde(default)]
    default_preset: Option<String>,
    #[serde(default)]
    defaults: BTreeMap<Spanned<String>, Spanned<i64>>,
    #[serde(default)]
    relations: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    components: BTreeMap<String, String>,
    #[serde(default)]
    whole_numbers: Vec<Spanned<String>>,
    #[serde(default)]
    preset: Vec<PresetFile>,
    stage: Vec<StageFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetFile {
    name: String,
    summary: String,
    sizes: BTreeMap<Spanned<String>, Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StageFile {
    name: String,
    #[serde(default)]
    repeat: Option<Spanned<String>>,
    op: Vec<Spanned<OpFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpFile {
    name: String,
    kind: Spanned<String>,
    #[serde(default)]
    component: Option<String>,
    #[serde(default)]
    rows: Option<Spanned<String>>,
    #[serde(default)]
    width: Option<Spanned<String>>,
    #[serde(default, rename = "in")]
    input: Option<Spanned<String>>,
    #[serde(default, rename = "out")]
    output: Option<Spanned<String>>,
    #[serde(default)]
    heads: Option<Spanned<String>>,
    #[serde(default)]
    head_dim: Option<Spanned<String>>,
    #[serde(default)]
    vocab: Option<Spanned<String>>,
    #[serde(default)]
    bias: Option<bool>,
    #[serde(default)]
    function: Option<Spanned<String>>,
    #[serde(default)]
    tied: Option<bool>,
    #[serde(default)]
    saved: Option<Spanned<String>>,
    #[serde(default)]
    kv_cache: Option<Spanned<String>>,
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
    /// Formulas that must come out as positive whole numbers (H/A, A/K).
    pub whole_numbers: Vec<Expr>,
    /// The stages in execution order.
    pub stages: Vec<Stage>,
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

struct Reader<'a> {
    source: &'a Source,
    symbols: &'a SymbolTable,
}

impl Reader<'_> {
    fn located(&self, message: impl Into<String>, span: Range<usize>) -> Error {
        Error::Located { message: message.into(), at: snippet(self.source, span) }
    }

    /// Parses a size expression from a TOML string, pointing errors inside the string.
    fn expr(&self, field: &Spanned<String>) -> Result<Expr> {
        let resolve = |name: &str| self.symbols.resolve(name);
        // The span covers the quotes; the formula starts one byte in.
        let offset = field.span().start + 1;
        algebra::parse(field.get_ref(), &resolve).map_err(|e| {
            self.located(
                format!("cannot read size `{}`: {}", field.get_ref(), e.message),
                offset + e.span.start..offset + e.span.end.max(e.span.start + 1),
            )
        })
    }

    fn symbol(&self, name: &Spanned<String>) -> Result<String> {
        match self.symbols.get(name.get_ref()) {
            Some(def) => Ok(def.short.clone()),
            None => Err(self.located(self.symbols.resolve(name.get_ref()).err().unwrap_or_default(), name.span())),
        }
    }

    fn sizes(&self, table: &BTreeMap<Spanned<String>, Spanned<i64>>) -> Result<BTreeMap<String, BigInt>> {
        let mut out = BTreeMap::new();
        for (name, value) in table {
            let symbol = self.symbol(name)?;
            if *value.get_ref() <= 0 {
                return Err(self.located(
                    format!("`{}` must be a positive whole number, not {}", name.get_ref(), value.get_ref()),
                    value.span(),
                ));
            }
            out.insert(symbol, BigInt::from(*value.get_ref()));
        }
        Ok(out)
    }

    fn op(&self, spanned: &Spanned<OpFile>, default_component: &str) -> Result<Op> {
        let file = spanned.get_ref();
        let span = spanned.span();
        let kind_name = file.kind.get_ref().as_str();
        let field = |name: &'static str, value: &Option<Spanned<String>>| -> Result<Expr> {
            match value {
                Some(v) => self.expr(v),
                None => {
                    Err(self.located(format!("op `{}` of kind `{kind_name}` needs `{name}`", file.name), span.clone()))
                }
            }
        };
        let kind = match kind_name {
            "embedding" => OpKind::Embedding { rows: field("rows", &file.rows)?, width: field("width", &file.width)? },
            "linear" => OpKind::Linear {
                input: field("in", &file.input)?,
                output: field("out", &file.output)?,
                bias: file.bias.unwrap_or(false),
                tied: file.tied.unwrap_or(false),
            },
            "rmsnorm" => OpKind::RmsNorm { width: field("width", &file.width)? },
            "layernorm" => OpKind::LayerNorm { width: field("width", &file.width)?, bias: file.bias.unwrap_or(true) },
            "rope" => OpKind::Rope { width: field("width", &file.width)? },
            "attention_scores" => OpKind::AttentionScores {
                heads: field("heads", &file.heads)?,
                head_dim: field("head_dim", &file.head_dim)?,
            },
            "softmax" => OpKind::Softmax { heads: field("heads", &file.heads)? },
            "attention_values" => OpKind::AttentionValues {
                heads: field("heads", &file.heads)?,
                head_dim: field("head_dim", &file.head_dim)?,
            },
            "activation" => {
                let function = match file.function.as_ref().map(|f| (f.get_ref().as_str(), f.span())) {
                    Some(("silu", _)) => Activation::Silu,
                    Some(("gelu", _)) => Activation::Gelu,
                    Some((other, s)) => {
                        return Err(self.located(format!("unknown activation `{other}`; known: silu, gelu"), s));
                    }
                    None => {
                        return Err(self.located(
                            format!("op `{}` of kind `activation` needs `function` (silu or gelu)", file.name),
                            span,
                        ));
                    }
                };
                OpKind::Activation { function, width: field("width", &file.width)? }
            }
            "elementwise_product" => OpKind::ElementwiseProduct { width: field("width", &file.width)? },
            "residual_add" => OpKind::ResidualAdd { width: field("width", &file.width)? },
            "cross_entropy" => OpKind::CrossEntropy { vocab: field("vocab", &file.vocab)? },
            "dropout" => OpKind::Dropout { width: field("width", &file.width)? },
            other => {
                return Err(self.located(
                    format!(
                        "unknown op kind `{other}`; known kinds: embedding, linear, rmsnorm, layernorm, rope, \
                         attention_scores, softmax, attention_values, activation, elementwise_product, \
                         residual_add, cross_entropy, dropout"
                    ),
                    file.kind.span(),
                ));
            }
        };
        let used: &[&str] = match kind {
            OpKind::Embedding { .. } => &["rows", "width"],
            OpKind::Linear { .. } => &["in", "out", "bias", "tied"],
            OpKind::LayerNorm { .. } => &["width", "bias"],
            OpKind::AttentionScores { .. } | OpKind::AttentionValues { .. } => &["heads", "head_dim"],
            OpKind::Softmax { .. } => &["heads"],
            OpKind::Activation { .. } => &["width", "function"],
            OpKind::CrossEntropy { .. } => &["vocab"],
            OpKind::Dropout { .. } => &["width"],
            OpKind::RmsNorm { .. }
            | OpKind::Rope { .. }
            | OpKind::ElementwiseProduct { .. }
            | OpKind::ResidualAdd { .. } => &["width"],
        };
        let given: [(&str, bool); 10] = [
            ("tied", file.tied.is_some()),
            ("rows", file.rows.is_some()),
            ("width", file.width.is_some()),
            ("in", file.input.is_some()),
            ("out", file.output.is_some()),
            ("heads", file.heads.is_some()),
            ("head_dim", file.head_dim.is_some()),
            ("vocab", file.vocab.is_some()),
            ("bias", file.bias.is_some()),
            ("function", file.function.is_some()),
        ];
        if let Some((extra, _)) = given.iter().find(|(name, present)| *present && !used.contains(name)) {
            return Err(self.located(format!("op `{}` of kind `{kind_name}` does not take `{extra}`", file.name), span));
        }
        let component = file.component.clone().unwrap_or_else(|| default_component.to_string());
        let saved = match file.saved.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
            None | Some(("never", _)) => Saved::Never,
            Some(("cs336", _)) => Saved::Cs336,
            Some(("all", _)) => Saved::All,
            Some((other, span)) => {
                return Err(self.located(
                    format!("unknown `saved` value `{other}`; use cs336 (on CS336's list), all (only when every intermediate counts) or never"),
                    span,
                ));
            }
        };
        let kv_cache = file.kv_cache.as_ref().map(|k| self.expr(k)).transpose()?;
        Ok(Op { name: file.name.clone(), kind, component, saved, kv_cache })
    }
}

impl Model {
    /// Reads a model file. `source.name` is used in error locations.
    pub fn from_toml(source: &Source, symbols: &SymbolTable) -> Result<Model> {
        let file: ModelFile = toml::from_str(&source.text).map_err(|e| match e.span() {
            Some(span) => Error::Located { message: e.message().to_string(), at: snippet(source, span) },
            None => Error::Located { message: e.message().to_string(), at: format!("  --> {}", source.name) },
        })?;
        let reader = Reader { source, symbols };
        let mut relations = Vec::new();
        for (name, formula) in &file.relations {
            relations.push((reader.symbol(name)?, reader.expr(formula)?));
        }
        let mut presets = Vec::new();
        for p in &file.preset {
            presets.push(Preset { name: p.name.clone(), summary: p.summary.clone(), sizes: reader.sizes(&p.sizes)? });
        }
        let mut stages = Vec::new();
        for s in &file.stage {
            let repeat = match &s.repeat {
                Some(r) => reader.expr(r)?,
                None => Expr::one(),
            };
            let ops = s.op.iter().map(|o| reader.op(o, "other")).collect::<Result<Vec<_>>>()?;
            stages.push(Stage { name: s.name.clone(), repeat, ops });
        }
        let mut components: Vec<(String, String)> = Vec::new();
        for op in stages.iter().flat_map(|s| &s.ops) {
            if !components.iter().any(|(id, _)| *id == op.component) {
                let title =
                    file.components.get(&op.component).cloned().unwrap_or_else(|| op.component.replace('_', " "));
                components.push((op.component.clone(), title));
            }
        }
        let whole_numbers = file.whole_numbers.iter().map(|w| reader.expr(w)).collect::<Result<Vec<_>>>()?;
        Ok(Model {
            whole_numbers,
            name: file.name,
            summary: file.summary,
            default_preset: file.default_preset,
            defaults: reader.sizes(&file.defaults)?,
            relations,
            components,
            presets,
            stages,
        })
    }

    /// The preset of that name.
    pub fn preset(&self, name: &str) -> Option<&Preset> {
        self.presets.iter().find(|p| p.name == name)
    }

    /// Binds every symbol: defaults, then the preset, then `--set` values, then relations for
    /// whatever is still unbound. Sizes the ops use are checked to be positive whole numbers.
    pub fn bind(
        &self,
        preset: Option<&Preset>,
        sets: &[(String, Rational, Origin)],
        symbols: &SymbolTable,
    ) -> Result<Bindings> {
        let mut values: BTreeMap<String, (Rational, Origin)> = BTreeMap::new();
        for (s, v) in &self.defaults {
            values.insert(s.clone(), (Rational::from_integer(v.clone()), Origin::Default));
        }
        if let Some(p) = preset {
            for (s, v) in &p.sizes {
                values.insert(s.clone(), (Rational::from_integer(v.clone()), Origin::Preset(p.name.clone())));
            }
        }
        for (s, v, origin) in sets {
            values.insert(s.clone(), (v.clone(), origin.clone()));
        }
        for (s, formula) in &self.relations {
            if values.contains_key(s) {
                continue;
            }
            let known: BTreeMap<String, Rational> = values.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect();
            if let Ok(v) = algebra::evaluate(formula, &known) {
                values.insert(s.clone(), (v, Origin::Relation(formula.clone())));
            }
        }
        let entries = symbols
            .all()
            .iter()
            .filter_map(|def| {
                values.get(&def.short).map(|(v, o)| Binding {
                    symbol: def.short.clone(),
                    value: v.clone(),
                    origin: o.clone(),
                })
            })
            .collect();
        let bindings = Bindings { entries };
        self.check_sizes(&bindings, symbols)?;
        Ok(bindings)
    }

    /// Every bound symbol and every op size must be a positive whole number.
    fn check_sizes(&self, bindings: &Bindings, symbols: &SymbolTable) -> Result<()> {
        for b in &bindings.entries {
            let def = symbols.get(&b.symbol);
            let whole = def.is_none_or(|d| d.whole);
            if (whole && !b.value.is_integer()) || !b.value.is_positive() {
                let long = def.map(|d| d.long.as_str()).unwrap_or("");
                let kind = if whole { "a positive whole number" } else { "a positive number" };
                return Err(Error::InvalidSize(format!("{} ({long}) = {} is not {kind}", b.symbol, b.value)));
            }
        }
        let values = bindings.values();
        for formula in &self.whole_numbers {
            let Ok(v) = algebra::evaluate(formula, &values) else { continue };
            if !v.is_integer() || !v.is_positive() {
                let shown = algebra::print(formula, algebra::Notation::Unicode);
                return Err(Error::InvalidSize(format!(
                    "{shown} = {v} is not a positive whole number{}",
                    divisibility_hint(formula, symbols)
                )));
            }
        }
        for stage in &self.stages {
            for op in &stage.ops {
                for (field, size) in op.dimensions() {
                    let Ok(v) = algebra::evaluate(size, &values) else { continue };
                    if !v.is_integer() || !v.is_positive() {
                        let formula = algebra::print(size, algebra::Notation::Unicode);
                        let hint = divisibility_hint(size, symbols);
                        return Err(Error::InvalidSize(format!(
                            "op `{}` in `{}`: {field} = {formula} = {v} is not a positive whole number{hint}",
                            op.name, stage.name
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

/// "num_heads (A) must divide d_model (H)" when a size is a quotient of two symbols.
fn divisibility_hint(size: &Expr, symbols: &SymbolTable) -> String {
    let names = |e: &Expr| -> Option<String> {
        match e {
            Expr::Sym(s) => symbols.get(s).map(|d| format!("{} ({})", d.long, d.short)),
            _ => None,
        }
    };
    if let Expr::Mul(factors) = size
        && let [top, Expr::Pow(bottom, -1)] = factors.as_slice()
        && let (Some(t), Some(b)) = (names(top), names(bottom))
    {
        return format!(": {b} must divide {t}");
    }
    String::new()
}

//! Architectures as data: a model file (TOML) becomes stages of [`Op`]s with symbolic sizes, size
//! presets, default values and relations such as F = 4H. Binding a preset and `--set` values gives
//! exact values for every symbol, checked to be positive whole numbers wherever a size is needed.

use crate::algebra::{self, Expr, Rational};
use crate::diagnostic::{Source, snippet};
use crate::dim;
use crate::error::{Error, Result};
use crate::ops::{Activation, Op, OpKind, Saved};
use crate::symbol::SymbolTable;
use num_bigint::BigInt;
use num_traits::Signed;
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::Arc;
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

/// The highest power of a symbol in one size formula (real sizes use powers 1 and −1).
const MAX_SIZE_DEGREE: u64 = 8;

/// The most terms one size formula may expand to.
const MAX_SIZE_TERMS: u128 = 64;

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
    /// Every size formula of the file with where it is written, checked when sizes are bound.
    pub sites: Vec<SizeSite>,
    /// Where each relation is written (same order as `relations`).
    pub relation_spans: Vec<Range<usize>>,
    /// The file the model was read from, for pointing at a place in it.
    pub source: Arc<Source>,
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
            Origin::Relation(e) => format!("from {}", algebra::print(e, algebra::Notation::Unicode)),
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

struct Reader<'a> {
    source: &'a Source,
    symbols: &'a SymbolTable,
    sites: RefCell<Vec<SizeSite>>,
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

    /// Parses a size formula and records it as a site to check once sizes are bound.
    fn site(&self, field: &Spanned<String>, what: String, kind: SiteKind) -> Result<Expr> {
        let expr = self.expr(field)?;
        // Op rules multiply sizes together (B·T·H·F, A·T²), so a size must stay far below the
        // algebra's bounds for the totals built from it to stay within them.
        for symbol in expr.symbols() {
            let degree = algebra::limits::degree_bound(&expr, &symbol);
            if degree > MAX_SIZE_DEGREE {
                return Err(self.located(
                    format!("{what}: `{}` raises {symbol} to the power {degree}; a size may use powers up to {MAX_SIZE_DEGREE}", field.get_ref()),
                    field.span(),
                ));
            }
        }
        if algebra::limits::term_estimate(&expr) > MAX_SIZE_TERMS {
            return Err(self.located(
                format!("{what}: this size formula has too many terms (at most {MAX_SIZE_TERMS})"),
                field.span(),
            ));
        }
        self.sites.borrow_mut().push(SizeSite { what, expr: expr.clone(), span: field.span(), kind });
        Ok(expr)
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

    fn op(&self, spanned: &Spanned<OpFile>, stage: &str, default_component: &str) -> Result<Op> {
        let file = spanned.get_ref();
        let span = spanned.span();
        let kind_name = file.kind.get_ref().as_str();
        let field = |name: &'static str, value: &Option<Spanned<String>>| -> Result<Expr> {
            match value {
                Some(v) => self.site(v, format!("op `{}` in `{stage}`: {name}", file.name), SiteKind::Dimension),
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
        let kv_cache = file
            .kv_cache
            .as_ref()
            .map(|k| self.site(k, format!("op `{}` in `{stage}`: kv_cache", file.name), SiteKind::KvCache))
            .transpose()?;
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
        let reader = Reader { source, symbols, sites: RefCell::new(Vec::new()) };
        let mut relations = Vec::new();
        let mut relation_spans = Vec::new();
        for (name, formula) in &file.relations {
            relations.push((reader.symbol(name)?, reader.expr(formula)?));
            relation_spans.push(formula.span());
        }
        let mut presets = Vec::new();
        for p in &file.preset {
            presets.push(Preset { name: p.name.clone(), summary: p.summary.clone(), sizes: reader.sizes(&p.sizes)? });
        }
        let mut stages = Vec::new();
        for s in &file.stage {
            let repeat = match &s.repeat {
                Some(r) => reader.site(r, format!("stage `{}`: repeat", s.name), SiteKind::Repeat)?,
                None => Expr::one(),
            };
            let ops = s.op.iter().map(|o| reader.op(o, &s.name, "other")).collect::<Result<Vec<_>>>()?;
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
        let whole_numbers = file
            .whole_numbers
            .iter()
            .map(|w| reader.site(w, "whole_numbers".into(), SiteKind::WholeNumber))
            .collect::<Result<Vec<_>>>()?;
        let defaults = reader.sizes(&file.defaults)?;
        Ok(Model {
            sites: reader.sites.into_inner(),
            relation_spans,
            source: Arc::new(source.clone()),
            whole_numbers,
            name: file.name,
            summary: file.summary,
            default_preset: file.default_preset,
            defaults,
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

    /// Every symbol the model's sizes are written in (relations included where they feed one).
    pub fn symbols_used(&self) -> BTreeSet<String> {
        let mut used: BTreeSet<String> = self.sites.iter().flat_map(|site| site.expr.symbols()).collect();
        // The op rules add their own axes (B·T tokens per op).
        for op in self.stages.iter().flat_map(|s| &s.ops) {
            let rules = [op.params(), op.matmul_flops(), op.elementwise_flops(), op.output_elements()];
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

    /// Binds every symbol: defaults, then the preset, then `--set` values, then relations for
    /// whatever is still unbound (in as many passes as they need). Every size the model writes is
    /// then checked: bound, defined at these values, and a positive whole number.
    pub fn bind(
        &self,
        preset: Option<&Preset>,
        sets: &[(String, Rational, Origin)],
        symbols: &SymbolTable,
    ) -> Result<Bindings> {
        let used = self.symbols_used();
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
            let def = symbols.get(s);
            if *origin == Origin::Set && !used.contains(s) && !def.is_some_and(|d| d.training) {
                let long = def.map(|d| format!(" ({})", d.long)).unwrap_or_default();
                return Err(Error::BadSet {
                    arg: format!("{s}={v}"),
                    reason: format!(
                        "{s}{long} is not used by {}: no size of the model is written in it, so this value would change nothing",
                        self.name
                    ),
                });
            }
            values.insert(s.clone(), (v.clone(), origin.clone()));
        }
        self.resolve_relations(&mut values)?;
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

    /// Binds what relations give, repeating until nothing changes, so that the order relations
    /// are written in does not matter (`A = K` with `K = H/64`). A relation that still cannot be
    /// worked out is left for the size checks, which name the symbol that has no value.
    fn resolve_relations(&self, values: &mut BTreeMap<String, (Rational, Origin)>) -> Result<()> {
        loop {
            let mut changed = false;
            for ((s, formula), span) in self.relations.iter().zip(&self.relation_spans) {
                if values.contains_key(s) {
                    continue;
                }
                let known: BTreeMap<String, Rational> =
                    values.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect();
                match algebra::evaluate(formula, &known) {
                    Ok(v) => {
                        values.insert(s.clone(), (v, Origin::Relation(formula.clone())));
                        changed = true;
                    }
                    Err(algebra::EvalError::Unbound(_)) => {}
                    Err(e) => return Err(self.located(format!("relation {s} = …: {e}"), span.clone())),
                }
            }
            if !changed {
                return Ok(());
            }
        }
    }

    fn located(&self, message: String, span: Range<usize>) -> Error {
        Error::Located { message, at: snippet(&self.source, span) }
    }

    /// Every bound symbol must be a positive number (whole where the vocabulary says so, at most
    /// its bound where it has one), and every size the file writes must be bound, defined and a
    /// positive whole number.
    fn check_sizes(&self, bindings: &Bindings, symbols: &SymbolTable) -> Result<()> {
        for b in &bindings.entries {
            let def = symbols.get(&b.symbol);
            if let Some(def) = def {
                def.check(&b.value).map_err(|reason| {
                    Error::InvalidSize(format!("{} ({}) = {}: {reason}", b.symbol, def.long, dim::exact(&b.value)))
                })?;
            }
        }
        let values = bindings.values();
        for site in &self.sites {
            let formula = algebra::print(&site.expr, algebra::Notation::Unicode);
            let v = match algebra::evaluate(&site.expr, &values) {
                Ok(v) => v,
                Err(algebra::EvalError::Unbound(missing)) => {
                    let m = &missing[0];
                    let long = symbols.get(m).map(|d| format!(" ({})", d.long)).unwrap_or_default();
                    let why = match self.relations.iter().find(|(s, _)| s == m) {
                        Some((_, f)) => {
                            let deps: Vec<String> =
                                f.symbols().into_iter().filter(|d| !values.contains_key(d)).collect();
                            format!(
                                "but its relation {m} = {} cannot be worked out: {} {} no value either (relations that depend on each other, or a size never given)",
                                algebra::print(f, algebra::Notation::Unicode),
                                deps.join(", "),
                                if deps.len() == 1 { "has" } else { "have" }
                            )
                        }
                        None => "which no preset, default, relation or --set gives".to_string(),
                    };
                    return Err(
                        self.located(format!("{}: {formula} needs {m}{long}, {why}", site.what), site.span.clone())
                    );
                }
                Err(e) => return Err(self.located(format!("{}: {formula}: {e}", site.what), site.span.clone())),
            };
            if !v.is_integer() || !v.is_positive() {
                let hint = divisibility_hint(&site.expr, symbols);
                let what = match site.kind {
                    SiteKind::Repeat => "a stage must run a positive whole number of times",
                    SiteKind::KvCache => "a cache holds a positive whole number of elements per token",
                    SiteKind::Dimension | SiteKind::WholeNumber => "it must be a positive whole number",
                };
                let at: Vec<String> = site
                    .expr
                    .symbols()
                    .iter()
                    .filter_map(|sym| bindings.entries.iter().find(|b| &b.symbol == sym))
                    .map(|b| format!("{} = {} ({})", b.symbol, dim::exact(&b.value), b.origin.words()))
                    .collect();
                let with = if at.is_empty() { String::new() } else { format!(" with {}", at.join(", ")) };
                return Err(self.located(
                    format!("{}: {formula} = {}{with}; {what}{hint}", site.what, dim::exact_fraction(&v)),
                    site.span.clone(),
                ));
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

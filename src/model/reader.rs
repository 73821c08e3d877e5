//! Reading a model file: TOML with positions kept, every size formula parsed and recorded where it
//! is written, op kinds checked field by field. A file that `extends` another architecture starts
//! from it and changes only what it says: relations, defaults, presets, and ops by name.

use super::{Model, ModelFacts, Preset, STAGE_INPUT, SiteKind, SizeSite, Stage};
use crate::algebra::{self, Expr};
use crate::diagnostic::Source;
use crate::error::{Error, Result};
use crate::symbol::SymbolTable;
use num_bigint::BigInt;
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use toml::Spanned;

mod extend;
mod op;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    #[serde(default)]
    extends: Option<Spanned<String>>,
    name: String,
    summary: String,
    #[serde(default)]
    default_preset: Option<String>,
    #[serde(default)]
    defaults: BTreeMap<Spanned<String>, Spanned<SizeValue>>,
    #[serde(default)]
    relations: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    components: BTreeMap<String, String>,
    #[serde(default)]
    whole_numbers: Vec<Spanned<String>>,
    #[serde(default)]
    preset: Vec<PresetFile>,
    #[serde(default)]
    stage: Vec<StageFile>,
    #[serde(default)]
    change: Vec<Spanned<OpFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetFile {
    name: String,
    summary: String,
    sizes: BTreeMap<Spanned<String>, Spanned<SizeValue>>,
}

/// A size as a model file writes it: a TOML integer, or — past TOML's 64-bit integers — the
/// digits as a string (`L = "9223372036854775808"`), as `tally import` writes them.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum SizeValue {
    Integer(i64),
    Digits(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StageFile {
    name: String,
    #[serde(default)]
    repeat: Option<Spanned<String>>,
    /// A sliding-window layer: its attention and cache ops see at most this many tokens.
    #[serde(default)]
    window: Option<Spanned<String>>,
    op: Vec<Spanned<OpFile>>,
}

/// An op as written: in a stage (`name` and `kind` required), or as a change to an op of the
/// architecture a file extends (`op` names it; fields to set, a new `kind` to replace it with one
/// written in full, or `remove = true`).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    kind: Option<Spanned<String>>,
    #[serde(default)]
    op: Option<Spanned<String>>,
    #[serde(default)]
    remove: Option<bool>,
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
    #[serde(default)]
    inputs: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    parallel: Option<Spanned<String>>,
    #[serde(default)]
    experts: Option<Spanned<String>>,
    #[serde(default)]
    absorbed_head_dim: Option<Spanned<String>>,
    #[serde(default)]
    reads_cache: Option<bool>,
    #[serde(default)]
    active: Option<Spanned<String>>,
}

impl OpFile {
    /// The size formulas given, by field name.
    fn sizes(&self) -> [(&'static str, &Option<Spanned<String>>); 7] {
        [
            ("rows", &self.rows),
            ("width", &self.width),
            ("in", &self.input),
            ("out", &self.output),
            ("heads", &self.heads),
            ("head_dim", &self.head_dim),
            ("vocab", &self.vocab),
        ]
    }
}

/// The highest power of a symbol in one size formula (real sizes use powers 1 and −1).
const MAX_SIZE_DEGREE: u64 = 8;

/// The most terms one size formula may expand to.
const MAX_SIZE_TERMS: u128 = 64;

struct Reader<'a> {
    source: Arc<Source>,
    symbols: &'a SymbolTable,
    sites: RefCell<Vec<SizeSite>>,
}

/// Every op kind, as written in model files.
pub const OP_KINDS: &[&str] = &[
    "embedding",
    "linear",
    "rmsnorm",
    "layernorm",
    "rope",
    "attention_scores",
    "softmax",
    "attention_values",
    "activation",
    "elementwise_product",
    "residual_add",
    "cross_entropy",
    "dropout",
    "sinks",
    "head_rmsnorm",
];

impl Reader<'_> {
    fn located(&self, message: impl Into<String>, span: Range<usize>) -> Error {
        Error::at_shared(&self.source, span, message)
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
    fn site(
        &self,
        field: &Spanned<String>,
        what: String,
        at: (Option<&str>, &'static str),
        kind: SiteKind,
    ) -> Result<Expr> {
        let expr = self.expr(field)?;
        // Op rules multiply sizes together (B·T·H·F, A·T²), so a size must stay far below the
        // algebra's bounds for the totals built from it to stay within them.
        for symbol in expr.symbols() {
            let degree = algebra::limits::degree_bound(&expr, &symbol);
            if degree > MAX_SIZE_DEGREE {
                return Err(self.located(
                    format!(
                        "{what}: `{}` raises {symbol} to the power {degree}; a size may use powers up to {MAX_SIZE_DEGREE}",
                        field.get_ref()
                    ),
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
        self.sites.borrow_mut().push(SizeSite {
            what,
            expr: expr.clone(),
            span: field.span(),
            source: self.source.clone(),
            field: (at.0.map(str::to_string), at.1),
            kind,
        });
        Ok(expr)
    }

    fn symbol(&self, name: &Spanned<String>) -> Result<String> {
        match self.symbols.get(name.get_ref()) {
            Some(def) => Ok(def.short.clone()),
            None => Err(self.located(self.symbols.resolve(name.get_ref()).err().unwrap_or_default(), name.span())),
        }
    }

    fn sizes(&self, table: &BTreeMap<Spanned<String>, Spanned<SizeValue>>) -> Result<BTreeMap<String, BigInt>> {
        let mut out = BTreeMap::new();
        for (name, value) in table {
            let symbol = self.symbol(name)?;
            let (number, written) = match value.get_ref() {
                SizeValue::Integer(n) => (Some(BigInt::from(*n)), n.to_string()),
                SizeValue::Digits(text) => {
                    let digits = text.len() <= 1000 && !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
                    (digits.then(|| text.parse::<BigInt>().ok()).flatten(), format!("\"{text}\""))
                }
            };
            match number {
                Some(n) if n > BigInt::from(0) => {
                    out.insert(symbol, n);
                }
                _ => {
                    return Err(self.located(
                        format!("`{}` must be a positive whole number, not {written}", name.get_ref()),
                        value.span(),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Every op's `inputs` names an earlier op of its stage (or `stage input`).
    fn check_inputs(&self, stage: &Stage, files: &[Spanned<OpFile>]) -> Result<()> {
        for (i, op) in stage.ops.iter().enumerate() {
            for input in &op.inputs {
                let known = input == STAGE_INPUT || stage.ops[..i].iter().any(|o| &o.name == input);
                if !known {
                    let span = files
                        .iter()
                        .find(|f| f.get_ref().name.as_deref() == Some(op.name.as_str()))
                        .and_then(|f| f.get_ref().inputs.as_ref().map(|i| i.span()))
                        .unwrap_or(0..0);
                    let earlier: Vec<&str> = stage.ops[..i].iter().map(|o| o.name.as_str()).collect();
                    return Err(self.located(
                        format!(
                            "op `{}`: input `{input}` is not an earlier op of stage `{}`; use `{STAGE_INPUT}` or one of: {}",
                            op.name,
                            stage.name,
                            earlier.join(", ")
                        ),
                        span,
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Model {
    /// Reads a model file with the vocabulary and op costs of `facts`; a file that `extends` an
    /// architecture finds it among `facts.bases`. `source.name` is used in error locations.
    pub fn from_toml(source: &Source, data: &ModelFacts) -> Result<Model> {
        let file: ModelFile = crate::loader::read_toml(source)?;
        let reader =
            Reader { source: Arc::new(source.clone()), symbols: data.symbols, sites: RefCell::new(Vec::new()) };
        let base = match &file.extends {
            Some(name) => Some(data.bases.architecture(name.get_ref()).cloned().ok_or_else(|| {
                reader.located(
                    format!(
                        "`extends` names an architecture tally does not know: `{}`; known: {}",
                        name.get_ref(),
                        data.bases.architectures().join(", ")
                    ),
                    name.span(),
                )
            })?),
            None => None,
        };
        if base.is_none() && file.stage.is_empty() {
            return Err(reader.located("a model needs at least one [[stage]] (or `extends` another)", 0..0));
        }
        if base.is_some() && !file.stage.is_empty() {
            return Err(reader.located(
                "a model that `extends` another changes its ops with [[change]], not with new [[stage]]s",
                0..0,
            ));
        }
        if base.is_none() && !file.change.is_empty() {
            return Err(reader.located("[[change]] needs `extends = \"architecture\"`", file.change[0].span()));
        }
        let mut relations = base.as_ref().map(|b| b.relations.clone()).unwrap_or_default();
        let mut relation_spans = base.as_ref().map(|b| b.relation_spans.clone()).unwrap_or_default();
        for (name, formula) in &file.relations {
            let symbol = reader.symbol(name)?;
            let expr = reader.expr(formula)?;
            match relations.iter().position(|(s, _)| *s == symbol) {
                Some(i) => {
                    relations[i].1 = expr;
                    relation_spans[i] = (reader.source.clone(), formula.span());
                }
                None => {
                    relations.push((symbol, expr));
                    relation_spans.push((reader.source.clone(), formula.span()));
                }
            }
        }
        let mut presets = base.as_ref().map(|b| b.presets.clone()).unwrap_or_default();
        for p in &file.preset {
            let preset = Preset { name: p.name.clone(), summary: p.summary.clone(), sizes: reader.sizes(&p.sizes)? };
            match presets.iter().position(|q| q.name == p.name) {
                Some(i) => presets[i] = preset,
                None => presets.push(preset),
            }
        }
        let mut stages = base.as_ref().map(|b| b.stages.clone()).unwrap_or_default();
        for s in &file.stage {
            let repeat = match &s.repeat {
                Some(r) => reader.site(r, format!("stage `{}`: repeat", s.name), (None, "repeat"), SiteKind::Repeat)?,
                None => Expr::one(),
            };
            let mut ops = s.op.iter().map(|o| reader.op(o, &s.name, "other")).collect::<Result<Vec<_>>>()?;
            if let Some(w) = &s.window {
                let window =
                    reader.site(w, format!("stage `{}`: window", s.name), (None, "window"), SiteKind::Dimension)?;
                for op in &mut ops {
                    op.window = Some(window.clone());
                }
            }
            let stage = Stage { name: s.name.clone(), repeat, ops };
            reader.check_inputs(&stage, &s.op)?;
            stages.push(stage);
        }
        let mut sites = base.as_ref().map(|b| b.sites.clone()).unwrap_or_default();
        for change in &file.change {
            reader.change(&mut stages, &mut sites, change)?;
        }
        let mut titles: BTreeMap<String, String> =
            base.as_ref().map(|b| b.components.iter().cloned().collect()).unwrap_or_default();
        titles.extend(file.components.clone());
        let mut components: Vec<(String, String)> = Vec::new();
        for op in stages.iter().flat_map(|s| &s.ops) {
            if !components.iter().any(|(id, _)| *id == op.component) {
                let title = titles.get(&op.component).cloned().unwrap_or_else(|| op.component.replace('_', " "));
                components.push((op.component.clone(), title));
            }
        }
        for w in &file.whole_numbers {
            reader.site(w, "whole_numbers".into(), (None, "whole_numbers"), SiteKind::WholeNumber)?;
        }
        let mut defaults = base.as_ref().map(|b| b.defaults.clone()).unwrap_or_default();
        defaults.extend(reader.sizes(&file.defaults)?);
        sites.extend(reader.sites.into_inner());
        Ok(Model {
            name: file.name,
            summary: file.summary,
            default_preset: file.default_preset.or_else(|| base.as_ref().and_then(|b| b.default_preset.clone())),
            defaults,
            relations,
            relation_spans,
            components,
            presets,
            stages,
            sites,
            source: Arc::new(source.clone()),
            costs: data.costs,
            saves: data.saves.clone(),
            extends: base.map(|b| b.name),
        })
    }
}

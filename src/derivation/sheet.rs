//! Answer sheets: a document in `derivations/*.toml` that asks questions (the parts of an
//! assignment) and answers each from a derivation at the part's own settings. The wording of an
//! answer is a template filled with derived values; the judgement sentences (what dominates, how
//! shares move) are generated from the numbers, never written in.

use super::{Block, Cell, Document, Equation, Inline, Lhs, Row, Side, Table, op_table, shares_table, text};
use crate::algebra::{Engine, Rational};
use crate::dim;
use crate::error::{Error, Result};
use crate::facts::Facts;
use crate::model::Origin;
use crate::options::Options;
use crate::preset::Selection;
use crate::quantity::{BatchLine, Catalog, Context, Conventions, Quantity};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use crate::sheet::{PartFile, Sheet, SheetFile};

/// One setting a part is derived at: extra bindings and the conventions.
struct Setting {
    sets: Vec<(String, Rational, Origin)>,
    options: Options,
    conventions: Conventions,
    key: String,
    label: String,
}

fn setting(part: &PartFile, base: &Options, data: &Facts, sheet: &Sheet) -> Result<Setting> {
    let mut options = base.clone();
    let mut label = Vec::new();
    if let Some(t) = &part.training {
        for (name, value) in [
            ("steps", t.steps.map(|s| s.to_string())),
            ("mfu", t.mfu.clone()),
            ("hardware", t.hardware.clone()),
            ("precision", t.precision.clone()),
        ] {
            if let Some(v) = value {
                options.set(name, &v)?;
            }
        }
    }
    let conventions = crate::resolve::conventions(&options, data)?;
    let mut sets = conventions.bindings()?;
    let symbols = &data.symbols;
    for (name, value) in &part.set {
        let def = symbols.get(name).ok_or_else(|| Error::BadOption {
            option: format!("{}: set", sheet.source.name),
            value: name.clone(),
            reason: symbols.resolve(name).err().unwrap_or_default(),
        })?;
        sets.push((def.short.clone(), Rational::from_integer((*value).into()), Origin::Set));
        label.push(format!("{}={}", def.short, value));
    }
    let key = format!("{sets:?}|{options:?}");
    Ok(Setting { sets, conventions, key, label: label.join(","), options })
}

/// One derivation of a sheet: the document, the model and the evaluation context it used.
type Derived<'a> = Rc<(Document, Selection, Context<'a>)>;

/// Derivations of one sheet, each computed once and shared (not copied): most parts share a
/// setting, and the scaling part derives every preset. A sheet shows a few quantities of each,
/// so only those are derived (`wanted`), not whole documents with op tables and chains.
struct Derivations<'a> {
    engine: &'a Engine,
    data: &'a Facts,
    wanted: BTreeSet<String>,
    cache: RefCell<HashMap<String, Derived<'a>>>,
}

impl<'a> Derivations<'a> {
    /// The quantities of `preset` at `setting` that the sheet uses, with the model and evaluation
    /// context they came from.
    fn get(&self, preset: &str, setting: &Setting) -> Result<Derived<'a>> {
        let key = format!("{preset}|{}", setting.key);
        if let Some(hit) = self.cache.borrow().get(&key) {
            return Ok(hit.clone());
        }
        let symbols = &self.data.symbols;
        let registry = &self.data.models;
        let selection = registry.select(preset)?.ok_or_else(|| registry.unknown(preset))?;
        let bindings = selection.model.bind(selection.preset.as_ref(), &setting.sets, symbols)?;
        let ctx = Context { engine: self.engine, layout: symbols.layout(), values: bindings.values() };
        let catalog = Catalog::new(&selection.model, &setting.conventions);
        // The per-component FLOPs (for shares) and every quantity a part names, as the
        // catalog gives them — the same quantities a derivation's document holds.
        let mut names: Vec<String> = catalog.components().into_iter().map(|(name, _)| name).collect();
        let more: Vec<String> = self.wanted.iter().filter(|n| !names.contains(n)).cloned().collect();
        names.extend(more);
        let mut quantities = Vec::new();
        for name in &names {
            quantities.extend(catalog.quantity(&ctx, name)?);
        }
        let doc = Document {
            title: String::new(),
            model: selection.id.clone(),
            bindings: bindings.entries.iter().map(|b| (b.symbol.clone(), b.value.clone())).collect(),
            conventions: super::convention_words(&setting.conventions),
            quantities,
            blocks: vec![],
            notes: vec![],
        };
        let entry = Rc::new((doc, selection, ctx));
        self.cache.borrow_mut().insert(key, entry.clone());
        Ok(entry)
    }
}

/// Every quantity a sheet's parts name: shown, or filled into an answer.
fn wanted(sheet: &SheetFile) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = ["flops.forward".to_string()].into();
    for part in &sheet.part {
        out.extend(part.show.iter().cloned());
        let mut rest = part.answer.as_str();
        while let Some(start) = rest.find('{') {
            let Some(end) = rest[start..].find('}') else { break };
            let field = &rest[start + 1..start + end];
            out.insert(field.split_once(':').map(|(_, name)| name).unwrap_or(field).to_string());
            rest = &rest[start + end + 1..];
        }
    }
    out
}

fn find<'a>(doc: &'a Document, name: &str) -> Option<&'a Quantity> {
    doc.quantities.iter().find(|q| q.name == name)
}

/// Fills `{value:q}`, `{display:q}`, `{expr:q}` from the derived quantities.
fn fill(ctx: &Context, template: &str, doc: &Document) -> Result<Vec<Inline>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push(text(&rest[..start]));
        let Some(end) = rest[start..].find('}') else { break };
        let field = &rest[start + 1..start + end];
        let (kind, name) = field.split_once(':').unwrap_or(("value", field));
        let piece = match (kind, find(doc, name)) {
            ("expr", Some(q)) => Inline::Math(q.closed.clone()),
            ("display", Some(q)) => text(
                q.verdict.clone().or_else(|| q.value.as_ref().map(|v| dim::display(v, &q.unit))).unwrap_or_default(),
            ),
            ("linear", Some(q)) => text(linear_words(ctx, q)?),
            ("value", Some(q)) => text(match &q.value {
                Some(v) if v.is_integer() => dim::exact_with_unit(v, &q.unit),
                Some(v) => dim::display(v, &q.unit),
                None => q.verdict.clone().unwrap_or_else(|| "(unbound)".into()),
            }),
            _ => text(format!("{{{field}?}}")),
        };
        out.push(piece);
        rest = &rest[start + end + 1..];
    }
    out.push(text(rest));
    Ok(out)
}

/// `15,517,753,344·B + 34,032,921,600 bytes`: the quantity as a·B + b at the document's sizes.
fn linear_words(ctx: &Context, q: &Quantity) -> Result<String> {
    Ok(match BatchLine::of(ctx, &q.raw) {
        Ok(Some(line)) => format!("{}·B + {} {}s", dim::exact(&line.a), dim::exact(&line.b), q.unit.name()),
        _ => "(not linear in B)".into(),
    })
}

fn show(doc: &Document, names: &[String], suffix: &str, out: &mut Vec<Quantity>) -> Block {
    let mut eqs = Vec::new();
    for name in names {
        let Some(q) = find(doc, name) else { continue };
        let mut rhs = vec![Side::Expr(q.closed.clone())];
        if let Some(v) = &q.value {
            rhs.push(Side::Value(v.clone(), q.unit.clone()));
        }
        let note = q.verdict.clone().map(|v| format!("{}: {v}", q.title)).unwrap_or_else(|| q.title.clone());
        eqs.push(Equation { lhs: Lhs::Name(name.clone()), rhs, note: Some(note) });
        // A quantity shown again at other settings keeps its name with the settings appended.
        let mut named = q.clone();
        if !suffix.is_empty() && out.iter().any(|o| o.name == q.name) {
            named.name = format!("{}[{suffix}]", q.name);
        }
        if !out.iter().any(|o| o.name == named.name) {
            out.push(named);
        }
    }
    Block::Equations(eqs)
}

fn components(doc: &Document) -> Vec<Quantity> {
    doc.quantities.iter().filter(|q| q.name.starts_with("flops.forward.") && q.value.is_some()).cloned().collect()
}

fn share(part: &Quantity, all: &[Quantity]) -> Rational {
    let total: Rational = all.iter().filter_map(|q| q.value.clone()).sum();
    part.value.clone().unwrap_or_default() / total
}

fn percent(r: &Rational) -> Inline {
    Inline::Percent(r.clone(), 1)
}

/// "X dominates with a% of forward FLOPs, then Y with b%."
fn dominance_sentence(doc: &Document) -> Vec<Inline> {
    let mut parts = components(doc);
    parts.sort_by(|a, b| b.value.cmp(&a.value));
    let all = components(doc);
    match parts.as_slice() {
        [first, second, ..] => vec![
            text(format!("From the rules: {} takes ", first.title)),
            percent(&share(first, &all)),
            text(format!(" of the forward FLOPs, then {} with ", second.title)),
            percent(&share(second, &all)),
            text("; together "),
            percent(&(share(first, &all) + share(second, &all))),
            text("."),
        ],
        _ => vec![],
    }
}

/// A component × preset table of shares and a sentence on which shares grow and which shrink.
fn scaling(presets: &[String], setting: &Setting, derivations: &Derivations) -> Result<(Table, Vec<Inline>)> {
    let derived = presets.iter().map(|p| derivations.get(p, setting)).collect::<Result<Vec<_>>>()?;
    let docs: Vec<&Document> = derived.iter().map(|d| &d.0).collect();
    let titles: Vec<(String, String)> = components(docs[0]).iter().map(|q| (q.name.clone(), q.title.clone())).collect();
    let mut rows = Vec::new();
    let mut sentence = vec![text(format!(
        "From {} to {}: ",
        presets.first().cloned().unwrap_or_default(),
        presets.last().cloned().unwrap_or_default()
    ))];
    for (i, (name, title)) in titles.iter().enumerate() {
        let shares: Vec<Rational> =
            docs.iter().map(|d| find(d, name).map(|q| share(q, &components(d))).unwrap_or_default()).collect();
        let mut cells = vec![Cell::Text(title.clone())];
        cells.extend(shares.iter().map(|s| Cell::Percent(s.clone(), 1)));
        rows.push(Row::plain(cells));
        if let (Some(first), Some(last)) = (shares.first(), shares.last()) {
            let direction = if last > first { "grows" } else { "shrinks" };
            let separator = if i == 0 { "" } else { "; " };
            sentence.extend([
                text(format!("{separator}{title} {direction} from ")),
                percent(first),
                text(" to "),
                percent(last),
            ]);
        }
    }
    sentence.push(text(
        ". Per-layer work grows with H² (projections, feed-forward) while the LM head grows only with H, so it loses share as models widen; attention's T²H terms gain relative to H² terms only when T is large compared with H.",
    ));
    let mut columns = vec![("component".to_string(), false)];
    columns.extend(presets.iter().map(|p| (p.clone(), true)));
    Ok((Table { columns, rows }, sentence))
}

/// Every reading of an ambiguous source side by side: the quantities of `part.show` under each.
fn readings_table(
    part: &PartFile,
    selection: &Selection,
    ctx: &Context,
    conventions: &Conventions,
    sheet: &Sheet,
) -> Result<(Table, String, Vec<Quantity>)> {
    let mut rows = Vec::new();
    let mut others = Vec::new();
    for (index, r) in part.reading.iter().enumerate() {
        let model = match &r.change {
            None => selection.model.clone(),
            Some(change) => {
                let change: crate::model::ModelChange = change.parse().map_err(|reason| Error::BadOption {
                    option: format!("{}: change", sheet.source.name),
                    value: change.clone(),
                    reason,
                })?;
                selection.model.changed(change).ok_or_else(|| Error::BadOption {
                    option: format!("{}: change", sheet.source.name),
                    value: change.to_string(),
                    reason: "changes nothing in this model".into(),
                })?
            }
        };
        let catalog = crate::quantity::Catalog::new(&model, conventions);
        let mut cells = vec![Cell::Text(r.name.clone()), Cell::Text(r.follows.clone())];
        for q in &part.show {
            let raw = catalog.raw(q).ok_or_else(|| Error::BadOption {
                option: format!("{}: show", sheet.source.name),
                value: q.clone(),
                reason: "not a quantity of this model".into(),
            })?;
            cells.push(Cell::Number(ctx.value(&raw)?));
            // The other readings' numbers are quantities of the sheet too, named with the reading.
            if index > 0 {
                let unit = catalog.unit(q).unwrap_or_else(crate::dim::Unit::none);
                others.push(ctx.quantity(&format!("{q}[{}]", r.name), &format!("{q} ({})", r.name), unit, raw)?);
            }
        }
        rows.push(Row::plain(cells));
    }
    let mut columns = vec![("reading".to_string(), false), ("follows".to_string(), false)];
    columns.extend(part.show.iter().map(|q| (q.clone(), true)));
    let first = part.reading.first().map(|r| r.name.as_str()).unwrap_or_default();
    let sentence = format!(
        "The sources disagree; every answer on this sheet uses the first reading ({first}). Each reading's numbers follow from the same rules with the one change it names."
    );
    Ok((Table { columns, rows }, sentence, others))
}

fn update_summary(optimizer: &crate::optimizer::Optimizer) -> String {
    let lines: Vec<String> = optimizer
        .line
        .iter()
        .filter(|l| l.per == crate::optimizer::Per::Param)
        .map(|l| format!("{} ({} FLOPs)", l.text, l.ops.len()))
        .collect();
    format!(
        "Per parameter the update performs {}: {} FLOPs per parameter, plus {} scalar FLOPs once per step.",
        lines.join(", "),
        optimizer.flops_per_param(),
        optimizer.flops_per_step()
    )
}

/// Builds the answer sheet's document.
pub fn answer(engine: &Engine, sheet: &Sheet, data: &Facts) -> Result<Document> {
    let model = &sheet.file().model;
    let base = Options::default();
    let conventions = crate::resolve::conventions(&base, data)?;
    let base_setting = Setting {
        sets: conventions.bindings()?,
        key: format!("{base:?}"),
        conventions,
        label: String::new(),
        options: base.clone(),
    };
    let derivations = Derivations { engine, data, wanted: wanted(sheet.file()), cache: RefCell::new(HashMap::new()) };
    let base_derived = derivations.get(model, &base_setting)?;
    let base_doc = &base_derived.0;
    let mut blocks = vec![Block::Paragraph(vec![text(sheet.file().intro.clone())])];
    let mut quantities = Vec::new();
    for part in &sheet.file().part {
        let s = setting(part, &base, data, sheet)?;
        let derived = derivations.get(model, &s)?;
        let (doc, selection, ctx) = (&derived.0, &derived.1, &derived.2);
        blocks.push(Block::Heading(part.heading.clone()));
        blocks.push(Block::Paragraph(vec![text(format!("Question: {}", part.question))]));
        match part.kind.as_str() {
            "quantities" => {}
            "matmuls" => {
                let matmuls = |op: &crate::ops::Op| !op.matmul_flops().is_zero();
                blocks.push(Block::Table(op_table(selection, ctx, s.conventions.flops, &matmuls)?));
            }
            "dominant" => {
                blocks.push(Block::Table(shares_table(&components(doc))));
                blocks.push(Block::Paragraph(dominance_sentence(doc)));
            }
            "scaling" => {
                let (table, sentence) = scaling(&part.presets, &s, &derivations)?;
                blocks.push(Block::Table(table));
                blocks.push(Block::Paragraph(sentence));
            }
            "context" => {
                blocks.push(Block::Table(shares_table(&components(doc))));
                let (before, after) = (find(base_doc, "flops.forward"), find(doc, "flops.forward"));
                if let (Some(Some(b)), Some(Some(a))) =
                    (before.map(|q| q.value.clone()), after.map(|q| q.value.clone()))
                {
                    let mut sentence = vec![text(format!(
                        "Forward FLOPs grow {}× (from {} to {}): the T² attention terms grow quadratically with the context while everything else grows linearly. ",
                        dim::decimal(&(a / b), 1),
                        dim::display(&base_doc_value(base_doc, "flops.forward"), &crate::dim::Unit::flop()),
                        dim::display(&base_doc_value(doc, "flops.forward"), &crate::dim::Unit::flop()),
                    ))];
                    sentence.extend(dominance_sentence(doc));
                    blocks.push(Block::Paragraph(sentence));
                }
            }
            "optimizer" => blocks.push(Block::Paragraph(vec![text(update_summary(&s.conventions.optimizer))])),
            "readings" => {
                let (table, sentence, others) = readings_table(part, selection, ctx, &s.conventions, sheet)?;
                quantities.extend(others);
                blocks.push(Block::Table(table));
                blocks.push(Block::Paragraph(vec![text(sentence)]));
            }
            other => {
                return Err(Error::BadOption {
                    option: format!("{}: kind", sheet.source.name),
                    value: other.to_string(),
                    reason: "known kinds: quantities, matmuls, dominant, scaling, context, optimizer, readings".into(),
                });
            }
        }
        if !part.show.is_empty() {
            blocks.push(show(doc, &part.show, &s.label, &mut quantities));
        }
        if !part.answer.is_empty() {
            let mut inlines = vec![text("Answer: ")];
            inlines.extend(fill(ctx, &part.answer, doc)?);
            blocks.push(Block::Paragraph(inlines));
        }
        if let Some(figure) = &part.figure {
            blocks.push(super::figures::block(figure, model, &s.options, data, &sheet.source.name)?);
        }
    }
    super::figures::unique_ids(&mut blocks);
    Ok(Document {
        title: sheet.file().title.clone(),
        model: format!("{} ({} answer sheet)", base_doc.model, sheet.file().name),
        bindings: base_doc.bindings.clone(),
        conventions: base_doc.conventions.clone(),
        quantities,
        blocks,
        notes: vec![],
    })
}

fn base_doc_value(doc: &Document, name: &str) -> Rational {
    find(doc, name).and_then(|q| q.value.clone()).unwrap_or_default()
}

//! JSON, the contract other tools rely on: one object with `model`, `bindings` (symbol → integer),
//! `conventions`, and `quantities`, each `{name, title, unit, expr, latex, value, display}` where
//! `expr` is the closed form in ASCII (`*`, `^`, short symbols) and `value` the exact result as a
//! string (`"2127057600"` or `"p/q"`). Written through serde from the structs below.

use super::Render;
use crate::algebra::{Notation, Rational, print};
use crate::derivation::Document;
use crate::dim;
use serde::Serialize;
use serde_json::Value;

/// The JSON renderer.
pub struct Json;

/// A binding: a JSON integer when it fits, else the exact text.
fn number(v: &Rational) -> Value {
    match i64::try_from(v.numer()) {
        Ok(n) if v.is_integer() => Value::from(n),
        _ => Value::from(crate::dim::plain(v)),
    }
}

#[derive(Serialize)]
struct JsonDocument<'a> {
    model: &'a str,
    bindings: serde_json::Map<String, Value>,
    conventions: serde_json::Map<String, Value>,
    quantities: Vec<JsonQuantity<'a>>,
    /// Everything the other formats show, block by block, as text (Unicode maths): the title,
    /// headings, paragraphs (questions, judgements), tables (shares, activations) and equation
    /// chains.
    document: Vec<Value>,
}

/// One block of the document as JSON.
fn block(b: &crate::derivation::Block) -> Value {
    use crate::derivation::Block;
    let n = Notation::Unicode;
    match b {
        Block::Heading(h) => serde_json::json!({ "heading": h }),
        Block::Paragraph(parts) => {
            serde_json::json!({ "paragraph": super::paragraph(parts, |t| t.to_string(), |e| print(e, n)) })
        }
        Block::Table(t) => serde_json::json!({ "table": {
            "columns": t.columns.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>(),
            "rows": t.rows.iter().map(|r| r.cells.iter().map(|c| super::cell_plain(c, n)).collect::<Vec<_>>()).collect::<Vec<_>>(),
        } }),
        Block::Equations(eqs) => serde_json::json!({ "equations": eqs.iter().map(|eq| serde_json::json!({
            "lhs": super::lhs(&eq.lhs, n),
            "rhs": eq.rhs.iter().map(|s| format!("{} {}", s.relation(), super::side_plain(s, n))).collect::<Vec<_>>(),
            "note": eq.note,
        })).collect::<Vec<_>>() }),
        Block::Figure(f) => match &f.chart {
            // The request as `tally plot` takes it: kind and flags, model, preset and bindings.
            Some(c) => serde_json::json!({ "figure": super::figure_note(f), "chart": {
                "plot": c.plot, "model": c.derive.model, "preset": c.derive.preset, "sets": c.derive.sets,
            } }),
            None => serde_json::json!({ "figure": super::figure_note(f) }),
        },
    }
}

#[derive(Serialize)]
struct JsonQuantity<'a> {
    name: &'a str,
    title: &'a str,
    unit: String,
    expr: String,
    latex: String,
    value: Option<String>,
    display: Option<String>,
}

impl Render for Json {
    fn render(&self, doc: &Document) -> String {
        let out = JsonDocument {
            model: &doc.model,
            bindings: doc.bindings.iter().map(|(s, v)| (s.clone(), number(v))).collect(),
            conventions: doc.conventions.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect(),
            quantities: doc
                .quantities
                .iter()
                .map(|q| JsonQuantity {
                    name: &q.name,
                    title: &q.title,
                    unit: q.unit.name(),
                    expr: print(&q.closed, Notation::Ascii),
                    latex: print(&q.closed, Notation::Latex),
                    value: q.value.as_ref().map(crate::dim::plain),
                    display: q.verdict.clone().or_else(|| q.value.as_ref().map(|v| dim::display(v, &q.unit))),
                })
                .collect(),
            document: std::iter::once(serde_json::json!({ "title": doc.title }))
                .chain(doc.blocks.iter().map(block))
                .collect(),
        };
        let mut s = serde_json::to_string_pretty(&out).unwrap_or_default();
        s.push('\n');
        s
    }
}

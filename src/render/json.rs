//! JSON, the contract other tools rely on: one object with `model`, `bindings` (symbol → integer),
//! `conventions`, and `quantities`, each `{name, title, unit, expr, latex, value, display}` where
//! `expr` is the closed form in ASCII (`*`, `^`, short symbols) and `value` the exact result as a
//! string (`"2127057600"` or `"p/q"`).

use super::Render;
use crate::algebra::{Notation, Rational, print};
use crate::derivation::Document;
use crate::dim;
use serde_json::{Map, Value, json};

/// The JSON renderer.
pub struct Json;

fn exact_string(v: &Rational) -> String {
    if v.is_integer() { v.numer().to_string() } else { format!("{}/{}", v.numer(), v.denom()) }
}

fn number(v: &Rational) -> Value {
    if v.is_integer()
        && let Ok(n) = i64::try_from(v.numer())
    {
        return json!(n);
    }
    json!(exact_string(v))
}

impl Render for Json {
    fn render(&self, doc: &Document) -> String {
        let mut bindings = Map::new();
        for (s, v) in &doc.bindings {
            bindings.insert(s.clone(), number(v));
        }
        let mut conventions = Map::new();
        for (k, v) in &doc.conventions {
            conventions.insert(k.clone(), json!(v));
        }
        let quantities: Vec<Value> = doc
            .quantities
            .iter()
            .map(|q| {
                json!({
                    "name": q.name,
                    "title": q.title,
                    "unit": q.unit.name(),
                    "expr": print(&q.closed, Notation::Ascii),
                    "latex": print(&q.closed, Notation::Latex),
                    "value": q.value.as_ref().map(exact_string),
                    "display": q.verdict.clone().or_else(|| q.value.as_ref().map(|v| dim::display(v, &q.unit))),
                })
            })
            .collect();
        let out = json!({
            "model": doc.model,
            "bindings": bindings,
            "conventions": conventions,
            "quantities": quantities,
        });
        let mut s = serde_json::to_string_pretty(&out).unwrap_or_default();
        s.push('\n');
        s
    }
}

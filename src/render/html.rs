//! HTML: one standalone HTML5 page in XHTML-compatible markup, maths as MathML (through
//! [`mathml`](super::mathml)), an embedded stylesheet and no network resources: no scripts, no
//! external fonts, nothing fetched.
//!
//! Typography: an equation chain (`symbol = closed form = value`) is one `<math>` holding a
//! three-column `<mtable>` (left side, relation, right side), so every relation sign of the chain
//! sits in one column and the values are set in the maths font like the formulas; text and maths
//! are scaled to the same x-height; a quantity's name (`flops.forward.lm_head`) is one identifier
//! in a monospace font; wide tables and long chains scroll inside their own box. A chart
//! ([`Block::Figure`]) is its SVG inline, scaled to the page width.

use super::mathml::{content, escape, math, well_formed};
use super::{Render, paragraph, shape, value_phrase};
use crate::algebra::{Notation, print};
use crate::derivation::{Block, Cell, Document, Equation, Figure, Lhs, Side, Table};
use crate::dim;
use latex2mathml::DisplayStyle;

/// The HTML renderer.
pub struct Html;

/// The page's style; kept free of `<` and `&` so the page stays well-formed XML.
///
/// `font-size-adjust` gives text, code and maths one x-height whatever fonts the reader has, so
/// maths is as large as the words around it (a maths font at the text's point size looks smaller:
/// Latin Modern's x-height is 0.43 em, DejaVu Sans' 0.55 em). In a chain's `<mtable>` the first
/// column is right-aligned, the relation centred and the right sides left-aligned (`columnalign`
/// for MathML 3 browsers, `text-align` for MathML Core ones).
const STYLE: &str = "\
:root { color-scheme: light; }
body { font-family: sans-serif; font-size-adjust: ex-height 0.53; line-height: 1.45; color: #111; background: #fff;
  max-width: 72em; margin: 2em auto; padding: 0 1em; }
math { font-family: \"Latin Modern Math\", \"STIX Two Math\", \"Cambria Math\", math; font-size-adjust: ex-height 0.53; }
code, .name { font-family: ui-monospace, \"DejaVu Sans Mono\", monospace; font-size-adjust: ex-height 0.53; }
h1, h2 { line-height: 1.2; }
div.wide { overflow-x: auto; margin: 1em 0; }
table { border-collapse: collapse; }
th, td { border: 1px solid #aaa; padding: 0.25em 0.6em; vertical-align: middle; }
th { background: #eee; text-align: left; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; border-top: 2px solid #555; }
figure.chain { margin: 1em 0; padding: 0.3em 0; overflow-x: auto; }
figure.chain figcaption { font-style: italic; color: #555; }
mtable.chain mtd { padding: 0.2em 0; text-align: left; vertical-align: baseline; }
mtable.chain mtd:first-child { text-align: right; }
mtable.chain mtd:nth-child(2) { text-align: center; padding: 0.2em 0.4em; }
figure.chart { margin: 1em 0; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figure.chart figcaption { font-style: italic; color: #555; }
.tex { color: #a00; }
";

/// Running text: escaped, with a span in backticks (`` `cs336` ``) set as code, as Markdown would.
fn prose(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return escape(s);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| match (i % 2, p.is_empty()) {
            (1, true) => "``".to_string(),
            (1, false) => format!("<code>{}</code>", escape(p)),
            _ => escape(p),
        })
        .collect()
}

fn inline(latex: &str) -> String {
    math(latex, DisplayStyle::Inline)
}

fn cell(c: &Cell) -> String {
    match c {
        Cell::Text(s) => prose(s),
        Cell::Math(e) => inline(&print(e, Notation::Latex)),
        Cell::Written { latex, .. } => inline(latex),
        Cell::Shape(ops) => inline(&shape(ops, Notation::Latex)),
        Cell::Number(n) => dim::exact(n),
        Cell::Percent(r, places) => escape(&super::percent(r, *places)),
        Cell::Empty => String::new(),
    }
}

/// `class="num"` on right-aligned columns, so headers and cells line up the same way.
fn align(right: bool) -> &'static str {
    if right { " class=\"num\"" } else { "" }
}

/// A table in a box that scrolls sideways when the table is wider than the page.
fn table(t: &Table) -> String {
    let mut out = String::from("<div class=\"wide\">\n<table>\n<thead>\n<tr>");
    for (h, right) in &t.columns {
        out.push_str(&format!("<th{}>{}</th>", align(*right), escape(h)));
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");
    for row in &t.rows {
        out.push_str(if row.total { "<tr class=\"total\">" } else { "<tr>" });
        for (i, c) in row.cells.iter().enumerate() {
            let right = t.columns.get(i).is_some_and(|(_, right)| *right);
            out.push_str(&format!("<td{}>{}</td>", align(right), cell(c)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
    out
}

/// The left side of a chain as MathML: a quantity's name is one identifier (the converter would
/// spell `flops.forward` letter by letter with the dots as operators), a symbol is converted.
fn left(lhs: &Lhs) -> String {
    match lhs {
        Lhs::Name(name) => format!("<mi class=\"name\">{}</mi>", escape(name)),
        Lhs::Symbol(_) => content(&super::lhs(lhs, Notation::Latex)),
    }
}

/// One row of a chain's table: left side (or nothing), relation, right side.
fn row(left: &str, relation: &str, right: &str) -> String {
    let left = if left.is_empty() { "<mtd></mtd>".to_string() } else { format!("<mtd>{left}</mtd>") };
    format!("<mtr>{left}<mtd><mo>{relation}</mo></mtd><mtd>{right}</mtd></mtr>\n")
}

/// One chain: a caption for the note, then one `<math>` whose table has a row per right-hand
/// side. A value (`2,127,057,600 params ≈ 2.13B params`) takes a row per reading, exact then
/// rounded, each after its own relation sign, in the maths font.
fn chain(eq: &Equation) -> String {
    let mut out = String::from("<figure class=\"chain\">\n");
    if let Some(n) = &eq.note {
        out.push_str(&format!("<figcaption>{}</figcaption>\n", escape(n)));
    }
    out.push_str(
        "<math xmlns=\"http://www.w3.org/1998/Math/MathML\" display=\"inline\" displaystyle=\"true\">\n\
         <mtable class=\"chain\" columnalign=\"right center left\" columnspacing=\"0\" displaystyle=\"true\">\n",
    );
    let mut head = left(&eq.lhs);
    for side in &eq.rhs {
        let relation = if side.relation() == "=" { "=" } else { "≈" };
        match side {
            Side::Expr(e) => out.push_str(&row(&head, relation, &content(&print(e, Notation::Latex)))),
            Side::Value(v, u) => {
                let words = value_phrase(v, u);
                for (k, reading) in words.split(" ≈ ").enumerate() {
                    let relation = if k == 0 { relation } else { "≈" };
                    let right = format!("<mtext class=\"value\">{}</mtext>", escape(reading));
                    out.push_str(&row(if k == 0 { &head } else { "" }, relation, &right));
                }
            }
        }
        head.clear();
    }
    out.push_str("</mtable>\n</math>\n</figure>\n");
    out
}

/// A chart set inline, its caption under it. SVG that is not well-formed markup is left out with
/// a note, since it would break the page.
fn figure(f: &Figure) -> String {
    let id = escape(&f.id);
    let caption = format!("<figcaption>{}</figcaption>", escape(&f.caption));
    if f.svg.is_empty() {
        // Not drawn (a library caller rendered without `Session::draw_figures`): say where it is.
        return format!("<p><em>{}</em></p>\n", escape(&super::figure_note(f)));
    }
    match svg(&f.svg) {
        Some(svg) => format!("<figure class=\"chart\" id=\"{id}\">\n{svg}\n{caption}\n</figure>\n"),
        None => format!(
            "<figure class=\"chart\" id=\"{id}\">\n{caption}\n<p class=\"tex\">chart {id}.svg left out: not well-formed SVG</p>\n</figure>\n"
        ),
    }
}

/// The `<svg>` element of an SVG document, without the XML declaration, doctype or comments that
/// may come before it (inside a page they would make it malformed); `None` unless what is left is
/// one well-formed `<svg>` element.
fn svg(document: &str) -> Option<&str> {
    let mut rest = document.trim();
    loop {
        let end = if rest.starts_with("<?") {
            rest.find("?>")? + 2
        } else if rest.starts_with("<!--") {
            rest.find("-->")? + 3
        } else if rest.starts_with("<!") {
            rest.find('>')? + 1
        } else {
            break;
        };
        rest = rest[end..].trim_start();
    }
    (rest.starts_with("<svg") && rest.ends_with("</svg>") && well_formed(rest)).then_some(rest)
}

impl Render for Html {
    fn render(&self, doc: &Document) -> String {
        let title = escape(&doc.title);
        let mut out = format!(
            "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n\
             <meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
             <title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
        );
        for block in &doc.blocks {
            match block {
                Block::Heading(h) => out.push_str(&format!("<h2>{}</h2>\n", escape(h))),
                Block::Paragraph(parts) => {
                    let s = paragraph(parts, prose, |e| inline(&print(e, Notation::Latex)));
                    out.push_str(&format!("<p>{s}</p>\n"));
                }
                Block::Table(t) => out.push_str(&table(t)),
                Block::Figure(f) => out.push_str(&figure(f)),
                Block::Equations(eqs) => {
                    for eq in eqs {
                        out.push_str(&chain(eq));
                    }
                }
            }
        }
        out.push_str("</body>\n</html>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_set_inline_without_its_prolog() {
        let svg = "<?xml version=\"1.0\"?>\n<!-- drawn -->\n<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"x\" \
                   width=\"10\"><rect x=\"1\" y=\"1\"/><text>a &amp; b</text></svg>\n";
        let f = Figure { id: "flops".into(), svg: svg.into(), caption: "FLOPs & T".into(), ..Figure::default() };
        let html = figure(&f);
        assert!(html.starts_with("<figure class=\"chart\" id=\"flops\">\n<svg xmlns="), "{html}");
        assert!(html.contains("</svg>\n<figcaption>FLOPs &amp; T</figcaption>"), "{html}");
        assert!(!html.contains("<?xml") && !html.contains("<!--"), "{html}");
    }

    #[test]
    fn a_chart_that_would_break_the_page_is_left_out_with_a_note() {
        for svg in ["<svg><g></svg>", "<svg>a < b</svg>", "<div></div>", "<svg><!-- c --></svg>"] {
            let html = figure(&Figure { id: "c".into(), svg: svg.into(), caption: "c".into(), ..Figure::default() });
            assert!(html.contains("left out: not well-formed SVG") && !html.contains("<svg"), "{svg}: {html}");
        }
    }

    #[test]
    fn backticks_in_prose_become_code_and_a_lone_one_stays() {
        assert_eq!(prose("the `cs336` list & more"), "the <code>cs336</code> list &amp; more");
        assert_eq!(prose("a ` b"), "a ` b");
        assert_eq!(prose("``"), "``");
    }
}

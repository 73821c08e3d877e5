//! HTML: one standalone HTML5 page in XHTML-compatible markup, math as MathML from `latex2mathml`,
//! a small embedded stylesheet and no network resources. Equation chains are one block of math per
//! line, because `latex2mathml` has no `aligned` environment.

use super::{Render, paragraph, shape, value_phrase};
use crate::algebra::{Notation, print};
use crate::derivation::{Block, Cell, Document, Equation, Side, Table};
use crate::dim;
use latex2mathml::DisplayStyle;

/// The HTML renderer.
pub struct Html;

/// Enough style for readable tables; kept free of `<` and `&` so the page stays well-formed XML.
const STYLE: &str = "\
body { font-family: sans-serif; line-height: 1.45; max-width: 90em; margin: 2em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #aaa; padding: 0.25em 0.6em; vertical-align: middle; }
th { background: #eee; text-align: left; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; border-top: 2px solid #555; }
figure.chain { margin: 1em 0; }
figure.chain figcaption { font-size: 0.85em; font-style: italic; color: #555; }
math[display=\"block\"] { margin: 0.3em 0; text-align: left; }
code.tex { color: #a00; }
";

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

/// `latex` as MathML, or as escaped LaTeX in `<code>` when it cannot be converted cleanly.
fn math(latex: &str, display: DisplayStyle) -> String {
    let convert = |tex: &str| latex2mathml::latex_to_mathml(tex, display).ok().filter(|m| usable(m));
    // latex2mathml's `\text{…}` keeps only letters and derails on digits (`fp32`); `\mathrm` reads
    // any group, so it is the second try before giving up on MathML.
    convert(latex)
        .or_else(|| if latex.contains("\\text{") { convert(&latex.replace("\\text{", "\\mathrm{")) } else { None })
        .unwrap_or_else(|| format!("<code class=\"tex\">{}</code>", escape(latex)))
}

/// Whether converted MathML can go into the page. latex2mathml reports some failures inside an
/// `Ok` (`[PARSE ERROR: …]` text) and copies some input unescaped (`<mo><</mo>`, unquoted
/// `columnalign=left`, `&lang;`), either of which would make the page wrong or malformed.
fn usable(mathml: &str) -> bool {
    !mathml.contains("[PARSE ERROR") && well_formed(mathml)
}

/// A conservative check that `s` is balanced elements with quoted attributes and only character
/// references or XML's predefined entities.
fn well_formed(s: &str) -> bool {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(['<', '&']) {
        let tail = &rest[i..];
        if tail.starts_with('&') {
            let Some(end) = tail.find(';') else { return false };
            if !reference(&tail[1..end]) {
                return false;
            }
            rest = &tail[end + 1..];
            continue;
        }
        let Some(end) = tail.find('>') else { return false };
        let tag = &tail[1..end];
        rest = &tail[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            if open.pop() != Some(name) {
                return false;
            }
            continue;
        }
        let (tag, empty) = match tag.strip_suffix('/') {
            Some(t) => (t, true),
            None => (tag, false),
        };
        let (name, attrs) = tag.split_once(' ').unwrap_or((tag, ""));
        if !xml_name(name) || !attributes(attrs) {
            return false;
        }
        if !empty {
            open.push(name);
        }
    }
    open.is_empty()
}

fn xml_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn reference(name: &str) -> bool {
    let digits = |d: &str, radix: u32| !d.is_empty() && d.chars().all(|c| c.is_digit(radix));
    matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
        || name.strip_prefix("#x").is_some_and(|d| digits(d, 16))
        || name.strip_prefix('#').is_some_and(|d| digits(d, 10))
}

/// `name="value"` pairs, values without markup.
fn attributes(mut attrs: &str) -> bool {
    loop {
        attrs = attrs.trim_start();
        if attrs.is_empty() {
            return true;
        }
        let Some((name, value)) = attrs.split_once("=\"") else { return false };
        let Some(end) = value.find('"') else { return false };
        if !xml_name(name) || value[..end].contains(['<', '&']) {
            return false;
        }
        attrs = &value[end + 1..];
    }
}

fn inline(latex: &str) -> String {
    math(latex, DisplayStyle::Inline)
}

fn cell(c: &Cell) -> String {
    match c {
        Cell::Text(s) => escape(s),
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

fn table(t: &Table) -> String {
    let mut out = String::from("<table>\n<thead>\n<tr>");
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
    out.push_str("</tbody>\n</table>\n");
    out
}

/// One chain: a caption for the note, then a line per right-hand side (`lhs = …`, then `= …`).
/// Values are words (exact, then rounded) after the `=`, not math, as in the other formats.
fn chain(eq: &Equation) -> String {
    let mut out = String::from("<figure class=\"chain\">\n");
    if let Some(n) = &eq.note {
        out.push_str(&format!("<figcaption>{}</figcaption>\n", escape(n)));
    }
    for (i, side) in eq.rhs.iter().enumerate() {
        let rel = if side.relation() == "=" { "=" } else { "\\approx" };
        // A quantity's name (`\text{memory.total}`) is set as MathML text directly: the converter
        // would spell it letter by letter with the dots as operators.
        let named = match &eq.lhs {
            crate::derivation::Lhs::Name(n) => Some(n.as_str()),
            crate::derivation::Lhs::Symbol(_) => None,
        };
        let head = match (i, named) {
            (0, None) => format!("{} {rel} ", super::lhs(&eq.lhs, Notation::Latex)),
            _ => format!("{rel} "),
        };
        match side {
            Side::Expr(e) => {
                let mut m = math(&format!("{head}{}", print(e, Notation::Latex)), DisplayStyle::Block);
                if let (0, Some(name)) = (i, named)
                    && m.starts_with("<math")
                    && let Some(end) = m.find('>')
                {
                    m.insert_str(end + 1, &format!("<mtext>{}</mtext>", escape(name)));
                }
                out.push_str(&m);
                out.push('\n');
            }
            Side::Value(v, u) => {
                let words = value_phrase(v, u);
                out.push_str(&format!(
                    "<div class=\"value\">{} <span>{}</span></div>\n",
                    inline(head.trim_end()),
                    escape(&words)
                ));
            }
        }
    }
    out.push_str("</figure>\n");
    out
}

impl Render for Html {
    fn render(&self, doc: &Document) -> String {
        let title = escape(&doc.title);
        let mut out = format!(
            "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n\
             <meta charset=\"utf-8\"/>\n<title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
             <h1>{title}</h1>\n"
        );
        for block in &doc.blocks {
            match block {
                Block::Heading(h) => out.push_str(&format!("<h2>{}</h2>\n", escape(h))),
                Block::Paragraph(parts) => {
                    let s = paragraph(parts, escape, |e| inline(&print(e, Notation::Latex)));
                    out.push_str(&format!("<p>{s}</p>\n"));
                }
                Block::Table(t) => out.push_str(&table(t)),
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
    fn text_is_escaped() {
        assert_eq!(escape(r#"a < b & "c" > d"#), "a &lt; b &amp; &quot;c&quot; &gt; d");
    }

    #[test]
    fn text_with_digits_in_a_subscript_becomes_mathml() {
        let m = math(r"M_{\text{fp32}} = 4P", DisplayStyle::Block);
        assert!(m.starts_with("<math") && m.contains("<mn>32</mn>"), "{m}");
    }

    #[test]
    fn latex_the_converter_gets_wrong_falls_back_to_code() {
        for tex in
            [r"x < y", r"\begin{aligned} P &= 1 \\ &= 2 \end{aligned}", r"\left(a", r"\begin{align} a \end{align}"]
        {
            let m = math(tex, DisplayStyle::Inline);
            assert_eq!(m, format!("<code class=\"tex\">{}</code>", escape(tex)));
        }
    }

    #[test]
    fn well_formed_accepts_converter_output_and_rejects_broken_markup() {
        assert!(well_formed(r#"<math display="block"><mi>x</mi><mspace width="1em"/><mo>&#x2061;</mo></math>"#));
        for bad in
            ["<mo><</mo>", "<mtable columnalign=left></mtable>", "<mo>&lang;</mo>", "<mrow><mo>(</mro></mrow>", "<mi>"]
        {
            assert!(!well_formed(bad), "{bad}");
        }
    }
}

//! Output formats over one [`Document`]: each format is a file with one [`Render`] implementation.
//! Renderers decide how things look, never what is said.

mod html;
mod json;
mod latex;
mod markdown;
mod mathml;
mod text;

use crate::algebra::{Notation, print};
use crate::derivation::{Cell, Document, Side};
use crate::dim;

pub use latex::latex_text;

choices! {
    /// The output formats.
    Format {
        /// Aligned plain-text tables with Unicode math.
        #[default]
        Text = "text",
        /// Markdown with pipe tables and `$$…$$` math.
        Markdown = "markdown",
        /// LaTeX (a fragment, or a whole document with `--standalone`).
        Latex = "latex",
        /// One JSON object: model, bindings, conventions, quantities.
        Json = "json",
        /// A standalone HTML page with MathML (no network resources).
        Html = "html",
    }
}

/// Plain text fitted to `width` columns (a terminal's): tables wrap their widest text columns,
/// paragraphs wrap at spaces.
pub fn render_text(doc: &Document, width: usize) -> String {
    text::Text { width: Some(width) }.render(doc)
}

/// One output format.
pub trait Render {
    /// The document in this format, ending with a newline.
    fn render(&self, doc: &Document) -> String;
}

/// Renders `doc` in `format`; `standalone` makes LaTeX a complete document.
pub fn render(doc: &Document, format: Format, standalone: bool) -> String {
    match format {
        Format::Text => text::Text::default().render(doc),
        Format::Markdown => markdown::Markdown.render(doc),
        Format::Latex => latex::Latex { standalone }.render(doc),
        Format::Json => json::Json.render(doc),
        Format::Html => html::Html.render(doc),
    }
}

/// Running text with its inline formulas, each piece rendered by the format's own functions.
fn paragraph(
    parts: &[crate::derivation::Inline],
    text: impl Fn(&str) -> String,
    math: impl Fn(&crate::algebra::Expr) -> String,
) -> String {
    parts
        .iter()
        .map(|p| match p {
            crate::derivation::Inline::Text(t) => text(t),
            crate::derivation::Inline::Math(e) => math(e),
            crate::derivation::Inline::Percent(r, places) => text(&percent(r, *places)),
        })
        .collect()
}

/// A share as a percentage to `places` decimals (`66.9%`).
fn percent(share: &crate::algebra::Rational, places: usize) -> String {
    format!("{}%", dim::decimal(&(share * crate::algebra::Rational::from_integer(100.into())), places))
}

/// The left side of an equation in a notation: a symbol as the printer writes it (`C_fwd`,
/// `C_{\text{fwd}}`), a quantity name as a name — in LaTeX one piece of monospace code
/// (`\texttt{flops.forward.lm\_head}`), as HTML sets it.
fn lhs(lhs: &crate::derivation::Lhs, notation: Notation) -> String {
    match (lhs, notation) {
        (crate::derivation::Lhs::Symbol(s), n) => print(&crate::algebra::Expr::sym(s), n),
        (crate::derivation::Lhs::Name(name), Notation::Latex) => format!("\\texttt{{{}}}", name.replace('_', "\\_")),
        (crate::derivation::Lhs::Name(name), _) => name.clone(),
    }
}

/// What a format that cannot embed a chart says in its place: the caption and the SVG file.
fn figure_note(figure: &crate::derivation::Figure) -> String {
    format!(
        "Figure: {} (chart {}.svg, drawn in the HTML and LaTeX reports and by tally plot)",
        figure.caption, figure.id
    )
}

/// Operand shapes as `(BT×H)·(H×H)` in a notation.
fn shape(operands: &[Vec<crate::algebra::Expr>], notation: Notation) -> String {
    let (times, dot) = match notation {
        Notation::Latex => (" \\times ", " \\cdot "),
        _ => ("×", "·"),
    };
    operands
        .iter()
        .map(|dims| format!("({})", dims.iter().map(|d| print(d, notation)).collect::<Vec<_>>().join(times)))
        .collect::<Vec<_>>()
        .join(dot)
}

/// A cell as plain text (numbers grouped, math in `notation`).
fn cell_plain(cell: &Cell, notation: Notation) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::Math(e) => print(e, notation),
        Cell::Written { unicode, .. } => unicode.clone(),
        Cell::Shape(ops) => shape(ops, notation),
        Cell::Number(n) => dim::exact(n),
        Cell::Percent(r, places) => percent(r, *places),
        Cell::Empty => String::new(),
    }
}

/// A value side: exact with unit, then the rounded display (empty when it would say the same).
fn value_words(value: &crate::algebra::Rational, unit: &dim::Unit) -> (String, String) {
    let (exact, shown) = (dim::exact_with_unit(value, unit), dim::display(value, unit));
    if exact == shown { (exact, String::new()) } else { (exact, shown) }
}

/// `exact ≈ shown`, or just one of them when the other adds nothing.
fn value_phrase(value: &crate::algebra::Rational, unit: &dim::Unit) -> String {
    let (exact, shown) = value_words(value, unit);
    match (value.is_integer(), shown.is_empty()) {
        (_, true) => exact,
        (true, false) => format!("{exact} ≈ {shown}"),
        (false, false) => shown,
    }
}

/// A right-hand side in plain notation.
fn side_plain(side: &Side, notation: Notation) -> String {
    match side {
        Side::Expr(e) => print(e, notation),
        Side::Value(v, u) => value_phrase(v, u),
    }
}

//! The document a derivation builds: headings, paragraphs, tables and equation chains over
//! tally's own expressions and exact numbers, plus the named quantities it computed. It knows no
//! output format — no LaTeX, no rounding, no percent signs: each renderer decides how an
//! expression, a number or a share is written.

use crate::algebra::{Expr, Rational};
use crate::dim::Unit;
use crate::quantity::Quantity;

/// A rendered-format-independent derivation.
#[derive(Clone, Debug)]
pub struct Document {
    /// Title line.
    pub title: String,
    /// Model id (`gpt2-xl`).
    pub model: String,
    /// Bound symbols in vocabulary order.
    pub bindings: Vec<(String, Rational)>,
    /// Named conventions in effect: (name, value).
    pub conventions: Vec<(String, String)>,
    /// Every quantity computed, in order.
    pub quantities: Vec<Quantity>,
    /// The body.
    pub blocks: Vec<Block>,
    /// Remarks for the person who asked, outside the document (`xl` is the preset gpt2/xl).
    pub notes: Vec<String>,
}

/// A piece of the body.
#[derive(Clone, Debug)]
pub enum Block {
    /// A section heading.
    Heading(String),
    /// Running text with inline math and numbers.
    Paragraph(Vec<Inline>),
    /// A table.
    Table(Table),
    /// A chain of equalities, one per line.
    Equations(Vec<Equation>),
    /// A chart beside the derivation it illustrates.
    Figure(Figure),
}

/// A chart with its caption: the request for it (what `tally plot` is asked) and, once drawn, the
/// drawing for the format that shows it (the chart drawer does it). HTML sets the SVG inline,
/// LaTeX the TikZ picture; a format with no drawing (text, Markdown, JSON, or a chart not drawn)
/// prints the caption and names the file `tally plot` writes (`{id}.svg`).
#[derive(Clone, Debug, Default)]
pub struct Figure {
    /// A short slug naming the chart: the HTML anchor and the SVG file's stem (`flops-vs-context`).
    pub id: String,
    /// The SVG document (`<svg …>…</svg>`, an XML declaration before it is allowed); empty until drawn.
    pub svg: String,
    /// The TikZ picture (`\begin{tikzpicture}…\end{tikzpicture}`); empty until drawn.
    pub tikz: String,
    /// What the chart shows, in words.
    pub caption: String,
    /// The chart to draw; `None` for a figure that comes drawn.
    pub chart: Option<Box<crate::request::ChartRequest>>,
}

impl Figure {
    /// A figure to be drawn later from `chart`.
    pub fn planned(id: &str, caption: &str, chart: crate::request::ChartRequest) -> Figure {
        Figure { id: id.into(), caption: caption.into(), chart: Some(Box::new(chart)), ..Figure::default() }
    }
}

/// Inline content.
#[derive(Clone, Debug)]
pub enum Inline {
    /// Plain words.
    Text(String),
    /// A formula.
    Math(Expr),
    /// A share of a whole, as an exact fraction, shown to `places` decimals of a percent.
    Percent(Rational, usize),
}

/// Plain words as inline content.
pub fn text(s: impl Into<String>) -> Inline {
    Inline::Text(s.into())
}

/// A table with typed cells.
#[derive(Clone, Debug)]
pub struct Table {
    /// Column headings; `true` marks right-aligned (numeric) columns.
    pub columns: Vec<(String, bool)>,
    /// The rows.
    pub rows: Vec<Row>,
}

/// A table row; `total` rows are set apart (subtotals and totals).
#[derive(Clone, Debug)]
pub struct Row {
    /// The cells, one per column.
    pub cells: Vec<Cell>,
    /// A subtotal or total.
    pub total: bool,
}

impl Row {
    /// An ordinary row.
    pub fn plain(cells: Vec<Cell>) -> Row {
        Row { cells, total: false }
    }

    /// A subtotal or total row.
    pub fn total(cells: Vec<Cell>) -> Row {
        Row { cells, total: true }
    }
}

/// A table cell.
#[derive(Clone, Debug)]
pub enum Cell {
    /// Words.
    Text(String),
    /// A formula.
    Math(Expr),
    /// Maths written in the data in two spellings (an optimizer's update line): Unicode for
    /// plain text, LaTeX for Markdown, LaTeX and HTML (MathML).
    Written {
        /// `m ← β₁·m + (1 − β₁)·g`.
        unicode: String,
        /// `m \leftarrow \beta_1 m + (1-\beta_1) g`.
        latex: String,
    },
    /// Operand shapes, `(BT×H)·(H×H)`.
    Shape(Vec<Vec<Expr>>),
    /// An exact number (grouped digits).
    Number(Rational),
    /// A share of a whole, shown to `places` decimals of a percent.
    Percent(Rational, usize),
    /// Nothing.
    Empty,
}

/// What an equation is about: a symbol of the textbook (`C_fwd`, printed with a subscript), or a
/// quantity by its name (`memory.total`, printed as a name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lhs {
    /// A symbol such as `P` or `C_fwd`.
    Symbol(String),
    /// A quantity name such as `memory.total`.
    Name(String),
}

/// `lhs = rhs₁ = rhs₂ …`, with an optional note after it.
#[derive(Clone, Debug)]
pub struct Equation {
    /// What the chain is about.
    pub lhs: Lhs,
    /// The successive right-hand sides.
    pub rhs: Vec<Side>,
    /// A short remark (`with F = 4H`).
    pub note: Option<String>,
}

impl Equation {
    /// A chain about a textbook symbol.
    pub fn of(symbol: &str, rhs: Vec<Side>, note: &str) -> Equation {
        Equation { lhs: Lhs::Symbol(symbol.to_string()), rhs, note: (!note.is_empty()).then(|| note.to_string()) }
    }

    /// `symbol = [views…] = closed form = value` for a quantity.
    pub fn chain(symbol: &str, views: Vec<Expr>, q: &Quantity, note: &str) -> Equation {
        let mut rhs: Vec<Side> = views.into_iter().map(Side::Expr).collect();
        rhs.push(Side::Expr(q.closed.clone()));
        if let Some(v) = &q.value {
            rhs.push(Side::Value(v.clone(), q.unit.clone()));
        }
        Equation::of(symbol, rhs, note)
    }
}

/// One right-hand side.
#[derive(Clone, Debug)]
pub enum Side {
    /// A formula.
    Expr(Expr),
    /// An exact value with its unit (shown exactly, then rounded with the unit's display).
    Value(Rational, Unit),
}

impl Side {
    /// `≈` rather than `=` before it: a value that is not a whole number is shown rounded.
    pub fn relation(&self) -> &'static str {
        match self {
            Side::Value(v, _) if !v.is_integer() => "≈",
            _ => "=",
        }
    }
}

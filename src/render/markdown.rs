//! Markdown: headings, pipe tables (math as `$…$`), `$$…$$` display math with `aligned`.

use super::{Render, paragraph, shape, value_phrase};
use crate::algebra::{Notation, print};
use crate::derivation::{Block, Cell, Document, Side, Table};
use crate::dim;

/// The Markdown renderer.
pub struct Markdown;

fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('*', "\\*").replace('_', "\\_")
}

fn cell(c: &Cell) -> String {
    match c {
        Cell::Text(s) => escape(s),
        Cell::Math(e) => format!("${}$", print(e, Notation::Latex)),
        Cell::Written { latex, .. } => format!("${latex}$"),
        Cell::Shape(ops) => format!("${}$", shape(ops, Notation::Latex)),
        Cell::Number(n) => dim::exact(n),
        Cell::Percent(r, places) => super::percent(r, *places),
        Cell::Empty => String::new(),
    }
}

fn table(t: &Table) -> String {
    let header: Vec<String> = t.columns.iter().map(|(h, _)| escape(h)).collect();
    let align: Vec<&str> = t.columns.iter().map(|(_, right)| if *right { "---:" } else { "---" }).collect();
    let mut out = format!("| {} |\n|{}|\n", header.join(" | "), align.join("|"));
    for row in &t.rows {
        let cells: Vec<String> = row
            .cells
            .iter()
            .map(|c| {
                let s = cell(c);
                if row.total && !s.is_empty() && !s.starts_with('$') { format!("**{s}**") } else { s }
            })
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

fn side(s: &Side) -> String {
    match s {
        Side::Expr(e) => print(e, Notation::Latex),
        Side::Value(v, u) => format!("\\text{{{}}}", value_phrase(v, u).replace(',', "{,}")),
    }
}

impl Render for Markdown {
    fn render(&self, doc: &Document) -> String {
        let mut out = format!("# {}\n", escape(&doc.title));
        for block in &doc.blocks {
            out.push('\n');
            match block {
                Block::Heading(h) => out.push_str(&format!("## {}\n", escape(h))),
                Block::Paragraph(parts) => {
                    let s = paragraph(parts, escape, |e| format!("${}$", print(e, Notation::Latex)));
                    out.push_str(&s);
                    out.push('\n');
                }
                Block::Table(t) => out.push_str(&table(t)),
                Block::Figure(f) => out.push_str(&format!("*{}*\n", escape(&super::figure_note(f)))),
                Block::Equations(eqs) => {
                    for (k, eq) in eqs.iter().enumerate() {
                        if k > 0 {
                            out.push('\n');
                        }
                        if let Some(n) = &eq.note {
                            out.push_str(&format!("*{}*\n\n", escape(n)));
                        }
                        out.push_str("$$\n\\begin{aligned}\n");
                        let lines: Vec<String> = eq
                            .rhs
                            .iter()
                            .enumerate()
                            .map(|(i, s)| {
                                let head = if i == 0 { super::lhs(&eq.lhs, Notation::Latex) } else { String::new() };
                                let rel = if s.relation() == "=" { "=" } else { "\\approx" };
                                format!("{head} &{rel} {}", side(s))
                            })
                            .collect();
                        out.push_str(&lines.join(" \\\\\n"));
                        out.push_str("\n\\end{aligned}\n$$\n");
                    }
                }
            }
        }
        out
    }
}

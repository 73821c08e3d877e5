//! Plain text for terminals: underlined headings, aligned tables, Unicode math.

use super::{Render, cell_plain, paragraph, side_plain};
use crate::algebra::{Notation, print};
use crate::derivation::{Block, Document, Table};

/// The text renderer.
pub struct Text;

fn width(s: &str) -> usize {
    s.chars().count()
}

fn table(t: &Table) -> String {
    let cells: Vec<Vec<String>> =
        t.rows.iter().map(|r| r.cells.iter().map(|c| cell_plain(c, Notation::Unicode)).collect()).collect();
    let mut widths: Vec<usize> = t.columns.iter().map(|(h, _)| width(h)).collect();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(width(c));
        }
    }
    let line = |items: &[String]| -> String {
        let parts: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = " ".repeat(widths[i] - width(c));
                if t.columns[i].1 { format!("{pad}{c}") } else { format!("{c}{pad}") }
            })
            .collect();
        parts.join("  ").trim_end().to_string()
    };
    let header: Vec<String> = t.columns.iter().map(|(h, _)| h.clone()).collect();
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
    let mut out = vec![line(&header), line(&rule)];
    for (row, texts) in t.rows.iter().zip(&cells) {
        if row.total {
            let dotted: Vec<String> = widths.iter().map(|w| "·".repeat(*w)).collect();
            out.push(line(&dotted));
        }
        out.push(line(texts));
    }
    out.join("\n")
}

impl Render for Text {
    fn render(&self, doc: &Document) -> String {
        let mut out = format!("{}\n{}\n", doc.title, "═".repeat(width(&doc.title)));
        for block in &doc.blocks {
            out.push('\n');
            match block {
                Block::Heading(h) => out.push_str(&format!("{h}\n{}\n", "─".repeat(width(h)))),
                Block::Paragraph(parts) => {
                    let s = paragraph(parts, |t| t.to_string(), |e| print(e, Notation::Unicode));
                    out.push_str(&s);
                    out.push('\n');
                }
                Block::Table(t) => {
                    out.push_str(&table(t));
                    out.push('\n');
                }
                Block::Figure(f) => out.push_str(&format!("[{}]\n", super::figure_note(f))),
                Block::Equations(eqs) => {
                    for eq in eqs {
                        let lhs = &super::lhs(&eq.lhs, Notation::Unicode);
                        let indent = " ".repeat(width(lhs) + 3);
                        for (i, side) in eq.rhs.iter().enumerate() {
                            let rel = side.relation();
                            let head = if i == 0 { format!("  {lhs} {rel} ") } else { format!("{indent}{rel} ") };
                            let note = match (&eq.note, i) {
                                (Some(n), 0) => format!("    [{n}]"),
                                _ => String::new(),
                            };
                            out.push_str(&format!("{head}{}{note}\n", side_plain(side, Notation::Unicode)));
                        }
                    }
                }
            }
        }
        out
    }
}

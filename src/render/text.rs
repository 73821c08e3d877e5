//! Plain text for terminals: underlined headings, aligned tables, Unicode math.

use super::{Render, cell_plain, paragraph, side_plain};
use crate::algebra::{Notation, print};
use crate::derivation::{Block, Document, Table};

/// The text renderer; with a width, tables and paragraphs are fitted to it (a terminal's).
#[derive(Default)]
pub struct Text {
    /// Columns to fit, if any.
    pub width: Option<usize>,
}

/// Narrowest a wrapped column gets.
const MIN_COLUMN: usize = 8;

fn width(s: &str) -> usize {
    s.chars().count()
}

/// `text` in lines of at most `max` characters, broken at spaces where it can be (a word longer
/// than the line is cut).
fn wrap(text: &str, max: usize) -> Vec<String> {
    // Text that fits is one line as it is (the loop below would rebuild it word by word).
    if !text.starts_with(' ') && width(text) <= max {
        return vec![text.to_string()];
    }
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split(' ') {
        let candidate = if current.is_empty() { word.to_string() } else { format!("{current} {word}") };
        if width(&candidate) <= max {
            current = candidate;
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        let mut rest: Vec<char> = word.chars().collect();
        while rest.len() > max {
            lines.push(rest.drain(..max).collect());
        }
        current = rest.into_iter().collect();
    }
    lines.push(current);
    lines
}

/// Column widths that fit `limit`: the widest columns give way first — text and formula columns
/// down to a few characters, number columns only down to their widest number (their headings wrap).
fn fitted(widths: &[usize], floors: &[usize], limit: usize) -> Vec<usize> {
    let mut out = widths.to_vec();
    let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
    while total(&out) > limit {
        let widest = (0..out.len()).filter(|&i| out[i] > floors[i]).max_by_key(|&i| (out[i], usize::MAX - i));
        let Some(i) = widest else { break };
        out[i] -= 1;
    }
    out
}

fn table(t: &Table, limit: Option<usize>) -> String {
    let cells: Vec<Vec<String>> =
        t.rows.iter().map(|r| r.cells.iter().map(|c| cell_plain(c, Notation::Unicode)).collect()).collect();
    let mut widths: Vec<usize> = t.columns.iter().map(|(h, _)| width(h)).collect();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(width(c));
        }
    }
    // A number column never wraps its numbers: it narrows only to its widest one.
    let floors: Vec<usize> = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, right))| match right {
            true => cells.iter().map(|r| r.get(i).map_or(0, |c| width(c))).max().unwrap_or(0).max(1),
            false => MIN_COLUMN,
        })
        .collect();
    let widths = match limit {
        Some(limit) => fitted(&widths, &floors, limit),
        None => widths,
    };
    let one_line = |items: &[String]| -> String {
        let mut out = String::new();
        for (i, c) in items.iter().enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            let pad = widths[i].saturating_sub(width(c));
            if t.columns[i].1 {
                out.extend(std::iter::repeat_n(' ', pad));
                out.push_str(c);
            } else {
                out.push_str(c);
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.truncate(out.trim_end().len());
        out
    };
    // A row whose cells are wider than their columns takes several lines.
    let line = |items: &[String]| -> String {
        if items.iter().enumerate().all(|(i, c)| !c.starts_with(' ') && width(c) <= widths[i].max(1)) {
            return one_line(items);
        }
        let wrapped: Vec<Vec<String>> = items.iter().enumerate().map(|(i, c)| wrap(c, widths[i].max(1))).collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        (0..height)
            .map(|k| {
                let parts: Vec<String> =
                    wrapped.iter().map(|lines| lines.get(k).cloned().unwrap_or_default()).collect();
                one_line(&parts)
            })
            .collect::<Vec<_>>()
            .join("\n")
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
                    match self.width {
                        Some(w) => out.push_str(&wrap(&s, w).join("\n")),
                        None => out.push_str(&s),
                    }
                    out.push('\n');
                }
                Block::Table(t) => {
                    out.push_str(&table(t, self.width));
                    out.push('\n');
                }
                Block::Figure(f) => {
                    let note = format!("[{}]", super::figure_note(f));
                    match self.width {
                        Some(w) => out.push_str(&wrap(&note, w).join("\n")),
                        None => out.push_str(&note),
                    }
                    out.push('\n');
                }
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
                            let body = side_plain(side, Notation::Unicode);
                            match self.width {
                                // Too long for the width: the formula wraps at its spaces under
                                // itself, and the note takes a line of its own.
                                Some(w) if width(&head) + width(&body) + width(&note) > w => {
                                    let room = w.saturating_sub(width(&head)).max(MIN_COLUMN);
                                    let pad = " ".repeat(width(&head));
                                    for (k, piece) in wrap(&body, room).iter().enumerate() {
                                        out.push_str(if k == 0 { &head } else { &pad });
                                        out.push_str(piece);
                                        out.push('\n');
                                    }
                                    if !note.is_empty() {
                                        out.push_str(&wrap(&format!("{pad}{}", note.trim_start()), w).join("\n"));
                                        out.push('\n');
                                    }
                                }
                                _ => out.push_str(&format!("{head}{body}{note}\n")),
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

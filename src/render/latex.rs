//! LaTeX: `\section*`, `tabular` tables and `align*` chains; a fragment needs amsmath and graphicx.
//! With `--standalone` a complete document that compiles with pdflatex and only standard packages
//! (amsmath, graphicx, geometry).

use super::{Render, paragraph, shape, value_phrase};
use crate::algebra::{Notation, print};
use crate::derivation::{Block, Cell, Document, Side, Table};
use crate::dim;

/// The LaTeX renderer.
pub struct Latex {
    /// Emit `\documentclass … \end{document}` around the body.
    pub standalone: bool,
}

/// Escapes running text for LaTeX and spells out the Unicode math tally uses in prose.
pub fn latex_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            'ᵀ' => out.push_str("$^{\\top}$"),
            '⊙' => out.push_str("$\\odot$"),
            '×' => out.push_str("$\\times$"),
            '·' => out.push_str("$\\cdot$"),
            '≈' => out.push_str("$\\approx$"),
            '→' => out.push_str("$\\to$"),
            '—' => out.push_str("---"),
            '–' => out.push_str("--"),
            '−' => out.push_str("$-$"),
            '²' => out.push_str("$^{2}$"),
            '³' => out.push_str("$^{3}$"),
            '⁹' => out.push_str("$^{9}$"),
            '⁰' => out.push_str("$^{0}$"),
            'ᵗ' => out.push_str("$^{t}$"),
            '₁' => out.push_str("$_{1}$"),
            '₂' => out.push_str("$_{2}$"),
            'α' => out.push_str("$\\alpha$"),
            'β' => out.push_str("$\\beta$"),
            'ε' => out.push_str("$\\epsilon$"),
            'θ' => out.push_str("$\\theta$"),
            'λ' => out.push_str("$\\lambda$"),
            '√' => out.push_str("$\\sqrt{\\;}$"),
            '←' => out.push_str("$\\leftarrow$"),
            '≤' => out.push_str("$\\le$"),
            '⌊' => out.push_str("$\\lfloor$"),
            '⌋' => out.push_str("$\\rfloor$"),
            '÷' => out.push_str("$\\div$"),
            '…' => out.push_str("\\ldots{}"),
            '⁻' => out.push_str("$^{-}$"),
            other => out.push(other),
        }
    }
    out
}

/// A number with grouping that LaTeX prints as `2,127,057,600` (and `≈` as `\approx`).
fn latex_number(s: &str) -> String {
    s.replace(',', "{,}").replace('≈', "\\approx")
}

fn math_value(side: &Side) -> String {
    match side {
        Side::Expr(e) => print(e, Notation::Latex),
        Side::Value(v, u) => format!("\\text{{{}}}", latex_text(&value_phrase(v, u))),
    }
}

fn cell(c: &Cell) -> String {
    match c {
        Cell::Text(s) => latex_text(s),
        Cell::Math(e) => format!("${}$", print(e, Notation::Latex)),
        Cell::Shape(ops) => format!("${}$", shape(ops, Notation::Latex)),
        Cell::Number(n) => format!("${}$", latex_number(&dim::exact(n))),
        Cell::Empty => String::new(),
    }
}

fn table(t: &Table) -> String {
    let spec: String = t.columns.iter().map(|(_, right)| if *right { 'r' } else { 'l' }).collect();
    // Wide tables (the op table) are scaled to the line width (graphicx) so no column runs off.
    let wide = t.columns.len() >= 6;
    let (open, close) = if wide { ("\\resizebox{\\linewidth}{!}{%\n", "}\n") } else { ("", "") };
    let mut out = format!("\\begin{{center}}\\small\n{open}\\begin{{tabular}}{{{spec}}}\n\\hline\n");
    let header: Vec<String> = t.columns.iter().map(|(h, _)| format!("\\textbf{{{}}}", latex_text(h))).collect();
    out.push_str(&format!("{} \\\\\n\\hline\n", header.join(" & ")));
    for row in &t.rows {
        if row.total {
            out.push_str("\\hline\n");
        }
        let cells: Vec<String> = row.cells.iter().map(cell).collect();
        out.push_str(&format!("{} \\\\\n", cells.join(" & ")));
    }
    out.push_str(&format!("\\hline\n\\end{{tabular}}\n{close}\\end{{center}}\n"));
    out
}

impl Render for Latex {
    fn render(&self, doc: &Document) -> String {
        let mut out = String::new();
        if self.standalone {
            out.push_str(
                "\\documentclass[10pt]{article}\n\\usepackage[a4paper,landscape,margin=1.5cm]{geometry}\n\
                 \\usepackage{amsmath}\n\\usepackage{graphicx}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n\
                 \\setlength{\\parindent}{0pt}\n\\setlength{\\parskip}{0.5em}\n\\begin{document}\n",
            );
        }
        out.push_str(&format!("\\section*{{{}}}\n", latex_text(&doc.title)));
        for block in &doc.blocks {
            match block {
                Block::Heading(h) => out.push_str(&format!("\n\\subsection*{{{}}}\n", latex_text(h))),
                Block::Paragraph(parts) => {
                    let s = paragraph(parts, latex_text, |e| format!("${}$", print(e, Notation::Latex)));
                    out.push_str(&format!("{s}\n\n"));
                }
                Block::Table(t) => out.push_str(&table(t)),
                Block::Equations(eqs) => {
                    out.push_str("\\begin{align*}\n");
                    let lines: Vec<String> = eqs
                        .iter()
                        .map(|eq| {
                            let mut s = String::new();
                            for (i, side) in eq.rhs.iter().enumerate() {
                                let head = if i == 0 { eq.lhs.1.clone() } else { "\\\\\n ".to_string() };
                                let rel = if side.relation() == "=" { "=" } else { "\\approx" };
                                s.push_str(&format!("{head} &{rel} {}", math_value(side)));
                                if let (0, Some(n)) = (i, &eq.note) {
                                    s.push_str(&format!(" && \\text{{{}}}", latex_text(n)));
                                }
                            }
                            s
                        })
                        .collect();
                    out.push_str(&lines.join(" \\\\[4pt]\n"));
                    out.push_str("\n\\end{align*}\n");
                }
            }
        }
        if self.standalone {
            out.push_str("\\end{document}\n");
        }
        out
    }
}

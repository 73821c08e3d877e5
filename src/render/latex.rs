//! LaTeX: `\section*`, `tabular` tables and `align*` chains; a fragment needs amsmath and graphicx,
//! and tikz when it holds a chart (a `tikzpicture` in a `figure`, scaled to the line width). With
//! `--standalone` a complete document that compiles with pdflatex and only standard packages
//! (amsmath, graphicx, geometry, fontenc, inputenc, lmodern; tikz when there is a chart). Latin Modern in T1 encoding keeps every
//! font of the PDF a scalable Type 1 font (T1 with the default Computer Modern would fall back to
//! bitmap Type 3 fonts unless cm-super is installed).

use super::{Render, paragraph, shape, value_phrase};
use crate::algebra::{Notation, print};
use crate::derivation::{Block, Cell, Document, Side, Table};
use crate::dim;

/// The LaTeX renderer.
pub struct Latex {
    /// Emit `\documentclass … \end{document}` around the body.
    pub standalone: bool,
}

/// Escapes running text for LaTeX and spells out the Unicode math tally uses in prose. Runs of
/// superscripts or subscripts become one group (`2³⁰` → `2$^{30}$`); a character pdflatex cannot
/// set with its default fonts is written as its code point, so no input can break compilation.
pub fn latex_text(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        for (script, lookup) in [("^", superscript_char as fn(char) -> Option<&'static str>), ("_", subscript_char)] {
            if let Some(first) = lookup(c) {
                let mut run = String::from(first);
                while let Some(next) = chars.peek().and_then(|n| lookup(*n)) {
                    run.push_str(next);
                    chars.next();
                }
                out.push_str(&format!("${script}{{{run}}}$"));
                break;
            }
        }
        if superscript_char(c).is_some() || subscript_char(c).is_some() {
            continue;
        }
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '<' => out.push_str("\\textless{}"),
            '>' => out.push_str("\\textgreater{}"),
            '|' => out.push_str("\\textbar{}"),
            '—' => out.push_str("---"),
            '–' => out.push_str("--"),
            '…' => out.push_str("\\ldots{}"),
            '‘' => out.push('`'),
            '’' => out.push('\''),
            '“' => out.push_str("``"),
            '”' => out.push_str("\'\'"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_ascii_control() => {}
            c if c.is_ascii() || ('\u{c0}'..='\u{ff}').contains(&c) && c != '×' && c != '÷' => out.push(c),
            c => match math_symbol(c) {
                Some(m) => out.push_str(&format!("${m}$")),
                None => out.push_str(&format!("\\texttt{{U+{:04X}}}", c as u32)),
            },
        }
    }
    out
}

/// What a Unicode superscript stands for, in LaTeX.
fn superscript_char(c: char) -> Option<&'static str> {
    const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    Some(match c {
        '⁰' => "0",
        '¹' => "1",
        '²' => "2",
        '³' => "3",
        '⁴'..='⁹' => DIGITS[(c as u32 - '⁴' as u32 + 4) as usize],
        '⁻' => "-",
        '⁺' => "+",
        'ᵗ' => "t",
        'ᵀ' => "\\top",
        'ⁿ' => "n",
        _ => return None,
    })
}

/// What a Unicode subscript stands for, in LaTeX.
fn subscript_char(c: char) -> Option<&'static str> {
    const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    match c {
        '₀'..='₉' => Some(DIGITS[(c as u32 - '₀' as u32) as usize]),
        _ => None,
    }
}

/// Math-mode LaTeX for a symbol tally uses in prose.
fn math_symbol(c: char) -> Option<&'static str> {
    Some(match c {
        '⊙' => "\\odot",
        '×' => "\\times",
        '·' => "\\cdot",
        '≈' => "\\approx",
        '→' => "\\to",
        '←' => "\\leftarrow",
        '−' => "-",
        '≤' => "\\le",
        '≥' => "\\ge",
        '≠' => "\\ne",
        '∞' => "\\infty",
        '⌊' => "\\lfloor",
        '⌋' => "\\rfloor",
        '⌈' => "\\lceil",
        '⌉' => "\\rceil",
        '÷' => "\\div",
        '√' => "\\surd",
        '∑' | 'Σ' => "\\Sigma",
        'α' => "\\alpha",
        'β' => "\\beta",
        'γ' => "\\gamma",
        'δ' => "\\delta",
        'ε' => "\\epsilon",
        'η' => "\\eta",
        'θ' => "\\theta",
        'λ' => "\\lambda",
        'μ' => "\\mu",
        'π' => "\\pi",
        'σ' => "\\sigma",
        'τ' => "\\tau",
        'Ψ' => "\\Psi",
        'ψ' => "\\psi",
        '∇' => "\\nabla",
        _ => return None,
    })
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
        Cell::Written { latex, .. } => format!("${latex}$"),
        Cell::Shape(ops) => format!("${}$", shape(ops, Notation::Latex)),
        Cell::Number(n) => format!("${}$", latex_number(&dim::exact(n))),
        Cell::Percent(r, places) => latex_text(&super::percent(r, *places)),
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

/// A drawn chart as a float: the picture at the line width (or smaller, so that it takes at most
/// three quarters of the page's height, which a landscape page needs), then its caption.
fn figure(f: &crate::derivation::Figure) -> String {
    let (w, h) = (crate::request::CHART_WIDTH, crate::request::CHART_HEIGHT);
    format!(
        "\\begin{{figure}}[htbp]\n\\centering\n\\resizebox{{\\ifdim\\dimexpr\\linewidth*{h}/{w}\\relax>0.75\\textheight\
         \\dimexpr0.75\\textheight*{w}/{h}\\relax\\else\\linewidth\\fi}}{{!}}{{%\n{}}}\n\\caption{{{}}}\n\\end{{figure}}\n\n",
        f.tikz.trim_end(),
        latex_text(&f.caption)
    )
}

impl Render for Latex {
    fn render(&self, doc: &Document) -> String {
        let mut out = String::new();
        if self.standalone {
            let charts = doc.blocks.iter().any(|b| matches!(b, Block::Figure(f) if !f.tikz.is_empty()));
            out.push_str(
                "\\documentclass[10pt]{article}\n\\usepackage[a4paper,landscape,margin=1.5cm]{geometry}\n\
                 \\usepackage{amsmath}\n\\usepackage{graphicx}\n\\usepackage[T1]{fontenc}\n\\usepackage{lmodern}\n\\usepackage[utf8]{inputenc}\n",
            );
            if charts {
                out.push_str("\\usepackage{tikz}\n");
            }
            out.push_str("\\setlength{\\parindent}{0pt}\n\\setlength{\\parskip}{0.5em}\n\\begin{document}\n");
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
                // No \includegraphics: pdflatex cannot read SVG; a chart is drawn as TikZ or named.
                Block::Figure(f) if f.tikz.is_empty() => {
                    out.push_str(&format!("\\emph{{{}}}\n\n", latex_text(&super::figure_note(f))))
                }
                Block::Figure(f) => out.push_str(&figure(f)),
                Block::Equations(eqs) => {
                    out.push_str("\\begin{align*}\n");
                    let lines: Vec<String> = eqs
                        .iter()
                        .map(|eq| {
                            let mut s = String::new();
                            for (i, side) in eq.rhs.iter().enumerate() {
                                let head =
                                    if i == 0 { super::lhs(&eq.lhs, Notation::Latex) } else { "\\\\\n ".to_string() };
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

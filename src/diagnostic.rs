//! Messages that point at a place, in one form for every stage (model files, formulas, options,
//! the audit's findings), rendered in one place by the `ariadne` crate: the file and line, the
//! source line, and labelled spans under it (a dimension clash labels both operands). ariadne was
//! chosen for its custom report kinds (the audit's verdicts are not errors or warnings), several
//! labels per report and byte-indexed spans, and because colour can be switched off per report:
//! tally colours only a terminal, and never when NO_COLOR is set.

use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::sync::Arc;

/// Text that a message points into: a file (with its path) or a command-line value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// How to name it: a path, or `claim 1` for a command-line value.
    pub name: String,
    /// The full text.
    pub text: String,
}

/// What a report says about its subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The input could not be used.
    Error,
    /// A claim does not hold.
    Wrong,
    /// A claim holds.
    Holds,
    /// A claim holds only in value, or a remark.
    Note,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Error => "error",
            Kind::Wrong => "wrong",
            Kind::Holds => "ok",
            Kind::Note => "note",
        }
    }
}

/// A labelled span of the source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    /// Byte range in the source text.
    pub span: Range<usize>,
    /// What to say under it (may be empty).
    pub message: String,
    /// The culprit (other labels give context).
    pub primary: bool,
}

impl Label {
    /// The label on the culprit.
    pub fn primary(span: Range<usize>, message: impl Into<String>) -> Label {
        Label { span, message: message.into(), primary: true }
    }

    /// A label that gives context.
    pub fn secondary(span: Range<usize>, message: impl Into<String>) -> Label {
        Label { span, message: message.into(), primary: false }
    }
}

/// One message: what kind, a code (the claim id), a headline, the source it points into with its
/// labels, and notes and help after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error, or the verdict of a claim.
    pub kind: Kind,
    /// A short id (`c1`).
    pub code: Option<String>,
    /// The headline.
    pub message: String,
    /// What the labels point into.
    #[serde(skip)]
    pub source: Option<Arc<Source>>,
    /// Labelled spans of the source.
    pub labels: Vec<Label>,
    /// Supporting facts, one per line.
    pub notes: Vec<String>,
    /// A suggested correction.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A report of `kind` with a headline.
    pub fn new(kind: Kind, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            kind,
            code: None,
            message: message.into(),
            source: None,
            labels: vec![],
            notes: vec![],
            help: None,
        }
    }

    /// An error with a headline.
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Kind::Error, message)
    }

    /// The source the labels point into.
    pub fn in_source(mut self, source: Arc<Source>) -> Diagnostic {
        self.source = Some(source);
        self
    }

    /// Adds a label.
    pub fn with_label(mut self, label: Label) -> Diagnostic {
        self.labels.push(label);
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Sets the code.
    pub fn with_code(mut self, code: impl Into<String>) -> Diagnostic {
        self.code = Some(code.into());
        self
    }

    /// Rendered without colour.
    pub fn plain(&self) -> String {
        render(self, false)
    }
}

/// `text` with every control character but newline and tab replaced by `�`, so nothing read from
/// a file or an argument can move the cursor, recolour or retitle a terminal.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if text.chars().any(unsafe_char) {
        std::borrow::Cow::Owned(text.chars().map(|c| if unsafe_char(c) { '\u{fffd}' } else { c }).collect())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Like [`printable`], but each control character becomes as many `?` as it has bytes, so byte
/// spans into the text stay valid.
fn printable_same_length(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\n' && c != '\t' { "?".repeat(c.len_utf8()) } else { c.to_string() })
        .collect()
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A span made safe for `text`: inside it, on character boundaries, at least one byte wide where
/// the text allows (a caret at the end of a formula points just past it).
fn clamp(text: &str, span: &Range<usize>) -> Range<usize> {
    let start = floor_char_boundary(text, span.start.min(text.len()));
    let end = floor_char_boundary(text, span.end.min(text.len())).max(start);
    // A span over several lines (a whole TOML table) is shown by its first line: ariadne draws
    // multi-line spans as a margin arrow that says less than the line itself.
    let first_line_end = text[start..end].find('\n').map(|i| start + i);
    start..first_line_end.filter(|e| *e > start).unwrap_or(end)
}

/// Renders a diagnostic: `kind[code]: message`, then the source lines with their labels, then
/// the notes and the help. `color` adds ANSI colours (for a terminal).
pub fn render(d: &Diagnostic, color: bool) -> String {
    use ariadne::{Color, Config, IndexType, Label as Mark, Report, ReportKind, Source as Text};
    let message = printable(&d.message).into_owned();
    let headline = match &d.code {
        Some(code) => format!("{}[{}]: {message}", d.kind.word(), printable(code)),
        None => format!("{}: {message}", d.kind.word()),
    };
    let Some(source) = d.source.as_ref().filter(|_| !d.labels.is_empty()) else {
        let mut out = format!("{headline}\n");
        for note in &d.notes {
            out.push_str(&format!("  = {}\n", printable(note)));
        }
        if let Some(help) = &d.help {
            out.push_str(&format!("  = help: {}\n", printable(help)));
        }
        return out;
    };
    let text = printable_same_length(&source.text);
    let name = printable(&source.name).into_owned();
    let colour = match d.kind {
        Kind::Error | Kind::Wrong => Color::Red,
        Kind::Holds => Color::Green,
        Kind::Note => Color::Yellow,
    };
    let first = d.labels.iter().find(|l| l.primary).unwrap_or(&d.labels[0]);
    let config = Config::default().with_color(color).with_index_type(IndexType::Byte).with_compact(false);
    let mut report =
        Report::build(ReportKind::Custom(d.kind.word(), colour), (name.clone(), clamp(&text, &first.span)))
            .with_config(config)
            .with_message(message.clone());
    for (i, label) in d.labels.iter().enumerate() {
        let mut mark = Mark::new((name.clone(), clamp(&text, &label.span))).with_order(i as i32);
        // ariadne underlines only labels with a message; the culprit of an error is always
        // underlined.
        let culprit = label.primary && matches!(d.kind, Kind::Error | Kind::Wrong);
        if !label.message.is_empty() {
            mark = mark.with_message(printable(&label.message));
        } else if culprit {
            mark = mark.with_message("here");
        }
        if color {
            mark = mark.with_color(if label.primary { colour } else { Color::Blue });
        }
        report = report.with_label(mark);
    }
    // One note of several lines reads better than numbered notes, and the fix reads best last,
    // after the evidence for it (ariadne would print a help before the notes).
    let mut lines: Vec<String> = d.notes.iter().map(|n| printable(n).into_owned()).collect();
    if let Some(help) = &d.help {
        lines.push(format!("help: {}", printable(help)));
    }
    if !lines.is_empty() {
        report = report.with_note(lines.join("\n"));
    }
    let mut out = Vec::new();
    // Writing into a Vec cannot fail; a failure would only lose the source lines, not the message.
    if report.finish().write((name, Text::from(text.as_str())), &mut out).is_err() {
        return format!("{headline}\n");
    }
    let rendered = String::from_utf8_lossy(&out).into_owned();
    // ariadne colours the report's kind even when asked not to; without colour, none is left in.
    let rendered = if color { rendered } else { strip_ansi(&rendered) };
    // The headline in one form with or without a source (`wrong[c1]: …`, like a compiler's
    // `error[E0308]: …`), rather than ariadne's `wrong: [c1] …`.
    let body = rendered.split_once('\n').map(|(_, rest)| rest).unwrap_or("");
    let headline = if color {
        let code = match colour {
            Color::Red => "31",
            Color::Green => "32",
            _ => "33",
        };
        let word = d.kind.word();
        format!("\u{1b}[1;{code}m{word}\u{1b}[0m{}", &headline[word.len()..])
    } else {
        headline
    };
    format!("{headline}\n{body}")
}

/// An error as one JSON object, for scripts that asked for JSON: the message, where it points
/// (the source's name, 1-based line and column, the byte span), the notes, the help, the exit
/// status. Read it from stdout; the same message in words is on stderr.
pub fn json(d: &Diagnostic, exit_status: u8) -> String {
    let place = d.source.as_ref().and_then(|source| {
        let label = d.labels.iter().find(|l| l.primary).or(d.labels.first())?;
        let (line, column) = line_col(&source.text, label.span.start);
        Some(serde_json::json!({
            "source": source.name,
            "line": line,
            "column": column,
            "span": [label.span.start, label.span.end],
            "label": label.message,
        }))
    });
    let value = serde_json::json!({
        "error": {
            "message": d.message,
            "at": place,
            "notes": d.notes,
            "help": d.help,
        },
        "exit_status": exit_status,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

/// `text` without ANSI escape sequences (ESC `[` … final letter).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        assert_eq!(line_col("ab\ncd²e", 0), (1, 1));
        assert_eq!(line_col("ab\ncd²e", 4), (2, 2));
        assert_eq!(line_col("ab\ncd²e", 7), (2, 4));
    }

    #[test]
    fn a_report_names_the_file_line_and_column_and_labels_the_span() {
        let source = Arc::new(Source { name: "m.toml".into(), text: "a = 1\nwidth = \"Q\"\n".into() });
        let d = Diagnostic::error("unknown symbol `Q`").in_source(source).with_label(Label::primary(15..16, "here"));
        let out = d.plain();
        assert!(out.contains("unknown symbol `Q`"), "{out}");
        assert!(out.contains("m.toml:2:10"), "{out}");
        assert!(out.contains("width = \"Q\""), "{out}");
        assert!(out.contains("here"), "{out}");
        assert!(!out.contains('\u{1b}'), "no colour unless asked: {out}");
    }

    #[test]
    fn control_characters_never_reach_the_output() {
        let source = Arc::new(Source { name: "x\u{1b}[2J".into(), text: "a\u{1b}]0;title\u{7}b".into() });
        let d = Diagnostic::error("bad \u{1b}[31m").in_source(source).with_label(Label::primary(0..1, ""));
        assert!(!d.plain().contains('\u{1b}') && !d.plain().contains('\u{7}'), "{}", d.plain());
    }
}

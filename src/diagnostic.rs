//! Turning a byte span in some source text into a message a person can act on: `file:line:col`, the
//! offending line, and a caret under the culprit.

use std::ops::Range;

/// Text that an error points into: a file (with its path) or a command-line value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// How to name it: a path, or `--set` for a command-line value.
    pub name: String,
    /// The full text.
    pub text: String,
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

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
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

/// `name:line:col`, the source line, and carets under `span`.
pub fn snippet(source: &Source, span: Range<usize>) -> String {
    let (line, col) = line_col(&source.text, span.start);
    let text_line = printable(source.text.lines().nth(line - 1).unwrap_or("")).replace('\t', " ");
    let start = floor_char_boundary(&source.text, span.start.min(source.text.len()));
    let end = floor_char_boundary(&source.text, span.end.min(source.text.len())).max(start);
    let width = source.text[start..end].lines().next().map(|s| s.chars().count()).unwrap_or(0).max(1);
    let gutter = " ".repeat(line.to_string().len());
    format!(
        "  --> {}:{line}:{col}\n{gutter} |\n{line} | {text_line}\n{gutter} | {}{}",
        printable(&source.name),
        " ".repeat(col - 1),
        "^".repeat(width)
    )
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
    fn snippet_puts_a_caret_under_the_span() {
        let s = Source { name: "m.toml".into(), text: "a = 1\nwidth = \"Q\"\n".into() };
        let out = snippet(&s, 15..16);
        assert!(out.contains("m.toml:2:10"), "{out}");
        assert!(out.ends_with("|          ^"), "{out}");
    }
}

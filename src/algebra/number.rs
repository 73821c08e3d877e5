//! Numbers as people type them.

use super::{Rational, parse_decimal};

/// A number as people type it: `400000`, `400,000`, `1e9`, `0.5`; a comma only between groups of
/// three digits (`1,2` is not a number).
pub fn read_number(text: &str) -> Option<Rational> {
    let text = text.trim();
    let (whole, rest) = match text.find(['.', 'e', 'E']) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let mut groups = whole.split(',');
    let first = groups.next()?;
    if whole.contains(',') && (first.is_empty() || first.len() > 3 || groups.clone().any(|g| g.len() != 3)) {
        return None;
    }
    parse_decimal(&format!("{}{rest}", whole.replace(',', "")))
}

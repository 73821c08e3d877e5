//! Claims as people write them: `LHS = formula`, `LHS = number unit`, or both, on the command line
//! or in a claims file (TOML). The left side names what is claimed (quantities, or
//! `batch.max(80GB)`); the right sides are formulas and stated numbers.

use crate::diagnostic::Source;
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// One claim to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// A short id (`c1`, or the id from the claims file).
    pub id: String,
    /// The whole claim as written.
    pub text: String,
    /// The left side: what is claimed about.
    pub lhs: Range<usize>,
    /// Right sides in order (formulas or stated numbers), as byte ranges of `text`.
    pub rhs: Vec<Range<usize>>,
    /// Allowed relative difference for stated numbers, if given; otherwise the rounding of the
    /// number as written decides.
    pub tolerance: Option<String>,
    /// Model to check against instead of the command line's.
    pub model: Option<String>,
    /// Conventions for this claim (`activations = "all"`, `precision = "bf16"`, `flops = "all"`),
    /// overriding the command line's.
    pub conventions: Vec<(String, String)>,
    /// Bindings for this claim (`B=1024`), added to the command line's.
    pub sets: Vec<String>,
}

impl Claim {
    /// Splits `text` at each top-level `=` (not inside brackets, not part of `==`, `<=`, `>=`).
    pub fn parse(id: &str, text: &str) -> std::result::Result<Claim, (String, Range<usize>)> {
        let mut depth = 0i32;
        let mut cuts = Vec::new();
        let bytes = text.as_bytes();
        for (i, c) in text.char_indices() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                '=' if depth == 0 => {
                    let before = if i > 0 { bytes[i - 1] } else { b' ' };
                    let after = bytes.get(i + 1).copied().unwrap_or(b' ');
                    if !matches!(before, b'=' | b'<' | b'>' | b'!') && after != b'=' {
                        cuts.push(i);
                    }
                }
                _ => {}
            }
        }
        if cuts.is_empty() {
            return Err((
                "a claim needs `=`: write `quantity = formula` or `quantity = number unit`".into(),
                0..text.len(),
            ));
        }
        let mut parts = Vec::new();
        let mut start = 0;
        for cut in cuts.iter().copied().chain(std::iter::once(text.len())) {
            parts.push(trimmed(text, start..cut));
            start = cut + 1;
        }
        for p in &parts {
            if p.is_empty() {
                return Err(("nothing on one side of `=`".into(), p.start.saturating_sub(1)..p.start + 1));
            }
        }
        let lhs = parts.remove(0);
        Ok(Claim {
            id: id.to_string(),
            text: text.to_string(),
            lhs,
            rhs: parts,
            tolerance: None,
            model: None,
            conventions: Vec::new(),
            sets: Vec::new(),
        })
    }
}

fn trimmed(text: &str, range: Range<usize>) -> Range<usize> {
    let s = &text[range.clone()];
    let lead = s.len() - s.trim_start().len();
    let trail = s.len() - s.trim_end().len();
    if lead == s.len() {
        return range.start..range.start;
    }
    range.start + lead..range.end - trail
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimsFile {
    #[serde(default)]
    model: Option<String>,
    claim: Vec<toml::Spanned<ClaimEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimEntry {
    id: String,
    /// What is claimed about (`memory.total`, `batch.max(80GB)`).
    quantity: String,
    /// The claimed formula.
    #[serde(default)]
    formula: Option<String>,
    /// The claimed number, with its unit (`"565 days"`, `"34.0 GB"`).
    #[serde(default)]
    value: Option<String>,
    /// Allowed relative difference for the number (`"1%"`, `"0.001"`).
    #[serde(default)]
    tolerance: Option<Spanned<String>>,
    /// Model for this claim.
    #[serde(default)]
    model: Option<String>,
    /// Conventions for this claim: any option by name (`activations = "all"`, `precision =
    /// "bf16"`, `layout = "mixed"`, `hardware = "h100"`, `steps = "1000"`, …).
    #[serde(default)]
    conventions: BTreeMap<Spanned<String>, Spanned<String>>,
    /// Symbol values for this claim (`set = { B = 1024, T = "16,384" }`).
    #[serde(default)]
    set: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
}

/// A tolerance is a relative difference from 0 to 1 (`0.001`) or a percentage from 0% to 100%.
fn check_tolerance(text: &str) -> std::result::Result<(), String> {
    let (number, scale) = match text.trim().strip_suffix('%') {
        Some(n) => (n.trim(), 100),
        None => (text.trim(), 1),
    };
    let value = crate::algebra::parse_decimal(number).ok_or("not a number (write e.g. \"1%\" or \"0.01\")")?;
    let zero = crate::algebra::Rational::from_integer(0.into());
    if value < zero || value > crate::algebra::Rational::from_integer(scale.into()) {
        return Err(format!("a tolerance lies between 0 and {}", if scale == 100 { "100%" } else { "1" }));
    }
    Ok(())
}

/// Reads a claims file: `[[claim]]` tables with `id`, `quantity`, `formula` and/or `value`.
pub fn from_file(source: &Source) -> Result<(Option<String>, Vec<Claim>)> {
    let file: ClaimsFile = crate::loader::read_toml(source)?;
    let mut claims = Vec::new();
    for entry in &file.claim {
        let e = entry.get_ref();
        if e.formula.is_none() && e.value.is_none() {
            return Err(Error::at(source, entry.span(), format!("claim `{}` has neither `formula` nor `value`", e.id)));
        }
        let mut text = e.quantity.clone();
        for part in [&e.formula, &e.value].into_iter().flatten() {
            text.push_str(" = ");
            text.push_str(part);
        }
        let mut claim = Claim::parse(&e.id, &text)
            .map_err(|(message, _)| Error::at(source, entry.span(), format!("claim `{}`: {message}", e.id)))?;
        if let Some(t) = &e.tolerance {
            check_tolerance(t.get_ref()).map_err(|message| {
                Error::at(source, t.span(), format!("claim `{}`: tolerance `{}`: {message}", e.id, t.get_ref()))
            })?;
        }
        claim.tolerance = e.tolerance.as_ref().map(|t| t.get_ref().clone());
        claim.model = e.model.clone();
        for (symbol, value) in &e.set {
            let written = match value.get_ref() {
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::Float(x) => x.to_string(),
                toml::Value::String(text) => text.clone(),
                _ => {
                    return Err(Error::at(
                        source,
                        value.span(),
                        format!(
                            "claim `{}`: `{}` takes a number (B = 1024) or a string (T = \"16,384\")",
                            e.id,
                            symbol.get_ref()
                        ),
                    ));
                }
            };
            claim.sets.push(format!("{}={written}", symbol.get_ref()));
        }
        for (key, value) in &e.conventions {
            let mut probe = crate::options::Options::default();
            probe.set(key.get_ref(), value.get_ref()).map_err(|err| Error::at(source, key.span(), err.to_string()))?;
            claim.conventions.push((key.get_ref().clone(), value.get_ref().clone()));
        }
        claims.push(claim);
    }
    Ok((file.model, claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_split_at_top_level_equals_signs() {
        let c = Claim::parse("c", "memory.total = 16*(a = b) + x = 49.6 GB").unwrap();
        assert_eq!(&c.text[c.lhs.clone()], "memory.total");
        let parts: Vec<&str> = c.rhs.iter().map(|r| &c.text[r.clone()]).collect();
        assert_eq!(parts, vec!["16*(a = b) + x", "49.6 GB"]);
    }

    #[test]
    fn a_claim_without_equals_is_refused() {
        assert!(Claim::parse("c", "params").is_err());
        assert!(Claim::parse("c", "params = ").is_err());
    }
}

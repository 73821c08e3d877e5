//! Byte-level fuzzing of the formula reader and the claim splitter: any input must come back as a
//! value or a positioned error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally::algebra::{Expr, Syntax, parse_with};
use tally::audit::claim::Claim;

fn resolve(name: &str) -> Result<Expr, String> {
    if name.chars().all(|c| "BSAKTVLHFUR".contains(c)) || name.contains('.') {
        Ok(Expr::sym("X"))
    } else {
        Err(format!("unknown `{name}`"))
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = parse_with(&text, &resolve, Syntax::people()) {
        assert!(e.span.end <= text.len() && text.is_char_boundary(e.span.start) && text.is_char_boundary(e.span.end));
    }
    let _ = Claim::parse("fuzz", &text);
});

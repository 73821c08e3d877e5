//! An audit report as diagnostics (text, rendered by [`crate::diagnostic`] like every other message),
//! as Markdown, or as JSON. Each claim: a verdict line, the claim with its labelled places, the
//! evidence, a suggested fix.

use super::{ClaimReport, Report, Verdict};
use serde_json::json;

fn tag(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "ok",
        Verdict::HoldsUnder => "holds under",
        Verdict::HoldsNumerically => "note",
        Verdict::Wrong => "wrong",
        Verdict::Unreadable => "error",
    }
}

fn text_claim(c: &ClaimReport, color: bool) -> String {
    c.findings.iter().map(|f| crate::diagnostic::render(&f.diagnostic(&c.claim), color) + "\n").collect()
}

fn summary(r: &Report) -> String {
    let count = |v: Verdict| r.claims.iter().filter(|c| c.verdict() == v).count();
    let n = r.claims.len();
    let verb = |k: usize, one: &'static str, many: &'static str| if k == 1 { one } else { many };
    // Only the verdicts that occur, in order of weight.
    let parts: Vec<String> = [
        (Verdict::Holds, "holds", "hold"),
        (
            Verdict::HoldsUnder,
            "holds under another convention or estimate",
            "hold under another convention or estimate",
        ),
        (Verdict::HoldsNumerically, "holds only numerically", "hold only numerically"),
        (Verdict::Wrong, "wrong", "wrong"),
        (Verdict::Unreadable, "unreadable", "unreadable"),
    ]
    .into_iter()
    .filter(|(v, _, _)| count(*v) > 0)
    .map(|(v, one, many)| format!("{} {}", count(v), verb(count(v), one, many)))
    .collect();
    format!("{n} {} against {}: {}\n", verb(n, "claim", "claims"), r.model, parts.join(", "))
}

/// Diagnostics as text; `color` for a terminal.
pub fn text(r: &Report, color: bool) -> String {
    let mut out: String = r.claims.iter().map(|c| text_claim(c, color)).collect();
    out.push_str(&summary(r));
    out
}

/// Markdown: a section per claim with the caret block fenced.
pub fn markdown(r: &Report) -> String {
    let mut out = format!("# tally audit against {}\n\n", r.model);
    for c in &r.claims {
        out.push_str(&format!("## `{}`: {}\n\n", c.claim.id, tag(c.verdict())));
        out.push_str(&format!("```text\n{}```\n\n", text_claim(c, false).trim_end_matches('\n').to_string() + "\n"));
    }
    out.push_str(&format!("**Summary:** {}", summary(r)));
    out
}

/// JSON: `{model, exit_code, claims: [{id, claim, verdict, findings: [...]}]}`.
pub fn json(r: &Report) -> String {
    let claims: Vec<_> = r
        .claims
        .iter()
        .map(|c| {
            json!({
                "id": c.claim.id,
                "claim": c.claim.text,
                "verdict": tag(c.verdict()),
                "findings": c.findings.iter().map(|f| json!({
                    "verdict": tag(f.verdict),
                    "headline": f.headline,
                    "span": [f.caret.start, f.caret.end],
                    "label": f.label,
                    "labels": f.labels,
                    "evidence": f.evidence,
                    "fix": f.fix,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let out = json!({ "model": r.model, "exit_code": r.exit_code(), "claims": claims });
    let mut s = serde_json::to_string_pretty(&out).unwrap_or_default();
    s.push('\n');
    s
}

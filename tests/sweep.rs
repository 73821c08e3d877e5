//! `tally sweep`: closed forms derived once, evaluated exactly over a grid — every value equal to
//! what `tally derive` gives at that point, whatever varies (sizes, relations that follow them,
//! sliding windows, models, conventions).

use super::common::tally;
use std::collections::BTreeMap;

/// The exact values `tally derive ARGS --format json` gives for `names`.
fn derived(args: &[String], names: &[&str]) -> Vec<Option<String>> {
    let out = tally().arg("derive").args(args).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_name: BTreeMap<String, Option<String>> = doc["quantities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["name"].as_str().unwrap().to_string(), q["value"].as_str().map(str::to_string)))
        .collect();
    names.iter().map(|n| by_name.get(*n).cloned().unwrap_or_else(|| panic!("{n} in {args:?}"))).collect()
}

/// Sweeps and checks every row against a derivation at that point.
fn agrees_with_derive(model: &[&str], vary: &[&str], quantities: &[&str]) -> usize {
    let mut cmd = tally();
    cmd.arg("sweep").args(model);
    for v in vary {
        cmd.args(["--vary", v]);
    }
    let out = cmd.args(["--quantity", &quantities.join(",")]).output().unwrap();
    assert!(out.status.success(), "{vary:?}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut rows = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let mut args: Vec<String> = model.iter().map(|s| s.to_string()).collect();
        for (name, value) in header.iter().zip(&cells).take(vary.len()) {
            match *name {
                "model" => args.extend(["--model".to_string(), value.to_string()]),
                n if n.chars().next().is_some_and(|c| c.is_uppercase()) => {
                    args.extend(["--set".to_string(), format!("{n}={value}")])
                }
                n => args.extend([format!("--{}", n.replace('_', "-")), value.to_string()]),
            }
        }
        let expected = derived(&args, quantities);
        for ((q, cell), want) in quantities.iter().zip(&cells[vary.len()..]).zip(expected) {
            let got = (!cell.is_empty()).then(|| cell.to_string());
            assert_eq!(got, want, "{q} at {line}");
        }
        rows += 1;
    }
    rows
}

#[test]
fn every_row_equals_the_derivation_at_that_point() {
    let gpt2 = ["--model".to_string(), "gpt2-medium".to_string()];
    let gpt2: Vec<&str> = gpt2.iter().map(String::as_str).collect();
    // Batch and context, the largest batch at both memory readings.
    let n = agrees_with_derive(
        &gpt2,
        &["B=1..3", "T=256,1024"],
        &["memory.total", "flops.step", "batch.max", "batch.max.binary"],
    );
    assert_eq!(n, 6);
    // The width, with F = 4H following it (a relation) and heads that divide it.
    let n = agrees_with_derive(&gpt2, &["H=512..2048*2"], &["params", "memory.kv_cache"]);
    assert_eq!(n, 3);
    // Models and conventions as axes.
    let n = agrees_with_derive(
        &[],
        &["model=gpt2-small,llama-3-8b", "precision=fp32,bf16", "B=1,4"],
        &["params", "memory.total"],
    );
    assert_eq!(n, 8);
    // A sliding window: T_w = min(T, W) follows T.
    let n = agrees_with_derive(
        &["--model", "mistral-7b"],
        &["T=2048..8192*2"],
        &["memory.kv_cache", "flops.decode_per_token"],
    );
    assert_eq!(n, 3);
}

#[test]
fn formats_and_bad_axes() {
    let json = tally()
        .args(["sweep", "--model", "gpt2-small", "--vary", "B=1,2", "--quantity", "params", "--format", "json"])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert_eq!(rows[1]["B"], 2);
    let markdown = tally()
        .args(["sweep", "--model", "gpt2-small", "--vary", "B=1,2", "--quantity", "params", "--format", "markdown"])
        .output()
        .unwrap();
    assert!(String::from_utf8(markdown.stdout).unwrap().starts_with("| B | params |\n|---:|---:|\n| 1 |"));
    for (vary, says) in [
        ("B=0..4", "must be a positive whole number"),
        ("B=8..1", "runs backwards"),
        ("B=1..10:0", "never reaches"),
        ("Q=1,2", "neither a symbol nor a convention"),
        ("B=1.5", "not a whole number"),
        ("B", "NAME=VALUES"),
        ("H=500..501", "must be a positive whole number"),
    ] {
        let out = tally().args(["sweep", "--model", "gpt2-small", "--vary", vary]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{vary}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(says), "{vary}: {err}");
    }
}

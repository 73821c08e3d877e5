//! Output that never misleads: advice that follows from the numbers, training time from a measured
//! throughput, and defaults said to be assumptions.

use super::common::tally;

fn derive(args: &[&str]) -> String {
    let out = tally().arg("derive").args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn model_states_over_the_budget_point_to_sharding_with_the_gpu_count() {
    let text = derive(&["--model", "llama-3-8b", "--precision", "bf16", "--layout", "mixed", "--hardware", "h100"]);
    assert!(text.contains("Parameters, gradients and optimizer state alone need 128 GB"), "{text}");
    assert!(text.contains("no change per sequence can help on its own"));
    assert!(!text.contains("Use less memory per sequence"), "the old advice is gone");
    // T² activations dominate at T = 8192: FlashAttention takes one sequence from 308 GB to 33.3 GB,
    // and then ZeRO-3 over 3 GPUs fits it (128.5 GB / (80 − 33.3) GB = 2.75).
    assert!(text.contains("FlashAttention (--attention-kernel flash, no T² tensors kept): 33.3 GB"), "{text}");
    assert!(text.contains("ZeRO-3 over N ≥ 3 GPUs"), "{text}");
}

#[test]
fn activations_over_the_room_name_what_each_change_saves() {
    let text = derive(&["--model", "gpt2-xl", "--set", "T=16384", "--hardware", "h100"]);
    assert!(text.contains("The model states leave 46.0 GB"), "{text}");
    assert!(
        text.contains("87.3 GB (81.3 GiB) per sequence instead of 2.66 TB (2.42 TiB) (not enough alone)"),
        "{text}"
    );
    assert!(text.contains("11.7 GB (10.9 GiB) per sequence instead of 2.66 TB (2.42 TiB) (then one sequence fits)"));
}

#[test]
fn a_model_that_fits_gets_no_advice() {
    let text = derive(&["--model", "gpt2-small", "--hardware", "h100"]);
    assert!(!text.contains("does not fit") && !text.contains("ZeRO-3 over"), "{text}");
}

#[test]
fn a_measured_throughput_drives_the_training_time() {
    let text = derive(&["--model", "gpt2-small", "--tokens-per-second", "3000", "--steps", "1000"]);
    // 1,000 steps of 1 × 1,024 tokens at 3,000 tokens/s = 341.33 s.
    assert!(text.contains("t = SBT/τ") && text.contains("≈ 341 s"), "{text}");
    let default = derive(&["--model", "gpt2-small"]);
    assert!(default.contains("t = S·C_step/(UR)"));
    for format in ["text", "markdown", "latex", "html", "json"] {
        let out = derive(&["--model", "gpt2-small", "--format", format]);
        assert!(out.contains("S = 400,000 steps (the default of --steps)"), "{format}: the default is labelled");
        if format != "json" {
            assert!(out.contains("B = 1 sequence per step"), "{format}");
        }
    }
    let given = derive(&["--model", "gpt2-small", "--steps", "1000", "--set", "B=8"]);
    assert!(!given.contains("the default of --steps") && given.contains("B = 8 sequences per step"));
}

#[test]
fn json_carries_everything_the_text_shows() {
    for args in [&["cs336-2025"][..], &["cs336-2024"], &["--model", "llama-3-8b"]] {
        let text = derive(args);
        let json: serde_json::Value = serde_json::from_str(&derive(&[args, &["--format", "json"]].concat())).unwrap();
        let document = json["document"].as_array().unwrap();
        let paragraphs: Vec<&str> = document.iter().filter_map(|b| b["paragraph"].as_str()).collect();
        let headings: Vec<&str> = document.iter().filter_map(|b| b["heading"].as_str()).collect();
        let cells: Vec<String> = document
            .iter()
            .filter_map(|b| b["table"]["rows"].as_array())
            .flatten()
            .flat_map(|r| r.as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()))
            .collect();
        // Every question, judgement and heading of the text is in the JSON, and every share.
        for line in text.lines().filter(|l| l.starts_with("Question:") || l.starts_with("The largest share")) {
            assert!(paragraphs.contains(&line), "{args:?}: {line}");
        }
        // A heading is a line the text underlines.
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.windows(2).filter(|p| p[1].starts_with('─') && !p[0].is_empty() && !p[0].contains("  ")) {
            assert!(headings.contains(&pair[0]), "{args:?}: heading {}", pair[0]);
        }
        assert_eq!(document[0]["title"].as_str(), lines.first().copied());
        for share in text.split_whitespace().filter(|w| w.ends_with('%') && w.contains('.')) {
            assert!(
                cells.iter().any(|c| c == share) || paragraphs.iter().any(|p| p.contains(share)),
                "{args:?}: {share}"
            );
        }
    }
}

#[test]
fn no_printed_specialisation_contradicts_the_bindings() {
    let listing = String::from_utf8(tally().args(["list", "models"]).output().unwrap().stdout).unwrap();
    let mut checked = 0;
    for name in listing.lines().filter_map(|l| l.split_whitespace().next()) {
        let json: serde_json::Value = serde_json::from_str(&derive(&["--model", name, "--format", "json"])).unwrap();
        let values: std::collections::BTreeMap<String, tally::algebra::Rational> = json["bindings"]
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(k, v)| {
                let text = v.as_i64().map(|n| n.to_string()).or_else(|| v.as_str().map(str::to_string))?;
                let (n, d) = text.split_once('/').unwrap_or((&text, "1"));
                Some((k.clone(), tally::algebra::Rational::new(n.parse().ok()?, d.parse().ok()?)))
            })
            .collect();
        // Every note of the form `with X = formula` must hold at the bound sizes.
        for eq in json["document"].as_array().unwrap().iter().filter_map(|b| b["equations"].as_array()).flatten() {
            let Some(note) = eq["note"].as_str() else { continue };
            let Some(relation) = note.strip_prefix("with ") else { continue };
            let Some((symbol, formula)) = relation.split_once(" = ") else { continue };
            let read = |t: &str| tally::algebra::parse(t, &tally::algebra::any_symbol).unwrap();
            let (lhs, rhs) = (read(symbol.trim()), read(formula.trim()));
            let (Ok(l), Ok(r)) = (tally::algebra::evaluate(&lhs, &values), tally::algebra::evaluate(&rhs, &values))
            else {
                continue;
            };
            assert_eq!(l, r, "{name}: `{note}` is printed but does not hold");
            checked += 1;
        }
    }
    assert!(checked > 0, "some specialisations are printed and checked");
}

#[test]
fn a_table_of_some_ops_totals_the_ops_it_lists() {
    // Sheet part (b) lists the matmuls only: its totals are theirs (no RMSNorm gains).
    let json: serde_json::Value = serde_json::from_str(&derive(&["cs336-2025", "--format", "json"])).unwrap();
    let table = json["document"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|b| b["table"].as_object().filter(|t| t["rows"].as_array().unwrap().iter().any(|r| r[1] == "W_Q")))
        .expect("the matmul table");
    let number = |c: &serde_json::Value| c.as_str().unwrap().replace(',', "").parse::<u64>().unwrap_or(0);
    let mut sum = 0;
    for row in table["rows"].as_array().unwrap() {
        let label = row[0].as_str().unwrap();
        if label.contains("(one of them): the ops listed") {
            assert_eq!(number(&row[6]), sum, "params of the listed block ops");
            assert_eq!(row[4], "4H² + 3HF");
        } else if !row[1].as_str().unwrap().is_empty() && (label.is_empty() || label == "Transformer block") {
            sum += number(&row[6]);
        }
    }
    assert_eq!(sum, 40_960_000, "4H² + 3HF at GPT-2 XL");
}

#[test]
fn no_chain_repeats_a_line_and_every_format_writes_numbers_and_signs_properly() {
    let listing = String::from_utf8(tally().args(["list", "models"]).output().unwrap().stdout).unwrap();
    let custom = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cs336-tied.toml");
    let mut models: Vec<Vec<&str>> =
        listing.lines().filter_map(|l| l.split_whitespace().next()).map(|m| vec!["--model", m]).collect();
    models.push(vec!["--model", custom]);
    for args in &models {
        let json: serde_json::Value =
            serde_json::from_str(&derive(&[&args[..], &["--format", "json"]].concat())).unwrap();
        for eq in json["document"].as_array().unwrap().iter().filter_map(|b| b["equations"].as_array()).flatten() {
            let rhs: Vec<&str> = eq["rhs"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
            for pair in rhs.windows(2) {
                assert_ne!(pair[0], pair[1], "{args:?}: {} repeats a line", eq["lhs"]);
            }
        }
    }
    // 2³⁰ in LaTeX is one exponent; HTML groups long numbers and writes a real minus sign.
    let latex = derive(&["cs336-2025", "--format", "latex"]);
    assert!(latex.contains("2$^{30}$") && !latex.contains("$^{3}$$^{0}$"));
    let html = derive(&["cs336-2025", "--format", "html"]);
    assert!(html.contains("80,000,000,000") && !html.contains("80000000000"));
    assert!(html.contains('−'), "a real minus sign");
}

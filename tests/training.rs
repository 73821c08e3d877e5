//! Training accounting through the binary: the CS336 answer sheets' numbers, memory budgets,
//! MFU, and the closed form of training memory.

use assert_cmd::Command;
use num_bigint::BigInt;
use num_rational::BigRational;
use predicates::prelude::*;
use serde_json::Value;
use tally::algebra::worker::{WaitOptions, exclusive};
use tally::algebra::{self, Engine};

fn tally() -> Command {
    Command::cargo_bin("tally").unwrap()
}

fn json(args: &[&str]) -> Value {
    let out = tally().args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn quantity<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["quantities"].as_array().unwrap().iter().find(|q| q["name"] == name).unwrap_or_else(|| panic!("{name}"))
}

fn value(doc: &Value, name: &str) -> String {
    quantity(doc, name)["value"].as_str().unwrap_or_else(|| panic!("{name} has a value")).to_string()
}

/// Days to one decimal from an exact number of seconds given as "p/q" or an integer.
fn days(seconds: &str) -> String {
    let r: BigRational = match seconds.split_once('/') {
        Some((p, q)) => BigRational::new(p.parse().unwrap(), q.parse().unwrap()),
        None => BigRational::from_integer(seconds.parse::<BigInt>().unwrap()),
    };
    let tenths = (r * BigRational::from_integer(10.into()) / BigRational::from_integer(86_400.into())).round();
    let t = tenths.to_integer();
    format!("{}.{}", &t / 10, &t % 10)
}

#[test]
fn cs336_2025_answer_sheet_reproduces_the_handout_numbers() {
    let doc = json(&["derive", "cs336-2025", "--format", "json"]);
    assert_eq!(value(&doc, "params"), "2127057600");
    assert_eq!(value(&doc, "memory.activations"), "15517753344");
    assert_eq!(value(&doc, "memory.static"), "34032921600");
    assert_eq!(value(&doc, "memory.total"), "49550674944");
    assert_eq!(value(&doc, "batch.max"), "2");
    assert_eq!(value(&doc, "batch.max.binary"), "3");
    assert_eq!(value(&doc, "flops.optimizer"), "29778806410");
    assert_eq!(days(&value(&doc, "time.training")), "6583.6");
    assert_eq!(value(&doc, "flops.forward[T=16384]"), "149522795724800");
}

#[test]
fn cs336_2024_answer_sheet_reproduces_the_handout_numbers() {
    let doc = json(&["derive", "cs336-2024", "--format", "json"]);
    assert_eq!(value(&doc, "params"), "1556764800");
    assert_eq!(value(&doc, "flops.forward"), "3506703564800");
    assert_eq!(value(&doc, "memory.activations"), "15517753344");
    assert_eq!(value(&doc, "memory.static"), "24908236800");
    assert_eq!(days(&value(&doc, "time.training")), "5115.2");
}

#[test]
fn the_answer_sheet_states_memory_as_a_b_plus_b_and_days_to_a_tenth() {
    let out = tally().args(["derive", "cs336-2025"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("15,517,753,344·B + 34,032,921,600 bytes"), "{text}");
    assert!(text.contains("(6,583.6 days)"));
    assert!(text.contains("14 FLOPs per parameter"));
}

#[test]
fn adamw_flops_per_parameter_come_from_the_update_lines() {
    let xl = json(&["derive", "--model", "gpt2-xl", "--format", "json"]);
    let params: i64 = value(&xl, "params").parse().unwrap();
    let optimizer: i64 = value(&xl, "flops.optimizer").parse().unwrap();
    assert_eq!((optimizer - 10) / params, 14);
    assert_eq!((optimizer - 10) % params, 0);
}

#[test]
fn training_memory_reads_like_the_textbook_with_f_equal_4h() {
    let doc = json(&["derive", "--model", "gpt2-xl", "--format", "json"]);
    let expr = quantity(&doc, "memory.total")["expr"].as_str().unwrap().to_string();
    exclusive(&WaitOptions::default(), move |engine: &Engine| {
        let read = |t: &str| algebra::parse(t, &algebra::any_symbol).unwrap();
        let with_f = read(&expr).substitute(&|s| (s == "F").then(|| read("4*H")));
        let textbook = read("16*(2*V*H + L*(16*H^2 + 2*H) + H) + 4*B*T*(L*(16*H + 2*A*T) + H + 2*V)");
        assert!(engine.equal(&with_f, &textbook).unwrap());
    })
    .unwrap();
}

#[test]
fn a_budget_below_the_static_memory_does_not_fit_and_says_so() {
    let out = tally().args(["derive", "--memory", "30GB"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("even B = 1 does not fit"), "{text}");
    assert!(text.contains("Parameters, gradients and optimizer state alone need"));
    let doc = json(&["derive", "--memory", "30GB", "--format", "json"]);
    let q = quantity(&doc, "batch.max");
    assert!(q["value"].is_null(), "no batch is presented as an answer");
    assert!(q["display"].as_str().unwrap().starts_with("does not fit"));
}

#[test]
fn binary_and_decimal_budgets_are_told_apart() {
    let gb = json(&["derive", "--memory", "80GB", "--format", "json"]);
    let gib = json(&["derive", "--memory", "80GiB", "--format", "json"]);
    assert_eq!(value(&gb, "batch.max"), "2");
    assert_eq!(value(&gib, "batch.max"), "3");
}

#[test]
fn bad_training_options_exit_2_with_a_message() {
    for (args, message) in [
        (vec!["--memory=-5GB"], "must be positive"),
        (vec!["--memory", "-5GB"], "must be positive"),
        (vec!["--memory", "80 parsecs"], "unknown memory unit"),
        (vec!["--mfu", "1.5"], "(0, 1]"),
        (vec!["--mfu", "0"], "(0, 1]"),
        (vec!["--hardware", "tpu-v9"], "unknown hardware `tpu-v9`"),
        (vec!["--steps", "-3"], "positive whole number"),
        (vec!["--tokens-per-second", "fast"], "a throughput is a positive number"),
    ] {
        tally().arg("derive").args(&args).assert().code(2).stderr(predicate::str::contains(message));
    }
}

#[test]
fn an_impossible_throughput_is_reported_as_impossible() {
    let out = tally().args(["derive", "--set", "B=1024", "--tokens-per-second", "10000"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("above 100%"), "{text}");
    let plausible = tally().args(["derive", "--tokens-per-second", "300"]).output().unwrap();
    let text = String::from_utf8(plausible.stdout).unwrap();
    assert!(text.contains("MFU = ") && !text.contains("above 100%"), "{text}");
}

#[test]
fn precision_changes_bytes_and_the_hardware_peak() {
    let bf16 = json(&["derive", "--precision", "bf16", "--format", "json"]);
    assert_eq!(value(&bf16, "memory.params"), "4254115200");
    assert_eq!(bf16["bindings"]["R"], 312000000000000i64);
    let h100 = json(&["derive", "--hardware", "h100-sxm", "--precision", "bf16", "--format", "json"]);
    assert_eq!(h100["bindings"]["R"], 989400000000000i64);
}

#[test]
fn the_all_convention_counts_swiglu_intermediates_too() {
    let cs336 = json(&["derive", "--format", "json"]);
    let all = json(&["derive", "--activations", "all", "--format", "json"]);
    let a: i64 = value(&cs336, "memory.activations").parse().unwrap();
    let b: i64 = value(&all, "memory.activations").parse().unwrap();
    // What `all` adds to the CS336 list, counted by hand at GPT-2 XL sizes (B = 1, T = 1024,
    // H = 1600, F = 6400, L = 48), 4 bytes per element: the embedding output (BTH), and per layer
    // the rotated Q and K (2·BTH), both residual sums (2·BTH), W3's output and the gated product
    // (2·BTF).
    let (bth, btf, l) = (1024 * 1600i64, 1024 * 6400i64, 48i64);
    assert_eq!(b - a, 4 * (bth + l * (4 * bth + 2 * btf)));
}

#[test]
fn an_answer_sheet_can_be_named_by_its_file() {
    let by_path = json(&["derive", "derivations/cs336-2025.toml", "--format", "json"]);
    let by_name = json(&["derive", "cs336-2025", "--format", "json"]);
    assert_eq!(by_path, by_name);
}

//! Data as files: a user's data directory adds hardware and optimizers without recompiling, fp8
//! comes from the data like every precision, and a model file extends a built-in architecture.

use super::common::{scratch, tally};
use std::path::Path;

fn stdout_of(args: &[&str], env: &[(&str, &Path)]) -> String {
    let mut cmd = tally();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The JSON value of quantity `name` in a derivation printed as JSON.
fn quantity(json: &str, name: &str) -> String {
    let doc: serde_json::Value = serde_json::from_str(json).unwrap();
    let q = doc["quantities"].as_array().unwrap().iter().find(|q| q["name"] == name);
    q.unwrap_or_else(|| panic!("no {name}"))["value"].as_str().unwrap().to_string()
}

const MI300X: &str = include_str!("fixtures/data/hardware.toml");

/// Lion: one state tensor, 11 FLOPs per parameter as its file writes them (3 + 5 + 3).
const LION: &str = include_str!("fixtures/data/optimizers/lion.toml");

fn user_data(label: &str) -> std::path::PathBuf {
    let dir = scratch(label);
    std::fs::create_dir_all(dir.join("optimizers")).unwrap();
    std::fs::write(dir.join("hardware.toml"), MI300X).unwrap();
    std::fs::write(dir.join("optimizers/lion.toml"), LION).unwrap();
    dir
}

#[test]
fn a_data_directory_adds_hardware_and_an_optimizer() {
    let dir = user_data("data-dir");
    let args = ["derive", "--hardware", "mi300x", "--optimizer", "lion", "--precision", "bf16", "--format", "json"];
    let mut with_flag = vec!["--data", dir.to_str().unwrap()];
    with_flag.extend(args);
    let json = stdout_of(&with_flag, &[]);
    // The same directory through the environment gives the same output.
    assert_eq!(json, stdout_of(&args, &[("TALLY_DATA", &dir)]));
    let params: u64 = quantity(&json, "params").parse().unwrap();
    assert_eq!(params, 2_127_057_600);
    // Lion's one state tensor, 2 bytes per bf16 element; its update lines give 11 FLOPs per parameter.
    assert_eq!(quantity(&json, "memory.optimizer"), (2 * params).to_string());
    assert_eq!(quantity(&json, "flops.optimizer"), (11 * params).to_string());
    // The MI300X's bf16 peak and its one memory reading (192 GB, decimal).
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["bindings"]["R"], serde_json::json!(1_307_400_000_000_000u64), "{}", doc["bindings"]);
    let text =
        stdout_of(&["--data", dir.to_str().unwrap(), "derive", "--hardware", "mi300x", "--optimizer", "lion"], &[]);
    assert!(text.contains("Lion keeps 1 state tensor (m, the momentum: 4 bytes per parameter)"), "{text}");
    assert!(text.contains("192GB (decimal, 10⁹ bytes per GB)"), "{text}");
    assert!(!text.contains("192GiB"), "the data gives one reading: {text}");
    // Listings include what the directory adds.
    let list = stdout_of(&["--data", dir.to_str().unwrap(), "list", "optimizers"], &[]);
    assert!(list.contains("lion"), "{list}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_broken_user_data_file_is_pointed_at() {
    let dir = user_data("data-broken");
    std::fs::write(dir.join("hardware.toml"), MI300X.replace("2614.9e12", "fast")).unwrap();
    let out = tally().args(["--data", dir.to_str().unwrap(), "derive"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("hardware.toml:7:"), "{stderr}");
    assert!(stderr.contains("fast"), "{stderr}");
    std::fs::write(dir.join("hardware.toml"), MI300X).unwrap();
    std::fs::write(dir.join("optimizers/lion.toml"), LION.replace("per = \"param\"", "per = \"token\"")).unwrap();
    let out = tally().args(["--data", dir.to_str().unwrap(), "derive"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("optimizers/lion.toml:13:7"), "{stderr}");
    assert!(stderr.contains(dir.to_str().unwrap()), "the message names the file by its full path: {stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn fp8_halves_bf16_bytes_and_uses_the_fp8_peak() {
    let json = |precision: &str| {
        stdout_of(&["derive", "--hardware", "h100", "--precision", precision, "--format", "json"], &[])
    };
    let (fp8, bf16) = (json("fp8"), json("bf16"));
    let params: u64 = quantity(&fp8, "params").parse().unwrap();
    assert_eq!(quantity(&fp8, "memory.params"), params.to_string(), "1 byte per fp8 element");
    assert_eq!(quantity(&bf16, "memory.params"), (2 * params).to_string());
    let bytes = |doc: &str, name: &str| quantity(doc, name).parse::<u128>().unwrap();
    assert_eq!(2 * bytes(&fp8, "memory.activations"), bytes(&bf16, "memory.activations"));
    let r = |doc: &str| serde_json::from_str::<serde_json::Value>(doc).unwrap()["bindings"]["R"].clone();
    assert_eq!(r(&fp8), serde_json::json!(1_978_900_000_000_000u64));
    assert_eq!(r(&bf16), serde_json::json!(989_400_000_000_000u64));
    // A100s have no fp8 units: refused with what the A100 has.
    let out = tally().args(["derive", "--precision", "fp8"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("has no fp8 peak") && stderr.contains("bf16, fp16, fp32, tf32"), "{stderr}");
}

#[test]
fn a_model_that_extends_another_changes_only_what_it_says() {
    let dir = scratch("extends");
    let path = dir.join("tied.toml");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cs336-tied.toml"), &path).unwrap();
    let model = path.to_str().unwrap();
    let tied = stdout_of(&["derive", "--model", model, "--preset", "gpt2-xl", "--format", "json"], &[]);
    let base = stdout_of(&["derive", "--model", "gpt2-xl", "--format", "json"], &[]);
    let (v, h) = (50_257u64, 1_600u64);
    let p = |doc: &str| quantity(doc, "params").parse::<u64>().unwrap();
    assert_eq!(p(&base) - p(&tied), v * h, "tying removes the head's V·H parameters and nothing else");
    assert_eq!(quantity(&tied, "flops.forward"), quantity(&base, "flops.forward"), "a tied head still multiplies");
    let text = stdout_of(&["derive", "--model", model, "--preset", "gpt2-xl"], &[]);
    assert!(text.contains("gelu element-wise"), "{text}");
    assert!(text.contains("matmul 2mnp, weight tied"), "{text}");
    // A change naming an op the base does not have is refused where it is written.
    std::fs::write(
        &path,
        "name = \"x\"\nsummary = \"x\"\nextends = \"cs336-2025\"\n[[change]]\nop = \"W_Z\"\ntied = true\n",
    )
    .unwrap();
    let out = tally().args(["derive", "--model", model]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("tied.toml:5:") && stderr.contains("W_Z"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

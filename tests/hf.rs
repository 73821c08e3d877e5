//! Models as they ship: Hugging Face configs imported through the family files, checked against
//! what transformers measured (tests/golden/hf, written by harness/hf): parameter counts of the
//! published configs, active parameters of the MoE ones, and for a tiny config of every family the
//! forward FLOPs FlopCounterMode counted and the KV-cache elements both of transformers' caches
//! held, exactly.

use super::common::{scratch, snapshot, tally};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hf");
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/hf");

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The quantities of `tally derive --hf-config DIR ARGS --format json`, by name (exact values).
fn derive(dir: &Path, args: &[&str]) -> BTreeMap<String, String> {
    let out = tally().args(["derive", "--hf-config"]).arg(dir).args(args).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["quantities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|q| Some((q["name"].as_str()?.to_string(), q["value"].as_str()?.to_string())))
        .collect()
}

fn published() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("tiny-"))
        .collect();
    names.sort();
    names
}

#[test]
fn parameter_counts_of_the_published_configs_equal_transformers() {
    let names = published();
    assert_eq!(names.len(), 13, "{names:?}");
    let mut moe = 0;
    for name in &names {
        let q = derive(&Path::new(FIXTURES).join(name), &[]);
        // Gemma 3 ships as a multimodal wrapper; tally models its language model (the text part).
        let golden = if name == "gemma-3-27b" { "gemma-3-27b-text" } else { name.as_str() };
        let measured = json(&Path::new(GOLDEN).join("params").join(format!("{golden}.json")));
        assert_eq!(q["params"], measured["total_params"].to_string(), "{name}: parameters");
        match measured.get("moe").filter(|m| !m.is_null()) {
            Some(m) => {
                assert_eq!(q["params.active"], m["active_params"].to_string(), "{name}: active parameters");
                moe += 1;
            }
            None => assert!(!q.contains_key("params.active"), "{name}: a dense model has no active count"),
        }
    }
    assert_eq!(moe, 5, "mixtral, qwen1.5-moe, qwen3-30b-a3b, deepseek-v3, gpt-oss");
    // Mixtral 8x7B's published figures.
    let q = derive(&Path::new(FIXTURES).join("mixtral-8x7b-v0.1"), &[]);
    assert_eq!((q["params"].as_str(), q["params.active"].as_str()), ("46702792704", "12879925248"));
}

#[test]
fn tiny_configs_run_through_transformers_match_flops_and_both_caches_exactly() {
    let mut runs = 0;
    for entry in std::fs::read_dir(Path::new(GOLDEN).join("tiny")).unwrap() {
        let measured = json(&entry.unwrap().path());
        let family = measured["family"].as_str().unwrap();
        let (b, t) = (measured["batch"].to_string(), measured["seq_len"].to_string());
        let dir = Path::new(FIXTURES).join(format!("tiny-{family}"));
        let sets = ["--set", &format!("B={b}"), "--set", &format!("T={t}")];
        // fp32 (4 bytes per element), so elements = bytes / 4.
        let elements = |q: &BTreeMap<String, String>| q["memory.kv_cache"].parse::<u64>().unwrap() / 4;
        let dynamic = derive(&dir, &[&sets[..], &["--sliding-cache", "hf-dynamic"]].concat());
        let fixed = derive(&dir, &[&sets[..], &["--sliding-cache", "window"]].concat());
        let what = format!("{family} B={b} T={t}");
        assert_eq!(fixed["flops.forward"], measured["flops"]["total"].to_string(), "{what}: forward FLOPs");
        assert_eq!(elements(&dynamic), measured["kv_cache"]["total_numel"].as_u64().unwrap(), "{what}: DynamicCache");
        assert_eq!(elements(&fixed), measured["static_cache"]["total_numel"].as_u64().unwrap(), "{what}: StaticCache");
        runs += 1;
    }
    assert_eq!(runs, 52, "13 families × B ∈ {{1, 2}} × T ∈ {{5, 12}}");
}

#[test]
fn deepseek_v3_caches_1152_bytes_per_token_per_layer_in_bf16_and_names_both_decode_readings() {
    let q = derive(&Path::new(FIXTURES).join("deepseek-v3"), &["--precision", "bf16"]);
    // (kv_lora_rank + qk_rope_head_dim) = 576 elements × 2 bytes × 61 layers.
    assert_eq!(q["memory.kv_cache.per_token"], (1_152 * 61).to_string());
    assert!(q.contains_key("flops.decode_per_token") && q.contains_key("flops.decode_per_token.absorbed"));
    let out = tally().args(["derive", "--model", "deepseek-v3", "--precision", "bf16"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1,152 bytes per layer"), "{text}");
    assert!(text.contains("naive: the cached latent expanded") && text.contains("latent attention absorbed"));
}

#[test]
fn built_in_presets_read_their_configs() {
    for (preset, fixture) in [
        ("mixtral-8x7b", "mixtral-8x7b-v0.1"),
        ("deepseek-v3", "deepseek-v3"),
        ("qwen3-30b-a3b", "qwen3-30b-a3b"),
        ("gemma-3-27b", "gemma-3-27b"),
        ("gpt-oss-20b", "gpt-oss-20b"),
        ("mistral-7b", "mistral-7b-v0.1"),
    ] {
        let out = tally().args(["derive", "--model", preset, "--format", "json"]).output().unwrap();
        assert!(out.status.success(), "{preset}: {}", String::from_utf8_lossy(&out.stderr));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let params = doc["quantities"].as_array().unwrap().iter().find(|q| q["name"] == "params").unwrap();
        let from_fixture = derive(&Path::new(FIXTURES).join(fixture), &[]);
        assert_eq!(params["value"].as_str(), Some(from_fixture["params"].as_str()), "{preset}");
    }
}

#[test]
fn import_writes_a_model_file_that_derives_the_same_numbers() {
    let dir = scratch("hf-import");
    let file = dir.join("qwen3.toml");
    let out = tally()
        .args(["import", "--hf-config"])
        .arg(Path::new(FIXTURES).join("qwen3-30b-a3b"))
        .arg("-o")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# Imported by tally"), "{text}");
    assert!(text.contains("config keys not used:") && text.contains("rope_theta"), "unused keys are listed");
    let derived = tally().args(["derive", "--model"]).arg(&file).args(["--format", "json"]).output().unwrap();
    assert!(derived.status.success(), "{}", String::from_utf8_lossy(&derived.stderr));
    let doc: Value = serde_json::from_slice(&derived.stdout).unwrap();
    let params = doc["quantities"].as_array().unwrap().iter().find(|q| q["name"] == "params").unwrap();
    assert_eq!(params["value"], "30532122624");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A config the import refuses: exit 2 and a message pointing at the place.
fn refused(name: &str, config: &str) -> String {
    let dir = scratch(&format!("hf-{name}"));
    std::fs::write(dir.join("config.json"), config).unwrap();
    let out = tally().args(["derive", "--hf-config"]).arg(&dir).output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2), "{name}: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn bad_configs_exit_2_with_the_place() {
    let llama = std::fs::read_to_string(Path::new(FIXTURES).join("llama-3-8b/config.json")).unwrap();
    let unknown = refused("unknown", &llama.replace("\"llama\"", "\"mamba\""));
    assert!(
        unknown.contains("model_type `mamba` is not one tally can import") && unknown.contains("mixtral"),
        "{unknown}"
    );
    assert!(unknown.contains("config.json:"), "points into the file: {unknown}");
    let malformed = refused("malformed", "{\n  \"model_type\": \"llama\",\n  \"hidden_size\": 4096,,\n}\n");
    assert!(malformed.contains("not valid JSON") && malformed.contains("config.json:3:"), "{malformed}");
    let missing = refused("missing", &llama.replace("\"hidden_size\"", "\"hidden\""));
    assert!(missing.contains("no `hidden_size`") && missing.contains("H (model width)"), "{missing}");
    let zero = refused("zero", &llama.replace("\"num_hidden_layers\": 32", "\"num_hidden_layers\": 0"));
    assert!(zero.contains("`num_hidden_layers` should be a positive whole number"), "{zero}");
    let heads = refused("heads", &llama.replace("\"num_attention_heads\": 32", "\"num_attention_heads\": 30"));
    assert!(heads.contains("D = H/A = 2048/15") && heads.contains("num_attention_heads"), "{heads}");
    let not_json_object = refused("array", "[1, 2]");
    assert!(not_json_object.contains("one JSON object"), "{not_json_object}");
}

#[test]
fn a_derivation_per_family() {
    for (family, fixture) in [
        ("mistral", "mistral-7b-v0.1"),
        ("mixtral", "mixtral-8x7b-v0.1"),
        ("qwen2", "qwen2-7b"),
        ("qwen2_moe", "qwen1.5-moe-a2.7b"),
        ("qwen3", "qwen3-8b"),
        ("qwen3_moe", "qwen3-30b-a3b"),
        ("gemma2", "gemma-2-9b"),
        ("gemma3", "gemma-3-27b"),
        ("phi3", "phi-3-mini-4k-instruct"),
        ("deepseek_v3", "deepseek-v3"),
        ("gpt_oss", "gpt-oss-20b"),
    ] {
        let out = tally()
            .current_dir(FIXTURES)
            .args(["derive", "--hf-config", fixture, "--precision", "bf16", "--layout", "mixed", "--hardware", "h100"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{family}: {}", String::from_utf8_lossy(&out.stderr));
        snapshot(&format!("hf_{family}"), &String::from_utf8(out.stdout).unwrap());
    }
}

/// The bindings of a derivation of a tiny config, by symbol.
fn bindings(dir: &Path, args: &[&str]) -> BTreeMap<String, u64> {
    let out = tally().args(["derive", "--hf-config"]).arg(dir).args(args).args(["--format", "json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["bindings"].as_object().unwrap().iter().filter_map(|(k, v)| Some((k.clone(), v.as_u64()?))).collect()
}

#[test]
fn windowed_attention_flops_skip_exactly_the_keys_outside_the_window() {
    let mut checked = 0;
    for family in ["mistral", "gemma2", "gemma3", "phi3", "gpt_oss"] {
        let dir = Path::new(FIXTURES).join(format!("tiny-{family}"));
        let sets = ["--set", "B=2", "--set", "T=12"];
        let full = derive(&dir, &sets);
        let window = derive(&dir, &[&sets[..], &["--attention-flops", "window"]].concat());
        let b = bindings(&dir, &sets);
        // Layers with a window: L_s when the layers differ, all L when every layer slides.
        let sliding = b.get("L_s").or(b.get("L")).copied().unwrap();
        let (a, d, t, t_w) = (b["A"], b["D"], b["T"], b["T_w"]);
        assert_eq!((t, t_w), (12, 8), "{family}: the tiny window is 8");
        // QKᵀ and AV each lose 2·B·A·T·(T − T_w)·D per sliding layer.
        let saved = 2 * 2 * b["B"] * a * t * (t - t_w) * d * sliding;
        let (full, window): (u64, u64) =
            (full["flops.forward"].parse().unwrap(), window["flops.forward"].parse().unwrap());
        assert_eq!(full - window, saved, "{family}");
        checked += 1;
    }
    assert_eq!(checked, 5);
}

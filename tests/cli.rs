//! The binary as users run it: exit codes, messages naming the bad input, clean JSON on stdout,
//! and the per-user symbolica lock under concurrent runs.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn tally() -> Command {
    let mut cmd = Command::cargo_bin("tally").unwrap();
    cmd.env_remove("SYMBOLICA_HIDE_BANNER");
    cmd
}

fn json(args: &[&str]) -> Value {
    let out = tally().args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

fn quantity<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["quantities"].as_array().unwrap().iter().find(|q| q["name"] == name).unwrap_or_else(|| panic!("{name}"))
}

#[test]
fn json_output_follows_the_contract() {
    let doc = json(&["derive", "--model", "gpt2-xl", "--format", "json"]);
    assert_eq!(doc["model"], "gpt2-xl");
    assert_eq!(doc["bindings"]["H"], 1600);
    assert_eq!(doc["bindings"]["B"], 1);
    for (name, unit, value) in [
        ("params", "param", "2127057600"),
        ("bytes.params.fp32", "byte", "8508230400"),
        ("flops.forward", "FLOP", "4513336524800"),
        ("flops.forward_per_layer", "FLOP", "90596966400"),
        ("flops.forward.lm_head", "FLOP", "164682137600"),
    ] {
        let q = quantity(&doc, name);
        assert_eq!(q["unit"], unit, "{name}");
        assert_eq!(q["value"], value, "{name}");
        assert!(q["expr"].as_str().unwrap().contains('*'), "{name}: expr is ASCII with *");
        assert!(!q["latex"].as_str().unwrap().is_empty());
        assert!(!q["display"].as_str().unwrap().is_empty());
    }
    for component in ["attention_projections", "attention_scores", "attention_values", "ffn", "lm_head"] {
        quantity(&doc, &format!("flops.forward.{component}"));
    }
    assert_eq!(quantity(&doc, "params")["expr"], "2*V*H + L*(4*H^2 + 3*H*F + 2*H) + H");
}

#[test]
fn set_accepts_short_and_long_names() {
    for set in ["T=16384", "context_length=16384", "T=16,384"] {
        let doc = json(&["derive", "--model", "gpt2-xl", "--format", "json", "--set", set]);
        assert_eq!(quantity(&doc, "flops.forward")["value"], "149522795724800", "{set}");
    }
}

#[test]
fn an_unknown_model_exits_2_and_lists_the_known_ones() {
    tally()
        .args(["derive", "--model", "nope"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("unknown model `nope`").and(predicate::str::contains("gpt2-xl")));
}

#[test]
fn a_bad_set_value_exits_2_naming_it() {
    tally()
        .args(["derive", "--model", "gpt2-xl", "--set", "X=abc"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("X=abc").and(predicate::str::contains("unknown symbol `X`")));
    tally()
        .args(["derive", "--set", "T=abc"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`abc` is not a number"));
}

#[test]
fn sizes_must_be_positive_whole_numbers() {
    for (set, says) in [
        ("H=0", "H (d_model) must be a positive whole number, not `0`"),
        ("H=-5", "H (d_model) must be a positive whole number, not `-5`"),
        ("T=1.5", "T (context_length) must be a whole number, not `1.5`"),
        ("L=", "`` is not a number (write e.g. L=1024"),
        ("H", "SYMBOL=VALUE"),
    ] {
        tally().args(["derive", "--set", set]).assert().code(2).stderr(predicate::str::contains(says));
    }
}

#[test]
fn heads_that_do_not_divide_the_width_are_rejected() {
    tally()
        .args(["derive", "--set", "H=1601"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("num_heads (A) must divide d_model (H)"));
}

#[test]
fn odd_command_lines_never_panic() {
    let cases: &[&[&str]] = &[
        &[],
        &["derive", "--format", "pdf"],
        &["derive", "--model"],
        &["derive", "--set", "=", "--model", "gpt2-xl"],
        &["derive", "--set", "T=99999999999999999999999999"],
        &["derive", "--set", "B=1e400"],
        &["derive", "--model", "/nonexistent/model.toml"],
        &["derive", "gpt2-xl", "--model", "gpt2-xl"],
        &["list", "nothing"],
        &["frobnicate"],
    ];
    for args in cases {
        let out = tally().args(*args).output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        assert!(code == 0 || code == 2, "{args:?} exited {code}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{args:?}");
    }
}

#[test]
fn list_models_names_architectures_and_presets() {
    tally()
        .args(["list", "models"])
        .assert()
        .success()
        .stdout(predicate::str::contains("cs336-2025").and(predicate::str::contains("gpt2-small")));
}

#[test]
fn output_goes_to_a_file_when_asked() {
    let dir = std::env::temp_dir().join(format!("tally-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("xl.json");
    tally().args(["derive", "--format", "json", "--output"]).arg(&path).assert().success().stdout("");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(doc["model"], "gpt2-xl");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn eight_concurrent_runs_all_succeed_with_identical_clean_json() {
    let bin = assert_cmd::cargo::cargo_bin("tally");
    let children: Vec<_> = (0..8)
        .map(|_| {
            std::process::Command::new(&bin)
                .args(["derive", "--model", "gpt2-xl", "--format", "json"])
                .env_remove("SYMBOLICA_HIDE_BANNER")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    for out in &outputs {
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let _: Value = serde_json::from_slice(&out.stdout).expect("parseable, banner-free stdout");
        assert_eq!(out.stdout, outputs[0].stdout);
    }
}

#[test]
fn every_option_is_in_help_with_its_default() {
    let out = tally().args(["derive", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for (option, default) in [
        ("--format", "text"),
        ("--flops", "matmul"),
        ("--attention-flops", "full"),
        ("--precision", "fp32"),
        ("--layout", "uniform"),
        ("--activations", "cs336"),
        ("--recompute", "none"),
        ("--attention-kernel", "standard"),
        ("--hardware", "a100-80gb"),
        ("--mfu", "0.5"),
        ("--steps", "400000"),
    ] {
        assert!(help.contains(option), "{option} missing from --help");
        assert!(help.contains(&format!("[default: {default}]")), "{option}: default {default} not shown");
    }
    let doc = json(&["derive", "--format", "json"]);
    for key in
        ["flops", "attention_flops", "backward", "precision", "layout", "activations", "recompute", "attention_kernel"]
    {
        assert!(doc["conventions"][key].is_string(), "conventions.{key}");
    }
    for symbol in ["S", "U", "R"] {
        assert!(!doc["bindings"][symbol].is_null(), "bindings.{symbol}");
    }
}

#[test]
fn a_model_file_error_names_its_line_and_column() {
    let dir = std::env::temp_dir().join(format!("tally-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(
        &path,
        "name = \"bad\"\nsummary = \"a model with a typo\"\n\n[[stage]]\nname = \"block\"\n\n[[stage.op]]\nname = \"W\"\nkind = \"linear\"\nin = \"H\"\nout = \"4*Hx\"\n",
    )
    .unwrap();
    tally()
        .args(["derive", "--model"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.toml:11:10").and(predicate::str::contains("unknown symbol `Hx`")));
    std::fs::write(&path, "name = \"bad\"\nsummary = \"s\"\n[[stage]]\nname = \"b\"\n[[stage.op]]\nname = \"n\"\nkind = \"rmsnrm\"\nwidth = \"H\"\n").unwrap();
    tally()
        .args(["derive", "--model"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown op kind `rmsnrm`").and(predicate::str::contains("bad.toml:7:8")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn grouped_query_attention_needs_kv_heads_dividing_heads() {
    tally()
        .args(["derive", "--model", "llama-3-8b", "--set", "K=7"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("num_kv_heads (K) must divide num_heads (A)"));
}

#[test]
fn text_output_fits_the_width_it_is_given() {
    for args in [
        &["derive", "--model", "gpt2-small"][..],
        &["derive", "cs336-2025"],
        &["derive", "--model", "mixtral-8x7b"],
        &["serve", "--model", "llama-3-8b", "--hardware", "h100"],
        &["plan", "--model", "gpt2-xl", "--gpus", "8", "--hardware", "h100", "--seq", "1024", "--global-batch", "64"],
    ] {
        for width in ["100", "140"] {
            let out = tally().args(args).args(["--width", width]).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let text = String::from_utf8(out.stdout).unwrap();
            let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
            assert!(widest <= width.parse::<usize>().unwrap(), "{args:?} at {width}: a line of {widest}");
            // Nothing is lost: every number of the unfitted output is still there.
            let whole = String::from_utf8(tally().args(args).output().unwrap().stdout).unwrap();
            for number in
                whole.split_whitespace().filter(|w| w.len() > 6 && w.chars().all(|c| c.is_ascii_digit() || c == ','))
            {
                assert!(text.contains(number), "{args:?} at {width}: {number} lost");
            }
        }
    }
    let narrow = tally().args(["derive", "--width", "20"]).output().unwrap();
    assert_eq!(narrow.status.code(), Some(2), "a width under 40 is refused");
}

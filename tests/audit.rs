//! `tally audit` on the fixture claims in tests/audit_fixtures/ (one claim per file, optional
//! `# args:` line), each report snapshotted with its exit status; plus claims files, exit codes,
//! and the property that the formula reader never panics.

use assert_cmd::Command;
use predicates::prelude::*;

fn audit(args: &[&str]) -> (String, i32) {
    let out = Command::cargo_bin("tally")
        .unwrap()
        .arg("audit")
        .args(args)
        .env("SYMBOLICA_HIDE_BANNER", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    (String::from_utf8(out.stdout).unwrap(), out.status.code().unwrap_or(-1))
}

#[test]
fn every_fixture_claim_has_a_reviewed_report() {
    insta::glob!("audit_fixtures/*.claim", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let mut args: Vec<String> = Vec::new();
        let mut claim = String::new();
        for line in text.lines() {
            match line.strip_prefix("# args:") {
                Some(a) => args.extend(a.split_whitespace().map(String::from)),
                None => claim = line.to_string(),
            }
        }
        args.push(claim.clone());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (report, code) = audit(&refs);
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        insta::with_settings!({
            snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
            prepend_module_to_snapshot => false,
            snapshot_suffix => "",
            description => claim,
        }, {
            insta::assert_snapshot!(format!("audit_{name}"), format!("exit status {code}\n\n{report}"));
        });
    });
}

#[test]
fn the_founding_bug_is_wrong_by_exactly_four_with_its_cause() {
    let (report, code) = audit(&["memory.params + memory.gradients + memory.optimizer = 16 * total_params * 4"]);
    assert_eq!(code, 1);
    assert!(report.contains("the 4 bytes per element counted twice"), "{report}");
    assert!(report.contains("× 4"), "the caret names the factor: {report}");
    assert!(report.contains("136,131,686,400 bytes"));
    assert!(report.contains("34,032,921,600 bytes"));
    assert!(report.contains("fix: memory.params + memory.gradients + memory.optimizer = 16 * total_params"));
    let (report, code) = audit(&["memory.params + memory.gradients + memory.optimizer = 16 * total_params"]);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn exit_status_is_0_when_all_hold_1_when_one_is_wrong_2_when_one_is_unreadable() {
    assert_eq!(audit(&["params = 2,127,057,600"]).1, 0);
    assert_eq!(audit(&["params = 2,127,057,600", "params = 2"]).1, 1);
    assert_eq!(audit(&["params = 2,127,057,600", "params = 2*(V"]).1, 2);
    Command::cargo_bin("tally")
        .unwrap()
        .args(["audit", "params"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("needs `=`"));
    Command::cargo_bin("tally").unwrap().arg("audit").assert().code(2);
}

#[test]
fn a_claims_file_is_read_and_checked() {
    let dir = std::env::temp_dir().join(format!("tally-claims-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("claims.toml");
    std::fs::write(
        &path,
        r#"model = "gpt2-xl"

[[claim]]
id = "memory"
quantity = "memory.params + memory.gradients + memory.optimizer"
formula = "16 * total_params * 4"

[[claim]]
id = "all-intermediates"
quantity = "memory.activations"
formula = "4*B*T*(L*(12*H + 4*F + 2*A*T) + 2*H + 2*V)"
conventions = { activations = "all" }

[[claim]]
id = "days"
quantity = "time.training"
value = "6,600 days"
tolerance = "1%"
model = "gpt2-xl"
"#,
    )
    .unwrap();
    let out = Command::cargo_bin("tally")
        .unwrap()
        .args(["audit", "--set", "B=1024", "--claims"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("wrong[memory]: wrong: the 4 bytes per element counted twice"), "{text}");
    assert!(text.contains("ok[days]"), "{text}");
    assert!(text.contains("ok[all-intermediates]"), "{text}");
    std::fs::write(&path, "[[claim]]\nid = \"x\"\nquantity = \"params\"\nformla = \"1\"\n").unwrap();
    Command::cargo_bin("tally")
        .unwrap()
        .args(["audit", "--claims"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown field `formla`").and(predicate::str::contains(":4:")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn json_reports_carry_verdicts_spans_and_the_exit_code() {
    let (report, code) = audit(&["--format", "json", "batch.max(80GB) = -3"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["claims"][0]["verdict"], "wrong");
    assert_eq!(v["claims"][0]["findings"][0]["span"], serde_json::json!([18, 20]));
}

#[test]
fn every_quantity_can_be_named_in_a_claim() {
    let out = Command::cargo_bin("tally")
        .unwrap()
        .args(["derive", "--format", "json", "--tokens-per-second", "300"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut claims = vec!["--tokens-per-second".to_string(), "300".to_string()];
    for q in doc["quantities"].as_array().unwrap() {
        let name = q["name"].as_str().unwrap();
        claims.push(format!("{name} = {name}"));
        claims.push(format!("{name} = 2 * {name} + 1"));
    }
    let refs: Vec<&str> = claims.iter().map(String::as_str).collect();
    let (report, code) = audit(&refs);
    assert!(code == 0 || code == 1, "{report}");
    assert!(report.contains(&format!("{} claims", claims.len() - 2)), "{report}");
}

/// Every reading in derivations/readings.toml is exercised by a fixture and named in its report
/// (as the explanation, or among those that also explain the claim).
#[test]
fn every_reading_is_named_by_some_fixture_report() {
    let snapshots = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots")).unwrap();
    let reports: String = snapshots
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("audit_"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    let fixtures = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/audit_fixtures")).unwrap().count();
    assert!(fixtures >= 100, "{fixtures} fixtures");
    for reading in tally::audit::readings::Reading::all(tally::facts::Facts::builtin()) {
        assert!(reports.contains(&format!("`{}`", reading.id)), "no fixture report names `{}`", reading.id);
    }
}

#[test]
fn a_claim_right_under_another_convention_exits_0_unless_strict() {
    let claim = "memory.params = 2 * params";
    let (report, code) = audit(&[claim]);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("holds under another convention: bf16"), "{report}");
    assert!(report.contains("to derive under it: --precision bf16"), "{report}");
    assert_eq!(audit(&["--strict", claim]).1, 1);
}

#[test]
fn claims_come_from_standard_input_with_their_own_bindings_and_conventions() {
    let claims = r#"
[[claim]]
id = "big-batch"
quantity = "memory.total"
value = "531 GB"
set = { B = 32 }

[[claim]]
id = "bf16-params"
quantity = "memory.params"
formula = "2 * params"
conventions = { precision = "bf16", hardware = "h100" }

[[claim]]
id = "steps"
quantity = "time.training"
formula = "S*flops.step/(U*R)"
conventions = { steps = "1000", mfu = "40%" }
"#;
    let out = Command::cargo_bin("tally")
        .unwrap()
        .args(["audit", "--claims", "-"])
        .env("SYMBOLICA_HIDE_BANNER", "1")
        .write_stdin(claims)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    // 32 sequences: 32 × 15,517,753,344 + 34,032,921,600 bytes = 530.6 GB.
    assert!(text.contains("ok[big-batch]"), "{text}");
    assert!(text.contains("ok[bf16-params]"), "{text}");
    assert!(text.contains("ok[steps]"), "{text}");
}

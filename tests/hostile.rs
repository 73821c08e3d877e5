//! Hardening, round two: the reproductions of each class of defect found by a hostile user, as
//! tests — claims whose left side is zero, every output channel failing, `--output` behind links
//! and on devices, imported sizes past every machine integer, unbounded planning and sweeping,
//! impossible layouts, JSON that reads back, and environments that point at other users' files.
//! Each must give exit 2 with a message that points at the culprit, or a correct answer; none
//! may panic, hang or print before failing.

use super::common::{scratch, tally};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs the binary with `args`, stdout and stderr captured; returns (status, stdout, stderr).
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = tally().args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts exit 2, nothing on stdout, a message on stderr with each of `says`, and no panic.
fn refused(args: &[&str], says: &[&str]) {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, Some(2), "{args:?}\nstdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.is_empty(), "{args:?} printed before failing:\n{stdout}");
    assert!(!stderr.contains("panicked"), "{args:?}:\n{stderr}");
    for words in says {
        assert!(stderr.contains(words), "{args:?} should say {words:?}:\n{stderr}");
    }
}

#[test]
fn a_claim_whose_left_side_is_zero_is_refused_not_a_panic() {
    for claim in ["0 = H", "params - params = H", "params*(L-L) = H", "0*memory.total = 16*P"] {
        let (code, stdout, stderr) = run(&["audit", claim]);
        assert_eq!(code, Some(2), "{claim}:\n{stdout}{stderr}");
        assert!(stdout.contains("the left side is zero whatever the sizes"), "{claim}:\n{stdout}");
    }
    for claim in ["flops.step[0] = 59,967 + 18", "flops.step(80GB) = 1", "memory.total(0) = 5"] {
        let (code, stdout, stderr) = run(&["audit", claim]);
        assert_eq!(code, Some(2), "{claim}:\n{stdout}{stderr}");
        assert!(stdout.contains("takes no argument (only batch.max(BUDGET) does)"), "{claim}:\n{stdout}");
        assert!(!stdout.contains("Ebyte"), "{claim}:\n{stdout}");
    }
    // A zero on the right is an ordinary wrong claim.
    let (code, stdout, _) = run(&["audit", "params = 0"]);
    assert_eq!(code, Some(1), "{stdout}");
}

/// Runs the binary with stdout and stderr each either a pipe or `/dev/full`, reading the pipes to
/// the end (or closing them at once); returns the exit status and what stderr said.
fn with_channels(args: &[&str], stdout_full: bool, stderr_full: bool, close_early: bool) -> (Option<i32>, String) {
    let full = || Stdio::from(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap());
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("tally"));
    cmd.args(args).env("SYMBOLICA_HIDE_BANNER", "1").stdin(Stdio::null());
    cmd.stdout(if stdout_full { full() } else { Stdio::piped() });
    cmd.stderr(if stderr_full { full() } else { Stdio::piped() });
    let mut child = cmd.spawn().unwrap();
    if close_early {
        drop(child.stdout.take());
        drop(child.stderr.take());
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn every_output_channel_may_fail_without_a_panic() {
    let commands: [&[&str]; 9] = [
        &["derive", "--model", "gpt2-small"],
        &["derive", "--set", "T=0"],
        &["audit", "params = 2VH"],
        &["audit", "params = ("],
        &["sweep", "--vary", "B=1..5000"],
        &["list", "models"],
        &["completions", "bash"],
        &["--help"],
        &["derive", "--model", "nope"],
    ];
    for args in commands {
        // A closed pipe on both: a quiet end, never a panic (exit 0 when the work itself succeeded).
        let (code, _) = with_channels(args, false, false, true);
        assert!(matches!(code, Some(0..=2)), "{args:?} with closed pipes: {code:?}");
        // stderr a full disk: the exit status still tells.
        let (code, _) = with_channels(args, false, true, false);
        assert!(matches!(code, Some(0..=2)), "{args:?} with stderr full: {code:?}");
        // stdout a full disk: exit 2, said on stderr.
        let (code, stderr) = with_channels(args, true, false, false);
        assert!(matches!(code, Some(1..=2)), "{args:?} with stdout full: {code:?}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        // Both full.
        let (code, _) = with_channels(args, true, true, false);
        assert!(matches!(code, Some(1..=2)), "{args:?} with both full: {code:?}");
    }
    let (code, _) = with_channels(&["derive", "--set", "T=0"], false, true, false);
    assert_eq!(code, Some(2));
}

#[test]
fn output_through_a_link_writes_the_file_it_names_and_keeps_its_mode() {
    let dir = scratch("links");
    let real = dir.join("real.txt");
    let link = dir.join("sym.txt");
    std::fs::write(&real, "old\n").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("real.txt", &link).unwrap();
    let out = tally().args(["derive", "--model", "gpt2-small", "--output"]).arg(&link).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is still a link");
    assert!(std::fs::read_to_string(&real).unwrap().starts_with("tally derive: gpt2-small"));
    assert_eq!(std::fs::metadata(&real).unwrap().mode() & 0o777, 0o640, "the file keeps its mode");

    // A dangling link: the file it names is created, with the umask's mode.
    let dangling = dir.join("dangling.txt");
    std::os::unix::fs::symlink("made.txt", &dangling).unwrap();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 027; SYMBOLICA_HIDE_BANNER=1 exec '{}' derive --model gpt2-small --output '{}'",
            assert_cmd::cargo::cargo_bin("tally").display(),
            dangling.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::metadata(dir.join("made.txt")).unwrap().mode() & 0o777, 0o640, "0666 under umask 027");

    // Devices, directories and hard-linked files are refused, and left as they were.
    let hard = dir.join("hard.txt");
    std::fs::hard_link(&real, &hard).unwrap();
    for (target, says) in [
        ("/dev/null", "a device, FIFO or socket"),
        ("/dev/stdout", "a device, FIFO or socket"),
        (dir.to_str().unwrap(), "a directory"),
        (hard.to_str().unwrap(), "hard links"),
    ] {
        let (code, _, stderr) = run(&["derive", "--model", "gpt2-small", "--output", target]);
        assert_eq!(code, Some(2), "{target}: {stderr}");
        assert!(stderr.contains(says), "{target}: {stderr}");
    }
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(&std::fs::metadata("/dev/null").unwrap().file_type()));
    // `--output /dev/stdout` with stdout a file writes that file through the link chain.
    let file = dir.join("redirected.txt");
    let status = Command::new(assert_cmd::cargo::cargo_bin("tally"))
        .args(["derive", "--model", "gpt2-small", "--output", "/dev/stdout"])
        .env("SYMBOLICA_HIDE_BANNER", "1")
        .stdout(std::fs::File::create(&file).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(std::fs::read_to_string(&file).unwrap().starts_with("tally derive: gpt2-small"));
    assert!(std::fs::symlink_metadata("/dev/stdout").unwrap().file_type().is_symlink(), "/dev/stdout is intact");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_full_disk_under_output_leaves_the_old_file_and_no_temporary() {
    let dir = scratch("full-disk");
    let target = dir.join("report.txt");
    std::fs::write(&target, "the previous report\n").unwrap();
    // A file-size limit of 1 block stands in for a full disk: writes past it fail with EFBIG.
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 1; SYMBOLICA_HIDE_BANNER=1 exec '{}' derive --model gpt2-xl --output '{}'",
            assert_cmd::cargo::cargo_bin("tally").display(),
            target.display()
        ))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(2), "{}", String::from_utf8_lossy(&status.stderr));
    assert!(String::from_utf8_lossy(&status.stderr).contains("cannot write"));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "the previous report\n");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert_eq!(left.len(), 1, "no temporary file is left: {left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A llama config.json with `edits` applied, in a fresh folder.
fn config(dir: &Path, edits: &[(&str, serde_json::Value)]) -> std::path::PathBuf {
    let published = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf/llama-3-8b/config.json");
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(published).unwrap()).unwrap();
    for (key, value) in edits {
        json[*key] = value.clone();
    }
    let path = dir.join("config.json");
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

#[test]
fn imported_sizes_are_bounded_like_set_never_allocated() {
    let dir = scratch("huge-config");
    // 10¹² layers: derived symbolically, as --set L=10¹² is; the count is exact.
    let path = config(&dir, &[("num_hidden_layers", serde_json::json!(1_000_000_000_000u64))]);
    let (code, stdout, stderr) = run(&["derive", "--hf-config", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let with_set = run(&["derive", "--model", "llama-3-8b", "--set", "L=1000000000000", "--format", "json"]).1;
    let set: serde_json::Value = serde_json::from_str(&with_set).unwrap();
    let params = |d: &serde_json::Value| {
        d["quantities"].as_array().unwrap().iter().find(|q| q["name"] == "params").unwrap()["value"].clone()
    };
    assert_eq!(params(&doc), params(&set), "the imported config and --set agree");
    // 2⁶³ layers: past a 64-bit signed integer, written as digits, still exact.
    let path = config(&dir, &[("num_hidden_layers", serde_json::json!(9_223_372_036_854_775_808u64))]);
    let (code, _, stderr) = run(&["derive", "--hf-config", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stdout, stderr) = run(&["import", "--hf-config", path.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("L = \"9223372036854775808\""), "{stdout}");
    // Past u64 a JSON number is not whole: refused, pointing at the key.
    let path = config(&dir, &[("num_hidden_layers", serde_json::json!(1e30))]);
    refused(&["derive", "--hf-config", path.to_str().unwrap()], &["num_hidden_layers", "positive whole number"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn planning_and_sweeping_are_bounded_before_any_work() {
    refused(
        &[
            "plan",
            "--model",
            "gpt2-xl",
            "--hardware",
            "h100",
            "--gpus",
            "1000000000000",
            "--seq",
            "1024",
            "--global-batch",
            "8",
        ],
        &["--gpus", "1 to 1,000,000,000"],
    );
    let (code, stdout, stderr) = run(&[
        "plan",
        "--model",
        "gpt2-xl",
        "--hardware",
        "h100",
        "--gpus",
        "1000000000",
        "--seq",
        "1024",
        "--global-batch",
        "1024",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("tp=10, 16, 20, 25, 32, 40 and 89 more"), "the wide degrees in one row:\n{stdout}");
    refused(&["sweep", "--vary", "B=1..1000000000"], &["1,000,000,000 points; at most 100,000,000"]);
    refused(&["sweep", "--vary", "B=1..100000000000000000000000000000000000000"], &["at most 100,000,000"]);
    refused(&["sweep", "--vary", "B=1", "--vary", "B=2"], &["`B` is varied twice"]);
    refused(&["sweep", "--vary", "B=1", "--vary", "batch_size=2"], &["`B` is varied twice"]);
    refused(&["sweep", "--vary", "precision=fp32", "--vary", "precision=bf16"], &["`precision` is varied twice"]);
    refused(&["sweep", "--set", "B=4", "--vary", "B=1..8"], &["both fixed (--set B=4) and varied"]);
    refused(&["sweep", "--precision", "bf16", "--vary", "precision=fp32,bf16"], &["both given (--precision)"]);
    refused(&["sweep", "--vary", "model=gpt2-small,nope"], &["unknown model `nope`"]);
    refused(&["sweep", "--model", "gpt2-xl", "--vary", "H=1600..1610"], &["head_dim", "at H = 1601"]);
    refused(&["sweep", "--model", "mixtral-8x7b", "--vary", "k=1..9"], &["k is at most E", "at k = 9"]);
}

#[test]
fn impossible_layouts_are_refused_by_every_command() {
    for (layout, says) in [
        ("pp=1000", "48 layers (L) do not split over pp=1000"),
        ("tp=3", "25 attention heads (A) do not split over tp=3"),
        ("cp=100000", "1,024 tokens per sequence (T) do not split over cp=100000"),
        ("dp=8,dp=4", "`dp` is given 2 times"),
    ] {
        refused(&["derive", "--model", "gpt2-xl", "--parallel", layout], &[says]);
        refused(&["sweep", "--model", "gpt2-xl", "--parallel", layout, "--vary", "B=1,2"], &[says]);
        let (code, stdout, _) = run(&["audit", "--model", "gpt2-xl", "--parallel", layout, "params = 1"]);
        assert_eq!(code, Some(2), "{layout}: {stdout}");
    }
    refused(&["plot", "gpu-memory", "--layouts", "dp=2,pp=5"], &["--layouts", "48 layers (L) do not split over pp=5"]);
    refused(
        &["derive", "--model", "mixtral-8x7b", "--set", "k=9"],
        &["k (experts_per_token) = 9 must be at most E (num_experts) = 8"],
    );
    let dir = scratch("experts");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf/mixtral-8x7b-v0.1/config.json");
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["num_experts_per_tok"] = serde_json::json!(9);
    std::fs::write(dir.join("config.json"), json.to_string()).unwrap();
    refused(
        &["derive", "--hf-config", dir.to_str().unwrap()],
        &["`num_experts_per_tok` = 9 is more than `num_local_experts` = 8", "config.json:1:"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn plan_shows_exact_numbers_rounded_once() {
    let (code, stdout, stderr) = run(&[
        "plan",
        "--model",
        "gpt2-xl",
        "--hardware",
        "h100",
        "--gpus",
        "8",
        "--seq",
        "100000000",
        "--global-batch",
        "8",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    // Every byte count comes from exact arithmetic, grouped by thousands: no float noise digits.
    for line in stdout.lines().filter(|l| l.contains("does not fit")) {
        let number = line.split("at least ").nth(1).unwrap().split(" GB").next().unwrap();
        assert!(number.contains(',') && number.ends_with(|c: char| c.is_ascii_digit()), "{line}");
        assert!(!number.replace(',', "").contains("0000000"), "{line}");
    }
}

#[test]
fn every_expression_tally_prints_in_json_reads_back_in_the_audit() {
    let models = run(&["list", "models"]).1;
    let mut checked = 0;
    for name in models.lines().filter_map(|l| l.split_whitespace().next()) {
        let (code, stdout, stderr) = run(&["derive", "--model", name, "--format", "json"]);
        assert_eq!(code, Some(0), "{name}: {stderr}");
        let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let claims: Vec<String> = doc["quantities"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|q| Some(format!("{} = {}", q["name"].as_str()?, q["expr"].as_str()?)))
            .collect();
        let mut args = vec!["audit".to_string(), "--model".into(), name.into()];
        args.extend(claims.iter().cloned());
        let out = tally().args(&args).output().unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{name}: every printed expression holds:\n{report}");
        checked += claims.len();
    }
    assert!(checked > 500, "{checked} expressions");
}

#[test]
fn json_mode_reports_failures_as_json_on_stdout() {
    for args in [
        vec!["derive", "--set", "T=0", "--format", "json"],
        vec!["audit", "--format", "json", "--model", "nope", "params = 1"],
        vec!["sweep", "--format", "json", "--vary", "B=0..3"],
        vec!["plan", "--format", "json", "--gpus", "0", "--seq", "1024", "--global-batch", "8"],
        vec!["plan", "--format", "json", "--gpus", "8"],
    ] {
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, Some(2), "{args:?}");
        let error: serde_json::Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}\n{stdout}"));
        assert_eq!(error["exit_status"], 2);
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            !message.is_empty() && stderr.contains(message.lines().next().unwrap()),
            "{args:?}: {stdout}\n{stderr}"
        );
    }
    // A positioned error keeps its place.
    let (_, stdout, _) = run(&["audit", "--format", "json", "params = ("]);
    assert!(stdout.contains("\"claims\""), "an unreadable claim is part of the audit's own JSON report: {stdout}");
}

#[test]
fn configs_that_turn_sliding_windows_off_import() {
    let dir = scratch("sliding-off");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf");
    for family in ["qwen2-7b", "qwen3-8b", "qwen1.5-moe-a2.7b", "phi-3-mini-4k-instruct", "mistral-7b-v0.1"] {
        for window in [serde_json::Value::Null, serde_json::json!(0)] {
            let text = std::fs::read_to_string(fixtures.join(family).join("config.json")).unwrap();
            let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
            json["sliding_window"] = window.clone();
            json["use_sliding_window"] = serde_json::json!(false);
            std::fs::write(dir.join("config.json"), json.to_string()).unwrap();
            let (code, stdout, stderr) = run(&["import", "--hf-config", dir.to_str().unwrap()]);
            assert_eq!(code, Some(0), "{family} with sliding_window {window}: {stderr}");
            assert!(!stdout.contains("sliding-window block"), "{family}: no layer slides");
        }
    }
    // Gemma 2's layers do slide: a null window is an error that says it is null.
    let text = std::fs::read_to_string(fixtures.join("gemma-2-9b/config.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["sliding_window"] = serde_json::Value::Null;
    std::fs::write(dir.join("config.json"), json.to_string()).unwrap();
    refused(&["import", "--hf-config", dir.to_str().unwrap()], &["`sliding_window` is null", "config.json:1:"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_home_is_never_created_and_another_users_base_is_refused() {
    let missing = std::env::temp_dir().join(format!("tally-no-such-home-{}", std::process::id()));
    let home = missing.join("x");
    let out = tally()
        .args(["derive", "--model", "gpt2-small"])
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_CACHE_HOME")
        .env("HOME", &home)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not create a home"), "{:?}", out);
    assert!(!missing.exists(), "the home directory was not created");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    // As after `sudo -E`: a runtime directory of another (non-root) user, mode 0755.
    let base = scratch("other-users-runtime");
    std::os::unix::fs::chown(&base, Some(12_345), Some(12_345)).unwrap();
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = tally().args(["derive", "--model", "gpt2-small"]).env("XDG_RUNTIME_DIR", &base).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("belongs to uid 12345"), "{:?}", out);
    std::fs::remove_dir_all(&base).unwrap();
}

//! tally used as people use it and attacked on purpose: at a terminal, many runs at once in
//! different environments, other users' tricks on the lock, unusable home directories, hostile
//! inputs of every kind (each must give exit 2 with a message that points at the place, or a
//! correct answer), interrupted writes.

use super::common::{scratch, tally};
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs the binary with stdin, stdout and stderr on a fresh pseudo-terminal, as at a shell
/// prompt; returns the exit code and everything it printed.
fn at_a_terminal(args: &[&str]) -> (Option<i32>, String) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors into the provided integers.
    let status =
        unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(status, 0, "openpty");
    // SAFETY: both descriptors were just opened and are owned here.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("tally"))
        .args(args)
        .env("SYMBOLICA_HIDE_BANNER", "1")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    let mut terminal = std::fs::File::from(master);
    let mut output = Vec::new();
    let mut buffer = [0u8; 65536];
    // Reading the master ends with EIO once the child has closed the terminal.
    while let Ok(n) = terminal.read(&mut buffer) {
        if n == 0 {
            break;
        }
        output.extend_from_slice(&buffer[..n]);
    }
    let code = child.wait().unwrap().code();
    (code, String::from_utf8_lossy(&output).into_owned())
}

#[test]
fn derive_audit_and_answer_sheets_work_at_a_terminal() {
    for (args, expected, code) in [
        (vec!["derive", "--model", "gpt2-small"], "2BT[L(2TH + 4H² + 3HF) + VH]", 0),
        (vec!["derive", "cs336-2025"], "AdamW accounting (d)", 0),
        (vec!["derive", "--model", "llama-3-8b", "--format", "latex"], "\\section*", 0),
        (
            vec!["audit", "memory.params + memory.gradients + memory.optimizer = 16 * total_params * 4"],
            "counted twice",
            1,
        ),
        (vec!["audit", "params = 2VH + L(16H² + 2H) + H"], "holds", 0),
    ] {
        let (status, output) = at_a_terminal(&args);
        assert_eq!(status, Some(code), "{args:?}:\n{output}");
        assert!(output.contains(expected), "{args:?}:\n{output}");
        assert!(!output.contains("panicked"), "{args:?}:\n{output}");
    }
}

#[test]
fn sixteen_runs_at_once_in_mixed_environments_never_abort_and_agree() {
    let cwd = scratch("elsewhere");
    let other_tmp = scratch("other-tmp");
    let mut outputs = Vec::new();
    for _round in 0..10 {
        let children: Vec<_> = (0..16)
            .map(|i| {
                let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("tally"));
                cmd.args(["derive", "--model", "gpt2-small", "--format", "json"]);
                cmd.env_remove("SYMBOLICA_HIDE_BANNER").stdout(Stdio::piped()).stderr(Stdio::null());
                match i % 4 {
                    0 => cmd.env("TMPDIR", &other_tmp),
                    1 => cmd.env("TMPDIR", ""),
                    2 => cmd.current_dir(&cwd),
                    _ => &mut cmd,
                };
                cmd.spawn().unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(0), "a run aborted or failed: {:?}", out.status);
            outputs.push(out.stdout);
        }
    }
    assert!(outputs.windows(2).all(|w| w[0] == w[1]), "every run prints the same JSON");
    serde_json::from_slice::<serde_json::Value>(&outputs[0]).expect("clean JSON on stdout");
    std::fs::remove_dir_all(&cwd).unwrap();
    std::fs::remove_dir_all(&other_tmp).unwrap();
}

/// A private runtime directory for one test, so the lock it plays with is its own.
fn runtime_dir(label: &str) -> std::path::PathBuf {
    let dir = scratch(label);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn derive_with_runtime(dir: &Path, extra: &[&str]) -> std::process::Output {
    tally()
        .args(["derive", "--model", "gpt2-small", "--format", "json"])
        .args(extra)
        .env("XDG_RUNTIME_DIR", dir)
        .output()
        .unwrap()
}

fn locks_dir(runtime: &Path) -> std::path::PathBuf {
    let locks = runtime.join("symbolica").join("locks");
    std::fs::create_dir_all(&locks).unwrap();
    for d in [runtime.join("symbolica"), locks.clone()] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    locks
}

#[test]
fn the_lock_lives_beside_symbolicas_permit_in_a_private_directory() {
    let runtime = runtime_dir("lock-place");
    let out = derive_with_runtime(&runtime, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let locks = runtime.join("symbolica").join("locks");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&locks), 0o700);
    assert_eq!(mode(&locks.join("tally.lock")), 0o600);
    std::fs::remove_dir_all(&runtime).unwrap();
}

#[test]
fn a_symlinked_lock_file_is_refused_not_followed() {
    let runtime = runtime_dir("lock-symlink");
    let locks = locks_dir(&runtime);
    let target = runtime.join("someone-elses-file");
    std::fs::write(&target, "keep me").unwrap();
    std::os::unix::fs::symlink(&target, locks.join("tally.lock")).unwrap();
    let out = derive_with_runtime(&runtime, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("symbolic link") && stderr.contains("tally.lock"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    std::fs::remove_dir_all(&runtime).unwrap();
}

#[test]
fn a_lock_file_or_directory_of_another_owner_is_refused() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("not root: the wrong-owner case needs chown; CI runs it as root");
        return;
    }
    let runtime = runtime_dir("lock-owner");
    let locks = locks_dir(&runtime);
    let lock = locks.join("tally.lock");
    std::fs::write(&lock, "").unwrap();
    std::os::unix::fs::chown(&lock, Some(65534), Some(65534)).unwrap();
    let out = derive_with_runtime(&runtime, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("belongs to uid 65534"));
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::chown(&locks, Some(65534), Some(65534)).unwrap();
    let out = derive_with_runtime(&runtime, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("belongs to uid 65534"));
    std::fs::remove_dir_all(&runtime).unwrap();
}

#[test]
fn a_lock_directory_others_can_write_is_refused() {
    let runtime = runtime_dir("lock-mode");
    let locks = locks_dir(&runtime);
    std::fs::set_permissions(&locks, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = derive_with_runtime(&runtime, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("other users can write"));
    std::fs::remove_dir_all(&runtime).unwrap();
}

#[test]
fn a_held_lock_makes_a_run_wait_say_so_and_give_up_at_its_timeout() {
    let runtime = runtime_dir("lock-held");
    let locks = locks_dir(&runtime);
    let lock_path = locks.join("tally.lock");
    let holder = std::fs::OpenOptions::new().create(true).truncate(true).write(true).open(&lock_path).unwrap();
    std::fs::set_permissions(&lock_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&lock_path, std::process::id().to_string()).unwrap();
    holder.lock().unwrap();
    let out = derive_with_runtime(&runtime, &["--wait-timeout", "1.5"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let pid = format!("(pid {})", std::process::id());
    assert!(stderr.contains("waiting for another tally run") && stderr.contains(&pid), "{stderr}");
    assert!(stderr.contains("gave up after"), "{stderr}");
    holder.unlock().unwrap();
    let out = derive_with_runtime(&runtime, &["--wait-timeout", "1.5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&runtime).unwrap();
}

#[test]
fn an_unusable_home_gives_exit_2_and_a_message_never_an_abort() {
    for (variable, value) in [("HOME", "/proc"), ("XDG_CACHE_HOME", "/dev/null"), ("HOME", "relative/home")] {
        let out = tally()
            .args(["derive", "--model", "gpt2-small"])
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("XDG_CACHE_HOME")
            .env(variable, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{variable}={value}: {:?}", out.status);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("symbolica's per-user permit"), "{variable}={value}: {stderr}");
    }
    let out = tally()
        .args(["derive", "--model", "gpt2-small"])
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("HOME")
        .output()
        .unwrap();
    assert!(out.status.success(), "an unset HOME falls back to the account's home directory");
}

/// One hostile input: the arguments, and what the message must say (the exit status is 2).
struct Hostile {
    args: Vec<String>,
    says: Vec<&'static str>,
}

fn hostile(args: &[&str], says: &[&'static str]) -> Hostile {
    Hostile { args: args.iter().map(|a| a.to_string()).collect(), says: says.to_vec() }
}

#[test]
fn hostile_command_lines_exit_2_with_a_message_that_names_the_culprit() {
    let cases = [
        hostile(&["audit", "params = 1/(H-H)"], &["division by zero", "claim c1:1:10", "───┬───"]),
        hostile(&["audit", "params = 0^-1"], &["division by zero"]),
        hostile(&["audit", "params = H^64*H"], &["power 65"]),
        hostile(&["audit", "params = H^33*H^32"], &["power 65"]),
        hostile(&["audit", "params = H⁶⁵"], &["exponent", "from -64 to 64"]),
        hostile(&["audit", "params = H⁹⁹⁹⁹⁹⁹⁹"], &["exponent"]),
        hostile(&["audit", "params = (H+L+V+T+A+1)^40"], &["terms", "stops at"]),
        hostile(&["audit", "flops = 4.5e12"], &["is a unit, not a quantity"]),
        hostile(&["derive", "--set", "U=2"], &["U (mfu) must be at most 1"]),
        hostile(&["derive", "--set", "K=5"], &["K (num_kv_heads) is not used by cs336-2025"]),
        hostile(&["derive", "--set", "M=2048"], &["M (n_positions) is not used"]),
        hostile(&["derive", "--model", "llama-3-8b", "--set", "K=7"], &["A/K = 32/7", "llama.toml:", "must divide"]),
        hostile(&["derive", "--set", "L=1,2"], &["`1,2` is not a number"]),
        hostile(&["derive", "--memory", "80"], &["no unit", "80GB", "80GiB"]),
        hostile(&["derive", "--memory", "80", "GB"], &["no unit"]),
        hostile(&["derive", "cs336-2025", "--model", "gpt2-small"], &["two models given"]),
        hostile(&["derive", "cs336-2025", "--memory", "40GB"], &["--memory cannot be used with the answer sheet"]),
        hostile(&["derive", "cs336-2025", "--precision", "bf16", "--hardware", "h100"], &["--precision, --hardware"]),
        hostile(&["derive", "--model", "gpt2-xk"], &["did you mean `gpt2-xl`"]),
        hostile(&["derive", "--hardware", "h100x"], &["unknown hardware", "h100-sxm"]),
        hostile(&["derive", "--model", "/dev/zero"], &["not a regular file"]),
        hostile(&["derive", "--wait-timeout", "-1"], &["--wait-timeout"]),
        hostile(&["derive", "--model", "\u{1b}[31mred"], &["unknown model", "\u{fffd}[31mred"]),
    ];
    for case in cases {
        let out = tally().args(&case.args).output().unwrap();
        // The audit reports unreadable claims in its report on stdout; everything else on stderr.
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned() + String::from_utf8_lossy(&out.stdout).as_ref();
        assert_eq!(out.status.code(), Some(2), "{:?}\n{stderr}", case.args);
        assert!(!stderr.contains("panicked") && !stderr.contains('\u{1b}'), "{:?}\n{stderr}", case.args);
        for words in &case.says {
            assert!(stderr.contains(words), "{:?} should say {words:?}:\n{stderr}", case.args);
        }
    }
}

/// A small model file with `(placeholder, text)` substitutions applied.
fn model_file(dir: &Path, name: &str, edits: &[(&str, &str)]) -> std::path::PathBuf {
    let mut text = String::from(
        "name = \"tiny\"\nsummary = \"a tiny model\"\n[defaults]\nV = 97\nT = 16\nB = 1\nL = 2\nH = 64\nA = 4\n\
         [relations]\nF = \"4*H\"\n[[stage]]\nname = \"embedding\"\n[[stage.op]]\nname = \"emb\"\nkind = \"embedding\"\n\
         rows = \"V\"\nwidth = \"H\"\n[[stage]]\nname = \"block\"\nrepeat = \"REPEAT\"\n[[stage.op]]\nname = \"W_K\"\n\
         kind = \"linear\"\nin = \"H\"\nout = \"OUT\"\nkv_cache = \"KV\"\nsaved = \"cs336\"\n",
    );
    for (placeholder, value) in [("REPEAT", "L"), ("OUT", "H"), ("KV", "H")] {
        let value = edits.iter().find(|(p, _)| *p == placeholder).map(|(_, v)| *v).unwrap_or(value);
        text = text.replace(placeholder, value);
    }
    for (from, to) in edits.iter().filter(|(p, _)| !["REPEAT", "OUT", "KV"].contains(p)) {
        text = text.replace(from, to);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Text replacements applied to the small model file.
type Edits<'a> = Vec<(&'a str, &'a str)>;

#[test]
fn hostile_model_files_exit_2_pointing_at_the_line_and_column() {
    let dir = scratch("hostile-models");
    let cases: Vec<(Edits, Vec<&str>)> = vec![
        (vec![("REPEAT", "-L")], vec!["repeat: −L = -2", ":21:10", "positive whole number of times"]),
        (vec![("REPEAT", "L/3")], vec!["repeat: L/3 = 2/3", ":21:10"]),
        (vec![("KV", "-H")], vec!["kv_cache: −H = -64", ":27:12"]),
        (vec![("KV", "H/(H-H)")], vec!["kv_cache", "denominator is zero", ":27:12"]),
        (vec![("OUT", "H/(H-64)")], vec!["out", "denominator is zero", ":26:7"]),
        (vec![("OUT", "Q")], vec!["unknown symbol `Q`", ":26:8"]),
        (vec![("OUT", "H^33*H^32")], vec!["out", "powers up to 8", ":26:7"]),
        (vec![("OUT", "16*K")], vec!["needs K (num_kv_heads)", ":26:7"]),
        (vec![("F = \"4*H\"", "F = \"4*H\"\nK = \"G\"")], vec!["unknown symbol `G`"]),
        (
            vec![("A = 4\n", ""), ("F = \"4*H\"", "F = \"4*H\"\nA = \"K\"\nK = \"A\""), ("OUT", "16*A")],
            vec!["relation A = K cannot be worked out"],
        ),
        (vec![("name = \"tiny\"", "name = \"ti\\u001bny\"")], vec![]),
        (vec![("L = 2", "L = -2")], vec!["`L` must be a positive whole number", ":7:5"]),
        (vec![("kind = \"linear\"", "kind = \"lineaar\"")], vec!["unknown op kind `lineaar`"]),
        (vec![("[defaults]", "[defaults\n")], vec![":3:"]),
    ];
    for (i, (edits, says)) in cases.into_iter().enumerate() {
        let path = model_file(&dir, &format!("m{i}.toml"), &edits);
        let out = tally().args(["derive"]).arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked") && !stderr.contains('\u{1b}'), "{edits:?}\n{stderr}");
        if says.is_empty() {
            continue;
        }
        assert_eq!(out.status.code(), Some(2), "{edits:?}\n{stderr}");
        for words in says {
            assert!(stderr.contains(words), "{edits:?} should say {words:?}:\n{stderr}");
        }
    }
    // Relations resolve in any order: A = K with K = H/16 gives A = K = 4.
    let path = model_file(
        &dir,
        "order.toml",
        &[("A = 4\n", ""), ("F = \"4*H\"", "F = \"4*H\"\nA = \"K\"\nK = \"H/16\""), ("OUT", "16*A")],
    );
    let out = tally().args(["derive", "--format", "json"]).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((doc["bindings"]["A"].clone(), doc["bindings"]["K"].clone()), (4.into(), 4.into()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn output_is_written_atomically_and_never_over_an_input() {
    let dir = scratch("atomic");
    let model = model_file(&dir, "m.toml", &[]);
    let out = tally().args(["derive"]).arg(&model).arg("--output").arg(&model).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the input"));
    assert!(std::fs::read_to_string(&model).unwrap().starts_with("name = \"tiny\""), "the model file is untouched");

    let target = dir.join("report.txt");
    std::fs::write(&target, "the previous report\n").unwrap();
    let complete = tally().args(["derive", "--model", "gpt2-xl"]).output().unwrap().stdout;
    // Killed at every moment of its run, a write leaves either the old file or the whole new one.
    for delay_ms in (0..60).step_by(3) {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("tally"))
            .args(["derive", "--model", "gpt2-xl", "--output"])
            .arg(&target)
            .env("SYMBOLICA_HIDE_BANNER", "1")
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let now = std::fs::read(&target).unwrap();
        assert!(now == b"the previous report\n" || now == complete, "a partial file after a kill at {delay_ms} ms");
        std::fs::write(&target, "the previous report\n").unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_model_of_ten_thousand_ops_derives_and_its_parameters_add_up() {
    let dir = scratch("big-model");
    let kinds = [
        ("linear", "in = \"H\"\nout = \"H\""),
        ("rmsnorm", "width = \"H\""),
        ("linear", "in = \"H\"\nout = \"F\""),
        ("activation", "function = \"silu\"\nwidth = \"F\""),
        ("linear", "in = \"F\"\nout = \"H\""),
        ("residual_add", "width = \"H\""),
    ];
    let mut text = String::from(
        "name = \"big\"\nsummary = \"10,000 ops\"\n[defaults]\nV = 1000\nT = 128\nB = 1\nL = 2\nH = 64\nA = 4\n\
         [relations]\nF = \"4*H\"\n[[stage]]\nname = \"block\"\nrepeat = \"L\"\n",
    );
    for i in 0..10_000 {
        let (kind, fields) = kinds[i % kinds.len()];
        text.push_str(&format!("[[stage.op]]\nname = \"op{i}\"\nkind = \"{kind}\"\n{fields}\nsaved = \"cs336\"\n"));
    }
    let path = dir.join("big.toml");
    std::fs::write(&path, text).unwrap();
    let out = tally().arg("derive").arg(&path).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let params = doc["quantities"].as_array().unwrap().iter().find(|q| q["name"] == "params").unwrap();
    // Six ops hold H² + H + 2HF parameters; 10,000 ops are 1,666 such runs and four more ops
    // (H² + H + HF); the block runs L = 2 times. H = 64, F = 256.
    let (h, f) = (64i64, 256i64);
    let expected = 2 * (1666 * (h * h + h + 2 * h * f) + h * h + h + h * f);
    assert_eq!(params["value"], expected.to_string());
    std::fs::remove_dir_all(&dir).unwrap();
}

//! What the test modules share: running the binary, and snapshots under `snapshots/`.

use assert_cmd::Command;

/// The `tally` binary with symbolica's banner hidden (tests that check the banner unset it).
pub fn tally() -> Command {
    let mut cmd = Command::cargo_bin("tally").expect("the tally binary is built");
    cmd.env("SYMBOLICA_HIDE_BANNER", "1");
    cmd
}

/// Asserts `output` against the reviewed snapshot `name` in the top-level `snapshots/` folder.
pub fn snapshot(name: &str, output: &str) {
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(name, output);
    });
}

/// A fresh empty directory for one test, removed by the caller when done.
pub fn scratch(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tally-test-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

//! The README's examples are real: each block marked `<!-- README example: ARGS -->` must equal the
//! output of `tally ARGS`, byte for byte.

use assert_cmd::Command;

#[test]
fn every_readme_example_is_the_real_output() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let marker = "<!-- README example: ";
    let mut checked = 0;
    for (i, _) in readme.match_indices(marker) {
        let rest = &readme[i + marker.len()..];
        let args_end = rest.find(" -->").expect("marker closes");
        let args = shell_words(&rest[..args_end]);
        let fence = rest.find("```text\n").expect("a text block follows the marker") + "```text\n".len();
        let body_end = rest[fence..].find("```").expect("the block closes");
        let shown = &rest[fence..fence + body_end];
        let out = Command::cargo_bin("tally").unwrap().args(&args).env("SYMBOLICA_HIDE_BANNER", "1").output().unwrap();
        // An audit that finds a wrong claim exits 1 by design; anything else must succeed.
        let expected = if args.first().map(String::as_str) == Some("audit") { vec![0, 1] } else { vec![0] };
        assert!(expected.contains(&out.status.code().unwrap_or(-1)), "tally {args:?}");
        assert_eq!(shown, String::from_utf8(out.stdout).unwrap(), "README example `tally {}`", args.join(" "));
        checked += 1;
    }
    assert!(checked >= 2, "the README shows at least two examples");
}

#[test]
fn the_model_file_in_the_readme_derives() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("<!-- README model file -->").expect("the README shows a model file");
    let body = &readme[start..];
    let toml_start = body.find("```toml\n").unwrap() + "```toml\n".len();
    let toml_end = body[toml_start..].find("```").unwrap();
    let dir = std::env::temp_dir().join(format!("tally-readme-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tiny.toml");
    std::fs::write(&path, &body[toml_start..toml_start + toml_end]).unwrap();
    let out =
        Command::cargo_bin("tally").unwrap().arg("derive").arg(&path).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // 2 layers of width 256 with biases: V·H + L(12H² + 13H) + 2H + H·V + V... counted by hand:
    // embedding 4096·256, per layer 2·256 + (256·768 + 768) + (256·256 + 256) + (256·1024 + 1024) + (1024·256 + 256),
    // final LayerNorm 2·256, untied head 256·4096.
    let per_layer = 512 + (256 * 768 + 768) + (256 * 256 + 256) + (256 * 1024 + 1024) + (1024 * 256 + 256);
    let expected = 4096 * 256 + 2 * per_layer + 512 + 256 * 4096;
    let params = doc["quantities"].as_array().unwrap().iter().find(|q| q["name"] == "params").unwrap();
    assert_eq!(params["value"], expected.to_string());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Splits `a "b c" d` into `a`, `b c`, `d` (double quotes only, as the README writes them).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    words.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            c => {
                current.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(current);
    }
    words
}

#[test]
fn the_library_example_in_the_readme_is_the_session_doctest() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let start = readme.find("```rust\n").expect("the README shows the library") + "```rust\n".len();
    let shown = &readme[start..start + readme[start..].find("```").unwrap()];
    let session = std::fs::read_to_string(format!("{root}/src/session.rs")).unwrap();
    // The module documentation's example, without the `//! ` prefixes.
    let docs: String = session
        .lines()
        .map_while(|l| l.strip_prefix("//!"))
        .map(|l| format!("{}\n", l.strip_prefix(' ').unwrap_or(l)))
        .collect();
    let start = docs.find("```\n").expect("the doctest") + "```\n".len();
    let doctest = &docs[start..start + docs[start..].find("```").unwrap()];
    assert_eq!(shown, doctest, "README.md's library example differs from src/session.rs's doctest");
}

//! The README and the guide in `docs/` are real: each block marked `<!-- README example: ARGS -->`
//! in README.md or any `docs/*.md` must equal the output of `tally ARGS`, byte for byte; the model
//! file they show derives, the library example is the session's doctest, every relative link and
//! anchor resolves, and the README stays a front door.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// README.md first, then every `docs/*.md` in name order, as (path from the root, text).
fn pages() -> Vec<(String, String)> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut names: Vec<String> = std::fs::read_dir(format!("{root}/docs"))
        .expect("the guide lives in docs/")
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    names.sort();
    names.insert(0, "README.md".to_string());
    names
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(format!("{root}/{name}")).unwrap();
            (name, text)
        })
        .collect()
}

#[test]
fn every_example_is_the_real_output() {
    let marker = "<!-- README example: ";
    let mut in_readme = 0;
    let mut in_guide = 0;
    for (page, text) in pages() {
        for (i, _) in text.match_indices(marker) {
            let rest = &text[i + marker.len()..];
            let args_end = rest.find(" -->").expect("marker closes");
            let args = shell_words(&rest[..args_end]);
            let fence = rest.find("```text\n").expect("a text block follows the marker") + "```text\n".len();
            let body_end = rest[fence..].find("```").expect("the block closes");
            let shown = &rest[fence..fence + body_end];
            let out =
                Command::cargo_bin("tally").unwrap().args(&args).env("SYMBOLICA_HIDE_BANNER", "1").output().unwrap();
            // An audit that finds a wrong claim exits 1 by design; anything else must succeed.
            let expected = if args.first().map(String::as_str) == Some("audit") { vec![0, 1] } else { vec![0] };
            assert!(expected.contains(&out.status.code().unwrap_or(-1)), "{page}: tally {args:?}");
            assert_eq!(shown, String::from_utf8(out.stdout).unwrap(), "{page}: example `tally {}`", args.join(" "));
            if page == "README.md" {
                in_readme += 1;
            } else {
                in_guide += 1;
            }
        }
    }
    assert!(in_readme >= 3, "the README shows three examples, found {in_readme}");
    assert!(
        in_readme + in_guide >= 12,
        "the README and the guide show at least 12 examples, found {}",
        in_readme + in_guide
    );
    // The twelve examples the README held before the guide existed are all in the guide now.
    assert!(in_guide >= 12, "the guide keeps every example it took from the README, found {in_guide}");
}

/// The first page (README first, then the guide) that holds `needle`, and the text from there on.
fn first_page_with(needle: &str) -> (String, String) {
    pages()
        .into_iter()
        .find_map(|(page, text)| text.find(needle).map(|i| (page, text[i..].to_string())))
        .unwrap_or_else(|| panic!("neither the README nor the guide shows `{needle}`"))
}

#[test]
fn the_model_file_in_the_docs_derives() {
    let (page, body) = first_page_with("<!-- README model file -->");
    let toml_start = body.find("```toml\n").unwrap() + "```toml\n".len();
    let toml_end = body[toml_start..].find("```").unwrap();
    let dir = std::env::temp_dir().join(format!("tally-readme-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tiny.toml");
    std::fs::write(&path, &body[toml_start..toml_start + toml_end]).unwrap();
    let out =
        Command::cargo_bin("tally").unwrap().arg("derive").arg(&path).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{page}: {}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // 2 layers of width 256 with biases: V·H + L(12H² + 13H) + 2H + H·V + V... counted by hand:
    // embedding 4096·256, per layer 2·256 + (256·768 + 768) + (256·256 + 256) + (256·1024 + 1024) + (1024·256 + 256),
    // final LayerNorm 2·256, untied head 256·4096.
    let per_layer = 512 + (256 * 768 + 768) + (256 * 256 + 256) + (256 * 1024 + 1024) + (1024 * 256 + 256);
    let expected = 4096 * 256 + 2 * per_layer + 512 + 256 * 4096;
    let params = doc["quantities"].as_array().unwrap().iter().find(|q| q["name"] == "params").unwrap();
    assert_eq!(params["value"], expected.to_string(), "{page}: the model file's parameters");
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
fn the_library_example_in_the_docs_is_the_session_doctest() {
    let root = env!("CARGO_MANIFEST_DIR");
    let (page, body) = first_page_with("```rust\n");
    let start = "```rust\n".len();
    let shown = &body[start..start + body[start..].find("```").unwrap()];
    let session = std::fs::read_to_string(format!("{root}/src/session.rs")).unwrap();
    // The module documentation's example, without the `//! ` prefixes.
    let docs: String = session
        .lines()
        .map_while(|l| l.strip_prefix("//!"))
        .map(|l| format!("{}\n", l.strip_prefix(' ').unwrap_or(l)))
        .collect();
    let start = docs.find("```\n").expect("the doctest") + "```\n".len();
    let doctest = &docs[start..start + docs[start..].find("```").unwrap()];
    assert_eq!(shown, doctest, "{page}'s library example differs from src/session.rs's doctest");
}

#[test]
fn the_readme_is_a_front_door() {
    let readme = &pages()[0].1;
    let lines = readme.lines().count();
    assert!(lines <= 250, "README.md has {lines} lines; the rest belongs in the guide (docs/)");
}

/// The lines of a Markdown page outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            lines.push(line);
        }
    }
    lines
}

/// The anchors GitHub gives a page's headings: lowercase, punctuation dropped except `-` and `_`,
/// spaces turned into `-`; a repeated heading gets `-1`, `-2`, … appended.
fn anchors(text: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut repeats = std::collections::HashMap::new();
    for line in prose(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let slug: String = line[hashes..]
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let n = repeats.entry(slug.clone()).or_insert(0);
        seen.push(if *n == 0 { slug } else { format!("{slug}-{n}") });
        *n += 1;
    }
    seen
}

/// Every `](target)` of a page's prose (links and images), inline code taken out first.
fn link_targets(text: &str) -> Vec<String> {
    // Code spans (which may run over a line break) are dropped, keeping what is between them.
    let prose = prose(text).join("\n");
    let outside = prose.split('`').step_by(2).collect::<Vec<_>>().join(" ");
    let mut targets = Vec::new();
    let mut rest = outside.as_str();
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        let end = after.find(')').expect("a link closes");
        targets.push(after[..end].to_string());
        rest = &after[end..];
    }
    targets
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for (page, text) in pages() {
        let dir = Path::new(&page).parent().unwrap_or(Path::new("")).to_path_buf();
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let file: PathBuf = if path.is_empty() { root.join(&page) } else { root.join(&dir).join(path) };
            assert!(file.exists(), "{page}: the link `{target}` points to {}, which does not exist", file.display());
            if let Some(anchor) = anchor {
                let target_text = std::fs::read_to_string(&file)
                    .unwrap_or_else(|_| panic!("{page}: `{target}` has an anchor but is not a text file"));
                let known = anchors(&target_text);
                assert!(
                    known.iter().any(|a| a == anchor),
                    "{page}: the link `{target}` names #{anchor}, which is no heading of {}; its anchors: {known:?}",
                    file.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "the README and the guide link their pages, found {checked} links");
}

#[test]
fn anchors_follow_github() {
    let page = "# Output formats: HTML, LaTeX, charts in reports\n## Charts: `tally plot`\n```sh\n# not a heading\n```\n## Notes\n## Notes\n";
    assert_eq!(anchors(page), ["output-formats-html-latex-charts-in-reports", "charts-tally-plot", "notes", "notes-1"]);
    assert_eq!(link_targets("see [a](x.md#y), `[b](no.md)` and ![c](plots/z.svg)"), ["x.md#y", "plots/z.svg"]);
}

//! The house keeps its shape: every import between tally's top-level modules points down the
//! floors of `tests/house.toml`, no files of one room import each other in a circle, the command
//! line speaks to the library only through the door, and no source file outgrows the limit.
//! Paths are read from the text (`crate::room::…`, `tally::room::…`, `super::sibling`), as
//! `../shared/tools/modgraph.py` reads them, so a doc comment naming a module above counts too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(serde::Deserialize)]
struct House {
    floors: Vec<String>,
    cli: Vec<String>,
    max_lines: usize,
}

fn house() -> House {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/house.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

fn sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push((path.clone(), std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out
}

/// The source without its unit tests, which may reach anywhere.
fn without_tests(text: &str) -> &str {
    let mut at = 0;
    while let Some(i) = text[at..].find("#[cfg(test)]") {
        let rest = text[at + i + "#[cfg(test)]".len()..].trim_start();
        if rest.starts_with("mod tests") {
            return &text[..at + i];
        }
        at += i + 1;
    }
    text
}

/// The path of `file` inside `src/`, as components (`["audit", "explain.rs"]`).
fn inside_src(file: &Path) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    file.strip_prefix(&src).unwrap().iter().map(|c| c.to_string_lossy().into_owned()).collect()
}

/// The top-level module a file belongs to (`audit` for `src/audit/explain.rs`).
fn room(file: &Path) -> String {
    inside_src(file)[0].trim_end_matches(".rs").to_string()
}

/// Identifiers that follow `prefix` in `text` (`crate::` → `audit`, `dim`, …).
fn after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .filter(|(i, _)| !text[..*i].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        .map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            &rest[..rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len())]
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Every top-level module each room names, with the files that name it.
fn room_edges() -> BTreeMap<(String, String), Vec<String>> {
    let mut edges: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (file, text) in sources() {
        let from = room(&file);
        if ["main", "lib", "macros"].contains(&from.as_str()) {
            continue;
        }
        let text = without_tests(&text);
        let mut named: BTreeSet<&str> = BTreeSet::new();
        for prefix in ["crate::", "tally::"] {
            named.extend(after(text, prefix));
            // `use crate::{a::X, b::Y}`
            for (i, _) in text.match_indices(&format!("{prefix}{{")) {
                let group = &text[i + prefix.len() + 1..];
                let group = &group[..group.find(';').unwrap_or(group.len())];
                for part in group.split([',', '{']) {
                    if let Some((head, _)) = part.trim().split_once("::") {
                        named.insert(head.trim());
                    }
                }
            }
        }
        for to in named {
            if to != from && !to.is_empty() {
                edges.entry((from.clone(), to.to_string())).or_default().push(inside_src(&file).join("/"));
            }
        }
    }
    edges
}

#[test]
fn every_import_points_down_the_floors() {
    let house = house();
    let floor = |m: &str| house.floors.iter().position(|f| f == m);
    let mut upward = Vec::new();
    let mut unplaced = BTreeSet::new();
    for ((from, to), files) in room_edges() {
        match (floor(&from), floor(&to)) {
            (Some(a), Some(b)) if b > a => upward.push(format!("{from} → {to} ({})", files.join(", "))),
            (None, _) => drop(unplaced.insert(from)),
            (_, None) => drop(unplaced.insert(to)),
            _ => {}
        }
    }
    assert!(unplaced.is_empty(), "modules without a floor in tests/house.toml: {unplaced:?}");
    assert!(upward.is_empty(), "imports that point up:\n  {}", upward.join("\n  "));
}

#[test]
fn the_command_line_speaks_through_the_door() {
    let house = house();
    let reached: Vec<String> = room_edges()
        .into_keys()
        .filter(|(from, to)| from == "cli" && !house.cli.contains(to))
        .map(|(_, to)| to)
        .collect();
    assert!(reached.is_empty(), "src/cli reaches past the session into {reached:?}");
}

/// Within a room, the files that name each other: `super::sibling` or `crate::room::sibling`
/// from a file beside it. The room's own `mod.rs` (or `room.rs`) is its door and not counted.
#[test]
fn no_files_of_a_room_import_each_other_in_a_circle() {
    let files = sources();
    // Directory → the module files in it (by stem), without the door.
    let mut rooms: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    for (file, _) in &files {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        if stem != "mod" && file.parent().unwrap() != Path::new(env!("CARGO_MANIFEST_DIR")).join("src") {
            rooms.entry(file.parent().unwrap().to_path_buf()).or_default().insert(stem);
        }
    }
    let mut circles = Vec::new();
    for (dir, stems) in &rooms {
        let module: Vec<String> = inside_src(&dir.join("x"))[..inside_src(&dir.join("x")).len() - 1].to_vec();
        let crate_path = format!("crate::{}::", module.join("::"));
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (file, text) in &files {
            if file.parent() != Some(dir) {
                continue;
            }
            let from = file.file_stem().unwrap().to_string_lossy().into_owned();
            if from == "mod" {
                continue;
            }
            let text = without_tests(text);
            let mut named: BTreeSet<&str> = after(text, "super::").into_iter().collect();
            named.extend(after(text, &crate_path));
            for (i, _) in text.match_indices("super::{") {
                let group = &text[i + "super::{".len()..];
                let group = &group[..group.find(';').unwrap_or(group.len())];
                named.extend(group.split([',', '{', '}']).map(|p| p.trim().split("::").next().unwrap().trim()));
            }
            for to in named {
                if to != from && stems.contains(to) {
                    edges.entry(from.clone()).or_default().insert(to.to_string());
                }
            }
        }
        // A circle is an edge whose target reaches back to its source.
        let reaches = |start: &str, goal: &str| {
            let mut seen = BTreeSet::new();
            let mut stack = vec![start.to_string()];
            while let Some(at) = stack.pop() {
                if at == goal {
                    return true;
                }
                if seen.insert(at.clone()) {
                    stack.extend(edges.get(&at).into_iter().flatten().cloned());
                }
            }
            false
        };
        for (from, tos) in &edges {
            for to in tos {
                if reaches(to, from) {
                    circles.push(format!("src/{}: {from} ↔ {to}", module.join("/")));
                }
            }
        }
    }
    assert!(circles.is_empty(), "files that import each other in a circle:\n  {}", circles.join("\n  "));
}

#[test]
fn no_source_file_outgrows_the_limit() {
    let limit = house().max_lines;
    let long: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| text.lines().count() > limit)
        .map(|(file, text)| format!("src/{} ({} lines)", inside_src(&file).join("/"), text.lines().count()))
        .collect();
    assert!(long.is_empty(), "source files over {limit} lines: {long:?}");
}

//! Every output format for every preset, snapshotted under snapshots/. A snapshot is a claim that the
//! output is right: review changes with `cargo insta review`, never accept them blindly.

use super::common::snapshot;
use tally::render::{Format, render};
use tally::session::{DeriveRequest, Session, SessionOptions};

fn run(args: &[&str]) -> String {
    let out = super::common::tally().args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Every model and preset the data defines, in every format: a new preset or format without a
/// reviewed snapshot fails here.
#[test]
fn every_preset_in_every_format() {
    let session = Session::open(SessionOptions::default()).unwrap();
    let names: Vec<String> = session.data().models.listing().into_iter().map(|(name, _)| name).collect();
    assert!(names.len() >= 20, "{names:?}");
    for name in &names {
        let doc = session.derive(&DeriveRequest { model: name.clone(), ..DeriveRequest::default() }).unwrap();
        for word in Format::WORDS {
            let format: Format = word.parse().unwrap();
            let slug = name.replace("/", "+").replace("-", "_");
            snapshot(&format!("derive_{slug}_{word}"), &render(&doc, format, false));
        }
    }
}

#[test]
fn the_command_line_prints_what_the_library_renders() {
    let session = Session::open(SessionOptions::default()).unwrap();
    let doc = session.derive(&DeriveRequest { model: "llama-3-8b".into(), ..DeriveRequest::default() }).unwrap();
    // The session holds the per-user lock: the binary would wait for it.
    drop(session);
    for word in Format::WORDS {
        let printed = run(&["derive", "--model", "llama-3-8b", "--format", word]);
        assert_eq!(printed, render(&doc, word.parse().unwrap(), false), "{word}");
    }
}

#[test]
fn standalone_latex_is_a_whole_document() {
    let out = run(&["derive", "--model", "gpt2-xl", "--format", "latex", "--standalone"]);
    assert!(out.starts_with("\\documentclass"));
    assert!(out.trim_end().ends_with("\\end{document}"));
    snapshot("derive_gpt2_xl_latex_standalone", &out);
}

#[test]
fn html_output_is_well_formed_xml_with_mathml() {
    let out = run(&["derive", "--model", "gpt2-xl", "--format", "html"]);
    // roxmltree refuses any DOCTYPE by default, and the HTML5 one says nothing XML needs.
    let body = out.strip_prefix("<!DOCTYPE html>\n").expect("the page starts with the HTML5 doctype");
    let xml = roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("not well-formed XML: {e}"));
    assert_eq!(xml.root_element().tag_name().name(), "html");
    assert!(xml.descendants().any(|n| n.tag_name().name() == "math"), "no MathML in the page");
}

#[test]
fn element_wise_flops_are_an_option() {
    snapshot(
        "derive_gpt2_xl_all_flops_json",
        &run(&["derive", "--model", "gpt2-xl", "--flops", "all", "--format", "json"]),
    );
}

#[test]
fn output_is_byte_identical_across_runs() {
    for format in ["text", "markdown", "latex", "json", "html"] {
        let a = run(&["derive", "--format", format]);
        let b = run(&["derive", "--format", format]);
        assert_eq!(a, b, "{format}");
    }
}

#[test]
fn answer_sheets_in_every_format() {
    for sheet in ["cs336-2025", "cs336-2024"] {
        for (format, extra) in
            [("text", None), ("markdown", None), ("latex", Some("--standalone")), ("html", None), ("json", None)]
        {
            let mut args = vec!["derive", sheet, "--format", format];
            args.extend(extra);
            snapshot(&format!("sheet_{}_{format}", sheet.replace('-', "_")), &run(&args));
        }
    }
}

#[test]
fn answer_sheet_html_is_well_formed() {
    for sheet in ["cs336-2025", "cs336-2024"] {
        let page = run(&["derive", sheet, "--format", "html"]);
        let body = page.trim_start_matches("<!DOCTYPE html>\n");
        let doc = roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("{sheet}: {e}"));
        assert!(doc.descendants().any(|n| n.tag_name().name() == "math"));
    }
}

#[test]
fn every_preset_parameter_count() {
    let listing = run(&["list", "models"]);
    let mut lines = Vec::new();
    for name in listing.lines().filter_map(|l| l.split_whitespace().next()) {
        let out = run(&["derive", "--model", name, "--format", "json"]);
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        let params = doc["quantities"].as_array().unwrap().iter().find(|q| q["name"] == "params").unwrap();
        lines.push(format!(
            "{name:<24} {:>16}  {}",
            params["value"].as_str().unwrap(),
            params["display"].as_str().unwrap()
        ));
    }
    snapshot("preset_parameter_counts", &(lines.join("\n") + "\n"));
}

#[test]
fn every_optimizer_update_is_maths_in_every_format() {
    for optimizer in tally::data::Data::builtin().optimizers.iter() {
        let name = optimizer.name.as_str();
        // The update lines come from the optimizer file's `latex` spellings: MathML in HTML (no
        // fallback to code), maths in LaTeX, its Unicode in plain text.
        let html = run(&["derive", "--optimizer", name, "--format", "html"]);
        assert!(!html.contains("<code class=\"tex\">"), "{name}: a LaTeX spelling MathML could not convert");
        let latex = run(&["derive", "--optimizer", name, "--format", "latex"]);
        let text = run(&["derive", "--optimizer", name]);
        for line in &optimizer.line {
            assert!(latex.contains(&format!("${}$", line.latex)), "{name}: {}", line.latex);
            assert!(text.contains(&line.text), "{name}: {}", line.text);
        }
    }
}

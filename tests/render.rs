//! Every output format for GPT-2 XL, snapshotted under snapshots/. A snapshot is a claim that the
//! output is right: review changes with `cargo insta review`, never accept them blindly.

use super::common::snapshot;
use assert_cmd::Command;

fn run(args: &[&str]) -> String {
    let out = Command::cargo_bin("tally").unwrap().args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn text_output_for_gpt2_xl() {
    snapshot("derive_gpt2_xl_text", &run(&["derive", "--model", "gpt2-xl"]));
}

#[test]
fn markdown_output_for_gpt2_xl() {
    snapshot("derive_gpt2_xl_markdown", &run(&["derive", "--model", "gpt2-xl", "--format", "markdown"]));
}

#[test]
fn latex_output_for_gpt2_xl() {
    snapshot("derive_gpt2_xl_latex", &run(&["derive", "--model", "gpt2-xl", "--format", "latex"]));
}

#[test]
fn standalone_latex_is_a_whole_document() {
    let out = run(&["derive", "--model", "gpt2-xl", "--format", "latex", "--standalone"]);
    assert!(out.starts_with("\\documentclass"));
    assert!(out.trim_end().ends_with("\\end{document}"));
    snapshot("derive_gpt2_xl_latex_standalone", &out);
}

#[test]
fn html_output_for_gpt2_xl() {
    snapshot("derive_gpt2_xl_html", &run(&["derive", "--model", "gpt2-xl", "--format", "html"]));
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
fn json_output_for_gpt2_xl() {
    snapshot("derive_gpt2_xl_json", &run(&["derive", "--model", "gpt2-xl", "--format", "json"]));
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

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
    let names: Vec<String> = session.facts().models.listing().into_iter().map(|(name, _)| name).collect();
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
    // The charts drawn for the formats that show them, as the command line draws them.
    let rendered: Vec<String> = Format::WORDS
        .iter()
        .map(|word| {
            let (mut drawn, format) = (doc.clone(), word.parse().unwrap());
            session.draw_figures(&mut drawn, format).unwrap();
            render(&drawn, format, false)
        })
        .collect();
    // The session holds the per-user lock: the binary would wait for it.
    drop(session);
    for (word, library) in Format::WORDS.iter().zip(rendered) {
        let printed = run(&["derive", "--model", "llama-3-8b", "--format", word]);
        assert_eq!(printed, library, "{word}");
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
    let xml = page(&out);
    assert_eq!(xml.root_element().tag_name().name(), "html");
    assert!(xml.descendants().any(|n| n.tag_name().name() == "math"), "no MathML in the page");
}

/// The page as XML, without the HTML5 doctype (roxmltree refuses any DOCTYPE by default).
fn page(html: &str) -> roxmltree::Document<'_> {
    let body = html.strip_prefix("<!DOCTYPE html>\n").expect("the page starts with the HTML5 doctype");
    roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("not well-formed XML: {e}"))
}

#[test]
fn html_pages_are_self_contained() {
    for args in [&["derive", "--model", "gpt2-xl"][..], &["derive", "cs336-2025"], &["derive", "cs336-2024"]] {
        let html = run(&[args, &["--format", "html"]].concat());
        assert!(!html.contains("class=\"tex\""), "{args:?}: LaTeX that MathML could not convert");
        let xml = page(&html);
        for node in xml.descendants().filter(|n| n.is_element()) {
            let name = node.tag_name().name();
            assert!(!["script", "link", "img", "iframe", "object"].contains(&name), "{args:?}: a <{name}>");
            for attr in node.attributes() {
                assert!(!["src", "href"].contains(&attr.name()), "{args:?}: <{name} {}=…>", attr.name());
            }
        }
        let style = xml.descendants().find(|n| n.has_tag_name("style")).and_then(|n| n.text()).unwrap();
        assert!(!style.contains("url(") && !style.contains("@import"), "{args:?}: the stylesheet fetches something");
    }
}

#[test]
fn an_html_chain_is_one_table_with_the_relations_in_one_column() {
    let html = run(&["derive", "cs336-2025", "--format", "html"]);
    let xml = page(&html);
    let chains: Vec<_> = xml.descendants().filter(|n| n.has_tag_name("mtable")).collect();
    assert!(chains.len() >= 10, "{} chains", chains.len());
    for chain in &chains {
        assert_eq!(chain.attribute("class"), Some("chain"));
        let rows: Vec<_> = chain.children().filter(|n| n.has_tag_name("mtr")).collect();
        assert!(rows.len() >= 2, "a chain has a left side and at least one more line");
        for row in &rows {
            let cells: Vec<_> = row.children().filter(|n| n.has_tag_name("mtd")).collect();
            assert_eq!(cells.len(), 3, "left side, relation, right side");
            let relation = cells[1].first_element_child().unwrap();
            assert!(relation.has_tag_name("mo") && ["=", "≈"].contains(&relation.text().unwrap()));
        }
    }
    // A value is in the maths (set in its font), exact then rounded, each after its own sign.
    assert!(html.contains(
        "<mtr><mtd></mtd><mtd><mo>=</mo></mtd><mtd><mtext class=\"value\">2,127,057,600 params</mtext></mtd></mtr>\n\
         <mtr><mtd></mtd><mtd><mo>≈</mo></mtd><mtd><mtext class=\"value\">2.13B params</mtext></mtd></mtr>"
    ));
}

#[test]
fn a_quantity_name_is_one_identifier_in_every_markup_format() {
    let html = run(&["derive", "cs336-2025", "--format", "html"]);
    assert!(html.contains("<mi class=\"name\">flops.forward.lm_head</mi>"));
    let latex = run(&["derive", "cs336-2025", "--format", "latex"]);
    assert!(latex.contains("\\texttt{flops.forward.lm\\_head} &="));
    let markdown = run(&["derive", "cs336-2025", "--format", "markdown"]);
    assert!(markdown.contains("\\texttt{flops.forward.lm\\_head} &="));
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
    for optimizer in tally::facts::Facts::builtin().optimizers.iter() {
        let name = optimizer.name.as_str();
        // The update lines come from the optimizer file's `latex` spellings: MathML in HTML (no
        // fallback to code), maths in LaTeX, its Unicode in plain text.
        let html = run(&["derive", "--optimizer", name, "--format", "html"]);
        assert!(!html.contains("class=\"tex\""), "{name}: a LaTeX spelling MathML could not convert");
        let latex = run(&["derive", "--optimizer", name, "--format", "latex"]);
        let text = run(&["derive", "--optimizer", name]);
        for line in &optimizer.line {
            assert!(latex.contains(&format!("${}$", line.latex)), "{name}: {}", line.latex);
            assert!(text.contains(&line.text), "{name}: {}", line.text);
        }
    }
}

#[test]
fn a_figure_is_inline_svg_in_html_and_a_named_file_elsewhere() {
    use tally::derivation::{Block, Document, Figure};
    let svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"40\" \
               height=\"20\"><rect x=\"0\" y=\"0\" width=\"40\" height=\"20\" fill=\"#36c\"/></svg>\n";
    let figure = Figure {
        id: "flops-vs-context".into(),
        svg: svg.into(),
        caption: "FLOPs as T grows".into(),
        ..Figure::default()
    };
    let doc = Document {
        title: "t".into(),
        model: "m".into(),
        bindings: vec![],
        conventions: vec![],
        quantities: vec![],
        blocks: vec![Block::Figure(figure)],
        notes: vec![],
    };
    let html = render(&doc, Format::Html, false);
    let xml = page(&html);
    let chart = xml.descendants().find(|n| n.has_tag_name("figure")).unwrap();
    assert_eq!(chart.attribute("id"), Some("flops-vs-context"));
    assert!(chart.descendants().any(|n| n.has_tag_name("rect")), "{html}");
    for format in [Format::Text, Format::Markdown, Format::Latex] {
        let out = render(&doc, format, false);
        assert!(out.contains("FLOPs as T grows") && out.contains("flops-vs-context.svg"), "{format:?}: {out}");
        assert!(!out.contains("<svg"), "{format:?}: {out}");
    }
}

//! Charts in reports: the answer sheets' figures (parts (d), (e) and AdamW (b)) and a
//! derivation's, drawn only for the formats that show them (HTML as SVG, LaTeX as TikZ), each
//! marking exactly the numbers its part states; text output changes by the figure notes alone; a
//! mistake in a sheet's figure is a clear error (exit 2), never a panic.

use super::common::{scratch, tally};
use tally::algebra::Rational;
use tally::derivation::{Block, Cell, Document, Figure};
use tally::plot::chart::{Body, Chart};
use tally::render::Format;
use tally::session::{DeriveRequest, Session, SessionOptions};

fn sheet(session: &Session, name: &str) -> Document {
    session.answer(&DeriveRequest { model: name.into(), ..DeriveRequest::default() }).unwrap()
}

fn figures(doc: &Document) -> Vec<&Figure> {
    doc.blocks.iter().filter_map(|b| if let Block::Figure(f) = b { Some(f) } else { None }).collect()
}

fn chart(session: &Session, figure: &Figure) -> Chart {
    let request = figure.chart.as_ref().expect("a sheet's figure is a chart request");
    tally::plot::chart(session, &request.derive, &request.plot).unwrap()
}

fn value(doc: &Document, name: &str) -> Rational {
    doc.quantities.iter().find(|q| q.name == name).and_then(|q| q.value.clone()).unwrap()
}

/// The share cells of the first table after the heading that starts with `heading`, by title.
fn shares(doc: &Document, heading: &str, column: usize) -> Vec<(String, Rational)> {
    let start = doc.blocks.iter().position(|b| matches!(b, Block::Heading(h) if h.starts_with(heading))).unwrap();
    let table = doc.blocks[start..].iter().find_map(|b| if let Block::Table(t) = b { Some(t) } else { None });
    table
        .unwrap()
        .rows
        .iter()
        .map(|r| match (&r.cells[0], &r.cells[column]) {
            (Cell::Text(title), Cell::Percent(share, _)) => (title.clone(), share.clone()),
            other => panic!("not a share row: {other:?}"),
        })
        .collect()
}

/// Asserts that bar `bar` of a shares chart holds exactly `expected` (title, share of 1).
fn bar_holds(chart: &Chart, bar: usize, expected: &[(String, Rational)], what: &str) {
    let Body::Bars(bars) = &chart.body else { panic!("{what}: not bars") };
    assert_eq!(bars.parts.len(), expected.len(), "{what}: {:?}", bars.parts);
    for (title, share) in expected {
        let j = bars.parts.iter().position(|p| p == title).unwrap_or_else(|| panic!("{what}: no {title}"));
        let percent = share * Rational::from_integer(100.into());
        let float: f64 = tally::dim::decimal(&percent, 12).parse().unwrap();
        assert!((bars.values[bar][j] - float).abs() < 1e-9, "{what}: {title}: {} ≠ {float}", bars.values[bar][j]);
        assert_eq!(bars.inside[bar][j], format!("{}%", tally::dim::decimal(&percent, 1)), "{what}: {title}");
    }
}

#[test]
fn each_sheet_chart_marks_exactly_the_numbers_its_part_states() {
    let session = Session::open(SessionOptions::default()).unwrap();
    for name in ["cs336-2025", "cs336-2024"] {
        let doc = sheet(&session, name);
        let figs = figures(&doc);
        let ids: Vec<&str> = figs.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["shares-vs-size", "shares-vs-context", "memory-vs-batch"], "{name}");
        // (d): one bar per preset, each the column of the scaling table.
        let size = chart(&session, figs[0]);
        for bar in 0..4 {
            bar_holds(&size, bar, &shares(&doc, "Transformer accounting (d)", bar + 1), name);
        }
        // (e): the last bar is T = 16,384, the part's own table.
        let context = chart(&session, figs[1]);
        let Body::Bars(bars) = &context.body else { panic!() };
        assert_eq!(bars.categories.first().map(String::as_str), Some("1,024"), "{name}");
        assert_eq!(bars.categories.last().map(String::as_str), Some("16,384"), "{name}");
        bar_holds(&context, bars.categories.len() - 1, &shares(&doc, "Transformer accounting (e)", 3), name);
        // AdamW (b): the largest batches marked are the part's batch.max and batch.max.binary.
        let memory = chart(&session, figs[2]);
        let Body::Lines(lines) = &memory.body else { panic!() };
        for quantity in ["batch.max", "batch.max.binary"] {
            let n = value(&doc, quantity);
            let mark = lines.marks.iter().find(|m| m.label.starts_with(&format!("{quantity} = "))).unwrap();
            assert!(
                mark.label.starts_with(&format!("{quantity} = {} (", tally::dim::exact(&n))),
                "{name}: {}",
                mark.label
            );
            assert_eq!(mark.x, tally::dim::decimal(&n, 0).parse::<f64>().unwrap(), "{name}: {quantity}");
        }
    }
}

#[test]
fn charts_are_drawn_only_for_the_formats_that_show_them() {
    let session = Session::open(SessionOptions::default()).unwrap();
    let undrawn = sheet(&session, "cs336-2025");
    assert!(figures(&undrawn).iter().all(|f| f.svg.is_empty() && f.tikz.is_empty()), "answering draws nothing");
    for format in [Format::Text, Format::Markdown, Format::Json] {
        let mut doc = undrawn.clone();
        session.draw_figures(&mut doc, format).unwrap();
        assert!(figures(&doc).iter().all(|f| f.svg.is_empty() && f.tikz.is_empty()), "{format:?} drew a chart");
    }
    let mut html = undrawn.clone();
    session.draw_figures(&mut html, Format::Html).unwrap();
    assert!(figures(&html).iter().all(|f| f.svg.starts_with("<svg") && f.tikz.is_empty()));
    let mut latex = undrawn.clone();
    session.draw_figures(&mut latex, Format::Latex).unwrap();
    assert!(figures(&latex).iter().all(|f| f.tikz.starts_with("\\begin{tikzpicture}") && f.svg.is_empty()));
}

fn run(args: &[&str]) -> String {
    let out = tally().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_sheet_reads_as_text_the_same_with_figures_but_for_the_figure_notes() {
    let dir = scratch("figures-text");
    for name in ["cs336-2025", "cs336-2024"] {
        let toml = std::fs::read_to_string(format!("{}/derivations/{name}.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert_eq!(toml.lines().filter(|l| l.starts_with("figure = ")).count(), 3, "{name}");
        let bare: String = toml.lines().filter(|l| !l.starts_with("figure = ")).map(|l| format!("{l}\n")).collect();
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, bare).unwrap();
        let with = run(&["derive", name]);
        let notes: Vec<&str> = with.lines().filter(|l| l.starts_with("[Figure: ")).collect();
        assert_eq!(notes.len(), 3, "{name}");
        assert!(notes.iter().all(|n| n.ends_with(".svg, drawn in the HTML and LaTeX reports and by tally plot)]")));
        let mut without_notes = with.clone();
        for note in notes {
            without_notes = without_notes.replace(&format!("\n{note}\n"), "");
        }
        assert_eq!(without_notes, run(&["derive", path.to_str().unwrap()]), "{name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn html_and_latex_reports_hold_the_charts_after_the_parts_they_illustrate() {
    let html = run(&["derive", "cs336-2025", "--format", "html"]);
    let mut last = 0;
    for (heading, id) in [
        ("Transformer accounting (d)", "shares-vs-size"),
        ("Transformer accounting (e)", "shares-vs-context"),
        ("AdamW accounting (b)", "memory-vs-batch"),
    ] {
        let part = html[last..].find(heading).unwrap() + last;
        let figure = html.find(&format!("<figure class=\"chart\" id=\"{id}\">\n<svg")).unwrap();
        let next = html[part..].find("<h2>").map_or(html.len(), |n| part + n);
        let next = html[next + 4..].find("<h2>").map_or(html.len(), |n| next + 4 + n);
        assert!(part < figure && figure < next, "{id} is not after {heading}");
        last = figure;
    }
    let latex = run(&["derive", "cs336-2025", "--format", "latex", "--standalone"]);
    assert!(latex.contains("\\usepackage{tikz}\n"));
    assert_eq!(latex.matches("\\begin{tikzpicture}").count(), 3);
    assert_eq!(latex, run(&["derive", "cs336-2025", "--format", "latex", "--standalone"]), "not the same bytes twice");
    // A derivation: the FLOP shares and the memory line; under --parallel only the shares.
    let derive = run(&["derive", "--model", "gpt2-xl", "--format", "html"]);
    assert!(derive.contains("id=\"shares-vs-context\">\n<svg") && derive.contains("id=\"memory-vs-batch\">\n<svg"));
    let parallel = run(&["derive", "--model", "gpt2-xl", "--parallel", "dp=8", "--format", "latex"]);
    assert_eq!(parallel.matches("\\begin{tikzpicture}").count(), 1);
    let fragment = run(&["derive", "--model", "gpt2-xl", "--set", "T=4096", "--set", "B=8", "--format", "latex"]);
    assert_eq!(fragment.matches("\\begin{tikzpicture}").count(), 2);
    assert!(!fragment.contains("\\usepackage"), "a fragment has no preamble");
}

#[test]
fn a_bad_figure_in_a_sheet_file_is_an_error_that_names_it() {
    let dir = scratch("figures-bad");
    let toml = std::fs::read_to_string(format!("{}/derivations/cs336-2025.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    for (bad, words) in [
        ("figure = { kind = \"pie-chart\", caption = \"c\" }", vec!["pie-chart", "memory-vs-batch"]),
        ("figure = { kind = \"memory-vs-batch\", set = { Q = 3 }, caption = \"c\" }", vec!["figure.set", "Q"]),
        ("figure = { kind = \"memory-vs-batch\", range = \"9..2\", caption = \"c\" }", vec!["figure.range", "9..2"]),
        ("figure = { kind = \"memory-vs-batch\", presets = \"gpt2-small\", caption = \"c\" }", vec!["--presets"]),
        ("figure = { kind = \"memory-vs-batch\", colour = \"red\", caption = \"c\" }", vec!["colour"]),
    ] {
        let text = toml.replacen("kind = \"dominant\"\n", &format!("kind = \"dominant\"\n{bad}\n"), 1);
        let path = dir.join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let out = tally().args(["derive", path.to_str().unwrap(), "--format", "html"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(!stderr.contains("panicked"), "{bad}: {stderr}");
        for w in words {
            assert!(stderr.contains(w), "{bad}: `{w}` not in {stderr}");
        }
        assert!(stderr.contains("bad.toml"), "{bad}: the file is not named: {stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

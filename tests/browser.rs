//! The HTML pages in a real browser: headless Chromium loads an answer sheet and a derivation, with
//! no console messages (the pages have no scripts, so any message is an error), a screenshot that
//! is not blank, and a layout probe: MathML is laid out (every `<math>` has a size), each chain's
//! relation signs sit in one column, and nothing makes the page scroll sideways (wide tables and
//! long chains scroll in their own boxes), and the embedded charts are laid out at their
//! proportions. These tests need Chromium, so they are marked ignored:
//! `cargo test --release -- --ignored browser` runs them (CI does, see `.ci/run`). The screenshots
//! stay in `target/tmp/browser/` to look at.

use super::common::{scratch, tally};
use std::path::{Path, PathBuf};
use std::process::Command;

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 2000;

/// The pages: an answer sheet and a derivation.
const PAGES: [(&str, &[&str]); 2] =
    [("sheet", &["derive", "cs336-2025"]), ("derive", &["derive", "--model", "gpt2-xl"])];

/// Debian's `chromium` (or another Chromium on PATH).
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
        .expect("Chromium is installed (apt-get install --no-install-recommends chromium)")
}

/// Runs headless Chromium on `page` with `args`; returns (stdout, stderr). Each run has its own
/// profile, so nothing from an earlier run or the user's own browser comes in.
fn browse(page: &Path, args: &[&str]) -> (String, String) {
    let profile = page.with_extension("profile");
    let out = Command::new(chromium())
        .args(["--headless=new", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .args(["--enable-logging=stderr", "--v=0"])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "chromium failed on {}:\n{stderr}", page.display());
    (stdout, stderr.into_owned())
}

/// The lines where the page spoke to the console (`console.*`, uncaught exceptions).
fn console(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught")).collect()
}

/// Pixels of a screenshot: (width, height, distinct colours, share of pixels that are not white).
fn pixels(png: &Path) -> (u32, u32, usize, f64) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "{}", png.display());
    let mut colours = std::collections::HashSet::new();
    let mut ink = 0usize;
    for px in buf[..info.buffer_size()].chunks(channels) {
        colours.insert(px.to_vec());
        if px.iter().take(3).any(|&c| c < 250) {
            ink += 1;
        }
    }
    (info.width, info.height, colours.len(), ink as f64 / (info.width * info.height) as f64)
}

fn html(args: &[&str]) -> String {
    let out = tally().args(args).args(["--format", "html"]).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Where the screenshots are kept.
fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
#[ignore = "needs chromium; run with --ignored (CI does)"]
fn the_console_check_sees_a_page_that_logs_an_error() {
    // Without this, a Chromium that stopped logging the console would pass every page.
    let dir = scratch("browser-canary");
    let page = dir.join("canary.html");
    std::fs::write(&page, "<!DOCTYPE html><html><body><script>console.error('canary');</script></body></html>")
        .unwrap();
    let (_, stderr) = browse(&page, &["--dump-dom"]);
    assert!(console(&stderr).iter().any(|l| l.contains("canary")), "the console is not captured:\n{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs chromium; run with --ignored (CI does)"]
fn pages_load_without_console_errors_and_their_screenshots_are_not_blank() {
    let dir = scratch("browser-pages");
    for (name, args) in PAGES {
        let page = dir.join(format!("{name}.html"));
        std::fs::write(&page, html(args)).unwrap();
        let png = shots().join(format!("{name}.png"));
        let _ = std::fs::remove_file(&png);
        let (_, stderr) = browse(&page, &[&format!("--screenshot={}", png.display())]);
        assert_eq!(console(&stderr), Vec::<&str>::new(), "{name}: the console is not quiet");
        let (width, height, colours, ink) = pixels(&png);
        assert_eq!((width, height), (WIDTH, HEIGHT), "{name}");
        // Text and maths antialiased on white: thousands of shades over a few percent of the page.
        assert!(colours >= 200, "{name}: {colours} distinct colours, the page looks blank");
        assert!((0.02..0.6).contains(&ink), "{name}: {:.1}% of the pixels are not white", ink * 100.0);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Measures the laid-out page and writes the result into it, for `--dump-dom` to print.
const PROBE: &str = r#"<script>
addEventListener("load", () => {
  const box = (el) => el.getBoundingClientRect();
  const chains = [...document.querySelectorAll("mtable.chain")];
  const result = {
    sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    chains: chains.length,
    misaligned: chains.filter((t) => new Set([...t.querySelectorAll("mtr > mtd:nth-child(2)")]
      .map((c) => Math.round(box(c).left + box(c).width / 2))).size !== 1).length,
    unlaid: [...document.querySelectorAll("math")].filter((m) => box(m).width < 1 || box(m).height < 1).length,
    maths: document.querySelectorAll("math").length,
    charts: [...document.querySelectorAll("figure.chart svg")].map((c) => [Math.round(box(c).width), Math.round(box(c).height)]),
  };
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(result);
  document.body.append(out);
});
</script>"#;

#[test]
#[ignore = "needs chromium; run with --ignored (CI does)"]
fn chains_are_aligned_maths_is_laid_out_and_the_page_does_not_scroll_sideways() {
    let dir = scratch("browser-probe");
    for (name, args) in PAGES {
        let page = dir.join(format!("{name}.html"));
        std::fs::write(&page, html(args).replace("</body>", &format!("{PROBE}</body>"))).unwrap();
        let (dom, _) = browse(&page, &["--dump-dom"]);
        let json = dom
            .split_once("<pre id=\"probe\">")
            .and_then(|(_, rest)| rest.split_once("</pre>"))
            .unwrap_or_else(|| panic!("{name}: the probe did not run:\n{dom}"))
            .0;
        let probe: serde_json::Value = serde_json::from_str(json).unwrap();
        assert!(probe["chains"].as_u64().unwrap() >= 10, "{name}: {probe}");
        assert!(probe["maths"].as_u64().unwrap() >= 50, "{name}: {probe}");
        assert_eq!(probe["misaligned"], 0, "{name}: chains whose relation signs are not in one column: {probe}");
        assert_eq!(probe["unlaid"], 0, "{name}: maths with no size (MathML not laid out): {probe}");
        assert!(probe["sideways"].as_i64().unwrap() <= 0, "{name}: the page scrolls sideways: {probe}");
        // The embedded charts (three on the sheet, two in the derivation) are laid out at their
        // drawn proportions (880 × 600), no wider than the page.
        let charts = probe["charts"].as_array().unwrap();
        assert_eq!(charts.len(), if name == "sheet" { 3 } else { 2 }, "{name}: {probe}");
        for size in charts {
            let (w, h) = (size[0].as_f64().unwrap(), size[1].as_f64().unwrap());
            assert!(w >= 600.0 && w <= f64::from(WIDTH) && (w / h - 880.0 / 600.0).abs() < 0.02, "{name}: {probe}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

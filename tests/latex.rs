//! The LaTeX output compiles with a real TeX engine (pdflatex): the standalone documents of a
//! derivation and both answer sheets, and the derivation of every preset under every option that
//! changes what is printed (a batch that does not fit, a long context, FlashAttention, mixed
//! precision, element-wise FLOPs, full recomputation); a standalone PDF's fonts are all scalable
//! Type 1 fonts (Latin Modern, the charts' words included), none a Type 3 bitmap (`pdffonts`).
//! These tests need pdflatex, lmodern, TikZ (texlive-pictures) and poppler-utils, so they are
//! marked ignored: `cargo test --release -- --ignored latex` runs them (CI does, see `.ci/run`); a plain `cargo test` lists them as ignored rather than
//! passing them silently.

use super::common::{scratch, tally};
use std::path::Path;

fn compile(dir: &Path, name: &str, tex: &[u8]) {
    std::fs::write(dir.join(format!("{name}.tex")), tex).unwrap();
    let run = std::process::Command::new("pdflatex")
        .args(["-interaction=nonstopmode", "-halt-on-error", &format!("{name}.tex")])
        .current_dir(dir)
        .output()
        .expect("pdflatex is installed (apt-get install texlive-latex-base texlive-fonts-recommended lmodern)");
    assert!(run.status.success(), "{name}.tex does not compile:\n{}", String::from_utf8_lossy(&run.stdout));
    assert!(dir.join(format!("{name}.pdf")).exists());
}

fn latex(args: &[&str]) -> Vec<u8> {
    let out = tally().args(args).args(["--format", "latex"]).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
#[ignore = "needs pdflatex; run with --ignored (CI does)"]
fn standalone_documents_compile() {
    let dir = scratch("latex-standalone");
    for (name, args) in [
        ("derive", vec!["derive", "--model", "gpt2-xl", "--standalone"]),
        ("sheet2025", vec!["derive", "cs336-2025", "--standalone"]),
        ("sheet2024", vec!["derive", "cs336-2024", "--standalone"]),
        ("llama", vec!["derive", "--model", "llama-3-8b", "--standalone"]),
        ("long", vec!["derive", "--model", "gpt2-xl", "--set", "T=16384", "--standalone"]),
    ] {
        compile(&dir, name, &latex(&args));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs pdflatex; run with --ignored (CI does)"]
fn every_preset_under_every_printed_option_compiles() {
    let listing = tally().args(["list", "models"]).output().unwrap().stdout;
    let models: Vec<String> = String::from_utf8(listing)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    assert!(models.len() >= 20, "{models:?}");
    let options: [&[&str]; 9] = [
        &[],
        &["--memory", "1GB"],
        &["--set", "T=16384"],
        &["--attention-kernel", "flash", "--activations", "korthikanti"],
        &["--precision", "bf16", "--layout", "mixed", "--hardware", "h100"],
        &["--flops", "all", "--attention-flops", "causal", "--tokens-per-second", "2,000"],
        &["--recompute", "full", "--activations", "all"],
        &["--parallel", "dp=4", "--zero", "2", "--hardware", "h100", "--precision", "bf16", "--layout", "mixed"],
        &["--parallel", "dp=2,pp=2", "--zero", "fsdp", "--micro-batches", "4", "--hardware", "h100"],
    ];
    // One document holds every fragment, with the preamble of a standalone document.
    let standalone = String::from_utf8(latex(&["derive", "--model", "gpt2-small", "--standalone"])).unwrap();
    let preamble = &standalone[..standalone.find("\\begin{document}").unwrap()];
    let mut body = String::new();
    for model in &models {
        for extra in options {
            let mut args = vec!["derive", "--model", model.as_str()];
            args.extend_from_slice(extra);
            let out = tally().args(&args).args(["--format", "latex"]).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.code() == Some(2) && stderr.contains("do not split over pp=") {
                // A model whose layers do not split into two equal stages (DeepSeek-V3's 61) is
                // refused with its reason; its document is then the same layout without stages.
                let without: Vec<&str> = args.iter().map(|a| if *a == "dp=2,pp=2" { "dp=4" } else { a }).collect();
                body.push_str(&String::from_utf8(latex(&without)).unwrap());
            } else {
                assert!(out.status.success(), "{args:?}: {stderr}");
                body.push_str(&String::from_utf8(out.stdout).unwrap());
            }
            body.push_str("\n\\clearpage\n");
        }
    }
    let dir = scratch("latex-all");
    compile(&dir, "all", format!("{preamble}\\begin{{document}}\n{body}\\end{{document}}\n").as_bytes());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The fonts `pdffonts` lists for a PDF: (name, type) per line after its two header lines.
fn fonts(pdf: &Path) -> Vec<(String, String)> {
    let out = std::process::Command::new("pdffonts")
        .arg(pdf)
        .output()
        .expect("pdffonts is installed (apt-get install poppler-utils)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(2)
        .map(|l| {
            // name, then the type (`Type 1`, `Type 3`, `TrueType`, `Type 1C`…) up to the encoding.
            let (name, rest) = l.split_once(' ').unwrap_or((l, ""));
            let kind = rest.trim_start().split("  ").next().unwrap_or("").to_string();
            (name.to_string(), kind)
        })
        .collect()
}

#[test]
#[ignore = "needs pdflatex and pdffonts; run with --ignored (CI does)"]
fn standalone_pdfs_use_only_scalable_fonts() {
    // T1-encoded Computer Modern without cm-super comes out as bitmap Type 3 fonts, blurred when
    // zoomed and unsearchable; Latin Modern keeps every font an outline (Type 1) font.
    let dir = scratch("latex-fonts");
    for (name, args) in [
        ("sheet2025", vec!["derive", "cs336-2025", "--standalone"]),
        ("derive", vec!["derive", "--model", "gpt2-xl", "--standalone"]),
    ] {
        let tex = latex(&args);
        // Both documents hold charts (TikZ), whose words are set in the document's fonts too.
        assert!(String::from_utf8_lossy(&tex).matches("\\begin{tikzpicture}").count() >= 2, "{name}: no charts");
        compile(&dir, name, &tex);
        let fonts = fonts(&dir.join(format!("{name}.pdf")));
        assert!(fonts.len() >= 5, "{name}: {fonts:?}");
        let bitmap: Vec<_> = fonts.iter().filter(|(_, kind)| kind.starts_with("Type 3")).collect();
        assert!(bitmap.is_empty(), "{name}: bitmap (Type 3) fonts {bitmap:?} among {fonts:?}");
        assert!(fonts.iter().all(|(_, kind)| kind.starts_with("Type 1")), "{name}: {fonts:?}");
        assert!(fonts.iter().any(|(n, _)| n.contains("LMRoman")), "{name}: not Latin Modern: {fonts:?}");
        assert!(fonts.iter().any(|(n, _)| n.contains("LMSans")), "{name}: the charts' words are not set: {fonts:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

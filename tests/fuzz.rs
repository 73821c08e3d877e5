//! The whole pipeline under generated input, in process: claims through the reader, the algebra,
//! evaluation and the report; model files through the reader, binding, the derivation and every
//! renderer. 100,000 cases per run from a fixed seed (so a failure names a case that can be run
//! again), none may panic. Each case's work is bounded by the algebra's limits, not by a clock;
//! the slowest case is printed (`cargo test --release fuzz -- --nocapture`).

use std::time::{Duration, Instant};
use tally::algebra::Engine;
use tally::algebra::worker::{WaitOptions, exclusive};
use tally::audit::{self, claim::Claim, reference::Reference};
use tally::derivation;
use tally::diagnostic::Source;
use tally::facts::Facts;
use tally::model::{Model, Origin};
use tally::options::Options;
use tally::preset::Selection;
use tally::render::{self, Format};

/// Claims and model files per run.
const CLAIMS: usize = 88_000;
const MODELS: usize = 12_000;

/// SplitMix64: small, fast and the same on every machine.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "4",
    "16",
    "1024",
    "50,257",
    "1.5",
    "2.13B",
    "8B",
    "4.5e12",
    "1e400",
    "0.0001",
    "1_024",
    ".5",
    "123456789012345678901234567890",
    "-7",
    "2.0B",
    "4k",
    "19.5T",
    "1e-9",
    "99999999999999999999e99",
    "18446744073709551615",
    "18446744073709551616",
    "1e-300",
    "0.000000000000000000001",
    "0*0",
];
const NAMES: &[&str] = &[
    "B",
    "T",
    "L",
    "H",
    "A",
    "F",
    "K",
    "V",
    "M",
    "S",
    "U",
    "R",
    "batch_size",
    "d_model",
    "num_layers",
    "VH",
    "BT",
    "params",
    "memory.total",
    "memory.activations",
    "flops.forward",
    "flops.step",
    "flops.optimizer",
    "time.training",
    "total_params",
    "N",
    "P",
    "batch.max",
    "flops.approx.6n",
    "mfu",
    "GB",
    "GiB",
    "bytes",
    "days",
    "FLOPs",
    "s",
    "nope",
    "memory.",
    "x.y.z",
    "é",
];
const OPERATORS: &[&str] = &["+", "-", "*", "/", "//", "^", "**", "·", "×", "÷", "−", "(", ")", "[", "]", "{", "}"];
const ODD: &[&str] = &["²", "³", "⁶⁵", "⁻¹", "⁹⁹⁹⁹⁹⁹⁹", "=", "==", "<=", ",", ".", "_", " ", "\u{1b}", "∑", "\t", "%"];
const LEFT: &[&str] = &[
    "params",
    "memory.total",
    "memory.params + memory.gradients + memory.optimizer",
    "flops.forward",
    "flops.step",
    "time.training",
    "batch.max",
    "batch.max(80GB)",
    "batch.max(-1GB)",
    "mfu",
    "flops",
    "bogus",
    "",
    "memory.kv_cache",
    "0",
    "params - params",
    "params*(L-L)",
    "flops.step[0]",
    "flops.step(80GB)",
    "memory.total(0)",
    "0*params",
    "1e-300*params",
];

/// A formula-like string: mostly well-formed (operands joined by operators), sometimes with a
/// stray piece of garbage.
fn formula(rng: &mut Rng, depth: usize) -> String {
    let mut out = String::new();
    for i in 0..1 + rng.below(8) {
        if i > 0 {
            out.push_str(match rng.below(20) {
                0..=4 => "+",
                5..=10 => "*",
                11..=12 => "-",
                13..=14 => "/",
                15 => "",
                _ => rng.pick(OPERATORS),
            });
        }
        match rng.below(40) {
            0..=13 => out.push_str(rng.pick(NUMBERS)),
            14..=35 => out.push_str(rng.pick(NAMES)),
            36 => out.push_str(rng.pick(ODD)),
            _ if depth < 3 => {
                out.push('(');
                out.push_str(&formula(rng, depth + 1));
                out.push(')');
                if rng.below(3) == 0 {
                    out.push('^');
                    out.push_str(rng.pick(&["2", "3", "40", "64", "65", "-1", "0", "1.5"]));
                }
            }
            _ => out.push_str(rng.pick(NAMES)),
        }
    }
    out
}

fn claim_text(rng: &mut Rng) -> String {
    let mut text = format!("{} = {}", rng.pick(LEFT), formula(rng, 0));
    if rng.below(3) == 0 {
        text.push_str(&format!(" = {} {}", rng.pick(NUMBERS), rng.pick(&["", "GB", "days", "params", "FLOPs", "s"])));
    }
    text
}

const SIZES: &[&str] = &["H", "F", "V", "A", "H/A", "4*H", "2*H + 1", "T", "L*H"];
const HOSTILE_SIZES: &[&str] = &["H/(H-H)", "-H", "H/3", "K", "Q", "H^9", "0", "H^8*H^8", "1/0"];

/// A small model file. Most are sensible; in a hostile one, any field may be wrong in any way.
fn model_text(rng: &mut Rng) -> String {
    let hostile = rng.below(3) == 0;
    let pick = |rng: &mut Rng, good: &[&'static str], bad: &[&'static str]| -> String {
        if hostile && rng.below(6) == 0 { rng.pick(bad).to_string() } else { rng.pick(good).to_string() }
    };
    let mut t = String::from("name = \"fuzz\"\nsummary = \"generated\"\n[defaults]\n");
    for symbol in ["V", "T", "B", "L", "H", "A"] {
        if !hostile || rng.below(10) > 0 {
            t.push_str(&format!(
                "{symbol} = {}\n",
                pick(rng, &["1", "2", "4", "16", "64", "96"], &["0", "-3", "1000000000000"])
            ));
        }
    }
    t.push_str(&format!("[relations]\nF = \"{}\"\n", pick(rng, &["4*H", "2*H", "H"], &["H/(H-H)", "F", "-H"])));
    if rng.below(4) == 0 {
        t.push_str(&format!("K = \"{}\"\n", pick(rng, &["A", "H/16"], &["F", "K", "Q"])));
    }
    for s in 0..1 + rng.below(3) {
        t.push_str(&format!("[[stage]]\nname = \"s{s}\"\n"));
        if rng.below(2) == 0 {
            t.push_str(&format!("repeat = \"{}\"\n", pick(rng, &["L", "2", "L"], &["L/2", "-L", "L^2", "0"])));
        }
        for o in 0..1 + rng.below(4) {
            let kind = pick(rng, tally::model::OP_KINDS, &["bogus"]);
            t.push_str(&format!("[[stage.op]]\nname = \"op{o}\"\nkind = \"{kind}\"\n"));
            let fields: &[&str] = match kind.as_str() {
                "embedding" => &["rows", "width"],
                "linear" => &["in", "out"],
                "attention_scores" | "attention_values" => &["heads", "head_dim"],
                "softmax" => &["heads"],
                "cross_entropy" => &["vocab"],
                _ => &["width"],
            };
            for f in fields {
                if !hostile || rng.below(10) > 0 {
                    t.push_str(&format!("{f} = \"{}\"\n", pick(rng, SIZES, HOSTILE_SIZES)));
                }
            }
            if kind == "activation" {
                t.push_str(&format!("function = \"{}\"\n", pick(rng, &["silu", "gelu"], &["relu"])));
            }
            if rng.below(3) == 0 {
                t.push_str(&format!("saved = \"{}\"\n", pick(rng, &["cs336", "all", "never"], &["maybe"])));
            }
            if rng.below(5) == 0 {
                t.push_str(&format!("kv_cache = \"{}\"\n", pick(rng, SIZES, HOSTILE_SIZES)));
            }
        }
    }
    t
}

fn reference(engine: &Engine) -> Reference<'_> {
    let data = Facts::builtin();
    let selection = data.models.select("gpt2-xl").unwrap().unwrap();
    let options = Options::default();
    let conventions = tally::resolve::conventions(&options, data).unwrap();
    let bindings =
        selection.model.bind(selection.preset.as_ref(), &conventions.bindings().unwrap(), &data.symbols).unwrap();
    Reference::new(engine, data, &selection, &bindings, &options, &conventions)
}

#[test]
fn one_hundred_thousand_generated_claims_and_model_files_never_panic() {
    let (slowest, counts) = exclusive(&WaitOptions::default(), |engine: &Engine| {
        let data = Facts::builtin();
        let symbols = &data.symbols;
        let reference = reference(engine);
        let mut rng = Rng(0x7A11_7A11);
        let mut slowest = (Duration::ZERO, String::new());
        let mut counts = [0usize; 4];
        let mut time = |label: String, start: Instant| {
            let took = start.elapsed();
            if took > slowest.0 {
                slowest = (took, label);
            }
        };
        for i in 0..CLAIMS {
            let text = claim_text(&mut rng);
            let start = Instant::now();
            if let Ok(claim) = Claim::parse(&format!("c{i}"), &text) {
                let report = audit::check(std::slice::from_ref(&claim), &reference);
                counts[usize::from(report.exit_code())] += 1;
                let _ = (audit::report::text(&report, false), audit::report::json(&report));
            } else {
                counts[2] += 1;
            }
            time(format!("claim {i}: {text}"), start);
        }
        let conventions = tally::resolve::conventions(&Options::default(), data).unwrap();
        let sets = conventions.bindings().unwrap();
        for i in 0..MODELS {
            let text = model_text(&mut rng);
            let start = Instant::now();
            let source = Source { name: format!("fuzz-{i}.toml"), text: text.clone() };
            let derived = Model::from_toml(&source, &data.model_facts()).and_then(|model| {
                let mut sets = sets.clone();
                if rng.below(4) == 0 {
                    let symbol = rng.pick(&["T", "H", "B", "T", "H", "B", "K", "M"]).to_string();
                    sets.push((
                        symbol,
                        tally::algebra::Rational::from_integer((1 + rng.below(64)).into()),
                        Origin::Set,
                    ));
                }
                let bindings = model.bind(None, &sets, symbols)?;
                let selection = Selection { model, preset: None, id: "fuzz".into(), note: None };
                derivation::derive(engine, &selection, &bindings, symbols, &conventions)
            });
            match derived {
                Ok(doc) => {
                    counts[3] += 1;
                    for format in [Format::Text, Format::Markdown, Format::Latex, Format::Json, Format::Html] {
                        let _ = render::render(&doc, format, false);
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    if std::env::var_os("TALLY_FUZZ_ERRORS").is_some() {
                        println!("{}", message.lines().next().unwrap_or(""));
                    }
                }
            }
            time(format!("model {i}:\n{text}"), start);
        }
        (slowest, counts)
    })
    .unwrap();
    println!(
        "{CLAIMS} claims ({} hold, {} wrong, {} unreadable) and {MODELS} model files ({} derived); slowest case {:.1} ms: {}",
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        slowest.0.as_secs_f64() * 1000.0,
        slowest.1
    );
    assert!(counts[3] > MODELS / 20, "the generator must produce some valid models ({} of {MODELS})", counts[3]);
    assert!(counts[0] + counts[1] > CLAIMS / 20, "and some readable claims");
}

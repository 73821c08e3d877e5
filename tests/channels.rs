//! Every input channel under generated values, in process: `--set` bindings, Hugging Face
//! configs mutated key by key, `--parallel` layouts, `--vary` axes, `--gpus` for the planner and
//! plot `--range`s — sizes from 0 and near zero up to 2⁶⁴ and far beyond. Each case must give a
//! value or a clear error, and never panic, hang or allocate by the size it is given (a config
//! with 10¹² layers is counted, not listed). The seed is fixed, so a failure names its case.

use super::fuzz::Rng;
use serde_json::Value;
use std::time::{Duration, Instant};
use tally::algebra::worker::{WaitOptions, exclusive};
use tally::diagnostic::Source;
use tally::facts::Facts;
use tally::model::Origin;
use tally::options::Options;
use tally::sweep::Axis;

/// Cases per channel.
const SETS: usize = 4_000;
const CONFIGS: usize = 6_000;
const LAYOUTS: usize = 3_000;
const AXES: usize = 3_000;
const RANGES: usize = 2_000;
const PLANS: usize = 40;

/// Whole numbers and not-quite numbers, from zero to past every machine integer.
const VALUES: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "7",
    "8",
    "64",
    "1000",
    "1024",
    "50257",
    "-1",
    "0.5",
    "1e-300",
    "0.0000000000000000001",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1000000000000",
    "340282366920938463463374607431768211457",
    "1e30",
    "1e400",
    "16,384",
    "4k",
    "x",
    "",
];

fn json_value(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => Value::String("text".into()),
        3 => Value::Array(vec![]),
        4 => serde_json::json!({}),
        5 => serde_json::json!(-1),
        6 => serde_json::json!(1.5),
        7 => serde_json::json!(1e30),
        8 => serde_json::json!(u64::MAX),
        9 => serde_json::json!(9_223_372_036_854_775_808u64),
        10 => serde_json::json!(1_000_000_000_000u64),
        _ => serde_json::json!([0u64, 1, 2, 3, 8, 16, 64][rng.below(7)]),
    }
}

/// The published configs of the Hugging Face fixtures, to mutate.
fn configs() -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path().join("config.json");
            let text = std::fs::read_to_string(&path).ok()?;
            Some((path.display().to_string(), serde_json::from_str(&text).ok()?))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 10, "the fixtures hold the published configs");
    out
}

/// One to three keys of a config (or of its text config) replaced, removed or added.
fn mutate(rng: &mut Rng, config: &Value) -> Value {
    let mut config = config.clone();
    for _ in 0..1 + rng.below(3) {
        let target = match config.get_mut("text_config") {
            Some(inner) if inner.is_object() && rng.below(2) == 0 => inner,
            _ => &mut config,
        };
        let Some(object) = target.as_object_mut() else { break };
        let keys: Vec<String> = object.keys().cloned().collect();
        if keys.is_empty() {
            break;
        }
        let key = keys[rng.below(keys.len())].clone();
        match rng.below(8) {
            0 => {
                object.remove(&key);
            }
            1 => {
                object.insert("num_hidden_layers".into(), json_value(rng));
            }
            _ => {
                object.insert(key, json_value(rng));
            }
        }
    }
    config
}

#[test]
fn every_input_channel_under_generated_sizes_gives_a_value_or_an_error() {
    let (slowest, counts) = exclusive(&WaitOptions::default(), |_| {
        let data = Facts::builtin();
        let mut rng = Rng(0xC4A1_7E55);
        let mut slowest = (Duration::ZERO, String::new());
        let mut counts = [0usize; 2];
        let mut note = |ok: bool, label: String, start: Instant| {
            counts[usize::from(ok)] += 1;
            let took = start.elapsed();
            if took > slowest.0 {
                slowest = (took, label);
            }
        };
        let gpt2 = tally::resolve::select(data, "gpt2-xl", None, None).unwrap();
        let mixtral = tally::resolve::select(data, "mixtral-8x7b", None, None).unwrap();
        let conventions = tally::resolve::conventions(&Options::default(), data).unwrap();
        let symbols = ["B", "T", "L", "H", "A", "F", "V", "K", "k", "E", "W", "U", "batch_size", "Q"];
        for _ in 0..SETS {
            let text = format!("{}={}", rng.pick(&symbols), rng.pick(VALUES));
            let start = Instant::now();
            let selection = if rng.below(3) == 0 { &mixtral } else { &gpt2 };
            let bound = tally::session::parse_set(&text, &data.symbols).and_then(|(symbol, value)| {
                let mut sets = conventions.bindings()?;
                sets.push((symbol, value, Origin::Set));
                selection.model.bind(selection.preset.as_ref(), &sets, &data.symbols)
            });
            note(bound.is_ok(), format!("--set {text}"), start);
        }
        let published = configs();
        for i in 0..CONFIGS {
            let (name, config) = &published[rng.below(published.len())];
            let mutated = mutate(&mut rng, config);
            let source = Source { name: format!("{name} (mutation {i})"), text: mutated.to_string() };
            let start = Instant::now();
            let imported =
                tally::model::hf::import(&source, "fuzz", data.hf_families(), &data.symbols).and_then(|imported| {
                    let file = Source { name: "imported.toml".into(), text: imported.text };
                    let selection = tally::preset::from_source(&file, None, &data.model_facts())?;
                    selection.model.bind(selection.preset.as_ref(), &conventions.bindings()?, &data.symbols)
                });
            note(imported.is_ok(), format!("config {}", source.name), start);
        }
        let degrees = ["dp", "tp", "pp", "cp", "ep", "xp", "DP"];
        for _ in 0..LAYOUTS {
            let parts: Vec<String> =
                (0..1 + rng.below(3)).map(|_| format!("{}={}", rng.pick(&degrees), rng.pick(VALUES))).collect();
            let text = parts.join(",");
            let start = Instant::now();
            let mut options = Options::default();
            let checked = options.set("parallel", &text).and_then(|()| {
                let conventions = tally::resolve::conventions(&options, data)?;
                let bindings = gpt2.model.bind(gpt2.preset.as_ref(), &conventions.bindings()?, &data.symbols)?;
                match &conventions.parallel {
                    Some(parallel) => parallel.check_splits(&bindings.values(), "--parallel", &text),
                    None => Ok(()),
                }
            });
            note(checked.is_ok(), format!("--parallel {text}"), start);
        }
        let names = ["B", "T", "batch_size", "model", "precision", "H", "nope"];
        let items = ["1..{}", "{}", "1..{}:7", "1..{}*2", "{}..1", "2..{}*0", "{},{}"];
        for _ in 0..AXES {
            let item = rng.pick(&items).replace("{}", rng.pick(VALUES));
            let text = format!("{}={item}", rng.pick(&names));
            let start = Instant::now();
            let parsed = Axis::parse(&text, data).and_then(|axis| tally::sweep::size(&[axis.clone(), axis]));
            note(parsed.is_ok(), format!("--vary {text}"), start);
        }
        for _ in 0..RANGES {
            let text = format!("{}..{}", rng.pick(VALUES), rng.pick(VALUES));
            let start = Instant::now();
            let read = tally::plot::read_points(&text).and_then(|p| p.doubling(&text, "points"));
            note(read.is_ok(), format!("--range {text}"), start);
        }
        let gpus = [0u64, 1, 7, 64, 4096, 1 << 40, u64::MAX, 735_134_400, 1_000_000_007];
        for i in 0..PLANS {
            let n = gpus[i % gpus.len()];
            let start = Instant::now();
            let request = tally::request::PlanRequest {
                gpus: n,
                seq: [1, 1024, 8192][i % 3],
                global_batch: [1, 64, 1024][i % 3],
                options: Options { hardware: "h100".into(), ..Options::default() },
                top: 3,
            };
            let planned = tally::plan::plan(data, &gpt2, &request);
            note(planned.is_ok(), format!("plan --gpus {n}"), start);
        }
        (slowest, counts)
    })
    .unwrap();
    let total = SETS + CONFIGS + LAYOUTS + AXES + RANGES + PLANS;
    println!(
        "{total} channel cases ({} values, {} errors); slowest {:.1} ms: {}",
        counts[1],
        counts[0],
        slowest.0.as_secs_f64() * 1000.0,
        slowest.1
    );
    assert!(counts[1] > total / 10 && counts[0] > total / 10, "the generators give both values and errors: {counts:?}");
}

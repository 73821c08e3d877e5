//! `tally plot`: every kind of chart as reviewed SVG text (and as the committed picture the guide
//! shows), the figures a chart marks worked out again from `tally derive` and `tally serve` of the
//! same setting, byte-identical output from run to run, and the inputs a chart cannot use.

use super::common::{scratch, snapshot, tally};
use num_bigint::BigInt;
use num_rational::BigRational;
use serde_json::Value;

type Q = BigRational;

/// Each kind with the arguments of its snapshot and of its picture in docs/plots/.
const CHARTS: [(&str, &[&str]); 7] = [
    ("memory-vs-batch", &["--model", "gpt2-medium", "--precision", "bf16", "--layout", "mixed"]),
    ("shares-vs-size", &[]),
    ("shares-vs-context", &["--model", "gpt2-xl"]),
    (
        "time-vs-mfu",
        &["--model", "gpt2-xl", "--precision", "bf16", "--layout", "mixed", "--hardware", "h100-sxm", "--set", "B=128"],
    ),
    (
        "time-vs-gpus",
        &[
            "--model",
            "gpt2-xl",
            "--precision",
            "bf16",
            "--layout",
            "mixed",
            "--hardware",
            "h100-sxm",
            "--set",
            "B=8",
            "--overlap",
            "none",
        ],
    ),
    (
        "gpu-memory",
        &[
            "--model",
            "llama/llama-3-8b",
            "--precision",
            "bf16",
            "--layout",
            "mixed",
            "--hardware",
            "h100-sxm",
            "--zero",
            "1",
            "--set",
            "T=4096",
            "--layouts",
            "dp=8;dp=4,tp=2;dp=2,tp=4;tp=8;dp=2,tp=2,pp=2",
        ],
    ),
    ("roofline", &["--model", "llama/llama-3-8b", "--hardware", "h100-sxm"]),
];

fn args(kind: &str) -> Vec<&'static str> {
    CHARTS.iter().find(|(k, _)| *k == kind).map(|(_, a)| a.to_vec()).unwrap()
}

fn run(command: &str, args: &[&str]) -> String {
    let out = tally().arg(command).args(args).output().unwrap();
    assert!(out.status.success(), "{command} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn plot(kind: &str, args: &[&str]) -> String {
    run("plot", &[&[kind], args].concat())
}

fn json(command: &str, args: &[&str]) -> Value {
    serde_json::from_str(&run(command, &[args, &["--format", "json"]].concat())).unwrap()
}

fn value(doc: &Value, name: &str) -> Q {
    let q =
        doc["quantities"].as_array().unwrap().iter().find(|q| q["name"] == name).unwrap_or_else(|| panic!("{name}"));
    let text = q["value"].as_str().unwrap_or_else(|| panic!("{name} has no value"));
    match text.split_once('/') {
        Some((p, d)) => Q::new(p.parse().unwrap(), d.parse().unwrap()),
        None => Q::from_integer(text.parse::<BigInt>().unwrap()),
    }
}

fn q(n: i64) -> Q {
    Q::from_integer(BigInt::from(n))
}

/// `v` rounded half up to `places` decimals, as tally writes it (thousands grouped).
fn decimal(v: &Q, places: u32) -> String {
    let scale = BigInt::from(10).pow(places);
    let n = (v * Q::from_integer(scale.clone()) + Q::new(1.into(), 2.into())).floor().to_integer();
    let (whole, frac) = (&n / &scale, &n % &scale);
    let whole = grouped(&whole.to_string());
    if places == 0 { whole } else { format!("{whole}.{:0>width$}", frac.to_string(), width = places as usize) }
}

fn grouped(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether the SVG has a text element reading exactly `words`.
fn shows(svg: &str, words: &str) -> bool {
    svg.contains(&format!(">\n{words}\n</text>"))
}

#[test]
fn every_kind_of_chart_is_the_reviewed_svg_and_the_committed_picture() {
    for (kind, args) in CHARTS {
        let svg = plot(kind, args);
        roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{kind}: not well-formed XML: {e}"));
        snapshot(&format!("plot_{kind}"), &svg);
        let picture = std::fs::read_to_string(format!("{}/docs/plots/{kind}.svg", env!("CARGO_MANIFEST_DIR")));
        assert_eq!(
            picture.ok().as_deref(),
            Some(svg.as_str()),
            "docs/plots/{kind}.svg is stale: tally plot {kind} {} --output docs/plots/{kind}.svg",
            args.join(" ")
        );
    }
}

#[test]
fn the_same_chart_is_the_same_bytes_and_names_no_path_or_time() {
    for (kind, args) in CHARTS {
        let (first, second) = (plot(kind, args), plot(kind, args));
        assert_eq!(first, second, "{kind} differs between two runs");
        for path in [env!("CARGO_MANIFEST_DIR"), "/tmp", "/root", "/home", "file:"] {
            assert!(!first.contains(path), "{kind} names a path: {path}");
        }
        let bytes = first.as_bytes();
        let clock = bytes.windows(5).any(|w| w[2] == b':' && [0, 1, 3, 4].iter().all(|i| w[*i].is_ascii_digit()));
        assert!(!clock, "{kind} holds a time of day");
    }
}

#[test]
fn the_largest_batch_marked_is_batch_max_for_each_memory_reading() {
    let options = args("memory-vs-batch");
    let svg = plot("memory-vs-batch", &options);
    let at = |b: &str| json("derive", &[options.as_slice(), &["--set", b]].concat());
    let (one, two) = (at("B=1"), at("B=2"));
    let (m1, m2) = (value(&one, "memory.total"), value(&two, "memory.total"));
    let (a, b) = (&m2 - &m1, &m1 - (&m2 - &m1));
    assert!(svg.contains(&format!("a = {} bytes per sequence and b = {} bytes", decimal(&a, 0), decimal(&b, 0))));
    let giga = q(1_000_000_000);
    for (name, budget) in [("batch.max", q(80_000_000_000)), ("batch.max.binary", q(80 << 30))] {
        let n = value(&one, name);
        // ⌊(budget − b)/a⌋, and the memory there, as the mark says.
        assert_eq!(n, ((&budget - &b) / &a).floor());
        let memory = (&a * &n + &b) / &giga;
        assert!(shows(&svg, &format!("{name} = {} ({} GB)", decimal(&n, 0), decimal(&memory, 1))), "{name} = {n}");
    }
    assert!(shows(&svg, "80GB: 80.0 GB") && shows(&svg, "80GiB: 85.9 GB"));
    assert!(svg.contains("training memory (GB, 10⁹ bytes)") && svg.contains("batch size B (sequences)"));
}

/// The shares of the components big enough to carry their label, as `tally derive` gives them.
fn shares(doc: &Value) -> Vec<String> {
    let total = value(doc, "flops.forward");
    doc["quantities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["name"].as_str().unwrap().starts_with("flops.forward."))
        .map(|entry| value(doc, entry["name"].as_str().unwrap()) / &total * q(100))
        .filter(|share| *share >= q(6))
        .map(|share| format!("{}%", decimal(&share, 1)))
        .collect()
}

#[test]
fn shares_are_each_components_forward_flops_over_the_whole() {
    let svg = plot("shares-vs-size", &[]);
    for preset in ["gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl"] {
        assert!(shows(&svg, preset));
        for share in shares(&json("derive", &["--model", preset])) {
            assert!(shows(&svg, &share), "{preset}: {share}");
        }
    }
    let svg = plot("shares-vs-context", &args("shares-vs-context"));
    for t in ["256", "4096", "65536"] {
        let doc = json("derive", &["--model", "gpt2-xl", "--set", &format!("T={t}")]);
        let labels = shares(&doc);
        assert!(labels.len() >= 2);
        for share in labels {
            assert!(shows(&svg, &share), "T = {t}: {share}");
        }
    }
    assert!(svg.contains("share of forward FLOPs (%)") && svg.contains("context length T (tokens)"));
}

#[test]
fn training_time_is_time_training_at_each_mfu_and_scales_with_the_gpus() {
    let options = args("time-vs-mfu");
    let days = value(&json("derive", &options), "time.training") / q(86_400);
    let svg = plot("time-vs-mfu", &options);
    assert!(shows(&svg, &format!("U = 0.5 (--mfu): {} days", decimal(&days, 1))), "{days}");
    assert!(svg.contains("training time (days)") && svg.contains("R = 989.4 TFLOP/s"));
    // Data parallel with the all-reduce overlapped: (S/N) × gpu.time.step is time.training / N,
    // so the chart's two curves meet; the micro-batch stays the one-GPU batch.
    let base = ["--model", "gpt2-xl", "--precision", "bf16", "--hardware", "h100-sxm", "--set", "B=8"];
    let one = value(&json("derive", &base), "time.training");
    for n in [1i64, 8, 64] {
        let dp = format!("dp={n}");
        let doc = json("derive", &[base.as_slice(), &["--parallel", &dp, "--micro-batch-size", "8"]].concat());
        assert_eq!(q(400_000) / q(n) * value(&doc, "gpu.time.step"), &one / q(n), "N = {n}");
    }
    let svg = plot("time-vs-gpus", &args("time-vs-gpus"));
    assert!(svg.contains("GPUs N (data-parallel degree)") && shows(&svg, "1,024"));
}

#[test]
fn gpu_memory_bars_are_the_per_gpu_terms_of_each_layout() {
    let options = args("gpu-memory");
    let svg = plot("gpu-memory", &options);
    let common = &options[..options.len() - 2];
    let giga = q(1_000_000_000);
    for layout in ["dp=4,tp=2", "dp=2,tp=2,pp=2"] {
        let doc = json("derive", &[common, &["--parallel", layout]].concat());
        assert!(shows(&svg, &format!("{} GB", decimal(&(value(&doc, "gpu.memory.total") / &giga), 1))), "{layout}");
        for term in ["optimizer", "activations"] {
            let gb = value(&doc, &format!("gpu.memory.{term}")) / &giga;
            assert!(shows(&svg, &decimal(&gb, 1)), "{layout} {term}: {gb}");
        }
    }
    assert!(svg.contains("memory per GPU (GB, 10⁹ bytes)") && shows(&svg, "80GB: 80.0 GB"));
}

#[test]
fn roofline_points_are_the_serve_derivation_of_each_phase() {
    let svg = plot("roofline", &args("roofline"));
    for b in [1u64, 8, 64, 512] {
        let doc =
            json("serve", &["--model", "llama/llama-3-8b", "--hardware", "h100-sxm", "--concurrency", &b.to_string()]);
        let rate = value(&doc, "serve.decode.flops") / value(&doc, "serve.decode.time") / q(1_000_000_000_000);
        let places = if rate >= q(100) {
            0
        } else if rate >= q(10) {
            1
        } else {
            2
        };
        assert!(shows(&svg, &format!("B = {b}: {} TFLOP/s", decimal(&rate, places))), "B = {b}: {rate}");
        // Decode is memory-bound here: on the roof's slope, under the ridge.
        assert!(value(&doc, "serve.decode.flops") / value(&doc, "serve.decode.bytes") < value(&doc, "serve.ridge"));
    }
    // 989.4 TFLOP/s over 3.35 TB/s.
    assert!(shows(&svg, &format!("ridge R/β = {} FLOP/byte", decimal(&(q(9894) / q(335) * q(10)), 1))));
    assert!(svg.contains("arithmetic intensity (FLOP/byte)") && svg.contains("attainable performance (FLOP/s)"));
}

#[test]
fn output_is_written_to_the_file_atomically_as_it_would_be_printed() {
    let dir = scratch("plot-output");
    let path = dir.join("chart.svg");
    let printed = plot("time-vs-mfu", &[]);
    for _ in 0..2 {
        let out = tally().args(["plot", "time-vs-mfu", "--output"]).arg(&path).output().unwrap();
        assert!(out.status.success() && out.stdout.is_empty());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), printed);
    }
    let leftovers = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file is left behind");
    let out = tally().args(["plot", "roofline", "--output"]).arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inputs_a_chart_cannot_use_exit_2_with_a_message() {
    let cases: [(&[&str], &str); 15] = [
        (&["pie"], "memory-vs-batch"),
        (&["memory-vs-batch", "--model", "gpt9"], "unknown model"),
        (&["shares-vs-context", "--range", "5..5"], "the range is empty"),
        (&["time-vs-gpus", "--range", "a..b"], "is not a number"),
        (&["time-vs-mfu", "--range", "0..2"], "an MFU is a fraction"),
        (&["roofline", "--range", "0.5,2"], "positive whole numbers"),
        (
            &["gpu-memory", "--model", "gpt2-xl", "--layouts", "dp=2,tp=2"],
            "25 attention heads (A) do not split over tp=2",
        ),
        (&["gpu-memory", "--layouts", "dp=2,pp=5"], "48 layers (L) do not split over pp=5"),
        (&["gpu-memory", "--layouts", ";"], "give 1 to 16 layouts"),
        (&["memory-vs-batch", "--set", "B=4"], "varies the batch size B itself"),
        (&["memory-vs-batch", "--layouts", "dp=8"], "--layouts is for `tally plot gpu-memory` only"),
        (&["shares-vs-size", "--range", "1..2"], "--range has no meaning for shares-vs-size"),
        (&["time-vs-gpus", "--parallel", "dp=2"], "leave out --parallel"),
        (&["shares-vs-size", "--presets", "gpt2-huge"], "gpt2-huge"),
        (&["roofline", "--kv-precision", "fp5"], "fp5"),
    ];
    for (args, message) in cases {
        let out = tally().arg("plot").args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: expected `{message}` in\n{stderr}");
        assert!(!stderr.contains("panicked") && out.stdout.is_empty(), "{args:?}");
    }
}

//! Training on many GPUs: the ZeRO conventions against the public figures (the paper, DeepSpeed's
//! documentation and its current estimator code), Megatron's bytes per parameter, Korthikanti et
//! al.'s five per-layer activation forms from the per-op rules, and the planner.

use super::common::{snapshot, tally};
use std::collections::BTreeMap;
use tally::algebra::worker::{WaitOptions, exclusive};
use tally::algebra::{self, Engine, Expr, Rational};
use tally::facts::Facts;

/// A ZeRO convention's model states for one stage, at P parameters over N GPUs, mixed precision
/// (w = 2, g = 2, k = 12 bytes per parameter), largest layer `largest`.
fn model_states(convention: &str, stage: u8, p: i64, n: i64, largest: i64) -> Rational {
    let data = Facts::builtin();
    let c = data.zero.iter().find(|c| c.name == convention).unwrap();
    let values: BTreeMap<String, Rational> =
        [("P", p), ("N", n), ("w", 2), ("g", 2), ("k", 12), ("largest", largest), ("L1", 0)]
            .iter()
            .map(|(k, v)| (format!("zero_{k}"), Rational::from_integer((*v).into())))
            .collect();
    let e: Expr = match &c.terms {
        Some(terms) => Expr::sum(terms.iter().map(|t| t[stage as usize].clone()).collect()),
        None => c.total[&stage].clone(),
    };
    algebra::evaluate(&e, &values).unwrap()
}

fn gb(bytes: &Rational, unit: f64) -> String {
    format!("{:.2}", num_traits::ToPrimitive::to_f64(bytes).unwrap() / unit)
}

#[test]
fn zero_paper_figures_for_7_5_billion_parameters_on_64_gpus() {
    let psi = 7_500_000_000;
    let per_gpu: Vec<String> = (0..=3).map(|s| gb(&model_states("paper", s, psi, 64, 0), 1e9)).collect();
    // The paper's Figure 1: 120 GB, 31.4 GB, 16.6 GB, 1.9 GB.
    assert_eq!(per_gpu, vec!["120.00", "31.41", "16.64", "1.88"]);
}

#[test]
fn deepspeed_documented_and_current_estimates_for_t5_3b_on_8_gpus() {
    let (psi, largest) = (2_851_000_000, 32_128 * 1_024);
    let gib = (1u64 << 30) as f64;
    // Documented: 15.93 GiB (ZeRO-2) and 6.10 GiB (ZeRO-3).
    assert_eq!(gb(&model_states("deepspeed-docs", 2, psi, 8, largest), gib), "15.93");
    assert_eq!(gb(&model_states("deepspeed-docs", 3, psi, 8, largest), gib), "6.10");
    // The current code: 11.28 GiB for ZeRO-2 (what its users report); the paper: 9.96 GiB.
    assert_eq!(gb(&model_states("deepspeed-code", 2, psi, 8, largest), gib), "11.28");
    assert_eq!(gb(&model_states("paper", 2, psi, 8, largest), gib), "9.96");
}

/// Bytes of model states per parameter on one GPU, from the derivation.
fn bytes_per_parameter(extra: &[&str]) -> Rational {
    let mut args = vec!["derive", "--precision", "bf16", "--layout", "mixed-fp32-grads", "--format", "json"];
    args.extend(extra);
    let out = tally().args(&args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let value = |name: &str| {
        let q = doc["quantities"].as_array().unwrap().iter().find(|q| q["name"] == name).unwrap();
        let (n, d) = q["value"].as_str().unwrap().split_once('/').unwrap_or((q["value"].as_str().unwrap(), "1"));
        Rational::new(n.parse().unwrap(), d.parse().unwrap())
    };
    value("gpu.memory.model_states") / value("gpu.params")
}

#[test]
fn megatron_bytes_per_parameter_with_and_without_the_distributed_optimizer() {
    assert_eq!(bytes_per_parameter(&["--parallel", "dp=8"]), Rational::from_integer(18.into()));
    assert_eq!(
        bytes_per_parameter(&["--parallel", "dp=8", "--distributed-optimizer"]),
        Rational::new(15.into(), 2.into()),
        "6 + 12/d at d = 8"
    );
}

#[test]
fn korthikanti_table_2_per_layer_forms_come_out_of_the_rules() {
    use tally::ops::ActivationConvention;
    use tally::quantity::memory::{ActivationSettings, recomputed_stage_bytes, stage_tensors};
    use tally::quantity::parallel::per_gpu;
    exclusive(&WaitOptions::default(), |engine: &Engine| {
        let selection = Facts::builtin().models.select("gpt2/small").unwrap().unwrap();
        let model = &selection.model;
        let layer = tally::quantity::layer_stage(model).unwrap();
        let read = |t: &str| algebra::parse(t, &algebra::any_symbol).unwrap();
        let settings = |selective: bool| ActivationSettings {
            convention: ActivationConvention::Korthikanti,
            recompute: false,
            flash: false,
            bytes: 2,
            statistics_bytes: 4,
            no_dropout: false,
            selective,
        };
        // s = T, b = b (the micro-batch), h = H, a = A; GPT-2's MLP is F = 4H; no context split.
        let form = |selective: bool, sp: bool| {
            per_gpu(stage_tensors(model, layer, settings(selective)), sp).substitute(&|s| match s {
                "F" => Some(read("4*H")),
                "c" => Some(Expr::one()),
                _ => None,
            })
        };
        let sbh = "T*b*H";
        for (selective, sp, expected) in [
            (false, false, format!("{sbh}*(10 + 24/t + 5*A*T/(H*t))")),
            (false, true, format!("{sbh}*(34/t + 5*A*T/(H*t))")),
            (true, false, format!("{sbh}*(10 + 24/t)")),
            (true, true, format!("34*{sbh}/t")),
        ] {
            let got = form(selective, sp);
            assert!(
                engine.equal(&got, &read(&expected)).unwrap(),
                "{selective} {sp}: {}",
                algebra::print(&got, algebra::Notation::Unicode)
            );
        }
        // Without tensor parallelism (t = 1): sbh(34 + 5as/h).
        let plain = form(false, false).substitute(&|s| (s == "t").then(Expr::one));
        assert!(engine.equal(&plain, &read(&format!("{sbh}*(34 + 5*A*T/H)"))).unwrap());
        // Full recomputation keeps the layer input: 2sbh.
        let full = recomputed_stage_bytes(layer, settings(false)).substitute(&|s| (s == "B").then(|| Expr::sym("b")));
        assert!(engine.equal(&full, &read(&format!("2*{sbh}"))).unwrap());
    })
    .unwrap();
}

#[test]
fn the_planner_lists_layouts_that_fit_by_their_own_breakdown() {
    let args = [
        "plan",
        "--model",
        "llama-3-70b",
        "--gpus",
        "64",
        "--hardware",
        "h100-sxm",
        "--seq",
        "8192",
        "--global-batch",
        "1024",
        "--precision",
        "bf16",
        "--layout",
        "mixed",
    ];
    let out = tally().args(args).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let budget: u128 = plan["budget"].as_str().unwrap().parse().unwrap();
    let layouts = plan["layouts"].as_array().unwrap();
    assert_eq!(layouts.len(), 10);
    let mut previous = 0.0;
    for l in layouts {
        let total: u128 = l["memory_total"].as_str().unwrap().parse().unwrap();
        let terms: u128 =
            l["memory"].as_object().unwrap().values().map(|v| v.as_str().unwrap().parse::<u128>().unwrap()).sum();
        assert!(total <= budget, "{l}");
        assert!(terms.abs_diff(total) <= 4, "the terms add up to the total: {l}");
        let gpus = ["dp", "tp", "pp", "cp"].iter().map(|k| l[k].as_u64().unwrap()).product::<u64>();
        assert_eq!(gpus, 64);
        let batch =
            l["dp"].as_u64().unwrap() * l["micro_batches"].as_u64().unwrap() * l["micro_batch_size"].as_u64().unwrap();
        assert_eq!(batch, 1024);
        let seconds = l["step_seconds"].as_f64().unwrap();
        assert!(seconds >= previous, "fastest first");
        previous = seconds;
    }
    assert!(
        plan["rejected"].as_array().unwrap().iter().any(|r| r["reason"].as_str().unwrap().contains("crosses nodes"))
    );
    snapshot("plan_llama_3_70b_64_h100_json", &String::from_utf8(out.stdout).unwrap());
    let text = tally().args(args).output().unwrap();
    snapshot("plan_llama_3_70b_64_h100_text", &String::from_utf8(text.stdout).unwrap());
}

/// The per-GPU quantities of one derivation, by name: exact value (None when a verdict stands instead).
fn per_gpu(extra: &[&str]) -> BTreeMap<String, Option<Rational>> {
    let mut args = vec!["derive", "--model", "llama-3-70b", "--precision", "bf16", "--layout", "mixed"];
    args.extend(["--hardware", "h100", "--activations", "korthikanti", "--attention-kernel", "flash"]);
    args.extend(["--sequence-parallel", "--micro-batches", "4", "--format", "json"]);
    args.extend(extra);
    let out = tally().args(&args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["quantities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["name"].as_str().unwrap().starts_with("gpu."))
        .map(|q| {
            let value = q["value"].as_str().map(|v| {
                let (n, d) = v.split_once('/').unwrap_or((v, "1"));
                Rational::new(n.parse().unwrap(), d.parse().unwrap())
            });
            (q["name"].as_str().unwrap().to_string(), value)
        })
        .collect()
}

#[test]
fn the_inverse_boundaries_are_where_the_step_stops_fitting() {
    let budget = Rational::from_integer(80_000_000_000u64.into());
    let fits = |q: &BTreeMap<String, Option<Rational>>| q["gpu.memory.total"].clone().unwrap() <= budget;
    let cases = [
        ("1", "dp=8,tp=8,pp=1", "none"),
        ("3", "dp=4,tp=4,pp=2", "none"),
        ("2", "dp=2,tp=8,pp=4", "none"),
        ("3", "dp=8,tp=4,pp=2", "full"),
        ("1", "dp=2,tp=8,pp=4", "selective"),
    ];
    for (zero, layout, recompute) in cases {
        let at = |dp: &str, b: &str| {
            let layout = layout.replacen(&layout[..layout.find(',').unwrap()], &format!("dp={dp}"), 1);
            per_gpu(&["--parallel", &layout, "--zero", zero, "--micro-batch-size", b, "--recompute", recompute])
        };
        let here = at(&layout[3..layout.find(',').unwrap()], "1");
        // The smallest d fits and d − 1 does not (d_min = 1 only needs to fit).
        let d_min = here["gpu.dp.min"].clone().expect("a smallest d").to_integer().to_string();
        assert!(fits(&at(&d_min, "1")), "zero {zero} {layout}: d = {d_min} should fit");
        if d_min != "1" {
            let below = (d_min.parse::<u32>().unwrap() - 1).to_string();
            assert!(!fits(&at(&below, "1")), "zero {zero} {layout}: d = {below} should not fit");
        }
        // The largest micro-batch fits and one more does not.
        if let Some(b_max) = here["gpu.micro_batch.max"].clone() {
            let b_max = b_max.to_integer().to_string();
            let dp = &layout[3..layout.find(',').unwrap()];
            assert!(fits(&at(dp, &b_max)), "zero {zero} {layout}: b = {b_max} should fit");
            eprintln!("zero {zero} {layout} recompute {recompute}: d_min {d_min}, b_max {b_max}");
            let above = (b_max.parse::<u32>().unwrap() + 1).to_string();
            assert!(!fits(&at(dp, &above)), "zero {zero} {layout}: b = {above} should not fit");
        }
    }
}

#[test]
fn a_parallel_derivation_shows_its_per_gpu_section_and_the_inverse_boundaries() {
    let args = [
        "derive",
        "--model",
        "llama-3-70b",
        "--precision",
        "bf16",
        "--layout",
        "mixed",
        "--hardware",
        "h100",
        "--parallel",
        "dp=8,tp=8,pp=1",
        "--micro-batches",
        "4",
        "--zero",
        "1",
        "--sequence-parallel",
        "--activations",
        "korthikanti",
        "--attention-kernel",
        "flash",
    ];
    for format in ["text", "latex"] {
        let out = tally().args(args).args(["--format", format]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let doc = String::from_utf8(out.stdout).unwrap();
        let from = doc.find("Per GPU: dp=8").expect("a per-GPU section");
        snapshot(&format!("derive_llama_3_70b_parallel_{format}"), &doc[from..]);
    }
}

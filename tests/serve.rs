//! `tally serve`: weights and KV-cache memory, what fits, and prefill and decode on the roofline.
//! Every figure a snapshot shows is worked out again here with plain integer arithmetic from the
//! model's sizes (Llama 3 8B and 70B from their model cards) and the vendors' figures, and the
//! inputs tally cannot use exit 2 with a message.

use super::common::{scratch, snapshot, tally};
use num_bigint::BigInt;
use num_rational::BigRational;
use serde_json::Value;

type Q = BigRational;

fn q(n: u128) -> Q {
    Q::from_integer(BigInt::from(n))
}

/// Parses tally's exact value text (`123` or `p/q`).
fn exact(text: &str) -> Q {
    match text.split_once('/') {
        Some((p, d)) => Q::new(p.parse().unwrap(), d.parse().unwrap()),
        None => Q::from_integer(text.parse::<BigInt>().unwrap()),
    }
}

fn run(args: &[&str]) -> String {
    let out = tally().arg("serve").args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn quantity<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["quantities"].as_array().unwrap().iter().find(|q| q["name"] == name).unwrap_or_else(|| panic!("no {name}"))
}

fn value(doc: &Value, name: &str) -> Q {
    exact(quantity(doc, name)["value"].as_str().unwrap_or_else(|| panic!("{name} has no value")))
}

/// A Llama's sizes (model card): vocabulary, width, layers, heads, key/value heads, d_ff.
struct Llama {
    v: u128,
    h: u128,
    l: u128,
    a: u128,
    k: u128,
    f: u128,
}

impl Llama {
    const L3_8B: Llama = Llama { v: 128_256, h: 4096, l: 32, a: 32, k: 8, f: 14_336 };
    const L3_70B: Llama = Llama { v: 128_256, h: 8192, l: 80, a: 64, k: 8, f: 28_672 };

    fn kv_width(&self) -> u128 {
        self.k * self.h / self.a
    }

    /// Per layer: W_Q, W_K, W_V, W_O, W1, W3, W2 (the matrices a decode step reads).
    fn layer_matrices(&self) -> u128 {
        2 * self.h * self.h + 2 * self.h * self.kv_width() + 3 * self.h * self.f
    }

    /// Every parameter: embedding and LM head (untied), the layers with their two RMSNorm gains,
    /// the final RMSNorm.
    fn params(&self) -> u128 {
        2 * self.v * self.h + self.l * (self.layer_matrices() + 2 * self.h) + self.h
    }

    /// KV-cache bytes per token: K and V, every layer, `bytes` per element.
    fn kv_per_token(&self, bytes: u128) -> u128 {
        2 * self.l * self.kv_width() * bytes
    }

    /// Weight elements one decode step reads: everything but the embedding table (a gather).
    fn read(&self) -> u128 {
        self.params() - self.v * self.h
    }

    /// Decode FLOPs of the weight matmuls, per sequence: 2 per weight of each matrix.
    fn matmul_flops(&self) -> u128 {
        2 * (self.l * self.layer_matrices() + self.v * self.h)
    }

    /// Attention FLOPs per sequence: QKᵀ and AV over T positions, every head, every layer.
    fn attention_flops(&self, t: u128) -> u128 {
        self.l * 2 * (2 * self.a * t * (self.h / self.a))
    }
}

const H100_PEAK_BF16: u128 = 989_400_000_000_000;
const H100_BANDWIDTH: u128 = 3_350_000_000_000;
const H200_BANDWIDTH: u128 = 4_800_000_000_000;

#[test]
fn llama_3_8b_on_an_h100_in_bf16_as_worked_out_by_hand() {
    let args = ["--model", "llama-3-8b", "--hardware", "h100-sxm", "--precision", "bf16", "--concurrency", "16"];
    let text = run(&args);
    snapshot("serve_llama_3_8b_h100_bf16_text", &text);
    let json = run(&[&args[..], &["--format", "json"]].concat());
    snapshot("serve_llama_3_8b_h100_bf16_json", &json);
    let doc: Value = serde_json::from_str(&json).unwrap();
    let m = Llama::L3_8B;
    let (t, b) = (8192u128, 16u128);
    let (peak, bandwidth) = (q(H100_PEAK_BF16), q(H100_BANDWIDTH));

    // Weights: 8,030,261,248 parameters (Meta's count), 2 bytes each, all resident.
    assert_eq!(m.params(), 8_030_261_248);
    assert_eq!(value(&doc, "params"), q(m.params()));
    assert_eq!(value(&doc, "serve.memory.weights"), q(2 * m.params()));
    assert_eq!(value(&doc, "serve.memory.weights_read"), q(2 * m.read()));
    // KV cache: 2·L·K·(H/A)·2 = 131,072 bytes per token.
    assert_eq!(m.kv_per_token(2), 131_072);
    assert_eq!(value(&doc, "serve.kv_cache.per_token"), q(131_072));
    assert_eq!(value(&doc, "serve.kv_cache"), q(b * t * 131_072));

    // The largest B at T and the largest T at B, both readings of 80 GB, by integer division.
    for (suffix, budget) in [("", 80_000_000_000u128), (".binary", 80u128 << 30)] {
        let spare = budget - 2 * m.params();
        let b_max = spare / (t * 131_072);
        let t_max = spare / (b * 131_072);
        assert_eq!(value(&doc, &format!("serve.concurrency.max{suffix}")), q(b_max));
        assert_eq!(value(&doc, &format!("serve.context.max{suffix}")), q(t_max));
        // The boundary: b_max fits, one more sequence does not.
        assert!(2 * m.params() + b_max * t * 131_072 <= budget);
        assert!(2 * m.params() + (b_max + 1) * t * 131_072 > budget);
    }
    assert_eq!(value(&doc, "serve.concurrency.max"), q(59));
    assert_eq!(value(&doc, "serve.concurrency.max.binary"), q(65));

    // Prefill of one sequence: the matmuls are compute-bound, the RMSNorm gains memory-bound.
    let prefill_flops = t * (m.matmul_flops() + m.attention_flops(t));
    assert_eq!(value(&doc, "serve.prefill.flops"), q(prefill_flops));
    let norms = (2 * m.l + 1) * m.h * 2;
    let prefill = q(prefill_flops) / peak.clone() + q(norms) / bandwidth.clone();
    assert_eq!(value(&doc, "serve.prefill.time"), prefill);
    assert_eq!(value(&doc, "serve.prefill.tokens_per_second"), q(t) / prefill);

    // Decode at B = 16 with T cached: every op is memory-bound (16 < the ridge of 295 FLOPs per
    // byte), so the step takes the weights and the cache at the bandwidth.
    let bytes = 2 * m.read() + b * t * 131_072;
    assert_eq!(value(&doc, "serve.decode.bytes"), q(bytes));
    assert_eq!(value(&doc, "serve.decode.flops"), q(b * (m.matmul_flops() + m.attention_flops(t))));
    let decode = q(bytes) / bandwidth.clone();
    assert_eq!(value(&doc, "serve.decode.time"), decode);
    assert_eq!(value(&doc, "serve.decode.tokens_per_second"), q(b) / decode);

    // Where decode turns compute-bound: the matmuls at ⌈Q_w·R/(β·c_w)⌉ = 296; the attention at
    // A/K = 4 FLOPs per byte of bf16 cache, at every B; the step never at T = 8,192.
    let ridge = (q(2 * m.read()) * peak.clone() / (bandwidth.clone() * q(m.matmul_flops()))).ceil();
    assert_eq!(ridge, q(296));
    assert_eq!(value(&doc, "serve.decode.crossover.weights"), ridge);
    assert_eq!(value(&doc, "serve.decode.attention_intensity"), q(m.a / m.k));
    assert_eq!(value(&doc, "serve.ridge"), peak / bandwidth);
    let step = quantity(&doc, "serve.decode.crossover.step");
    assert!(step["value"].is_null() && step["display"].as_str().unwrap().starts_with("never"), "{step}");
    for shown in [
        "m_kv = 4KLH/A",
        "= 131,072 byte/token ≈ 131 kB/token",
        "= 59 sequences",
        "= 30,488 tokens",
        "≈ 9.61 ms",
        "≈ 1,665.1 tokens/s",
        "= 296 sequences",
        "memory 3.35 TB/s",
    ] {
        assert!(text.contains(shown), "{shown}: {text}");
    }
}

#[test]
fn llama_3_70b_on_an_h200_with_an_fp8_cache_does_not_fit_in_bf16_weights() {
    let args = ["--model", "llama-3-70b", "--hardware", "h200", "--precision", "bf16", "--kv-precision", "fp8"];
    let text = run(&args);
    snapshot("serve_llama_3_70b_h200_fp8_kv_text", &text);
    let json = run(&[&args[..], &["--format", "json"]].concat());
    snapshot("serve_llama_3_70b_h200_fp8_kv_json", &json);
    let doc: Value = serde_json::from_str(&json).unwrap();
    let m = Llama::L3_70B;
    assert_eq!(m.params(), 70_553_706_496);
    // 141,107,412,992 bytes of bf16 weights: 107,412,992 more than the H200's 141 GB.
    assert_eq!(value(&doc, "serve.memory.weights"), q(141_107_412_992));
    // The fp8 cache: 2·L·K·(H/A)·1 = 163,840 bytes per token.
    assert_eq!(m.kv_per_token(1), 163_840);
    assert_eq!(value(&doc, "serve.kv_cache.per_token"), q(163_840));
    for name in ["serve.concurrency.max", "serve.context.max"] {
        let shown = quantity(&doc, name)["display"].as_str().unwrap();
        assert_eq!(shown, "does not fit: the weights alone need 107 MB (102 MiB) more", "{name}");
    }
    assert!(!json.contains("serve.concurrency.max.binary"), "the H200's data reads 141GB one way");
    // Decode at B = 1 is still worked out: weights and cache at 4.8 TB/s.
    let bytes = 2 * m.read() + 8192 * 163_840;
    assert_eq!(value(&doc, "serve.decode.time"), q(bytes) / q(H200_BANDWIDTH));
    // The attention reads 1 byte per cached element: 2A/K = 16 FLOPs per byte.
    assert_eq!(value(&doc, "serve.decode.attention_intensity"), q(2 * m.a / m.k));
    assert!(text.contains("does not fit 141GB (decimal, 10⁹ bytes per GB): 1.45 GB (1.35 GiB) over"), "{text}");
}

#[test]
fn llama_3_70b_in_fp8_fits_an_h200_and_the_boundary_holds() {
    let doc: Value = serde_json::from_str(&run(&[
        "--model",
        "llama-3-70b",
        "--hardware",
        "h200",
        "--precision",
        "fp8",
        "--context",
        "32768",
        "--concurrency",
        "4",
        "--format",
        "json",
    ]))
    .unwrap();
    let m = Llama::L3_70B;
    let (budget, t, b, kv) = (141_000_000_000u128, 32_768u128, 4u128, m.kv_per_token(1));
    let spare = budget - m.params();
    assert_eq!(value(&doc, "serve.concurrency.max"), q(spare / (t * kv)));
    assert_eq!(value(&doc, "serve.context.max"), q(spare / (b * kv)));
    assert_eq!(spare / (t * kv), 13);
    // fp8 weights and fp8 compute: the ridge is the fp8 peak over the bandwidth.
    assert_eq!(value(&doc, "serve.ridge"), q(1_978_900_000_000_000) / q(H200_BANDWIDTH));
}

#[test]
fn at_a_short_context_the_whole_decode_step_turns_compute_bound() {
    let doc: Value = serde_json::from_str(&run(&[
        "--model",
        "llama-3-8b",
        "--hardware",
        "h100-sxm",
        "--context",
        "128",
        "--concurrency",
        "512",
        "--format",
        "json",
    ]))
    .unwrap();
    let m = Llama::L3_8B;
    let (peak, bandwidth) = (q(H100_PEAK_BF16), q(H100_BANDWIDTH));
    // B·c/R = (Q_w + B·q_kv)/β  ⇒  B = Q_w·R/(β·c − R·q_kv), with c and q_kv per sequence.
    let c = q(m.matmul_flops() + m.attention_flops(128));
    let q_kv = q(128 * m.kv_per_token(2));
    let step = (q(2 * m.read()) * peak.clone() / (bandwidth * c - peak * q_kv)).ceil();
    assert_eq!(step, q(438));
    assert_eq!(value(&doc, "serve.decode.crossover.step"), step);
}

#[test]
fn a_cache_that_is_not_proportional_to_t_is_searched_exactly() {
    // A Llama whose W_K caches T·K·H/A elements per token: memory grows with T², so the linear
    // T_max is wrong and tally binds T again until it finds the boundary.
    let dir = scratch("serve-quadratic");
    let file = dir.join("quadratic.toml");
    std::fs::write(
        &file,
        "name = \"quadratic\"\nsummary = \"a cache that grows with T per token\"\nextends = \"llama\"\n\n\
         [[change]]\nop = \"W_K\"\nkv_cache = \"T*K*H/A\"\n",
    )
    .unwrap();
    let doc: Value = serde_json::from_str(&run(&[
        "--model",
        file.to_str().unwrap(),
        "--preset",
        "llama-3-8b",
        "--hardware",
        "h100-sxm",
        "--context",
        "1024",
        "--format",
        "json",
    ]))
    .unwrap();
    let m = Llama::L3_8B;
    // Bytes for one sequence of T tokens: per layer T·(T·K·H/A) for K and T·K·H/A for V, 2 bytes.
    let memory = |t: u128| 2 * m.params() + 2 * m.l * t * (t + 1) * m.kv_width();
    let budget = 80_000_000_000u128;
    let mut largest = 0;
    while memory(largest + 1) <= budget {
        largest += 1;
    }
    assert_eq!(value(&doc, "serve.context.max"), q(largest));
    assert!(memory(largest) <= budget && memory(largest + 1) > budget);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_format_renders_and_the_hardware_list_names_the_bandwidth() {
    for format in ["markdown", "latex", "html"] {
        let out = run(&["--model", "gpt2/small", "--flops", "all", "--format", format]);
        assert!(out.contains("t_") || out.contains("t_{"), "{format}");
    }
    let list = tally().args(["list", "hardware"]).output().unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(list.contains("memory 3.35 TB/s") && list.contains("memory 4.8 TB/s"), "{list}");
}

#[test]
fn inputs_serve_cannot_use_exit_2_with_a_message() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/data");
    for (args, message) in [
        (vec!["--model", "nope"], "unknown model `nope`"),
        (vec!["--context", "0"], "--context is a positive whole number"),
        (vec!["--concurrency", "0"], "--concurrency is a positive whole number"),
        (vec!["--context", "-5"], "unexpected argument"),
        (vec!["--kv-precision", "fp4"], "known: fp32, tf32, bf16, fp16, fp8"),
        (vec!["--hardware", "mi300x", "--data", data], "has no memory bandwidth"),
        (vec!["--hardware", "a100", "--precision", "fp8"], "has no fp8 peak"),
        (vec!["--set", "B=4"], "give the concurrency with --concurrency"),
    ] {
        let out = tally().arg("serve").args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
#[ignore = "needs pdflatex; run with --ignored (CI does)"]
fn serve_documents_compile_as_latex() {
    let dir = scratch("serve-latex");
    for (name, model) in [("llama", "llama-3-8b"), ("gpt2", "gpt2/small")] {
        let out = tally().args(["serve", "--model", model, "--format", "latex", "--standalone"]).output().unwrap();
        assert!(out.status.success());
        std::fs::write(dir.join(format!("{name}.tex")), &out.stdout).unwrap();
        let tex = std::process::Command::new("pdflatex")
            .args(["-interaction=nonstopmode", "-halt-on-error", &format!("{name}.tex")])
            .current_dir(&dir)
            .output()
            .expect("pdflatex is installed");
        assert!(tex.status.success(), "{name}.tex does not compile:\n{}", String::from_utf8_lossy(&tex.stdout));
    }
    std::fs::remove_dir_all(dir).unwrap();
}

//! Derivations computed in-process: the numbers DESIGN.md requires, from the rules.

use tally::algebra::worker::{WaitOptions, exclusive};
use tally::algebra::{self, Engine, Rational};
use tally::derivation::{self, Document};
use tally::facts::Facts;
use tally::options::Options;
use tally::quantity::memory::{ActivationSettings, activation_bytes, op_activation_bytes};
use tally::session::{DeriveRequest, Session, SessionOptions};

fn derive_with(model: &str, sets: &[(&str, i64)], options: Options) -> Document {
    let session = Session::open(SessionOptions::default()).unwrap();
    let sets = sets.iter().map(|(s, v)| format!("{s}={v}")).collect();
    session.derive(&DeriveRequest { model: model.into(), sets, options, ..DeriveRequest::default() }).unwrap()
}

fn derive(model: &str, sets: &[(&str, i64)]) -> Document {
    derive_with(model, sets, Options::default())
}

fn settings(convention: tally::ops::ActivationConvention, flash: bool) -> ActivationSettings {
    ActivationSettings {
        convention,
        recompute: false,
        flash,
        bytes: 2,
        statistics_bytes: 4,
        no_dropout: false,
        selective: false,
    }
}

fn value(doc: &Document, name: &str) -> String {
    let q = doc.quantities.iter().find(|q| q.name == name).unwrap_or_else(|| panic!("no quantity {name}"));
    q.value.as_ref().expect("bound").to_string()
}

#[test]
fn gpt2_xl_reproduces_the_cs336_numbers() {
    let doc = derive("gpt2-xl", &[]);
    assert_eq!(value(&doc, "params"), "2127057600");
    assert_eq!(value(&doc, "bytes.params.fp32"), "8508230400");
    assert_eq!(value(&doc, "flops.forward"), "4513336524800");
    assert_eq!(value(&doc, "flops.forward_per_layer"), "90596966400");
    assert_eq!(value(&doc, "flops.forward.lm_head"), "164682137600");
}

#[test]
fn a_longer_context_changes_only_what_depends_on_t() {
    let doc = derive("gpt2-xl", &[("T", 16384)]);
    assert_eq!(value(&doc, "flops.forward"), "149522795724800");
    assert_eq!(value(&doc, "params"), "2127057600");
}

#[test]
fn the_parameter_closed_form_is_the_textbook_one_when_f_is_4h() {
    let doc = derive("gpt2-xl", &[]);
    let params = doc.quantities.iter().find(|q| q.name == "params").unwrap().closed.clone();
    exclusive(&WaitOptions::default(), move |engine: &Engine| {
        let read = |t: &str| algebra::parse(t, &algebra::any_symbol).unwrap();
        let with_f = params.substitute(&|s| (s == "F").then(|| read("4*H")));
        assert!(engine.equal(&with_f, &read("2*V*H + L*(16*H^2 + 2*H) + H")).unwrap());
        assert!(engine.equal(&params, &read("2*V*H + L*(4*H^2 + 3*H*F + 2*H) + H")).unwrap());
    })
    .unwrap();
}

/// Forward FLOPs by component, computed by hand from the textbook formulas (not from tally's rules):
/// attention projections 8TH², QKᵀ and AV 2T²H each, SwiGLU 6THF per layer; LM head 2THV.
fn hand_check(l: i64, h: i64) -> [i64; 5] {
    let (t, v, f) = (1024i64, 50257i64, 4 * h);
    [l * 8 * t * h * h, l * 2 * t * t * h, l * 2 * t * t * h, l * 6 * t * h * f, 2 * t * h * v]
}

#[test]
fn gpt2_small_medium_large_shares_match_a_hand_check_and_sum_to_one() {
    let components = ["attention_projections", "attention_scores", "attention_values", "ffn", "lm_head"];
    for (model, l, h) in [("gpt2-small", 12, 768), ("gpt2-medium", 24, 1024), ("gpt2-large", 36, 1280)] {
        let doc = derive(model, &[]);
        let expected = hand_check(l, h);
        let total: i64 = expected.iter().sum();
        assert_eq!(value(&doc, "flops.forward"), total.to_string(), "{model}");
        let mut share_sum = Rational::from_integer(0.into());
        for (component, want) in components.iter().zip(expected) {
            let got = value(&doc, &format!("flops.forward.{component}"));
            assert_eq!(got, want.to_string(), "{model} {component}");
            share_sum += Rational::new(want.into(), total.into());
        }
        assert_eq!(share_sum, Rational::from_integer(1.into()), "{model}");
    }
}

#[test]
fn shares_are_exact_fractions_of_the_total_and_equal_parts_have_equal_shares() {
    for model in ["gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl"] {
        let doc = derive(model, &[]);
        let table = doc
            .blocks
            .iter()
            .filter_map(|b| match b {
                derivation::Block::Table(t) if t.columns.iter().any(|(c, _)| c == "share") => Some(t),
                _ => None,
            })
            .next()
            .expect("a shares table");
        let cells: Vec<(Rational, Rational)> = table
            .rows
            .iter()
            .map(|r| match (&r.cells[2], r.cells.last()) {
                (derivation::Cell::Number(v), Some(derivation::Cell::Percent(share, 2))) => (v.clone(), share.clone()),
                other => panic!("value and share cells {other:?}"),
            })
            .collect();
        let total: Rational = cells.iter().map(|(v, _)| v.clone()).sum();
        for (value, share) in &cells {
            assert_eq!(*share, value / &total, "{model}");
        }
        let sum: Rational = cells.iter().map(|(_, s)| s.clone()).sum();
        assert_eq!(sum, Rational::from_integer(1.into()), "{model}: the shares add up to the whole");
    }
}

#[test]
fn closed_forms_keep_b_while_values_use_one_sequence() {
    let doc = derive("gpt2-xl", &[]);
    let flops = doc.quantities.iter().find(|q| q.name == "flops.forward").unwrap();
    assert!(flops.closed.symbols().contains(&"B".to_string()));
    let doubled = derive("gpt2-xl", &[("B", 2)]);
    assert_eq!(value(&doubled, "flops.forward"), "9026673049600");
}

#[test]
fn korthikanti_reproduces_34sbh_plus_5as2b_per_layer_symbolically() {
    use tally::ops::ActivationConvention;
    exclusive(&WaitOptions::default(), |engine: &Engine| {
        let selection = Facts::builtin().models.select("gpt2/small").unwrap().unwrap();
        let layer = tally::quantity::layer_stage(&selection.model).unwrap();
        let settings = settings(ActivationConvention::Korthikanti, false);
        let per_layer =
            tally::algebra::Expr::sum(layer.ops.iter().map(|op| op_activation_bytes(op, settings)).collect());
        let read = |t: &str| algebra::parse(t, &algebra::any_symbol).unwrap();
        // s = T, b = B, h = H, a = A; the MLP width is F = 4H in GPT-2.
        let with_f = per_layer.substitute(&|s| (s == "F").then(|| read("4*H")));
        assert!(
            engine.equal(&with_f, &read("34*T*B*H + 5*A*T^2*B")).unwrap(),
            "{}",
            algebra::print(&with_f, algebra::Notation::Unicode)
        );
    })
    .unwrap();
}

#[test]
fn flash_attention_keeps_no_t_squared_tensors() {
    use tally::ops::ActivationConvention;
    exclusive(&WaitOptions::default(), |engine: &Engine| {
        let selection = Facts::builtin().models.select("gpt2-xl").unwrap().unwrap();
        for convention in [ActivationConvention::Cs336, ActivationConvention::All, ActivationConvention::Korthikanti] {
            let settings = settings(convention, true);
            let terms = engine.terms(&activation_bytes(&selection.model, settings)).unwrap().unwrap();
            assert!(terms.iter().all(|t| t.powers.get("T").copied().unwrap_or(0) <= 1), "{convention:?}");
        }
    })
    .unwrap();
}

#[test]
fn published_parameter_counts_come_out_of_the_rules() {
    for (model, params) in [
        ("gpt2/small", "124439808"),
        ("gpt2/xl", "1557611200"),
        ("llama-2-7b", "6738415616"),
        ("llama/llama-2-70b", "68976648192"),
        ("llama-3-8b", "8030261248"),
        ("llama-3-70b", "70553706496"),
    ] {
        assert_eq!(value(&derive(model, &[]), "params"), params, "{model}");
    }
}

#[test]
fn llama_2_7b_kv_cache_in_bf16_at_4096_tokens_is_2_gib() {
    let options = Options { precision: "bf16".into(), ..Options::default() };
    let doc = derive_with("llama-2-7b", &[], options);
    assert_eq!(value(&doc, "memory.kv_cache"), "2147483648");
}

/// The per-layer and outside-the-layers bytes of the measured conventions, symbolically, for the
/// cs336-2025 model (N = B·T tokens, S = B·A·T² score elements, fp32): what harness/README.md
/// states from the measurements.
#[test]
fn torch_and_manual_reproduce_the_measured_formulas_symbolically() {
    use tally::ops::ActivationConvention;
    use tally::quantity::memory::stage_tensors;
    exclusive(&WaitOptions::default(), |engine: &Engine| {
        let selection = Facts::builtin().models.select("cs336-2025").unwrap().unwrap();
        let model = &selection.model;
        let read = |t: &str| algebra::parse(t, &algebra::any_symbol).unwrap();
        let expand = |t: &str| read(&t.replace('N', "(B*T)").replace('S', "(B*A*T^2)"));
        for (convention, layer, outside) in [
            (ActivationConvention::Torch, "4*(10*N*H + 2*N + S + 4*N*F)", "4*(3*N*H + N + N*V)"),
            (ActivationConvention::Manual, "4*(10*N*H + 2*N + 2*S + B*A*T + 5*N*F)", "4*(3*N*H + 2*N + 2*N*V)"),
        ] {
            let s = ActivationSettings { bytes: 4, ..settings(convention, false) };
            let bytes = |stage: &tally::model::Stage| {
                tally::algebra::Expr::sum(stage_tensors(model, stage, s).iter().map(|t| t.total()).collect())
            };
            let per_layer = bytes(tally::quantity::layer_stage(model).unwrap());
            let after = bytes(model.stages.last().unwrap());
            assert!(
                engine.equal(&per_layer, &expand(layer)).unwrap(),
                "{convention}: {}",
                algebra::print(&per_layer, algebra::Notation::Unicode)
            );
            assert!(
                engine.equal(&after, &expand(outside)).unwrap(),
                "{convention}: {}",
                algebra::print(&after, algebra::Notation::Unicode)
            );
        }
    })
    .unwrap();
}

/// FlashAttention drops the T² tensors but its backward still needs Q, K and V: Korthikanti's
/// 34sbh per layer stays, only 5as²b goes.
#[test]
fn korthikanti_with_flash_attention_keeps_34sbh_per_layer() {
    use tally::ops::ActivationConvention;
    exclusive(&WaitOptions::default(), |engine: &Engine| {
        let selection = Facts::builtin().models.select("gpt2/small").unwrap().unwrap();
        let layer = tally::quantity::layer_stage(&selection.model).unwrap();
        let s = ActivationSettings { statistics_bytes: 0, ..settings(ActivationConvention::Korthikanti, true) };
        let per_layer = tally::algebra::Expr::sum(layer.ops.iter().map(|op| op_activation_bytes(op, s)).collect());
        let read = |t: &str| algebra::parse(t, &algebra::any_symbol).unwrap();
        let with_f = per_layer.substitute(&|s| (s == "F").then(|| read("4*H")));
        assert!(
            engine.equal(&with_f, &read("34*T*B*H")).unwrap(),
            "{}",
            algebra::print(&with_f, algebra::Notation::Unicode)
        );
    })
    .unwrap();
}

/// Full recomputation reruns the blocks' forward pass, not the LM head's: the step is
/// 4·(blocks) + 3·(LM head) forward FLOPs (Narayanan et al.: 96BTLH²(1 + T/6H + V/16LH)).
#[test]
fn recomputation_does_not_recompute_the_lm_head() {
    let mut options = Options::default();
    options.set("recompute", "full").unwrap();
    let recomputed = derive_with("gpt2-xl", &[("B", 1)], options);
    let plain = derive("gpt2-xl", &[("B", 1)]);
    let v = |d: &Document, n: &str| value(d, n).parse::<i128>().unwrap();
    let (t, h, l, vocab) = (1024i128, 1600i128, 48i128, 50257i128);
    let blocks = l * 2 * t * (2 * t * h + 4 * h * h + 3 * h * 4 * h);
    assert_eq!(v(&plain, "flops.forward"), blocks + 2 * t * vocab * h);
    assert_eq!(v(&recomputed, "flops.step") - v(&plain, "flops.step"), blocks);
}

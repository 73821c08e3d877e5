//! tally's predictions against PyTorch, measured by harness/measure.py (tests/golden/torch/, 192
//! cases: four families, three sizes, B ∈ {1, 2}, T ∈ {16, 45}, library ops, SDPA and
//! hand-written ops, dropout on and off). The `torch` and `manual` activation conventions must give
//! the measured saved activation bytes exactly, per layer and outside the layers; dropout masks
//! must match where the mask is 1 byte; parameters and forward FLOPs must match everywhere.

use std::collections::BTreeMap;
use tally::algebra::{Expr, Rational, evaluate};
use tally::facts::Facts;
use tally::model::Origin;
use tally::options::Options;
use tally::quantity::memory::{ActivationSettings, stage_tensors};

struct Case {
    name: String,
    json: serde_json::Value,
}

fn cases() -> Vec<Case> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/torch");
    let mut out: Vec<Case> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| Case {
            name: p.file_stem().unwrap().to_string_lossy().into_owned(),
            json: serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn int(v: &serde_json::Value) -> Rational {
    Rational::from_integer(v.as_i64().expect("an integer").into())
}

/// Known layout effects tally does not model (harness/README.md §6): with B = 1, PyTorch saves a
/// view of a bigger (or smaller) storage instead of a copy. The difference from the copy rule, in
/// bytes per layer, as the harness measured it.
fn view_effect(case: &Case, sets: &BTreeMap<String, Rational>) -> Rational {
    let j = &case.json;
    let get = |s: &str| sets.get(s).cloned().unwrap_or_else(|| Rational::from_integer(0.into()));
    let (b, t, h, a) = (get("B"), get("T"), get("H"), get("A"));
    let n = &b * &t;
    let four = Rational::from_integer(4.into());
    let one = Rational::from_integer(1.into());
    let variant = j["label"].as_str().unwrap();
    if b != one {
        return Rational::from_integer(0.into());
    }
    match j["family"].as_str().unwrap() {
        "gpt2" if variant.starts_with("torch-sdpa") => &four * Rational::from_integer(2.into()) * &n * &h,
        "llama" if variant.starts_with("torch") && get("K") == one && a > one => {
            let kd = &h / &a;
            let per = &n * (&h - &kd);
            let copies = if variant.starts_with("torch-sdpa") { one.clone() } else { Rational::from_integer(2.into()) };
            -(four * copies * per)
        }
        _ => Rational::from_integer(0.into()),
    }
}

#[test]
fn torch_and_manual_conventions_equal_the_measured_saved_bytes() {
    let data = Facts::builtin();
    let mut checked = 0;
    let mut table: Vec<String> = Vec::new();
    for case in cases() {
        let j = &case.json;
        let selection = data.models.select(j["tally_model"].as_str().unwrap()).unwrap().unwrap();
        let mut options = Options::default();
        let convention = if j["variant"] == "manual" { "manual" } else { "torch" };
        options.set("activations", convention).unwrap();
        options.set("dropout", if j["dropout"].as_f64().unwrap() > 0.0 { "on" } else { "off" }).unwrap();
        let conventions = tally::resolve::conventions(&options, data).unwrap();
        let mut sets = conventions.bindings().unwrap();
        let mut given = BTreeMap::new();
        for (k, v) in j["tally_sets"].as_object().unwrap() {
            sets.push((k.clone(), int(v), Origin::Set));
            given.insert(k.clone(), int(v));
        }
        let bindings = selection.model.bind(selection.preset.as_ref(), &sets, &data.symbols).unwrap();
        let values = bindings.values();
        let saved: ActivationSettings = conventions.saved();
        let at = |e: &Expr| evaluate(e, &values).unwrap();
        let layers = int(&j["tally_sets"]["L"]);
        let (mut per_layer, mut outside, mut masks) =
            (Rational::from_integer(0.into()), Rational::from_integer(0.into()), Rational::from_integer(0.into()));
        for stage in &selection.model.stages {
            let repeat = at(&stage.repeat);
            for t in stage_tensors(&selection.model, stage, saved) {
                let bytes = at(&t.total());
                if t.kept_by.contains("dropout") || t.label.starts_with("mask of") {
                    masks += &repeat * &bytes;
                } else if stage.repeat != Expr::one() {
                    per_layer += bytes;
                } else {
                    outside += bytes;
                }
            }
        }
        let scope = &j["saved"]["activation_bytes_by_scope"];
        let measured_layer = int(&scope["layers"][0]);
        let measured_outside = int(&scope["post"]) + int(&scope["pre"]);
        let effect = view_effect(&case, &given);
        assert_eq!(
            &per_layer + &effect,
            measured_layer,
            "{}: per layer, tally {per_layer} (view effect {effect})",
            case.name
        );
        assert_eq!(outside, measured_outside, "{}: outside the layers", case.name);
        let total = &layers * &per_layer + &outside;
        assert_eq!(&total + &layers * &effect, int(&j["saved"]["activation_bytes"]), "{}", case.name);
        // Masks are 1 byte each in tally (CUDA's native_dropout, a hand-written bool mask); the
        // CPU F.dropout and SDPA's dropout measured 4.
        let label = j["label"].as_str().unwrap();
        if label.starts_with("torch-native") || label.starts_with("manual") {
            assert_eq!(masks, int(&j["saved"]["mask_bytes"]), "{}: dropout masks", case.name);
        }
        // Parameters and forward FLOPs, from the rules.
        let catalog = tally::quantity::Catalog::new(&selection.model, &conventions);
        assert_eq!(at(&catalog.raw("params").unwrap()), int(&j["params"]), "{}: params", case.name);
        assert_eq!(at(&catalog.raw("flops.forward").unwrap()), int(&j["flops"]["forward"]), "{}: FLOPs", case.name);
        assert_eq!(
            at(&catalog.raw("flops.backward").unwrap()),
            int(&j["flops"]["backward"]),
            "{}: backward",
            case.name
        );
        if j["size"] == "medium"
            && given["B"] == Rational::from_integer(2.into())
            && given["T"] == Rational::from_integer(45.into())
        {
            // The textbook lists beside the measured bytes, for the record (`-- --nocapture`).
            let measured = int(&j["saved"]["activation_bytes"]);
            let mut row = format!("{:<38} {:>9} {:>9}", case.name, measured, total);
            for list in ["cs336", "all", "korthikanti"] {
                let mut o = options.clone();
                o.set("activations", list).unwrap();
                let s = tally::resolve::conventions(&o, data).unwrap().saved();
                let v = at(&tally::quantity::memory::activation_bytes(&selection.model, s));
                let delta = (&v - &measured) * Rational::from_integer(1000.into()) / &measured;
                row.push_str(&format!(
                    " {list} {v} ({:+.1}%)",
                    delta.round().to_integer().to_string().parse::<f64>().unwrap() / 10.0
                ));
            }
            table.push(row);
        }
        checked += 1;
    }
    assert_eq!(checked, 192);
    println!("{}", table.join("\n"));
}

//! The formula reader never panics: thousands of random and mutated formulas each come back as a
//! value or as an error whose span lies inside the input.

use proptest::prelude::*;
use tally::algebra::{Expr, Syntax, parse_with};
use tally::audit::claim::Claim;

/// Names resolve like the audit's reader: dotted quantity names, known letters, long names.
fn resolve(name: &str) -> Result<Expr, String> {
    let letters = "BSAKTVLHFUR";
    if name.contains('.') || name.len() > 2 && name.contains('_') {
        return Ok(Expr::sym("Q"));
    }
    if name.chars().all(|c| letters.contains(c)) {
        return Ok(Expr::product(name.chars().map(|c| Expr::sym(&c.to_string())).collect()));
    }
    Err(format!("unknown name `{name}`"))
}

fn check(input: &str) {
    match parse_with(input, &resolve, Syntax::people()) {
        Ok(_) => {}
        Err(e) => {
            assert!(e.span.start <= e.span.end && e.span.end <= input.len(), "span {:?} outside {input:?}", e.span);
            assert!(input.is_char_boundary(e.span.start) && input.is_char_boundary(e.span.end), "{input:?}");
            assert!(!e.message.is_empty());
        }
    }
    let _ = Claim::parse("p", input);
}

const SEEDS: &[&str] = &[
    "2VH + L(16H² + 2H) + H",
    "16 * total_params * 4",
    "4BT[L(16H + 2AT) + H + 2V]",
    "2*vocab_size*d_model + num_layers*(16*d_model**2 + 2*d_model) + d_model",
    "memory.params + memory.gradients = 1,024 × 19.5e12 / 2.1B",
    "{[(H^-2)]} // 3 − 7·L⁻¹",
];

fn formula_chars() -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "0123456789.,eE+-−*×·/÷^()[]{} _²³⁻¹ BSAKTVLHFURxyz=kMGq".chars().collect();
    proptest::collection::vec(proptest::sample::select(alphabet), 0..40).prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]

    #[test]
    fn random_formulas_never_panic(s in formula_chars()) {
        check(&s);
    }

    #[test]
    fn mutated_formulas_never_panic(seed in 0..SEEDS.len(), at in 0usize..80, cut in 0usize..6, insert in formula_chars()) {
        let base: Vec<char> = SEEDS[seed].chars().collect();
        let at = at.min(base.len());
        let end = (at + cut).min(base.len());
        let mutated: String = base[..at].iter().chain(insert.chars().collect::<Vec<_>>().iter()).chain(base[end..].iter()).collect();
        check(&mutated);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        check(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let inputs = [
        format!("{}H{}", "(".repeat(20_000), ")".repeat(20_000)),
        format!("{}H", "-".repeat(20_000)),
        format!("{}2", "H^".repeat(5_000)),
    ];
    for input in inputs {
        let err = parse_with(&input, &resolve, Syntax::people()).unwrap_err();
        assert!(err.message.contains("nests") || err.message.contains("exponent"), "{}", err.message);
    }
}

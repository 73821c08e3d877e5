//! In-process re-derivation of one quantity under a changed convention, through the library's
//! `Session` (the path the audit and sweeps take): no document is built, only the catalog entry.
//! Run with `cargo bench --bench rederive`; it prints the median and the 90th percentile per call.

use std::time::{Duration, Instant};
use tally::options::Options;
use tally::session::{DeriveRequest, Session, SessionOptions};

/// Times `rounds` calls of `call` after a few warm-up calls, and prints the median and p90.
fn time(label: &str, rounds: usize, mut call: impl FnMut(usize)) {
    for i in 0..10 {
        call(i);
    }
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|i| {
            let start = Instant::now();
            call(i);
            start.elapsed()
        })
        .collect();
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!("{label:<58} median {:>9.3?}  p90 {:>9.3?}  ({rounds} calls)", at(0.5), at(0.9));
}

fn main() {
    let session = Session::open(SessionOptions::default()).expect("a session");
    let request = |options: Options| DeriveRequest { model: "gpt2-xl".into(), options, ..DeriveRequest::default() };
    // Conventions that change the quantity: precision, activation list, layout, recomputation.
    let variants: Vec<Options> =
        [("precision", "bf16"), ("activations", "all"), ("layout", "mixed"), ("recompute", "full")]
            .iter()
            .map(|(name, value)| {
                let mut o = Options::default();
                o.set(name, value).expect("a known option");
                o
            })
            .collect();
    for quantity in ["params", "flops.step", "memory.total", "time.training"] {
        time(&format!("{quantity} under a changed convention"), 400, |i| {
            let q = session.quantity(&request(variants[i % variants.len()].clone()), quantity).expect("derives");
            assert!(q.value.is_some());
        });
    }
    time("the whole gpt2-xl document (for comparison)", 100, |i| {
        session.derive(&request(variants[i % variants.len()].clone())).expect("derives");
    });
}

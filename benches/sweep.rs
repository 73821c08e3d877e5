//! A million-point sweep in-process: `memory.total` and `flops.step` of GPT-2 XL over B = 1..1000 ×
//! T = 1..1000, compiled once and evaluated exactly, every row formatted as CSV into a sink (so the
//! cost of writing is counted, not the terminal's). Run with `cargo bench --bench sweep`; it prints
//! the median of 5 runs and the rate.

use std::time::Instant;
use tally::session::{DeriveRequest, Session, SessionOptions};
use tally::sweep::{Axis, RowFormat, SweepRequest};

fn main() {
    let session = Session::open(SessionOptions::default()).expect("a session");
    let axis = |symbol: &str| Axis::Symbol {
        symbol: symbol.into(),
        values: tally::sweep::Values::parse("1..1000").expect("a range"),
    };
    let request = SweepRequest {
        base: DeriveRequest { model: "gpt2-xl".into(), ..DeriveRequest::default() },
        axes: vec![axis("B"), axis("T")],
        quantities: vec!["memory.total".into(), "flops.step".into()],
    };
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let mut sink = std::io::BufWriter::with_capacity(1 << 16, std::io::sink());
        tally::sweep::run(&session, &request, RowFormat::Csv, &mut sink).expect("the sweep runs");
        times.push(start.elapsed());
    }
    times.sort();
    let median = times[2];
    println!(
        "sweep of 1,000,000 points (B × T, 2 quantities, CSV): median {:.1} ms of 5 runs, {:.1} M points/s",
        median.as_secs_f64() * 1e3,
        1.0 / median.as_secs_f64()
    );
}

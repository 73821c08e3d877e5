//! Advice when not even one sequence fits: what would make it fit, from re-derived numbers.

use crate::algebra::Rational;
use crate::dim;
use crate::error::Result;
use crate::quantity::{Catalog, Context};

/// What would make one sequence fit, from the numbers: when the model states alone exceed the
/// budget no per-sequence change helps, so sharding them is named with the GPU count it needs;
/// otherwise the per-sequence savings of FlashAttention and recomputation, re-derived.
pub(super) fn advice(
    catalog: &Catalog,
    ctx: &Context,
    line: &crate::quantity::catalog::BatchLine,
    budget: &Rational,
) -> Result<String> {
    let (a, b) = (&line.a, &line.b);
    // Bytes per sequence under the changes that keep fewer activations, re-derived.
    let conventions = catalog.conventions;
    let per_sequence = |alt: &crate::quantity::Conventions| -> Result<Option<Rational>> {
        Ok(Catalog::new(catalog.model, alt).batch_line(ctx)?.map(|l| l.a))
    };
    let mut options: Vec<(&str, Rational)> = Vec::new();
    if !conventions.flash
        && let Some(after) = per_sequence(&crate::quantity::Conventions { flash: true, ..conventions.clone() })?
    {
        options.push(("FlashAttention (--attention-kernel flash, no T² tensors kept)", after));
    }
    if !conventions.recompute
        && let Some(after) = per_sequence(&crate::quantity::Conventions { recompute: true, ..conventions.clone() })?
    {
        options.push(("full recomputation (--recompute full, one tensor kept per block)", after));
    }
    options.retain(|(_, after)| after < a);
    // Sharding the model states over N GPUs (ZeRO-3) leaves b/N of them per GPU.
    let gpus = |per_seq: &Rational| (per_seq < budget).then(|| (b / (budget - per_seq)).ceil());
    let shard = |n: Rational| {
        format!("ZeRO-3 over N ≥ {} GPUs (--zero 3 --parallel dp=N; `tally plan` ranks the layouts)", dim::exact(&n))
    };
    let mut said = Vec::new();
    if b > budget {
        said.push(format!(
            "Parameters, gradients and optimizer state alone need {} ({} over): no change per sequence can help on its own.",
            dim::bytes(b),
            dim::bytes(&(b - budget))
        ));
        match gpus(a) {
            Some(n) => said.push(format!("One sequence fits with {}.", shard(n))),
            None => said.push(format!("One sequence's activations alone ({}) exceed the budget too.", dim::bytes(a))),
        }
        for (what, after) in &options {
            if let Some(n) = gpus(after) {
                said.push(format!(
                    "With {what}: {} per sequence instead of {}, and {}.",
                    dim::bytes(after),
                    dim::bytes(a),
                    shard(n)
                ));
            }
        }
        return Ok(said.join(" "));
    }
    let room = budget - b;
    said.push(format!("The model states leave {} for activations.", dim::bytes(&room)));
    for (what, after) in &options {
        let verdict = if *after <= room { "then one sequence fits" } else { "not enough alone" };
        said.push(format!("{what}: {} per sequence instead of {} ({verdict}).", dim::bytes(after), dim::bytes(a)));
    }
    if options.is_empty() {
        said.push("Shorten T, lower the precision or add memory.".into());
    }
    Ok(said.join(" "))
}

//! The inference part of a derivation: what the KV cache holds (per token, per layer, for B
//! sequences of T tokens — sliding-window layers and latent attention named with their
//! conventions) and the FLOPs of decoding one token, in both readings of latent attention.

use super::{Block, Equation, text};
use crate::algebra::Expr;
use crate::error::Result;
use crate::ops::OpKind;
use crate::options::SlidingCache;
use crate::quantity::{Catalog, Context, Quantity};
use crate::symbol::Role;

/// KV-cache bytes and FLOPs per decoded token.
pub fn inference_section(
    catalog: &Catalog,
    ctx: &Context,
    blocks: &mut Vec<Block>,
    quantities: &mut Vec<Quantity>,
) -> Result<()> {
    let (Some(kv), Some(decode)) =
        (catalog.quantity(ctx, "memory.kv_cache")?, catalog.quantity(ctx, "flops.decode_per_token")?)
    else {
        return Ok(());
    };
    let model = catalog.model;
    let conventions = catalog.conventions;
    let precision = &conventions.precision;
    let ops = || model.stages.iter().flat_map(|s| &s.ops);
    let windowed = ops().any(|op| op.window.is_some() && op.kv_cache.is_some());
    let latent = ops().any(|op| op.absorbed_head_dim.is_some());
    let experts = ops().any(|op| op.experts.is_some());
    let mut words = vec![format!(
        "Every op that feeds the cache keeps its output for each of the T positions, {} bytes per element ({}); decoding one token runs every op once and attends to the cached positions.",
        precision.bytes, precision.name
    )];
    if windowed {
        words.push(match conventions.sliding_cache {
            SlidingCache::Window => "Sliding-window layers hold T_w = min(T, W) tokens (a ring buffer of W slots; --sliding-cache window, transformers' StaticCache); transformers' DynamicCache keeps min(T, W − 1) (hf-dynamic) and engines that allocate the whole context keep T (full).",
            SlidingCache::HfDynamic => "Sliding-window layers hold T_h = min(T, W − 1) tokens, as transformers' DynamicCache keeps them (--sliding-cache hf-dynamic); a W-slot ring buffer holds min(T, W) (window) and whole-context engines T (full).",
            SlidingCache::Full => "Sliding-window layers hold all T tokens, as engines that allocate the whole context for every layer do (--sliding-cache full); a W-slot ring buffer holds min(T, W) (window).",
        }.to_string());
    }
    if latent {
        words.push("Latent attention caches the compressed key/value latent and the decoupled rotary key, not per-head K and V (transformers 5 and DeepSeek's kernels); caching the decompressed K and V instead (transformers 4.x) holds the per-head widths of QKᵀ's keys and AV's values. Decoding reads the latent in two ways: naive, the latent is expanded to per-head K and V (the cached tokens' up-projection as in prefill); absorbed, the up-projection is folded into the query and the output, and attention works on the latent directly (r_kv + D_r wide for the scores, r_kv for the values).".to_string());
    }
    if experts {
        words.push("A routed expert runs k of its E copies for each token: decoding counts k of them (which k depends on the router; the count does not).".to_string());
    }
    blocks.push(Block::Heading("Inference".into()));
    blocks.push(Block::Paragraph(vec![text(words.join(" "))]));
    let mut equations = vec![Equation::chain("M_kv", vec![], &kv, "cache of every layer, B sequences of T tokens")];
    if let Some(per_token) = catalog.quantity(ctx, "memory.kv_cache.per_token")? {
        let layers = ctx.value(&Role::Layers.expr())?;
        let note = match per_token.value.as_ref().map(|v| v / &layers) {
            Some(per_layer) if per_layer.is_integer() => {
                format!("one token of context, all layers; {} bytes per layer", crate::dim::exact(&per_layer))
            }
            _ => "one token of context, all layers".to_string(),
        };
        equations.push(Equation::chain("M_kv/token", vec![], &per_token, &note));
        quantities.push(per_token);
    }
    if latent {
        let decompressed = decompressed_cache(catalog);
        let bytes = Expr::int(precision.bytes) * decompressed;
        equations.push(Equation::of(
            "M_kv,decompressed/token",
            vec![
                super::Side::Expr(ctx.simplify(&bytes)?),
                super::Side::Value(ctx.value(&bytes)?, crate::dim::Unit::byte()),
            ],
            "per-head K and V instead of the latent, one token of context, all layers",
        ));
    }
    equations.push(Equation::chain(
        "C_decode",
        vec![],
        &decode,
        if latent {
            "one token, one sequence; naive: the cached latent expanded to per-head K and V"
        } else {
            "one token, one sequence"
        },
    ));
    quantities.extend([kv, decode]);
    if let Some(absorbed) = catalog.quantity(ctx, "flops.decode_per_token.absorbed")? {
        equations.push(Equation::chain("C_decode,absorbed", vec![], &absorbed, "latent attention absorbed"));
        quantities.push(absorbed);
    }
    blocks.push(Block::Equations(equations));
    Ok(())
}

/// Elements per token a cache of decompressed per-head K and V would hold: the keys QKᵀ reads and
/// the values AV reads, in every layer.
fn decompressed_cache(catalog: &Catalog) -> Expr {
    crate::quantity::sums::over_stages(catalog.model, |stage| {
        Expr::sum(
            stage
                .ops
                .iter()
                .filter_map(|op| match &op.kind {
                    OpKind::AttentionScores { heads, head_dim } | OpKind::AttentionValues { heads, head_dim } => {
                        Some(heads.clone() * head_dim.clone())
                    }
                    _ => None,
                })
                .collect(),
        )
    })
}

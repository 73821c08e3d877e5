//! The inference quantities as catalog entries: the KV cache (for B sequences of T tokens and per
//! token) and the FLOPs of decoding one token, with latent attention naive or absorbed.

use super::{Entry, bytes, flops};
use crate::algebra::Expr;
use crate::quantity::sums;
use crate::symbol::Role;

/// The inference entries; they exist for models whose ops feed a KV cache.
pub(super) const ENTRIES: &[Entry] = &[
    entry!(
        "memory.kv_cache",
        bytes,
        ["precision", "sliding_cache"],
        [],
        false,
        |_| "KV cache for B sequences of T tokens".into(),
        |c| {
            let cache = sums::kv_cache_bytes(c.model, c.conventions.precision.bytes, c.conventions.sliding_cache);
            (!cache.is_zero()).then_some(cache)
        }
    ),
    entry!(
        "memory.kv_cache.per_token",
        bytes,
        ["precision"],
        ["memory.kv_cache"],
        false,
        |_| "KV cache per token of context, all layers".into(),
        |c| {
            let cache = sums::kv_cache_bytes(c.model, c.conventions.precision.bytes, c.conventions.sliding_cache);
            let one = [Role::Batch, Role::Context, Role::WindowSpan, Role::WindowCache].map(|r| r.symbol());
            (!cache.is_zero()).then(|| cache.substitute(&|s| one.contains(&s).then(Expr::one)))
        }
    ),
    entry!(
        "flops.decode_per_token",
        flops,
        ["flops"],
        [],
        false,
        |_| "FLOPs to decode one token with T positions cached".into(),
        |c| {
            let cache = sums::kv_cache_bytes(c.model, 1, c.conventions.sliding_cache);
            (!cache.is_zero()).then(|| sums::decode_flops(c.model, c.conventions.flops, false))
        }
    ),
    entry!(
        "flops.decode_per_token.absorbed",
        flops,
        ["flops"],
        [],
        false,
        |_| "FLOPs to decode one token, latent attention with the up-projection absorbed".into(),
        |c| sums::has_absorbed_attention(c.model).then(|| sums::decode_flops(c.model, c.conventions.flops, true))
    ),
];

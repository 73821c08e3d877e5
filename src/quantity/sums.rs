//! Sums over a model's stages of what each op's rules give: parameters, forward FLOPs (per stage,
//! per component), decode FLOPs, the factored optimizer state, the KV cache.

use super::choices::SlidingCache;
use crate::algebra::Expr;
use crate::model::{Model, Stage};
use crate::ops::FlopConvention;
use crate::symbol::Role;

/// Parameters of one pass through a stage.
pub fn stage_params(stage: &Stage) -> Expr {
    Expr::sum(stage.ops.iter().map(|op| op.params()).collect())
}

/// Forward FLOPs of one pass through a stage.
pub fn stage_forward_flops(model: &Model, stage: &Stage, convention: FlopConvention) -> Expr {
    Expr::sum(stage.ops.iter().map(|op| op.forward_flops(convention, &model.costs)).collect())
}

/// Σ over stages of repeat × (per-pass amount).
pub fn over_stages(model: &Model, per_stage: impl Fn(&Stage) -> Expr) -> Expr {
    Expr::sum(model.stages.iter().map(|s| s.repeat.clone() * per_stage(s)).collect())
}

/// Trainable parameters of the model.
pub fn params(model: &Model) -> Expr {
    over_stages(model, stage_params)
}

/// Elements of a factored second moment over the whole model (rows + columns of every matrix).
pub fn factored_state(model: &Model) -> Expr {
    over_stages(model, |s| Expr::sum(s.ops.iter().map(|op| op.factored_state()).collect()))
}

/// Forward FLOPs of the model for a batch of B sequences of T tokens.
pub fn forward_flops(model: &Model, convention: FlopConvention) -> Expr {
    over_stages(model, |s| stage_forward_flops(model, s, convention))
}

/// Forward FLOPs of the ops in one component.
pub fn component_flops(model: &Model, convention: FlopConvention, component: &str) -> Expr {
    over_stages(model, |s| {
        Expr::sum(
            s.ops
                .iter()
                .filter(|op| op.component == component)
                .map(|op| op.forward_flops(convention, &model.costs))
                .collect(),
        )
    })
}

/// The stage repeated per layer, if exactly one stage repeats.
pub fn layer_stage(model: &Model) -> Option<&Stage> {
    let mut repeated = model.stages.iter().filter(|s| s.repeat != Expr::one());
    match (repeated.next(), repeated.next()) {
        (Some(s), None) => Some(s),
        _ => None,
    }
}

/// Bytes of the inference KV cache: every op's cached elements per token, for B sequences of T
/// tokens, at `bytes` per element.
pub fn kv_cache_bytes(model: &Model, bytes: i64, sliding: SlidingCache) -> Expr {
    over_stages(model, |s| {
        Expr::sum(
            s.ops
                .iter()
                .filter_map(|op| Some((op.kv_cache.clone()?, cached_tokens(op, sliding))))
                .map(|(w, tokens)| Expr::product(vec![Expr::int(bytes), Role::Batch.expr(), tokens, w]))
                .collect(),
        )
    })
}

/// Tokens an op's cache holds after T tokens: T, or for a sliding-window layer what the engine
/// convention keeps of its window.
fn cached_tokens(op: &crate::ops::Op, sliding: SlidingCache) -> Expr {
    match (op.window.is_some(), sliding) {
        (false, _) | (true, SlidingCache::Full) => Role::Context.expr(),
        (true, SlidingCache::Window) => Role::WindowSpan.expr(),
        (true, SlidingCache::HfDynamic) => Role::WindowCache.expr(),
    }
}

/// Parameters one token's computation touches: every op's, a routed expert's k of E copies.
pub fn active_params(model: &Model) -> Expr {
    over_stages(model, |s| Expr::sum(s.ops.iter().map(|op| op.active_params()).collect()))
}

/// Whether the model has routed experts.
pub fn has_experts(model: &Model) -> bool {
    model.stages.iter().flat_map(|s| &s.ops).any(|op| op.experts.is_some())
}

/// FLOPs to decode one token of one sequence with T positions cached.
pub fn decode_flops(model: &Model, convention: FlopConvention, absorbed: bool) -> Expr {
    over_stages(model, |s| {
        Expr::sum(s.ops.iter().map(|op| op.decode_flops_read(convention, &model.costs, absorbed)).collect())
    })
}

/// Whether the model has latent attention whose up-projection can be absorbed.
pub fn has_absorbed_attention(model: &Model) -> bool {
    model.stages.iter().flat_map(|s| &s.ops).any(|op| op.absorbed_head_dim.is_some())
}

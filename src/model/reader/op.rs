//! Reading one op of a model file: its kind and the fields that kind takes, what it saves, its
//! KV cache, its inputs, its tensor-parallel split and, for a routed expert, its copies.

use super::{OP_KINDS, OpFile, Reader};
use crate::algebra::Expr;
use crate::error::Result;
use crate::model::SiteKind;
use crate::ops::{Activation, Op, OpKind, Saved};
use std::ops::Range;
use toml::Spanned;

impl Reader<'_> {
    pub(super) fn activation(&self, function: &Spanned<String>) -> Result<Activation> {
        match function.get_ref().as_str() {
            "silu" => Ok(Activation::Silu),
            "gelu" => Ok(Activation::Gelu),
            "gelu_tanh" => Ok(Activation::GeluTanh),
            other => {
                Err(self
                    .located(format!("unknown activation `{other}`; known: silu, gelu, gelu_tanh"), function.span()))
            }
        }
    }

    fn saved(&self, saved: &Spanned<String>) -> Result<Saved> {
        match saved.get_ref().as_str() {
            "never" => Ok(Saved::Never),
            "cs336" => Ok(Saved::Cs336),
            "all" => Ok(Saved::All),
            other => Err(self.located(
                format!(
                    "unknown `saved` value `{other}`; use cs336 (on CS336's list), all (only when every intermediate counts) or never"
                ),
                saved.span(),
            )),
        }
    }

    /// An op written in full: `name`, `kind` and the fields its kind takes.
    pub(super) fn op(&self, spanned: &Spanned<OpFile>, stage: &str, default_component: &str) -> Result<Op> {
        let file = spanned.get_ref();
        let span = spanned.span();
        let Some(name) = file.name.clone() else {
            return Err(self.located("an op needs a `name`", span));
        };
        let Some(kind_field) = &file.kind else {
            return Err(self.located(format!("op `{name}` needs a `kind`; known kinds: {}", OP_KINDS.join(", ")), span));
        };
        if file.op.is_some() || file.remove.is_some() {
            return Err(self.located(format!("op `{name}`: `op` and `remove` belong in a [[change]]"), span));
        }
        let kind_name = kind_field.get_ref().as_str();
        let field = |field: &'static str, value: &Option<Spanned<String>>| -> Result<Expr> {
            match value {
                Some(v) => self.site(
                    v,
                    format!("op `{name}` in `{stage}`: {field}"),
                    (Some(&name), field),
                    SiteKind::Dimension,
                ),
                None => Err(self.located(format!("op `{name}` of kind `{kind_name}` needs `{field}`"), span.clone())),
            }
        };
        let kind = match kind_name {
            "embedding" => OpKind::Embedding { rows: field("rows", &file.rows)?, width: field("width", &file.width)? },
            "linear" => OpKind::Linear {
                input: field("in", &file.input)?,
                output: field("out", &file.output)?,
                bias: file.bias.unwrap_or(false),
                tied: file.tied.unwrap_or(false),
            },
            "rmsnorm" => OpKind::RmsNorm { width: field("width", &file.width)? },
            "layernorm" => OpKind::LayerNorm { width: field("width", &file.width)?, bias: file.bias.unwrap_or(true) },
            "rope" => OpKind::Rope { width: field("width", &file.width)? },
            "attention_scores" => OpKind::AttentionScores {
                heads: field("heads", &file.heads)?,
                head_dim: field("head_dim", &file.head_dim)?,
            },
            "softmax" => OpKind::Softmax { heads: field("heads", &file.heads)? },
            "attention_values" => OpKind::AttentionValues {
                heads: field("heads", &file.heads)?,
                head_dim: field("head_dim", &file.head_dim)?,
            },
            "activation" => {
                let Some(function) = &file.function else {
                    return Err(self.located(
                        format!("op `{name}` of kind `activation` needs `function` (silu, gelu or gelu_tanh)"),
                        span,
                    ));
                };
                OpKind::Activation { function: self.activation(function)?, width: field("width", &file.width)? }
            }
            "elementwise_product" => OpKind::ElementwiseProduct { width: field("width", &file.width)? },
            "residual_add" => OpKind::ResidualAdd { width: field("width", &file.width)? },
            "cross_entropy" => OpKind::CrossEntropy { vocab: field("vocab", &file.vocab)? },
            "dropout" => OpKind::Dropout { width: field("width", &file.width)? },
            "sinks" => OpKind::Sinks { heads: field("heads", &file.heads)? },
            "head_rmsnorm" => OpKind::HeadRmsNorm {
                heads: field("heads", &file.heads)?,
                head_dim: field("head_dim", &file.head_dim)?,
            },
            other => {
                return Err(self.located(
                    format!("unknown op kind `{other}`; known kinds: {}", OP_KINDS.join(", ")),
                    kind_field.span(),
                ));
            }
        };
        let mut op = Op::new(name.clone(), kind, default_component);
        self.check_fields(&op, file, span)?;
        self.set_common(&mut op, file, stage)?;
        Ok(op)
    }

    /// Refuses a field the op's kind does not take.
    pub(super) fn check_fields(&self, op: &Op, file: &OpFile, span: Range<usize>) -> Result<()> {
        let takes = op.fields();
        let given = file.sizes().into_iter().filter(|(_, v)| v.is_some()).map(|(f, _)| f).chain(
            [("bias", file.bias.is_some()), ("tied", file.tied.is_some()), ("function", file.function.is_some())]
                .into_iter()
                .filter(|(_, given)| *given)
                .map(|(f, _)| f),
        );
        for extra in given {
            if !takes.contains(&extra) {
                return Err(self
                    .located(format!("op `{}` of kind `{}` does not take `{extra}`", op.name, op.kind_name()), span));
            }
        }
        Ok(())
    }

    /// Sets what any op may have: its component, what it saves, its KV cache.
    pub(super) fn set_common(&self, op: &mut Op, file: &OpFile, stage: &str) -> Result<()> {
        if let Some(c) = &file.component {
            op.component = c.clone();
        }
        if let Some(saved) = &file.saved {
            op.saved = self.saved(saved)?;
        }
        if let Some(k) = &file.kv_cache {
            let what = format!("op `{}` in `{stage}`: kv_cache", op.name);
            op.kv_cache = Some(self.site(k, what, (Some(&op.name), "kv_cache"), SiteKind::KvCache)?);
        }
        if let Some(inputs) = &file.inputs {
            op.inputs = inputs.get_ref().clone();
        }
        if let Some(reads) = file.reads_cache {
            op.reads_cache = reads;
        }
        if let Some(width) = &file.absorbed_head_dim {
            if !matches!(op.kind, OpKind::AttentionScores { .. } | OpKind::AttentionValues { .. }) {
                return Err(self.located(
                    format!(
                        "op `{}`: only attention_scores and attention_values ops have an absorbed head width",
                        op.name
                    ),
                    width.span(),
                ));
            }
            let what = format!("op `{}` in `{stage}`: absorbed_head_dim", op.name);
            op.absorbed_head_dim =
                Some(self.site(width, what, (Some(&op.name), "absorbed_head_dim"), SiteKind::Dimension)?);
        }
        match (&file.experts, &file.active) {
            (Some(count), Some(active)) => {
                let at = |field: &'static str, v: &Spanned<String>| {
                    let what = format!("op `{}` in `{stage}`: {field}", op.name);
                    self.site(v, what, (Some(&op.name), field), SiteKind::Dimension)
                };
                op.experts = Some(crate::ops::Experts { count: at("experts", count)?, active: at("active", active)? });
            }
            (None, None) => {}
            (Some(v), None) | (None, Some(v)) => {
                return Err(self.located(
                    format!("op `{}`: a routed expert gives both `experts` (copies stored) and `active` (copies each token runs)", op.name),
                    v.span(),
                ));
            }
        }
        if let Some(parallel) = &file.parallel {
            if !matches!(op.kind, crate::ops::OpKind::Linear { .. } | crate::ops::OpKind::Embedding { .. }) {
                return Err(self.located(
                    format!("op `{}`: only linear and embedding ops are split by tensor parallelism", op.name),
                    parallel.span(),
                ));
            }
            op.tensor_parallel =
                Some(parallel.get_ref().parse().map_err(|e: String| self.located(e, parallel.span()))?);
        }
        Ok(())
    }
}

//! What each op keeps for its backward pass, under the named conventions.

use super::rules::{b, prod, t, tokens};
use super::{ActivationConvention, Op, OpKind, Saved};
use crate::algebra::Expr;
use crate::symbol::Role;

impl Op {
    /// Elements of the op's output tensor (what it would keep for the backward pass); a routed
    /// expert's outputs for the k copies each token runs.
    pub fn output_elements(&self) -> Expr {
        self.copies_run() * self.output_elements_of_one()
    }

    fn output_elements_of_one(&self) -> Expr {
        let per_token = |w: &Expr| tokens() * w.clone();
        match &self.kind {
            OpKind::Embedding { width, .. } => per_token(width),
            OpKind::Linear { output, .. } => per_token(output),
            OpKind::AttentionScores { heads, .. } | OpKind::Softmax { heads } => {
                prod(vec![b(), heads.clone(), t(), t()])
            }
            OpKind::AttentionValues { heads, head_dim } => per_token(&(heads.clone() * head_dim.clone())),
            OpKind::CrossEntropy { vocab } => per_token(vocab),
            OpKind::RmsNorm { width }
            | OpKind::LayerNorm { width, .. }
            | OpKind::Rope { width }
            | OpKind::Activation { width, .. }
            | OpKind::ElementwiseProduct { width }
            | OpKind::ResidualAdd { width }
            | OpKind::Dropout { width } => per_token(width),
            OpKind::Sinks { .. } => Expr::zero(),
            OpKind::HeadRmsNorm { heads, head_dim } => per_token(&(heads.clone() * head_dim.clone())),
        }
    }

    /// With `flash`, the T² tensors are recomputed in the backward pass instead of kept.
    pub fn saved_for_backward(&self, flash: bool) -> (Expr, Expr) {
        // FlashAttention recomputes the T² tensors but its backward still needs Q, K and V: the
        // score matmul keeps its inputs, only the softmax and attention-dropout matrices go.
        if flash && self.is_attention_matrix() && !matches!(self.kind, OpKind::AttentionScores { .. }) {
            return (Expr::zero(), Expr::zero());
        }
        let per_token = |w: &Expr| tokens() * w.clone();
        let scores = |heads: &Expr| if flash { Expr::zero() } else { prod(vec![b(), heads.clone(), t(), t()]) };
        let kept = match &self.kind {
            OpKind::Embedding { .. }
            | OpKind::Rope { .. }
            | OpKind::ResidualAdd { .. }
            | OpKind::Dropout { .. }
            | OpKind::Sinks { .. } => Expr::zero(),
            OpKind::Linear { input, .. } => per_token(input),
            OpKind::RmsNorm { width } | OpKind::LayerNorm { width, .. } | OpKind::Activation { width, .. } => {
                per_token(width)
            }
            OpKind::HeadRmsNorm { heads, head_dim } => per_token(&(heads.clone() * head_dim.clone())),
            OpKind::AttentionScores { heads, head_dim } => {
                Expr::int(2) * per_token(&(heads.clone() * head_dim.clone()))
            }
            OpKind::Softmax { heads } => scores(heads),
            OpKind::AttentionValues { heads, head_dim } => {
                scores(heads) + per_token(&(heads.clone() * head_dim.clone()))
            }
            OpKind::ElementwiseProduct { width } => Expr::int(2) * per_token(width),
            OpKind::CrossEntropy { vocab } => per_token(vocab),
        };
        let masks = match &self.kind {
            OpKind::Dropout { width } => per_token(width),
            _ => Expr::zero(),
        };
        (self.copies_run() * kept, self.copies_run() * masks)
    }

    /// True for tensors of T² elements per head, which FlashAttention recomputes instead of keeping.
    pub fn is_attention_matrix(&self) -> bool {
        match &self.kind {
            OpKind::AttentionScores { .. } | OpKind::Softmax { .. } => true,
            OpKind::Dropout { width } => width.symbols().iter().any(|s| s == Role::Context.symbol()),
            _ => false,
        }
    }

    /// The log-sum-exp FlashAttention keeps per row of each head's scores instead of the matrix.
    pub fn flash_statistics(&self) -> Expr {
        match &self.kind {
            OpKind::Softmax { heads } => prod(vec![b(), heads.clone(), t()]),
            _ => Expr::zero(),
        }
    }

    /// Activation elements kept for the backward pass under a convention.
    pub fn saved_elements(&self, convention: ActivationConvention) -> Expr {
        let kept = match (self.saved, convention) {
            (Saved::Cs336, _) | (Saved::All, ActivationConvention::All | ActivationConvention::Korthikanti) => true,
            (Saved::Never, _)
            | (Saved::All, ActivationConvention::Cs336 | ActivationConvention::Torch | ActivationConvention::Manual) => {
                false
            }
        };
        if kept { self.output_elements() } else { Expr::zero() }
    }
}

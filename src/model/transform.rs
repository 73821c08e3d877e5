//! Named changes to an architecture, for the audit's readings: the mistakes people make about a
//! model (a tied head counted twice, biases it does not have, a position table it does not use, an
//! embedding lookup counted as a matmul, a dropped LM head or attention matmul) applied to the ops
//! themselves, so every quantity derived from the changed model follows from the rules.
//!
//! The ops are found by what they are, not by name: the token embedding is the first embedding of
//! the model, position tables are the other embeddings, and the LM head is the linear op whose
//! output is the token embedding's row count (the vocabulary).

use super::Model;
use crate::algebra::Expr;
use crate::ops::{Op, OpKind};
use crate::symbol::Role;

choices! {
    /// A change to an architecture's ops.
    ModelChange {
        /// The LM head shares the token embedding's weights.
        #[default]
        TieHead = "tie-head",
        /// The LM head has its own weights.
        UntieHead = "untie-head",
        /// Every linear op has a bias (and every LayerNorm one).
        BiasEveryLinear = "bias-every-linear",
        /// No op has a bias.
        NoBiases = "no-biases",
        /// A learned position table of T rows is added after the token embedding.
        AddPositionTable = "add-position-table",
        /// Every position table is left out.
        DropPositionTable = "drop-position-table",
        /// The token embedding is counted as a matmul (one-hot × table: 2·V·H FLOPs per token).
        EmbeddingAsMatmul = "embedding-as-matmul",
        /// The LM head is left out.
        DropLmHead = "drop-lm-head",
        /// The attention-score matmul QKᵀ is left out.
        DropScores = "drop-scores",
        /// The attention-weighted sum softmax·V is left out.
        DropValues = "drop-values",
    }
}

/// Where the token embedding is, and its row count.
fn token_embedding(model: &Model) -> Option<((usize, usize), Expr)> {
    model.stages.iter().enumerate().find_map(|(s, stage)| {
        stage.ops.iter().enumerate().find_map(|(o, op)| match &op.kind {
            OpKind::Embedding { rows, .. } => Some(((s, o), rows.clone())),
            _ => None,
        })
    })
}

/// The LM head: the last linear op whose output is the vocabulary.
fn lm_head(model: &Model) -> Option<(usize, usize)> {
    let (_, vocab) = token_embedding(model)?;
    let mut found = None;
    for (s, stage) in model.stages.iter().enumerate() {
        for (o, op) in stage.ops.iter().enumerate() {
            if matches!(&op.kind, OpKind::Linear { output, .. } if *output == vocab) {
                found = Some((s, o));
            }
        }
    }
    found
}

fn remove_ops(model: &Model, drop: impl Fn(&Op) -> bool) -> Option<Model> {
    let mut out = model.clone();
    let before: usize = out.stages.iter().map(|s| s.ops.len()).sum();
    for stage in &mut out.stages {
        stage.ops.retain(|op| !drop(op));
    }
    let after: usize = out.stages.iter().map(|s| s.ops.len()).sum();
    (after < before).then_some(out)
}

impl Model {
    /// The model with `change` applied; `None` when it changes nothing (a head already tied, no
    /// position table to drop), so a reading never claims a difference that is not there.
    pub fn changed(&self, change: ModelChange) -> Option<Model> {
        let mut out = self.clone();
        match change {
            ModelChange::TieHead | ModelChange::UntieHead => {
                let (s, o) = lm_head(self)?;
                let OpKind::Linear { tied, .. } = &mut out.stages[s].ops[o].kind else { return None };
                let want = change == ModelChange::TieHead;
                if *tied == want {
                    return None;
                }
                *tied = want;
            }
            ModelChange::BiasEveryLinear | ModelChange::NoBiases => {
                let want = change == ModelChange::BiasEveryLinear;
                let mut changed = false;
                for op in out.stages.iter_mut().flat_map(|s| s.ops.iter_mut()) {
                    if let OpKind::Linear { bias, tied: false, .. } | OpKind::LayerNorm { bias, .. } = &mut op.kind
                        && *bias != want
                    {
                        *bias = want;
                        changed = true;
                    }
                }
                if !changed {
                    return None;
                }
            }
            ModelChange::AddPositionTable => {
                let ((s, o), _) = token_embedding(self)?;
                let embeddings =
                    self.stages.iter().flat_map(|st| &st.ops).filter(|op| matches!(op.kind, OpKind::Embedding { .. }));
                if embeddings.count() > 1 {
                    return None;
                }
                let OpKind::Embedding { width, .. } = &self.stages[s].ops[o].kind else { return None };
                let table = Op::new(
                    "position embedding",
                    OpKind::Embedding { rows: Role::Context.expr(), width: width.clone() },
                    self.stages[s].ops[o].component.clone(),
                );
                out.stages[s].ops.insert(o + 1, table);
            }
            ModelChange::DropPositionTable => {
                let ((s, o), _) = token_embedding(self)?;
                let token = self.stages[s].ops[o].clone();
                return remove_ops(self, |op| matches!(op.kind, OpKind::Embedding { .. }) && *op != token);
            }
            ModelChange::EmbeddingAsMatmul => {
                let ((s, o), _) = token_embedding(self)?;
                let op = &mut out.stages[s].ops[o];
                let OpKind::Embedding { rows, width } = op.kind.clone() else { return None };
                op.kind = OpKind::Linear { input: rows, output: width, bias: false, tied: false };
            }
            ModelChange::DropLmHead => {
                let (s, o) = lm_head(self)?;
                out.stages[s].ops.remove(o);
            }
            ModelChange::DropScores => {
                return remove_ops(self, |op| matches!(op.kind, OpKind::AttentionScores { .. }));
            }
            ModelChange::DropValues => {
                return remove_ops(self, |op| matches!(op.kind, OpKind::AttentionValues { .. }));
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Facts;

    fn model(name: &str) -> Model {
        Facts::builtin().models.select(name).unwrap().unwrap().model
    }

    #[test]
    fn each_change_applies_once_and_only_where_it_means_something() {
        let cs336 = model("cs336-2025");
        let tied = cs336.changed(ModelChange::TieHead).expect("an untied head can be tied");
        assert!(tied.changed(ModelChange::TieHead).is_none(), "tying twice changes nothing");
        assert!(cs336.changed(ModelChange::UntieHead).is_none());
        assert!(cs336.changed(ModelChange::NoBiases).is_none(), "cs336-2025 has no biases");
        assert!(cs336.changed(ModelChange::DropPositionTable).is_none(), "it uses RoPE");
        let with_table = cs336.changed(ModelChange::AddPositionTable).unwrap();
        assert!(with_table.changed(ModelChange::AddPositionTable).is_none());
        assert!(with_table.changed(ModelChange::DropPositionTable).is_some());
        let gpt2 = model("gpt2");
        assert!(gpt2.changed(ModelChange::AddPositionTable).is_none(), "GPT-2 has one");
        assert!(gpt2.changed(ModelChange::UntieHead).is_some());
        for change in [ModelChange::DropLmHead, ModelChange::DropScores, ModelChange::DropValues] {
            let changed = cs336.changed(change).unwrap();
            let ops = |m: &Model| m.stages.iter().map(|s| s.ops.len()).sum::<usize>();
            assert_eq!(ops(&changed) + 1, ops(&cs336), "{change}");
        }
    }
}

//! Training memory: how the training state is stored (layouts, as data), what the forward pass
//! keeps for the backward pass (activation conventions), the memory terms of training with an
//! optimizer, and the largest batch that fits a budget.

use super::sums::{factored_state, over_stages, params};
use crate::algebra::{Expr, Rational};
use crate::diagnostic::Source;
use crate::dim::Precision;
use crate::error::{Error, Result};
use crate::model::{Model, Stage};
use crate::ops::{ActivationConvention, Op};
use crate::optimizer::{Optimizer, Shape};
use crate::symbol::Role;
use serde::Deserialize;

/// Where one part of the training state is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Storage {
    /// In the run's precision.
    Run,
    /// In a named precision (the fp32 master copy).
    Fixed(Precision),
    /// Not kept.
    None,
}

impl Storage {
    /// Bytes per element when the run is at `run`.
    pub fn bytes(&self, run: &Precision) -> i64 {
        match self {
            Storage::Run => run.bytes,
            Storage::Fixed(p) => p.bytes,
            Storage::None => 0,
        }
    }
}

/// How weights, gradients and optimizer state are stored (`derivations/layouts.toml`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Name (`uniform`, `mixed`).
    pub name: String,
    /// What it is.
    pub summary: String,
    /// The weights used in the forward pass.
    pub weights: Storage,
    /// The master copy of the weights (mixed precision).
    pub master: Storage,
    /// The gradients.
    pub gradients: Storage,
    /// Each optimizer state tensor, unless the optimizer fixes its own format.
    pub states: Storage,
}

impl Layout {
    /// Reads a layouts file; precision names must be known.
    pub fn read(source: &Source, precisions: &[Precision]) -> Result<Vec<Layout>> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Entry {
            name: String,
            summary: String,
            weights: toml::Spanned<String>,
            master: toml::Spanned<String>,
            gradients: toml::Spanned<String>,
            states: toml::Spanned<String>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            layout: Vec<Entry>,
        }
        let storage = |field: &toml::Spanned<String>| -> Result<Storage> {
            match field.get_ref().as_str() {
                "precision" => Ok(Storage::Run),
                "none" => Ok(Storage::None),
                name => {
                    precisions.iter().find(|p| p.name == name).map(|p| Storage::Fixed(p.clone())).ok_or_else(|| {
                        Error::at(
                            source,
                            field.span(),
                            format!("`{name}` is not \"precision\", \"none\" or a known precision"),
                        )
                    })
                }
            }
        };
        let file: File = crate::loader::read_toml(source)?;
        file.layout
            .iter()
            .map(|e| {
                Ok(Layout {
                    name: e.name.to_lowercase(),
                    summary: e.summary.clone(),
                    weights: storage(&e.weights)?,
                    master: storage(&e.master)?,
                    gradients: storage(&e.gradients)?,
                    states: storage(&e.states)?,
                })
            })
            .collect()
    }
}

/// What is kept for the backward pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActivationSettings {
    /// Which activations count.
    pub convention: ActivationConvention,
    /// Full recomputation: each repeated block keeps only its input; backward reruns the forward.
    pub recompute: bool,
    /// FlashAttention: no T² tensors kept, the fp32 log-sum-exp per row instead.
    pub flash: bool,
    /// Bytes per activation element (the compute dtype).
    pub bytes: i64,
    /// Bytes per element of FlashAttention's statistics.
    pub statistics_bytes: i64,
    /// Dropout switched off (p = 0, or inference): dropout ops pass their input on and keep no
    /// mask (torch and manual conventions).
    pub no_dropout: bool,
    /// Selective recomputation: the attention core (the T² tensors) is recomputed, not kept.
    pub selective: bool,
}

/// Bytes one op keeps for the backward pass under the settings (outside full recomputation).
pub fn op_activation_bytes(op: &Op, s: ActivationSettings) -> Expr {
    let bytes = Expr::int(s.bytes);
    let kept = match s.convention {
        ActivationConvention::Korthikanti => {
            let (kept, masks) = op.saved_for_backward(s.flash);
            let bytes = if matches!(op.kind, crate::ops::OpKind::CrossEntropy { .. }) {
                Expr::int(s.bytes.max(4))
            } else {
                bytes
            };
            bytes * kept + masks
        }
        _ if s.flash && op.is_attention_matrix() => Expr::zero(),
        convention => bytes * op.saved_elements(convention),
    };
    let statistics = if s.flash { Expr::int(s.statistics_bytes) * op.flash_statistics() } else { Expr::zero() };
    kept + statistics
}

/// Elements one op keeps for the backward pass under the settings (dropout masks and
/// FlashAttention statistics included, whatever their bytes).
pub fn op_activation_elements(op: &Op, s: ActivationSettings) -> Expr {
    let kept = match s.convention {
        ActivationConvention::Korthikanti => {
            let (kept, masks) = op.saved_for_backward(s.flash);
            kept + masks
        }
        _ if s.flash && op.is_attention_matrix() => Expr::zero(),
        convention => op.saved_elements(convention),
    };
    if s.flash { kept + op.flash_statistics() } else { kept }
}

/// With full recomputation, what a repeated stage keeps: its input, B·T × the first op's width.
pub fn recomputed_stage_bytes(stage: &Stage, s: ActivationSettings) -> Expr {
    let width = stage.ops.first().and_then(|op| op.dimensions().last().map(|(_, w)| (*w).clone()));
    Expr::product(vec![Expr::int(s.bytes), Role::Batch.expr(), Role::Context.expr(), width.unwrap_or_else(Expr::one)])
}

/// One tensor a stage keeps for the backward pass (per repeat), with its bytes per element.
#[derive(Clone, Debug)]
pub struct StageTensor {
    /// What it is (an op's output, or a tensor of its own).
    pub label: String,
    /// Who keeps it, or the list that counts it.
    pub kept_by: String,
    /// Its elements.
    pub elements: Expr,
    /// Bytes per element.
    pub bytes: i64,
    /// Split over the tensor-parallel GPUs.
    pub sharded: bool,
}

impl StageTensor {
    /// Its bytes.
    pub fn total(&self) -> Expr {
        Expr::int(self.bytes) * self.elements.clone()
    }
}

/// What one repeat of a stage keeps for the backward pass under the settings (outside full
/// recomputation): a textbook list per op, or the measured implementations' tensors, each once.
pub fn stage_tensors(model: &Model, stage: &Stage, s: ActivationSettings) -> Vec<StageTensor> {
    let mut out = Vec::new();
    if let Some(implementation) = s.convention.implementation() {
        let saved = crate::ops::tensor_saves::saved_tensors(
            &stage.name,
            &stage.ops,
            &model.saves,
            implementation,
            !s.no_dropout,
        );
        for t in saved.into_iter().filter(|t| !((s.flash || s.selective) && t.attention_matrix)) {
            let bytes = if t.mask { 1 } else { s.bytes };
            out.push(StageTensor {
                label: t.label,
                kept_by: t.kept_by.join(", "),
                elements: t.elements,
                bytes,
                sharded: t.sharded,
            });
        }
    } else {
        let (sharded_out, sharded_in) = crate::ops::tensor_saves::tensor_sharding(&stage.ops);
        for (i, op) in stage.ops.iter().enumerate() {
            // An output list keeps the op's output; Korthikanti's keeps what the op reads.
            let sharded =
                if s.convention == ActivationConvention::Korthikanti { sharded_in[i] } else { sharded_out[i] };
            let tensor = |kept_by: &str, elements: Expr, bytes: i64| StageTensor {
                label: op.name.clone(),
                kept_by: kept_by.into(),
                elements,
                bytes,
                sharded,
            };
            if s.convention == ActivationConvention::Korthikanti {
                let (kept, masks) = op.saved_for_backward(s.flash || s.selective);
                // Korthikanti et al. keep the logits for the cross-entropy in fp32 whatever the
                // training precision (4sbv).
                let bytes =
                    if matches!(op.kind, crate::ops::OpKind::CrossEntropy { .. }) { s.bytes.max(4) } else { s.bytes };
                if !kept.is_zero() {
                    out.push(tensor("kept for its backward", kept, bytes));
                }
                if !masks.is_zero() {
                    out.push(StageTensor {
                        label: format!("{} mask", op.name),
                        ..tensor("1-byte dropout mask", masks, 1)
                    });
                }
            } else if !((s.flash || s.selective) && op.is_attention_matrix()) {
                let elements = op.saved_elements(s.convention);
                if !elements.is_zero() {
                    let list = if op.saved == crate::ops::Saved::Cs336 { "CS336 list" } else { "all intermediates" };
                    out.push(tensor(list, elements, s.bytes));
                }
            }
        }
    }
    if s.flash {
        for op in &stage.ops {
            let stats = op.flash_statistics();
            if !stats.is_zero() {
                out.push(StageTensor {
                    label: format!("log-sum-exp of {}", op.name),
                    kept_by: "FlashAttention statistics".into(),
                    elements: stats,
                    bytes: s.statistics_bytes,
                    sharded: true,
                });
            }
        }
    }
    out
}

/// Bytes of activations kept for the backward pass over the whole model.
pub fn activation_bytes(model: &Model, s: ActivationSettings) -> Expr {
    over_stages(model, |stage| {
        if s.recompute && stage.repeat != Expr::one() {
            return recomputed_stage_bytes(stage, s);
        }
        Expr::sum(stage_tensors(model, stage, s).iter().map(StageTensor::total).collect())
    })
}

/// The memory terms of training with an optimizer, in bytes: the weights, the master copy (mixed
/// precision), the gradients, the optimizer state and the saved activations.
pub struct MemoryTerms {
    /// Parameters as used in the forward pass.
    pub params: Expr,
    /// Master copy of the weights, else 0.
    pub master: Expr,
    /// Gradients.
    pub gradients: Expr,
    /// Optimizer state.
    pub optimizer: Expr,
    /// Saved activations.
    pub activations: Expr,
    /// Memory beside the kept tensors the user asked to count: a reserve (CUDA context, allocator)
    /// and the largest temporary (the logits' gradient).
    pub overheads: Expr,
}

impl MemoryTerms {
    /// Memory of training `model` with `optimizer` at `precision` in `layout`, activations as `saved`.
    pub fn new(
        model: &Model,
        precision: &Precision,
        layout: &Layout,
        optimizer: &Optimizer,
        saved: ActivationSettings,
    ) -> Self {
        let p = params(model);
        let per_param = |storage: &Storage| Expr::int(storage.bytes(precision)) * p.clone();
        MemoryTerms {
            params: per_param(&layout.weights),
            master: per_param(&layout.master),
            gradients: per_param(&layout.gradients),
            optimizer: optimizer_state_bytes(model, optimizer, &layout.states, precision),
            activations: activation_bytes(model, saved),
            overheads: Expr::zero(),
        }
    }

    /// The terms with overheads: `reserve` bytes, and with `logits_temporary` the logits'
    /// gradient (B·T·V elements at `precision`), alive with the log-probabilities when the backward
    /// pass starts — the largest temporary buffer of a step.
    pub fn with_overheads(
        mut self,
        model: &Model,
        precision: &Precision,
        reserve: Option<&Rational>,
        logits_temporary: bool,
    ) -> Self {
        let mut parts = Vec::new();
        if let Some(bytes) = reserve {
            parts.push(Expr::num(bytes.clone()));
        }
        if logits_temporary {
            let logits = model.stages.iter().flat_map(|s| &s.ops).find_map(|op| match &op.kind {
                crate::ops::OpKind::CrossEntropy { vocab } => Some(vocab.clone()),
                _ => None,
            });
            if let Some(vocab) = logits {
                parts.push(Expr::product(vec![
                    Expr::int(precision.bytes),
                    Role::Batch.expr(),
                    Role::Context.expr(),
                    vocab,
                ]));
            }
        }
        self.overheads = Expr::sum(parts);
        self
    }

    /// Everything but the activations.
    pub fn fixed(&self) -> Expr {
        Expr::sum(vec![self.params.clone(), self.master.clone(), self.gradients.clone(), self.optimizer.clone()])
    }

    /// All terms.
    pub fn total(&self) -> Expr {
        self.fixed() + self.activations.clone() + self.overheads.clone()
    }
}

/// Bytes of an optimizer's state: each state tensor's elements (one per parameter, or the factored
/// rows and columns) times its bytes (the optimizer's own, else the layout's).
pub fn optimizer_state_bytes(model: &Model, optimizer: &Optimizer, states: &Storage, precision: &Precision) -> Expr {
    Expr::sum(
        optimizer
            .state
            .iter()
            .map(|s| {
                let elements = match s.shape {
                    Shape::Param => params(model),
                    Shape::Factored => factored_state(model),
                };
                let bytes = match &s.bytes {
                    Some(b) => Expr::num(b.clone()),
                    None => Expr::int(states.bytes(precision)),
                };
                bytes * elements
            })
            .collect(),
    )
}

/// The largest batch whose memory `a·B + b` fits in `budget` bytes, or how much is missing when
/// even one sequence does not fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchFit {
    /// ⌊(budget − b)/a⌋ ≥ 1.
    Largest(Rational),
    /// a + b > budget by this many bytes.
    DoesNotFit(Rational),
    /// Memory does not grow with B (a = 0) and b fits: any batch fits.
    Unbounded,
}

impl BatchFit {
    /// The largest batch, if one is.
    pub fn largest(&self) -> Option<Rational> {
        match self {
            BatchFit::Largest(n) => Some(n.clone()),
            _ => None,
        }
    }

    /// Why there is no largest batch, in words (`None` when there is one).
    pub fn verdict(&self) -> Option<String> {
        match self {
            BatchFit::Largest(_) => None,
            BatchFit::DoesNotFit(missing) => {
                Some(format!("does not fit: one sequence needs {} more", crate::dim::bytes(missing)))
            }
            BatchFit::Unbounded => Some("any batch fits: memory does not grow with B".into()),
        }
    }
}

/// Solves `a·B + b ≤ budget` for the largest whole B ≥ 1.
pub fn largest_batch(a: &Rational, b: &Rational, budget: &Rational) -> BatchFit {
    let zero = Rational::from_integer(0.into());
    if a <= &zero {
        return if b <= budget { BatchFit::Unbounded } else { BatchFit::DoesNotFit(b - budget) };
    }
    let one_sequence = a + b;
    if &one_sequence > budget {
        return BatchFit::DoesNotFit(one_sequence - budget);
    }
    BatchFit::Largest(((budget - b) / a).floor())
}

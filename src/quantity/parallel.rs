//! Training on many GPUs: the parallel degrees as symbols (data d, tensor t, pipeline p, context c,
//! micro-batches m of b sequences, virtual stages v), and what one GPU — the most loaded, the first
//! pipeline stage — holds, computes and sends per step. Model states follow a named ZeRO convention
//! (`derivations/zero.toml`); activations come from the per-op rules, each saved tensor divided by
//! t where tensor parallelism shards it (or everywhere with sequence parallelism) and by c.

use super::choices::{Overlap, Schedule, Zero};
use super::memory::{ActivationSettings, StageTensor, recomputed_stage_bytes, stage_tensors};
use crate::algebra::{self, Expr, Rational};
use crate::diagnostic::Source;
use crate::error::{Error, Result};
use crate::model::{Model, Origin, Stage};
use crate::ops::OpKind;
use crate::symbol::Role;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// One ZeRO convention: per-stage formulas for the model states on a GPU.
#[derive(Clone, Debug, PartialEq)]
pub struct ZeroConvention {
    /// Name (`paper`).
    pub name: String,
    /// Whose formulas and what they say.
    pub summary: String,
    /// Weights, gradients and optimizer state (with the master copy) per stage 0–3, if given.
    pub terms: Option<[[Expr; 4]; 3]>,
    /// What FSDP adds to stage 3.
    pub fsdp: Option<Expr>,
    /// A total per stage, for conventions that only estimate totals.
    pub total: BTreeMap<u8, Expr>,
}

/// The words of a ZeRO formula.
const ZERO_WORDS: [&str; 7] = ["P", "N", "w", "g", "k", "L1", "largest"];

impl ZeroConvention {
    /// Reads `zero.toml`.
    pub fn read(source: &Source) -> Result<Vec<ZeroConvention>> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Entry {
            name: String,
            summary: String,
            #[serde(default)]
            weights: Option<Vec<Spanned<String>>>,
            #[serde(default)]
            gradients: Option<Vec<Spanned<String>>>,
            #[serde(default)]
            optimizer: Option<Vec<Spanned<String>>>,
            #[serde(default)]
            fsdp: Option<Spanned<String>>,
            #[serde(default)]
            total: BTreeMap<String, Spanned<String>>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            convention: Vec<Entry>,
        }
        let file: File = crate::loader::read_toml(source)?;
        let formula = |text: &Spanned<String>| {
            algebra::parse(text.get_ref(), &|w| {
                if ZERO_WORDS.contains(&w) {
                    Ok(Expr::sym(&format!("zero_{w}")))
                } else {
                    Err(format!("`{w}` is not one of {}", ZERO_WORDS.join(", ")))
                }
            })
            .map_err(|e| Error::at(source, text.span(), format!("`{}`: {}", text.get_ref(), e.message)))
        };
        let stages = |list: &Option<Vec<Spanned<String>>>| -> Result<Option<[Expr; 4]>> {
            let Some(list) = list else { return Ok(None) };
            let parsed = list.iter().map(formula).collect::<Result<Vec<_>>>()?;
            let array: [Expr; 4] = parsed
                .try_into()
                .map_err(|_| Error::Usage(format!("{}: a stage list has 4 formulas (stages 0 to 3)", source.name)))?;
            Ok(Some(array))
        };
        let mut out = Vec::new();
        for e in file.convention {
            let terms = match (stages(&e.weights)?, stages(&e.gradients)?, stages(&e.optimizer)?) {
                (Some(w), Some(g), Some(o)) => Some([w, g, o]),
                (None, None, None) => None,
                _ => {
                    return Err(Error::Usage(format!(
                        "{}: convention `{}` gives weights, gradients and optimizer together or not at all",
                        source.name, e.name
                    )));
                }
            };
            let mut total = BTreeMap::new();
            for (stage, f) in &e.total {
                let n: u8 =
                    stage.parse().ok().filter(|n| *n <= 3).ok_or_else(|| {
                        Error::at(source, f.span(), format!("`{stage}` is not a ZeRO stage (0 to 3)"))
                    })?;
                total.insert(n, formula(f)?);
            }
            let fsdp = e.fsdp.as_ref().map(formula).transpose()?;
            out.push(ZeroConvention { name: e.name.to_lowercase(), summary: e.summary, terms, fsdp, total });
        }
        Ok(out)
    }
}

/// Parallel training as asked for: the degrees (bound to their symbols) and the conventions.
#[derive(Clone, Debug, PartialEq)]
pub struct ParallelSettings {
    /// Symbol → value: d, t, p, c, m, v, b.
    pub degrees: BTreeMap<String, Rational>,
    /// ZeRO stage or FSDP.
    pub zero: Zero,
    /// Whose ZeRO formulas.
    pub convention: ZeroConvention,
    /// Megatron's sequence parallelism.
    pub sequence_parallel: bool,
    /// The pipeline schedule.
    pub schedule: Schedule,
    /// What overlaps compute.
    pub overlap: Overlap,
}

impl ParallelSettings {
    /// Checks that each degree divides what it splits — tensor parallelism the attention and
    /// key/value heads, pipeline parallelism (with its virtual stages) the layers, context
    /// parallelism the tokens of a sequence — at the model's bound `values`; `option` and `value`
    /// name what the user wrote, for the message. Every command checks degrees here.
    pub fn check_splits(&self, values: &BTreeMap<String, Rational>, option: &str, value: &str) -> Result<()> {
        let splits: [(&[Role], &str, &str, &str); 4] = [
            (&[Role::TensorParallel], "tp", "A", "attention heads"),
            (&[Role::TensorParallel], "tp", "K", "key/value heads"),
            (&[Role::PipelineParallel, Role::VirtualStages], "pp", Role::Layers.symbol(), "layers"),
            (&[Role::ContextParallel], "cp", Role::Context.symbol(), "tokens per sequence"),
        ];
        for (symbols, flag, size, what) in splits {
            let Some(n) = values.get(size) else { continue };
            let d: Rational = symbols.iter().map(|r| self.degree(*r)).product();
            if !(n.clone() / d.clone()).is_integer() {
                // Degrees as the user writes them (pp=1000), sizes grouped (1,024 tokens).
                let over = if symbols.len() > 1 && self.degree(Role::VirtualStages) != Rational::from_integer(1.into())
                {
                    format!(
                        "{flag}={} × {} virtual stages",
                        crate::dim::plain(&self.degree(Role::PipelineParallel)),
                        crate::dim::plain(&self.degree(Role::VirtualStages))
                    )
                } else {
                    format!("{flag}={}", crate::dim::plain(&d))
                };
                return Err(Error::BadOption {
                    option: option.into(),
                    value: value.into(),
                    reason: format!("{} {what} ({size}) do not split over {over}", crate::dim::exact(n)),
                });
            }
        }
        Ok(())
    }

    /// The degrees as bindings.
    pub fn bindings(&self) -> Vec<(String, Rational, Origin)> {
        self.degrees.iter().map(|(s, v)| (s.clone(), v.clone(), Origin::Option("--parallel".into()))).collect()
    }

    fn degree(&self, role: Role) -> Rational {
        self.degrees.get(role.symbol()).cloned().unwrap_or_else(|| Rational::from_integer(1.into()))
    }

    /// GPUs in all: d·t·p·c.
    pub fn gpus(&self) -> Rational {
        Role::GPU_DEGREES.iter().map(|r| self.degree(*r)).product()
    }
}

/// The ZeRO stage number (FSDP is stage 3).
pub fn zero_stage(zero: Zero) -> u8 {
    match zero {
        Zero::Stage0 => 0,
        Zero::Stage1 => 1,
        Zero::Stage2 => 2,
        Zero::Stage3 | Zero::Fsdp => 3,
    }
}

/// What one GPU (the first pipeline stage) holds, computes and sends per step.
pub struct GpuTerms {
    /// Parameters on the GPU before ZeRO (after the tensor and pipeline splits).
    pub params: Expr,
    /// Model states by term; `None` when the convention estimates a total only.
    pub weights: Option<Expr>,
    /// Gradients.
    pub gradients: Option<Expr>,
    /// Optimizer state and master copy.
    pub optimizer: Option<Expr>,
    /// All model states.
    pub model_states: Expr,
    /// Activations kept, with the micro-batches in flight.
    pub activations: Expr,
    /// FLOPs per step.
    pub flops: Expr,
    /// Pipeline bubble, as a fraction of the compute time.
    pub bubble: Expr,
    /// Bytes sent per step: data-parallel gradient (and ZeRO-3 weight) collectives.
    pub comm_dp: Expr,
    /// Tensor-parallel all-reduces (or reduce-scatter + all-gather).
    pub comm_tp: Expr,
    /// Pipeline point-to-point activations and gradients.
    pub comm_pp: Expr,
    /// Context-parallel K and V exchange.
    pub comm_cp: Expr,
}

/// Where a stage's tensors are divided: by t when tensor parallelism shards them (everywhere with
/// sequence parallelism), by c always; the batch is the micro-batch b.
pub fn per_gpu(tensors: Vec<StageTensor>, sequence_parallel: bool) -> Expr {
    let batch = Role::Batch.symbol();
    Expr::sum(
        tensors
            .into_iter()
            .map(|t| {
                let bytes = t.total().substitute(&|s| (s == batch).then(|| Role::MicroBatchSize.expr()));
                let split = if t.sharded || sequence_parallel {
                    Role::TensorParallel.expr() * Role::ContextParallel.expr()
                } else {
                    Role::ContextParallel.expr()
                };
                bytes * split.pow(-1)
            })
            .collect(),
    )
}

/// The per-GPU terms of training `model` under `settings` with the parallel layout `parallel`.
/// `step_flops` is the whole step's FLOPs for a batch of B sequences; `bytes` the training precision.
pub fn gpu_terms(
    model: &Model,
    parallel: &ParallelSettings,
    saved: ActivationSettings,
    layout_bytes: (i64, i64, Expr),
    step_flops: &Expr,
) -> GpuTerms {
    let (d, t, p, c, m, v, b) = (
        Role::DataParallel.expr(),
        Role::TensorParallel.expr(),
        Role::PipelineParallel.expr(),
        Role::ContextParallel.expr(),
        Role::MicroBatches.expr(),
        Role::VirtualStages.expr(),
        Role::MicroBatchSize.expr(),
    );
    let one_stage = parallel.degree(Role::PipelineParallel) == Rational::from_integer(1.into());
    // The first pipeline stage: the embedding and L/p blocks (with one stage, everything).
    let on_first_stage = |stage: &Stage| -> Option<Expr> {
        if stage.repeat != Expr::one() {
            Some(stage.repeat.clone() * p.clone().pow(-1))
        } else if one_stage || std::ptr::eq(stage, &model.stages[0]) {
            Some(Expr::one())
        } else {
            None
        }
    };
    let tp_params = |stage: &Stage| {
        Expr::sum(
            stage
                .ops
                .iter()
                .map(|op| match op.kind {
                    OpKind::Linear { .. } | OpKind::Embedding { .. } => op.params() * t.clone().pow(-1),
                    _ => op.params(),
                })
                .collect(),
        )
    };
    let gpu_params =
        Expr::sum(model.stages.iter().filter_map(|s| on_first_stage(s).map(|share| share * tp_params(s))).collect());
    let block = model.stages.iter().find(|s| s.repeat != Expr::one());
    let layer = block.map(tp_params).unwrap_or_else(Expr::zero);
    let largest = model
        .stages
        .iter()
        .flat_map(|s| &s.ops)
        .map(|op| op.params())
        .max_by_key(|e| algebra::evaluate(e, &default_sizes(model)).ok())
        .unwrap_or_else(Expr::zero)
        * t.clone().pow(-1);
    let (w, g, k) = layout_bytes;
    let words = |e: &Expr| {
        e.substitute(&|s| {
            Some(match s.strip_prefix("zero_")? {
                "P" => gpu_params.clone(),
                "N" => d.clone(),
                "w" => Expr::int(w),
                "g" => Expr::int(g),
                "k" => k.clone(),
                "L1" => layer.clone(),
                "largest" => largest.clone(),
                _ => return None,
            })
        })
    };
    let stage = zero_stage(parallel.zero) as usize;
    let (weights, gradients, optimizer, mut model_states) = match &parallel.convention.terms {
        Some([ws, gs, os]) => {
            let (wt, gt, ot) = (words(&ws[stage]), words(&gs[stage]), words(&os[stage]));
            let sum = Expr::sum(vec![wt.clone(), gt.clone(), ot.clone()]);
            (Some(wt), Some(gt), Some(ot), sum)
        }
        None => (None, None, None, parallel.convention.total.get(&(stage as u8)).map(words).unwrap_or_else(Expr::zero)),
    };
    if parallel.zero == Zero::Fsdp
        && let Some(prefetch) = &parallel.convention.fsdp
    {
        model_states = model_states + words(prefetch);
    }
    // Activations of the first stage: the micro-batches in flight keep L/p blocks each — p of
    // them with 1F1B, so L blocks' worth; interleaving adds (p − 1)/(p·v).
    let in_flight = match parallel.schedule {
        Schedule::OneFOneB => p.clone(),
        Schedule::Interleaved => {
            p.clone() * (Expr::one() + (p.clone() - Expr::one()) * (p.clone() * v.clone()).pow(-1))
        }
    };
    let sp = parallel.sequence_parallel;
    let activations = Expr::sum(
        model
            .stages
            .iter()
            .filter_map(|stage| {
                let share = on_first_stage(stage)?;
                let kept = if saved.recompute && stage.repeat != Expr::one() {
                    let bytes = recomputed_stage_bytes(stage, saved)
                        .substitute(&|s| (s == Role::Batch.symbol()).then(|| b.clone()));
                    let split = if sp { t.clone() * c.clone() } else { c.clone() };
                    bytes * split.pow(-1)
                } else {
                    per_gpu(stage_tensors(model, stage, saved), sp)
                };
                let flight = if stage.repeat != Expr::one() { in_flight.clone() } else { Expr::one() };
                Some(share * flight * kept)
            })
            .collect(),
    );
    // FLOPs: each data-parallel rank runs m micro-batches of b sequences; t·p·c GPUs share them.
    let flops = step_flops.substitute(&|s| (s == Role::Batch.symbol()).then(|| m.clone() * b.clone()))
        * (t.clone() * p.clone() * c.clone()).pow(-1);
    let bubble = (p.clone() - Expr::one()) * (m.clone() * v.clone()).pow(-1);
    // Communication, bytes per GPU per step.
    let ring = |n: &Expr| Expr::int(2) * (n.clone() - Expr::one()) * n.clone().pow(-1);
    let dp_volume = if stage == 3 { Expr::int(3) * (d.clone() - Expr::one()) * d.clone().pow(-1) } else { ring(&d) };
    let comm_dp = dp_volume * gpu_params.clone() * Expr::int(g);
    let width = Role::Width.expr();
    let tokens = b.clone() * Role::Context.expr() * c.clone().pow(-1);
    let act = Expr::int(saved.bytes) * tokens.clone() * width.clone();
    let layers_here = block.map(|s| s.repeat.clone() * p.clone().pow(-1)).unwrap_or_else(Expr::zero);
    let comm_tp = Expr::int(4) * ring(&t) * act.clone() * layers_here.clone() * m.clone();
    let comm_pp = if one_stage { Expr::zero() } else { Expr::int(2) * act.clone() * m.clone() * t.clone().pow(-1) };
    let kv_width = block
        .map(|s| Expr::sum(s.ops.iter().filter_map(|op| op.kv_cache.clone()).collect()))
        .unwrap_or_else(Expr::zero);
    let comm_cp = Expr::int(2)
        * (c.clone() - Expr::one())
        * c.clone().pow(-1)
        * Expr::int(saved.bytes)
        * b.clone()
        * Role::Context.expr()
        * kv_width
        * t.clone().pow(-1)
        * layers_here
        * m.clone();
    GpuTerms {
        params: gpu_params,
        weights,
        gradients,
        optimizer,
        model_states,
        activations,
        flops,
        bubble,
        comm_dp,
        comm_tp,
        comm_pp,
        comm_cp,
    }
}

/// Every model symbol at its default or a nominal size, to rank ops by size.
fn default_sizes(model: &Model) -> BTreeMap<String, Rational> {
    let mut out: BTreeMap<String, Rational> =
        model.defaults.iter().map(|(k, v)| (k.clone(), Rational::from_integer(v.clone()))).collect();
    if let Some(preset) = model.default_preset.as_ref().and_then(|n| model.presets.iter().find(|p| &p.name == n)) {
        for (k, v) in &preset.sizes {
            out.insert(k.clone(), Rational::from_integer(v.clone()));
        }
    }
    for (s, e) in &model.relations {
        if !out.contains_key(s)
            && let Ok(v) = algebra::evaluate(e, &out)
        {
            out.insert(s.clone(), v);
        }
    }
    out
}

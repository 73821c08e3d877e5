//! The conventions a derivation runs under, resolved from the options against the data.

use super::memory::{ActivationSettings, Layout};
use crate::algebra::Rational;
use crate::dim::Precision;
use crate::error::Result;
use crate::hardware::Hardware;
use crate::model::Origin;
use crate::ops::{ActivationConvention, FlopConvention};
use crate::optimizer::Optimizer;
use crate::symbol::Role;

/// The conventions a derivation runs under, resolved against the data: which FLOPs count, which
/// activations are kept, how the training state is stored, the optimizer, the hardware, and the
/// training settings that bind S, U and R.
#[derive(Clone, Debug)]
pub struct Conventions {
    /// Tokens a sliding-window layer's KV cache holds.
    pub sliding_cache: super::choices::SlidingCache,
    /// Which FLOPs count.
    pub flops: FlopConvention,
    /// Which activations are kept for the backward pass.
    pub activations: ActivationConvention,
    /// Full recomputation.
    pub recompute: bool,
    /// Selective recomputation (the attention core).
    pub selective_recompute: bool,
    /// Parallel training, when asked for.
    pub parallel: Option<super::parallel::ParallelSettings>,
    /// Dropout switched off.
    pub no_dropout: bool,
    /// FlashAttention.
    pub flash: bool,
    /// Bytes per element of tensors.
    pub precision: Precision,
    /// How weights, gradients and optimizer state are stored.
    pub layout: Layout,
    /// The optimizer.
    pub optimizer: Optimizer,
    /// The accelerator.
    pub hardware: Hardware,
    /// A memory budget given explicitly, as written and in bytes.
    pub budget: Option<(String, Rational)>,
    /// Memory outside tensors (CUDA context, allocator reserve), as written and in bytes.
    pub reserve: Option<(String, Rational)>,
    /// Count the logits' gradient, the largest temporary of the backward pass.
    pub logits_temporary: bool,
    /// A measured training throughput, tokens per second.
    pub tokens_per_second: Option<Rational>,
    /// Optimizer steps (binds S).
    pub steps: Rational,
    /// Whether the steps were given (`--steps`), not the default.
    pub steps_given: bool,
    /// Model FLOPs utilisation (binds U).
    pub mfu: Rational,
    /// Bytes per element of FlashAttention's statistics.
    pub statistics_bytes: i64,
}

impl Conventions {
    /// S, U and R (the hardware's peak at the precision) as bindings, to be applied before any
    /// `--set` so that an explicit value wins.
    pub fn bindings(&self) -> Result<Vec<(String, Rational, Origin)>> {
        let peak = self.hardware.peak_at(&self.precision.name)?;
        let peak_origin = format!("{} {} peak", self.hardware.name, self.precision.name);
        let mut out = vec![
            (Role::Steps.symbol().into(), self.steps.clone(), Origin::Option("--steps".into())),
            (Role::Mfu.symbol().into(), self.mfu.clone(), Origin::Option("--mfu".into())),
            (Role::Peak.symbol().into(), peak, Origin::Option(peak_origin)),
        ];
        if let Some(p) = &self.parallel {
            out.extend(p.bindings());
        }
        Ok(out)
    }

    /// What the activation rules need.
    pub fn saved(&self) -> ActivationSettings {
        ActivationSettings {
            convention: self.activations,
            recompute: self.recompute,
            flash: self.flash,
            bytes: self.precision.bytes,
            statistics_bytes: self.statistics_bytes,
            no_dropout: self.no_dropout,
            selective: self.selective_recompute,
        }
    }

    /// The memory budgets to try: the one given, else the hardware's readings of its memory.
    pub fn budgets(&self) -> Vec<(String, Rational)> {
        match &self.budget {
            Some(b) => vec![b.clone()],
            None => self
                .hardware
                .readings
                .iter()
                .map(|(reading, bytes)| {
                    let words = if reading.ends_with("iB") {
                        "binary, 2³⁰ bytes per GiB"
                    } else {
                        "decimal, 10⁹ bytes per GB"
                    };
                    (format!("{reading} ({words})"), bytes.clone())
                })
                .collect(),
        }
    }
}

//! The options of a derivation as a user gives them — on the command line, in a claims file, or
//! as JSON from another program: the user's words only. Resolving them against the facts into
//! conventions is the resolving step's work. Every option type reads and writes itself as text
//! (`FromStr`/`Display`) and as serde, so JSON in is JSON out.

use crate::error::{Error, Result};
pub use crate::ops::ActivationConvention;
pub use crate::quantity::choices::{
    AttentionFlops, Dropout, FlopCount, Kernel, Overlap, Recompute, Schedule, SlidingCache, Temporaries, Zero,
};
use serde::{Deserialize, Serialize};

/// How a derivation is accounted, as a user writes it. Names of facts (precision, layout,
/// optimizer, hardware) are looked up when the options are resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Which FLOPs count.
    pub flops: FlopCount,
    /// Full or causal attention FLOPs.
    pub attention_flops: AttentionFlops,
    /// Tokens a sliding-window layer's KV cache holds.
    pub sliding_cache: SlidingCache,
    /// Which activations are kept for the backward pass.
    pub activations: ActivationConvention,
    /// Activation recomputation.
    pub recompute: Recompute,
    /// Whether dropout runs (torch and manual activation conventions).
    pub dropout: Dropout,
    /// The attention kernel.
    pub attention_kernel: Kernel,
    /// Bytes per element (a precision name: fp32, bf16, …).
    pub precision: String,
    /// How weights, gradients and optimizer state are stored (uniform, mixed, …).
    pub layout: String,
    /// The optimizer (adamw, adam, sgd-momentum, adafactor, adam-8bit).
    pub optimizer: String,
    /// The accelerator.
    pub hardware: String,
    /// A memory budget with its unit (`80GB`, `80GiB`); default: the hardware's readings.
    pub memory: Option<String>,
    /// Memory outside tensors, with its unit (CUDA context and allocator reserve, as measured on
    /// the user's machine); none by default.
    pub reserve: Option<String>,
    /// Temporary buffers counted on top of the kept tensors.
    pub temporaries: Temporaries,
    /// Model FLOPs utilisation, `0.5` or `50%`.
    pub mfu: String,
    /// Optimizer steps.
    pub steps: String,
    /// A measured throughput in tokens per second, to turn into MFU.
    pub tokens_per_second: Option<String>,
    /// Parallel degrees, `dp=8,tp=2,pp=4,cp=1` (absent: one GPU).
    pub parallel: Option<String>,
    /// Micro-batches per step (m).
    pub micro_batches: Option<String>,
    /// Sequences per micro-batch (b).
    pub micro_batch_size: Option<String>,
    /// Virtual stages per GPU for the interleaved schedule (v).
    pub virtual_stages: Option<String>,
    /// ZeRO stage or FSDP.
    pub zero: Zero,
    /// Whose ZeRO formulas (`derivations/zero.toml`): paper, deepspeed-docs, deepspeed-code.
    pub zero_convention: String,
    /// Megatron's sequence parallelism (the replicated activations split by t too).
    pub sequence_parallel: bool,
    /// Megatron's distributed optimizer (= ZeRO-1).
    pub distributed_optimizer: bool,
    /// The pipeline schedule.
    pub pipeline_schedule: Schedule,
    /// Which communication overlaps compute.
    pub overlap: Overlap,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            flops: FlopCount::Matmul,
            attention_flops: AttentionFlops::Full,
            sliding_cache: SlidingCache::Window,
            activations: ActivationConvention::Cs336,
            recompute: Recompute::None,
            dropout: Dropout::On,
            attention_kernel: Kernel::Standard,
            precision: "fp32".into(),
            layout: "uniform".into(),
            optimizer: "adamw".into(),
            hardware: "a100-80gb".into(),
            memory: None,
            reserve: None,
            temporaries: Temporaries::None,
            mfu: "0.5".into(),
            steps: "400000".into(),
            tokens_per_second: None,
            parallel: None,
            micro_batches: None,
            micro_batch_size: None,
            virtual_stages: None,
            zero: Zero::Stage0,
            zero_convention: "paper".into(),
            sequence_parallel: false,
            distributed_optimizer: false,
            pipeline_schedule: Schedule::OneFOneB,
            overlap: Overlap::DataParallel,
        }
    }
}

/// `on`/`off` (also true/false, yes/no) as a claims file or reading writes a switch.
fn read_switch(value: &str) -> std::result::Result<bool, String> {
    match value.trim().to_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        other => Err(format!("`{other}` is not on or off")),
    }
}

/// The error for an option's value, with the reason in words.
pub fn bad(option: &str, value: &str, reason: impl Into<String>) -> Error {
    Error::BadOption { option: option.into(), value: value.into(), reason: reason.into() }
}

impl Options {
    /// The option names whose values differ from the defaults (`--precision`), in a fixed order.
    pub fn changed(&self) -> Vec<&'static str> {
        let d = Options::default();
        [
            ("--flops", self.flops != d.flops),
            ("--attention-flops", self.attention_flops != d.attention_flops),
            ("--sliding-cache", self.sliding_cache != d.sliding_cache),
            ("--activations", self.activations != d.activations),
            ("--recompute", self.recompute != d.recompute),
            ("--dropout", self.dropout != d.dropout),
            ("--attention-kernel", self.attention_kernel != d.attention_kernel),
            ("--precision", self.precision != d.precision),
            ("--layout", self.layout != d.layout),
            ("--optimizer", self.optimizer != d.optimizer),
            ("--hardware", self.hardware != d.hardware),
            ("--memory", self.memory.is_some()),
            ("--reserve", self.reserve.is_some()),
            ("--temporaries", self.temporaries != d.temporaries),
            ("--mfu", self.mfu != d.mfu),
            ("--steps", self.steps != d.steps),
            ("--tokens-per-second", self.tokens_per_second.is_some()),
            ("--parallel", self.parallel.is_some()),
            ("--micro-batches", self.micro_batches.is_some()),
            ("--micro-batch-size", self.micro_batch_size.is_some()),
            ("--virtual-stages", self.virtual_stages.is_some()),
            ("--zero", self.zero != d.zero),
            ("--zero-convention", self.zero_convention != d.zero_convention),
            ("--sequence-parallel", self.sequence_parallel),
            ("--distributed-optimizer", self.distributed_optimizer),
            ("--pipeline-schedule", self.pipeline_schedule != d.pipeline_schedule),
            ("--overlap", self.overlap != d.overlap),
        ]
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| name)
        .collect()
    }

    /// Sets one option by its name as a claims file writes it (`precision = "bf16"`).
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let reason = |reason: String| bad(name, value, reason);
        match name {
            "flops" => self.flops = value.parse().map_err(reason)?,
            "attention_flops" => self.attention_flops = value.parse().map_err(reason)?,
            "sliding_cache" => self.sliding_cache = value.parse().map_err(reason)?,
            "activations" => self.activations = value.parse().map_err(reason)?,
            "recompute" => self.recompute = value.parse().map_err(reason)?,
            "dropout" => self.dropout = value.parse().map_err(reason)?,
            "attention_kernel" => self.attention_kernel = value.parse().map_err(reason)?,
            "precision" => self.precision = value.into(),
            "layout" => self.layout = value.into(),
            "optimizer" => self.optimizer = value.into(),
            "hardware" => self.hardware = value.into(),
            "memory" => self.memory = Some(value.into()),
            "reserve" => self.reserve = Some(value.into()),
            "temporaries" => self.temporaries = value.parse().map_err(reason)?,
            "mfu" => self.mfu = value.into(),
            "steps" => self.steps = value.into(),
            "tokens_per_second" => self.tokens_per_second = Some(value.into()),
            "parallel" => self.parallel = Some(value.into()),
            "micro_batches" => self.micro_batches = Some(value.into()),
            "micro_batch_size" => self.micro_batch_size = Some(value.into()),
            "virtual_stages" => self.virtual_stages = Some(value.into()),
            "zero" => self.zero = value.parse().map_err(reason)?,
            "zero_convention" => self.zero_convention = value.into(),
            "sequence_parallel" => self.sequence_parallel = read_switch(value).map_err(reason)?,
            "distributed_optimizer" => self.distributed_optimizer = read_switch(value).map_err(reason)?,
            "pipeline_schedule" => self.pipeline_schedule = value.parse().map_err(reason)?,
            "overlap" => self.overlap = value.parse().map_err(reason)?,
            other => {
                return Err(Error::Unknown {
                    what: "convention".into(),
                    name: other.into(),
                    known: [
                        "flops",
                        "attention_flops",
                        "sliding_cache",
                        "activations",
                        "recompute",
                        "dropout",
                        "attention_kernel",
                        "precision",
                        "layout",
                        "optimizer",
                        "hardware",
                        "memory",
                        "reserve",
                        "temporaries",
                        "mfu",
                        "steps",
                        "tokens_per_second",
                        "parallel",
                        "micro_batches",
                        "micro_batch_size",
                        "virtual_stages",
                        "zero",
                        "zero_convention",
                        "sequence_parallel",
                        "distributed_optimizer",
                        "pipeline_schedule",
                        "overlap",
                    ]
                    .map(String::from)
                    .to_vec(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_read_and_write_themselves_as_text_and_json() {
        assert_eq!("ALL".parse::<FlopCount>(), Ok(FlopCount::All));
        assert!("some".parse::<Kernel>().unwrap_err().contains("standard, flash"));
        let mut o = Options::default();
        o.set("precision", "bf16").unwrap();
        o.set("attention_kernel", "flash").unwrap();
        let json = serde_json::to_string(&o).unwrap();
        assert_eq!(serde_json::from_str::<Options>(&json).unwrap(), o);
        assert_eq!(o.changed(), vec!["--attention-kernel", "--precision"]);
    }
}

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

/// Declares the options once — name, type, default, the flag that changes it, how a claims file's
/// text becomes its value — and derives from that one table the [`Options`] struct (serde, so
/// JSON in is JSON out), its `Default`, [`Options::changed`], [`Options::set`] and
/// [`Options::NAMES`].
macro_rules! options {
    ($($(#[$doc:meta])* $field:ident: $ty:ty = $default:expr, $flag:literal, $read:ident;)+) => {
        /// How a derivation is accounted, as a user writes it. Names of facts (precision, layout,
        /// optimizer, hardware) are looked up when the options are resolved.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct Options {
            $($(#[$doc])* pub $field: $ty,)+
        }

        impl Default for Options {
            fn default() -> Self {
                Options { $($field: $default,)+ }
            }
        }

        impl Options {
            /// Every option's name as a claims file writes it (`attention_flops`), in order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($field)),+];

            /// The option names whose values differ from the defaults (`--precision`), in a fixed order.
            pub fn changed(&self) -> Vec<&'static str> {
                let d = Options::default();
                let mut out = Vec::new();
                $(if self.$field != d.$field {
                    out.push($flag);
                })+
                out
            }

            /// Sets one option by its name as a claims file writes it (`precision = "bf16"`).
            pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
                let reason = |reason: String| bad(name, value, reason);
                match name {
                    $(stringify!($field) => self.$field = $read(value).map_err(reason)?,)+
                    other => {
                        return Err(Error::Unknown {
                            what: "convention".into(),
                            name: other.into(),
                            known: Options::NAMES.iter().map(|n| n.to_string()).collect(),
                        });
                    }
                }
                Ok(())
            }
        }
    };
}

/// What tally assumes when the user says nothing (`derivations/defaults.toml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// The model when none is named.
    pub model: String,
    /// The options' defaults that name facts or numbers.
    pub options: OptionDefaults,
    /// What `tally plan` tries beside the divisors of the GPU count.
    pub plan: PlanDefaults,
}

/// The defaults of the options that name facts or numbers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionDefaults {
    /// A precision's name.
    pub precision: String,
    /// A storage layout's name.
    pub layout: String,
    /// An optimizer's name.
    pub optimizer: String,
    /// An accelerator's name.
    pub hardware: String,
    /// Model FLOPs utilisation, as written.
    pub mfu: String,
    /// Optimizer steps, as written.
    pub steps: String,
    /// A ZeRO convention's name.
    pub zero_convention: String,
}

/// The choices `tally plan` tries.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanDefaults {
    /// Context-parallel degrees.
    pub context_parallel: Vec<u64>,
    /// Sequences per micro-batch.
    pub micro_batch_size: Vec<u64>,
}

impl Defaults {
    /// The built-in defaults, read once.
    pub fn builtin() -> &'static Defaults {
        static BUILT: std::sync::OnceLock<Defaults> = std::sync::OnceLock::new();
        BUILT.get_or_init(|| crate::loader::read_builtin("derivations/defaults.toml", crate::loader::read_toml))
    }
}

/// One of a closed set of words (`matmul`, `all`).
fn choice<T: std::str::FromStr<Err = String>>(value: &str) -> std::result::Result<T, String> {
    value.parse()
}

/// A name or a number kept as written, read when the options are resolved.
fn text(value: &str) -> std::result::Result<String, String> {
    Ok(value.into())
}

/// The same, for an option that is absent by default.
fn some_text(value: &str) -> std::result::Result<Option<String>, String> {
    Ok(Some(value.into()))
}

/// `on`/`off` (also true/false, yes/no) as a claims file or reading writes a switch.
fn switch(value: &str) -> std::result::Result<bool, String> {
    match value.trim().to_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        other => Err(format!("`{other}` is not on or off")),
    }
}

options! {
    /// Which FLOPs count.
    flops: FlopCount = FlopCount::Matmul, "--flops", choice;
    /// Full or causal attention FLOPs.
    attention_flops: AttentionFlops = AttentionFlops::Full, "--attention-flops", choice;
    /// Tokens a sliding-window layer's KV cache holds.
    sliding_cache: SlidingCache = SlidingCache::Window, "--sliding-cache", choice;
    /// Which activations are kept for the backward pass.
    activations: ActivationConvention = ActivationConvention::Cs336, "--activations", choice;
    /// Activation recomputation.
    recompute: Recompute = Recompute::None, "--recompute", choice;
    /// Whether dropout runs (torch and manual activation conventions).
    dropout: Dropout = Dropout::On, "--dropout", choice;
    /// The attention kernel.
    attention_kernel: Kernel = Kernel::Standard, "--attention-kernel", choice;
    /// Bytes per element (a precision name: fp32, bf16, …).
    precision: String = Defaults::builtin().options.precision.clone(), "--precision", text;
    /// How weights, gradients and optimizer state are stored (uniform, mixed, …).
    layout: String = Defaults::builtin().options.layout.clone(), "--layout", text;
    /// The optimizer (adamw, adam, sgd-momentum, adafactor, adam-8bit).
    optimizer: String = Defaults::builtin().options.optimizer.clone(), "--optimizer", text;
    /// The accelerator.
    hardware: String = Defaults::builtin().options.hardware.clone(), "--hardware", text;
    /// A memory budget with its unit (`80GB`, `80GiB`); default: the hardware's readings.
    memory: Option<String> = None, "--memory", some_text;
    /// Memory outside tensors, with its unit (CUDA context and allocator reserve, as measured on
    /// the user's machine); none by default.
    reserve: Option<String> = None, "--reserve", some_text;
    /// Temporary buffers counted on top of the kept tensors.
    temporaries: Temporaries = Temporaries::None, "--temporaries", choice;
    /// Model FLOPs utilisation, `0.5` or `50%`.
    mfu: String = Defaults::builtin().options.mfu.clone(), "--mfu", text;
    /// Optimizer steps.
    steps: String = Defaults::builtin().options.steps.clone(), "--steps", text;
    /// A measured throughput in tokens per second, to turn into MFU.
    tokens_per_second: Option<String> = None, "--tokens-per-second", some_text;
    /// Parallel degrees, `dp=8,tp=2,pp=4,cp=1` (absent: one GPU).
    parallel: Option<String> = None, "--parallel", some_text;
    /// Micro-batches per step (m).
    micro_batches: Option<String> = None, "--micro-batches", some_text;
    /// Sequences per micro-batch (b).
    micro_batch_size: Option<String> = None, "--micro-batch-size", some_text;
    /// Virtual stages per GPU for the interleaved schedule (v).
    virtual_stages: Option<String> = None, "--virtual-stages", some_text;
    /// ZeRO stage or FSDP.
    zero: Zero = Zero::Stage0, "--zero", choice;
    /// Whose ZeRO formulas (`derivations/zero.toml`): paper, deepspeed-docs, deepspeed-code.
    zero_convention: String = Defaults::builtin().options.zero_convention.clone(), "--zero-convention", text;
    /// Megatron's sequence parallelism (the replicated activations split by t too).
    sequence_parallel: bool = false, "--sequence-parallel", switch;
    /// Megatron's distributed optimizer (= ZeRO-1).
    distributed_optimizer: bool = false, "--distributed-optimizer", switch;
    /// The pipeline schedule.
    pipeline_schedule: Schedule = Schedule::OneFOneB, "--pipeline-schedule", choice;
    /// Which communication overlaps compute.
    overlap: Overlap = Overlap::DataParallel, "--overlap", choice;
}

/// The error for an option's value, with the reason in words.
pub fn bad(option: &str, value: &str, reason: impl Into<String>) -> Error {
    Error::BadOption { option: option.into(), value: value.into(), reason: reason.into() }
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

//! The conventions and training settings `derive`, `audit` and `plan` share, as command-line
//! options, and how they become the library's `Options`.

use clap::Args;
use tally::options::{
    ActivationConvention, AttentionFlops, Dropout, FlopCount, Kernel, Options, Overlap, Recompute, Schedule,
    SlidingCache, Temporaries, Zero,
};
use tally::render::Format;

/// Conventions and training settings shared by `derive` and `audit`.
#[derive(Args)]
pub struct OptionArgs {
    /// Which FLOPs count: matmul (CS336's convention) or all (element-wise work too).
    #[arg(long, default_value_t = Options::default().flops)]
    pub flops: FlopCount,
    /// Bytes per element of parameters, gradients, optimizer state and activations; also picks the
    /// hardware peak: fp32, tf32, bf16, fp16, fp8 (`tally list precisions`).
    #[arg(long, default_value_t = Options::default().precision, value_name = "NAME")]
    pub precision: String,
    /// Attention FLOPs: full (the T×T matmuls), causal (halved) or window (sliding layers: T·min(T, W)).
    #[arg(long, default_value_t = Options::default().attention_flops)]
    pub attention_flops: AttentionFlops,
    /// Tokens a sliding layer's KV cache holds: window (min(T, W)), hf-dynamic (min(T, W − 1)) or full (T).
    #[arg(long, default_value_t = Options::default().sliding_cache)]
    pub sliding_cache: SlidingCache,
    /// Which activations count toward memory: cs336 (the assignment's list), all (every
    /// intermediate), korthikanti (what each op keeps for its backward pass, 1-byte dropout masks),
    /// torch (what PyTorch eager keeps, measured), manual (what the CS336 handout's hand-written
    /// ops keep, measured).
    #[arg(long, default_value_t = Options::default().activations)]
    pub activations: ActivationConvention,
    /// Activation recomputation: none, or full (each block keeps only its input).
    #[arg(long, default_value_t = Options::default().recompute)]
    pub recompute: Recompute,
    /// Dropout: on (the model's dropout ops run and keep their masks), or off (p = 0; only the
    /// torch and manual activation conventions tell the difference).
    #[arg(long, default_value_t = Options::default().dropout)]
    pub dropout: Dropout,
    /// Attention kernel: standard, or flash (no T² tensors kept; an fp32 log-sum-exp per row).
    #[arg(long, default_value_t = Options::default().attention_kernel)]
    pub attention_kernel: Kernel,
    /// How weights, gradients and optimizer state are stored: uniform (every tensor in
    /// --precision), mixed (16-bit weights and gradients + fp32 master and state), mixed-fp32-grads.
    #[arg(long, default_value_t = Options::default().layout, value_name = "NAME")]
    pub layout: String,
    /// The optimizer: adamw, adam, sgd-momentum, adafactor, adam-8bit (`tally list optimizers`).
    #[arg(long, default_value_t = Options::default().optimizer, value_name = "NAME")]
    pub optimizer: String,
    /// Accelerator for memory and peak FLOP/s (`tally list hardware`).
    #[arg(long, value_name = "NAME", default_value_t = Options::default().hardware)]
    pub hardware: String,
    /// Memory budget for the largest batch: 80GB (10⁹ bytes) or 80GiB (2³⁰ bytes).
    /// [default: the hardware's memory, read as the hardware data says]
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory outside tensors to add to training memory (CUDA context and allocator reserve, as
    /// measured on your machine): 1GiB, 600MB.
    #[arg(long, value_name = "SIZE")]
    pub reserve: Option<String>,
    /// Temporary buffers to count on top of the kept tensors: none, or logits (the logits'
    /// gradient, B·T·V elements, the largest temporary of the backward pass).
    #[arg(long, default_value_t = Options::default().temporaries)]
    pub temporaries: Temporaries,
    /// Model FLOPs utilisation, a fraction of peak in (0, 1] (0.5 or 50%); binds U.
    #[arg(long, value_name = "FRACTION", default_value_t = Options::default().mfu, allow_hyphen_values = true)]
    pub mfu: String,
    /// Optimizer steps of the training run; binds S.
    #[arg(long, value_name = "N", default_value_t = Options::default().steps, allow_hyphen_values = true)]
    pub steps: String,
    /// Parallel degrees: dp=8,tp=2,pp=4,cp=1 (data, tensor, pipeline, context); adds a per-GPU
    /// section (most-loaded GPU: the first pipeline stage).
    #[arg(long, value_name = "DEGREES")]
    pub parallel: Option<String>,
    /// Micro-batches per step and pipeline (m).
    #[arg(long, value_name = "N")]
    pub micro_batches: Option<String>,
    /// Sequences per micro-batch (b); the global batch is d·m·b.
    #[arg(long, value_name = "N")]
    pub micro_batch_size: Option<String>,
    /// Virtual stages per GPU for --pipeline-schedule interleaved (v).
    #[arg(long, value_name = "N")]
    pub virtual_stages: Option<String>,
    /// ZeRO stage (0, 1, 2, 3) or fsdp: which model states are split over the data-parallel GPUs.
    #[arg(long, default_value_t = Options::default().zero)]
    pub zero: Zero,
    /// Whose ZeRO formulas: paper, deepspeed-docs, deepspeed-code (`derivations/zero.toml`).
    #[arg(long, default_value_t = Options::default().zero_convention, value_name = "NAME")]
    pub zero_convention: String,
    /// Megatron's sequence parallelism: the activations tensor parallelism replicates are split by t too.
    #[arg(long)]
    pub sequence_parallel: bool,
    /// Megatron's distributed optimizer (ZeRO-1: 6 + 12/d bytes per parameter with fp32 gradients).
    #[arg(long)]
    pub distributed_optimizer: bool,
    /// Pipeline schedule: 1f1b, or interleaved (with --virtual-stages).
    #[arg(long, default_value_t = Options::default().pipeline_schedule)]
    pub pipeline_schedule: Schedule,
    /// Communication that overlaps compute: dp (the gradient reduction, the usual bucketing) or none.
    #[arg(long, default_value_t = Options::default().overlap)]
    pub overlap: Overlap,
    /// A measured training throughput to turn into MFU.
    #[arg(long, value_name = "RATE", allow_hyphen_values = true)]
    pub tokens_per_second: Option<String>,
}

impl OptionArgs {
    /// The library's options.
    pub fn options(&self) -> Options {
        Options {
            flops: self.flops,
            attention_flops: self.attention_flops,
            sliding_cache: self.sliding_cache,
            activations: self.activations,
            recompute: self.recompute,
            dropout: self.dropout,
            attention_kernel: self.attention_kernel,
            precision: self.precision.clone(),
            layout: self.layout.clone(),
            optimizer: self.optimizer.clone(),
            hardware: self.hardware.clone(),
            memory: self.memory.clone(),
            reserve: self.reserve.clone(),
            temporaries: self.temporaries,
            mfu: self.mfu.clone(),
            steps: self.steps.clone(),
            tokens_per_second: self.tokens_per_second.clone(),
            parallel: self.parallel.clone(),
            micro_batches: self.micro_batches.clone(),
            micro_batch_size: self.micro_batch_size.clone(),
            virtual_stages: self.virtual_stages.clone(),
            zero: self.zero,
            zero_convention: self.zero_convention.clone(),
            sequence_parallel: self.sequence_parallel,
            distributed_optimizer: self.distributed_optimizer,
            pipeline_schedule: self.pipeline_schedule,
            overlap: self.overlap,
        }
    }
}

/// `--format` as written: a format's name, or `tex` for LaTeX.
pub fn parse_format(s: &str) -> Result<Format, String> {
    if s.eq_ignore_ascii_case("tex") { Ok(Format::Latex) } else { s.parse() }
}

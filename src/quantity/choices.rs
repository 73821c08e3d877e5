//! The words of the conventions a derivation is accounted under — which FLOPs count, what
//! attention costs, recomputation, ZeRO stages, schedules — each a closed set of choices that
//! reads and writes itself as text and serde. The options a user gives are made of these words
//! (the options); the resolved conventions hold them.

choices! {
    /// Which FLOPs count.
    FlopCount {
        /// Only matrix multiplications (CS336's convention).
        #[default]
        Matmul = "matmul",
        /// Matrix multiplications and element-wise work.
        All = "all",
    }
}

choices! {
    /// Attention FLOPs: the full T×T matmuls, or halved for a causal mask.
    AttentionFlops {
        /// Full QKᵀ and AV.
        #[default]
        Full = "full",
        /// Causal: QKᵀ and AV halved.
        Causal = "causal",
        /// Full, except that sliding-window layers compute only their window: T·min(T, W) scores
        /// per head (a kernel that skips masked blocks; eager attention computes the full T²).
        Window = "window",
    }
}

choices! {
    /// How many tokens a sliding-window layer's KV cache holds after T tokens: engines differ.
    SlidingCache {
        /// min(T, W): a ring buffer of W slots (transformers' StaticCache, window-sized engines).
        #[default]
        Window = "window",
        /// min(T, W − 1): transformers' DynamicCache keeps the W − 1 tokens the next query needs
        /// besides itself.
        HfDynamic = "hf-dynamic",
        /// T: every layer allocates the whole context (engines without window-sized caches).
        Full = "full",
    }
}

choices! {
    /// Activation recomputation.
    Recompute {
        /// Keep every activation of the chosen list.
        #[default]
        None = "none",
        /// Keep only each block's input; rerun the forward pass during backward.
        Full = "full",
        /// Korthikanti et al.'s selective recomputation: recompute the attention core (the T×T
        /// tensors), keep everything else.
        Selective = "selective",
    }
}

choices! {
    /// Dropout in training.
    Dropout {
        /// Dropout ops run (the model's probabilities); their masks are kept.
        #[default]
        On = "on",
        /// p = 0 (or inference): dropout ops pass their input on and keep nothing.
        Off = "off",
    }
}

choices! {
    /// Temporary buffers counted on top of what training keeps.
    Temporaries {
        /// None (the memory of the kept tensors only).
        #[default]
        None = "none",
        /// The largest op's temporary: the logits' gradient (B·T·V elements), alive beside the
        /// log-probabilities at the start of the backward pass.
        Logits = "logits",
    }
}

choices! {
    /// How ZeRO (or FSDP) partitions the model states over the data-parallel ranks.
    Zero {
        /// Nothing partitioned.
        #[default]
        Stage0 = "0",
        /// Optimizer state (and master copy) partitioned; Megatron's distributed optimizer.
        Stage1 = "1",
        /// Gradients too.
        Stage2 = "2",
        /// Weights too.
        Stage3 = "3",
        /// PyTorch FSDP: stage 3, one block gathered and the next prefetched.
        Fsdp = "fsdp",
    }
}

choices! {
    /// The pipeline schedule.
    Schedule {
        /// One forward, one backward: the first stage holds p micro-batches.
        #[default]
        OneFOneB = "1f1b",
        /// Interleaved 1F1B with v virtual stages per GPU.
        Interleaved = "interleaved",
    }
}

choices! {
    /// Which communication the step hides behind compute.
    Overlap {
        /// The data-parallel gradient reduction overlaps the backward pass (the usual bucketing).
        #[default]
        DataParallel = "dp",
        /// Nothing overlaps: every collective adds to the step.
        None = "none",
    }
}

choices! {
    /// The attention kernel.
    Kernel {
        /// Materialise the T×T attention matrices.
        #[default]
        Standard = "standard",
        /// FlashAttention: recompute them, keep the log-sum-exp.
        Flash = "flash",
    }
}

//! The per-GPU quantities of parallel training (`quantity::parallel`) as catalog entries.

use super::{Catalog, Entry, bytes, flops, seconds};
use crate::algebra::{Expr, Rational};
use crate::dim::Unit;
use crate::symbol::Role;

/// The per-GPU entries; they exist only under parallel training.
pub(super) const ENTRIES: &[Entry] = &[
    entry!(
        "gpu.params",
        Unit::param,
        ["parallel"],
        [],
        false,
        |_| "parameters on the most-loaded GPU (first pipeline stage, split by t)".into(),
        |c| c.gpu().map(|g| g.params)
    ),
    entry!(
        "gpu.memory.weights",
        bytes,
        ["parallel", "zero", "layout"],
        ["gpu.params"],
        false,
        |_| "weights per GPU".into(),
        |c| c.gpu().and_then(|g| g.weights)
    ),
    entry!(
        "gpu.memory.gradients",
        bytes,
        ["parallel", "zero", "layout"],
        ["gpu.params"],
        false,
        |_| "gradients per GPU".into(),
        |c| c.gpu().and_then(|g| g.gradients)
    ),
    entry!(
        "gpu.memory.optimizer",
        bytes,
        ["parallel", "zero", "layout", "optimizer"],
        ["gpu.params"],
        false,
        |_| "optimizer state and master copy per GPU".into(),
        |c| c.gpu().and_then(|g| g.optimizer)
    ),
    entry!(
        "gpu.memory.model_states",
        bytes,
        ["parallel", "zero", "zero_convention", "layout", "optimizer"],
        ["gpu.params"],
        false,
        |c| c
            .conventions
            .parallel
            .as_ref()
            .map(|p| format!("model states per GPU ({} ZeRO convention)", p.convention.name))
            .unwrap_or_default(),
        |c| c.gpu().map(|g| g.model_states)
    ),
    entry!(
        "gpu.memory.activations",
        bytes,
        [
            "parallel",
            "activations",
            "recompute",
            "attention_kernel",
            "precision",
            "sequence_parallel",
            "pipeline_schedule"
        ],
        [],
        false,
        |_| "activations per GPU, micro-batches in flight".into(),
        |c| c.gpu().map(|g| g.activations)
    ),
    entry!(
        "gpu.memory.total",
        bytes,
        ["parallel", "zero", "activations", "precision", "layout"],
        ["gpu.memory.model_states", "gpu.memory.activations"],
        false,
        |_| "training memory per GPU".into(),
        |c| c.gpu().map(|g| g.model_states + g.activations + c.memory().overheads)
    ),
    entry!(
        "gpu.flops.step",
        flops,
        ["parallel", "flops"],
        ["flops.step"],
        false,
        |_| "FLOPs per GPU per step".into(),
        |c| c.gpu().map(|g| g.flops)
    ),
    entry!(
        "gpu.bubble",
        Unit::none,
        ["parallel", "pipeline_schedule"],
        [],
        false,
        |_| "pipeline bubble, fraction of compute time".into(),
        |c| c.gpu().map(|g| g.bubble)
    ),
    entry!(
        "gpu.comm.dp",
        bytes,
        ["parallel", "zero"],
        ["gpu.params"],
        false,
        |_| "data-parallel gradient all-reduce (ZeRO-3: and weight all-gathers) per GPU per step".into(),
        |c| c.gpu().map(|g| g.comm_dp).filter(|e| !e.is_zero())
    ),
    entry!(
        "gpu.comm.tp",
        bytes,
        ["parallel", "sequence_parallel"],
        [],
        false,
        |_| "tensor-parallel all-reduces (reduce-scatter + all-gather with SP) per GPU per step".into(),
        |c| c.gpu().map(|g| g.comm_tp).filter(|e| !e.is_zero())
    ),
    entry!(
        "gpu.comm.pp",
        bytes,
        ["parallel"],
        [],
        false,
        |_| "pipeline sends and receives per GPU per step".into(),
        |c| c.gpu().map(|g| g.comm_pp).filter(|e| !e.is_zero())
    ),
    entry!(
        "gpu.comm.cp",
        bytes,
        ["parallel"],
        [],
        false,
        |_| "context-parallel K and V exchange per GPU per step".into(),
        |c| c.gpu().map(|g| g.comm_cp).filter(|e| !e.is_zero())
    ),
    entry!(
        "gpu.time.step",
        seconds,
        ["parallel", "overlap", "hardware", "precision", "mfu"],
        ["gpu.flops.step", "gpu.bubble", "gpu.comm.dp", "gpu.comm.tp", "gpu.comm.pp", "gpu.comm.cp"],
        false,
        |_| "step time: compute at U·R with the bubble, plus the communication that does not overlap".into(),
        |c| c.gpu_step_time()
    ),
];

impl Catalog<'_> {
    /// What the most-loaded GPU holds, computes and sends, under parallel training.
    pub fn gpu(&self) -> Option<crate::quantity::parallel::GpuTerms> {
        let c = self.conventions;
        let parallel = c.parallel.as_ref()?;
        let (w, g) = (c.layout.weights.bytes(&c.precision), c.layout.gradients.bytes(&c.precision));
        // Master copy and optimizer state per parameter (states of one element per parameter).
        let state_bytes: Vec<Expr> = c
            .optimizer
            .state
            .iter()
            .filter(|s| s.shape == crate::optimizer::Shape::Param)
            .map(|s| match &s.bytes {
                Some(b) => Expr::num(b.clone()),
                None => Expr::int(c.layout.states.bytes(&c.precision)),
            })
            .collect();
        let k = Expr::int(c.layout.master.bytes(&c.precision)) + Expr::sum(state_bytes);
        Some(crate::quantity::parallel::gpu_terms(self.model, parallel, c.saved(), (w, g, k), &self.step_flops()))
    }

    /// The step time on the parallel layout: compute at U·R stretched by the bubble, plus the
    /// communication that does not overlap, each over its link (within a node or across nodes).
    fn gpu_step_time(&self) -> Option<Expr> {
        let c = self.conventions;
        let parallel = c.parallel.as_ref()?;
        let links = c.hardware.links.as_ref()?;
        let g = self.gpu()?;
        let per_node = Rational::from_integer(links.gpus_per_node.into());
        let degree =
            |r: Role| parallel.degrees.get(r.symbol()).cloned().unwrap_or_else(|| Rational::from_integer(1.into()));
        let over = |within: bool| Expr::num(if within { links.node.clone() } else { links.network.clone() }).pow(-1);
        let all_within = parallel.gpus() <= per_node;
        let compute = g.flops * (Role::Mfu.expr() * Role::Peak.expr()).pow(-1) * (Expr::one() + g.bubble);
        let mut exposed = vec![
            g.comm_tp * over(degree(Role::TensorParallel) <= per_node),
            g.comm_cp * over(degree(Role::TensorParallel) * degree(Role::ContextParallel) <= per_node),
            g.comm_pp * over(all_within),
        ];
        if parallel.overlap == super::super::choices::Overlap::None {
            exposed.push(g.comm_dp * over(all_within));
        }
        Some(compute + Expr::sum(exposed))
    }
}

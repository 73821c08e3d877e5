//! The catalog of named quantities: each is defined once here — its name, unit, title, the
//! conventions it reads and how it is built from the rules — and any one of them can be derived
//! for a model under any conventions without building a document. Derivation documents lay these
//! entries out; the audit reads them.

use super::memory::{MemoryTerms, activation_bytes, largest_batch};
use super::sums::{self, component_flops, forward_flops, layer_stage, params, stage_forward_flops, stage_params};
use super::{Context, Conventions, Quantity};
use crate::algebra::{Expr, Rational};
use crate::dim::{Base, Unit};
use crate::error::Result;
use crate::model::Model;
use crate::symbol::Role;

/// One named quantity: how it is named and built.
pub struct Entry {
    /// Stable machine name (`memory.total`).
    pub name: &'static str,
    /// Its unit.
    pub unit: fn() -> Unit,
    /// The conventions (options) its value depends on.
    pub reads: &'static [&'static str],
    /// The named quantities it is built from.
    pub uses: &'static [&'static str],
    /// Laid out as `a·B + b`.
    pub split: bool,
    title: fn(&Catalog) -> String,
    build: fn(&Catalog) -> Option<Expr>,
}

fn bytes() -> Unit {
    Unit::byte()
}
fn flops() -> Unit {
    Unit::flop()
}
fn seconds() -> Unit {
    Unit::of(Base::Second)
}
fn batch_unit() -> Unit {
    Unit::of(Base::Sequence)
}

macro_rules! entry {
    ($name:literal, $unit:expr, [$($reads:literal),*], [$($uses:literal),*], $split:literal, $title:expr, $build:expr) => {
        Entry {
            name: $name,
            unit: $unit,
            reads: &[$($reads),*],
            uses: &[$($uses),*],
            split: $split,
            title: $title,
            build: $build,
        }
    };
}

// After the macro: the per-GPU entries use it.
mod batch_line;
mod bounds;
mod gpu;
mod inference;
mod listing;

pub use batch_line::BatchLine;

/// Every fixed quantity, in the order derivations show them. Per-component FLOPs and the largest
/// batches are added per model and per budget by [`Catalog::names`].
const ENTRIES: &[Entry] = &[
    entry!("params", Unit::param, [], [], false, |_| "trainable parameters".into(), |c| Some(params(c.model))),
    entry!(
        "params.active",
        Unit::param,
        [],
        ["params"],
        false,
        |_| "parameters each token runs (k of E experts)".into(),
        |c| { sums::has_experts(c.model).then(|| sums::active_params(c.model)) }
    ),
    entry!(
        "bytes.params.fp32",
        bytes,
        [],
        ["params"],
        false,
        |_| "parameter memory in fp32 (4 bytes/param)".into(),
        |c| Some(Expr::int(4) * params(c.model))
    ),
    entry!("params.per_layer", Unit::param, [], [], false, |_| "parameters per layer".into(), |c| layer_stage(c.model)
        .map(stage_params)),
    entry!(
        "flops.forward_per_layer",
        flops,
        ["flops", "attention_flops"],
        [],
        false,
        |_| "forward FLOPs per layer".into(),
        |c| { layer_stage(c.model).map(|s| stage_forward_flops(c.model, s, c.conventions.flops)) }
    ),
    entry!("flops.forward", flops, ["flops", "attention_flops"], [], false, |_| "forward FLOPs".into(), |c| Some(
        c.forward()
    )),
    entry!(
        "flops.backward",
        flops,
        ["flops", "attention_flops"],
        ["flops.forward"],
        false,
        |_| "backward FLOPs (2× forward)".into(),
        |c| { Some(Expr::int(2) * c.forward()) }
    ),
    entry!(
        "flops.optimizer",
        flops,
        ["optimizer"],
        ["params"],
        false,
        |c| format!("{} FLOPs per step", c.conventions.optimizer.display),
        |c| { Some(c.conventions.optimizer.flops(&params(c.model), &sums::factored_state(c.model))) }
    ),
    entry!(
        "flops.step",
        flops,
        ["flops", "attention_flops", "recompute", "optimizer"],
        ["flops.forward", "flops.backward", "flops.optimizer"],
        true,
        |_| "FLOPs of one training step".into(),
        |c| { Some(c.step_flops()) }
    ),
    entry!(
        "flops.train_per_token",
        flops,
        ["flops", "attention_flops"],
        ["flops.forward"],
        false,
        |_| "training FLOPs per token (forward + backward)".into(),
        |c| { Some(Expr::int(3) * c.forward() * c.per_token()) }
    ),
    entry!("flops.approx.6n", flops, [], ["params"], false, |_| "6N estimate per token".into(), |c| Some(
        Expr::int(6) * params(c.model)
    )),
    entry!(
        "flops.approx.palm",
        flops,
        [],
        ["params"],
        false,
        |_| "6N + 12·L·H·T (PaLM) estimate per token".into(),
        |c| {
            let attention =
                Expr::product(vec![Expr::int(12), Role::Layers.expr(), Role::Width.expr(), Role::Context.expr()]);
            Some(Expr::int(6) * params(c.model) + attention)
        }
    ),
    entry!(
        "memory.params",
        bytes,
        ["precision", "layout"],
        ["params"],
        false,
        |_| "parameter memory".into(),
        |c| Some(c.memory().params)
    ),
    entry!(
        "memory.master",
        bytes,
        ["layout"],
        ["params"],
        false,
        |c| match &c.conventions.layout.master {
            super::memory::Storage::Fixed(p) => format!("{} master weights", p.name),
            _ => "master weights".into(),
        },
        |c| {
            let master = c.memory().master;
            (!master.is_zero()).then_some(master)
        }
    ),
    entry!("memory.gradients", bytes, ["precision", "layout"], ["params"], false, |_| "gradient memory".into(), |c| {
        Some(c.memory().gradients)
    }),
    entry!(
        "memory.optimizer",
        bytes,
        ["optimizer", "precision", "layout"],
        ["params"],
        false,
        |c| {
            let o = &c.conventions.optimizer;
            format!("{} state memory ({})", o.display, o.state_names())
        },
        |c| Some(c.memory().optimizer)
    ),
    entry!(
        "memory.activations",
        bytes,
        ["activations", "recompute", "attention_kernel", "precision"],
        [],
        false,
        |_| "saved activation memory".into(),
        |c| { Some(c.memory().activations) }
    ),
    entry!(
        "memory.static",
        bytes,
        ["precision", "layout", "optimizer"],
        ["memory.params", "memory.master", "memory.gradients", "memory.optimizer"],
        false,
        |_| "parameters, gradients and optimizer state".into(),
        |c| { Some(c.memory().fixed()) }
    ),
    entry!(
        "memory.overheads",
        bytes,
        ["reserve", "temporaries", "precision"],
        [],
        false,
        |_| "memory beside the kept tensors: reserve and temporaries".into(),
        |c| {
            let o = c.memory().overheads;
            (!o.is_zero()).then_some(o)
        }
    ),
    entry!(
        "memory.total",
        bytes,
        ["precision", "layout", "optimizer", "activations", "recompute", "attention_kernel", "reserve", "temporaries"],
        ["memory.static", "memory.activations", "memory.overheads"],
        true,
        |_| "training memory".into(),
        |c| { Some(c.memory().total()) }
    ),
    entry!(
        "time.training",
        seconds,
        [
            "flops",
            "attention_flops",
            "recompute",
            "optimizer",
            "hardware",
            "precision",
            "mfu",
            "steps",
            "tokens_per_second"
        ],
        ["flops.step"],
        true,
        |c| if c.conventions.tokens_per_second.is_some() {
            "training time at the measured throughput".into()
        } else {
            "training time".into()
        },
        |c| Some(match &c.conventions.tokens_per_second {
            // A measured throughput is what the run does: S steps of B·T tokens at that rate.
            Some(rate) =>
                Role::Steps.expr() * Role::Batch.expr() * Role::Context.expr() * Expr::num(rate.clone()).pow(-1),
            None => Role::Steps.expr() * c.step_flops() * (Role::Mfu.expr() * Role::Peak.expr()).pow(-1),
        })
    ),
    entry!(
        "mfu",
        Unit::none,
        ["tokens_per_second", "hardware", "precision"],
        ["flops.forward"],
        false,
        |_| "model FLOPs utilisation from the measured throughput".into(),
        |c| {
            c.conventions.tokens_per_second.as_ref().map(|rate| {
                Expr::num(rate.clone()) * Expr::int(3) * c.forward() * c.per_token() * Role::Peak.expr().pow(-1)
            })
        }
    ),
];

/// Every entry: the single-GPU ones, then the per-GPU ones of parallel training.
fn all_entries() -> impl Iterator<Item = &'static Entry> {
    ENTRIES.iter().chain(inference::ENTRIES.iter()).chain(gpu::ENTRIES.iter())
}

/// A model's quantities under one set of conventions.
pub struct Catalog<'a> {
    /// The architecture.
    pub model: &'a Model,
    /// The conventions.
    pub conventions: &'a Conventions,
    /// Rules-built expressions already built: a document asks for the same ones many times.
    built: std::cell::RefCell<std::collections::HashMap<String, Option<Expr>>>,
}

impl<'a> Catalog<'a> {
    /// The catalog of `model` under `conventions`.
    pub fn new(model: &'a Model, conventions: &'a Conventions) -> Catalog<'a> {
        Catalog { model, conventions, built: Default::default() }
    }

    /// Every fixed entry (for listings).
    pub fn entries() -> Vec<&'static Entry> {
        all_entries().collect()
    }

    fn forward(&self) -> Expr {
        forward_flops(self.model, self.conventions.flops)
    }

    /// 1/(B·T).
    fn per_token(&self) -> Expr {
        (Role::Batch.expr() * Role::Context.expr()).pow(-1)
    }

    fn step_flops(&self) -> Expr {
        Expr::int(3) * self.forward()
            + self.recomputed_forward()
            + self.conventions.optimizer.flops(&params(self.model), &sums::factored_state(self.model))
    }

    /// What full recomputation adds: the repeated blocks' forward pass once more inside the
    /// backward pass. The embedding and the output stage (the LM head) are not recomputed — no
    /// framework recomputes them (Narayanan et al. 2021: 96BTLH²(1 + T/6H + V/16LH)).
    pub fn recomputed_forward(&self) -> Expr {
        if !self.conventions.recompute {
            return Expr::zero();
        }
        Expr::sum(
            self.model
                .stages
                .iter()
                .filter(|s| s.repeat != Expr::one())
                .map(|s| s.repeat.clone() * stage_forward_flops(self.model, s, self.conventions.flops))
                .collect(),
        )
    }

    /// The memory terms under these conventions.
    pub fn memory(&self) -> MemoryTerms {
        let c = self.conventions;
        MemoryTerms::new(self.model, &c.precision, &c.layout, &c.optimizer, c.saved()).with_overheads(
            self.model,
            &c.precision,
            c.reserve.as_ref().map(|(_, bytes)| bytes),
            c.logits_temporary,
        )
    }

    /// Bytes of activations only (for tables).
    pub fn activation_bytes(&self) -> Expr {
        activation_bytes(self.model, self.conventions.saved())
    }

    /// The quantity names that exist for this model and these conventions, in document order.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            all_entries().filter(|e| (e.build)(self).is_some()).map(|e| e.name.to_string()).collect();
        let at = names.iter().position(|n| n == "flops.forward").map(|i| i + 1).unwrap_or(names.len());
        let components: Vec<String> = self.components().into_iter().map(|(name, _)| name).collect();
        names.splice(at..at, components);
        names.extend(self.batch_names());
        names.extend(self.bound_names());
        names
    }

    /// The per-component forward-FLOP quantities with their titles (components without FLOPs
    /// under these conventions are left out).
    pub fn components(&self) -> Vec<(String, String)> {
        self.model
            .components
            .iter()
            .filter(|(id, _)| !component_flops(self.model, self.conventions.flops, id).is_zero())
            .map(|(id, title)| (format!("flops.forward.{id}"), title.clone()))
            .collect()
    }

    fn batch_names(&self) -> Vec<String> {
        (0..self.conventions.budgets().len())
            .map(|i| if i == 0 { "batch.max".to_string() } else { "batch.max.binary".to_string() })
            .collect()
    }

    /// The unit of a quantity, if it exists.
    pub fn unit(&self, name: &str) -> Option<Unit> {
        if let Some(e) = all_entries().find(|e| e.name == name) {
            return Some((e.unit)());
        }
        if name.starts_with("flops.forward.") {
            return Some(Unit::flop());
        }
        if let Some(unit) = bounds::unit(name) {
            return Some(unit);
        }
        name.starts_with("batch.max").then(batch_unit)
    }

    /// The rules-built expression of a quantity (a largest batch needs the algebra: see
    /// [`Catalog::quantity`]).
    pub fn raw(&self, name: &str) -> Option<Expr> {
        if let Some(built) = self.built.borrow().get(name) {
            return built.clone();
        }
        let built = self.build(name);
        self.built.borrow_mut().insert(name.to_string(), built.clone());
        built
    }

    fn build(&self, name: &str) -> Option<Expr> {
        if let Some(e) = all_entries().find(|e| e.name == name) {
            return (e.build)(self);
        }
        let id = name.strip_prefix("flops.forward.")?;
        self.model
            .components
            .iter()
            .any(|(c, _)| c == id)
            .then(|| component_flops(self.model, self.conventions.flops, id))
    }

    /// A quantity: raw form, closed form (laid out as `a·B + b` where that reads best), unit and
    /// value. `None` if it does not exist for this model or these conventions.
    pub fn quantity(&self, ctx: &Context, name: &str) -> Result<Option<Quantity>> {
        if name.starts_with("batch.max") {
            return self.batch_quantity(ctx, name);
        }
        if bounds::unit(name).is_some() {
            return self.bound_quantity(ctx, name);
        }
        let Some(raw) = self.raw(name) else { return Ok(None) };
        let entry = all_entries().find(|e| e.name == name);
        let title = match entry {
            Some(e) => (e.title)(self),
            None => self.components().into_iter().find(|(n, _)| n == name).map(|(_, t)| t).unwrap_or_default(),
        };
        let unit = self.unit(name).unwrap_or_else(Unit::none);
        let split = entry.is_some_and(|e| e.split);
        let ctx = if split { ctx.split_by(Role::Batch.symbol()) } else { ctx.clone() };
        Ok(Some(ctx.quantity(name, &title, unit, raw)?))
    }

    /// A quantity that must exist (a caller's bug otherwise).
    pub fn get(&self, ctx: &Context, name: &str) -> Result<Quantity> {
        Ok(self.quantity(ctx, name)?.unwrap_or_else(|| panic!("the catalog has no quantity `{name}` here")))
    }

    /// memory.total = a·B + b, solved once: the values at the bound sizes and the closed forms.
    /// `None` when memory is not linear in B.
    pub fn batch_line(&self, ctx: &Context) -> Result<Option<BatchLine>> {
        BatchLine::of(ctx, &self.memory().total())
    }

    /// The largest batch for one budget (`batch.max` is the first, `batch.max.binary` the second).
    fn batch_quantity(&self, ctx: &Context, name: &str) -> Result<Option<Quantity>> {
        let index = match name {
            "batch.max" => 0,
            "batch.max.binary" => 1,
            _ => return Ok(None),
        };
        let (Some((label, budget)), Some(line)) =
            (self.conventions.budgets().get(index).cloned(), self.batch_line(ctx)?)
        else {
            return Ok(None);
        };
        let fit = largest_batch(&line.a, &line.b, &budget);
        let closed = if line.a > Rational::from_integer(0.into()) {
            Expr::Floor(Box::new((Expr::num(budget.clone()) - line.b_expr.clone()) * line.a_expr.clone().pow(-1)))
        } else {
            Expr::zero()
        };
        let (value, verdict) = (fit.largest(), fit.verdict());
        Ok(Some(Quantity {
            name: name.to_string(),
            title: format!("largest whole batch, ⌊(budget − b)/a⌋ for {label}"),
            unit: batch_unit(),
            raw: closed.clone(),
            closed,
            value,
            verdict,
        }))
    }
}

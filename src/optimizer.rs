//! Optimizers as data: an update step written as lines of element-wise operations
//! (`derivations/optimizers/*.toml`). FLOPs per parameter and per step are counted from those lists,
//! never typed in; the state each optimizer keeps per parameter drives its memory.

use serde::Deserialize;

/// Whether a line runs once per parameter or once per step (a broadcast scalar).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    /// Element-wise over every parameter.
    Param,
    /// A scalar computed once per step.
    Step,
}

/// One line of the update.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateLine {
    /// Per parameter or per step.
    pub per: Per,
    /// The line in Unicode (`m ← β₁·m + (1 − β₁)·g`).
    pub text: String,
    /// The line in LaTeX.
    pub latex: String,
    /// Its element-wise operations, one FLOP each.
    pub ops: Vec<String>,
}

/// An optimizer's update step.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Optimizer {
    /// Name (`adamw`).
    pub name: String,
    /// One line describing it.
    pub summary: String,
    /// State tensors kept per parameter (`m`, `v`), one element per parameter each.
    pub state: Vec<String>,
    /// The update, in order.
    pub line: Vec<UpdateLine>,
}

const ADAMW: &str = include_str!("../derivations/optimizers/adamw.toml");

impl Optimizer {
    /// AdamW as written in `derivations/optimizers/adamw.toml`.
    pub fn adamw() -> Optimizer {
        toml::from_str(ADAMW).unwrap_or_else(|e| panic!("derivations/optimizers/adamw.toml is invalid: {e}"))
    }

    /// FLOPs per parameter: the number of per-parameter operations in the update.
    pub fn flops_per_param(&self) -> i64 {
        self.count(Per::Param)
    }

    /// FLOPs per step that do not scale with the parameter count.
    pub fn flops_per_step(&self) -> i64 {
        self.count(Per::Step)
    }

    fn count(&self, per: Per) -> i64 {
        self.line.iter().filter(|l| l.per == per).map(|l| l.ops.len() as i64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adamw_costs_14_flops_per_parameter_counted_from_its_lines() {
        let adamw = Optimizer::adamw();
        let per_line: Vec<usize> = adamw.line.iter().filter(|l| l.per == Per::Param).map(|l| l.ops.len()).collect();
        assert_eq!(per_line, vec![3, 4, 5, 2]);
        assert_eq!(adamw.flops_per_param(), 14);
        assert_eq!(adamw.flops_per_step(), 10);
        assert_eq!(adamw.state.len(), 2);
    }
}

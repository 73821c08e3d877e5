//! Optimizers as data: an update step written as lines of element-wise operations
//! (`derivations/optimizers/*.toml`). FLOPs per parameter, per factored-state element and per step
//! are counted from those lists, never typed in; the state tensors each optimizer keeps drive its
//! memory.

use crate::algebra::{self, Expr, Rational};
use crate::diagnostic::Source;
use crate::error::{Error, Result};
use serde::Deserialize;

/// How often a line's operations run in one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    /// Element-wise over every parameter.
    Param,
    /// Over every element of a factored state (a row and a column per matrix: Adafactor).
    Factored,
    /// A scalar computed once per step.
    Step,
}

/// What a state tensor holds per parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// One element per parameter.
    #[default]
    Param,
    /// One element per row and per column of every matrix, one per element of every vector.
    Factored,
}

/// One line of the update.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateLine {
    /// How often it runs.
    pub per: Per,
    /// The line in Unicode (`m ← β₁·m + (1 − β₁)·g`).
    pub text: String,
    /// The line in LaTeX.
    pub latex: String,
    /// Its element-wise operations, one FLOP each.
    pub ops: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    name: String,
    summary: String,
    #[serde(default)]
    shape: Shape,
    #[serde(default)]
    bytes: Option<toml::Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OptimizerFile {
    name: String,
    display: String,
    summary: String,
    latex: String,
    #[serde(default)]
    state: Vec<StateFile>,
    line: Vec<UpdateLine>,
}

/// A state tensor the optimizer keeps.
#[derive(Clone, Debug)]
pub struct State {
    /// Name (`m`).
    pub name: String,
    /// What it holds.
    pub summary: String,
    /// Per parameter, or factored.
    pub shape: Shape,
    /// Bytes per element when the optimizer fixes them (8-bit states); else the layout decides.
    pub bytes: Option<Rational>,
}

/// An optimizer's update step.
#[derive(Clone, Debug)]
pub struct Optimizer {
    /// Name (`adamw`).
    pub name: String,
    /// Name in prose (`AdamW`).
    pub display: String,
    /// One line describing it.
    pub summary: String,
    /// Its name in LaTeX.
    pub latex: String,
    /// The state tensors it keeps.
    pub state: Vec<State>,
    /// The update, in order.
    pub line: Vec<UpdateLine>,
}

impl Optimizer {
    /// Reads an optimizer file.
    pub fn read(source: &Source) -> Result<Optimizer> {
        let file: OptimizerFile = crate::loader::read_toml(source)?;
        let mut state = Vec::new();
        for s in file.state {
            let bytes = match &s.bytes {
                None => None,
                Some(text) => {
                    let at = text.span();
                    let value = algebra::parse(text.get_ref(), &|name| Err(format!("`{name}`: bytes are a number")))
                        .ok()
                        .and_then(|e| algebra::evaluate(&e, &Default::default()).ok())
                        .filter(|v| *v > Rational::from_integer(0.into()))
                        .ok_or_else(|| {
                            Error::at(source, at, "bytes per element must be a positive number (`1 + 4/2048`)")
                        })?;
                    Some(value)
                }
            };
            state.push(State { name: s.name, summary: s.summary, shape: s.shape, bytes });
        }
        Ok(Optimizer {
            name: file.name.to_lowercase(),
            display: file.display,
            summary: file.summary,
            latex: file.latex,
            state,
            line: file.line,
        })
    }

    /// FLOPs per parameter: the number of per-parameter operations in the update.
    pub fn flops_per_param(&self) -> i64 {
        self.count(Per::Param)
    }

    /// FLOPs per element of the factored state.
    pub fn flops_per_factored(&self) -> i64 {
        self.count(Per::Factored)
    }

    /// FLOPs per step that do not scale with the parameter count.
    pub fn flops_per_step(&self) -> i64 {
        self.count(Per::Step)
    }

    fn count(&self, per: Per) -> i64 {
        self.line.iter().filter(|l| l.per == per).map(|l| l.ops.len() as i64).sum()
    }

    /// The optimizer's FLOPs per step, given the parameter count and the factored-state size.
    pub fn flops(&self, params: &Expr, factored: &Expr) -> Expr {
        Expr::int(self.flops_per_param()) * params.clone()
            + Expr::int(self.flops_per_factored()) * factored.clone()
            + Expr::int(self.flops_per_step())
    }

    /// One line for listings.
    pub fn describe(&self) -> String {
        format!(
            "{}; {} FLOPs per parameter, {} per step; state: {}",
            self.summary,
            self.flops_per_param(),
            self.flops_per_step(),
            self.state_names()
        )
    }

    /// The state tensors' names in prose (`m and v`).
    pub fn state_names(&self) -> String {
        let names: Vec<&str> = self.state.iter().map(|s| s.name.as_str()).collect();
        match names.split_last() {
            None => "none".into(),
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::facts::Facts;

    #[test]
    fn adamw_costs_14_flops_per_parameter_counted_from_its_lines() {
        let adamw = Facts::builtin().optimizer("adamw").unwrap();
        let per_line: Vec<usize> =
            adamw.line.iter().filter(|l| l.per == super::Per::Param).map(|l| l.ops.len()).collect();
        assert_eq!(per_line, vec![3, 4, 5, 2]);
        assert_eq!(adamw.flops_per_param(), 14);
        assert_eq!(adamw.flops_per_step(), 10);
        assert_eq!(adamw.state.len(), 2);
    }

    #[test]
    fn the_other_optimizers_count_from_their_own_lines() {
        let data = Facts::builtin();
        let count = |name: &str| {
            let o = data.optimizer(name).unwrap();
            (o.flops_per_param(), o.flops_per_factored(), o.flops_per_step(), o.state.len())
        };
        assert_eq!(count("adam"), (12, 0, 9, 2));
        assert_eq!(count("sgd-momentum"), (4, 0, 0, 1));
        assert_eq!(count("adam-8bit"), (14, 0, 10, 2));
        assert_eq!(count("adafactor"), (13, 4, 5, 1));
        let eight_bit = data.optimizer("adam-8bit").unwrap();
        assert_eq!(eight_bit.state[0].bytes.as_ref().unwrap().to_string(), "513/512");
    }
}

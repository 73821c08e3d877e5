//! What implementations really keep for the backward pass (`derivations/saves.toml`): per op kind,
//! the tensors its backward keeps — its inputs, its output, or tensors of its own — so that a
//! tensor several ops keep (the norm output that W_Q, W_K and W_V all read; the softmax output the
//! attention-weighted sum reads) is counted once. Which op's output each input is comes from the
//! model's `inputs` wiring.

use super::STAGE_INPUT;
use super::rules::{b, prod, t, tokens};
use super::{Op, OpKind};
use crate::algebra::{self, Expr};
use crate::diagnostic::Source;
use crate::error::{Error, Result};
use serde::Deserialize;
use toml::Spanned;

/// One tensor an op's backward keeps.
#[derive(Clone, Debug, PartialEq)]
enum Keep {
    /// Its k-th input (0-based).
    Input(usize),
    /// Its own output.
    Output,
    /// A tensor of its own, its elements over the op's size words.
    Own { name: String, elements: Expr },
}

/// What one op kind (and activation function) keeps.
#[derive(Clone, Debug, PartialEq)]
struct OpSaves {
    kind: String,
    function: Option<String>,
    keeps: Vec<Keep>,
    masks: Vec<(String, Expr)>,
}

/// The saves rules of the measured conventions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SaveRules {
    torch: Vec<OpSaves>,
    manual: Vec<OpSaves>,
}

/// Which measured implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implementation {
    /// PyTorch eager with library ops.
    Torch,
    /// The CS336 handout's hand-written ops.
    Manual,
}

/// The words a saves formula is written in, each standing for a size of the op.
const WORDS: [&str; 9] = ["tokens", "width", "in", "out", "vocab", "heads", "head_dim", "rows", "scores"];

impl SaveRules {
    /// The built-in save rules, shared.
    pub fn builtin() -> &'static std::sync::Arc<SaveRules> {
        static BUILT: std::sync::OnceLock<std::sync::Arc<SaveRules>> = std::sync::OnceLock::new();
        BUILT
            .get_or_init(|| std::sync::Arc::new(crate::loader::read_builtin("derivations/saves.toml", SaveRules::read)))
    }

    /// Reads `saves.toml`, every formula parsed with its position.
    pub fn read(source: &Source) -> Result<SaveRules> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Entry {
            kind: String,
            #[serde(default)]
            function: Option<String>,
            keeps: Vec<Spanned<String>>,
            #[serde(default)]
            masks: Vec<Spanned<String>>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            torch: Vec<Entry>,
            manual: Vec<Entry>,
        }
        let file: File = crate::loader::read_toml(source)?;
        let own = |text: &Spanned<String>| -> Result<(String, Expr)> {
            let (name, formula) = text.get_ref().split_once('=').ok_or_else(|| {
                Error::at(source, text.span(), "write `input`, `input 2`, `output` or `NAME = ELEMENTS`")
            })?;
            let elements = algebra::parse(formula.trim(), &|w| {
                if WORDS.contains(&w) {
                    Ok(Expr::sym(&format!("size_{w}")))
                } else {
                    Err(format!("`{w}` is not a size word ({})", WORDS.join(", ")))
                }
            })
            .map_err(|e| Error::at(source, text.span(), format!("`{}`: {}", formula.trim(), e.message)))?;
            Ok((name.trim().to_string(), elements))
        };
        let entries = |list: Vec<Entry>| -> Result<Vec<OpSaves>> {
            list.into_iter()
                .map(|e| {
                    let mut keeps = Vec::new();
                    for k in &e.keeps {
                        keeps.push(match k.get_ref().trim() {
                            "input" => Keep::Input(0),
                            "input 2" => Keep::Input(1),
                            "output" => Keep::Output,
                            _ => {
                                let (name, elements) = own(k)?;
                                Keep::Own { name, elements }
                            }
                        });
                    }
                    let masks = e.masks.iter().map(own).collect::<Result<Vec<_>>>()?;
                    Ok(OpSaves { kind: e.kind, function: e.function, keeps, masks })
                })
                .collect()
        };
        Ok(SaveRules { torch: entries(file.torch)?, manual: entries(file.manual)? })
    }

    fn for_op(&self, implementation: Implementation, op: &Op) -> Option<&OpSaves> {
        let list = match implementation {
            Implementation::Torch => &self.torch,
            Implementation::Manual => &self.manual,
        };
        let function = match &op.kind {
            OpKind::Activation { function, .. } => Some(function.name()),
            _ => None,
        };
        let kind = op.kind_name();
        list.iter()
            .find(|s| s.kind == kind && s.function.is_some() && s.function.as_deref() == function)
            .or_else(|| list.iter().find(|s| s.kind == kind && s.function.is_none()))
    }
}

/// A tensor kept for the backward pass within one stage (one repeat of it).
#[derive(Clone, Debug)]
pub struct SavedTensor {
    /// What it is: `output of W1`, `rstd of RMSNorm (attention)`, `input of the stage`.
    pub label: String,
    /// The ops whose backward keeps it.
    pub kept_by: Vec<String>,
    /// Its elements.
    pub elements: Expr,
    /// A 1-byte mask (dropout), not an activation.
    pub mask: bool,
    /// T² per head: not kept with FlashAttention.
    pub attention_matrix: bool,
    /// Split over the tensor-parallel GPUs (it lies between a column- and a row-parallel linear).
    pub sharded: bool,
}

/// Where a tensor comes from, to count each once.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Identity {
    StageInput,
    Output(usize),
    Own(usize, String),
}

impl Op {
    /// The elements of each input as the op reads it.
    fn input_elements(&self) -> Vec<Expr> {
        let per_token = |w: &Expr| tokens() * w.clone();
        let heads_elements = |heads: &Expr, head_dim: &Expr| tokens() * heads.clone() * head_dim.clone();
        match &self.kind {
            OpKind::Embedding { .. } => vec![],
            OpKind::Linear { input, .. } => vec![per_token(input)],
            OpKind::AttentionScores { heads, head_dim } => vec![heads_elements(heads, head_dim); 2],
            OpKind::Softmax { heads } => vec![prod(vec![b(), heads.clone(), t(), t()])],
            OpKind::AttentionValues { heads, head_dim } => {
                vec![prod(vec![b(), heads.clone(), t(), t()]), heads_elements(heads, head_dim)]
            }
            OpKind::CrossEntropy { vocab } => vec![per_token(vocab)],
            OpKind::ElementwiseProduct { width } | OpKind::ResidualAdd { width } => vec![per_token(width); 2],
            OpKind::RmsNorm { width }
            | OpKind::LayerNorm { width, .. }
            | OpKind::Rope { width }
            | OpKind::Activation { width, .. }
            | OpKind::Dropout { width } => vec![per_token(width)],
            OpKind::Sinks { .. } => vec![],
            OpKind::HeadRmsNorm { heads, head_dim } => vec![heads_elements(heads, head_dim)],
        }
        .into_iter()
        .map(|e| self.copies_run() * e)
        .collect()
    }

    /// A formula over the size words, for this op.
    fn sized(&self, formula: &Expr) -> Expr {
        let fields: Vec<(&str, Expr)> = self.dimensions().into_iter().map(|(f, e)| (f, e.clone())).collect();
        let field = |name: &str| fields.iter().find(|(f, _)| *f == name).map(|(_, e)| e.clone());
        let heads = field("heads").unwrap_or_else(Expr::one);
        self.copies_run()
            * formula.substitute(&|s| {
                Some(match s.strip_prefix("size_")? {
                    "tokens" => tokens(),
                    "rows" => prod(vec![b(), heads.clone(), t()]),
                    "scores" => prod(vec![b(), heads.clone(), t(), t()]),
                    word => field(word).unwrap_or_else(Expr::one),
                })
            })
    }
}

/// What a stage keeps for the backward pass (one repeat) as `implementation` runs it; `dropout`
/// off makes dropout the identity (no mask, its input passed on).
pub fn saved_tensors(
    stage_name: &str,
    ops: &[Op],
    rules: &SaveRules,
    implementation: Implementation,
    dropout: bool,
) -> Vec<SavedTensor> {
    // The op (or the stage input) whose output is op i's k-th input, looking through dropout
    // when it is off.
    let source = |i: usize, k: usize| -> Identity {
        let mut at = match ops[i].inputs.get(k) {
            Some(name) if name == STAGE_INPUT => return Identity::StageInput,
            Some(name) => ops.iter().position(|o| &o.name == name),
            None if k == 0 && i > 0 => Some(i - 1),
            None => None,
        };
        while let Some(j) = at {
            if dropout || !matches!(ops[j].kind, OpKind::Dropout { .. }) {
                return Identity::Output(j);
            }
            at = match ops[j].inputs.first() {
                Some(name) if name == STAGE_INPUT => None,
                Some(name) => ops.iter().position(|o| &o.name == name),
                None if j > 0 => Some(j - 1),
                None => None,
            };
        }
        Identity::StageInput
    };
    let (sharded_out, sharded_in) = tensor_sharding(ops);
    let mut out: Vec<(Identity, SavedTensor)> = Vec::new();
    let mut keep =
        |identity: Identity, tensor: SavedTensor, by: &str| match out.iter_mut().find(|(id, _)| *id == identity) {
            Some((_, t)) => t.kept_by.push(by.to_string()),
            None => out.push((identity, SavedTensor { kept_by: vec![by.to_string()], ..tensor })),
        };
    for (i, op) in ops.iter().enumerate() {
        let Some(saves) = rules.for_op(implementation, op) else { continue };
        if !dropout && matches!(op.kind, OpKind::Dropout { .. }) {
            continue;
        }
        let inputs = op.input_elements();
        for k in &saves.keeps {
            let (identity, label, elements, attention_matrix) = match k {
                Keep::Input(n) => {
                    let identity = source(i, *n);
                    let (label, matrix) = match &identity {
                        Identity::Output(j) => (format!("output of {}", ops[*j].name), ops[*j].is_attention_matrix()),
                        _ => (format!("input of {stage_name}"), false),
                    };
                    (identity, label, inputs.get(*n).cloned().unwrap_or_else(Expr::zero), matrix)
                }
                Keep::Output => (
                    Identity::Output(i),
                    format!("output of {}", op.name),
                    op.output_elements(),
                    op.is_attention_matrix(),
                ),
                Keep::Own { name, elements } => {
                    let matrix = elements.symbols().iter().any(|s| s == "size_scores");
                    (Identity::Own(i, name.clone()), format!("{name} of {}", op.name), op.sized(elements), matrix)
                }
            };
            let sharded = match &identity {
                Identity::Output(j) => sharded_out[*j],
                Identity::StageInput => false,
                Identity::Own(j, _) => sharded_in[*j],
            };
            let tensor = SavedTensor { label, kept_by: vec![], elements, mask: false, attention_matrix, sharded };
            keep(identity, tensor, &op.name);
        }
        for (name, elements) in &saves.masks {
            let tensor = SavedTensor {
                label: format!("{name} of {}", op.name),
                kept_by: vec![],
                elements: op.sized(elements),
                mask: true,
                attention_matrix: op.is_attention_matrix(),
                sharded: sharded_in[i],
            };
            keep(Identity::Own(i, name.clone()), tensor, &op.name);
        }
    }
    out.into_iter().map(|(_, t)| t).collect()
}

/// Which ops' outputs, and which ops' inputs, tensor parallelism shards: a column-parallel linear
/// shards its output, a row-parallel one gathers it back, any other op's output is sharded when its
/// inputs are (the stage input never is).
pub fn tensor_sharding(ops: &[Op]) -> (Vec<bool>, Vec<bool>) {
    let mut out = vec![false; ops.len()];
    let mut inputs = vec![false; ops.len()];
    for (i, op) in ops.iter().enumerate() {
        let producers: Vec<Option<usize>> = if op.inputs.is_empty() {
            vec![i.checked_sub(1)]
        } else {
            op.inputs
                .iter()
                .map(|n| if n == STAGE_INPUT { None } else { ops.iter().position(|o| &o.name == n) })
                .collect()
        };
        inputs[i] = producers.iter().all(|p| p.is_some_and(|j| out[j]));
        out[i] = match op.tensor_parallel {
            Some(super::TensorParallel::Column) => true,
            Some(super::TensorParallel::Row) => false,
            None => inputs[i] && !matches!(op.kind, OpKind::Embedding { .. }),
        };
    }
    (out, inputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Facts;

    #[test]
    fn a_tensor_several_ops_keep_is_counted_once() {
        let data = Facts::builtin();
        let model = data.models.select("cs336-2025").unwrap().unwrap().model;
        let block = &model.stages[1];
        let saved = saved_tensors(&block.name, &block.ops, &model.saves, Implementation::Torch, true);
        let norm = saved.iter().find(|t| t.label == "output of RMSNorm (attention)").expect("the norm output");
        assert_eq!(norm.kept_by, vec!["W_Q", "W_K", "W_V"]);
        let probs = saved.iter().find(|t| t.label == "output of softmax").expect("the probabilities");
        assert_eq!(probs.kept_by, vec!["softmax", "softmax · V"]);
        assert_eq!(saved.iter().filter(|t| t.attention_matrix).count(), 1, "one T² tensor per layer");
    }
}

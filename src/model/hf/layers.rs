//! Which layers of a config are of a kind (sliding-window attention, mixture of experts): the
//! rules transformers applies per family, named in the family files with the keys they read.

use super::key_span;
use crate::diagnostic::Source;
use crate::error::{Error, Result};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;

/// A rule for which layers are of a kind.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LayerRule {
    /// `all` (every layer), `every` (all but every period-th layer, counted from 1: Gemma's local
    /// layers), `sparse_step` (layer i when (i + 1) is a multiple of the step and i is not in the
    /// exceptions: Qwen MoE), `first_k_dense` (layer i ≥ k with i a multiple of the frequency:
    /// DeepSeek).
    rule: Rule,
    /// No layer is of the kind unless this key is a positive number (`sliding_window`).
    #[serde(default)]
    when: Option<String>,
    /// No layer is of the kind when this key is false (`use_sliding_window`).
    #[serde(default)]
    switch: Option<String>,
    /// A list of per-layer kinds that, when the config has it, says it all (`layer_types`),
    /// with the word for this kind (`sliding_attention`).
    #[serde(default)]
    list: Option<(String, String)>,
    /// `every`: the key of the period and its default.
    #[serde(default)]
    period: Option<(String, u64)>,
    /// `sparse_step`: the step's key and default, and the key listing exceptions.
    #[serde(default)]
    step: Option<(String, u64)>,
    #[serde(default)]
    except: Option<String>,
    /// `first_k_dense`: the key of k and of the frequency, with its default.
    #[serde(default)]
    first_dense: Option<String>,
    #[serde(default)]
    frequency: Option<(String, u64)>,
    /// Sizes only layers of this kind use (the window `W` of sliding layers): when no layer is of
    /// the kind they are not sizes of the model, and a config may leave them null or zero.
    #[serde(default)]
    pub(super) sizes: Vec<String>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Rule {
    All,
    Every,
    SparseStep,
    FirstKDense,
}

impl LayerRule {
    /// How many of the `layers` layers are of the kind. Counted from the rule's arithmetic, never
    /// one entry per layer, so a config's layer count costs nothing however large it is.
    pub(super) fn count(&self, config: &Source, json: &Value, layers: u64, read: &mut BTreeSet<String>) -> Result<u64> {
        let number = |key: &str, default: u64, read: &mut BTreeSet<String>| number(config, json, read, key, default);
        if let Some(key) = &self.switch {
            read.insert(key.clone());
            if json.get(key) == Some(&Value::Bool(false)) {
                // A switched-off kind: the key it depends on is not used, so it is not checked.
                if let Some(when) = &self.when {
                    read.insert(when.clone());
                }
                return Ok(0);
            }
        }
        if let Some(key) = &self.when
            && number(key, 0, read)? == 0
        {
            return Ok(0);
        }
        if let Some((key, word)) = &self.list {
            read.insert(key.clone());
            if let Some(list) = json.get(key).filter(|v| !v.is_null()) {
                return match list.as_array() {
                    Some(kinds) if kinds.len() as u64 == layers => {
                        Ok(kinds.iter().filter(|k| k.as_str() == Some(word.as_str())).count() as u64)
                    }
                    _ => Err(Error::at(
                        config,
                        key_span(config, key),
                        format!("`{key}` should list one kind per layer ({layers} layers)"),
                    )),
                };
            }
        }
        // Multiples of m among 1..=n.
        let multiples = |n: u64, m: u64| n.checked_div(m).unwrap_or(0);
        Ok(match self.rule {
            Rule::All => layers,
            Rule::Every => {
                // All but every p-th layer, counted from 1.
                let (key, default) = self.period.clone().unwrap_or(("".into(), 1));
                let p = number(&key, default, read)?;
                layers - multiples(layers, p)
            }
            Rule::SparseStep => {
                // Layer i (from 0) when i + 1 is a multiple of the step, unless it is an exception.
                let (key, default) = self.step.clone().unwrap_or(("".into(), 1));
                let step = number(&key, default, read)?;
                let except: BTreeSet<u64> = match &self.except {
                    Some(key) => {
                        read.insert(key.clone());
                        json.get(key)
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_u64)
                            .collect()
                    }
                    None => BTreeSet::new(),
                };
                let excepted = except.iter().filter(|&&i| i < layers && step > 0 && (i + 1) % step == 0).count();
                multiples(layers, step) - excepted as u64
            }
            Rule::FirstKDense => {
                // Layer i (from 0) when i ≥ k and i is a multiple of the frequency.
                let k = match &self.first_dense {
                    Some(key) => number(key, 0, read)?,
                    None => 0,
                };
                let (key, default) = self.frequency.clone().unwrap_or(("".into(), 1));
                let freq = number(&key, default, read)?;
                if freq == 0 || k >= layers {
                    0
                } else {
                    // Multiples of f in [k, layers − 1]: those up to layers − 1, less those below k.
                    let up_to = |n: u64| n / freq + 1; // multiples of f in 0..=n
                    up_to(layers - 1) - if k == 0 { 0 } else { up_to(k - 1) }
                }
            }
        })
    }
}

/// A whole-number key of the config, or its default when absent or null.
fn number(config: &Source, json: &Value, read: &mut BTreeSet<String>, key: &str, default: u64) -> Result<u64> {
    read.insert(key.to_string());
    match json.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v.as_u64().ok_or_else(|| {
            Error::at(config, key_span(config, key), format!("`{key}` should be a whole number, not {v}"))
        }),
    }
}

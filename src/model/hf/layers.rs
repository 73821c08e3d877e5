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
    /// For each of the `layers` layers, whether it is of the kind.
    pub(super) fn layers(
        &self,
        config: &Source,
        json: &Value,
        layers: usize,
        read: &mut BTreeSet<String>,
    ) -> Result<Vec<bool>> {
        let number = |key: &str, default: u64, read: &mut BTreeSet<String>| number(config, json, read, key, default);
        if let Some(key) = &self.when
            && number(key, 0, read)? == 0
        {
            return Ok(vec![false; layers]);
        }
        if let Some(key) = &self.switch {
            read.insert(key.clone());
            if json.get(key) == Some(&Value::Bool(false)) {
                return Ok(vec![false; layers]);
            }
        }
        if let Some((key, word)) = &self.list {
            read.insert(key.clone());
            if let Some(list) = json.get(key).filter(|v| !v.is_null()) {
                let kinds: Option<Vec<bool>> =
                    list.as_array().map(|a| a.iter().map(|k| k.as_str() == Some(word.as_str())).collect());
                return match kinds {
                    Some(kinds) if kinds.len() == layers => Ok(kinds),
                    _ => Err(Error::at(
                        config,
                        key_span(config, key),
                        format!("`{key}` should list one kind per layer ({layers} layers)"),
                    )),
                };
            }
        }
        let is = |i: usize, m: u64| m > 0 && (i as u64).is_multiple_of(m);
        Ok(match self.rule {
            Rule::All => vec![true; layers],
            Rule::Every => {
                let (key, default) = self.period.clone().unwrap_or(("".into(), 1));
                let p = number(&key, default, read)?;
                (0..layers).map(|i| !is(i + 1, p)).collect()
            }
            Rule::SparseStep => {
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
                (0..layers).map(|i| is(i + 1, step) && !except.contains(&(i as u64))).collect()
            }
            Rule::FirstKDense => {
                let k = match &self.first_dense {
                    Some(key) => number(key, 0, read)?,
                    None => 0,
                };
                let (key, default) = self.frequency.clone().unwrap_or(("".into(), 1));
                let freq = number(&key, default, read)?;
                (0..layers).map(|i| i as u64 >= k && is(i, freq)).collect()
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

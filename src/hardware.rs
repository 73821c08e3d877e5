//! Accelerators as data (`derivations/hardware.toml`): nominal memory and dense peak FLOP/s per
//! precision, read as exact decimals.

use crate::algebra::{Rational, parse_decimal};
use crate::dim::Precision;
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HardwareFile {
    hardware: Vec<HardwareEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HardwareEntry {
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    summary: String,
    memory: String,
    readings: Vec<String>,
    peak: BTreeMap<String, String>,
}

/// One accelerator.
#[derive(Clone, Debug)]
pub struct Hardware {
    /// Name used on the command line (`a100-80gb`).
    pub name: String,
    /// Marketing name.
    pub summary: String,
    /// Other names accepted for it (`a100`).
    pub aliases: Vec<String>,
    /// Memory as marketed (`80GB`).
    pub memory_nominal: String,
    /// Budgets tried for the largest batch when none is given, as written (`80GB`, `80GiB`).
    pub readings: Vec<String>,
    /// Peak dense FLOP/s by precision name.
    pub peak: BTreeMap<String, Rational>,
}

const HARDWARE: &str = include_str!("../derivations/hardware.toml");

impl Hardware {
    /// Every built-in accelerator.
    pub fn builtin() -> Vec<Hardware> {
        let file: HardwareFile =
            toml::from_str(HARDWARE).unwrap_or_else(|e| panic!("derivations/hardware.toml is invalid: {e}"));
        file.hardware
            .into_iter()
            .map(|h| Hardware {
                peak: h
                    .peak
                    .iter()
                    .map(|(k, v)| {
                        let value =
                            parse_decimal(v).unwrap_or_else(|| panic!("{}: peak {k} = {v} is not a number", h.name));
                        (k.clone(), value)
                    })
                    .collect(),
                name: h.name,
                aliases: h.aliases,
                summary: h.summary,
                memory_nominal: h.memory,
                readings: h.readings,
            })
            .collect()
    }

    /// The accelerator of that name or alias, in any letter case, or an error listing the known
    /// ones.
    pub fn find(name: &str) -> Result<Hardware> {
        let all = Hardware::builtin();
        let known: Vec<String> = all.iter().map(|h| h.name.clone()).collect();
        let wanted = name.trim().to_lowercase();
        all.into_iter().find(|h| h.name == wanted || h.aliases.contains(&wanted)).ok_or_else(|| Error::Unknown {
            what: "hardware".into(),
            name: name.to_string(),
            known,
        })
    }

    /// Peak FLOP/s at a precision, or an error naming the precisions this hardware lists.
    pub fn peak_at(&self, precision: Precision) -> Result<Rational> {
        self.peak.get(precision.name()).cloned().ok_or_else(|| Error::Unknown {
            what: format!("precision for {}", self.name),
            name: precision.name().to_string(),
            known: self.peak.keys().cloned().collect(),
        })
    }
}

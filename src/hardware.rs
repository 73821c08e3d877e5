//! Accelerators as data (`derivations/hardware.toml`): nominal memory, the budgets it is read as,
//! dense peak FLOP/s per precision and memory bandwidth, read as exact decimals.

use crate::algebra::{Rational, parse_decimal};
use crate::diagnostic::Source;
use crate::dim::{Precision, Units};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HardwareFile {
    hardware: Vec<Spanned<HardwareEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HardwareEntry {
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    summary: String,
    memory: String,
    readings: Vec<Spanned<String>>,
    peak: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    links: Option<LinksEntry>,
    #[serde(default)]
    gpus_per_node: Option<Spanned<i64>>,
    #[serde(default)]
    memory_bandwidth: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinksEntry {
    node: Spanned<String>,
    network: Spanned<String>,
}

/// The bandwidths parallel training uses, bytes per second per GPU and direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Links {
    /// Within a node (NVLink).
    pub node: Rational,
    /// Between nodes (InfiniBand/RoCE).
    pub network: Rational,
    /// GPUs that share the node link.
    pub gpus_per_node: i64,
}

/// One accelerator.
#[derive(Clone, Debug)]
pub struct Hardware {
    /// Name used on the command line (`a100-80gb`).
    pub name: String,
    /// Other names accepted for it (`a100`).
    pub aliases: Vec<String>,
    /// Marketing name.
    pub summary: String,
    /// Memory as marketed (`80GB`).
    pub memory_nominal: String,
    /// Budgets tried for the largest batch when none is given: as written (`80GiB`) and in bytes.
    pub readings: Vec<(String, Rational)>,
    /// Peak dense FLOP/s by precision name.
    pub peak: BTreeMap<String, Rational>,
    /// Link bandwidths, when the data gives them.
    pub links: Option<Links>,
    /// Bytes per second the device memory (HBM) moves, when the data gives it.
    pub memory_bandwidth: Option<Rational>,
}

impl Hardware {
    /// Reads a hardware file; every peak must name a known precision.
    pub fn read(source: &Source, precisions: &[Precision], units: &Units) -> Result<Vec<Hardware>> {
        let file: HardwareFile = crate::loader::read_toml(source)?;
        let mut out = Vec::new();
        for entry in file.hardware {
            let h = entry.into_inner();
            let mut peak = BTreeMap::new();
            for (name, value) in h.peak {
                if !precisions.iter().any(|p| p.name == *name.get_ref()) {
                    let known: Vec<&str> = precisions.iter().map(|p| p.name.as_str()).collect();
                    return Err(Error::at(
                        source,
                        name.span(),
                        format!("unknown precision `{}`; known: {}", name.get_ref(), known.join(", ")),
                    ));
                }
                let v = parse_decimal(value.get_ref()).filter(|v| *v > Rational::from_integer(0.into())).ok_or_else(
                    || Error::at(source, value.span(), "a peak is a positive number of FLOP/s (`989.4e12`)"),
                )?;
                peak.insert(name.into_inner(), v);
            }
            let mut readings = Vec::new();
            for r in h.readings {
                let bytes = units.parse_bytes(r.get_ref()).map_err(|reason| Error::at(source, r.span(), reason))?;
                readings.push((r.into_inner(), bytes));
            }
            let bandwidth = |v: &Spanned<String>| {
                parse_decimal(v.get_ref()).filter(|v| *v > Rational::from_integer(0.into())).ok_or_else(|| {
                    Error::at(source, v.span(), "a bandwidth is a positive number of bytes per second (`450e9`)")
                })
            };
            let links = match &h.links {
                Some(l) => {
                    let gpus = h.gpus_per_node.as_ref().map(|g| (*g.get_ref(), g.span())).unwrap_or((8, 0..0));
                    if gpus.0 < 1 {
                        return Err(Error::at(source, gpus.1, "gpus_per_node is a positive whole number"));
                    }
                    Some(Links { node: bandwidth(&l.node)?, network: bandwidth(&l.network)?, gpus_per_node: gpus.0 })
                }
                None => None,
            };
            out.push(Hardware {
                memory_bandwidth: h.memory_bandwidth.as_ref().map(bandwidth).transpose()?,
                links,
                name: h.name.to_lowercase(),
                aliases: h.aliases.iter().map(|a| a.to_lowercase()).collect(),
                summary: h.summary,
                memory_nominal: h.memory,
                readings,
                peak,
            });
        }
        Ok(out)
    }

    /// One line for listings: the name, memory and dense peaks.
    pub fn describe(&self) -> String {
        let tera = Rational::from_integer(1_000_000_000_000u64.into());
        let peaks: Vec<String> =
            self.peak.iter().map(|(p, v)| format!("{p} {} TFLOP/s", crate::dim::decimal(&(v / &tera), 1))).collect();
        let memory = match &self.memory_bandwidth {
            Some(b) => format!("; memory {} TB/s", crate::dim::exact(&(b / &tera))),
            None => String::new(),
        };
        format!("{}, {}: {}{memory}", self.summary, self.memory_nominal, peaks.join(", "))
    }

    /// Peak FLOP/s at a precision, or an error naming the precisions this hardware lists.
    pub fn peak_at(&self, precision: &str) -> Result<Rational> {
        self.peak.get(precision).cloned().ok_or_else(|| Error::BadOption {
            option: "--precision".into(),
            value: precision.to_string(),
            reason: format!(
                "{} ({}) has no {precision} peak in the hardware data; it has {}. choose one of those, or a --hardware that has one (`tally list hardware`)",
                self.name,
                self.summary,
                self.peak.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        })
    }
}

//! `tally list quantities`: every quantity of a catalog in one line.

use super::{Catalog, all_entries, batch_unit};
use crate::dim::Unit;

impl Catalog<'_> {
    /// Every quantity this model has under these conventions, one line each: its unit, what it
    /// is, the quantities it is built from and the conventions it reads (`tally list quantities`).
    pub fn listing(&self) -> Vec<(String, String)> {
        let line = |unit: Unit, title: String, uses: &[&str], reads: &[&str]| {
            let unit = if unit.name().is_empty() { "number".to_string() } else { unit.name() };
            let mut out = format!("[{unit}] {title}");
            if !uses.is_empty() {
                out.push_str(&format!("; from {}", uses.join(", ")));
            }
            out.push_str(&match reads {
                [] => "; reads no convention".to_string(),
                _ => format!("; reads {}", reads.join(", ")),
            });
            out
        };
        let mut rows = Vec::new();
        for name in self.names() {
            let row = if let Some(e) = all_entries().find(|e| e.name == name) {
                line((e.unit)(), (e.title)(self), e.uses, e.reads)
            } else if let Some((_, title)) = self.components().into_iter().find(|(n, _)| *n == name) {
                line(Unit::flop(), title, &[], &["flops", "attention_flops"])
            } else if let Some((_, unit, title)) = super::bounds::listed().into_iter().find(|(n, ..)| *n == name) {
                line(unit, title, &["gpu.memory.total"], &["parallel", "hardware", "memory"])
            } else {
                let budget = if name == "batch.max" { "the first memory reading" } else { "the second memory reading" };
                let title = format!("largest whole batch that fits {budget}");
                line(batch_unit(), title, &["memory.total"], &["hardware", "memory"])
            };
            rows.push((name, row));
        }
        rows
    }
}

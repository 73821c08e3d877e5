//! A model that `extends` another: each `[[change]]` names an op of the base architecture and
//! sets some of its fields, swaps it for an op of another kind, or removes it.

use super::{OpFile, Reader};
use crate::error::Result;
use crate::model::{SiteKind, SizeSite, Stage};
use crate::ops::OpKind;
use toml::Spanned;

impl Reader<'_> {
    /// Applies a [[change]] to an op of the base architecture: sets the given fields (each checked
    /// against the op's kind), replaces it when a new `kind` is given, or removes it.
    pub(super) fn change(
        &self,
        stages: &mut [Stage],
        sites: &mut Vec<SizeSite>,
        change: &Spanned<OpFile>,
    ) -> Result<()> {
        let file = change.get_ref();
        let Some(target) = &file.op else {
            return Err(self.located("a [[change]] names the op it changes: op = \"…\"", change.span()));
        };
        let found = stages.iter_mut().find_map(|stage| {
            let i = stage.ops.iter().position(|op| op.name == *target.get_ref())?;
            Some((stage, i))
        });
        let Some((stage, i)) = found else {
            let known: Vec<&str> = stages.iter().flat_map(|s| s.ops.iter().map(|op| op.name.as_str())).collect();
            return Err(self.located(
                format!(
                    "no op named `{}` in the architecture this file extends; its ops: {}",
                    target.get_ref(),
                    known.join(", ")
                ),
                target.span(),
            ));
        };
        let old = stage.ops[i].name.clone();
        let stage_name = stage.name.clone();
        if file.remove == Some(true) {
            stage.ops.remove(i);
            sites.retain(|s| s.field.0.as_deref() != Some(&old));
            return Ok(());
        }
        if file.kind.is_some() {
            let mut whole =
                OpFile { name: Some(file.name.clone().unwrap_or_else(|| old.clone())), ..OpFile::default() };
            whole.kind = file.kind.clone();
            copy_fields(&mut whole, file);
            let mut op = self.op(&Spanned::new(change.span(), whole), &stage_name, &stage.ops[i].component)?;
            // A swapped op reads what the op it replaces read, unless the change says otherwise.
            if op.inputs.is_empty() {
                op.inputs = stage.ops[i].inputs.clone();
            }
            sites.retain(|s| s.field.0.as_deref() != Some(&old));
            stage.ops[i] = op;
            return Ok(());
        }
        let op = &mut stage.ops[i];
        self.check_fields(op, file, change.span())?;
        for (field, value) in file.sizes() {
            let Some(value) = value else { continue };
            let what = format!("op `{old}` in `{stage_name}`: {field}");
            let expr = self.site(value, what, (Some(&old), field), SiteKind::Dimension)?;
            sites.retain(|s| s.field != (Some(old.clone()), field));
            if let Some(slot) = op.field_mut(field) {
                *slot = expr;
            }
        }
        match (&mut op.kind, file.bias, file.tied, &file.function) {
            (OpKind::Linear { bias, tied, .. }, b, t, _) => {
                *bias = b.unwrap_or(*bias);
                *tied = t.unwrap_or(*tied);
            }
            (OpKind::LayerNorm { bias, .. }, b, _, _) => *bias = b.unwrap_or(*bias),
            (OpKind::Activation { function, .. }, _, _, Some(f)) => *function = self.activation(f)?,
            _ => {}
        }
        if file.kv_cache.is_some() {
            sites.retain(|s| s.field != (Some(old.clone()), "kv_cache"));
        }
        self.set_common(op, file, &stage_name)
    }
}

/// The fields of `from` copied onto `to` (for a [[change]] that replaces an op).
fn copy_fields(to: &mut OpFile, from: &OpFile) {
    to.component = from.component.clone();
    to.rows = from.rows.clone();
    to.width = from.width.clone();
    to.input = from.input.clone();
    to.output = from.output.clone();
    to.heads = from.heads.clone();
    to.head_dim = from.head_dim.clone();
    to.vocab = from.vocab.clone();
    to.bias = from.bias;
    to.function = from.function.clone();
    to.tied = from.tied;
    to.saved = from.saved.clone();
    to.kv_cache = from.kv_cache.clone();
    to.inputs = from.inputs.clone();
    to.parallel = from.parallel.clone();
    to.experts = from.experts.clone();
    to.active = from.active.clone();
    to.absorbed_head_dim = from.absorbed_head_dim.clone();
    to.reads_cache = from.reads_cache;
}

//! An audit request answered: the claims read (from the request and a claims file), grouped by
//! the model, conventions and bindings they are checked against, each group resolved and checked.

use super::Report;
use super::claim::Claim;
use super::reference::Reference;
use crate::algebra::Engine;
use crate::diagnostic::{Diagnostic, Label, Source};
use crate::error::{Error, Result};
use crate::facts::Facts;
use crate::request::{AuditRequest, DeriveRequest, default_model_name};
use crate::resolve::prepare;
use std::sync::Arc;

/// Audits claims: each is checked against the model and conventions it names (claims files may
/// set them per claim); the report keeps the order the claims were given in.
pub fn answer(engine: &Engine, data: &Facts, request: &AuditRequest) -> Result<Report> {
    let mut claims = Vec::new();
    let mut file_model = None;
    if let Some(source) = &request.file {
        let (model, from_file) = super::claim::from_file(source)?;
        file_model = model;
        claims.extend(from_file);
    }
    for (i, text) in request.claims.iter().enumerate() {
        let claim = Claim::parse(&format!("c{}", i + 1), text).map_err(|(message, span)| {
            let source = Arc::new(Source { name: format!("claim {}", i + 1), text: text.clone() });
            Error::Located(Box::new(Diagnostic::error(message).in_source(source).with_label(Label::primary(span, ""))))
        })?;
        claims.push(claim);
    }
    if claims.is_empty() {
        return Err(Error::Usage(
            "give at least one claim, e.g. \"params = 2*V*H + L*(16*H^2 + 2*H) + H\", or --claims FILE".into(),
        ));
    }
    let default_model = request.model.clone().or(file_model).unwrap_or_else(|| default_model_name().to_string());
    // Claims are checked in groups that share a model, conventions and bindings.
    type Group = (String, Vec<(String, String)>, Vec<String>);
    let key = |c: &Claim| -> Group {
        (c.model.clone().unwrap_or_else(|| default_model.clone()), c.conventions.clone(), c.sets.clone())
    };
    let mut groups: Vec<Group> = Vec::new();
    for c in &claims {
        if !groups.contains(&key(c)) {
            groups.push(key(c));
        }
    }
    let mut report = Report { model: String::new(), claims: Vec::new(), strict: request.strict };
    let mut names = Vec::new();
    for group in &groups {
        let (model, conventions, claim_sets) = group;
        let mut options = request.options.clone();
        for (name, value) in conventions {
            options.set(name, value)?;
        }
        // The request's own model (a file, a preset) applies to claims that name no other.
        let own = request.model.as_ref() == Some(model);
        let derive = DeriveRequest {
            model: model.clone(),
            file: if own { request.model_file.clone() } else { None },
            preset: if own || request.model.is_none() { request.preset.clone() } else { None },
            sets: request.sets.iter().chain(claim_sets).cloned().collect(),
            options,
        };
        let (selection, bindings, resolved) = prepare(data, &derive)?;
        let reference = Reference::new(engine, data, &selection, &bindings, &derive.options, &resolved);
        let mine: Vec<Claim> = claims.iter().filter(|c| key(c) == *group).cloned().collect();
        let part = super::check(&mine, &reference);
        if !names.contains(&part.model) {
            names.push(part.model.clone());
        }
        report.claims.extend(part.claims);
    }
    report.model = names.join(", ");
    let order = |c: &super::ClaimReport| claims.iter().position(|k| k.id == c.claim.id && k.text == c.claim.text);
    report.claims.sort_by_key(order);
    Ok(report)
}

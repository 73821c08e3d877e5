//! Binding sizes: defaults, then a preset, then `--set` values, then relations; and checking that
//! every size the model file writes is bound, defined and a positive whole number.

use super::{Binding, Bindings, Model, Origin, Preset, SiteKind};
use crate::algebra::{self, Expr, Rational};
use crate::dim;
use crate::error::{Error, Result};
use crate::symbol::SymbolTable;
use num_traits::Signed;
use std::collections::BTreeMap;

impl Model {
    /// Binds every symbol: defaults, then the preset, then `--set` values, then relations for
    /// whatever is still unbound (in as many passes as they need). Every size the model writes is
    /// then checked: bound, defined at these values, and a positive whole number.
    pub fn bind(
        &self,
        preset: Option<&Preset>,
        sets: &[(String, Rational, Origin)],
        symbols: &SymbolTable,
    ) -> Result<Bindings> {
        let used = self.symbols_used();
        let mut values: BTreeMap<String, (Rational, Origin)> = BTreeMap::new();
        for (s, v) in &self.defaults {
            values.insert(s.clone(), (Rational::from_integer(v.clone()), Origin::Default));
        }
        if let Some(p) = preset {
            for (s, v) in &p.sizes {
                values.insert(s.clone(), (Rational::from_integer(v.clone()), Origin::Preset(p.name.clone())));
            }
        }
        for (s, v, origin) in sets {
            let def = symbols.get(s);
            if *origin == Origin::Set && !used.contains(s) && !def.is_some_and(|d| d.training) {
                let long = def.map(|d| format!(" ({})", d.long)).unwrap_or_default();
                return Err(Error::BadSet {
                    arg: format!("{s}={v}"),
                    reason: format!(
                        "{s}{long} is not used by {}: no size of the model is written in it, so this value would change nothing",
                        self.name
                    ),
                });
            }
            values.insert(s.clone(), (v.clone(), origin.clone()));
        }
        self.resolve_relations(&mut values)?;
        bind_window_spans(&mut values);
        let entries = symbols
            .all()
            .iter()
            .filter_map(|def| {
                values.get(&def.short).map(|(v, o)| Binding {
                    symbol: def.short.clone(),
                    value: v.clone(),
                    origin: o.clone(),
                })
            })
            .collect();
        let bindings = Bindings { entries };
        self.check_sizes(&bindings, symbols)?;
        Ok(bindings)
    }

    /// Binds what relations give, repeating until nothing changes, so that the order relations
    /// are written in does not matter (`A = K` with `K = H/64`). A relation that still cannot be
    /// worked out is left for the size checks, which name the symbol that has no value.
    fn resolve_relations(&self, values: &mut BTreeMap<String, (Rational, Origin)>) -> Result<()> {
        loop {
            let mut changed = false;
            for ((s, formula), (source, span)) in self.relations.iter().zip(&self.relation_spans) {
                if values.contains_key(s) {
                    continue;
                }
                let known: BTreeMap<String, Rational> =
                    values.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect();
                match algebra::evaluate(formula, &known) {
                    Ok(v) => {
                        values.insert(s.clone(), (v, Origin::Relation(formula.clone())));
                        changed = true;
                    }
                    Err(algebra::EvalError::Unbound(_)) => {}
                    Err(e) => return Err(Error::at_shared(source, span.clone(), format!("relation {s} = …: {e}"))),
                }
            }
            if !changed {
                return Ok(());
            }
        }
    }

    /// Every bound symbol must be a positive number (whole where the vocabulary says so, at most
    /// its bound where it has one), and every size the file writes must be bound, defined and a
    /// positive whole number.
    fn check_sizes(&self, bindings: &Bindings, symbols: &SymbolTable) -> Result<()> {
        for b in &bindings.entries {
            let def = symbols.get(&b.symbol);
            if let Some(def) = def {
                def.check(&b.value).map_err(|reason| {
                    Error::InvalidSize(format!("{} ({}) = {}: {reason}", b.symbol, def.long, dim::exact(&b.value)))
                })?;
            }
        }
        let values = bindings.values();
        for b in &bindings.entries {
            let Some(def) = symbols.get(&b.symbol) else { continue };
            let Some(bound) = def.bound_symbol() else { continue };
            if let Some(limit) = values.get(bound)
                && b.value > *limit
            {
                let of = |s: &str| symbols.get(s).map(|d| d.long.clone()).unwrap_or_default();
                let origin = bindings.entries.iter().find(|e| e.symbol == bound).map(|e| e.origin.words());
                return Err(Error::InvalidSize(format!(
                    "{} ({}) = {} must be at most {bound} ({}) = {}{}",
                    b.symbol,
                    def.long,
                    dim::exact(&b.value),
                    of(bound),
                    dim::exact(limit),
                    origin.map(|o| format!(" ({o})")).unwrap_or_default()
                )));
            }
        }
        for site in &self.sites {
            let formula = algebra::print(&site.expr, algebra::Notation::Unicode);
            let v = match algebra::evaluate(&site.expr, &values) {
                Ok(v) => v,
                Err(algebra::EvalError::Unbound(missing)) => {
                    let m = &missing[0];
                    let long = symbols.get(m).map(|d| format!(" ({})", d.long)).unwrap_or_default();
                    let why = match self.relations.iter().find(|(s, _)| s == m) {
                        Some((_, f)) => {
                            let deps: Vec<String> =
                                f.symbols().into_iter().filter(|d| !values.contains_key(d)).collect();
                            format!(
                                "but its relation {m} = {} cannot be worked out: {} {} no value either (relations that depend on each other, or a size never given)",
                                algebra::print(f, algebra::Notation::Unicode),
                                deps.join(", "),
                                if deps.len() == 1 { "has" } else { "have" }
                            )
                        }
                        None => "which no preset, default, relation or --set gives".to_string(),
                    };
                    return Err(Error::at_shared(
                        &site.source,
                        site.span.clone(),
                        format!("{}: {formula} needs {m}{long}, {why}", site.what),
                    ));
                }
                Err(e) => {
                    return Err(Error::at_shared(
                        &site.source,
                        site.span.clone(),
                        format!("{}: {formula}: {e}", site.what),
                    ));
                }
            };
            if !v.is_integer() || !v.is_positive() {
                let hint = divisibility_hint(&site.expr, symbols);
                let what = match site.kind {
                    SiteKind::Repeat => "a stage must run a positive whole number of times",
                    SiteKind::KvCache => "a cache holds a positive whole number of elements per token",
                    SiteKind::Dimension | SiteKind::WholeNumber => "it must be a positive whole number",
                };
                let at: Vec<String> = site
                    .expr
                    .symbols()
                    .iter()
                    .filter_map(|sym| bindings.entries.iter().find(|b| &b.symbol == sym))
                    .map(|b| format!("{} = {} ({})", b.symbol, dim::exact(&b.value), b.origin.words()))
                    .collect();
                let with = if at.is_empty() { String::new() } else { format!(" with {}", at.join(", ")) };
                return Err(Error::at_shared(
                    &site.source,
                    site.span.clone(),
                    format!("{}: {formula} = {}{with}; {what}{hint}", site.what, dim::exact_fraction(&v)),
                ));
            }
        }
        Ok(())
    }
}

/// The tokens a sliding-window layer attends to, T_w = min(T, W), and those transformers'
/// dynamic cache keeps, T_h = min(T, W − 1): bound from T and W, since no polynomial is a minimum.
fn bind_window_spans(values: &mut BTreeMap<String, (Rational, Origin)>) {
    use crate::symbol::Role;
    let (Some((t, _)), Some((w, _))) = (values.get(Role::Context.symbol()), values.get(Role::Window.symbol())) else {
        return;
    };
    let one = Rational::from_integer(1.into());
    let span = t.clone().min(w.clone());
    let cache = t.clone().min(w - &one);
    values.insert(Role::WindowSpan.symbol().into(), (span, Origin::Option("min(T, W)".into())));
    values.insert(Role::WindowCache.symbol().into(), (cache, Origin::Option("min(T, W − 1)".into())));
}

/// "num_heads (A) must divide d_model (H)" when a size is a quotient of two symbols.
fn divisibility_hint(size: &Expr, symbols: &SymbolTable) -> String {
    let names = |e: &Expr| -> Option<String> {
        match e {
            Expr::Sym(s) => symbols.get(s).map(|d| format!("{} ({})", d.long, d.short)),
            _ => None,
        }
    };
    if let Expr::Mul(factors) = size
        && let [top, Expr::Pow(bottom, -1)] = factors.as_slice()
        && let (Some(t), Some(b)) = (names(top), names(bottom))
    {
        return format!(": {b} must divide {t}");
    }
    String::new()
}

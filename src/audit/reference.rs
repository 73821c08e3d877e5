//! What claims are checked against: the derivation of the chosen model (every named quantity with
//! its rules-built expression, unit and value), how names in a claim resolve (quantities and their
//! aliases, symbols by short or long name, unit words), and dimensional analysis of a claim.

use crate::algebra::{self, Engine, Expr, Rational};
use crate::dim::{Base, Unit};
use crate::facts::Facts;
use crate::model::Model;
use crate::ops::{FlopConvention, OpKind, Saved};
use crate::options::Options;
use crate::quantity::{BatchLine, Catalog, Context, Conventions, Quantity};
use crate::symbol::{Role, SymbolTable};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

/// What claims are checked against: the catalog's quantities for one model under one set of
/// conventions, derived on demand (no document is built).
pub struct Reference<'e> {
    /// The algebra.
    pub engine: &'e Engine,
    /// What the model is called in reports (`gpt2-xl`).
    pub id: String,
    /// The architecture, for attributing terms to ops.
    pub model: Model,
    /// The conventions claims are read under.
    pub conventions: Conventions,
    /// The options those conventions were resolved from (readings change them).
    pub options: Options,
    /// Bound values of every symbol.
    pub values: BTreeMap<String, Rational>,
    /// Which FLOPs count.
    pub flops: FlopConvention,
    /// Bytes per element of the training precision.
    pub bytes_per_element: i64,
    /// The vocabulary.
    pub symbols: SymbolTable,
    /// Unit words, aliases and factor causes.
    pub data: &'e Facts,
    names: Vec<String>,
    derived: RefCell<BTreeMap<usize, Option<Quantity>>>,
    /// Left sides derived under sets of readings (see `explain`), shared by every claim.
    pub(super) under_readings: RefCell<HashMap<String, Option<std::rc::Rc<super::derived::Derived>>>>,
    /// Their fingerprints at the fixed points (see `explain`), shared the same way.
    pub(super) fingerprints: RefCell<HashMap<String, Option<Vec<u64>>>>,
    /// Their values at the bound sizes in floating point, shared the same way.
    pub(super) estimates: RefCell<HashMap<String, Option<f64>>>,
    /// Their exact values at the bound sizes, shared the same way.
    pub(super) exact_values: RefCell<HashMap<String, Option<Rational>>>,
}

/// The marker a unit word leaves in a formula, to infer its unit before the algebra.
fn unit_marker(base: Base) -> Expr {
    Expr::sym(&format!("unit_{}", base.id()))
}

pub(super) fn base_of_marker(name: &str) -> Option<Base> {
    let id = name.strip_prefix("unit_")?;
    Base::ALL.into_iter().find(|b| b.id() == id)
}

/// A claim's formula read with markers: quantities as `q_<index>`, unit words as `unit_<base>`
/// times their factor, so that units can be inferred before the algebra.
pub struct MarkedFormula {
    /// The expression with markers.
    pub marked: Expr,
    /// Notes on how ambiguous names were read.
    pub notes: Vec<String>,
    /// Unit words read where the model has a size of the same letters in another case: the word
    /// as written and the size's symbol (`h`, `H`).
    pub shadowed: Vec<(String, String)>,
}

impl<'e> Reference<'e> {
    /// The catalog of `selection` at `bindings` under `conventions`, as the reference for claims.
    pub fn new(
        engine: &'e Engine,
        data: &'e Facts,
        selection: &crate::preset::Selection,
        bindings: &crate::model::Bindings,
        options: &Options,
        conventions: &Conventions,
    ) -> Reference<'e> {
        let names = Catalog::new(&selection.model, conventions).names();
        Reference {
            engine,
            id: selection.id.clone(),
            model: selection.model.clone(),
            conventions: conventions.clone(),
            options: options.clone(),
            values: bindings.values(),
            flops: conventions.flops,
            bytes_per_element: conventions.precision.bytes,
            symbols: data.symbols.clone(),
            data,
            names,
            derived: RefCell::new(BTreeMap::new()),
            under_readings: RefCell::new(HashMap::new()),
            fingerprints: RefCell::new(HashMap::new()),
            estimates: RefCell::new(HashMap::new()),
            exact_values: RefCell::new(HashMap::new()),
        }
    }

    /// How closed forms are shown in findings: split into the part without B and the part with it.
    pub fn layout(&self) -> algebra::LayoutRules {
        algebra::LayoutRules { split_by: Some(Role::Batch.symbol().into()), ..self.symbols.layout() }
    }

    /// The quantity a name (or alias) refers to, with its index for markers; derived on first use.
    pub fn quantity(&self, name: &str) -> Option<(usize, Quantity)> {
        let canonical = self.data.aliases.iter().find(|(a, _)| a == name).map(|(_, q)| q.as_str()).unwrap_or(name);
        let i = self.names.iter().position(|n| n == canonical)?;
        self.quantity_at(i).map(|q| (i, q))
    }

    pub(super) fn quantity_at(&self, i: usize) -> Option<Quantity> {
        if let Some(q) = self.derived.borrow().get(&i) {
            return q.clone();
        }
        let q = Catalog::new(&self.model, &self.conventions).quantity(&self.context(), &self.names[i]).ok().flatten();
        self.derived.borrow_mut().insert(i, q.clone());
        q
    }

    /// Training memory as a·B + b (`None` when it is not linear in B).
    pub fn batch_line(&self) -> Option<BatchLine> {
        Catalog::new(&self.model, &self.conventions).batch_line(&self.context()).ok().flatten()
    }

    fn context(&self) -> Context<'e> {
        Context { engine: self.engine, layout: self.symbols.layout(), values: self.values.clone() }
    }

    /// Every quantity name a claim may use, for suggestions.
    fn names(&self) -> Vec<String> {
        let mut v = self.names.clone();
        v.extend(self.data.aliases.iter().map(|(a, _)| a.clone()));
        v.extend(self.symbols.all().iter().flat_map(|s| [s.short.clone(), s.long.clone()]));
        v.extend(self.symbols.all().iter().flat_map(|s| s.aliases.iter().cloned()));
        v
    }

    /// A unit word claims may use: its base and factor.
    fn unit_word(&self, word: &str) -> Option<(Base, Rational)> {
        self.data.unit(word, true).map(|u| (u.base, u.factor.clone()))
    }

    /// Resolves one name of a claim's formula. `units_only` is for stated numbers (`565 days`).
    fn resolve(
        &self,
        name: &str,
        units_only: bool,
        notes: &RefCell<Vec<String>>,
        shadowed: &RefCell<Vec<(String, String)>>,
    ) -> Result<Expr, String> {
        if units_only {
            return match self.unit_word(name) {
                Some((base, factor)) => Ok(Expr::num(factor) * unit_marker(base)),
                None => Err(format!("`{name}` is not a unit")),
            };
        }
        // In a formula a quantity's name wins over the unit of the same spelling (params).
        if self.quantity(name).is_none()
            && let Some((base, factor)) = self.unit_word(name)
        {
            // A unit word that is one of the model's sizes in another letter case (`h` for hours,
            // `H` the width) may be that size mistyped: say how it was read.
            let shadows = self.symbols.all().iter().find(|s| {
                s.short != name
                    && s.short.eq_ignore_ascii_case(name)
                    && !s.training
                    && self.values.contains_key(&s.short)
            });
            if let Some(s) = shadows
                && !shadowed.borrow().iter().any(|(w, _)| w == name)
            {
                let unit = crate::dim::exact_with_unit(&factor, &Unit::of(base));
                notes.borrow_mut().push(format!(
                    "read `{name}` as a unit ({unit}); did you mean the symbol {} ({})?",
                    s.short, s.long
                ));
                shadowed.borrow_mut().push((name.to_string(), s.short.clone()));
            }
            return Ok(Expr::num(factor) * unit_marker(base));
        }
        if let Some((i, _)) = self.quantity(name) {
            return Ok(Expr::sym(&format!("q_{i}")));
        }
        if let Some(def) = self.symbols.get(name) {
            return Ok(Expr::sym(&def.short));
        }
        // Juxtaposed single-letter symbols: VH is V·H when no name VH exists.
        if name.chars().count() > 1 && name.chars().all(|c| self.symbols.get(&c.to_string()).is_some()) {
            let letters: Vec<String> = name.chars().map(|c| c.to_string()).collect();
            notes.borrow_mut().push(format!("read `{name}` as {} (no symbol is named `{name}`)", letters.join("·")));
            return Ok(Expr::product(letters.iter().map(|l| Expr::sym(l)).collect()));
        }
        Err(match crate::suggestion::suggest(name, &self.names()) {
            Some(s) => format!("unknown name `{name}`; did you mean `{s}`?"),
            None => format!(
                "unknown name `{name}`; use a quantity (params, memory.total, …), a symbol (H, d_model, …) or a unit"
            ),
        })
    }

    /// True if `text` is a stated number: one number, then only unit words (`565 days`, `-3`,
    /// `2.13B params`, `16 bytes/param`), with no arithmetic. With `counts`, a magnitude letter
    /// right after a whole number is part of it (`8B`).
    pub fn is_stated_number(&self, text: &str, counts: bool) -> bool {
        let t = text.trim().trim_start_matches(['-', '+', '−']).trim_start();
        // A percentage (`51.2%`) is a stated fraction.
        let t = t.strip_suffix('%').map(str::trim_end).unwrap_or(t);
        let numbers = algebra::number_literals(t, stated_syntax(counts));
        let Some((first, _)) = numbers.first() else { return false };
        if first.start != 0 || numbers.len() > 1 {
            return false;
        }
        let rest = &t[first.end..];
        rest.split(|c: char| c.is_whitespace() || c == '/')
            .filter(|w| !w.is_empty())
            .all(|w| self.unit_word(w).is_some())
    }

    /// The unit of a symbol that has one (R: FLOP/s), from the symbol data and the unit words.
    pub(super) fn symbol_unit(&self, name: &str) -> Option<Unit> {
        let written = self.symbols.get(name)?.unit.clone()?;
        let mut unit = Unit::none();
        for (i, part) in written.split('/').enumerate() {
            for word in part.split('·') {
                let (base, _) = self.unit_word(word.trim())?;
                unit = if i == 0 { unit.times(&Unit::of(base)) } else { unit.per(&Unit::of(base)) };
            }
        }
        Some(unit)
    }

    /// A quantity name that is a unit word only (`flops`, `bytes`), with its unit.
    pub fn unit_name(&self, name: &str) -> Option<Unit> {
        if self.quantity(name).is_some() || self.symbols.get(name).is_some() {
            return None;
        }
        self.unit_word(name).map(|(base, _)| Unit::of(base))
    }

    /// Names of quantities in `unit`, for suggestions.
    pub fn quantities_in(&self, unit: &Unit) -> Vec<String> {
        let catalog = Catalog::new(&self.model, &self.conventions);
        self.names.iter().filter(|n| catalog.unit(n).as_ref() == Some(unit)).take(4).cloned().collect()
    }

    /// The architecture's relations (F = 4H) that hold at the bound sizes.
    pub fn relations(&self) -> Vec<(String, Expr)> {
        self.model
            .relations
            .iter()
            .filter(|(s, e)| {
                self.values.get(s).is_some_and(|v| algebra::evaluate(e, &self.values).is_ok_and(|w| &w == v))
            })
            .cloned()
            .collect()
    }

    /// Reads a formula of a claim in people notation.
    pub fn read(&self, text: &str, units_only: bool) -> Result<MarkedFormula, algebra::ParseError> {
        let (notes, shadowed) = (RefCell::new(Vec::new()), RefCell::new(Vec::new()));
        let resolve = |name: &str| self.resolve(name, units_only, &notes, &shadowed);
        let marked = algebra::parse_with(text, &resolve, algebra::Syntax::people())?;
        let mut notes = notes.into_inner();
        notes.extend(juxtaposition_notes(text, algebra::Syntax::people()));
        Ok(MarkedFormula { marked, notes, shadowed: shadowed.into_inner() })
    }

    /// Reads a stated number with its units (`2.13B params`, `8B` for a count, `565 days`).
    pub fn read_stated(&self, text: &str, counts: bool) -> Result<MarkedFormula, algebra::ParseError> {
        if let Some(number) = text.trim_end().strip_suffix('%') {
            let mut reading = self.read_stated(number, counts)?;
            reading.marked = reading.marked * Expr::num(Rational::new(1.into(), 100.into()));
            reading.notes.push(format!("read `{}` as a fraction: {}/100", text.trim(), number.trim()));
            return Ok(reading);
        }
        let (notes, shadowed) = (RefCell::new(Vec::new()), RefCell::new(Vec::new()));
        let resolve = |name: &str| self.resolve(name, true, &notes, &shadowed);
        let marked = algebra::parse_with(text, &resolve, stated_syntax(counts))?;
        let mut notes = notes.into_inner();
        for (span, value) in algebra::number_literals(text, stated_syntax(counts)) {
            let written = &text[span];
            if written.ends_with(['k', 'K', 'M', 'G', 'B', 'T']) {
                notes.push(format!("read `{written}` as {} (a magnitude suffix)", crate::dim::exact(&value)));
            }
        }
        Ok(MarkedFormula { marked, notes, shadowed: shadowed.into_inner() })
    }

    /// The formula with markers replaced: quantities by their rules-built expressions, units by 1.
    pub fn unmark(&self, marked: &Expr) -> Expr {
        marked.substitute(&|name| {
            if base_of_marker(name).is_some() {
                return Some(Expr::one());
            }
            let i: usize = name.strip_prefix("q_")?.parse().ok()?;
            self.quantity_at(i).map(|q| q.raw)
        })
    }

    /// The formula with markers replaced, quantities derived under `applied` (readings), units
    /// by 1 (the readings' substitutions and scale not yet applied); `None` if a quantity does not
    /// exist under them.
    pub fn unmark_under(&self, marked: &Expr, applied: &super::readings::Applied) -> Option<Expr> {
        let missing = std::cell::Cell::new(false);
        let e = marked.substitute(&|name| {
            if base_of_marker(name).is_some() {
                return Some(Expr::one());
            }
            let i: usize = name.strip_prefix("q_")?.parse().ok()?;
            let q = applied.quantity(&self.names[i]);
            missing.set(missing.get() || q.is_none());
            q
        });
        (!missing.get()).then_some(e)
    }

    /// The unit of the first named quantity in a marked formula, if it names one.
    pub fn unit_of_quantities(&self, marked: &Expr) -> Option<Unit> {
        marked.symbols().iter().find_map(|s| {
            let i: usize = s.strip_prefix("q_")?.parse().ok()?;
            self.quantity_at(i).map(|q| q.unit)
        })
    }

    /// The quantity names and symbols a marked formula refers to.
    pub fn names_in(&self, marked: &Expr) -> Vec<String> {
        marked
            .symbols()
            .into_iter()
            .map(|s| match s.strip_prefix("q_").and_then(|i| i.parse::<usize>().ok()) {
                Some(i) => self.names[i].clone(),
                None => s,
            })
            .collect()
    }

    /// Ops whose rules produce a term with this monomial (with its coefficient), grouped by what
    /// the term is to them
    /// (forward FLOPs, parameters, a saved activation, or something the derivation does not count:
    /// a bias the op does not have, element-wise FLOPs under matmul-only counting, an output kept
    /// only under another activation convention). Op sizes are compared with the architecture's
    /// relations substituted (F = 4H) when `relations` say so.
    pub fn attribute(
        &self,
        powers: &BTreeMap<String, i32>,
        kinds: &[Contribution],
        relations: &[(String, Expr)],
    ) -> Vec<(Contribution, Vec<(String, Rational)>)> {
        let all_flops = FlopConvention { elementwise: true, ..self.flops };
        let mut out: Vec<(Contribution, Vec<(String, Rational)>)> = Vec::new();
        for stage in &self.model.stages {
            for op in &stage.ops {
                for kind in kinds {
                    let atom = match kind {
                        Contribution::Params => op.params(),
                        Contribution::Flops => op.forward_flops(self.flops, &self.model.costs),
                        Contribution::UncountedFlops => {
                            op.forward_flops(all_flops, &self.model.costs)
                                - op.forward_flops(self.flops, &self.model.costs)
                        }
                        Contribution::ParamsPerToken => {
                            op.params() * crate::symbol::Role::Batch.expr() * crate::symbol::Role::Context.expr()
                        }
                        Contribution::AbsentBias => match &op.kind {
                            OpKind::Linear { output, bias: false, tied: false, .. } => output.clone(),
                            OpKind::LayerNorm { width, bias: false } => width.clone(),
                            _ => continue,
                        },
                        Contribution::SavedCs336 if op.saved == Saved::Cs336 => op.output_elements(),
                        Contribution::SavedAllOnly if op.saved == Saved::All => op.output_elements(),
                        _ => continue,
                    };
                    let atom = atom.substitute(&|s| relations.iter().find(|(n, _)| n == s).map(|(_, f)| f.clone()));
                    let Ok(Some(terms)) = self.engine.monomials(&(stage.repeat.clone() * atom)) else { continue };
                    let Some(term) =
                        terms.iter().find(|t| &t.powers == powers && t.coeff != Rational::from_integer(0.into()))
                    else {
                        continue;
                    };
                    let entry = (op.name.clone(), term.coeff.clone());
                    match out.iter_mut().find(|(k, _)| k == kind) {
                        Some((_, names)) => names.push(entry),
                        None => out.push((*kind, vec![entry])),
                    }
                }
            }
        }
        out
    }
}

/// What a term can be to an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contribution {
    /// Its trainable parameters.
    Params,
    /// Its forward FLOPs.
    Flops,
    /// Its output, saved on CS336's activation list.
    SavedCs336,
    /// Its output, saved only when every intermediate counts.
    SavedAllOnly,
    /// Element-wise FLOPs, not counted when only matmuls count.
    UncountedFlops,
    /// A bias it does not have.
    AbsentBias,
    /// Its parameters counted per token (B·T of them), as 2N and 6N count FLOPs: every parameter
    /// as a multiply-add, the embedding lookup and the norms included.
    ParamsPerToken,
}

impl Contribution {
    /// How the group is introduced.
    pub fn words(self) -> &'static str {
        match self {
            Contribution::Params => "parameters of",
            Contribution::Flops => "forward FLOPs of",
            Contribution::SavedCs336 => "outputs saved on the cs336 list:",
            Contribution::SavedAllOnly => "outputs saved only when every intermediate counts (activations = all):",
            Contribution::UncountedFlops => "element-wise FLOPs (counted only with flops = all) of",
            Contribution::AbsentBias => "biases this model does not have, on",
            Contribution::ParamsPerToken => "parameters counted per token (as 2N and 6N count FLOPs) of",
        }
    }
}

/// How stated numbers are read: people notation, and for counts `8B` as 8 billion.
fn stated_syntax(counts: bool) -> algebra::Syntax {
    algebra::Syntax { bare_magnitudes: counts, ..algebra::Syntax::people() }
}

/// "read `2B` as 2·B (batch size)" for every number written right against a letter that could
/// also be a magnitude suffix, so the reading is never silent.
fn juxtaposition_notes(text: &str, syntax: algebra::Syntax) -> Vec<String> {
    let mut notes = Vec::new();
    for (span, value) in algebra::number_literals(text, syntax) {
        let rest = &text[span.end..];
        let mut chars = rest.chars();
        let (Some(letter), next) = (chars.next(), chars.next()) else { continue };
        let alone = next.is_none_or(|n| !n.is_alphanumeric() && n != '_');
        if matches!(letter, 'B' | 'T' | 'M' | 'K' | 'G') && alone {
            let written = &text[span.start..span.end + 1];
            notes.push(format!(
                "read `{written}` as {}·{letter}, the symbol {letter} (write {}e9 or a decimal point, {}.0B, for a magnitude)",
                crate::dim::exact(&value),
                crate::dim::exact(&value),
                crate::dim::exact(&value)
            ));
        }
    }
    notes
}

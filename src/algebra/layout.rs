//! Textbook layout of an expanded polynomial: split by one symbol (the `a·B + b` shape), pull out
//! the common numeric factor and the common power of the per-token axes (B, T), collect by the layer
//! count L, and order terms highest degree first. The result is an [`Expr`] that prints as laid out.

use super::expr::{Expr, Rational};
use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, Zero};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// One monomial `coeff · Π symbolᵏ` of an expanded expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    /// The exact coefficient.
    pub coeff: Rational,
    /// Exponent of each symbol (never 0).
    pub powers: BTreeMap<String, i32>,
}

impl Term {
    fn power(&self, symbol: &str) -> i32 {
        self.powers.get(symbol).copied().unwrap_or(0)
    }

    fn degree(&self) -> i32 {
        self.powers.values().sum()
    }

    fn without(&self, symbol: &str, k: i32) -> Term {
        let mut t = self.clone();
        let left = t.power(symbol) - k;
        if left == 0 {
            t.powers.remove(symbol);
        } else {
            t.powers.insert(symbol.to_string(), left);
        }
        t
    }
}

/// How a closed form should read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LayoutRules {
    /// Symbols in the order they are written inside a monomial (`B`, `T`, `V`, `L`, `H`, …).
    pub rank: Vec<String>,
    /// Symbols whose common power is pulled out in front (per-token axes such as B and T).
    pub factor_axes: Vec<String>,
    /// Symbols to collect by (the layer counts: L, or L_s and L_f for a model whose layers
    /// differ); each term is grouped by the first of them it holds.
    pub collect: Vec<String>,
    /// Symbol that splits the expression into separately factored parts (B for memory).
    pub split_by: Option<String>,
}

impl LayoutRules {
    fn rank_of(&self, symbol: &str) -> usize {
        self.rank.iter().position(|s| s == symbol).unwrap_or(self.rank.len())
    }

    fn ordered_symbols<'t>(&self, term: &'t Term) -> Vec<(&'t String, i32)> {
        let mut v: Vec<(&String, i32)> = term.powers.iter().map(|(s, k)| (s, *k)).collect();
        v.sort_by(|a, b| self.rank_of(a.0).cmp(&self.rank_of(b.0)).then(a.0.cmp(b.0)));
        v
    }

    /// Highest total degree first; among equals, the higher power of the earlier-ranked symbol.
    fn compare(&self, a: &Term, b: &Term) -> Ordering {
        b.degree().cmp(&a.degree()).then_with(|| {
            let mut symbols: Vec<&String> = a.powers.keys().chain(b.powers.keys()).collect();
            symbols.sort_by(|x, y| self.rank_of(x).cmp(&self.rank_of(y)).then(x.cmp(y)));
            symbols.dedup();
            for s in symbols {
                match b.power(s).cmp(&a.power(s)) {
                    Ordering::Equal => continue,
                    other => return other,
                }
            }
            Ordering::Equal
        })
    }
}

/// Lays out a sum of monomials the textbook way. The outermost terms keep the order they are
/// given in (callers pass them in the order the model builds them: embedding, blocks, head);
/// inside a collected group the highest degree comes first.
pub fn layout(terms: &[Term], rules: &LayoutRules) -> Expr {
    let ranked: Vec<(Term, usize)> =
        terms.iter().enumerate().filter(|(_, t)| !t.coeff.is_zero()).map(|(i, t)| (t.clone(), i)).collect();
    if ranked.is_empty() {
        return Expr::zero();
    }
    let Some(split) = &rules.split_by else {
        return factored(&ranked, rules);
    };
    let mut parts: BTreeMap<i32, Vec<(Term, usize)>> = BTreeMap::new();
    for (t, rank) in &ranked {
        parts.entry(t.power(split)).or_default().push((t.clone(), *rank));
    }
    if parts.len() < 2 {
        return factored(&ranked, rules);
    }
    Expr::sum(parts.values().map(|p| factored(p, rules)).collect())
}

/// One part: common factor in front, the rest collected and ordered inside.
fn factored(ranked: &[(Term, usize)], rules: &LayoutRules) -> Expr {
    let terms: Vec<&Term> = ranked.iter().map(|(t, _)| t).collect();
    if terms.len() == 1 {
        return monomial(terms[0], rules);
    }
    // A constant term keeps the numbers inside visible: 14P + 10, not 2(7P + 5).
    let numeric = if terms.iter().any(|t| t.powers.is_empty()) {
        Rational::one()
    } else {
        numeric_content(terms.iter().copied())
    };
    let mut common = Term { coeff: numeric, powers: BTreeMap::new() };
    for axis in &rules.factor_axes {
        let k = terms.iter().map(|t| t.power(axis)).min().unwrap_or(0);
        if k > 0 {
            common.powers.insert(axis.clone(), k);
        }
    }
    // A denominator shared by every term goes outside too: S(…)/(RU), not a sum of fractions.
    let mut symbols: Vec<&String> = terms.iter().flat_map(|t| t.powers.keys()).collect();
    symbols.sort();
    symbols.dedup();
    for s in symbols {
        let k = terms.iter().map(|t| t.power(s)).max().unwrap_or(0);
        if k < 0 {
            common.powers.insert(s.clone(), k);
        }
    }
    let reduced: Vec<(Term, usize)> = ranked
        .iter()
        .map(|(t, rank)| {
            let mut r = t.clone();
            r.coeff = &t.coeff / &common.coeff;
            for (s, k) in &common.powers {
                r = r.without(s, *k);
            }
            (r, *rank)
        })
        .collect();
    let inner = collected(&reduced, rules, 0);
    if common.coeff.is_one() && common.powers.is_empty() {
        inner
    } else {
        let mut factors = monomial_factors(&common, rules);
        match inner {
            // A single collected group joins the common factor: 2BT·L(…) reads 2BTL(…).
            Expr::Mul(group) => factors.extend(group),
            other => factors.push(other),
        }
        Expr::Mul(factors)
    }
}

/// Groups terms by their power of the first layer-count symbol (`rules.collect`) each holds, then
/// lays out each group's inside. At the outermost level of a sum over layers items keep the given
/// order (rank); elsewhere highest degree first.
fn collected(terms: &[(Term, usize)], rules: &LayoutRules, level: usize) -> Expr {
    // Model order applies to a whole model's sum (one with a collected layer group); a single
    // block or a group's inside reads highest degree first.
    let layer_of = |t: &Term| rules.collect.iter().find(|c| t.power(c) != 0);
    let spans_layers = terms.iter().any(|(t, _)| layer_of(t).is_some());
    let order = |a: &(Term, usize), b: &(Term, usize)| {
        if level == 0 && spans_layers {
            a.1.cmp(&b.1).then_with(|| rules.compare(&a.0, &b.0))
        } else {
            rules.compare(&a.0, &b.0)
        }
    };
    if level > 0 || !spans_layers {
        let mut sorted = terms.to_vec();
        sorted.sort_by(order);
        return Expr::sum(sorted.iter().map(|(t, _)| monomial(t, rules)).collect());
    }
    let mut groups: BTreeMap<(usize, i32), Vec<(Term, usize)>> = BTreeMap::new();
    for (t, rank) in terms {
        let key = match layer_of(t) {
            Some(symbol) => (rules.collect.iter().position(|c| c == symbol).unwrap_or(0), t.power(symbol)),
            None => (0, 0),
        };
        groups.entry(key).or_default().push((t.clone(), *rank));
    }
    // Each item keeps its leading term (and the earliest rank of its members) as the sort key.
    let mut items: Vec<((Term, usize), Expr)> = Vec::new();
    for ((index, k), group) in groups {
        let symbol = &rules.collect[index];
        if k == 0 || group.len() == 1 {
            for (t, rank) in group {
                let e = monomial(&t, rules);
                items.push(((t, rank), e));
            }
            continue;
        }
        let inner: Vec<(Term, usize)> = group.iter().map(|(t, r)| (t.without(symbol, k), *r)).collect();
        let lead = group
            .iter()
            .map(|(t, _)| t)
            .min_by(|a, b| rules.compare(a, b))
            .cloned()
            .unwrap_or_else(|| group[0].0.clone());
        let rank = group.iter().map(|(_, r)| *r).min().unwrap_or(usize::MAX);
        let head = Expr::sym(symbol).pow(k);
        items.push(((lead, rank), Expr::Mul(vec![head, collected(&inner, rules, level + 1)])));
    }
    items.sort_by(|a, b| order(&a.0, &b.0));
    Expr::sum(items.into_iter().map(|(_, e)| e).collect())
}

fn monomial(t: &Term, rules: &LayoutRules) -> Expr {
    let factors = monomial_factors(t, rules);
    Expr::product(factors)
}

fn monomial_factors(t: &Term, rules: &LayoutRules) -> Vec<Expr> {
    let mut factors = Vec::new();
    if !t.coeff.is_one() || t.powers.is_empty() {
        factors.push(Expr::Num(t.coeff.clone()));
    }
    let ordered = rules.ordered_symbols(t);
    for (s, k) in ordered.iter().filter(|(_, k)| *k > 0) {
        factors.push(Expr::sym(s).pow(*k));
    }
    for (s, k) in ordered.iter().filter(|(_, k)| *k < 0) {
        factors.push(Expr::Pow(Box::new(Expr::sym(s)), *k));
    }
    factors
}

/// gcd of the numerators over lcm of the denominators, positive.
fn numeric_content<'t>(terms: impl Iterator<Item = &'t Term>) -> Rational {
    let mut numer = BigInt::zero();
    let mut denom = BigInt::one();
    for t in terms {
        numer = numer.gcd(t.coeff.numer());
        denom = denom.lcm(t.coeff.denom());
    }
    if numer.is_zero() {
        return Rational::one();
    }
    // A sum whose terms are all negative keeps its signs inside.
    Rational::new(numer.abs(), denom)
}

//! Printing an [`Expr`] exactly as it is laid out, in three notations: ASCII that Python and
//! symbolic tools read back (`2*V*H + L*(16*H^2 + 2*H)`), Unicode for terminals (`2VH + L(16H² + 2H)`)
//! and LaTeX. Nested groups alternate ( ), [ ], { } the way textbooks write them.

use super::expr::{Expr, Rational};
use num_traits::{One, Signed};
use std::borrow::Cow;

/// Which notation to print in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notation {
    /// `*` and `^`, parentheses only; parseable by tally, Python and sympy.
    Ascii,
    /// Juxtaposition and superscripts: `16H²`.
    Unicode,
    /// LaTeX math mode.
    Latex,
}

/// Prints an expression in the given notation.
pub fn print(e: &Expr, notation: Notation) -> String {
    Printer { notation }.expr(e).text
}

struct Printed {
    text: String,
    /// How many levels of brackets the text already contains.
    depth: usize,
}

struct Printer {
    notation: Notation,
}

const SUPERSCRIPT_DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];

/// Greek letters a formula may spell out, with the letter they stand for.
const GREEK: [(&str, char); 8] = [
    ("alpha", 'α'),
    ("beta", 'β'),
    ("gamma", 'γ'),
    ("delta", 'δ'),
    ("lambda", 'λ'),
    ("mu", 'μ'),
    ("sigma", 'σ'),
    ("tau", 'τ'),
];

impl Printer {
    fn expr(&self, e: &Expr) -> Printed {
        match e {
            Expr::Num(n) => self.number(n),
            Expr::Sym(s) => flat(self.symbol(s)),
            Expr::Add(terms) => self.sum(terms),
            Expr::Mul(factors) => self.product(factors),
            Expr::Pow(_, _) => self.product(std::slice::from_ref(e)),
            Expr::Floor(inner) => {
                let p = self.expr(inner);
                let text = match self.notation {
                    Notation::Ascii => format!("floor({})", p.text),
                    Notation::Unicode => format!("⌊{}⌋", p.text),
                    Notation::Latex => format!("\\left\\lfloor {} \\right\\rfloor", p.text),
                };
                Printed { text, depth: p.depth }
            }
            Expr::Ceil(inner) => {
                let p = self.expr(inner);
                let text = match self.notation {
                    Notation::Ascii => format!("ceil({})", p.text),
                    Notation::Unicode => format!("⌈{}⌉", p.text),
                    Notation::Latex => format!("\\left\\lceil {} \\right\\rceil", p.text),
                };
                Printed { text, depth: p.depth }
            }
        }
    }

    fn number(&self, n: &Rational) -> Printed {
        if n.is_integer() {
            return flat(n.numer().to_string());
        }
        match self.notation {
            Notation::Latex => {
                let sign = if n.is_negative() { "-" } else { "" };
                flat(format!("{sign}\\frac{{{}}}{{{}}}", n.numer().abs(), n.denom()))
            }
            _ => flat(format!("{}/{}", n.numer(), n.denom())),
        }
    }

    fn symbol(&self, s: &str) -> String {
        let (head, tail) = s.split_once('_').map_or((s, None), |(h, t)| (h, Some(t)));
        // Greek letters spelled out (`beta`, `alpha_d`) are set as letters.
        let greek = GREEK.iter().find(|(name, _)| *name == head).map(|(_, letter)| *letter);
        match self.notation {
            Notation::Latex => match (greek, tail) {
                (Some(_), Some(tail)) if !tail.is_empty() => {
                    format!("\\{head}_{{\\text{{{}}}}}", tail.replace('_', "\\_"))
                }
                (Some(_), None) => format!("\\{head}"),
                // `C_step` reads as C with a text subscript; other long names are set upright-italic.
                (_, Some(tail)) if head.chars().count() == 1 && !tail.is_empty() => {
                    format!("{head}_{{\\text{{{}}}}}", tail.replace('_', "\\_"))
                }
                _ if s.chars().count() > 1 => format!("\\mathit{{{}}}", s.replace('_', "\\_")),
                _ => s.to_string(),
            },
            Notation::Unicode => match (greek, tail) {
                (Some(letter), Some(tail)) => format!("{letter}_{tail}"),
                (Some(letter), None) => letter.to_string(),
                _ => s.to_string(),
            },
            Notation::Ascii => s.to_string(),
        }
    }

    fn sum(&self, terms: &[Expr]) -> Printed {
        let mut text = String::new();
        let mut depth = 0;
        for (i, term) in terms.iter().enumerate() {
            let negative = term.is_negative_term();
            // Only a negative term is rebuilt (as its negation); the others print as they are.
            let p = if negative { self.expr(&-term.clone()) } else { self.expr(term) };
            depth = depth.max(p.depth);
            let minus = if self.notation == Notation::Unicode { "−" } else { "-" };
            match (i, negative) {
                (0, false) => {}
                (0, true) => text.push_str(minus),
                (_, false) => text.push_str(" + "),
                (_, true) => {
                    text.push(' ');
                    text.push_str(minus);
                    text.push(' ');
                }
            }
            text.push_str(&p.text);
        }
        Printed { text, depth }
    }

    /// A product split into numerator and denominator; negative powers and the coefficient's
    /// denominator go below the line.
    fn product(&self, factors: &[Expr]) -> Printed {
        let mut coeff = Rational::one();
        let mut upper: Vec<Cow<Expr>> = Vec::new();
        let mut lower: Vec<Cow<Expr>> = Vec::new();
        for f in factors {
            match f {
                Expr::Num(n) => coeff *= n,
                Expr::Pow(base, k) if *k < 0 => lower.push(Cow::Owned((**base).clone().pow(-k))),
                other => upper.push(Cow::Borrowed(other)),
            }
        }
        let mut prefix = String::new();
        if coeff.is_negative() {
            prefix.push(if self.notation == Notation::Unicode { '−' } else { '-' });
            coeff = -coeff;
        }
        let numer = Rational::from_integer(coeff.numer().clone());
        let denom = Rational::from_integer(coeff.denom().clone());
        if !numer.is_one() || upper.is_empty() {
            upper.insert(0, Cow::Owned(Expr::Num(numer)));
        }
        if !denom.is_one() {
            lower.insert(0, Cow::Owned(Expr::Num(denom)));
        }
        // A fraction bar groups by itself: \frac{a + b}{c} needs no brackets around a + b.
        let bare = |v: &[Cow<Expr>]| self.notation == Notation::Latex && !lower.is_empty() && v.len() == 1;
        let top = if bare(&upper) { self.expr(&upper[0]) } else { self.juxtapose(&upper) };
        if lower.is_empty() {
            return Printed { text: format!("{prefix}{}", top.text), depth: top.depth };
        }
        let bottom = if bare(&lower) { self.expr(&lower[0]) } else { self.juxtapose(&lower) };
        let depth = top.depth.max(bottom.depth);
        let text = match self.notation {
            Notation::Latex => format!("{prefix}\\frac{{{}}}{{{}}}", top.text, bottom.text),
            _ => {
                let bottom_text = if lower.len() > 1 { self.bracket(&bottom).text } else { bottom.text };
                format!("{prefix}{}/{}", top.text, bottom_text)
            }
        };
        Printed { text, depth }
    }

    /// Factors written next to each other: `*` in ASCII, juxtaposition when unambiguous otherwise.
    fn juxtapose(&self, factors: &[Cow<Expr>]) -> Printed {
        let separator = match self.notation {
            Notation::Ascii => "*",
            _ if factors.iter().any(|f| matches!(f.as_ref(), Expr::Sym(s) if s.chars().count() > 1)) => {
                if self.notation == Notation::Latex { " \\cdot " } else { "·" }
            }
            _ => "",
        };
        let mut text = String::new();
        let mut depth = 0;
        let mut previous_was_number = false;
        for (i, f) in factors.iter().enumerate() {
            let p = self.factor(f);
            depth = depth.max(p.depth);
            let is_number = matches!(f.as_ref(), Expr::Num(_));
            if i > 0 {
                if separator.is_empty() && (previous_was_number && is_number) {
                    text.push_str(if self.notation == Notation::Latex { " \\cdot " } else { "·" });
                } else {
                    text.push_str(separator);
                }
            }
            previous_was_number = is_number;
            text.push_str(&p.text);
        }
        Printed { text, depth }
    }

    fn factor(&self, f: &Expr) -> Printed {
        match f {
            Expr::Add(_) => self.bracket(&self.expr(f)),
            Expr::Mul(_) => self.bracket(&self.expr(f)),
            Expr::Pow(base, k) => {
                let b = match **base {
                    Expr::Sym(_) => self.expr(base),
                    Expr::Num(ref n) if n.is_integer() && !n.is_negative() => self.expr(base),
                    _ => self.bracket(&self.expr(base)),
                };
                let exponent = match self.notation {
                    Notation::Ascii => format!("^{k}"),
                    Notation::Latex => format!("^{{{k}}}"),
                    Notation::Unicode => superscript(*k),
                };
                Printed { text: format!("{}{exponent}", b.text), depth: b.depth }
            }
            _ => self.expr(f),
        }
    }

    fn bracket(&self, inner: &Printed) -> Printed {
        let depth = inner.depth + 1;
        let (open, close) = match (self.notation, depth) {
            (Notation::Ascii, _) | (_, 1) => ("(", ")"),
            (_, 2) => ("[", "]"),
            (Notation::Latex, _) => ("\\{", "\\}"),
            _ => ("{", "}"),
        };
        let text = match self.notation {
            Notation::Latex => format!("\\left{open}{}\\right{close}", inner.text),
            _ => format!("{open}{}{close}", inner.text),
        };
        Printed { text, depth }
    }
}

fn flat(text: String) -> Printed {
    Printed { text, depth: 0 }
}

/// `-12` as `⁻¹²`.
pub fn superscript(k: i32) -> String {
    let mut s = String::new();
    if k < 0 {
        s.push('⁻');
    }
    for d in k.unsigned_abs().to_string().chars() {
        let digit = d.to_digit(10).unwrap_or(0) as usize;
        s.push(SUPERSCRIPT_DIGITS[digit]);
    }
    s
}

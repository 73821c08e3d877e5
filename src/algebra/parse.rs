//! Reading formulas written the way people write them: `2*V*H`, `L(16H^2 + 2H)`, `H**2`, `16H²`,
//! `[...]`, `×`/`·`. Names are handed to a resolver supplied by the caller (the symbol table, the
//! named quantities), so the reader itself knows no vocabulary. Every error carries a byte span.

use super::expr::{Expr, Rational};
use super::limits::{self, MAX_DEGREE};
use num_bigint::BigInt;
use std::ops::Range;

/// A formula that could not be read, with the byte range of the culprit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong, as a sentence fragment ("unexpected `)`").
    pub message: String,
    /// Byte range in the input.
    pub span: Range<usize>,
}

/// Maps a name found in a formula to an expression, or explains why it cannot.
pub type Resolver<'a> = dyn Fn(&str) -> Result<Expr, String> + 'a;

/// Which notations beyond plain formulas the reader accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Syntax {
    /// Names with dots (`memory.params`), for named quantities.
    pub dotted_names: bool,
    /// Thousands separators in numbers (`1,024`, `50,257`): a comma followed by exactly three digits.
    pub digit_groups: bool,
    /// Magnitude suffixes on numbers written with a decimal point or as k/M/G: `2.1B` (billion),
    /// `1.5M`, `19.5T`, `4k`. Without a decimal point `2B` stays 2·B.
    pub magnitude_suffixes: bool,
    /// `B` and `T` right after a whole number are magnitudes too (`8B` = 8·10⁹): for stated counts,
    /// where `8B` cannot mean 8 times the batch size.
    pub bare_magnitudes: bool,
}

impl Syntax {
    /// Everything people write in notebooks and homework.
    pub fn people() -> Syntax {
        Syntax { dotted_names: true, digit_groups: true, magnitude_suffixes: true, bare_magnitudes: false }
    }
}

/// Parses `input`, resolving every identifier with `resolve`.
pub fn parse(input: &str, resolve: &Resolver) -> Result<Expr, ParseError> {
    parse_with(input, resolve, Syntax::default())
}

/// Parses `input` with the given notations enabled.
pub fn parse_with(input: &str, resolve: &Resolver, syntax: Syntax) -> Result<Expr, ParseError> {
    let tokens = tokenize(input, syntax)?;
    let mut p = Parser { tokens, pos: 0, resolve, end: input.len(), depth: 0 };
    let e = p.sum()?;
    match p.peek() {
        None => Ok(e),
        Some(t) => Err(ParseError { message: format!("unexpected `{}`", t.text(input)), span: t.span.clone() }),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Number(Rational),
    Ident(String),
    Plus,
    Minus,
    Times,
    Divide,
    FloorDivide,
    Power,
    Superscript(i32),
    Open(char),
    Close(char),
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    span: Range<usize>,
}

impl Token {
    fn text<'s>(&self, input: &'s str) -> &'s str {
        &input[self.span.clone()]
    }
}

fn superscript_digit(c: char) -> Option<u32> {
    "⁰¹²³⁴⁵⁶⁷⁸⁹".chars().position(|d| d == c).map(|p| p as u32)
}

/// The numbers written in `input`, with their byte spans (for pointing at a culprit factor).
pub fn number_literals(input: &str, syntax: Syntax) -> Vec<(std::ops::Range<usize>, Rational)> {
    tokenize(input, syntax)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| match t.kind {
            Kind::Number(n) => Some((t.span, n)),
            _ => None,
        })
        .collect()
}

fn tokenize(input: &str, syntax: Syntax) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        let single = |kind: Kind| Token { kind, span: start..start + c.len_utf8() };
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && input[start + 1..].starts_with(|d: char| d.is_ascii_digit())) {
            let mut end = start;
            let mut seen_exponent = false;
            while let Some(&(i, d)) = chars.peek() {
                let exponent_start = (d == 'e' || d == 'E')
                    && !seen_exponent
                    && input[i + 1..].starts_with(|x: char| x.is_ascii_digit() || x == '-' || x == '+');
                // Byte-wise on purpose: the three digits must be ASCII, so no char boundary is cut.
                let digits = input.as_bytes().get(i + 1..i + 4);
                let group = syntax.digit_groups
                    && d == ','
                    && digits.is_some_and(|ds| ds.iter().all(u8::is_ascii_digit))
                    && !input.as_bytes().get(i + 4).is_some_and(u8::is_ascii_digit);
                if d.is_ascii_digit() || d == '.' || d == '_' || group {
                    end = i + 1;
                    chars.next();
                } else if exponent_start {
                    seen_exponent = true;
                    chars.next();
                    if let Some(&(j, s)) = chars.peek()
                        && (s == '-' || s == '+')
                    {
                        chars.next();
                        end = j + 1;
                    }
                    end = end.max(i + 1);
                } else {
                    break;
                }
            }
            let text: String = input[start..end].chars().filter(|c| *c != ',').collect();
            let mut value = parse_decimal(&text)
                .ok_or_else(|| ParseError { message: format!("`{text}` is not a number"), span: start..end })?;
            if syntax.magnitude_suffixes
                && let Some((scale, width)) = magnitude(&input[end..], text.contains('.') || syntax.bare_magnitudes)
            {
                value *= Rational::from_integer(num_traits::pow(BigInt::from(10), scale));
                for _ in 0..width {
                    chars.next();
                }
                tokens.push(Token { kind: Kind::Number(value), span: start..end + width });
                continue;
            }
            tokens.push(Token { kind: Kind::Number(value), span: start..end });
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let mut end = start;
            while let Some(&(i, d)) = chars.peek() {
                // Inside a name a dot joins segments (`memory.total`, `flops.approx.6n`).
                let dotted =
                    syntax.dotted_names && d == '.' && input[i + 1..].starts_with(|x: char| x.is_alphanumeric());
                if d.is_alphanumeric() && superscript_digit(d).is_none() || d == '_' || dotted {
                    end = i + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(Token { kind: Kind::Ident(input[start..end].to_string()), span: start..end });
            continue;
        }
        if superscript_digit(c).is_some() || c == '⁻' {
            let mut end = start;
            let mut text = String::new();
            while let Some(&(i, d)) = chars.peek() {
                if let Some(v) = superscript_digit(d) {
                    text.push(char::from_digit(v, 10).unwrap_or('0'));
                } else if d == '⁻' && text.is_empty() {
                    text.push('-');
                } else {
                    break;
                }
                end = i + d.len_utf8();
                chars.next();
            }
            let k = text
                .parse::<i32>()
                .ok()
                .filter(|k| u64::from(k.unsigned_abs()) <= MAX_DEGREE)
                .ok_or_else(|| ParseError { message: exponent_message(), span: start..end })?;
            tokens.push(Token { kind: Kind::Superscript(k), span: start..end });
            continue;
        }
        let kind = match c {
            '+' => Kind::Plus,
            '-' | '−' => Kind::Minus,
            '*' if input[start + 1..].starts_with('*') => {
                chars.next();
                chars.next();
                tokens.push(Token { kind: Kind::Power, span: start..start + 2 });
                continue;
            }
            '*' | '×' | '·' | '⋅' => Kind::Times,
            // Python's floor division (d_model // num_heads): the quotient rounded down.
            '/' if input[start + 1..].starts_with('/') => {
                chars.next();
                chars.next();
                tokens.push(Token { kind: Kind::FloorDivide, span: start..start + 2 });
                continue;
            }
            '/' | '÷' => Kind::Divide,
            '^' => Kind::Power,
            '(' | '[' | '{' | '⌊' | '⌈' => Kind::Open(c),
            ')' | ']' | '}' | '⌋' | '⌉' => Kind::Close(c),
            _ => {
                return Err(ParseError {
                    message: format!("unexpected character `{c}`"),
                    span: start..start + c.len_utf8(),
                });
            }
        };
        tokens.push(single(kind));
        chars.next();
    }
    Ok(tokens)
}

/// A magnitude suffix right after a number (`k`, `K`, `M`, `G`; `B` and `T` only after a decimal
/// point, where `2.1B` cannot mean 2.1·B): its power of ten and byte width. A suffix must not run
/// into a longer name (`2.1Bytes` is not 2.1 billion).
fn magnitude(rest: &str, has_point: bool) -> Option<(usize, usize)> {
    let mut chars = rest.chars();
    let c = chars.next()?;
    if chars.next().is_some_and(|n| n.is_alphanumeric() || n == '_') {
        return None;
    }
    let scale = match c {
        'k' | 'K' => 3,
        'M' => 6,
        'G' => 9,
        'B' if has_point => 9,
        'T' if has_point => 12,
        _ => return None,
    };
    Some((scale, 1))
}

/// Reads `19.5`, `1e9`, `2.5e-3`, `1_024` as an exact rational.
pub fn parse_decimal(text: &str) -> Option<Rational> {
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    let (mantissa, exponent) = match cleaned.find(['e', 'E']) {
        Some(i) => (&cleaned[..i], cleaned[i + 1..].parse::<i32>().ok()?),
        None => (cleaned.as_str(), 0),
    };
    let (whole, frac) = match mantissa.split_once('.') {
        Some((w, f)) => (w, f),
        None => (mantissa, ""),
    };
    if whole.is_empty() && frac.is_empty() || frac.contains('.') {
        return None;
    }
    let digits = format!("{whole}{frac}");
    let n: BigInt = digits.parse().ok()?;
    let scale = exponent - frac.len() as i32;
    if scale.unsigned_abs() > 4000 {
        return None;
    }
    let ten = BigInt::from(10);
    let value = if scale >= 0 {
        Rational::from_integer(n * num_traits::pow(ten, scale as usize))
    } else {
        Rational::new(n, num_traits::pow(ten, (-scale) as usize))
    };
    Some(value)
}

struct Parser<'r, 'a> {
    tokens: Vec<Token>,
    pos: usize,
    resolve: &'r Resolver<'a>,
    end: usize,
    /// Brackets and signs open right now; bounded so no input can exhaust the stack.
    depth: usize,
}

/// Deeper nesting than any formula needs; past it the reader stops with an error.
const MAX_DEPTH: usize = 200;

impl Parser<'_, '_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn eof_error(&self, what: &str) -> ParseError {
        ParseError { message: format!("formula ends where {what} was expected"), span: self.end..self.end }
    }

    fn sum(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.product()?];
        while let Some(t) = self.peek() {
            match t.kind {
                Kind::Plus => {
                    self.next();
                    terms.push(self.product()?);
                }
                Kind::Minus => {
                    self.next();
                    terms.push(-self.product()?);
                }
                _ => break,
            }
        }
        Ok(Expr::sum(terms))
    }

    fn starts_factor(kind: &Kind) -> bool {
        matches!(kind, Kind::Number(_) | Kind::Ident(_) | Kind::Open(_))
    }

    fn product(&mut self) -> Result<Expr, ParseError> {
        let start = self.peek().map(|t| t.span.start).unwrap_or(self.end);
        let mut factors = vec![self.unary()?];
        while let Some(t) = self.peek() {
            match &t.kind {
                Kind::Times => {
                    self.next();
                    factors.push(self.unary()?);
                }
                Kind::Divide => {
                    let span = t.span.clone();
                    self.next();
                    let d = self.unary()?;
                    if d.is_zero() {
                        return Err(ParseError { message: "division by zero".into(), span });
                    }
                    factors.push(Expr::one().divide(d));
                }
                Kind::FloorDivide => {
                    let span = t.span.clone();
                    self.next();
                    let d = self.unary()?;
                    if d.is_zero() {
                        return Err(ParseError { message: "division by zero".into(), span });
                    }
                    // a // b binds like a / b, then rounds the quotient so far down.
                    let quotient = Expr::product(std::mem::take(&mut factors)).divide(d);
                    factors.push(Expr::Floor(Box::new(quotient)));
                }
                k if Self::starts_factor(k) => factors.push(self.power()?),
                _ => break,
            }
        }
        let product = Expr::product(factors);
        let end = self.tokens.get(self.pos.saturating_sub(1)).map(|t| t.span.end).unwrap_or(self.end);
        limits::check_numbers(&product).map_err(|e| ParseError { message: e.to_string(), span: start..end })?;
        Ok(product)
    }

    /// Enters one level of nesting at `span`, refusing to go deeper than [`MAX_DEPTH`].
    fn enter(&mut self, span: Range<usize>) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError { message: format!("the formula nests more than {MAX_DEPTH} levels deep"), span });
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        let span = self.peek().map(|t| t.span.clone()).unwrap_or(self.end..self.end);
        self.enter(span)?;
        let result = self.unary_inner();
        self.depth -= 1;
        result
    }

    fn unary_inner(&mut self) -> Result<Expr, ParseError> {
        match self.peek().map(|t| &t.kind) {
            Some(Kind::Minus) => {
                self.next();
                Ok(-self.unary()?)
            }
            Some(Kind::Plus) => {
                self.next();
                self.unary()
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<Expr, ParseError> {
        let base = self.atom()?;
        match self.peek().map(|t| (t.kind.clone(), t.span.clone())) {
            Some((Kind::Power, span)) => {
                self.next();
                let start = self.peek().map(|t| t.span.start).unwrap_or(span.end);
                let exponent = self.unary()?;
                let end = self.tokens.get(self.pos.saturating_sub(1)).map(|t| t.span.end).unwrap_or(start);
                bounded_power(base, integer_exponent(&exponent, start..end)?, start..end)
            }
            Some((Kind::Superscript(k), span)) => {
                self.next();
                bounded_power(base, k, span)
            }
            _ => Ok(base),
        }
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        let Some(t) = self.next() else {
            return Err(self.eof_error("a number, a name or `(`"));
        };
        match t.kind {
            Kind::Number(n) => Ok(Expr::Num(n)),
            // `floor(x)` and `ceil(x)`, as tally writes them in JSON (and `math.floor(x)`, as
            // Python does): a rounded quotient.
            Kind::Ident(name)
                if rounding(&name).is_some() && matches!(self.peek().map(|t| &t.kind), Some(Kind::Open('('))) =>
            {
                let inner = Box::new(self.atom()?);
                Ok(if rounding(&name) == Some(true) { Expr::Floor(inner) } else { Expr::Ceil(inner) })
            }
            Kind::Ident(name) => (self.resolve)(&name).map_err(|message| ParseError { message, span: t.span }),
            Kind::Open(open) => {
                self.enter(t.span.clone())?;
                let inner = self.sum();
                self.depth -= 1;
                let inner = inner?;
                let close = match open {
                    '(' => ')',
                    '[' => ']',
                    '⌊' => '⌋',
                    '⌈' => '⌉',
                    _ => '}',
                };
                match self.next() {
                    Some(Token { kind: Kind::Close(c), .. }) if c == close => Ok(match open {
                        '⌊' => Expr::Floor(Box::new(inner)),
                        '⌈' => Expr::Ceil(Box::new(inner)),
                        _ => inner,
                    }),
                    Some(other) => Err(ParseError {
                        message: format!("expected `{close}` to close the `{open}`"),
                        span: other.span,
                    }),
                    None => Err(ParseError { message: format!("`{open}` is never closed"), span: t.span }),
                }
            }
            _ => Err(ParseError { message: "expected a number, a name or `(`".into(), span: t.span }),
        }
    }
}

/// Whether a name is a rounding function: `Some(true)` for floor, `Some(false)` for ceiling.
fn rounding(name: &str) -> Option<bool> {
    match name.strip_prefix("math.").unwrap_or(name) {
        "floor" => Some(true),
        "ceil" | "ceiling" => Some(false),
        _ => None,
    }
}

fn exponent_message() -> String {
    format!("an exponent must be a whole number from -{MAX_DEGREE} to {MAX_DEGREE}")
}

fn integer_exponent(e: &Expr, span: Range<usize>) -> Result<i32, ParseError> {
    let err = || ParseError { message: exponent_message(), span: span.clone() };
    match e.as_number() {
        Some(n) if n.is_integer() => {
            let k: i64 = n.to_integer().try_into().map_err(|_| err())?;
            if k.unsigned_abs() > MAX_DEGREE {
                return Err(err());
            }
            Ok(k as i32)
        }
        _ => Err(err()),
    }
}

/// `base^k`, refused when a number in it would grow past the bound.
fn bounded_power(base: Expr, k: i32, span: Range<usize>) -> Result<Expr, ParseError> {
    limits::check_power_of(&base, k).map_err(|e| ParseError { message: e.to_string(), span: span.clone() })?;
    Ok(base.pow(k))
}

/// A resolver that accepts any name as a symbol of the same name.
pub fn any_symbol(name: &str) -> Result<Expr, String> {
    Ok(Expr::sym(name))
}

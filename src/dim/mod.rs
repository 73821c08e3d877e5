//! Units and dimensions carried by every quantity (param, element, byte, FLOP, token, second), their
//! products and quotients, and how an exact value is shown to a person: rounded only here, always
//! with its unit, and with GB (10⁹ bytes) and GiB (2³⁰ bytes) named explicitly.

use crate::algebra::Rational;
use crate::diagnostic::Source;
use crate::error::{Error, Result};
use num_traits::Signed;
use serde::Deserialize;
use std::collections::BTreeMap;

mod display;

pub(crate) use display::group_thousands;
pub use display::{bytes, decimal, display, exact, exact_fraction, exact_with_unit, percentages, plain};

/// A base dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Base {
    /// A trainable parameter.
    Param,
    /// A tensor element.
    Element,
    /// A byte.
    Byte,
    /// A floating-point operation.
    Flop,
    /// A token.
    Token,
    /// A second of wall time.
    Second,
    /// A sequence of T tokens (one element of a batch).
    Sequence,
}

impl Base {
    /// Every base dimension.
    pub const ALL: [Base; 7] =
        [Base::Param, Base::Element, Base::Byte, Base::Flop, Base::Token, Base::Second, Base::Sequence];

    /// The id data files use (`byte`, `flop`).
    pub fn id(self) -> &'static str {
        match self {
            Base::Param => "param",
            Base::Element => "element",
            Base::Byte => "byte",
            Base::Flop => "flop",
            Base::Token => "token",
            Base::Second => "second",
            Base::Sequence => "sequence",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Base::Param => "param",
            Base::Element => "element",
            Base::Byte => "byte",
            Base::Flop => "FLOP",
            Base::Token => "token",
            Base::Second => "s",
            Base::Sequence => "sequence",
        }
    }
}

/// A product of base dimensions with integer exponents; the empty product is dimensionless.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Unit(BTreeMap<Base, i32>);

impl Unit {
    /// A dimensionless number.
    pub fn none() -> Unit {
        Unit::default()
    }

    /// A single base dimension.
    pub fn of(base: Base) -> Unit {
        Unit(BTreeMap::from([(base, 1)]))
    }

    /// Parameters.
    pub fn param() -> Unit {
        Unit::of(Base::Param)
    }

    /// Bytes.
    pub fn byte() -> Unit {
        Unit::of(Base::Byte)
    }

    /// FLOPs.
    pub fn flop() -> Unit {
        Unit::of(Base::Flop)
    }

    /// Elements.
    pub fn element() -> Unit {
        Unit::of(Base::Element)
    }

    /// Product of two units.
    pub fn times(&self, other: &Unit) -> Unit {
        let mut out = self.0.clone();
        for (b, k) in &other.0 {
            *out.entry(*b).or_insert(0) += k;
        }
        out.retain(|_, k| *k != 0);
        Unit(out)
    }

    /// Quotient of two units.
    pub fn per(&self, other: &Unit) -> Unit {
        let inverse = Unit(other.0.iter().map(|(b, k)| (*b, -k)).collect());
        self.times(&inverse)
    }

    /// True if this unit is exactly one base dimension.
    pub fn is(&self, base: Base) -> bool {
        self.0.len() == 1 && self.0.get(&base) == Some(&1)
    }

    /// The unit written out: `byte`, `FLOP/s`, `byte/param`.
    pub fn name(&self) -> String {
        let part = |positive: bool| -> Vec<String> {
            self.0
                .iter()
                .filter(|(_, k)| (**k > 0) == positive)
                .map(|(b, k)| match k.abs() {
                    1 => b.name().to_string(),
                    n => format!("{}{}", b.name(), crate::algebra::superscript(n)),
                })
                .collect()
        };
        let (upper, lower) = (part(true), part(false));
        let upper = if upper.is_empty() { "1".to_string() } else { upper.join("·") };
        match lower.len() {
            0 if self.0.is_empty() => String::new(),
            0 => upper,
            _ => format!("{upper}/{}", lower.join("·")),
        }
    }
}

/// A number format tensors are stored in (`derivations/precisions.toml`): bytes per element;
/// its name picks the hardware peak.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Precision {
    /// Name as used on the command line and in hardware data (`bf16`).
    pub name: String,
    /// Bytes per stored element.
    pub bytes: i64,
    /// What it is.
    pub summary: String,
}

impl Precision {
    /// One line for listings: bytes per element and what it is.
    pub fn describe(&self) -> String {
        let unit = if self.bytes == 1 { "byte" } else { "bytes" };
        format!("{} {unit} per element: {}", self.bytes, self.summary)
    }

    /// Reads a precisions file.
    pub fn read(source: &Source) -> Result<Vec<Precision>> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            precision: Vec<toml::Spanned<Precision>>,
        }
        let file: File = crate::loader::read_toml(source)?;
        file.precision
            .into_iter()
            .map(|p| {
                let span = p.span();
                let mut p = p.into_inner();
                p.name = p.name.to_lowercase();
                if p.bytes <= 0 {
                    return Err(Error::at(source, span, "a precision needs a positive number of bytes per element"));
                }
                Ok(p)
            })
            .collect()
    }
}

/// A unit word: the base dimension it stands for and its exact factor.
#[derive(Clone, Debug)]
pub struct UnitWord {
    /// The word (`GiB`).
    pub word: String,
    /// Its base dimension.
    pub base: Base,
    /// How many of the base it is.
    pub factor: Rational,
    /// Whether claims may use it (`B` may not: it is the batch size there).
    pub claims: bool,
}

/// Every unit word (`derivations/units.toml`).
#[derive(Clone, Debug, Default)]
pub struct Units {
    words: Vec<UnitWord>,
}

impl Units {
    /// The built-in unit words.
    pub fn builtin() -> &'static Units {
        static BUILT: std::sync::OnceLock<Units> = std::sync::OnceLock::new();
        BUILT.get_or_init(|| crate::loader::read_builtin("derivations/units.toml", Units::read))
    }

    /// Reads the units file.
    pub fn read(source: &Source) -> Result<Units> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Entry {
            words: Vec<String>,
            base: toml::Spanned<String>,
            factor: toml::Spanned<String>,
            #[serde(default = "yes")]
            claims: bool,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            unit: Vec<Entry>,
        }
        fn yes() -> bool {
            true
        }
        let file: File = crate::loader::read_toml(source)?;
        let mut words = Vec::new();
        for e in file.unit {
            let base = Base::ALL.into_iter().find(|b| b.id() == e.base.get_ref()).ok_or_else(|| {
                Error::at(source, e.base.span(), format!("unknown base dimension `{}`", e.base.get_ref()))
            })?;
            let factor = crate::algebra::parse(e.factor.get_ref(), &|n| Err(format!("`{n}`: a factor is a number")))
                .ok()
                .and_then(|f| crate::algebra::evaluate(&f, &Default::default()).ok())
                .ok_or_else(|| Error::at(source, e.factor.span(), "a factor is an exact number (`1e9`, `1/8`)"))?;
            for word in e.words {
                words.push(UnitWord { word, base, factor: factor.clone(), claims: e.claims });
            }
        }
        Ok(Units { words })
    }

    /// The unit a word stands for; `claims` leaves out words claims may not use.
    pub fn find(&self, word: &str, claims: bool) -> Option<&UnitWord> {
        self.words.iter().find(|w| w.word == word && (w.claims || !claims))
    }

    /// Reads a memory size: `80GB` (10⁹ bytes), `80GiB` (2³⁰ bytes), `512MB`, `1.5TB`, `8e10B`.
    /// A unit is required: a bare `80` is far more likely to mean 80 GB than 80 bytes.
    pub fn parse_bytes(&self, text: &str) -> std::result::Result<Rational, String> {
        let t = text.trim();
        let split = t.find(|c: char| c.is_alphabetic() && c != 'e' && c != 'E').unwrap_or(t.len());
        let (number, unit) = (t[..split].trim(), t[split..].trim());
        let value = crate::algebra::parse_decimal(number.trim_start_matches('+'))
            .or_else(|| crate::algebra::parse_decimal(number.trim_start_matches('-')).map(|v| -v))
            .ok_or_else(|| format!("`{text}` is not a memory size (write e.g. 80GB or 80GiB)"))?;
        if unit.is_empty() {
            return Err(format!(
                "`{text}` has no unit: write {number}GB (10⁹ bytes), {number}GiB (2³⁰ bytes) or {number}B (bytes), as one word"
            ));
        }
        let word = self.find(unit, false).filter(|w| w.base == Base::Byte).ok_or_else(|| {
            let known: Vec<&str> =
                self.words.iter().filter(|w| w.base == Base::Byte).map(|w| w.word.as_str()).collect();
            format!("unknown memory unit `{unit}` in `{text}`; use {}", known.join(", "))
        })?;
        let bytes = value * &word.factor;
        if !bytes.is_positive() {
            return Err(format!("a memory size must be positive, not `{text}`"));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::display::*;
    use super::*;
    use num_bigint::BigInt;

    fn r(n: i64) -> Rational {
        Rational::from_integer(BigInt::from(n))
    }

    #[test]
    fn machine_integer_rounding_agrees_with_big_numbers() {
        let denominators = [1i64, 2, 3, 7, 8, 10, 1000, 1024, 999_999_937];
        for numerator in (-2_500i64..2_500).step_by(7).chain([i64::MAX, i64::MIN + 1, 5, -5, 15, -15, 25, -25]) {
            for d in denominators {
                let value = Rational::new(BigInt::from(numerator), BigInt::from(d));
                for places in 0..5 {
                    assert_eq!(decimal(&value, places), decimal_big(&value, places), "{value} to {places}");
                }
            }
        }
    }

    #[test]
    fn byte_display_names_both_decimal_and_binary_units() {
        assert_eq!(display(&r(8_508_230_400), &Unit::byte()), "8.51 GB (7.92 GiB)");
    }

    #[test]
    fn parameter_display_uses_short_scale_suffixes() {
        assert_eq!(display(&r(2_127_057_600), &Unit::param()), "2.13B params");
        assert_eq!(display(&r(124_439_808), &Unit::param()), "124M params");
    }

    #[test]
    fn flop_display_uses_si_prefixes() {
        assert_eq!(display(&r(4_513_336_524_800), &Unit::flop()), "4.51 TFLOP");
    }

    #[test]
    fn exact_groups_thousands() {
        assert_eq!(exact(&r(4_513_336_524_800)), "4,513,336,524,800");
        assert_eq!(exact(&r(-1234)), "-1,234");
    }

    #[test]
    fn equal_parts_show_equal_shares() {
        assert_eq!(percentages(&[r(1), r(1), r(1)]), vec!["33.33%", "33.33%", "33.33%"]);
        assert_eq!(percentages(&[r(1), r(3)]), vec!["25.00%", "75.00%"]);
    }

    fn parse_bytes(text: &str) -> std::result::Result<Rational, String> {
        Units::builtin().parse_bytes(text)
    }

    #[test]
    fn memory_sizes_name_decimal_and_binary_units_apart() {
        assert_eq!(parse_bytes("80GB").unwrap(), r(80_000_000_000));
        assert_eq!(parse_bytes("80 GiB").unwrap(), r(85_899_345_920));
        assert_eq!(parse_bytes("8e10B").unwrap(), r(80_000_000_000));
        assert!(parse_bytes("80").unwrap_err().contains("no unit"));
        assert!(parse_bytes("-5GB").unwrap_err().contains("positive"));
        assert!(parse_bytes("0GB").is_err());
        assert!(parse_bytes("80 parsecs").unwrap_err().contains("unknown memory unit"));
        assert!(parse_bytes("GB").is_err());
    }

    #[test]
    fn units_multiply_and_divide() {
        let per_param = Unit::byte().per(&Unit::param());
        assert_eq!(per_param.name(), "byte/param");
        assert_eq!(per_param.times(&Unit::param()), Unit::byte());
        assert_eq!(Unit::byte().times(&Unit::byte()).name(), "byte²");
    }
}

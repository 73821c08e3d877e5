//! How an exact value is shown to a person: rounded only here, once, always with its unit, with
//! thousands grouped and GB (10⁹ bytes) and GiB (2³⁰ bytes) named explicitly.

use super::{Base, Unit};
use crate::algebra::Rational;
use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, Zero};

/// An exact value as plain text, for machines and factors: `2127057600`, or `p/q` for a fraction.
pub fn plain(value: &Rational) -> String {
    if value.is_integer() { value.numer().to_string() } else { format!("{}/{}", value.numer(), value.denom()) }
}

/// Exact integer with thousands separators; a terminating decimal exactly (`0.5`); any other
/// fraction to 4 decimals, marked `≈`.
pub fn exact(value: &Rational) -> String {
    if value.is_integer() {
        return group_thousands(&value.numer().to_string());
    }
    let mut d = value.denom().clone();
    let mut places = 0;
    for p in [2u32, 5] {
        while (&d % p).is_zero() {
            d /= p;
            places += 1;
        }
    }
    if d.is_one() && places <= 12 {
        return decimal(value, places).trim_end_matches('0').to_string();
    }
    format!("≈ {}", decimal(value, 4))
}

/// The exact value with nothing rounded: grouped digits, a terminating decimal, or `p/q`.
pub fn exact_fraction(value: &Rational) -> String {
    let shown = exact(value);
    if shown.starts_with('≈') { format!("{}/{}", value.numer(), value.denom()) } else { shown }
}

/// The exact value followed by its unit name, plural where English wants it:
/// `2,127,057,600 params`, `8,508,230,400 bytes`, `1 FLOP`.
pub fn exact_with_unit(value: &Rational, unit: &Unit) -> String {
    let name = unit.name();
    if name.is_empty() {
        return exact(value);
    }
    let singular = value.is_integer() && value.numer() == &BigInt::one();
    let plural_ok =
        !name.contains('/') && !name.contains('·') && name != "s" && !name.ends_with(|c: char| !c.is_alphabetic());
    let shown = if plural_ok && !singular { format!("{name}s") } else { name };
    format!("{} {shown}", exact(value))
}

/// `value` rounded half away from zero to `places` decimals, integer part grouped by thousands.
pub fn decimal(value: &Rational, places: usize) -> String {
    if let Some(shown) = small_parts(value).and_then(|(n, d)| {
        let digits = unsigned_decimal(n.unsigned_abs(), d, places)?;
        let zero = digits.bytes().all(|b| matches!(b, b'0' | b'.' | b','));
        Some(if n < 0 && !zero { format!("-{digits}") } else { digits })
    }) {
        return shown;
    }
    decimal_big(value, places)
}

/// [`decimal`] in big numbers, for values whose parts do not fit machine integers.
pub(super) fn decimal_big(value: &Rational, places: usize) -> String {
    let scale = num_traits::pow(BigInt::from(10), places);
    let scaled = value * Rational::from_integer(scale.clone());
    let half = Rational::new(BigInt::one(), BigInt::from(2));
    let rounded = if scaled.is_negative() { -((-scaled) + half).floor() } else { (scaled + half).floor() };
    let n = rounded.to_integer();
    let sign = if n.is_negative() { "-" } else { "" };
    let (whole, frac) = n.abs().div_rem(&scale);
    let whole = group_thousands(&whole.to_string());
    if places == 0 { format!("{sign}{whole}") } else { format!("{sign}{whole}.{:0>places$}", frac.to_string()) }
}

/// Numerator and denominator as machine integers, when they fit (nearly every displayed value):
/// rounding and scaling then need no big-number division.
pub(super) fn small_parts(value: &Rational) -> Option<(i128, u128)> {
    use num_traits::ToPrimitive;
    Some((value.numer().to_i128()?, value.denom().to_u128()?))
}

/// `n/d` rounded half up to `places` decimals and grouped, in machine integers; `None` if an
/// intermediate would overflow (the caller then uses big numbers).
pub(super) fn unsigned_decimal(n: u128, d: u128, places: usize) -> Option<String> {
    let scale = 10u128.checked_pow(u32::try_from(places).ok()?)?;
    let rounded = n.checked_mul(scale)?.checked_mul(2)?.checked_add(d)? / d.checked_mul(2)?;
    let whole = group_thousands(&(rounded / scale).to_string());
    Some(if places == 0 { whole } else { format!("{whole}.{:0>places$}", rounded % scale) })
}

/// `15517753344` as `15,517,753,344` (a leading minus sign kept in front).
pub(crate) fn group_thousands(digits: &str) -> String {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", digits),
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// Three significant figures with a decimal prefix: (`2.13`, 9) for 2,127,057,600.
pub(super) fn scaled(value: &Rational) -> (String, u32) {
    let (mantissa, steps) = scaled_by(value, 1000);
    (mantissa, steps * 3)
}

/// Three significant figures after dividing by `base` as often as it goes (at most six times);
/// returns the mantissa and how many times it divided.
pub(super) fn scaled_by(value: &Rational, base: u32) -> (String, u32) {
    if let Some(shown) = small_parts(value).and_then(|(n, d)| {
        let (n, base) = (n.unsigned_abs(), u128::from(base));
        let (mut divisor, mut power) = (d, 0);
        while power < 6 && n >= divisor.checked_mul(base)? {
            divisor *= base;
            power += 1;
        }
        let places = if n >= divisor.checked_mul(100)? {
            0
        } else if n >= divisor.checked_mul(10)? {
            1
        } else {
            2
        };
        let sign = if value.is_negative() { "-" } else { "" };
        Some((format!("{sign}{}", unsigned_decimal(n, divisor, places)?), power))
    }) {
        return shown;
    }
    let step = Rational::from_integer(BigInt::from(base));
    let mut v = value.abs();
    let mut power = 0;
    while v >= step && power < 6 {
        v /= step.clone();
        power += 1;
    }
    let places = if v >= Rational::from_integer(BigInt::from(100)) {
        0
    } else if v >= Rational::from_integer(BigInt::from(10)) {
        1
    } else {
        2
    };
    let sign = if value.is_negative() { "-" } else { "" };
    (format!("{sign}{}", decimal(&v, places)), power)
}

/// How a value is shown to a person, with its unit: `2.13B params`, `8.51 GB (7.92 GiB)`,
/// `4.51 TFLOP`.
pub fn display(value: &Rational, unit: &Unit) -> String {
    if unit.is(Base::Byte) {
        return bytes(value);
    }
    if unit.is(Base::Param) {
        let (mantissa, power) = scaled(value);
        let suffix = ["", "K", "M", "B", "T", "Q", "Qi"][(power / 3) as usize];
        return format!("{mantissa}{suffix} params");
    }
    if unit.is(Base::Sequence) || unit.is(Base::Token) {
        return exact_with_unit(value, unit);
    }
    if unit.is(Base::Second) {
        let day = Rational::from_integer(BigInt::from(86_400));
        // A token takes milliseconds, a step seconds, a run days: each in its own terms.
        if !value.is_zero() && value.abs() < Rational::one() {
            let (mantissa, power) = scaled(&(value * Rational::from_integer(BigInt::from(10).pow(12))));
            return format!("{mantissa} {}s", ["p", "n", "µ", "m"][(power / 3).min(3) as usize]);
        }
        if value.abs() < Rational::from_integer(BigInt::from(3_600)) {
            let (mantissa, power) = scaled(value);
            return if power == 0 { format!("{mantissa} s") } else { format!("{} s", decimal(value, 0)) };
        }
        return format!("{} s ({} days)", decimal(value, 0), decimal(&(value / day), 1));
    }
    let (mantissa, power) = scaled(value);
    let prefix = ["", "k", "M", "G", "T", "P", "E"][(power / 3) as usize];
    match unit.name().as_str() {
        // A bare count (a size such as H) is shown whole; a fraction (an MFU) to 4 places.
        "" if value.is_integer() => exact(value),
        "" => decimal(value, 4),
        // Rates as people quote them: `3.35 TB/s`, `131 kB/token`, `1,234.5 tokens/s`.
        "byte/s" | "byte/token" => format!("{mantissa} {prefix}B/{}", &unit.name()[5..]),
        "token/s" => format!("{} tokens/s", decimal(value, 1)),
        name => format!("{mantissa} {prefix}{name}"),
    }
}

/// Bytes in decimal units with the binary equivalent beside them.
pub fn bytes(value: &Rational) -> String {
    if value.abs() < Rational::from_integer(BigInt::from(1000)) {
        return format!("{} bytes", exact(value));
    }
    let (mantissa, power) = scaled(value);
    let prefix = ["", "k", "M", "G", "T", "P", "E"][(power / 3) as usize];
    let (binary, steps) = scaled_by(value, 1024);
    let bprefix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][steps as usize];
    format!("{mantissa} {prefix}B ({binary} {bprefix}B)")
}

/// Each part's share of the whole as a percentage to hundredths, each rounded on its own (half
/// away from zero), so equal parts always show equal shares; the shown shares may then add up to
/// 99.99% or 100.01%.
pub fn percentages(parts: &[Rational]) -> Vec<String> {
    let total: Rational = parts.iter().cloned().fold(Rational::zero(), |a, b| a + b);
    if total.is_zero() {
        return parts.iter().map(|_| "—".to_string()).collect();
    }
    parts
        .iter()
        .map(|p| format!("{}%", decimal(&(p / &total * Rational::from_integer(BigInt::from(100))), 2)))
        .collect()
}

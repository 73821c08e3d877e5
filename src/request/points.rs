//! The values along a chart's horizontal axis as `--range` gives them: `A..B` or a list `a,b,c`.
//! Each kind reads a range its own way: batch sizes as an extent, context lengths, GPU counts and
//! concurrencies by doubling, MFUs in hundredths.

use crate::algebra::Rational;
use crate::algebra::read_number;
use crate::error::{Error, Result};

/// The most points one chart takes.
const MOST: usize = 64;

/// `--range` as written: a range or a list.
#[derive(Clone, Debug, PartialEq)]
pub enum Points {
    /// `A..B`.
    Range(Rational, Rational),
    /// `a,b,c`, sorted, without repeats.
    List(Vec<Rational>),
}

fn bad(text: &str, reason: impl Into<String>) -> Error {
    Error::BadOption { option: "--range".into(), value: text.into(), reason: reason.into() }
}

/// Reads `A..B` (A < B) or `a,b,c` (numbers without thousands separators).
pub fn read_points(text: &str) -> Result<Points> {
    let number = |t: &str| {
        read_number(t)
            .ok_or_else(|| bad(text, format!("`{}` is not a number; write e.g. 256..65536 or 1,8,64", t.trim())))
    };
    if let Some((a, b)) = text.split_once("..") {
        let (a, b) = (number(a)?, number(b)?);
        if a >= b {
            return Err(bad(text, "the range is empty: write A..B with A below B"));
        }
        return Ok(Points::Range(a, b));
    }
    let mut list = text.split(',').map(number).collect::<Result<Vec<_>>>()?;
    list.sort();
    list.dedup();
    if list.len() > MOST {
        return Err(bad(text, format!("{} values; a chart takes at most {MOST}", list.len())));
    }
    Ok(Points::List(list))
}

impl Points {
    /// Positive whole numbers: a range doubles from A while at most B (`256..65536`: 256, 512, …).
    pub fn doubling(&self, text: &str, what: &str) -> Result<Vec<u64>> {
        let whole = |v: &Rational| -> Result<u64> {
            v.is_integer()
                .then(|| v.to_integer().try_into().ok())
                .flatten()
                .filter(|n: &u64| *n >= 1)
                .ok_or_else(|| bad(text, format!("{what} are positive whole numbers, not {v}")))
        };
        let values = match self {
            Points::List(list) => list.iter().map(whole).collect::<Result<Vec<_>>>()?,
            Points::Range(a, b) => {
                let (mut v, end) = (whole(a)?, whole(b)?);
                let mut out = Vec::new();
                while v <= end && out.len() <= MOST {
                    out.push(v);
                    v = v.saturating_mul(2);
                }
                out
            }
        };
        if values.len() > MOST {
            return Err(bad(text, format!("more than {MOST} values; a chart takes at most {MOST}")));
        }
        Ok(values)
    }

    /// Fractions in (0, 1]: a range in steps of 0.01 from A to B.
    pub fn hundredths(&self, text: &str) -> Result<Vec<Rational>> {
        let zero = Rational::from_integer(0.into());
        let one = Rational::from_integer(1.into());
        let check = |v: &Rational| {
            if *v > zero && *v <= one {
                Ok(v.clone())
            } else {
                Err(bad(text, "an MFU is a fraction above 0 and at most 1"))
            }
        };
        match self {
            Points::List(list) => list.iter().map(check).collect(),
            Points::Range(a, b) => {
                let (a, b) = (check(a)?, check(b)?);
                let step = Rational::new(1.into(), 100.into());
                let first = (a.clone() / step.clone()).ceil().to_integer();
                let last = (b / step.clone()).floor().to_integer();
                let mut out: Vec<Rational> = Vec::new();
                let mut k = first;
                while k <= last {
                    out.push(Rational::from_integer(k.clone()) * step.clone());
                    k += 1;
                }
                if out.len() < 2 {
                    return Err(bad(text, "the range holds fewer than two hundredths; widen it"));
                }
                Ok(out)
            }
        }
    }

    /// The extent from the smallest to the largest value, at least 0 (batch sizes).
    pub fn extent(&self, text: &str) -> Result<(Rational, Rational)> {
        let (lo, hi) = match self {
            Points::Range(a, b) => (a.clone(), b.clone()),
            Points::List(list) if list.len() >= 2 => (list[0].clone(), list[list.len() - 1].clone()),
            Points::List(_) => return Err(bad(text, "give the batch sizes to show as A..B")),
        };
        if lo < Rational::from_integer(0.into()) {
            return Err(bad(text, "a batch size is not negative"));
        }
        Ok((lo, hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: i64) -> Rational {
        Rational::from_integer(n.into())
    }

    #[test]
    fn ranges_double_and_lists_are_sorted() {
        assert_eq!(read_points("256..2048").unwrap().doubling("", "T").unwrap(), [256, 512, 1024, 2048]);
        assert_eq!(read_points("8,1,64,8").unwrap().doubling("", "T").unwrap(), [1, 8, 64]);
        assert_eq!(read_points("3..13").unwrap().doubling("", "T").unwrap(), [3, 6, 12]);
    }

    #[test]
    fn mfu_ranges_go_by_hundredths() {
        let points = read_points("0.1..0.13").unwrap().hundredths("").unwrap();
        assert_eq!(
            points,
            [
                Rational::new(10.into(), 100.into()),
                Rational::new(11.into(), 100.into()),
                Rational::new(12.into(), 100.into()),
                Rational::new(13.into(), 100.into())
            ]
        );
        assert!(read_points("0..2").unwrap().hundredths("").is_err());
    }

    #[test]
    fn bad_ranges_are_refused() {
        assert!(read_points("5..5").is_err());
        assert!(read_points("a..b").is_err());
        assert!(read_points("").is_err());
        assert!(read_points("0.5,2").unwrap().doubling("", "GPUs").is_err());
        assert_eq!(read_points("0..64").unwrap().extent("").unwrap(), (r(0), r(64)));
        assert!(read_points("1..100000000000000000000").unwrap().doubling("", "T").is_err());
    }
}

//! The whole numbers of one swept symbol, as written: single values and ranges kept as runs
//! (`1..1000000000` is three numbers, not a billion), so a sweep's size is known before any point
//! exists and its memory does not grow with the number of points.

use std::fmt;

/// One item of `--vary`: a value, `a..b` or `a..b:s` (every s-th), or `a..b*f` (times f).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Run {
    /// `from, from + step, …` up to `to`.
    Step { from: i128, to: i128, step: i128 },
    /// `from, from·factor, …` up to `to`.
    Times { from: i128, factor: i128, len: u128 },
}

impl Run {
    fn len(&self) -> u128 {
        match *self {
            Run::Step { from, to, step } => ((to - from) / step) as u128 + 1,
            Run::Times { len, .. } => len,
        }
    }

    fn get(&self, i: u128) -> i128 {
        match *self {
            Run::Step { from, step, .. } => from + step * i as i128,
            // `len` was counted so that every power up to it fits.
            Run::Times { from, factor, .. } => from * factor.pow(i as u32),
        }
    }

    fn last(&self) -> i128 {
        self.get(self.len() - 1)
    }
}

/// The values of a swept symbol, in the order written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Values {
    runs: Vec<Run>,
    /// Where each run starts in the whole list.
    starts: Vec<u128>,
    len: u128,
}

impl Values {
    /// Reads a comma-separated list of items (`1,2,4`, `1..1024`, `256..4096:256`, `1..1024*2`).
    pub fn parse(text: &str) -> Result<Values, String> {
        let mut values = Values::default();
        for item in text.split(',').map(str::trim).filter(|v| !v.is_empty()) {
            let run = run(item)?;
            values.starts.push(values.len);
            values.len = values.len.saturating_add(run.len());
            values.runs.push(run);
        }
        Ok(values)
    }

    /// How many values there are.
    pub fn len(&self) -> u128 {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `i`-th value (`i < len`).
    pub fn get(&self, i: u128) -> i128 {
        let r = self.starts.partition_point(|s| *s <= i) - 1;
        self.runs[r].get(i - self.starts[r])
    }

    /// The least and the greatest value: each run is increasing, so its ends bound it.
    pub fn extent(&self) -> Option<(i128, i128)> {
        let ends = self.runs.iter().flat_map(|r| [r.get(0), r.last()]);
        Some((ends.clone().min()?, ends.max()?))
    }

    /// Every value, in order.
    pub fn iter(&self) -> impl Iterator<Item = i128> + '_ {
        (0..self.len).map(|i| self.get(i))
    }
}

impl FromIterator<i128> for Values {
    /// Single values (for callers that build an axis in code).
    fn from_iter<I: IntoIterator<Item = i128>>(items: I) -> Values {
        let mut values = Values::default();
        for v in items {
            values.starts.push(values.len);
            values.len += 1;
            values.runs.push(Run::Step { from: v, to: v, step: 1 });
        }
        values
    }
}

impl fmt::Display for Values {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self
            .runs
            .iter()
            .map(|r| match *r {
                Run::Step { from, to, .. } if from == to => from.to_string(),
                Run::Step { from, to, step: 1 } => format!("{from}..{to}"),
                Run::Step { from, to, step } => format!("{from}..{to}:{step}"),
                Run::Times { from, factor, .. } => format!("{from}..{}*{factor}", r.last()),
            })
            .collect();
        f.write_str(&items.join(","))
    }
}

/// One item of the list.
fn run(item: &str) -> Result<Run, String> {
    let number = |t: &str| {
        t.trim().parse::<i128>().map_err(|_| format!("`{t}` is not a whole number (write 16384, not 16,384)"))
    };
    let Some((from, rest)) = item.split_once("..") else {
        let v = number(item)?;
        return Ok(Run::Step { from: v, to: v, step: 1 });
    };
    let from = number(from)?;
    let (to, step) =
        match rest.split_once(':').map(|(t, s)| (t, s, false)).or(rest.split_once('*').map(|(t, s)| (t, s, true))) {
            Some((to, step, times)) => (number(to)?, Some((number(step)?, times))),
            None => (number(rest)?, None),
        };
    if to < from {
        return Err(format!("the range {item} runs backwards"));
    }
    to.checked_sub(from).ok_or_else(|| format!("the range {item} is too wide"))?;
    match step {
        None => Ok(Run::Step { from, to, step: 1 }),
        Some((s, false)) if s > 0 => Ok(Run::Step { from, to, step: s }),
        Some((f, true)) if f > 1 && from > 0 => {
            // The powers are counted, not listed: at most 127 of them fit in 128 bits.
            let (mut len, mut v) = (1u128, from);
            while let Some(next) = v.checked_mul(f).filter(|n| *n <= to) {
                v = next;
                len += 1;
            }
            Ok(Run::Times { from, factor: f, len })
        }
        Some((s, times)) => Err(format!("{} {s} never reaches {to}", if times { "a factor of" } else { "a step of" })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_counted_and_indexed_without_being_listed() {
        let v = Values::parse("1..1000000000000").unwrap();
        assert_eq!(v.len(), 1_000_000_000_000);
        assert_eq!(v.get(999_999_999_999), 1_000_000_000_000);
        let v = Values::parse("3, 256..4096:256, 1..1024*2").unwrap();
        let all: Vec<i128> = v.iter().collect();
        let mut expected = vec![3];
        expected.extend((256..=4096).step_by(256));
        expected.extend((0..11).map(|k| 1 << k));
        assert_eq!(all, expected);
        assert_eq!(v.extent(), Some((1, 4096)));
        assert_eq!(v.to_string(), "3,256..4096:256,1..1024*2");
    }

    #[test]
    fn bad_ranges_say_why() {
        assert!(Values::parse("5..1").unwrap_err().contains("backwards"));
        assert!(Values::parse("1..9:0").unwrap_err().contains("never reaches"));
        assert!(Values::parse("0..9*2").unwrap_err().contains("never reaches"));
        assert!(Values::parse("1,5k").unwrap_err().contains("not a whole number"));
        let huge = format!("1..{}*2", i128::MAX);
        assert_eq!(Values::parse(&huge).unwrap().len(), 127);
    }
}

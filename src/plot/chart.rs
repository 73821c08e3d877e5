//! A chart as data: titles, two axes and what is drawn on them, in plain numbers. The plot kinds
//! build one from exact values (converted to floating point only here, for drawing); [`super::svg`]
//! draws it. Nothing here knows plotters or SVG.

/// A chart ready to draw.
#[derive(Clone, Debug)]
pub struct Chart {
    /// What is plotted, for which model.
    pub title: String,
    /// The conventions and hardware it was derived under.
    pub subtitle: String,
    /// The horizontal axis.
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
    /// What is drawn.
    pub body: Body,
    /// Assumptions and how to read the chart, one line each, under the legend.
    pub notes: Vec<String>,
}

/// An axis: its label (with the unit), scale, extent and tick marks.
#[derive(Clone, Debug)]
pub struct Axis {
    /// `training memory (GB, 10⁹ bytes)`.
    pub label: String,
    /// Logarithmic or not.
    pub log: bool,
    /// Smallest value shown.
    pub min: f64,
    /// Largest value shown.
    pub max: f64,
    /// Tick positions with their labels; chosen from the extent when empty.
    pub ticks: Vec<(f64, String)>,
}

impl Axis {
    /// A linear axis from `min` to `max`, ticks chosen from the extent.
    pub fn linear(label: &str, min: f64, max: f64) -> Axis {
        Axis { label: label.into(), log: false, min, max, ticks: vec![] }
    }

    /// A logarithmic axis from `min` to `max`, ticks at the powers of ten inside.
    pub fn log(label: &str, min: f64, max: f64) -> Axis {
        Axis { label: label.into(), log: true, min, max, ticks: vec![] }
    }

    /// The same axis with ticks at the given values, labelled as given.
    pub fn with_ticks(mut self, ticks: Vec<(f64, String)>) -> Axis {
        self.ticks = ticks;
        self
    }

    /// Where a value sits along the axis before scaling to pixels (its logarithm on a log axis).
    pub fn position(&self, value: f64) -> f64 {
        if self.log { value.max(f64::MIN_POSITIVE).log10() } else { value }
    }
}

/// A stroke pattern, so that series can be told apart in black and white.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dash {
    /// A continuous line.
    Solid,
    /// Long dashes.
    Dashed,
    /// Dots.
    Dotted,
    /// Dash, dot.
    DashDot,
}

impl Dash {
    /// The patterns in the order series take them.
    pub const ORDER: [Dash; 4] = [Dash::Solid, Dash::Dashed, Dash::Dotted, Dash::DashDot];

    /// On and off lengths in pixels; empty for a solid line.
    pub fn pattern(self) -> &'static [f64] {
        match self {
            Dash::Solid => &[],
            Dash::Dashed => &[9.0, 5.0],
            Dash::Dotted => &[2.0, 4.0],
            Dash::DashDot => &[9.0, 4.0, 2.0, 4.0],
        }
    }
}

/// What a chart shows.
#[derive(Clone, Debug)]
pub enum Body {
    /// Curves, horizontal rules and marked points over two numeric axes.
    Lines(Lines),
    /// Stacked bars, one per category, with horizontal rules.
    Bars(Bars),
}

/// Curves, rules and marks.
#[derive(Clone, Debug, Default)]
pub struct Lines {
    /// Curves through data points.
    pub curves: Vec<Curve>,
    /// Horizontal lines across the plot (a memory budget, a peak).
    pub rules: Vec<Rule>,
    /// Labelled points.
    pub marks: Vec<Mark>,
}

/// A curve through points.
#[derive(Clone, Debug)]
pub struct Curve {
    /// What it is, in the legend.
    pub label: String,
    /// The points, in order along the curve.
    pub points: Vec<(f64, f64)>,
    /// Its stroke.
    pub dash: Dash,
    /// A marker at each point (the points are the data, not a sampling).
    pub markers: bool,
}

/// A horizontal line across the plot.
#[derive(Clone, Debug)]
pub struct Rule {
    /// What it is, in the legend.
    pub label: String,
    /// What it is, in a few words at its right end.
    pub short: String,
    /// Its height.
    pub y: f64,
    /// Its stroke.
    pub dash: Dash,
}

/// A labelled point.
#[derive(Clone, Debug)]
pub struct Mark {
    /// The words beside it.
    pub label: String,
    /// Where it is.
    pub x: f64,
    /// Where it is.
    pub y: f64,
    /// Draw a thin line from it down to the horizontal axis.
    pub drop: bool,
    /// Its marker.
    pub marker: Marker,
}

/// How a marked point is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// No marker of its own (it sits on a curve's marker).
    None,
    /// A filled disc.
    Disc,
    /// A hollow square.
    Square,
}

/// Stacked bars.
#[derive(Clone, Debug)]
pub struct Bars {
    /// One bar per category, left to right.
    pub categories: Vec<String>,
    /// The parts each bar stacks, bottom to top.
    pub parts: Vec<String>,
    /// `values[category][part]`.
    pub values: Vec<Vec<f64>>,
    /// Text inside each segment (`31.2%`), drawn where it fits.
    pub inside: Vec<Vec<String>>,
    /// Text above each bar.
    pub above: Vec<String>,
    /// Horizontal lines across the plot.
    pub rules: Vec<Rule>,
}

/// Tick marks for a linear axis: multiples of 1, 2 or 5 times a power of ten, about six of them.
pub fn linear_ticks(min: f64, max: f64) -> Vec<(f64, String)> {
    let span = (max - min).abs().max(f64::MIN_POSITIVE);
    let raw = span / 6.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|s| *s >= raw).unwrap_or(10.0 * power);
    let places = if step >= 1.0 { 0 } else { (-step.log10().floor()) as usize };
    let first = (min / step).ceil() as i64;
    let last = (max / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).map(|v| (v, number(v, places))).collect()
}

/// Tick marks for a log axis: the powers of ten inside, written with SI prefixes past a million.
pub fn log_ticks(min: f64, max: f64) -> Vec<(f64, String)> {
    let (lo, hi) = (min.log10().ceil() as i32, (max.log10() + 1e-9).floor() as i32);
    (lo..=hi).map(|k| (10f64.powi(k), si(10f64.powi(k)))).collect()
}

/// `1,234`, `0.25`: a number with grouped thousands and `places` decimals.
pub fn number(value: f64, places: usize) -> String {
    let text = format!("{:.*}", places, value.abs());
    let (whole, frac) = text.split_once('.').map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A power of ten with an SI prefix from a million up (`10M`, `1T`), else written out.
fn si(value: f64) -> String {
    let prefixes = [(1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M")];
    for (scale, prefix) in prefixes {
        if value >= scale {
            return format!("{}{prefix}", number(value / scale, 0));
        }
    }
    let places = if value >= 1.0 { 0 } else { (-value.log10()).round() as usize };
    number(value, places)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round_numbers_inside_the_extent() {
        let ticks: Vec<String> = linear_ticks(0.0, 93.0).into_iter().map(|(_, l)| l).collect();
        assert_eq!(ticks, ["0", "20", "40", "60", "80"]);
        let ticks: Vec<String> = linear_ticks(0.1, 0.7).into_iter().map(|(_, l)| l).collect();
        assert_eq!(ticks, ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7"]);
    }

    #[test]
    fn log_ticks_are_powers_of_ten_with_prefixes() {
        let ticks: Vec<String> = log_ticks(0.5, 2e15).into_iter().map(|(_, l)| l).collect();
        assert_eq!(ticks.first().map(String::as_str), Some("1"));
        assert!(ticks.contains(&"100T".to_string()) && ticks.contains(&"1,000".to_string()));
        assert_eq!(log_ticks(0.01, 0.1).into_iter().map(|(_, l)| l).collect::<Vec<_>>(), ["0.01", "0.1"]);
    }

    #[test]
    fn numbers_group_thousands() {
        assert_eq!(number(65536.0, 0), "65,536");
        assert_eq!(number(-1234.5, 1), "-1,234.5");
        assert_eq!(number(0.0, 2), "0.00");
    }
}

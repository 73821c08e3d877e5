//! Draws a [`Chart`] on a plotters backend — SVG here, TikZ in the TikZ backend beside it: the axes, ticks
//! and grid by plotters' chart builder, the data in pixel coordinates mapped through it (dash patterns, hatching and
//! direct labels are drawn here, so series stay apart in black and white). The output depends on
//! the chart alone: no fonts are measured (text is `<text>` with `font-family="sans-serif"`), no
//! time, path or random number is written, so the same chart gives the same bytes.

use super::chart::{Axis, Bars, Body, Chart, Dash, Lines, Marker, Rule, linear_ticks, log_ticks};
use super::ink::{Area, FONT, INK, Pen, Placer, RULE_INK, boxed, marker, stroke, swatch, text, wrap};
use crate::request::{CHART_HEIGHT as HEIGHT, CHART_WIDTH as WIDTH};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const HEADER: u32 = 68;
type Failure = String;

/// The chart as an SVG document.
pub fn svg(chart: &Chart) -> Result<String, Failure> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, chart).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    // One newline at the end, as a text file has.
    Ok(format!("{}\n", out.trim_end()))
}

/// Draws `chart` on `root`, which is `WIDTH` × `HEIGHT` pixels, whatever the backend.
pub(super) fn draw<B: Pen>(root: &Area<B>, chart: &Chart) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let centre = Pos::new(HPos::Center, VPos::Top);
    root.draw_text(
        &chart.title,
        &(FONT, 22).into_font().style(FontStyle::Bold).color(&BLACK).pos(centre),
        (WIDTH as i32 / 2, 10),
    )?;
    let subtitle = wrap(&chart.subtitle, 112);
    for (i, line) in subtitle.iter().enumerate() {
        root.draw_text(
            line,
            &(FONT, 15).into_font().color(&BLACK).pos(centre),
            (WIDTH as i32 / 2, 40 + 17 * i as i32),
        )?;
    }
    let header = HEADER + 17 * (subtitle.len() as u32 - 1);
    let entries = legend(chart);
    let notes: Vec<String> = chart.notes.iter().flat_map(|n| wrap(n, 130)).collect();
    let rows = rows(&entries);
    let footer = 14 + 22 * rows.len() as u32 + 17 * notes.len() as u32;
    let (_, rest) = root.split_vertically(header);
    let (body, _) = rest.split_vertically(HEIGHT - header - footer);
    let (x, y) = (ticks(&chart.x), ticks(&chart.y));
    let bars = matches!(chart.body, Body::Bars(_));
    let x_range = Ticked::new(&chart.x, &x);
    let y_range = Ticked::new(&chart.y, &y);
    let mut plot = ChartBuilder::on(&body)
        .margin_left(12)
        .margin_right(24)
        .margin_top(6)
        .x_label_area_size(46)
        .y_label_area_size(78)
        .build_cartesian_2d(x_range, y_range)?;
    let x_label = |v: &f64| label_at(&x, *v);
    let y_label = |v: &f64| label_at(&y, *v);
    let mut mesh = plot.configure_mesh();
    mesh.x_desc(chart.x.label.as_str())
        .y_desc(chart.y.label.as_str())
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 14))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(TRANSPARENT);
    if bars {
        mesh.disable_x_mesh();
    }
    mesh.draw()?;
    let at = |cx: f64, cy: f64| plot.backend_coord(&(chart.x.position(cx), chart.y.position(cy)));
    let (left, top) = plot.backend_coord(&(chart.x.position(chart.x.min), chart.y.position(chart.y.max)));
    let (right, bottom) = plot.backend_coord(&(chart.x.position(chart.x.max), chart.y.position(chart.y.min)));
    let frame = Frame { left, right, top, bottom };
    match &chart.body {
        Body::Lines(lines) => draw_lines(root, lines, &at, &frame)?,
        Body::Bars(b) => draw_bars(root, b, &at, &frame)?,
    }
    let mut top = (HEIGHT - footer + 10) as i32;
    for row in rows {
        let mut x = 24;
        for entry in row {
            entry.sample(root, x, top + 7)?;
            text(root, &entry.label, (x + 38, top + 7), 15, Pos::new(HPos::Left, VPos::Center))?;
            x += entry.width();
        }
        top += 22;
    }
    for note in notes {
        text(root, &note, (24, top + 6), 14, Pos::new(HPos::Left, VPos::Center))?;
        top += 17;
    }
    Ok(())
}

/// A linear coordinate (positions: logarithms on a log axis) whose grid lines and labels sit
/// exactly at the chart's ticks.
struct Ticked {
    linear: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new(axis: &Axis, ticks: &[(f64, String)]) -> Ticked {
        let linear = (axis.position(axis.min)..axis.position(axis.max)).into();
        Ticked { linear, ticks: ticks.iter().map(|(p, _)| *p).collect() }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() { vec![] } else { self.ticks.clone() }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.linear.range()
    }
}

/// The plotting rectangle in pixels.
struct Frame {
    left: i32,
    right: i32,
    top: i32,
    bottom: i32,
}

/// An axis's ticks as (position along the axis, label).
fn ticks(axis: &Axis) -> Vec<(f64, String)> {
    let given = if !axis.ticks.is_empty() {
        axis.ticks.clone()
    } else if axis.log {
        log_ticks(axis.min, axis.max)
    } else {
        linear_ticks(axis.min, axis.max)
    };
    given.into_iter().map(|(v, l)| (axis.position(v), l)).collect()
}

fn label_at(ticks: &[(f64, String)], position: f64) -> String {
    let close = |p: f64| (p - position).abs() <= 1e-9 * p.abs().max(1.0);
    ticks.iter().find(|(p, _)| close(*p)).map(|(_, l)| l.clone()).unwrap_or_default()
}

/// Horizontal rules with their short labels, each beside its own line and off the others.
fn draw_rules<B: Pen>(
    root: &Area<B>,
    rules: &[Rule],
    at: &dyn Fn(f64, f64) -> (i32, i32),
    frame: &Frame,
    placer: &mut Placer,
) -> Result<(), Box<dyn std::error::Error>> {
    let heights: Vec<i32> = rules.iter().map(|r| at(0.0, r.y).1.clamp(frame.top, frame.bottom)).collect();
    for (rule, y) in rules.iter().zip(&heights) {
        stroke(root, &[(frame.left, *y), (frame.right, *y)], rule.dash, RULE_INK, 2)?;
        placer.occupy_line(&[(frame.left, *y), (frame.right, *y)]);
    }
    for (rule, y) in rules.iter().zip(heights) {
        let (right, left) = (frame.right - 6, frame.left + 8);
        let choices = [
            ((right, y - 3), Pos::new(HPos::Right, VPos::Bottom)),
            ((right, y + 4), Pos::new(HPos::Right, VPos::Top)),
            ((left, y - 3), Pos::new(HPos::Left, VPos::Bottom)),
            ((left, y + 4), Pos::new(HPos::Left, VPos::Top)),
        ];
        placer.place(root, &rule.short, &choices)?;
    }
    Ok(())
}

fn draw_lines<B: Pen>(
    root: &Area<B>,
    lines: &Lines,
    at: &dyn Fn(f64, f64) -> (i32, i32),
    frame: &Frame,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut placer = Placer::new((frame.left, frame.top, frame.right, frame.bottom));
    for (i, curve) in lines.curves.iter().enumerate() {
        let points: Vec<(i32, i32)> = curve.points.iter().map(|(x, y)| at(*x, *y)).collect();
        stroke(root, &points, curve.dash, INK[i % INK.len()], 2)?;
        placer.occupy_line(&points);
        if curve.markers {
            for p in &points {
                marker(root, *p, i % 2 == 1, INK[i % INK.len()])?;
                placer.occupy(*p);
            }
        }
    }
    for mark in &lines.marks {
        let p = at(mark.x, mark.y);
        if mark.drop {
            stroke(root, &[p, (p.0, frame.bottom)], Dash::Dotted, BLACK, 1)?;
        }
        if mark.marker != Marker::None {
            marker(root, p, mark.marker == Marker::Square, BLACK)?;
        }
        placer.occupy(p);
    }
    draw_rules(root, &lines.rules, at, frame, &mut placer)?;
    for mark in &lines.marks {
        let p = at(mark.x, mark.y);
        let (left, right) = (Pos::new(HPos::Right, VPos::Top), Pos::new(HPos::Left, VPos::Top));
        // Beside the point, on the roomier side first, then further below or above it.
        let sides =
            if p.0 > (frame.left + frame.right) / 2 { [(-8, left), (8, right)] } else { [(8, right), (-8, left)] };
        let mut choices = Vec::new();
        for dy in [4, -21, 22, -39, 40, -57] {
            for (dx, pos) in sides {
                choices.push(((p.0 + dx, p.1 + dy), pos));
            }
        }
        placer.place(root, &mark.label, &choices)?;
    }
    Ok(())
}

fn draw_bars<B: Pen>(
    root: &Area<B>,
    bars: &Bars,
    at: &dyn Fn(f64, f64) -> (i32, i32),
    frame: &Frame,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut placer = Placer::new((frame.left, frame.top, frame.right, frame.bottom));
    // Each segment's pixel rectangle: bars first, then the rules over them, then the words on top.
    let mut segments = Vec::new();
    for (i, values) in bars.values.iter().enumerate() {
        let mut base = 0.0;
        for (j, v) in values.iter().enumerate() {
            let (a, b) = (at(i as f64 - 0.34, base + v), at(i as f64 + 0.34, base));
            if b.1 - a.1 >= 1 {
                swatch(root, j, a, b)?;
            }
            segments.push((i, j, a, b));
            base += v;
        }
        let (top, bottom) = (at(i as f64 - 0.34, base), at(i as f64 + 0.34, 0.0));
        placer.taken.push((top.0, top.1 - 20, bottom.0, bottom.1));
    }
    draw_rules(root, &bars.rules, at, frame, &mut placer)?;
    for (i, j, a, b) in segments {
        let words = bars.inside.get(i).and_then(|row| row.get(j)).map(String::as_str).unwrap_or("");
        if !words.is_empty() && b.1 - a.1 >= 15 {
            boxed(root, words, ((a.0 + b.0) / 2, (a.1 + b.1) / 2), Pos::new(HPos::Center, VPos::Center))?;
        }
    }
    for (i, values) in bars.values.iter().enumerate() {
        if let Some(words) = bars.above.get(i).filter(|w| !w.is_empty()) {
            let top = at(i as f64, values.iter().sum());
            text(root, words, (top.0, top.1 - 4), 15, Pos::new(HPos::Center, VPos::Bottom))?;
        }
    }
    Ok(())
}

/// One legend entry: a sample and its words.
struct Entry {
    label: String,
    sample: Sample,
}

enum Sample {
    Line(Dash, RGBColor, Option<bool>),
    Part(usize),
}

impl Entry {
    fn width(&self) -> i32 {
        48 + (self.label.chars().count() as f64 * 6.7) as i32
    }

    fn sample<B: Pen>(&self, root: &Area<B>, x: i32, y: i32) -> Result<(), Box<dyn std::error::Error>> {
        match self.sample {
            Sample::Line(dash, colour, square) => {
                stroke(root, &[(x, y), (x + 30, y)], dash, colour, 2)?;
                if let Some(square) = square {
                    marker(root, (x + 15, y), square, colour)?;
                }
                Ok(())
            }
            Sample::Part(j) => swatch(root, j, (x, y - 7), (x + 30, y + 7)),
        }
    }
}

fn legend(chart: &Chart) -> Vec<Entry> {
    let rule = |r: &Rule| Entry { label: r.label.clone(), sample: Sample::Line(r.dash, RULE_INK, None) };
    match &chart.body {
        Body::Lines(lines) => {
            let curves = lines.curves.iter().enumerate().map(|(i, c)| Entry {
                label: c.label.clone(),
                sample: Sample::Line(c.dash, INK[i % INK.len()], c.markers.then_some(i % 2 == 1)),
            });
            curves.chain(lines.rules.iter().map(rule)).collect()
        }
        Body::Bars(bars) => {
            let parts = bars.parts.iter().enumerate().map(|(j, p)| Entry { label: p.clone(), sample: Sample::Part(j) });
            parts.chain(bars.rules.iter().map(rule)).collect()
        }
    }
}

/// The legend entries in rows that fit the width.
fn rows(entries: &[Entry]) -> Vec<Vec<&Entry>> {
    let mut rows: Vec<Vec<&Entry>> = Vec::new();
    let mut used = 0;
    for entry in entries {
        if rows.is_empty() || used + entry.width() > WIDTH as i32 - 48 {
            rows.push(Vec::new());
            used = 0;
        }
        used += entry.width();
        rows.last_mut().expect("a row was pushed").push(entry);
    }
    rows
}

//! Pen strokes in pixels for the SVG charts: colours, fills and hatching, dashed lines, markers,
//! words on white boxes, and the placing of labels where they cover nothing drawn before them.

use super::chart::Dash;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The font of every word; viewers pick their sans-serif.
pub(super) const FONT: &str = "sans-serif";
/// Curve colours (dark, so dash patterns show); series differ by dash and marker as well.
pub(super) const INK: [RGBColor; 4] =
    [RGBColor(0x1F, 0x3A, 0x5F), RGBColor(0x9A, 0x2A, 0x1C), RGBColor(0x2D, 0x5E, 0x2A), RGBColor(0x5A, 0x3D, 0x7A)];
/// Budget and peak lines.
pub(super) const RULE_INK: RGBColor = RGBColor(0x44, 0x44, 0x44);
/// Bar fills, light enough for black hatching and text; each part also has its own hatching.
pub(super) const FILLS: [RGBColor; 8] = [
    RGBColor(0xA6, 0xCE, 0xE3),
    RGBColor(0xFD, 0xBF, 0x6F),
    RGBColor(0xB2, 0xDF, 0x8A),
    RGBColor(0xFB, 0x9A, 0x99),
    RGBColor(0xCA, 0xB2, 0xD6),
    RGBColor(0xFF, 0xFF, 0x99),
    RGBColor(0xD9, 0xD9, 0xD9),
    RGBColor(0xE5, 0xC4, 0x94),
];

/// Hatching of a bar part: none, `/`, `\`, horizontal, vertical, crossed.
#[derive(Clone, Copy)]
enum Hatch {
    None,
    Rising,
    Falling,
    Horizontal,
    Vertical,
    Cross,
}

const HATCHES: [Hatch; 8] = [
    Hatch::None,
    Hatch::Rising,
    Hatch::Horizontal,
    Hatch::Falling,
    Hatch::Vertical,
    Hatch::Cross,
    Hatch::Rising,
    Hatch::Falling,
];

/// A backend the charts are drawn on: SVG for pages, TikZ for LaTeX. Both report I/O errors, so
/// one error type serves every drawing function.
pub(super) trait Pen: DrawingBackend<ErrorType = std::io::Error> {}

impl<B: DrawingBackend<ErrorType = std::io::Error>> Pen for B {}

pub(super) type Area<B> = DrawingArea<B, Shift>;

pub(super) fn text<B: Pen>(
    root: &Area<B>,
    words: &str,
    at: (i32, i32),
    size: u32,
    pos: Pos,
) -> Result<(), Box<dyn std::error::Error>> {
    root.draw_text(words, &(FONT, size).into_font().color(&BLACK).pos(pos), at)?;
    Ok(())
}

/// Where a label's box would sit: left, top, right, bottom.
pub(super) type Span = (i32, i32, i32, i32);

pub(super) fn span(words: &str, at: (i32, i32), pos: Pos) -> Span {
    let width = (words.chars().count() as f64 * 6.7) as i32 + 6;
    let x0 = match pos.h_pos {
        HPos::Left => at.0 - 3,
        HPos::Center => at.0 - width / 2,
        HPos::Right => at.0 - width + 3,
    };
    let y0 = match pos.v_pos {
        VPos::Top => at.1 - 2,
        VPos::Center => at.1 - 9,
        VPos::Bottom => at.1 - 16,
    };
    (x0, y0, x0 + width, y0 + 17)
}

/// Words on a white box, so grid lines and hatching do not cross them.
pub(super) fn boxed<B: Pen>(
    root: &Area<B>,
    words: &str,
    at: (i32, i32),
    pos: Pos,
) -> Result<(), Box<dyn std::error::Error>> {
    let (x0, y0, x1, y1) = span(words, at, pos);
    root.draw(&Rectangle::new([(x0, y0), (x1, y1)], WHITE.mix(0.85).filled()))?;
    text(root, words, at, 15, pos)
}

/// Labels placed where they cover no label or marker placed before them, when there is room.
pub(super) struct Placer {
    pub(super) taken: Vec<Span>,
    frame: Span,
}

impl Placer {
    pub(super) fn new(frame: (i32, i32, i32, i32)) -> Placer {
        Placer { taken: vec![], frame }
    }

    /// Keeps a line's pixels free (a curve, a rule), so labels are not set over it.
    pub(super) fn occupy_line(&mut self, points: &[(i32, i32)]) {
        for pair in points.windows(2) {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            let steps = ((x1 - x0).abs().max((y1 - y0).abs()) / 4).max(1);
            for k in 0..=steps {
                let (x, y) = (x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps);
                self.taken.push((x - 1, y - 1, x + 1, y + 1));
            }
        }
    }

    /// Keeps a marker's square free.
    pub(super) fn occupy(&mut self, at: (i32, i32)) {
        self.taken.push((at.0 - 5, at.1 - 5, at.0 + 5, at.1 + 5));
    }

    /// Draws `words` at the first of `choices` (anchor, position) that is free and inside the
    /// plot; at the first choice when none is.
    pub(super) fn place<B: Pen>(
        &mut self,
        root: &Area<B>,
        words: &str,
        choices: &[((i32, i32), Pos)],
    ) -> Result<(), Box<dyn std::error::Error>> {
        let free = |s: &Span| {
            let (l, t, r, b) = self.frame;
            s.0 >= l
                && s.2 <= r
                && s.1 >= t
                && s.3 <= b
                && !self.taken.iter().any(|o| s.0 < o.2 && o.0 < s.2 && s.1 < o.3 && o.1 < s.3)
        };
        let (at, pos) = choices.iter().find(|(at, pos)| free(&span(words, *at, *pos))).unwrap_or(&choices[0]);
        self.taken.push(span(words, *at, *pos));
        boxed(root, words, *at, *pos)
    }
}

/// A polyline cut into the dashes of `dash` (each dash a separate path).
pub(super) fn dashes(points: &[(i32, i32)], dash: Dash) -> Vec<Vec<(i32, i32)>> {
    let pattern = dash.pattern();
    if pattern.is_empty() {
        return vec![points.to_vec()];
    }
    let (mut out, mut current) = (Vec::new(), Vec::new());
    let (mut index, mut left, mut on) = (0, pattern[0], true);
    for pair in points.windows(2) {
        let ((x0, y0), (x1, y1)) = ((pair[0].0 as f64, pair[0].1 as f64), (pair[1].0 as f64, pair[1].1 as f64));
        let length = ((x1 - x0).powi(2) + (y1 - y0).powi(2)).sqrt();
        let mut done = 0.0;
        let point = |t: f64| ((x0 + (x1 - x0) * t).round() as i32, (y0 + (y1 - y0) * t).round() as i32);
        if on && current.is_empty() {
            current.push(point(0.0));
        }
        while length - done > left {
            done += left;
            if on {
                current.push(point(done / length));
                out.push(std::mem::take(&mut current));
            } else {
                current.push(point(done / length));
            }
            on = !on;
            index = (index + 1) % pattern.len();
            left = pattern[index];
        }
        left -= length - done;
        if on {
            current.push(point(1.0));
        }
    }
    if current.len() > 1 {
        out.push(current);
    }
    out
}

pub(super) fn stroke<B: Pen>(
    root: &Area<B>,
    points: &[(i32, i32)],
    dash: Dash,
    colour: RGBColor,
    width: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    for piece in dashes(points, dash) {
        root.draw(&PathElement::new(piece, colour.stroke_width(width)))?;
    }
    Ok(())
}

pub(super) fn marker<B: Pen>(
    root: &Area<B>,
    at: (i32, i32),
    square: bool,
    colour: RGBColor,
) -> Result<(), Box<dyn std::error::Error>> {
    if square {
        root.draw(&Rectangle::new([(at.0 - 4, at.1 - 4), (at.0 + 4, at.1 + 4)], WHITE.filled()))?;
        root.draw(&Rectangle::new([(at.0 - 4, at.1 - 4), (at.0 + 4, at.1 + 4)], colour.stroke_width(2)))?;
    } else {
        root.draw(&Circle::new(at, 4, colour.filled()))?;
    }
    Ok(())
}

fn hatch<B: Pen>(
    root: &Area<B>,
    kind: Hatch,
    (x0, y0): (i32, i32),
    (x1, y1): (i32, i32),
) -> Result<(), Box<dyn std::error::Error>> {
    let style = BLACK.mix(0.55).stroke_width(1);
    let gap = 7;
    let mut segments: Vec<[(i32, i32); 2]> = Vec::new();
    let rising = |segments: &mut Vec<[(i32, i32); 2]>, up: bool| {
        // Lines x ± y = k clipped to the rectangle.
        let mut k = if up { x0 + y0 } else { x0 - y1 };
        let end = if up { x1 + y1 } else { x1 - y0 };
        while k <= end {
            let (a, b) = if up { ((k - y1).max(x0), (k - y0).min(x1)) } else { ((k + y0).max(x0), (k + y1).min(x1)) };
            if a < b {
                let y = |x: i32| if up { k - x } else { x - k };
                segments.push([(a, y(a)), (b, y(b))]);
            }
            k += gap;
        }
    };
    match kind {
        Hatch::None => {}
        Hatch::Rising => rising(&mut segments, true),
        Hatch::Falling => rising(&mut segments, false),
        Hatch::Cross => {
            rising(&mut segments, true);
            rising(&mut segments, false);
        }
        Hatch::Horizontal => segments.extend((y0 + gap / 2..y1).step_by(gap as usize).map(|y| [(x0, y), (x1, y)])),
        Hatch::Vertical => segments.extend((x0 + gap / 2..x1).step_by(gap as usize).map(|x| [(x, y0), (x, y1)])),
    }
    for [a, b] in segments {
        root.draw(&PathElement::new(vec![a, b], style))?;
    }
    Ok(())
}

pub(super) fn swatch<B: Pen>(
    root: &Area<B>,
    part: usize,
    a: (i32, i32),
    b: (i32, i32),
) -> Result<(), Box<dyn std::error::Error>> {
    root.draw(&Rectangle::new([a, b], FILLS[part % FILLS.len()].filled()))?;
    hatch(root, HATCHES[part % HATCHES.len()], a, b)?;
    root.draw(&Rectangle::new([a, b], BLACK.stroke_width(1)))?;
    Ok(())
}

/// A note cut into lines of at most `width` characters, at spaces.
pub(super) fn wrap(note: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in note.split_whitespace() {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dashed_line_is_cut_into_dashes_of_the_pattern() {
        let pieces = dashes(&[(0, 0), (40, 0)], Dash::Dashed);
        assert_eq!(pieces, vec![vec![(0, 0), (9, 0)], vec![(14, 0), (23, 0)], vec![(28, 0), (37, 0)]]);
        assert_eq!(dashes(&[(0, 0), (5, 0), (5, 5)], Dash::Solid).len(), 1);
    }

    #[test]
    fn notes_wrap_at_spaces() {
        assert_eq!(wrap("aaa bbb ccc", 7), ["aaa bbb", "ccc"]);
    }
}

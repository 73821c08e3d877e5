//! Draws a [`Chart`] as a TikZ picture for the LaTeX reports: a plotters backend that writes each
//! line, rectangle, polygon, circle and word as a TikZ command, so the picture has the same
//! geometry as the SVG (one pixel is one point, y pointing down). pdflatex cannot read SVG, and
//! drawing with TikZ keeps the text in the document's own fonts (Latin Modern Sans, Type 1).
//! Coordinates are whole points and colours whole bytes, so the same chart gives the same bytes.

use super::chart::Chart;
use super::draw::draw;
use crate::render::latex_text;
use crate::request::{CHART_HEIGHT as HEIGHT, CHART_WIDTH as WIDTH};
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind, FontFamily,
    FontStyle, FontTransform,
};
use std::fmt::Write;

type Failure = DrawingErrorKind<std::io::Error>;

/// Plotters' backend that collects TikZ commands.
struct Tikz<'a> {
    out: &'a mut String,
}

/// `{rgb,255:red,31;green,58;blue,95}`, with the opacity when it is below one.
fn paint(colour: BackendColor, what: &str) -> String {
    let (r, g, b) = colour.rgb;
    let mut out = format!("{what}={{rgb,255:red,{r};green,{g};blue,{b}}}");
    if colour.alpha < 1.0 {
        // Three decimals are plenty for a tint and keep the bytes the same on every machine.
        let _ = write!(out, ", {what} opacity={:.3}", colour.alpha);
    }
    out
}

fn points(path: impl IntoIterator<Item = BackendCoord>) -> String {
    path.into_iter().map(|(x, y)| format!("({x},{y})")).collect::<Vec<_>>().join(" -- ")
}

impl Tikz<'_> {
    fn stroke(&mut self, style: &impl BackendStyle, path: &str) {
        let width = style.stroke_width();
        let _ = writeln!(self.out, "\\draw[{}, line width={width}pt] {path};", paint(style.color(), "draw"));
    }

    fn fill(&mut self, colour: BackendColor, path: &str) {
        let _ = writeln!(self.out, "\\fill[{}] {path};", paint(colour, "fill"));
    }
}

impl DrawingBackend for Tikz<'_> {
    type ErrorType = std::io::Error;

    fn get_size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }

    fn ensure_prepared(&mut self) -> Result<(), Failure> {
        Ok(())
    }

    fn present(&mut self) -> Result<(), Failure> {
        Ok(())
    }

    fn draw_pixel(&mut self, (x, y): BackendCoord, colour: BackendColor) -> Result<(), Failure> {
        if colour.alpha > 0.0 {
            self.fill(colour, &format!("({x},{y}) rectangle ({},{})", x + 1, y + 1));
        }
        Ok(())
    }

    fn draw_line<S: BackendStyle>(&mut self, from: BackendCoord, to: BackendCoord, style: &S) -> Result<(), Failure> {
        if style.color().alpha > 0.0 {
            self.stroke(style, &points([from, to]));
        }
        Ok(())
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        (x0, y0): BackendCoord,
        (x1, y1): BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), Failure> {
        let path = format!("({x0},{y0}) rectangle ({x1},{y1})");
        match (style.color().alpha > 0.0, fill) {
            (false, _) => {}
            (true, true) => self.fill(style.color(), &path),
            (true, false) => self.stroke(style, &path),
        }
        Ok(())
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), Failure> {
        let path = points(path);
        if style.color().alpha > 0.0 && path.contains("--") {
            self.stroke(style, &path);
        }
        Ok(())
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), Failure> {
        if style.color().alpha > 0.0 {
            self.fill(style.color(), &format!("{} -- cycle", points(path)));
        }
        Ok(())
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        (x, y): BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), Failure> {
        let path = format!("({x},{y}) circle[radius={radius}pt]");
        match (style.color().alpha > 0.0, fill) {
            (false, _) => {}
            (true, true) => self.fill(style.color(), &path),
            (true, false) => self.stroke(style, &path),
        }
        Ok(())
    }

    fn draw_text<S: BackendTextStyle>(&mut self, text: &str, style: &S, (x, y): BackendCoord) -> Result<(), Failure> {
        if style.color().alpha == 0.0 || text.trim().is_empty() {
            return Ok(());
        }
        let anchor = style.anchor();
        let vertical = match anchor.v_pos {
            VPos::Top => "north",
            VPos::Center => "mid",
            VPos::Bottom => "south",
        };
        let anchor = match (anchor.h_pos, vertical) {
            (HPos::Left, v) => format!("{v} west"),
            (HPos::Right, v) => format!("{v} east"),
            (HPos::Center, "mid") => "mid".to_string(),
            (HPos::Center, v) => v.to_string(),
        };
        let rotate = match style.transform() {
            FontTransform::Rotate90 => ", rotate=-90",
            FontTransform::Rotate180 => ", rotate=180",
            FontTransform::Rotate270 => ", rotate=90",
            _ => "",
        };
        // The SVG backend sets text at 1/1.24 of the style's size; the same here keeps the layout.
        let size = (style.size() / 1.24 * 10.0).round() / 10.0;
        let family = match style.family() {
            FontFamily::Serif => "\\rmfamily",
            FontFamily::Monospace => "\\ttfamily",
            _ => "\\sffamily",
        };
        let weight = if matches!(style.style(), FontStyle::Bold) { "\\bfseries" } else { "" };
        let _ = writeln!(
            self.out,
            "\\node[anchor={anchor}, inner sep=0pt, {}{rotate}, font={{\\fontsize{{{size}}}{{{}}}\\selectfont{family}{weight}}}] at ({x},{y}) {{{}}};",
            paint(style.color(), "text"),
            (size * 1.2 * 10.0).round() / 10.0,
            latex_text(text)
        );
        Ok(())
    }
}

/// The chart as a `tikzpicture` (one point per pixel, y down), to be scaled by its container.
pub fn render(chart: &Chart) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = Tikz { out: &mut out }.into_drawing_area();
        draw(&root, chart).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(format!("\\begin{{tikzpicture}}[x=1pt, y=-1pt]\n{out}\\end{{tikzpicture}}\n"))
}

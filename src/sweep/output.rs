//! Running a sweep and writing its rows as they come: CSV (compact, for tools), JSON (an array of
//! objects, written incrementally) or a Markdown table. Values are exact (`1/2` for a fraction);
//! a batch that does not fit is empty (CSV, Markdown) or null (JSON).

use super::Compile;
use super::{Axis, Compiled, SweepRequest, Value, Values, points};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::io::Write;

choices! {
    /// How sweep rows are written.
    RowFormat {
        /// Comma-separated values with a header row.
        #[default]
        Csv = "csv",
        /// One JSON array of objects.
        Json = "json",
        /// A Markdown table.
        Markdown = "markdown",
    }
}

/// Runs `request` in `session`, writing rows to `out` as they are evaluated. The whole request is
/// checked first — its size, every model and convention it names compiled, every size at every
/// point — so a sweep that fails prints nothing.
pub fn run(session: &dyn Compile, request: &SweepRequest, format: RowFormat, out: &mut dyn Write) -> Result<()> {
    super::size(&request.axes)?;
    super::check_axes(request, session.facts())?;
    let symbol_axes: Vec<(usize, &str, &Values)> = request
        .axes
        .iter()
        .enumerate()
        .filter_map(|(i, a)| match a {
            Axis::Symbol { symbol, values } => Some((i, symbol.as_str(), values)),
            _ => None,
        })
        .collect();
    let swept: Vec<String> = symbol_axes.iter().map(|(_, s, _)| s.to_string()).collect();
    let mut header: Vec<String> = request.axes.iter().map(|a| a.name().to_string()).collect();
    header.extend(request.quantities.iter().cloned());
    let axes: Vec<&Values> = symbol_axes.iter().map(|(_, _, v)| *v).collect();
    // Every combination of models and conventions compiled before the first row.
    let mut compiled: Vec<(BTreeMap<usize, String>, Compiled)> = Vec::new();
    for combo in super::combinations(&request.axes) {
        let mut base = request.base.clone();
        for (i, value) in &combo {
            match &request.axes[*i] {
                Axis::Model(_) => value.clone_into(&mut base.model),
                Axis::Option { name, .. } => base.options.set(name, value)?,
                Axis::Symbol { .. } => {}
            }
        }
        // The first value of each swept symbol binds it, so that the model's checks see a value.
        base.sets.extend(symbol_axes.iter().map(|(_, s, v)| format!("{s}={}", v.get(0))));
        let c = session.compile_sweep(&base, &swept, &request.quantities)?;
        // Sizes that vary with the swept symbols (H/A when H is swept) are checked at every
        // point before anything is written.
        if !c.sites.is_empty() {
            let (mut odometer, mut scratch) = (points(&axes), Vec::new());
            while let Some(point) = odometer.next_point() {
                c.check_sites(&swept, point, &mut scratch)?;
            }
        }
        compiled.push((combo, c));
    }
    let io = |e: std::io::Error| Error::Output { path: "stdout".into(), reason: e.to_string() };
    let mut rows = Rows { format, header: &header, written: 0, line: Vec::new() };
    rows.start(out).map_err(io)?;
    for (combo, compiled) in &compiled {
        let (mut scratch, mut values) = (Vec::new(), Vec::new());
        let mut cells: Vec<Cell> = Vec::with_capacity(header.len());
        let mut odometer = points(&axes);
        while let Some(point) = odometer.next_point() {
            compiled.at_into(&swept, point, &mut scratch, &mut values)?;
            cells.clear();
            let mut next = point.iter();
            for (i, axis) in request.axes.iter().enumerate() {
                cells.push(match axis {
                    Axis::Symbol { .. } => Cell::Int(*next.next().unwrap_or(&0)),
                    _ => Cell::Text(combo.get(&i).map(String::as_str).unwrap_or_default()),
                });
            }
            cells.extend(values.drain(..).map(Cell::Value));
            rows.row(out, &cells).map_err(io)?;
        }
    }
    rows.end(out).map_err(io)
}

enum Cell<'t> {
    Int(i128),
    Text(&'t str),
    Value(Value),
}

impl Cell<'_> {
    /// The cell as CSV and Markdown write it: integers straight to the output, exact fractions
    /// as `n/d`, nothing for a batch that does not fit.
    fn write(&self, out: &mut dyn Write, quote: bool) -> std::io::Result<()> {
        let mut digits = itoa::Buffer::new();
        match self {
            Cell::Int(n) | Cell::Value(Value::Whole(n)) => out.write_all(digits.format(*n).as_bytes()),
            Cell::Text(t) if quote => out.write_all(csv_field(t).as_bytes()),
            Cell::Text(t) => out.write_all(t.as_bytes()),
            Cell::Value(Value::Exact(r)) => out.write_all(crate::dim::plain(r).as_bytes()),
            Cell::Value(Value::None) => Ok(()),
        }
    }
}

struct Rows<'h> {
    format: RowFormat,
    header: &'h [String],
    written: usize,
    line: Vec<u8>,
}

impl Rows<'_> {
    fn start(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        match self.format {
            RowFormat::Csv => writeln!(out, "{}", self.header.join(",")),
            RowFormat::Json => write!(out, "["),
            RowFormat::Markdown => {
                writeln!(out, "| {} |", self.header.join(" | "))?;
                writeln!(out, "|{}", self.header.iter().map(|_| "---:|").collect::<String>())
            }
        }
    }

    fn row(&mut self, out: &mut dyn Write, cells: &[Cell]) -> std::io::Result<()> {
        // One write per row: the line is built in a buffer kept from row to row.
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        self.row_into(&mut line, cells)?;
        out.write_all(&line)?;
        self.line = line;
        Ok(())
    }

    fn row_into(&mut self, out: &mut Vec<u8>, cells: &[Cell]) -> std::io::Result<()> {
        let text = |c: &Cell| {
            let mut bytes = Vec::new();
            let _ = c.write(&mut bytes, false);
            String::from_utf8(bytes).unwrap_or_default()
        };
        match self.format {
            RowFormat::Csv => {
                for (i, c) in cells.iter().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    c.write(out, true)?;
                }
                out.write_all(b"\n")?;
            }
            RowFormat::Markdown => {
                out.write_all(b"|")?;
                for c in cells {
                    out.write_all(b" ")?;
                    c.write(out, false)?;
                    out.write_all(b" |")?;
                }
                out.write_all(b"\n")?;
            }
            RowFormat::Json => {
                let fields: Vec<String> = self
                    .header
                    .iter()
                    .zip(cells)
                    .map(|(h, c)| {
                        let value = match c {
                            Cell::Int(n) => n.to_string(),
                            Cell::Value(Value::None) => "null".into(),
                            // Exact values are strings, as in `tally derive --format json`.
                            other => serde_json::to_string(&text(other)).unwrap_or_default(),
                        };
                        format!("{}: {value}", serde_json::to_string(h).unwrap_or_default())
                    })
                    .collect();
                write!(out, "{}\n  {{{}}}", if self.written == 0 { "" } else { "," }, fields.join(", "))?;
            }
        }
        self.written += 1;
        Ok(())
    }

    fn end(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        match self.format {
            RowFormat::Json => writeln!(out, "\n]"),
            _ => Ok(()),
        }?;
        out.flush()
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

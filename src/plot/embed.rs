//! Charts inside documents. A document holds each chart as a request (what `tally plot` would be
//! asked) beside the derivation it illustrates; [`draw`] draws them only for a format that shows
//! charts — SVG for HTML, TikZ for LaTeX — so text, Markdown and JSON never pay for a chart.
//! Which charts a derivation or an answer sheet has is the document's own choice.

use super::Evaluate;
use crate::derivation::{Block, Document};
use crate::error::Result;
use crate::render::Format;

/// Draws every requested chart of `doc` that `format` shows and that is not drawn yet: SVG for
/// HTML, TikZ for LaTeX; nothing for the other formats.
pub fn draw(session: &dyn Evaluate, doc: &mut Document, format: Format) -> Result<()> {
    let tikz = match format {
        Format::Html => false,
        Format::Latex => true,
        Format::Text | Format::Markdown | Format::Json => return Ok(()),
    };
    for block in &mut doc.blocks {
        let Block::Figure(figure) = block else { continue };
        let Some(request) = &figure.chart else { continue };
        let drawn = if tikz { &mut figure.tikz } else { &mut figure.svg };
        if drawn.is_empty() {
            let chart = super::chart(session, &request.derive, &request.plot)?;
            *drawn = if tikz { super::tikz(&chart)? } else { super::svg(&chart)? };
        }
    }
    Ok(())
}

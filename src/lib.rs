//! tally derives what it costs to train a Transformer language model — parameters, FLOPs, memory —
//! symbolically, from per-operation rules, and prints the derivation.
//!
//! Data flows one way: [`data`] (TOML) → [`model`] (ops with symbolic shapes) → [`ops`] rules →
//! [`quantity`] (the catalog of named quantities) → [`algebra`] simplification → [`derivation`]
//! (a format-free document) → [`render`] (text, Markdown, LaTeX, HTML, JSON); [`audit`] reads
//! claims against the catalog; [`serve`] answers inference questions (memory, what fits, a
//! roofline); [`plot`] draws the quantities as SVG charts; [`sweep`] evaluates them over grids. [`session::Session`] is the door: it
//! owns the per-user lock and the algebra's worker thread. The library never prints and reads no
//! files; the binary does.

#[macro_use]
mod macros;

pub mod algebra;
pub mod audit;
pub mod derivation;
pub mod diagnostic;
pub mod dim;
pub mod error;
pub mod facts;
pub mod hardware;
pub mod loader;
pub mod model;
pub mod ops;
pub mod optimizer;
pub mod options;
pub mod plan;
pub mod plot;
pub mod preset;
pub mod quantity;
pub mod render;
pub mod request;
pub mod resolve;
pub mod serve;
pub mod session;
pub mod sheet;
pub mod suggestion;
pub mod sweep;
pub mod symbol;

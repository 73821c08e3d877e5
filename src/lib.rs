//! tally derives what it costs to train a Transformer language model — parameters, FLOPs, memory —
//! symbolically, from per-operation rules, and prints the derivation.
//!
//! Data flows one way: spec (TOML) → [`model`] (ops with symbolic shapes) → [`ops`] rules →
//! [`quantity`] (symbolic totals) → [`algebra`] simplification → [`derivation`] (document) →
//! [`render`] (text, Markdown, LaTeX, JSON). The library never prints; the binary does.

pub mod algebra;
pub mod audit;
pub mod derivation;
pub mod diagnostic;
pub mod dim;
pub mod error;
pub mod hardware;
pub mod model;
pub mod ops;
pub mod optimizer;
pub mod preset;
pub mod quantity;
pub mod render;
pub mod symbol;

//! tally derives what it costs to train a Transformer language model — parameters, FLOPs, memory —
//! symbolically, from per-operation rules, and prints the derivation.
//!
//! The modules are floors, each importing only those below it (`tests/house.toml`): [`algebra`]
//! at the ground; [`loader`] reads the data files; the domains ([`dim`], [`symbol`], [`ops`],
//! [`optimizer`], [`hardware`], [`model`], [`quantity`], [`preset`]) read their own facts;
//! [`options`] and [`request`] are what a caller says; [`facts`] assembles everything known and
//! [`resolve`] resolves requests against it; [`derivation`] builds a format-free document that
//! [`render`] prints; [`audit`], [`serve`], [`plan`], [`sweep`] and [`plot`] answer the other
//! questions. [`session::Session`] is the door: it owns the per-user lock and the algebra's
//! worker thread. The library never prints and reads no files; the binary does.

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

// The library's face: the door, what it is asked and what it answers. The modules stay public for
// tools that need a floor of their own (the tests, the benchmarks).
pub use audit::Report;
pub use derivation::Document;
pub use error::{Error, Result};
pub use options::Options;
pub use request::{AuditRequest, DeriveRequest, PlanRequest, PlotRequest, ServeRequest};
pub use session::{Session, SessionOptions};
pub use sweep::SweepRequest;

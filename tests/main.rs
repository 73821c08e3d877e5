//! tally's integration tests, in one binary so that symbolica is linked once. Each module is an
//! area (the binary as users run it, derivations, training, the audit, rendering, hardening);
//! `common` holds what they share.

mod advice;
mod algebra;
mod audit;
mod browser;
mod channels;
mod cli;
mod common;
mod data;
mod derive;
mod figures;
mod fuzz;
mod golden;
mod hardening;
mod hf;
mod hostile;
mod house;
mod latex;
mod parallel;
mod plot;
mod reader;
mod readme;
mod render;
mod serve;
mod sweep;
mod training;

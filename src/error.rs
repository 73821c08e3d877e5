//! Everything that can go wrong reading input, as values. A problem at a place in a file or an
//! argument keeps that place (the source and the byte span) and is rendered by
//! [`crate::diagnostic`]; the binary prints it and exits with status 2. No variant is a bug report:
//! bugs panic.

use crate::diagnostic::{Diagnostic, Label, Source};
use std::ops::Range;
use std::sync::Arc;
use thiserror::Error;

/// An input tally could not use.
#[derive(Debug, Error)]
pub enum Error {
    /// `--model` named nothing tally knows.
    #[error("unknown model `{name}`{}\n  known models: {}\n  or pass the path of a model file (.toml)", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default(), known.join(", "))]
    UnknownModel {
        /// What was asked for.
        name: String,
        /// The closest known name.
        suggestion: Option<String>,
        /// What exists.
        known: Vec<String>,
    },
    /// A named thing (hardware, precision, optimizer) that tally does not know.
    #[error("unknown {what} `{name}`{}; {}", crate::suggestion::suggest(name, known).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default(), if known.is_empty() { "there are none".to_string() } else { format!("known: {}", known.join(", ")) })]
    Unknown {
        /// What kind of thing.
        what: String,
        /// What was asked for.
        name: String,
        /// What exists.
        known: Vec<String>,
    },
    /// An option with an unusable value.
    #[error("bad {option} `{value}`: {reason}")]
    BadOption {
        /// The option (`--memory`).
        option: String,
        /// The value as given.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// Options that cannot be used together or here, in a sentence.
    #[error("{0}")]
    Usage(String),
    /// A file could not be read.
    #[error("cannot read `{path}`: {reason}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// A problem at a known place in a file or an argument.
    #[error("{}", .0.plain())]
    Located(Box<Diagnostic>),
    /// A `--set` value that is not `SYMBOL=VALUE` with a known symbol and a usable value.
    #[error("bad --set `{arg}`: {reason}")]
    BadSet {
        /// The argument as given.
        arg: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A size that must be a positive whole number is not.
    #[error("{0}")]
    InvalidSize(String),
    /// The algebra could not work with a formula (a zero denominator, a size past tally's bounds).
    #[error(transparent)]
    Algebra(#[from] crate::algebra::AlgebraError),
    /// A formula has no value at the bound sizes.
    #[error("{0}")]
    Eval(#[from] crate::algebra::EvalError),
    /// The per-user lock could not be taken.
    #[error(transparent)]
    Lock(#[from] crate::algebra::permit::LockError),
    /// Writing the output failed.
    #[error("cannot write `{path}`: {reason}")]
    Output {
        /// Where.
        path: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// A problem at `span` of `source`, labelled by position only.
    pub fn at(source: &Source, span: Range<usize>, message: impl Into<String>) -> Error {
        Error::at_shared(&Arc::new(source.clone()), span, message)
    }

    /// A problem at `span` of a shared source.
    pub fn at_shared(source: &Arc<Source>, span: Range<usize>, message: impl Into<String>) -> Error {
        Error::Located(Box::new(
            Diagnostic::error(message).in_source(source.clone()).with_label(Label::primary(span, "")),
        ))
    }

    /// The error as a diagnostic, for rendering: located errors keep their place, the others are
    /// a message alone.
    pub fn diagnostic(&self) -> Diagnostic {
        match self {
            Error::Located(d) => (**d).clone(),
            other => Diagnostic::error(other.to_string()),
        }
    }
}

/// Result with tally's error.
pub type Result<T> = std::result::Result<T, Error>;

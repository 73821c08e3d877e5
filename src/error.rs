//! Everything that can go wrong reading input, as values. Each variant says what was wrong and
//! where; the binary prints it and exits with status 2. No variant is a bug report: bugs panic.

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
    /// A named thing (hardware, precision) that tally does not know.
    #[error("unknown {what} `{name}`{}; {}", crate::preset::suggest(name, known).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default(), if known.is_empty() { "there are none".to_string() } else { format!("known: {}", known.join(", ")) })]
    Unknown {
        /// What kind of thing.
        what: String,
        /// What was asked for.
        name: String,
        /// What exists.
        known: Vec<String>,
    },
    /// A command-line option with an unusable value.
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
    /// A problem at a known place in a file or argument; `at` is the rendered location snippet.
    #[error("{message}\n{at}")]
    Located {
        /// What is wrong.
        message: String,
        /// `file:line:col` with the line and a caret.
        at: String,
    },
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

/// Result with tally's error.
pub type Result<T> = std::result::Result<T, Error>;

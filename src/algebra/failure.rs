//! Why the algebra could not do what was asked.

use super::limits::LimitError;

/// Why the algebra could not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AlgebraError {
    /// A denominator is identically zero.
    #[error("division by zero: a denominator in this formula is identically 0")]
    DivisionByZero,
    /// The expression is too large to work with.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// symbolica returned something tally does not model (a function, a fractional power).
    #[error("the algebra returned a form tally cannot read: {0}")]
    Unreadable(&'static str),
}

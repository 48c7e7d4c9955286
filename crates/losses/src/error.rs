//! The error type of `losses`.

/// Why a loss could not be evaluated. Never a NaN result: every non-finite outcome is one of
/// these.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LossError {
    /// A vector or matrix does not have the size `A` implies.
    #[error("{what}: expected length {expected}, found {found}")]
    DimensionMismatch {
        /// Which input is mismatched.
        what: &'static str,
        /// Required length.
        expected: usize,
        /// Length actually given.
        found: usize,
    },
    /// An input (`x`, `b`, `w`) holds NaN or ±Inf.
    #[error("{what}[{index}] is {value}, not a finite number")]
    NonFiniteInput {
        /// Which input (`x`, `b`, `w`).
        what: &'static str,
        /// Index of the non-finite entry.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// `u(Ax)` or a quantity built from it overflows `f64`.
    #[error("overflow: {detail} {}", overflow_cause(*max_abs_z, *row))]
    Overflow {
        /// `max_i |(Ax)_i|` at the failing point.
        max_abs_z: f64,
        /// First row attaining `max_abs_z`.
        row: usize,
        /// Which quantity overflowed.
        detail: &'static str,
    },
    /// An eigenvalue or norm computation failed.
    #[error("spectral computation failed: {0}")]
    Spectral(String),
}

/// The cause of an overflow, as the message states it: `u(Ax)` itself only when `|(Ax)_i|` is
/// past `exp`'s range (or not finite); otherwise the size of the data (a message blaming
/// "`(Ax)_i` = 0" for a loss that overflowed because `b` is huge sent users the wrong way).
fn overflow_cause(max_abs_z: f64, row: usize) -> String {
    if !max_abs_z.is_finite() || max_abs_z > crate::objective::LN_MAX {
        format!("(largest |(Ax)_i| = {max_abs_z:.6e} at row {row}; exp overflows above 709.78)")
    } else {
        format!(
            "(u(Ax) is finite: largest |(Ax)_i| = {max_abs_z:.3e} at row {row}; the size of b, w or A's entries makes \
             the sums overflow: rescale the data)"
        )
    }
}

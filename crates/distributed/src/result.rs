//! `result.json`, in the shape `spnewton solve` writes: the solver's report at the top level
//! (so it reads back as a `newton::Report`), the strategy, the problem's shape and the check
//! counts (the distributed solver runs no SPEC §4 checks: all zero), plus the ranks and chunks;
//! one definition with `spnewton solve`'s, [`newton::ResultFile`].

use serde::{Deserialize, Serialize};

// The shapes `spnewton solve` writes too: one definition, in `newton`.
pub use newton::{CheckCounts, ProblemSummary};

/// The `distribution` object of `result.json`: how the rows were partitioned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// The number of MPI ranks `P`.
    pub ranks: usize,
    /// The number of row chunks `C` (see [`crate::Chunking`]).
    pub chunks: usize,
}

/// What `spnewton-mpi solve` adds to [`newton::ResultFile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistExtra {
    /// Ranks and chunks of the run.
    pub distribution: Distribution,
    /// `x` as the hexadecimal bits of each `f64`: what the rank-count tests compare.
    pub x_bits: Vec<String>,
}

/// The whole `result.json`, written by rank 0: `spnewton solve`'s shape (the check counts are
/// zero: the distributed solver runs no SPEC §4 checks) plus [`DistExtra`].
pub type ResultFile = newton::ResultFile<DistExtra>;

/// The bits of `x`, one hexadecimal word per entry.
pub fn bits(x: &[f64]) -> Vec<String> {
    x.iter().map(|v| format!("{:016x}", v.to_bits())).collect()
}

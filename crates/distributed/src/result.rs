//! `result.json`, in the shape `spnewton solve` writes: the solver's report at the top level
//! (so it reads back as a `newton::Report`), the strategy, the problem's shape and the check
//! counts (the distributed solver runs no SPEC §4 checks: all zero), plus the ranks and chunks.

use newton::Report;
use serde::{Deserialize, Serialize};

/// The `problem` object of `result.json`: the shape and loss of the whole (global) problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemSummary {
    /// Rows of `A` (all ranks together).
    pub n: usize,
    /// Columns of `A`: the dimension of `x`.
    pub d: usize,
    /// Nonzeros of `A` (all ranks together).
    pub nnz: usize,
    /// The loss's name (as in `meta.json`).
    pub loss: String,
    /// The activation's name (`fn` in the file).
    #[serde(rename = "fn")]
    pub func: String,
}

/// The `check_counts` object of `result.json`: iterations checked against SPEC §4 and how many
/// passed. Always zero here: the distributed solver runs no checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckCounts {
    /// Iterations the checks ran on.
    pub iterations_checked: usize,
    /// Of those, the iterations whose contraction check passed.
    pub iterations_contraction_ok: usize,
    /// Of those, the iterations whose Lipschitz check passed.
    pub iterations_lipschitz_ok: usize,
}

/// The `distribution` object of `result.json`: how the rows were partitioned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// The number of MPI ranks `P`.
    pub ranks: usize,
    /// The number of row chunks `C` (see [`crate::Chunking`]).
    pub chunks: usize,
}

/// The whole `result.json`, written by rank 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    /// The solver's report, flattened into the top level.
    #[serde(flatten)]
    pub report: Report,
    /// The strategy's name ([`crate::Mode::name`]).
    pub strategy: String,
    /// The problem's shape and loss.
    pub problem: ProblemSummary,
    /// The SPEC §4 check counts (all zero).
    pub check_counts: CheckCounts,
    /// Ranks and chunks of the run.
    pub distribution: Distribution,
    /// `x` as the hexadecimal bits of each `f64`: what the rank-count tests compare.
    pub x_bits: Vec<String>,
}

/// The bits of `x`, one hexadecimal word per entry.
pub fn bits(x: &[f64]) -> Vec<String> {
    x.iter().map(|v| format!("{:016x}", v.to_bits())).collect()
}

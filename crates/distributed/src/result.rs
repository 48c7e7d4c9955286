//! `result.json`, in the shape `spnewton solve` writes: the solver's report at the top level
//! (so it reads back as a `newton::Report`), the strategy, the problem's shape and the check
//! counts (the distributed solver runs no SPEC §4 checks: all zero), plus the ranks and chunks.

use newton::Report;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemSummary {
    pub n: usize,
    pub d: usize,
    pub nnz: usize,
    pub loss: String,
    #[serde(rename = "fn")]
    pub func: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckCounts {
    pub iterations_checked: usize,
    pub iterations_contraction_ok: usize,
    pub iterations_lipschitz_ok: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub ranks: usize,
    pub chunks: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    #[serde(flatten)]
    pub report: Report,
    pub strategy: String,
    pub problem: ProblemSummary,
    pub check_counts: CheckCounts,
    pub distribution: Distribution,
    /// `x` as the hexadecimal bits of each `f64`: what the rank-count tests compare.
    pub x_bits: Vec<String>,
}

/// The bits of `x`, one hexadecimal word per entry.
pub fn bits(x: &[f64]) -> Vec<String> {
    x.iter().map(|v| format!("{:016x}", v.to_bits())).collect()
}

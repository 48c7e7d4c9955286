//! `result.json`: the one shape every solver front end writes (`spnewton solve`,
//! `spnewton-mpi solve`). The solver's [`Report`] sits at the top level, each value once, so the
//! file reads back as a `Report`; beside it the strategy, the problem's shape and the SPEC §4
//! check counts; and, flattened too, what a front end adds of its own (`E`: the default
//! strategy's choice, the distribution over ranks).
//!
//! ```
//! use newton::{ProblemSummary, Report, ResultFile, Status, Timing};
//! let report = Report {
//!     status: Status::Converged, x: vec![1.0], loss: 0.0, grad_norm: 0.0, grad_norm0: 1.0,
//!     iterations: 1, history: vec![], timing: Timing::default(), total_s: 0.01,
//!     regime_from_iteration: None, r_against_x_star: false, message: None,
//! };
//! #[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
//! struct Mine { note: String }
//! let problem = ProblemSummary { n: 1, d: 1, nnz: 1, loss: "linear".into(), func: "exp".into() };
//! let file = ResultFile::new(report, "exact", problem, Mine { note: "hi".into() });
//! let text = serde_json::to_string(&file)?;
//! assert!(text.contains(r#""note":"hi""#) && text.contains(r#""strategy":"exact""#));
//! assert_eq!(serde_json::from_str::<ResultFile<Mine>>(&text)?, file);
//! # Ok::<(), serde_json::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::report::{CheckCounts, IterRecord, ProblemSummary, Report};

/// The whole `result.json`: [`Report`] and the front end's extension `E`, both flattened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultFile<E> {
    /// The solver's report, flattened into the top level.
    #[serde(flatten)]
    pub report: Report,
    /// The strategy's name.
    pub strategy: String,
    /// The problem's shape and loss.
    pub problem: ProblemSummary,
    /// The SPEC §4 check counts, from the report's history.
    pub check_counts: CheckCounts,
    /// What the front end adds, flattened into the top level.
    #[serde(flatten)]
    pub extra: E,
}

impl<E> ResultFile<E> {
    /// The file of a finished solve; the check counts are counted from `report.history`.
    pub fn new(report: Report, strategy: &str, problem: ProblemSummary, extra: E) -> Self {
        let check_counts = CheckCounts::of(&report.history);
        ResultFile { report, strategy: strategy.to_string(), problem, check_counts, extra }
    }
}

impl CheckCounts {
    /// The counts of a history: iterations checked, and of those the ones whose contraction
    /// and Lipschitz checks passed.
    pub fn of(history: &[IterRecord]) -> Self {
        let count = |f: &dyn Fn(&crate::Checks) -> bool| history.iter().filter(|h| f(&h.checks)).count();
        CheckCounts {
            iterations_checked: count(&|c| c.contraction_ok.is_some() || c.lipschitz_ok.is_some()),
            iterations_contraction_ok: count(&|c| c.contraction_ok == Some(true)),
            iterations_lipschitz_ok: count(&|c| c.lipschitz_ok == Some(true)),
        }
    }
}

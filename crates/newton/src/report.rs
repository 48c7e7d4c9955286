//! What the solver reports: the status, the per-iteration records and the checks.

use serde::{Deserialize, Serialize};

/// Why the solver stopped. Only `Converged` means a certified minimum: finite loss and
/// gradient, the gradient test `‖g‖ ≤ max(tol·‖g(x₀)‖, atol)` together with the scale-invariant
/// Newton decrement test `gᵀH̃⁻¹g/2 ≤ tol·|f| + (the loss's rounding floor)` (or `‖g‖ ≤ atol`,
/// the caller's own absolute scale, or no step lowering the loss at all: stationary to
/// rounding), and no negative curvature. Every other status is a stop for the reason it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The convergence tests passed at a finite point with no negative curvature.
    Converged,
    /// The iteration limit was reached first.
    MaxIterations,
    /// The wall-clock budget ran out first.
    MaxTime,
    /// No step decreases the loss any more (line search failed) before the tolerance.
    Stalled,
    /// A stationary point with negative curvature that could not be left.
    Saddle,
    /// A factorisation or step failed (the Newton matrix underflows, cannot be factorised even
    /// with damping, or gives a non-finite step).
    NumericalError,
    /// The loss, the gradient or its norm overflows `f64` at the current point or at the point
    /// the line search accepted.
    Overflow,
    /// The observer asked to stop (Ctrl-C, a user callback) between iterations.
    Interrupted,
}

// The names are serde's (snake_case): a status reads back from its `result.json` text.
runtime::named_enum!(Status {
    Converged => "converged",
    MaxIterations => "max_iterations",
    MaxTime => "max_time",
    Stalled => "stalled",
    Saddle => "saddle",
    NumericalError => "numerical_error",
    Overflow => "overflow",
    Interrupted => "interrupted",
});

/// Seconds spent in each phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Loss, gradient and Hessian parts (including line-search evaluations).
    pub eval_s: f64,
    /// Leverage scores and sampling / embedding.
    pub sketch_s: f64,
    /// Forming the `d×d` matrix (Gram of kept rows, low-rank part).
    pub hessian_s: f64,
    /// Cholesky, damping, triangular solves, CG.
    pub solve_s: f64,
    /// The SPEC §4 diagnostics (not part of the solver's cost).
    pub checks_s: f64,
}

impl Timing {
    /// Add `o`'s seconds phase by phase.
    pub fn add(&mut self, o: &Timing) {
        self.eval_s += o.eval_s;
        self.sketch_s += o.sketch_s;
        self.hessian_s += o.hessian_s;
        self.solve_s += o.solve_s;
        self.checks_s += o.checks_s;
    }
    /// Solver time without the diagnostics.
    pub fn solver_s(&self) -> f64 {
        self.eval_s + self.sketch_s + self.hessian_s + self.solve_s
    }
}

/// The SPEC §4 induction-hypothesis quantities at one iteration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Checks {
    /// `l`: smallest eigenvalue of the exact Hessian at `x_t`.
    pub l_est: Option<f64>,
    /// `M`: `‖H(x_{t+1}) − H(x_t)‖₂ / ‖x_{t+1} − x_t‖`.
    pub m_est: Option<f64>,
    /// `r_t = ‖x_t − x*‖` (with `x*` known) or `‖x_{t+1} − x_t‖` (successive steps).
    pub r: Option<f64>,
    /// `r_{t+1}/r_t`.
    pub contraction: Option<f64>,
    /// `r_{t+1} ≤ 0.4·r_t`.
    pub contraction_ok: Option<bool>,
    /// `M·r_t ≤ 0.1·l`.
    pub lipschitz_ok: Option<bool>,
    /// Which estimates gave `l` and `M` ([`crate::ChecksKind`]): `derived` from the step's own
    /// quantities, `exact` from separate eigenvalue computations; `None` when no check ran.
    #[serde(default)]
    pub kind: Option<crate::params::ChecksKind>,
}

/// A step that did not go as plain Newton would.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fallback {
    /// Rows where the exact diagonal `D` was negative got the Gauss–Newton `D_GN` in the sketch.
    NegativeDiagonal {
        /// Number of rows switched to `D_GN`.
        rows: usize,
    },
    /// `H̃` was not positive definite: `H̃ + μ·diag(H̃)` was factorised instead (μ relative).
    Damped {
        /// The relative damping `μ` that made `H̃` factorisable.
        mu: f64,
    },
    /// CG met negative curvature or did not converge: the preconditioner's step was used.
    PcgFallback {
        /// Why CG's step was not used.
        reason: String,
    },
    /// A stationary point with negative curvature: a step along the eigenvector was taken.
    NegativeCurvatureStep {
        /// The smallest eigenvalue estimate `λ_min < 0` of the Hessian.
        lambda_min: f64,
    },
    /// Newton–CG met a direction `d` with `dᵀHd ≤ 0`: CG stopped and its iterate so far
    /// (steepest descent `−g` at iteration 0) was the step.
    CgNegativeCurvature {
        /// The CG iteration at which it happened.
        iteration: usize,
        /// `dᵀHd`.
        curvature: f64,
    },
    /// Newton–CG reached its iteration limit above the forcing term: its iterate was the step.
    CgTruncated {
        /// CG iterations taken.
        iterations: usize,
        /// `‖Hp + g‖/‖g‖` at the end.
        rel_residual: f64,
    },
}

/// One iteration, as delivered to the observer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IterRecord {
    /// Iteration number `t` (from 0).
    pub iteration: usize,
    #[serde(with = "non_finite")]
    /// `L(x_t)`, the loss at the point the iteration started from.
    pub loss: f64,
    #[serde(with = "non_finite")]
    /// `‖∇L(x_t)‖`.
    pub grad_norm: f64,
    /// `‖x_{t+1} − x_t‖`, the length of the accepted move.
    pub step_norm: f64,
    /// The step length `α` the line search accepted.
    pub step_length: f64,
    /// `sqrt(−gᵀp)` for the step `p`.
    pub newton_decrement: f64,
    /// Rows kept by the sample (sketched strategies).
    pub rows_kept: Option<usize>,
    /// CG iterations of the step (PCG strategies).
    pub cg_iterations: Option<usize>,
    /// Passes over `A` made by the solver in this iteration (diagnostics excluded).
    pub passes_over_a: usize,
    /// Seconds spent in each phase of this iteration.
    pub timing: Timing,
    /// Departures from a plain Newton step, in the order they happened.
    pub fallbacks: Vec<Fallback>,
    /// The SPEC §4 checks (when enabled).
    pub checks: Checks,
}

/// The point an iteration reached, handed to the observer with its record (the record holds
/// the loss at the point the iteration started from).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Iterate<'a> {
    /// `x_{t+1}`.
    pub x: &'a [f64],
    /// `L(x_{t+1})`.
    pub loss: f64,
    /// `‖∇L(x_{t+1})‖`.
    pub grad_norm: f64,
}

/// The outcome of [`crate::solve`]. Non-convergence is a report with a status, not an error.
///
/// Serialises to JSON and reads back to an equal value (`serde_json`'s `float_roundtrip`
/// keeps every bit of finite values); `spnewton solve --out` writes it at the top level of
/// `result.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Why the solver stopped.
    pub status: Status,
    /// The final point.
    pub x: Vec<f64>,
    #[serde(with = "non_finite")]
    /// `L(x)` at the final point.
    pub loss: f64,
    #[serde(with = "non_finite")]
    /// `‖∇L(x)‖` at the final point.
    pub grad_norm: f64,
    #[serde(with = "non_finite")]
    /// `‖∇L(x₀)‖` at the start.
    pub grad_norm0: f64,
    /// Number of iterations made.
    pub iterations: usize,
    /// One record per iteration.
    pub history: Vec<IterRecord>,
    /// Seconds per phase, summed over iterations.
    pub timing: Timing,
    /// Wall-clock seconds of the whole solve.
    pub total_s: f64,
    /// First iteration from which every later iteration satisfied both checks (SPEC §4), or
    /// `None` if that never happened (or checks were off).
    pub regime_from_iteration: Option<usize>,
    /// Whether `r_t` was measured against a known `x*`.
    pub r_against_x_star: bool,
    /// A message for `numerical_error` / `stalled`.
    pub message: Option<String>,
}

/// Serde for a loss or norm that may be `±inf` or NaN in a report that did not converge: JSON has
/// no such numbers (`serde_json` would write `null`, which reads as "no value"), so they are
/// written as the strings `"inf"`, `"-inf"`, `"nan"` and read back from them. Finite values
/// stay numbers.
mod non_finite {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        match *v {
            v if v.is_finite() => s.serialize_f64(v),
            v if v.is_nan() => s.serialize_str("nan"),
            v if v > 0.0 => s.serialize_str("inf"),
            _ => s.serialize_str("-inf"),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrName {
        Number(f64),
        Name(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match NumberOrName::deserialize(d)? {
            NumberOrName::Number(v) => Ok(v),
            NumberOrName::Name(n) => match n.as_str() {
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                "nan" => Ok(f64::NAN),
                other => Err(serde::de::Error::custom(format!(
                    "expected a number, \"inf\", \"-inf\" or \"nan\", got {other:?}"
                ))),
            },
        }
    }

    #[cfg(test)]
    mod tests {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct W(#[serde(with = "super")] f64);

        #[test]
        fn non_finite_values_are_named_never_null_and_read_back() {
            for (v, text) in [(f64::INFINITY, "\"inf\""), (f64::NEG_INFINITY, "\"-inf\""), (f64::NAN, "\"nan\"")] {
                let json = serde_json::to_string(&W(v)).unwrap();
                assert_eq!(json, text);
                let back: W = serde_json::from_str(&json).unwrap();
                assert_eq!(back.0.to_bits(), v.to_bits());
            }
            let x = 0.1 + 0.2;
            let back: W = serde_json::from_str(&serde_json::to_string(&W(x)).unwrap()).unwrap();
            assert_eq!(back.0.to_bits(), x.to_bits());
            assert!(serde_json::from_str::<W>("\"big\"").is_err());
        }
    }
}

/// The `problem` object of `result.json`: the shape and loss of the whole (global) problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemSummary {
    /// Rows of `A` (all ranks together, when distributed).
    pub n: usize,
    /// Columns of `A`: the dimension of `x`.
    pub d: usize,
    /// Nonzeros of `A`.
    pub nnz: usize,
    /// The loss's name (as in `meta.json`).
    pub loss: String,
    /// The activation's name (`fn` in the file).
    #[serde(rename = "fn")]
    pub func: String,
}

/// The `check_counts` object of `result.json`: iterations checked against SPEC §4 and how many
/// passed. (`Default`: none ran, as in the distributed solver.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckCounts {
    /// Iterations the checks ran on.
    pub iterations_checked: usize,
    /// Of those, the iterations whose contraction check passed.
    pub iterations_contraction_ok: usize,
    /// Of those, the iterations whose Lipschitz check passed.
    pub iterations_lipschitz_ok: usize,
}

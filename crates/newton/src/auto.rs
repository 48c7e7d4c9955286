//! `auto`: the default strategy from a cost model with this machine's rates.
//!
//! Two micro-kernels are timed at start-up ([`Calibration::measure`], about a millisecond):
//! one `A·x` plus one `Aᵀ·y` over a fixed sample of `A`'s rows (≤ 2¹⁴ nonzeros: seconds per
//! nonzero of a pass pair, `t₂`), and a dense Cholesky of order `min(d, 128)` (seconds per
//! flop, `t_c`). One Newton step is then predicted, in seconds, as
//!
//! - `exact`: an evaluation (one pass pair) plus the weighted Gram, measured at 6–12 pass
//!   pairs' worth at 5–20 nonzeros a row and `d` = 50–500 (`bench sketch-cost`; taken as
//!   [`GRAM_PASS_PAIRS`]), plus the Cholesky: `t₂·nnz·(1 + 8) + t_c·d³/3`;
//! - `newton-cg`: an evaluation plus about 10 CG iterations of the fused Hessian-vector
//!   product, each 2/3 of a pass pair (`bench losses`): `t₂·nnz·(1 + 10·2/3)`.
//!
//! The flop rule of [`Strategy::default_for`] decides unless the timed model disagrees with it
//! by at least a factor [`OVERRULE`]. The kernels are timed only where that can happen: when
//! the flops say `exact` and its Cholesky is at least a tenth of a Newton–CG step's flops
//! (`d³/3 ≥ 2·nnz`); elsewhere (small `d`, or `newton-cg` already) nothing is timed and
//! `auto` costs nothing. Near the crossover near the crossover the choice stays a function of the
//! shape alone (the same strategy, hence the same bits, on every run), and the timings correct
//! it only where this machine's rates are far from the flop model's. The choice and every
//! figure it came from go into `result.json` ([`Choice`]). `--hessian` pins a strategy.
//! The timings can only move the choice towards `newton-cg`: in this model an exact step
//! (an evaluation and a Gram, 9 pass pairs) never costs less than a Newton–CG step (7⅔), so
//! they overrule `exact` where this machine's Cholesky is slow, never the reverse.
//!
//! ```
//! use newton::auto::Choice;
//! use newton::sparse_ops::CsrMatrix;
//! use newton::Strategy;
//! // 3 columns, 2 nonzeros a row: the exact matrix is trivially cheap.
//! let a = CsrMatrix::try_from_csr(3, 3, vec![0, 2, 4, 6], vec![0, 1, 1, 2, 0, 2], vec![1.0; 6])?;
//! let c = Choice::for_matrix(&a);
//! assert_eq!(c.strategy, Strategy::Exact);
//! assert!(c.calibration.is_none()); // d³/3 = 9 flops: nothing worth timing
//! // 100 columns, 5,000 rows of 10: exact by flops, and its Cholesky matters: timed.
//! let (n, d) = (5000, 100);
//! let mut indices = Vec::new();
//! for i in 0..n {
//!     let mut row: Vec<u32> = (0..10).map(|k| ((i + 10 * k) % d) as u32).collect();
//!     row.sort();
//!     indices.extend(row);
//! }
//! let a = CsrMatrix::try_from_csr(n, d, (0..=n).map(|i| 10 * i).collect(), indices, vec![1.0; 10 * n])?;
//! let c = Choice::for_matrix(&a);
//! assert!(c.calibration.is_some_and(|r| r.pass_pair_s_per_nnz > 0.0) && c.exact_s.is_some());
//! # Ok::<(), newton::sparse_ops::StructureError>(())
//! ```

use std::time::Instant;

use faer::{Mat, Par};
use serde::{Deserialize, Serialize};
use sparse_ops::CsrMatrix;

use crate::linalg::cholesky;
use crate::params::Strategy;

/// Pass pairs (`A·x` + `Aᵀ·y`) one weighted Gram `AᵀDA` costs (measured 6–12).
pub const GRAM_PASS_PAIRS: f64 = 8.0;
/// CG iterations assumed per Newton–CG step.
pub const CG_ITERATIONS: f64 = 10.0;
/// One fused Hessian-vector product in pass pairs (measured 1.5× faster than two passes).
pub const FUSED_PASS_PAIRS: f64 = 2.0 / 3.0;
/// How far (as a ratio) the timed model must disagree with the flop rule to overrule it.
pub const OVERRULE: f64 = 2.0;
/// Nonzeros of the row sample the pass is timed on.
const SAMPLE_NNZ: usize = 1 << 14;
/// The largest Cholesky timed.
const MAX_CHOLESKY: usize = 128;

/// This machine's rates, timed on the problem's own matrix.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Seconds per nonzero of one `A·x` plus one `Aᵀ·y` (best of 3, on a row sample).
    pub pass_pair_s_per_nnz: f64,
    /// Seconds per flop (`m³/3`) of a dense Cholesky of order `m = min(d, 128)` (best of 3).
    pub cholesky_s_per_flop: f64,
    /// The time the calibration took.
    pub seconds: f64,
}

impl Calibration {
    /// Time the two micro-kernels on `a` (under a millisecond: three pass pairs over 2¹⁴
    /// nonzeros and three Choleskys of order ≤ 128).
    pub fn measure(a: &CsrMatrix) -> Calibration {
        let t0 = Instant::now();
        let sample = row_sample(a);
        let (m, d) = sample.shape();
        let (x, mut y, mut z) = (vec![1.0; d], vec![0.0; m], vec![0.0; d]);
        let pass = best_of_3(|| {
            sample.mul_vec(&x, &mut y);
            sample.tr_mul_vec(&y, &mut z);
        });
        let k = a.ncols().clamp(1, MAX_CHOLESKY);
        // Diagonally dominant, hence positive definite.
        let h = Mat::from_fn(k, k, |i, j| if i == j { k as f64 } else { 1.0 / (1 + i + j) as f64 });
        let chol = best_of_3(|| {
            std::hint::black_box(cholesky(&h, Par::Seq));
        });
        Calibration {
            pass_pair_s_per_nnz: pass / sample.nnz().max(1) as f64,
            cholesky_s_per_flop: chol / ((k as f64).powi(3) / 3.0).max(1.0),
            seconds: t0.elapsed().as_secs_f64(),
        }
    }

    /// Predicted seconds of one `exact` and one `newton-cg` step on an `n×d` matrix with `nnz`
    /// nonzeros.
    pub fn step_seconds(&self, d: usize, nnz: usize) -> (f64, f64) {
        let pass = self.pass_pair_s_per_nnz * nnz as f64;
        let exact = pass * (1.0 + GRAM_PASS_PAIRS) + self.cholesky_s_per_flop * (d as f64).powi(3) / 3.0;
        (exact, pass * (1.0 + CG_ITERATIONS * FUSED_PASS_PAIRS))
    }
}

/// Rows spread evenly over `a` (every `⌈nnz/2¹⁴⌉`-th), as their own matrix.
fn row_sample(a: &CsrMatrix) -> CsrMatrix {
    let n = a.nrows();
    let step = a.nnz().div_ceil(SAMPLE_NNZ).max(1);
    let (mut indptr, mut indices, mut data) = (vec![0], Vec::new(), Vec::new());
    for i in (0..n).step_by(step) {
        let (c, v) = a.row(i);
        indices.extend_from_slice(c);
        data.extend_from_slice(v);
        indptr.push(indices.len());
    }
    let rows = indptr.len() - 1;
    CsrMatrix::try_from_csr(rows, a.ncols(), indptr, indices, data).expect("rows of a valid matrix")
}

fn best_of_3(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// The default strategy and everything it was decided from (the `choice` of `result.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// The strategy chosen.
    pub strategy: Strategy,
    /// Flops of one exact Newton matrix, `n·r²/2 + d³/3` (the flop rule).
    pub exact_flops: f64,
    /// Flops of one Newton–CG step, `20·nnz` (the flop rule).
    pub newton_cg_flops: f64,
    /// Predicted seconds of one `exact` step on this machine (when timed).
    pub exact_s: Option<f64>,
    /// Predicted seconds of one `newton-cg` step on this machine (when timed).
    pub newton_cg_s: Option<f64>,
    /// The rates the predictions came from; `None` where timings could not change the choice.
    pub calibration: Option<Calibration>,
    /// The rule that decided, in words.
    pub rule: String,
}

impl Choice {
    /// Calibrate on `a` and choose.
    pub fn for_matrix(a: &CsrMatrix) -> Choice {
        let (n, d, nnz) = (a.nrows(), a.ncols(), a.nnz());
        let timed = Choice::worth_timing(n, d, nnz).then(|| Calibration::measure(a));
        Choice::decide(n, d, nnz, timed)
    }

    /// Whether timings could overrule the flop rule: it says `exact` and the Cholesky is at
    /// least a tenth of a Newton–CG step's flops (`d³/3 ≥ 2·nnz`).
    pub fn worth_timing(n: usize, d: usize, nnz: usize) -> bool {
        Strategy::default_for(n, d, nnz) == Strategy::Exact && (d as f64).powi(3) / 3.0 >= 2.0 * nnz as f64
    }

    /// Choose for an `n×d` matrix with `nnz` nonzeros, from given rates if any (deterministic).
    pub fn decide(n: usize, d: usize, nnz: usize, calibration: Option<Calibration>) -> Choice {
        let by_flops = Strategy::default_for(n, d, nnz);
        let (exact_flops, newton_cg_flops) = Strategy::step_costs(n, d, nnz);
        let timed = calibration.map(|c| c.step_seconds(d, nnz));
        let (exact_s, newton_cg_s) = (timed.map(|t| t.0), timed.map(|t| t.1));
        let (strategy, rule) = match (by_flops, timed) {
            (Strategy::Exact, Some((exact_s, newton_cg_s))) if newton_cg_s * OVERRULE <= exact_s => {
                (Strategy::NewtonCg, format!("flops say exact, timed newton-cg ≥ {OVERRULE}× cheaper: newton-cg"))
            }
            (Strategy::NewtonCg, _) => (by_flops, "exact_flops > newton_cg_flops: newton-cg".to_string()),
            (_, Some(_)) => (by_flops, "exact_flops ≤ newton_cg_flops, timings agree: exact".to_string()),
            _ => (by_flops, "exact_flops ≤ newton_cg_flops, the Cholesky too small to time: exact".to_string()),
        };
        Choice { strategy, exact_flops, newton_cg_flops, exact_s, newton_cg_s, calibration, rule }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

    fn matrix(n: usize, d: usize, r: usize, seed: u64) -> CsrMatrix {
        random_sparse(&GenSpec { nrows: n, ncols: d, sparsity: Sparsity::RowNnz(r), variant: Variant::Plain, seed })
            .unwrap()
    }

    fn rates(pass: f64, chol: f64) -> Calibration {
        Calibration { pass_pair_s_per_nnz: pass, cholesky_s_per_flop: chol, seconds: 0.0 }
    }

    #[test]
    fn the_flop_rule_decides_unless_the_timings_disagree_twofold() {
        // KJV's shape: flops say newton-cg, and timings cannot overrule that.
        let (n, d, nnz) = (31_064, 1000, 533_683);
        assert_eq!(Choice::decide(n, d, nnz, Some(rates(1.4e-9, 1e-10))).strategy, Strategy::NewtonCg);
        assert_eq!(Choice::decide(n, d, nnz, Some(rates(1.4e-9, 1e-16))).strategy, Strategy::NewtonCg);
        // n = 10⁶, d = 600, 10 a row: exact by flops (1.2·10⁸ against 2·10⁸).
        let (n, d, nnz) = (1_000_000, 600, 10_000_000);
        assert_eq!(Strategy::default_for(n, d, nnz), Strategy::Exact);
        // Typical rates, and a Cholesky 10× slower (1.85× the newton-cg step): exact stays.
        for chol in [1e-10, 1e-9] {
            let c = Choice::decide(n, d, nnz, Some(rates(1.4e-9, chol)));
            assert_eq!(c.strategy, Strategy::Exact, "{}", c.rule);
        }
        // A Cholesky 100× slower: newton-cg, and the rule says why.
        let slow = Choice::decide(n, d, nnz, Some(rates(1.4e-9, 1e-8)));
        assert_eq!(slow.strategy, Strategy::NewtonCg);
        assert!(slow.exact_s.unwrap() >= OVERRULE * slow.newton_cg_s.unwrap() && slow.rule.contains("timed"));
        assert!(Choice::worth_timing(n, d, nnz) && !Choice::worth_timing(30_000, 30, 300_000));
        assert!(!Choice::worth_timing(31_064, 1000, 533_683), "newton-cg by flops: nothing to overrule");
        // Small d: exact by flops, and only an absurdly slow Cholesky overrules it.
        assert_eq!(Choice::decide(30_000, 30, 300_000, Some(rates(1.4e-9, 1e-10))).strategy, Strategy::Exact);
        assert_eq!(Choice::decide(30_000, 30, 300_000, Some(rates(1.4e-9, 1e-4))).strategy, Strategy::NewtonCg);
        // Rows of 50: newton-cg by flops, and timings cannot overrule that.
        assert_eq!(Choice::decide(4_000_000, 200, 200_000_000, Some(rates(1.0, 1e-20))).strategy, Strategy::NewtonCg);
    }

    #[test]
    fn the_calibration_is_finite_and_positive() {
        let a = matrix(20_000, 40, 10, 1);
        let c = Calibration::measure(&a);
        assert!(c.pass_pair_s_per_nnz > 0.0 && c.pass_pair_s_per_nnz.is_finite());
        assert!(c.cholesky_s_per_flop > 0.0 && c.cholesky_s_per_flop.is_finite());
        assert!(c.seconds > 0.0 && c.seconds.is_finite(), "{c:?}");
    }

    #[test]
    fn the_row_sample_is_rows_of_a() {
        let a = matrix(50_000, 20, 4, 2);
        let s = row_sample(&a);
        let step = a.nnz().div_ceil(SAMPLE_NNZ);
        assert!(s.nnz() <= SAMPLE_NNZ + 4 && s.nrows() == 50_000usize.div_ceil(step));
        for k in [0, 7, s.nrows() - 1] {
            assert_eq!(s.row(k), a.row(k * step));
        }
    }
}

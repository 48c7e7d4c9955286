//! Leverage scores of `D^{1/2}A`: `ℓ_i = D_i·a_iᵀ(AᵀDA)⁻¹a_i`, approximated in input-sparsity
//! time and computed exactly for testing.

use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::{Mat, Par, Side};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use runtime::reduce::sum_squares;
use sparse_ops::CsrMatrix;

use crate::error::SketchError;
use crate::operator::{Embedding, SketchOperator};
use crate::rng;

/// Parameters of [`approximate_leverage`]. The defaults were chosen by measurement
/// (docs/benchmarks.md, "Leverage-score estimator").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeverageParams {
    /// The embedding of the first step.
    pub embedding: Embedding,
    /// Sketch rows per column of `A`: `k = ⌈factor·d⌉`.
    pub rows_per_col: f64,
    /// Columns `r` of the Johnson–Lindenstrauss projection.
    pub projection_cols: usize,
}

impl Default for LeverageParams {
    fn default() -> Self {
        Self { embedding: Embedding::CountSketch, rows_per_col: 4.0, projection_cols: 16 }
    }
}

/// Approximate leverage scores of `D^{1/2}A`:
/// 1. `B = S·D^{1/2}A` with a sparse embedding (`k×d`, `O(s·nnz)`);
/// 2. `B = QR` (faer, `O(k·d²)`); if `R` is numerically singular a ridge `λ = 1e-12·‖B‖²_F/d`
///    is added (scores of the ridge-regularised problem);
/// 3. `Ω = R⁻¹G` for a Gaussian `G` (`d×r`) and `ℓ_i = D_i·‖a_iᵀΩ‖²/r` in one fused pass over
///    `A` (`O(r·nnz)`), never storing `A·Ω`.
///
/// Scores of rows with `D_i = 0` are 0. Same seed, same scores, for any thread count.
pub fn approximate_leverage(
    a: &CsrMatrix,
    w: &[f64],
    params: &LeverageParams,
    seed: u64,
) -> Result<Vec<f64>, SketchError> {
    let (omega, r) = projection(a, w, params, seed)?;
    let mut scores = vec![0.0; a.nrows()];
    let inv_r = 1.0 / r as f64;
    a.mul_dense_row_map(&omega, r, |i, row| w[i] * sum_squares(row) * inv_r, &mut scores);
    Ok(scores)
}

/// [`approximate_leverage`] and independent sampling in one pass over `A`: row `i` is kept
/// with probability `p_i = min(1, s·ℓ̃_i/L)` and weight `D_i/p_i`, where `L = d·k/(k−d−1)` is the
/// expected `Σℓ̃` (`Σℓ = rank ≤ d`, inflated by the sketch). A fixed `L` instead of the measured
/// `Σℓ̃` lets the draw happen as soon as `ℓ̃_i` is known, so the scores are never stored; the expected number of rows is at most about `s`, and
/// `E[AᵀD̃A] = AᵀDA` holds for any `p`. Same seed, same `D̃`, for any thread count.
pub fn sample_by_leverage(
    a: &CsrMatrix,
    w: &[f64],
    params: &LeverageParams,
    s: usize,
    seed: u64,
) -> Result<crate::SampledDiagonal, SketchError> {
    let (omega, r) = projection(a, w, params, seed)?;
    let d = a.ncols();
    let key = rng::Key::new(seed, rng::STREAM_SAMPLE);
    // Σℓ̃ ≈ d·k/(k − d − 1): the sketch inflates aᵀ(BᵀB)⁻¹a by the mean of an inverse Wishart
    // (measured: 1.33–1.38·d at k = 4d), so normalising by it keeps about s rows.
    let k = sketch_rows(d, params) as f64;
    let scale = s as f64 * (k - d as f64 - 1.0) / (d as f64 * k * r as f64);
    let (rows, probs) = a.mul_dense_row_filter(&omega, r, |i, row| {
        let p = (scale * w[i] * sum_squares(row)).min(1.0);
        (p > 0.0 && key.uniform(i as u64) < p).then_some(p)
    });
    Ok(crate::sampler::with_weights(rows, probs, w))
}

/// `k = max(⌈factor·d⌉, d + 2)`.
fn sketch_rows(d: usize, params: &LeverageParams) -> usize {
    ((params.rows_per_col * d as f64).ceil() as usize).max(d + 2)
}

/// Steps 1–2 and `Ω = R⁻¹G` (row-major `d×r`) of the estimator.
fn projection(a: &CsrMatrix, w: &[f64], params: &LeverageParams, seed: u64) -> Result<(Vec<f64>, usize), SketchError> {
    let (n, d) = a.shape();
    // The weights are validated by `SketchOperator::apply` below.
    if !(params.rows_per_col.is_finite() && params.rows_per_col >= 1.0) || params.projection_cols == 0 {
        return Err(SketchError::InvalidParameter(format!(
            "{params:?}: need rows_per_col ≥ 1 and projection_cols ≥ 1"
        )));
    }
    let k = sketch_rows(d, params);
    let s = SketchOperator::new(params.embedding, k, n, rng::hash(seed, rng::STREAM_EMBED_LEVERAGE, 0))?;
    let b = s.apply(a, Some(w))?;
    let r_factor = triangular_factor(b)?;
    let r = params.projection_cols;
    let mut g = Xoshiro256PlusPlus::seed_from_u64(rng::hash(seed, rng::STREAM_PROJECTION, 0));
    let mut omega = Mat::from_fn(d, r, |_, _| StandardNormal.sample(&mut g));
    solve_upper_triangular_in_place(r_factor.as_ref(), omega.as_mut(), Par::Seq);
    Ok(((0..d * r).map(|q| omega[(q / r, q % r)]).collect(), r))
}

/// `R` of `B = QR` (`d × d` upper triangular) as the estimator computes it: in place, on one
/// thread for sketches below `k·d² = 2³⁰`, and with a ridge `λ = 10⁻¹²·‖B‖²_F/d` when `B` is
/// numerically rank-deficient (`R` then factors `BᵀB + λI`).
///
/// ```
/// use faer::Mat;
/// let b = Mat::from_fn(3, 2, |i, j| if i == j { 2.0 } else { 0.0 });
/// let r = sketch::leverage::triangular_factor(b).unwrap();
/// assert_eq!((r[(0, 0)].abs(), r[(1, 1)].abs(), r[(1, 0)]), (2.0, 2.0, 0.0));
/// ```
pub fn triangular_factor(b: Mat<f64>) -> Result<Mat<f64>, SketchError> {
    let d = b.ncols();
    let b_sq = b.squared_norm_l2();
    let r = qr_r(b);
    let diag: Vec<f64> = (0..d).map(|j| r[(j, j)].abs()).collect();
    let max = diag.iter().cloned().fold(0.0, f64::max);
    if max == 0.0 {
        return Err(SketchError::ZeroWeights);
    }
    if diag.iter().all(|&x| x > 1e-12 * max) {
        return Ok(r);
    }
    // RᵀR = BᵀB, so the R of [R; √λ·I] is that of [B; √λ·I]: BᵀB + λI = R'ᵀR'.
    let lambda = 1e-12 * b_sq / d as f64;
    let stacked = Mat::from_fn(2 * d, d, |i, j| {
        if i < d {
            r[(i, j)]
        } else if i - d == j {
            lambda.sqrt()
        } else {
            0.0
        }
    });
    Ok(qr_r(stacked))
}

/// Below this many `rows·cols²` a QR runs on one thread. Measured on the 2-core box for the
/// `4d × d` sketch, sequential against faer's parallel QR: 0.25 / 1.5 ms at `d = 50`,
/// 3.4 / 10.7 ms at 200, 17.9 / 22.1 ms at 400, equal at 600 (`k·d² ≈ 8.6·10⁸`), and
/// 249 / 204 ms at 1000.
const QR_SEQUENTIAL_BELOW: usize = 1 << 30;

/// Tasks of a parallel QR (fixed, so the factor's bits do not depend on the thread count).
const QR_TASKS: usize = 2;

/// The `cols × cols` upper-triangular `R` of `B = QR` (`rows ≥ cols`), factored in place.
fn qr_r(mut b: Mat<f64>) -> Mat<f64> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::qr::no_pivoting::factor::{qr_in_place, qr_in_place_scratch, recommended_block_size};
    let (m, n) = b.shape();
    // A fixed task count, never the pool's thread count: faer partitions the blocked QR by it,
    // so `Par::rayon(0)` (the global default) gives other bits with other thread counts.
    let par = if m * n * n < QR_SEQUENTIAL_BELOW { Par::Seq } else { Par::rayon(QR_TASKS) };
    let block = recommended_block_size::<f64>(m, n);
    let mut q_coeff = Mat::<f64>::zeros(block, m.min(n));
    let mut mem = MemBuffer::new(qr_in_place_scratch::<f64>(m, n, block, par, Default::default()));
    qr_in_place(b.as_mut(), q_coeff.as_mut(), par, MemStack::new(&mut mem), Default::default());
    Mat::from_fn(n, n, |i, j| if i <= j { b[(i, j)] } else { 0.0 })
}

/// Exact leverage scores of `D^{1/2}A` by a Cholesky factor `L` of `AᵀDA`:
/// `ℓ_i = D_i‖L⁻¹a_i‖²`, in blocks of 2048 rows (`O(n·d² + Σnnz(a_i)²)`). For tests and
/// measurements; `AᵀDA` must be positive definite.
pub fn exact_leverage(a: &CsrMatrix, w: &[f64]) -> Result<Vec<f64>, SketchError> {
    let (n, d) = a.shape();
    crate::check_weights(w, n)?;
    let h = a.weighted_gram(w);
    let llt = h.llt(Side::Lower).map_err(|_| SketchError::NotPositiveDefinite)?;
    let l = llt.L();
    const BLOCK: usize = 2048;
    let blocks: Vec<Vec<f64>> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|bi| {
            let rows = bi * BLOCK..((bi + 1) * BLOCK).min(n);
            let mut x = Mat::<f64>::zeros(d, rows.len());
            for (c, i) in rows.clone().enumerate() {
                let (cols, vals) = a.row(i);
                for (&j, &v) in cols.iter().zip(vals) {
                    x[(j as usize, c)] = v;
                }
            }
            solve_lower_triangular_in_place(l, x.as_mut(), Par::Seq);
            rows.enumerate().map(|(c, i)| w[i] * x.col(c).squared_norm_l2()).collect()
        })
        .collect();
    Ok(blocks.concat())
}

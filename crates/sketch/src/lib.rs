//! # sketch
//!
//! Input-sparsity-time spectral sparsifiers of `AᵀDA` (docs/reference.md §3, seed 000 Lemma 5.3): from a
//! sparse `A` and a nonnegative diagonal `D`, a sparse diagonal `D̃` with about
//! `s = C·d·ln(d/δ)/ε₀²` nonzeros such that, with probability `≥ 1 − δ`,
//! `(1 − ε₀)·AᵀDA ⪯ AᵀD̃A ⪯ (1 + ε₀)·AᵀDA`.
//!
//! The route ([`sparsify`] with [`Method::Leverage`], i.e. [`sample_by_leverage`]):
//! approximate leverage scores of `D^{1/2}A` (sparse embedding → QR → Gaussian projection),
//! then independent row sampling with `p_i = min(1, s·ℓ̃_i/L)` (`L = d·k/(k − d − 1)`, the
//! expected `Σℓ̃`) and weights `D_i/p_i`, drawn
//! inside the projection pass. The two steps are also available separately
//! ([`approximate_leverage`], [`leverage_sample`] with `p_i = min(1, s·ℓ_i/Σℓ)`). Uniform sampling and the Newton sketch `(S D^{1/2}A)ᵀ(S D^{1/2}A)` are
//! there for comparison. [`measure_eps`] measures the achieved `ε` where the exact `AᵀDA` is
//! affordable; [`exact_leverage`] gives exact scores for testing the estimator.
//!
//! ## Cost model
//!
//! Producing `D̃` costs `O(s_e·nnz(A))` for the embedding (`s_e` nonzeros per column; the
//! default CountSketch has 1), `O(k·d²)` for the QR of the `k×d` sketch (`k = 4d`),
//! `O(r·nnz(A))` for the projection (`r = 16`, one fused pass over `A`) and `O(n)` for the
//! sampling; forming `AᵀD̃A` then costs `O(Σ_kept nnz(a_i)²)`, independent of `n`. Measured
//! at `n = 10⁶`, `d ∈ {50, 200}`, 10–20 nonzeros per row (`spnewton bench sketch-cost`,
//! docs/benchmarks.md): 3.5–6.5 `A·x` for the whole of [`sample_by_leverage`], QR included. Every step is deterministic given the seed,
//! whatever the thread count; no step mutates a caller's RNG (randomness is a function of
//! `(seed, row)`).
//!
//! ## Example
//!
//! Everything it needs comes through this crate ([`sparse_ops`], [`faer`] are re-exported).
//!
//! ```
//! use sketch::{measure_eps, sparsify, Method, SparsifyParams};
//! use sketch::sparse_ops::generate::{random_sparse, GenSpec, Sparsity, Variant};
//! let a = random_sparse(&GenSpec { nrows: 50_000, ncols: 50, sparsity: Sparsity::RowNnz(8), variant: Variant::Plain, seed: 1 })?;
//! let w = vec![1.0; a.nrows()];
//! let params = SparsifyParams { eps0: 0.5, delta: 0.1, ..Default::default() };
//! let sp = sparsify(&a, &w, Method::Leverage, &params, 3)?;
//! assert!(sp.rows_kept() < a.nrows() / 20); // about 1,850 of 50,000 rows
//! // With probability ≥ 1 − δ: (1 − ε₀)·AᵀDA ⪯ AᵀD̃A ⪯ (1 + ε₀)·AᵀDA.
//! let eps = measure_eps(&a.weighted_gram(&w), &sp.gram(&a))?;
//! assert!(eps <= 0.5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod error;
pub mod leverage;
pub mod measure;
pub mod operator;
mod rng;
pub mod sampler;

use faer::Mat;
use sparse_ops::CsrMatrix;

// The crates whose types this API takes and returns (`CsrMatrix`, `faer::Mat`): with these a
// user needs `spnewton-sketch` alone (see the example above).
pub use faer;
pub use sparse_ops;

pub use error::SketchError;
pub use leverage::{LeverageParams, approximate_leverage, exact_leverage, sample_by_leverage};
pub use measure::measure_eps;
pub use operator::{Embedding, SketchOperator};
pub use sampler::{SampledDiagonal, leverage_sample, sample_size, uniform_sample};

/// Which sparsifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Approximate leverage scores, then independent sampling.
    Leverage,
    /// Uniform row sampling with the same expected row count.
    Uniform,
    /// `(S D^{1/2}A)ᵀ(S D^{1/2}A)` with a sparse-sign embedding of `s` rows; the exact
    /// `AᵀDA` where that is cheaper ([`newton_sketch_pays`]).
    NewtonSketch,
}

runtime::named_enum!(Method { Leverage => "leverage", Uniform => "uniform", NewtonSketch => "newton-sketch" });

/// Parameters of [`sparsify`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SparsifyParams {
    /// Target spectral accuracy `ε₀` of the sparsifier.
    pub eps0: f64,
    /// Failure probability `δ`.
    pub delta: f64,
    /// `C` in `s = ⌈C·d·ln(d/δ)/ε₀²⌉`.
    pub oversampling: f64,
    /// How leverage scores are estimated (for [`Method::Leverage`]).
    pub leverage: LeverageParams,
}

impl Default for SparsifyParams {
    fn default() -> Self {
        Self { eps0: 0.5, delta: 0.1, oversampling: DEFAULT_OVERSAMPLING, leverage: LeverageParams::default() }
    }
}

/// `C` of the sample size, chosen by measurement (docs/benchmarks.md).
pub const DEFAULT_OVERSAMPLING: f64 = 1.5;

/// The result of [`sparsify`].
#[derive(Debug, Clone)]
pub enum Sparsifier {
    /// A sampled diagonal `D̃`: `H̃ = AᵀD̃A`.
    Diagonal(SampledDiagonal),
    /// A sketch `B = S D^{1/2}A` (`m×d`): `H̃ = BᵀB`.
    Embedded(Mat<f64>),
}

impl Sparsifier {
    /// Rows of `A` kept (Newton sketch: rows of `B`).
    pub fn rows_kept(&self) -> usize {
        match self {
            Sparsifier::Diagonal(s) => s.len(),
            Sparsifier::Embedded(b) => b.nrows(),
        }
    }
    /// What the sparsifier kept and the accuracy its size stands for.
    pub fn info(&self, d: usize, params: &SparsifyParams) -> Info {
        let s = sample_size(d, params.eps0, params.delta, params.oversampling).unwrap_or(0);
        let kept = self.rows_kept();
        // s = C·d·ln(d/δ)/ε²: the ε that the rows actually kept stand for.
        let eps_estimate = if kept == 0 { f64::INFINITY } else { params.eps0 * (s as f64 / kept as f64).sqrt() };
        Info { rows_kept: kept, sample_size: s, eps_target: params.eps0, eps_estimate }
    }
    /// `H̃` as a dense `d×d` matrix.
    pub fn gram(&self, a: &CsrMatrix) -> Mat<f64> {
        match self {
            Sparsifier::Diagonal(s) => s.gram(a),
            Sparsifier::Embedded(b) => b.transpose() * b,
        }
    }
}

/// What a [`Sparsifier`] holds and the accuracy it stands for ([`Sparsifier::info`]).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Info {
    /// Rows of `A` kept (Newton sketch: rows of the embedding).
    pub rows_kept: usize,
    /// The design sample size `s = ⌈C·d·ln(d/δ)/ε₀²⌉`.
    pub sample_size: usize,
    /// The accuracy `ε₀` asked for.
    pub eps_target: f64,
    /// The `ε` of the sample-size formula at the rows actually kept, `ε₀·√(s/kept)`: an
    /// estimate from the guarantee, not a measurement ([`measure_eps`] measures).
    pub eps_estimate: f64,
}

/// Sparsify `AᵀDA` (`D = diag(w) ≥ 0`) with the chosen method; same seed, same result.
pub fn sparsify(
    a: &CsrMatrix,
    w: &[f64],
    method: Method,
    params: &SparsifyParams,
    seed: u64,
) -> Result<Sparsifier, SketchError> {
    let s = sample_size(a.ncols(), params.eps0, params.delta, params.oversampling)?;
    match method {
        Method::Leverage => sample_by_leverage(a, w, &params.leverage, s, seed).map(Sparsifier::Diagonal),
        Method::Uniform => uniform_sample(w, s, seed).map(Sparsifier::Diagonal),
        Method::NewtonSketch if !newton_sketch_pays(a, s) => {
            // `BᵀB` of an `s×d` dense sketch would cost more than the exact sparse Gram (and
            // with `s ≥ n` the sketch has more rows than `A`): every row with `D_i > 0`, exactly.
            check_weights(w, a.nrows())?;
            let rows: Vec<usize> = (0..a.nrows()).filter(|&i| w[i] > 0.0).collect();
            let weights = rows.iter().map(|&i| w[i]).collect();
            let probs = vec![1.0; rows.len()];
            Ok(Sparsifier::Diagonal(SampledDiagonal { rows, weights, probs }))
        }
        Method::NewtonSketch => {
            let op = SketchOperator::new(Embedding::SparseSign { nnz_per_col: 4.min(s) }, s, a.nrows(), seed)?;
            op.apply(a, Some(w)).map(Sparsifier::Embedded)
        }
    }
}

/// Whether a Newton sketch of `s` rows is cheaper than the exact Gram `AᵀDA`: it needs
/// `s < n` and `s·d²` (forming `BᵀB`) below `Σ nnz(a_i)²` (the exact sparse Gram). When it is
/// not, [`sparsify`] with [`Method::NewtonSketch`] returns the exact diagonal (every row with
/// `D_i > 0`, weight `D_i`) instead: never more rows than `A` has, never a dearer `H̃`.
///
/// ```
/// use sparse_ops::generate::{random_sparse, GenSpec, Sparsity, Variant};
/// let a = random_sparse(&GenSpec { nrows: 1_000, ncols: 50, sparsity: Sparsity::RowNnz(10), variant: Variant::Plain, seed: 1 })?;
/// assert!(!sketch::newton_sketch_pays(&a, 2_000)); // more sketch rows than A has
/// assert!(!sketch::newton_sketch_pays(&a, 500)); // 500·50² > 1,000·10²
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn newton_sketch_pays(a: &CsrMatrix, s: usize) -> bool {
    let d = a.ncols() as f64;
    let exact_gram: f64 = a.indptr().windows(2).map(|r| ((r[1] - r[0]) as f64).powi(2)).sum();
    s < a.nrows() && (s as f64) * d * d < exact_gram
}

pub(crate) fn check_weights(w: &[f64], n: usize) -> Result<(), SketchError> {
    if w.len() != n {
        return Err(SketchError::DimensionMismatch {
            what: "weights D (one per row of A)",
            expected: n,
            found: w.len(),
        });
    }
    // Branch-free over chunks (it vectorises); the position only when something is wrong.
    let good = |v: f64| (v >= 0.0) & v.is_finite();
    if w.chunks(4096).all(|c| c.iter().fold(true, |ok, &v| ok & good(v))) {
        return Ok(());
    }
    let index = w.iter().position(|&v| !good(v)).expect("a bad weight exists");
    Err(SketchError::BadWeight { index, value: w[index] })
}

//! Row samplers that return a sparse diagonal `D̃` with `E[AᵀD̃A] = AᵀDA`.

use runtime::reduce::{self, CHUNK};
use sparse_ops::CsrMatrix;

use crate::error::SketchError;
use crate::rng;

/// `s = ⌈C·d·ln(d/δ)/ε₀²⌉` (SPEC §3).
pub fn sample_size(d: usize, eps0: f64, delta: f64, oversampling: f64) -> Result<usize, SketchError> {
    let valid = (0.0..1.0).contains(&eps0) && eps0 > 0.0 && (0.0..1.0).contains(&delta) && delta > 0.0;
    if !(valid && oversampling.is_finite() && oversampling > 0.0) {
        return Err(SketchError::InvalidParameter(format!(
            "need 0 < ε₀ < 1, 0 < δ < 1 and C > 0 (got ε₀ = {eps0}, δ = {delta}, C = {oversampling})"
        )));
    }
    let s = oversampling * d as f64 * (d.max(2) as f64 / delta).ln() / (eps0 * eps0);
    Ok(s.ceil().max(1.0) as usize)
}

/// A sparse diagonal: row `rows[t]` carries weight `weights[t] = D_{rows[t]}/probs[t]` (rows
/// increasing, distinct), `probs[t]` being the probability with which the row was included.
/// The sample owns its inclusion probabilities, so it can be re-weighted for a new `D`
/// ([`Self::reweight`]) without drawing again: `E[AᵀD̃'A] = AᵀD'A` still holds for any fixed `p`.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledDiagonal {
    /// Kept row indices, increasing and distinct.
    pub rows: Vec<usize>,
    /// Weight of each kept row, `D_i / p_i`.
    pub weights: Vec<f64>,
    /// Inclusion probabilities `p_i ∈ (0, 1]` of the kept rows (1 for an exact diagonal).
    pub probs: Vec<f64>,
}

impl SampledDiagonal {
    /// Rows kept.
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    /// Whether no row was kept.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    /// The same rows re-weighted for a new diagonal `d` (length `n`): weights `d_i/p_i`
    /// (`O(rows kept)`). The rows were drawn for the old `D`, so the sample stays unbiased but
    /// its spectral guarantee holds only while `d` stays close to that `D` on them.
    ///
    /// ```
    /// let s = sketch::SampledDiagonal { rows: vec![0, 2], weights: vec![4.0, 1.0], probs: vec![0.5, 1.0] };
    /// let r = s.reweight(&[3.0, 7.0, 2.0]);
    /// assert_eq!((r.weights, r.probs), (vec![6.0, 2.0], vec![0.5, 1.0]));
    /// ```
    #[track_caller]
    pub fn reweight(&self, d: &[f64]) -> SampledDiagonal {
        let weights = self.rows.iter().zip(&self.probs).map(|(&i, &p)| d[i] / p).collect();
        SampledDiagonal { rows: self.rows.clone(), weights, probs: self.probs.clone() }
    }
    /// `AᵀD̃A` (`O(Σ_kept nnz(a_i)²)`, independent of `n`).
    pub fn gram(&self, a: &CsrMatrix) -> faer::Mat<f64> {
        a.sampled_gram(&self.rows, &self.weights)
    }
}

/// Independent (Bernoulli) sampling: row `i` is kept with probability `p_i = min(1, s·ℓ_i/Σℓ)`
/// and reweighted to `D_i/p_i`. Rows whose score reaches `Σℓ/s` are always kept, so rows of
/// leverage near 1 (with `s ≥ d`) are never lost. Expected rows kept `≤ s`.
pub fn leverage_sample(w: &[f64], scores: &[f64], s: usize, seed: u64) -> Result<SampledDiagonal, SketchError> {
    let n = w.len();
    crate::check_weights(w, n)?;
    if scores.len() != n {
        return Err(SketchError::DimensionMismatch { what: "leverage scores", expected: n, found: scores.len() });
    }
    if let Some(i) = scores.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(SketchError::InvalidParameter(format!("leverage score {i} is {}", scores[i])));
    }
    let total = reduce::sum(n, |i| scores[i]);
    if total == 0.0 {
        return Err(SketchError::ZeroWeights);
    }
    let scale = s as f64 / total;
    Ok(bernoulli(
        n,
        seed,
        |i| {
            if w[i] > 0.0 { (scale * scores[i]).min(1.0) } else { 0.0 }
        },
        w,
    ))
}

/// Uniform sampling of the rows with `D_i > 0`, `p = min(1, s/#rows)`, weights `D_i/p`.
pub fn uniform_sample(w: &[f64], s: usize, seed: u64) -> Result<SampledDiagonal, SketchError> {
    let n = w.len();
    crate::check_weights(w, n)?;
    let active = w.iter().filter(|&&v| v > 0.0).count();
    if active == 0 {
        return Err(SketchError::ZeroWeights);
    }
    let p = (s as f64 / active as f64).min(1.0);
    Ok(bernoulli(n, seed, |i| if w[i] > 0.0 { p } else { 0.0 }, w))
}

/// Keep row `i` when `U_i < p_i` with `U_i` a counter-based uniform of `(seed, i)`; fixed chunks,
/// concatenated in order.
fn bernoulli(n: usize, seed: u64, p: impl Fn(usize) -> f64 + Sync, w: &[f64]) -> SampledDiagonal {
    let key = rng::Key::new(seed, rng::STREAM_SAMPLE);
    let parts: Vec<(Vec<usize>, Vec<f64>)> = runtime::par::map_chunks(n.div_ceil(CHUNK), |c| {
        let mut rows = Vec::new();
        let mut probs = Vec::new();
        let start = c * CHUNK;
        for i in start..((c + 1) * CHUNK).min(n) {
            let pi = p(i);
            if pi > 0.0 && key.uniform(i as u64) < pi {
                rows.push(i);
                probs.push(pi);
            }
        }
        (rows, probs)
    });
    let len = parts.iter().map(|p| p.0.len()).sum();
    let (mut rows, mut probs) = (Vec::with_capacity(len), Vec::with_capacity(len));
    for (r, p) in parts {
        rows.extend(r);
        probs.extend(p);
    }
    with_weights(rows, probs, w)
}

/// The sample `rows` with inclusion probabilities `probs`, weighted `w_i/p_i`.
pub(crate) fn with_weights(rows: Vec<usize>, probs: Vec<f64>, w: &[f64]) -> SampledDiagonal {
    let weights = rows.iter().zip(&probs).map(|(&i, &p)| w[i] / p).collect();
    SampledDiagonal { rows, weights, probs }
}

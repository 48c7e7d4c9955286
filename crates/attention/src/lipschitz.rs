//! Empirical gradient-Lipschitz ratios `‖∇L(X) − ∇L(X')‖_F / ‖X − X'‖_F` (seed 004, §3.3–3.4
//! and Appendix I: softmax attention is the more stable of the two).

use faer::{Mat, MatRef};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal, StandardUniform};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use crate::dense::frobenius;
use crate::error::AttentionError;
use crate::objective::{AttentionObjective, Want};

/// The ratios at one radius.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LipschitzRow {
    /// The loss's name (as [`crate::AttentionLoss::name`]).
    pub loss: &'static str,
    /// Frobenius radius of the ball the pairs are drawn from.
    pub radius: f64,
    /// Pairs where both gradients exist.
    pub pairs: usize,
    /// Pairs where the loss could not be evaluated (linear attention: a normaliser near zero),
    /// so the ratio is unbounded there.
    pub undefined: usize,
    /// Median ratio `‖∇L(X) − ∇L(X')‖_F / ‖X − X'‖_F` over the pairs (`None` if there are none).
    pub median: Option<f64>,
    /// Largest ratio over the pairs (`None` if there are none).
    pub max: Option<f64>,
}

/// For each radius, `pairs` pairs `(X, X')` drawn independently and uniformly from the
/// Frobenius ball of that radius around `center`. The draws depend only on `seed`, so two
/// losses given the same seed see the same pairs.
pub fn gradient_lipschitz(
    f: &AttentionObjective,
    center: MatRef<'_, f64>,
    radii: &[f64],
    pairs: usize,
    seed: u64,
) -> Result<Vec<LipschitzRow>, AttentionError> {
    let d = f.dim();
    if radii.iter().any(|r| !(r.is_finite() && *r > 0.0)) || pairs == 0 {
        return Err(AttentionError::InvalidParameter("radii must be positive and finite, pairs ≥ 1".into()));
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut rows = Vec::new();
    for &radius in radii {
        let mut ratios = Vec::new();
        let mut undefined = 0;
        for _ in 0..pairs {
            let x = ball_point(center, radius, d, &mut rng);
            let xp = ball_point(center, radius, d, &mut rng);
            match (f.evaluate(x.as_ref(), Want::Gradient), f.evaluate(xp.as_ref(), Want::Gradient)) {
                (Ok(a), Ok(b)) => {
                    ratios.push(frobenius((&a.grad_x - &b.grad_x).as_ref()) / frobenius((&x - &xp).as_ref()))
                }
                (Err(AttentionError::NormaliserNearZero { .. }), _)
                | (_, Err(AttentionError::NormaliserNearZero { .. })) => undefined += 1,
                (Err(e), _) | (_, Err(e)) => return Err(e),
            }
        }
        ratios.sort_by(f64::total_cmp);
        rows.push(LipschitzRow {
            loss: f.loss().name(),
            radius,
            pairs: ratios.len(),
            undefined,
            median: (!ratios.is_empty()).then(|| ratios[ratios.len() / 2]),
            max: ratios.last().copied(),
        });
    }
    Ok(rows)
}

/// Uniform in the Frobenius ball: a Gaussian direction, radius `r·U^{1/d²}`.
fn ball_point(center: MatRef<'_, f64>, r: f64, d: usize, rng: &mut Xoshiro256PlusPlus) -> Mat<f64> {
    let g = Mat::from_fn(d, d, |_, _| StandardNormal.sample(rng));
    let u: f64 = StandardUniform.sample(rng);
    let scale = r * u.powf(1.0 / (d * d) as f64) / frobenius(g.as_ref()).max(f64::MIN_POSITIVE);
    center + faer::Scale(scale) * &g
}

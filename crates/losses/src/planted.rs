//! Planted problems: a known `x_true` with small `‖A x_true‖_∞` and `b` built from it, so the
//! data term vanishes at `x_true` (before noise). With a regulariser `w > 0` the minimiser
//! moves away from `x_true` towards 0.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use sparse_ops::CsrMatrix;

use crate::kind::{Activation, LossKind};

/// How to plant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlantSpec {
    /// The loss `b` is built for.
    pub loss: LossKind,
    /// The entrywise function `u`.
    pub func: Activation,
    /// `‖A x_true‖_∞` (default 0.5: `u` and its derivatives stay within a factor e^0.5 of 1).
    pub scale: f64,
    /// Gaussian noise added to `b`, relative to the root-mean-square of `b`.
    pub noise: f64,
    /// Seed of `x_true` and the noise.
    pub seed: u64,
}

/// Why a planted problem could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlantError {
    #[error("A·x_true is zero for every draw: A has no nonzero entries")]
    /// `A` has no nonzero entry, so `A·x_true` is always zero.
    ZeroMatrix,
    #[error("scale must be finite and positive, got {0}")]
    /// `scale` is not finite and positive (the value given).
    BadScale(f64),
    #[error("noise must be finite and nonnegative, got {0}")]
    /// `noise` is not finite and nonnegative (the value given).
    BadNoise(f64),
    #[error("⟨u(A x_true), 1⟩ = {0:e} is too close to 0 to rescale by (sinh with a balanced x_true); try another seed")]
    /// `⟨u(A x_true), 1⟩` (the value) is too close to 0 to rescale by.
    DegenerateRescale(f64),
}

/// Draw `x_true ~ N(0, I)`, scale it to `‖A x_true‖_∞ = scale`, and build `b` for the loss.
/// Returns `(x_true, b)`.
pub fn plant(a: &CsrMatrix, spec: &PlantSpec) -> Result<(Vec<f64>, Vec<f64>), PlantError> {
    if !(spec.scale.is_finite() && spec.scale > 0.0) {
        return Err(PlantError::BadScale(spec.scale));
    }
    if !(spec.noise.is_finite() && spec.noise >= 0.0) {
        return Err(PlantError::BadNoise(spec.noise));
    }
    let (n, d) = a.shape();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(spec.seed);
    let mut x: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
    let mut z = vec![0.0; n];
    a.mul_vec(&x, &mut z);
    let zmax = z.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if zmax == 0.0 {
        return Err(PlantError::ZeroMatrix);
    }
    let s = spec.scale / zmax;
    x.iter_mut().for_each(|v| *v *= s);
    z.iter_mut().for_each(|v| *v *= s);
    let mut b: Vec<f64> = match spec.loss {
        LossKind::Linear => z,
        LossKind::Hyperbolic => z.iter().map(|&t| spec.func.u(t)).collect(),
        LossKind::Rescaled => {
            let u: Vec<f64> = z.iter().map(|&t| spec.func.u(t)).collect();
            let alpha: f64 = u.iter().sum();
            let l1: f64 = u.iter().map(|v| v.abs()).sum();
            if alpha.abs() < 1e-6 * l1 {
                return Err(PlantError::DegenerateRescale(alpha));
            }
            u.iter().map(|v| v / alpha).collect()
        }
        LossKind::Softmax => {
            let m = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
            let e: Vec<f64> = z.iter().map(|&t| (t - m).exp()).collect();
            let sum: f64 = e.iter().sum();
            e.iter().map(|v| v / sum).collect()
        }
    };
    if spec.noise > 0.0 {
        let rms = (b.iter().map(|v| v * v).sum::<f64>() / n.max(1) as f64).sqrt();
        for v in b.iter_mut() {
            let e: f64 = StandardNormal.sample(&mut rng);
            *v += spec.noise * rms * e;
        }
    }
    Ok((x, b))
}

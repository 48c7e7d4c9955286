//! Quantities the Newton checks need (SPEC §4): `λ_min` of a Hessian and an empirical
//! Hessian-Lipschitz ratio.

use faer::{Mat, Side};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::error::LossError;
use crate::hessian::{Part, StructuredHessian};
use crate::objective::{Objective, What};

/// Largest `d` for which [`lambda_min`] uses dense symmetric eigenvalues; above it, Lanczos.
pub const DENSE_EIG_MAX_DIM: usize = 1500;

/// Smallest eigenvalue of a dense symmetric matrix (faer's self-adjoint eigensolver).
pub fn dense_lambda_min(h: &Mat<f64>) -> Result<f64, LossError> {
    let ev = h.self_adjoint_eigenvalues(Side::Lower).map_err(|e| LossError::Spectral(format!("{e:?}")))?;
    ev.first().copied().ok_or_else(|| LossError::Spectral("empty matrix".into()))
}

/// `λ_min` of the chosen part: dense eigenvalues for `d ≤ 1500` (`O(Σnnz(a_i)² + d³)`),
/// else `steps` Lanczos iterations with full reorthogonalisation (`steps` Hessian-vector
/// products). `seed` fixes the Lanczos start.
pub fn lambda_min(h: &StructuredHessian, part: Part, steps: usize, seed: u64) -> Result<f64, LossError> {
    if h.dim() <= DENSE_EIG_MAX_DIM {
        return dense_lambda_min(&h.dense(part));
    }
    let (lo, _) = lanczos_extremes(h.dim(), steps, seed, |v, out| h.apply(part, v, out))?;
    Ok(lo)
}

/// Extreme eigenvalues `(λ_min, λ_max)` of a symmetric operator by Lanczos with full
/// reorthogonalisation: `m = min(steps, dim)` applications, `O(m²·dim + m³)` extra work. The
/// Ritz values bound the spectrum from inside and converge fastest at its ends.
pub fn lanczos_extremes(
    dim: usize,
    steps: usize,
    seed: u64,
    mut apply: impl FnMut(&[f64], &mut [f64]),
) -> Result<(f64, f64), LossError> {
    let m = steps.min(dim).max(1);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut q: Vec<f64> = (0..dim).map(|_| StandardNormal.sample(&mut rng)).collect();
    normalise(&mut q);
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(m);
    let mut alpha = Vec::with_capacity(m);
    let mut beta: Vec<f64> = Vec::with_capacity(m);
    let mut w = vec![0.0; dim];
    for j in 0..m {
        apply(&q, &mut w);
        let a = dot(&q, &w);
        alpha.push(a);
        basis.push(q.clone());
        // Full reorthogonalisation (twice is enough) against every previous vector.
        for _ in 0..2 {
            for b in &basis {
                let c = dot(b, &w);
                w.iter_mut().zip(b).for_each(|(x, y)| *x -= c * y);
            }
        }
        let nb = dot(&w, &w).sqrt();
        if j + 1 == m || nb <= 1e-12 * a.abs().max(1e-300) {
            break;
        }
        beta.push(nb);
        q = w.iter().map(|x| x / nb).collect();
    }
    let k = alpha.len();
    let t = tridiagonal(&alpha[..k], &beta[..k - 1]);
    let ev = t.self_adjoint_eigenvalues(Side::Lower).map_err(|e| LossError::Spectral(format!("{e:?}")))?;
    Ok((ev[0], ev[k - 1]))
}

/// The empirical Hessian-Lipschitz ratio `‖H(x) − H(y)‖₂ / ‖x − y‖` of the exact Hessian:
/// the spectral norm of the difference by `iters` steps of power iteration on the operator
/// `v ↦ H(x)v − H(y)v` (two Hessian-vector products a step; no dense matrix).
pub fn hessian_lipschitz_ratio(f: &Objective, x: &[f64], y: &[f64], iters: usize, seed: u64) -> Result<f64, LossError> {
    let dist = x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
    if dist == 0.0 {
        return Err(LossError::Spectral("x and y coincide: the ratio is undefined".into()));
    }
    let hx = f.evaluate(x, What::Hessian)?.hessian.expect("requested");
    let hy = f.evaluate(y, What::Hessian)?.hessian.expect("requested");
    let d = x.len();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut v: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
    normalise(&mut v);
    let (mut a, mut b) = (vec![0.0; d], vec![0.0; d]);
    let mut norm = 0.0;
    for _ in 0..iters.max(1) {
        hx.apply(Part::Exact, &v, &mut a);
        hy.apply(Part::Exact, &v, &mut b);
        a.iter_mut().zip(&b).for_each(|(p, q)| *p -= q);
        norm = dot(&a, &a).sqrt();
        if norm == 0.0 {
            break;
        }
        v = a.iter().map(|p| p / norm).collect();
    }
    Ok(norm / dist)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn normalise(v: &mut [f64]) {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Lanczos' tridiagonal matrix `T` (`k×k`): `alpha` on the diagonal, `beta` (`k − 1` entries)
/// beside it. Shared by every Lanczos in the workspace.
pub fn tridiagonal(alpha: &[f64], beta: &[f64]) -> Mat<f64> {
    let k = alpha.len();
    Mat::from_fn(k, k, |i, j| {
        if i == j {
            alpha[i]
        } else if i + 1 == j || j + 1 == i {
            beta[i.min(j)]
        } else {
            0.0
        }
    })
}

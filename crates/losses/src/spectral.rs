//! Quantities the Newton checks need (SPEC §4): `λ_min` of a Hessian and an empirical
//! Hessian-Lipschitz ratio.

use faer::{Mat, Side};
use rand::Rng;
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
    apply: impl FnMut(&[f64], &mut [f64]),
) -> Result<(f64, f64), LossError> {
    let m = steps.min(dim).max(1);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let start: Vec<f64> = (0..dim).map(|_| StandardNormal.sample(&mut rng)).collect();
    let r = lanczos_lowest(dim, m, &start, 0.0, m, false, apply)
        .ok_or_else(|| LossError::Spectral("Lanczos: the start or a Ritz value is not finite".into()))?;
    Ok((r.theta, r.theta_max))
}

/// What [`lanczos_lowest`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct LanczosLowest {
    /// The lowest Ritz value (an upper bound on `λ_min`).
    pub theta: f64,
    /// The largest Ritz value (a lower bound on `λ_max`).
    pub theta_max: f64,
    /// The unit Ritz vector of `theta`.
    pub vector: Vec<f64>,
    /// Operator applications spent.
    pub steps: usize,
}

/// The lowest eigenpair estimate of `apply` by Lanczos with full reorthogonalisation from
/// `start` (need not be unit; a zero or non-finite start is refused with `None`), at most
/// `max_steps` applications. Stopped early, after at least `min_steps`, when the lowest Ritz
/// pair `(θ, y)` has the residual bound `‖Hy − θy‖ = β_k·|e_kᵀs| ≤ rel_tol·|θ|` (an eigenvalue
/// lies within that distance of `θ`); or, with `stop_on_negative`, as soon as
/// `θ < −1e-10·max(|θ|, θ_max)`: any Ritz value bounds `λ_min` from above, so a negative one
/// certifies negative curvature. Each step costs one application, `O(k·d)` of
/// reorthogonalisation and a `k×k` tridiagonal eigenproblem. The one Lanczos of the workspace
/// ([`lanczos_extremes`] is it without early stops). Deterministic: sequential vector operations only.
pub fn lanczos_lowest(
    dim: usize,
    max_steps: usize,
    start: &[f64],
    rel_tol: f64,
    min_steps: usize,
    stop_on_negative: bool,
    mut apply: impl FnMut(&[f64], &mut [f64]),
) -> Option<LanczosLowest> {
    let m = max_steps.min(dim).max(1);
    let n0 = norm(start);
    if !(n0 > 0.0 && n0.is_finite()) {
        return None;
    }
    let mut q: Vec<f64> = start.iter().map(|v| v / n0).collect();
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(m);
    let (mut alpha, mut beta) = (Vec::with_capacity(m), Vec::<f64>::with_capacity(m));
    let mut w = vec![0.0; dim];
    loop {
        apply(&q, &mut w);
        let a = dot(&q, &w);
        alpha.push(a);
        basis.push(std::mem::take(&mut q));
        for _ in 0..2 {
            for b in &basis {
                let c = dot(b, &w);
                w.iter_mut().zip(b).for_each(|(x, y)| *x -= c * y);
            }
        }
        let nb = norm(&w);
        let k = alpha.len();
        let t = tridiagonal(&alpha[..k], &beta[..k - 1]);
        let eig = t.self_adjoint_eigen(Side::Lower).ok()?;
        let (theta, theta_max) = (eig.S()[0], eig.S()[k - 1]);
        if !theta.is_finite() || !theta_max.is_finite() {
            return None;
        }
        let res = nb * eig.U()[(k - 1, 0)].abs();
        let scale = theta.abs().max(1e-12 * theta_max.abs());
        let negative = stop_on_negative && theta < -1e-10 * theta.abs().max(theta_max.abs());
        let invariant = nb <= 1e-12 * a.abs().max(theta_max.abs()).max(1e-300);
        if k == m || negative || invariant || (k >= min_steps.max(2) && res <= rel_tol * scale) {
            let mut vector = vec![0.0; dim];
            for (i, b) in basis.iter().enumerate() {
                let c = eig.U()[(i, 0)];
                vector.iter_mut().zip(b).for_each(|(v, x)| *v += c * x);
            }
            let vn = norm(&vector);
            if vn > 0.0 {
                vector.iter_mut().for_each(|v| *v /= vn);
            }
            return Some(LanczosLowest { theta, theta_max, vector, steps: k });
        }
        beta.push(nb);
        q = w.iter().map(|x| x / nb).collect();
    }
}

/// A deterministic pseudo-random start vector (entries in `[-0.5, 0.5)`, SplitMix64),
/// decorrelated by `seed`.
pub fn lanczos_start(dim: usize, seed: u64) -> Vec<f64> {
    let mut rng = rand_xoshiro::SplitMix64::seed_from_u64(seed ^ 0x5EED_1A7C_205F_0001);
    (0..dim).map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5).collect()
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

/// `‖v‖₂`.
fn norm(v: &[f64]) -> f64 {
    dot(v, v).sqrt()
}

fn normalise(v: &mut [f64]) {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Relative tolerance of [`psd_certificate`]: the middle matrix counts as positive
/// semidefinite when `λ_min(I + G^{1/2}CG^{1/2}) ≥ −PSD_TOL` (rounding in forming `G`).
pub const PSD_TOL: f64 = 1e-12;

/// A certificate, with no pass over `A`, that `H = Aᵀ(D + UCUᵀ)A ⪰ 0` (issue 16: the saddle
/// test at a stationary point is skipped where it holds).
///
/// `H ⪰ 0` whenever the `n×n` middle matrix `D + UCUᵀ` is. With `D > 0` on every row that has
/// a nonzero row of `U` (rows with `D_i = 0` and `u_i = 0` contribute nothing), write
/// `D + UCUᵀ = D^{1/2}(I + VCVᵀ)D^{1/2}`, `V = D^{−1/2}U`: it is PSD iff the nonzero
/// eigenvalues of `VCVᵀ` are `≥ −1`, and those are the eigenvalues of the `k×k` symmetric
/// `LᵀCL` with `G = LLᵀ` (or `G^{1/2}CG^{1/2}`), `G = VᵀV = Σ_i u_iu_iᵀ/D_i`. So: one
/// `O(n·k²)` sweep over the row weights the evaluation already holds, and a `k×k` eigenvalue
/// problem (`k ≤ 3`). Exact, not an estimate: `true` proves
/// `λ_min(H) ≥ −PSD_TOL·λ_max(AᵀDA)` (rounding aside), and it holds for every convex loss of
/// SPEC §1 (`D ≥ 0`, e.g. softmax's `diag(p) − ppᵀ`, which is PSD though `C = −1`). `false`
/// proves nothing (a negative `D_i` with `A` annihilating it still gives `H ⪰ 0`): the caller
/// then runs its Lanczos test.
pub fn psd_certificate(h: &StructuredHessian, part: Part) -> bool {
    let dvec = h.diagonal(part);
    let (u, k, c) = h.low_rank(part);
    let mut g = vec![0.0; k * k];
    for (i, &di) in dvec.iter().enumerate() {
        let ui = &u[i * k..(i + 1) * k];
        let zero_row = ui.iter().all(|&v| v == 0.0);
        if !(di.is_finite() && di >= 0.0) || (di == 0.0 && !zero_row) {
            return false;
        }
        if zero_row {
            continue;
        }
        for a in 0..k {
            for b in 0..k {
                g[a * k + b] += ui[a] * ui[b] / di;
            }
        }
    }
    if k == 0 {
        return true;
    }
    if !g.iter().chain(c).all(|v| v.is_finite()) {
        return false;
    }
    // A factor R with G = RRᵀ: the nonzero eigenvalues of VCVᵀ are those of RᵀCR. Cholesky
    // where G is definite: G is often graded (the rescaled loss at a fit: eigenvalues n and
    // 1e-7), and the small eigenvector of a symmetric eigen-decomposition is then too
    // inaccurate for the PSD boundary the middle matrix sits on when Σb = 1 (measured: −3.2e-7
    // from the eigen square root, +6.5e-15 from Cholesky, on `gen --n 100000 --d 200
    // --row-nnz 50 --loss rescaled` at its minimum). A singular G falls back to G^{1/2} from
    // the eigen-decomposition (G ⪰ 0 up to rounding: clamp at 0).
    let gm = Mat::from_fn(k, k, |a, b| 0.5 * (g[a * k + b] + g[b * k + a]));
    let root = match gm.llt(Side::Lower) {
        Ok(llt) => llt.L().to_owned(),
        Err(_) => {
            let Ok(eig) = gm.self_adjoint_eigen(Side::Lower) else { return false };
            let (q, s) = (eig.U(), eig.S());
            Mat::from_fn(k, k, |a, b| (0..k).map(|m| q[(a, m)] * s[m].max(0.0).sqrt() * q[(b, m)]).sum::<f64>())
        }
    };
    let cm = Mat::from_fn(k, k, |a, b| 0.5 * (c[a * k + b] + c[b * k + a]));
    let mid = root.transpose() * &cm * &root;
    let mid = Mat::from_fn(k, k, |a, b| if a == b { 1.0 } else { 0.0 } + mid[(a, b)]);
    let scale = mid.norm_max().max(1.0);
    match dense_lambda_min(&mid) {
        Ok(lo) => lo >= -PSD_TOL * scale,
        Err(_) => false,
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

#[cfg(test)]
mod lanczos_tests {
    use super::{lanczos_lowest as lowest, lanczos_start as start_vector};

    /// A diagonal operator with a known spectrum: the adaptive estimate matches `λ_min` to its
    /// tolerance in fewer steps than the cap, and a negative eigenvalue stops it at once.
    #[test]
    fn finds_the_lowest_eigenvalue_and_stops_early() {
        let d = 400;
        let diag: Vec<f64> = (0..d).map(|i| 1.0 + i as f64 * 0.25).collect();
        let apply = |v: &[f64], o: &mut [f64]| o.iter_mut().zip(v).zip(&diag).for_each(|((o, v), s)| *o = s * v);
        let r = lowest(d, 200, &start_vector(d, 3), 1e-6, 2, false, apply).unwrap();
        assert!((r.theta - 1.0).abs() < 1e-4, "θ = {}", r.theta);
        assert!(r.theta >= 1.0 - 1e-12, "a Ritz value is never below λ_min");
        assert!(r.steps < 200, "{} steps", r.steps);
        assert!(r.vector[0].abs() > 0.99, "the Ritz vector is e₀: {}", r.vector[0]);
        // Warm start at the Ritz vector: settled in a couple of steps.
        let w = lowest(d, 200, &r.vector, 1e-6, 2, false, apply).unwrap();
        assert!(w.steps <= 3 && (w.theta - 1.0).abs() < 1e-6, "{} steps, θ = {}", w.steps, w.theta);
        // One negative eigenvalue: certified and stopped long before convergence of the rest.
        let neg: Vec<f64> = diag.iter().enumerate().map(|(i, s)| if i == 7 { -2.0 } else { *s }).collect();
        let apply = |v: &[f64], o: &mut [f64]| o.iter_mut().zip(v).zip(&neg).for_each(|((o, v), s)| *o = s * v);
        let r = lowest(d, 200, &start_vector(d, 3), 1e-12, 2, true, apply).unwrap();
        assert!(r.theta < 0.0 && r.theta >= -2.0 - 1e-12, "θ = {}", r.theta);
        assert!(r.steps < 20, "{} steps", r.steps);
    }
}

#[cfg(test)]
mod psd_tests {
    use super::{PSD_TOL, dense_lambda_min, psd_certificate};
    use crate::hessian::{HessianParts, Part, StructuredHessian};
    use rand::SeedableRng;
    use rand_distr::{Distribution, Uniform};
    use rand_xoshiro::Xoshiro256PlusPlus;
    use sparse_ops::CsrMatrix;

    fn parts(d: Vec<f64>, u: Vec<f64>, k: usize, c: Vec<f64>) -> HessianParts {
        HessianParts { d_gn: d.iter().map(|v| v.abs()).collect(), d, u, k, c: c.clone(), c_gn: c }
    }

    /// With `A = I` the Hessian is the middle matrix `D + UCUᵀ` itself, so the certificate must
    /// hold exactly when its dense `λ_min ≥ 0` (away from the tolerance): checked against dense
    /// eigenvalues on random `D > 0`, `U` (`k` = 1..3) and indefinite `C`, both answers seen.
    #[test]
    fn certificate_is_exact_for_the_middle_matrix() {
        let n = 12;
        let eye: Vec<f64> = (0..n * n).map(|i| if i % (n + 1) == 0 { 1.0 } else { 0.0 }).collect();
        let a = CsrMatrix::from_dense(n, n, &eye).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let (mut yes, mut no) = (0, 0);
        for trial in 0..300 {
            let k = 1 + trial % 3;
            let d: Vec<f64> = (0..n).map(|_| Uniform::new(0.05, 2.0).unwrap().sample(&mut rng)).collect();
            let u: Vec<f64> = (0..n * k).map(|_| Uniform::new(-1.0, 1.0).unwrap().sample(&mut rng)).collect();
            let mut c = vec![0.0; k * k];
            let scale = Uniform::new(0.01, 1.5).unwrap().sample(&mut rng);
            for i in 0..k {
                for j in 0..=i {
                    let v = scale * Uniform::new(-1.0, 1.0).unwrap().sample(&mut rng);
                    c[i * k + j] = v;
                    c[j * k + i] = v;
                }
            }
            let h = StructuredHessian::new(&a, parts(d, u, k, c));
            let lo = dense_lambda_min(&h.dense(Part::Exact)).unwrap();
            let cert = psd_certificate(&h, Part::Exact);
            if lo.abs() > 1e-9 {
                assert_eq!(cert, lo > 0.0, "trial {trial}: λ_min = {lo}, certificate {cert}");
            }
            if cert { yes += 1 } else { no += 1 }
        }
        assert!(yes > 30 && no > 30, "both outcomes exercised: {yes} certified, {no} not");
    }

    /// The rescaled exp loss at a zero-residual fit (`b = u/α`, so `Σb = 1`): the middle matrix
    /// `diag(v²) + UCUᵀ` is PSD and singular, and `G` is graded (eigenvalues `n` and ~`1e-7`: `z`
    /// within ±0.15, as on a generated problem; at ±1 the eigen square root was still accurate).
    /// The certificate must hold there (an eigen square root of `G` put `λ_min` at −3.2e-7,
    /// and every solve of such a problem then paid a Lanczos test), and must fail when the
    /// rank-two term is enlarged by 1%.
    #[test]
    fn rescaled_fit_middle_matrix_is_certified_at_scale() {
        let n = 100_000;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let dense: Vec<f64> = (0..n * 3).map(|_| Uniform::new(-1.0, 1.0).unwrap().sample(&mut rng)).collect();
        let a = CsrMatrix::from_dense(n, 3, &dense).unwrap();
        let v: Vec<f64> = (0..n).map(|_| Uniform::new(-0.15f64, 0.15).unwrap().sample(&mut rng).exp()).collect();
        let alpha: f64 = v.iter().sum();
        let b: Vec<f64> = v.iter().map(|x| x / alpha).collect();
        let bb: f64 = b.iter().map(|x| x * x).sum();
        let d: Vec<f64> = v.iter().map(|x| x * x).collect();
        let u: Vec<f64> = v.iter().zip(&b).flat_map(|(x, y)| [*x, x * y]).collect();
        let h = StructuredHessian::new(&a, parts(d.clone(), u.clone(), 2, vec![bb, -1.0, -1.0, 0.0]));
        assert!(psd_certificate(&h, Part::Exact));
        let h2 = StructuredHessian::new(&a, parts(d, u, 2, vec![bb, -1.01, -1.01, 0.0]));
        assert!(!psd_certificate(&h2, Part::Exact));
    }

    /// Softmax's `diag(p) − ppᵀ` (`C = −1`, `λ_min = 0` exactly along `1`) is certified through
    /// a tall `A`, and `H` is then PSD; doubling the rank-one term (`C = −2`) is not certified,
    /// and `H` has a negative eigenvalue; a negative `D_i` is never certified.
    #[test]
    fn softmax_middle_matrix_is_certified_and_its_perturbations_are_not() {
        let (n, dim) = (30, 5);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        // Column 0 all ones: `A e₀ = 1`, the direction the doubled rank-one term makes negative.
        let dense: Vec<f64> = (0..n * dim)
            .map(|i| if i % dim == 0 { 1.0 } else { Uniform::new(-1.0, 1.0).unwrap().sample(&mut rng) })
            .collect();
        let a = CsrMatrix::from_dense(n, dim, &dense).unwrap();
        let w: Vec<f64> = (0..n).map(|_| Uniform::new(0.1, 1.0).unwrap().sample(&mut rng)).collect();
        let s: f64 = w.iter().sum();
        let p: Vec<f64> = w.iter().map(|v| v / s).collect();
        let h = StructuredHessian::new(&a, parts(p.clone(), p.clone(), 1, vec![-1.0]));
        assert!(psd_certificate(&h, Part::Exact));
        let hd = h.dense(Part::Exact);
        let scale = hd.norm_max();
        assert!(dense_lambda_min(&hd).unwrap() >= -1e3 * PSD_TOL * scale);
        let h2 = StructuredHessian::new(&a, parts(p.clone(), p.clone(), 1, vec![-2.0]));
        assert!(!psd_certificate(&h2, Part::Exact));
        assert!(dense_lambda_min(&h2.dense(Part::Exact)).unwrap() < 0.0);
        let mut neg = p.clone();
        neg[4] = -1e-3;
        let h3 = StructuredHessian::new(&a, parts(neg, vec![0.0; n], 1, vec![0.0]));
        assert!(!psd_certificate(&h3, Part::Exact));
        // k = 0 with D ≥ 0 (zeros allowed): certified.
        let mut z = p;
        z[0] = 0.0;
        assert!(psd_certificate(&StructuredHessian::new(&a, parts(z, vec![], 0, vec![])), Part::Exact));
    }
}

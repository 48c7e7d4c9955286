//! The textbook formulation for comparison: the same dual coordinate descent on formed
//! `d²`-long features `vec(a_i (a_opt − a_t)ᵀ)`. Memory `8·d²` bytes per constraint, `O(d²)`
//! per coordinate step. Used by `spnewton bench att-svm` and the tests; [`crate::solve_svm`]
//! is what to use.

use faer::Mat;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::data::TokenData;
use crate::error::SvmError;
use crate::svm::{Margin, SvmParams, projected_gradient};

/// The hard- or soft-margin solution by explicit features: `(X, λ, epochs)`, `λ` in the
/// constraint order of [`crate::SvmSolution::constraints`].
pub fn solve_svm_explicit(data: &TokenData, params: &SvmParams) -> Result<(Mat<f64>, Vec<f64>, usize), SvmError> {
    let meta = data.meta();
    let (n, d) = (meta.n, meta.d);
    let dd = d * d;
    let mut features: Vec<f64> = Vec::new();
    let mut upper = Vec::new();
    for l in 0..meta.m {
        for i in 0..n {
            let q = l * n + i;
            let (ai, ao) = (data.token(l, i), data.token(l, data.opt(q)));
            for t in (0..data.visible(i)).filter(|&t| t != data.opt(q)) {
                let at = data.token(l, t);
                features.extend((0..dd).map(|ab| ai[ab / d] * (ao[ab % d] - at[ab % d])));
                upper.push(match params.margin {
                    Margin::Hard => f64::INFINITY,
                    Margin::Soft { c } => 1.0 / (2.0 * c * (meta.m * n) as f64 * data.visible(i) as f64),
                });
            }
        }
    }
    let k = upper.len();
    let qdiag: Vec<f64> = features.chunks_exact(dd).map(|f| f.iter().map(|v| v * v).sum()).collect();
    let mut x = vec![0.0; dd];
    let mut lambda = vec![0.0; k];
    let mut order: Vec<usize> = (0..k).collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.seed);
    let mut epochs = 0;
    while epochs < params.max_epochs {
        epochs += 1;
        order.shuffle(&mut rng);
        let mut violation = 0.0f64;
        for &j in &order {
            let f = &features[j * dd..(j + 1) * dd];
            let g = f.iter().zip(&x).map(|(a, b)| a * b).sum::<f64>() - 1.0;
            let pg = projected_gradient(g, lambda[j], upper[j]);
            violation = violation.max(pg.abs());
            if pg != 0.0 && qdiag[j] > 0.0 {
                let new = (lambda[j] - g / qdiag[j]).clamp(0.0, upper[j]);
                let step = new - lambda[j];
                lambda[j] = new;
                x.iter_mut().zip(f).for_each(|(xv, fv)| *xv += step * fv);
            }
        }
        if violation <= params.tol {
            break;
        }
    }
    Ok((Mat::from_fn(d, d, |a, b| x[a * d + b]), lambda, epochs))
}

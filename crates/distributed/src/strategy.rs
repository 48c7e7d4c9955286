//! The Newton strategies on the distributed problem. Every `d×d` matrix is reduced by the
//! fixed tree over chunks, then factored redundantly on every rank with `newton::linalg`'s damped Cholesky,
//! sequentially (the same bits in, the same bits out), so no factor has to be broadcast; the
//! CG modes take `newton::pcg_step`, the single-machine solver's inexact step.
//!
//! - `exact`: `Σ_c A_cᵀ D_c A_c` (`d²` per chunk) + `(AᵀU)C(AᵀU)ᵀ`.
//! - `leverage`: a CountSketch `S D₊^{1/2} A` (`m = 4d` rows; `m·d` per chunk, reduced by the
//!   tree to rank 0), the triangular factor `R` of its Gram computed once on rank 0 and broadcast (`d²`), a
//!   Rademacher JL projection `R⁻¹Ω` (`q = 16` columns, seeded), scores `τ_i`, `Στ` (one value per
//!   chunk), local Bernoulli sampling with `p_i = min(1, s·τ_i/Στ)` from a hash of
//!   `(seed, iteration, global row)` — so the sample does not depend on the ranks — and the
//!   sampled Gram (`d²` per chunk).
//! - `leverage-pcg`: CG on exact Hessian-vector products (`d` per chunk each), preconditioned by
//!   the Cholesky factor of the `leverage` matrix.
//! - `newton-cg`: CG on exact Hessian-vector products, no preconditioner (matrix-free).

use std::time::Instant;

use newton::engine::{Need, Step, StepInput, Strategy};
use newton::faer::{Mat, Par};
use newton::linalg::{chol_solve, damped_cholesky, lt_solve_in_place, max_diagonal, symmetrise};
use newton::{Fallback, SolverParams, StepError, Timing, pcg_step};

use crate::comm::Comm;
use crate::problem::{DistEval, DistProblem, add_low_rank};

/// How the Newton direction is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The exact Hessian `Σ_c A_cᵀ D_c A_c + (AᵀU)C(AᵀU)ᵀ`, factored on every rank.
    Exact,
    /// The Hessian from a leverage-score row sample (refreshed every `refresh_every`
    /// iterations), factored on every rank.
    Leverage,
    /// CG on exact Hessian-vector products, preconditioned by the `Leverage` matrix's factor.
    LeveragePcg,
    /// CG on exact Hessian-vector products, unpreconditioned.
    NewtonCg,
}

runtime::named_enum!(Mode { Exact => "exact", Leverage => "leverage", LeveragePcg => "leverage-pcg", NewtonCg => "newton-cg" });

/// JL columns of the leverage-score estimate.
const JL_COLUMNS: usize = 16;

/// A distributed Newton strategy with its kept leverage sample.
pub struct DistStep {
    /// How the direction is made.
    pub mode: Mode,
    /// The solver's parameters; the strategy reads `refresh_every`, `max_cg`, `eps0`, `delta`
    /// (the leverage sample size) and `seed`.
    pub params: SolverParams,
    /// Local rows kept and their inclusion probabilities (the last refresh).
    sample: Option<(Vec<bool>, Vec<f64>)>,
}

impl DistStep {
    /// A strategy of `mode` with no leverage sample yet (the first step draws one).
    pub fn new(mode: Mode, params: SolverParams) -> Self {
        Self { mode, params, sample: None }
    }
}

/// SplitMix64.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn uniform(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// `D₊,i` by `losses`' one rule.
fn dplus(e: &DistEval, i: usize) -> f64 {
    losses::rows::sketch_weight(e.dd[i], e.dgn[i])
}

impl<C: Comm> Strategy<DistProblem<'_, C>> for DistStep {
    fn need(&self) -> Need {
        Need::Curvature
    }

    fn step(&mut self, f: &DistProblem<'_, C>, input: StepInput<'_, DistEval>) -> Result<Step, StepError> {
        let e = input.at;
        let g = &e.gradient;
        let d = g.len();
        let mut timing = Timing::default();
        let mut fallbacks = Vec::new();
        let mut passes = 0;
        let mut rows_kept = None;
        let mut m = None;
        let t = Instant::now();
        match self.mode {
            Mode::Exact => {
                let mut h = f.sum_chunks(d * d + 1, |r, part| f.gram_into(r, |i| e.dd[i], None, part));
                h.truncate(d * d);
                add_low_rank(&e.atu, e.k, &e.c, &mut h, d);
                passes += 1;
                m = Some(h);
            }
            Mode::Leverage | Mode::LeveragePcg => {
                let ts = Instant::now();
                let it = input.iteration;
                if self.sample.is_none() || it.is_multiple_of(self.params.refresh_every.max(1)) {
                    let (keep, p, negative) = self.leverage_sample(f, e, it)?;
                    if negative > 0 {
                        fallbacks.push(Fallback::NegativeDiagonal { rows: negative });
                    }
                    self.sample = Some((keep, p));
                    passes += 2;
                }
                timing.sketch_s += ts.elapsed().as_secs_f64();
                let (keep, p) = self.sample.as_ref().expect("sampled");
                let mut h = f.sum_chunks(d * d + 1, |r, part| f.gram_into(r, |i| dplus(e, i) / p[i], Some(keep), part));
                rows_kept = Some(h[d * d] as usize);
                h.truncate(d * d);
                add_low_rank(&e.atu, e.k, &e.c, &mut h, d);
                m = Some(h);
            }
            Mode::NewtonCg => {}
        }
        timing.hessian_s += t.elapsed().as_secs_f64() - timing.sketch_s;
        let t = Instant::now();
        let neg_g: Vec<f64> = g.iter().map(|v| -v).collect();
        let factor = match m {
            Some(h) => {
                let mut h = Mat::from_fn(d, d, |i, j| h[i * d + j]);
                symmetrise(&mut h);
                let (l, mu) =
                    damped_cholesky(&h, Par::Seq).ok_or(StepError::NotFactorisable { max_diag: max_diagonal(&h) })?;
                if let Some(mu) = mu {
                    fallbacks.push(Fallback::Damped { mu });
                }
                Some(l)
            }
            None => None,
        };
        let mut cg_iterations = None;
        let p = match (self.mode, &factor) {
            (Mode::Exact | Mode::Leverage, Some(l)) => chol_solve(l, &neg_g),
            _ => {
                let pre = |r: &[f64]| match &factor {
                    Some(l) => chol_solve(l, r),
                    None => r.to_vec(),
                };
                let apply = |v: &[f64], out: &mut [f64]| out.copy_from_slice(&f.hessian_apply(e, v));
                let (p, its) = pcg_step(&neg_g, g, input.rel_grad, self.params.max_cg, apply, pre, &mut fallbacks);
                passes += 2 * its;
                cg_iterations = Some(its);
                p
            }
        };
        timing.solve_s += t.elapsed().as_secs_f64();
        if !p.iter().all(|v| v.is_finite()) {
            return Err(StepError::NonFiniteStep);
        }
        Ok(Step { p, timing, passes, rows_kept, cg_iterations, fallbacks, min_alpha: 0.0 })
    }
}

impl DistStep {
    /// The leverage sample: local keep flags, inclusion probabilities, and the global number of
    /// rows whose `D` is negative. Collective.
    fn leverage_sample<C: Comm>(
        &self,
        f: &DistProblem<'_, C>,
        e: &DistEval,
        it: usize,
    ) -> Result<(Vec<bool>, Vec<f64>, usize), StepError> {
        let d = f.dim();
        let m = 4 * d;
        let seed = mix(self.params.seed.wrapping_add(it as u64));
        let nl = e.dd.len();
        // CountSketch of D₊^{1/2}A, one m×d partial per chunk, plus the count of D < 0.
        let reduced = f.reduce_to_root(m * d + 1, |r, part| {
            for i in r {
                if e.dd[i] < 0.0 {
                    part[m * d] += 1.0;
                }
                let h = mix(seed ^ mix(f.global_row(i) as u64));
                let bucket = (h % m as u64) as usize;
                let s = if h >> 63 == 1 { -dplus(e, i).sqrt() } else { dplus(e, i).sqrt() };
                let (idx, val) = f.row(i);
                for (&j, &v) in idx.iter().zip(val) {
                    part[bucket * d + j as usize] += s * v;
                }
            }
        });
        // R (upper, d×d, row-major) with RᵀR = (SA)ᵀ(SA): factored once on rank 0 (which holds
        // the reduction tree's root), broadcast with the count of D < 0 and, when the factor
        // failed, the Gram's largest diagonal (so that every rank returns the same error).
        let mut r = vec![0.0; d * d + 2];
        if let Some(sa) = reduced {
            let mut gram = vec![0.0; d * d];
            for b in 0..m {
                let row = &sa[b * d..(b + 1) * d];
                for j in 0..d {
                    if row[j] == 0.0 {
                        continue;
                    }
                    for l in 0..d {
                        gram[j * d + l] += row[j] * row[l];
                    }
                }
            }
            let gram = Mat::from_fn(d, d, |j, l| gram[j * d + l]);
            match damped_cholesky(&gram, Par::Seq) {
                Some((l, _)) => {
                    for j in 0..d {
                        for k in 0..d {
                            r[j * d + k] = l[(k, j)];
                        }
                    }
                }
                None => r[d * d + 1] = max_diagonal(&gram).max(f64::MIN_POSITIVE),
            }
            r[d * d] = sa[m * d];
        }
        f.net().broadcast_from(0, &mut r);
        if r[d * d + 1] != 0.0 {
            return Err(StepError::NotFactorisable { max_diag: r[d * d + 1] });
        }
        r.truncate(d * d + 1);
        let negative = r[d * d] as usize;
        // G = R⁻¹Ω = L⁻ᵀΩ (newton's triangular solve), Ω Rademacher from the seed.
        let q = JL_COLUMNS;
        let l = Mat::from_fn(d, d, |i, j| r[j * d + i]);
        let mut gm =
            Mat::from_fn(d, q, |j, c| if mix(seed ^ mix((j * q + c) as u64 ^ 0xA5A5)) >> 63 == 1 { -1.0 } else { 1.0 });
        lt_solve_in_place(&l, &mut gm);
        let tau: Vec<f64> = (0..nl)
            .map(|i| {
                let (idx, val) = f.row(i);
                let mut t = [0.0; JL_COLUMNS];
                for (&j, &v) in idx.iter().zip(val) {
                    for c in 0..q {
                        t[c] += v * gm[(j as usize, c)];
                    }
                }
                dplus(e, i) * t.iter().map(|x| x * x).sum::<f64>() / q as f64
            })
            .collect();
        let total = f.sum_chunks(1, |r, out| {
            let mut a = runtime::reduce::Neumaier::default();
            r.for_each(|i| a.add(tau[i]));
            out[0] = a.value();
        })[0];
        let s = sketch::sampler::sample_size(d, self.params.eps0, self.params.delta, sketch::DEFAULT_OVERSAMPLING)
            .map_err(StepError::from)? as f64;
        let mut keep = vec![false; nl];
        let mut p = vec![1.0; nl];
        for i in 0..nl {
            p[i] = if total > 0.0 { (s * tau[i] / total).min(1.0) } else { 1.0 };
            let u = uniform(mix(seed ^ mix(f.global_row(i) as u64 ^ 0x5EED)));
            keep[i] = p[i] > 0.0 && u < p[i];
        }
        Ok((keep, p, negative))
    }
}

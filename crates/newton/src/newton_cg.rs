//! Matrix-free inexact Newton ([`crate::Strategy::NewtonCg`]): truncated Newton–CG on the
//! structured Hessian `H = Aᵀ(D + UCUᵀ)A`, never a `d×d` matrix.
//!
//! Each step solves `H p = −g` by preconditioned CG from `p = 0` to the Eisenstat–Walker
//! forcing term `‖Hp + g‖ ≤ η_k‖g‖`, `η_k = min(0.5, √(‖g_k‖/‖g_0‖))` (superlinear local
//! convergence: `η_k → 0` as `‖g_k‖ → 0`); for the linear loss, a quadratic, `η_k` is at most
//! half the stopping level `tol·‖g_0‖/‖g_k‖`, so one step solves it. Each CG iteration is one
//! Hessian-vector product, [`losses::StructuredHessian::apply_fused`]: one pass over `A`
//! (benches/hessian_vector.rs measures it against the two-pass product). On negative
//! curvature `dᵀHd ≤ 0` CG stops and the iterate so far is the step (steepest descent `−g` if
//! it is the first CG iteration), recorded as [`crate::Fallback::CgNegativeCurvature`]; at
//! `max_cg` iterations the iterate is used, recorded as [`crate::Fallback::CgTruncated`]. The
//! engine's Armijo line search follows.
//!
//! ## Cost model
//!
//! Per Newton step: the preconditioner's build ([`crate::precond`]: Jacobi one pass, Nyström
//! two when refreshed) plus `c` passes for `c` CG iterations, `O(c·d)` vector work and the
//! preconditioner's applications. Memory `O(nnz + P·d)` for the product's `P` fixed partial
//! sums, plus `O(r·d)` for a rank-`r` Nyström preconditioner: `d = 10⁵` fits.

use std::time::Instant;

use losses::{Evaluation, LossKind, Objective, Part, StructuredHessian};

use crate::engine::{Need, Step, StepInput, Strategy as StepStrategy};
use crate::error::StepError;
use crate::linalg::{dot, norm};
use crate::params::{Precond, SolverParams};
use crate::precond::{Nystrom, Preconditioner};
use crate::report::{Fallback, Timing};

/// The Newton–CG strategy with its state: the Nyström preconditioner kept between refreshes.
pub(crate) struct NewtonCg {
    params: SolverParams,
    nystrom: Option<Nystrom>,
    /// CG iterations per digit of residual reduction (`c / max(1, log₁₀(1/η))`) of the first
    /// step after the last Nyström build.
    cg_at_build: Option<f64>,
    /// The same of the last step.
    last_cg: Option<f64>,
    builds: u64,
    /// The last step's curvature, for the derived checks observer (`None` there when the full
    /// checks run).
    shared: Option<SharedCurvature>,
}

/// The last Newton–CG step's [`CgCurvature`], handed from the strategy to the checks.
pub(crate) type SharedCurvature = std::rc::Rc<std::cell::RefCell<Option<CgCurvature>>>;

impl NewtonCg {
    pub fn new(params: SolverParams, shared: Option<SharedCurvature>) -> Self {
        Self { params, nystrom: None, cg_at_build: None, last_cg: None, builds: 0, shared }
    }

    /// The rank of the Nyström preconditioner: `nystrom_rank`, or `min(50, d/4)` (at least 1).
    fn rank(&self, d: usize) -> usize {
        if self.params.nystrom_rank > 0 { self.params.nystrom_rank } else { (d / 4).clamp(1, 50) }
    }

    /// Whether the Nyström preconditioner must be (re)built: none yet, or the last step's CG
    /// count per digit of residual reduction (the forcing term tightens as `‖g‖` falls, so raw
    /// counts rise by design) rose above 1.5× (plus 2) that of the first step after the last
    /// build.
    fn stale(&self) -> bool {
        match (&self.nystrom, self.cg_at_build, self.last_cg) {
            (None, _, _) => true,
            (Some(_), Some(base), Some(last)) => last > 1.5 * base + 2.0,
            _ => false,
        }
    }

    fn preconditioner(&mut self, f: &Objective, h: &StructuredHessian) -> (Option<Preconditioner>, usize) {
        match self.params.precond {
            Precond::None => (Some(Preconditioner::Identity), 0),
            Precond::Jacobi => (Some(Preconditioner::jacobi(h)), 1),
            Precond::Nystrom => {
                let mut passes = 0;
                if self.stale() {
                    let (dplus, _) = h.sketch_diagonal();
                    let d = h.dim();
                    let seed = self.params.seed ^ self.builds.wrapping_mul(0xA076_1D64_78BD_642F);
                    self.nystrom = Nystrom::build(f.matrix(), &dplus, self.rank(d), seed);
                    self.builds += 1;
                    self.cg_at_build = None;
                    passes = 2;
                }
                if self.nystrom.is_none() {
                    // D₊ = 0 on every row: nothing to approximate; Jacobi on H itself.
                    return (Some(Preconditioner::jacobi(h)), passes + 1);
                }
                (None, passes)
            }
        }
    }
}

impl<'a> StepStrategy<Objective<'a>> for NewtonCg {
    fn need(&self) -> Need {
        Need::Curvature
    }

    fn step(&mut self, f: &Objective<'a>, input: StepInput<'_, Evaluation<'a>>) -> Result<Step, StepError> {
        let h = input.at.hessian.as_ref().expect("evaluated with the Hessian");
        let g = input.at.gradient.as_deref().expect("evaluated with the gradient");
        let mut timing = Timing::default();
        let mut eta = 0.5f64.min(input.rel_grad.sqrt());
        if f.loss() == LossKind::Linear {
            // A quadratic: CG's residual `Hp + g` is the next gradient, so one CG solve to the
            // stopping level replaces the Newton steps (and their evaluations and Jacobi
            // passes) that a loose forcing term would spend on the way.
            eta = eta.min(0.5 * self.params.tol / input.rel_grad.max(f64::MIN_POSITIVE));
        }
        let t = Instant::now();
        let (own, mut passes) = self.preconditioner(f, h);
        timing.sketch_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let cg = {
            let apply: Box<ApplyFn<'_>> = match (&own, &self.nystrom) {
                (Some(p), _) => Box::new(move |r, o| p.apply(r, o)),
                (None, Some(ny)) => Box::new(move |r, o| ny.apply(r, o)),
                (None, None) => Box::new(|r: &[f64], o: &mut [f64]| o.copy_from_slice(r)),
            };
            truncated_cg(h, g, eta, self.params.max_cg, &*apply)
        };
        timing.solve_s = t.elapsed().as_secs_f64();
        passes += cg.iterations;
        if cg.p.is_empty() && !g.is_empty() {
            return Err(StepError::Underflow { grad_norm: norm(g) });
        }
        let rate = cg.iterations as f64 / eta.recip().log10().max(1.0);
        if self.cg_at_build.is_none() {
            self.cg_at_build = Some(rate);
        }
        self.last_cg = Some(rate);
        if !cg.p.iter().all(|v| v.is_finite()) {
            return Err(StepError::NonFiniteStep);
        }
        if let Some(shared) = &self.shared {
            *shared.borrow_mut() = Some(cg.curvature);
        }
        Ok(Step {
            p: cg.p,
            timing,
            passes,
            rows_kept: None,
            cg_iterations: Some(cg.iterations),
            fallbacks: cg.fallback.into_iter().collect(),
            min_alpha: 0.0,
        })
    }
}

/// `v ↦ P⁻¹v` into a buffer.
type ApplyFn<'p> = dyn Fn(&[f64], &mut [f64]) + 'p;

/// What [`truncated_cg`] returns.
pub(crate) struct CgStep {
    /// The step; empty when the Hessian-vector product underflowed to exactly zero.
    pub p: Vec<f64>,
    pub iterations: usize,
    pub fallback: Option<Fallback>,
    /// What the SPEC §4 checks can take from CG instead of their own Hessian-vector products.
    pub curvature: CgCurvature,
}

/// Curvature that CG measured on the way, for the derived SPEC §4 checks
/// ([`crate::checks`]): no extra pass over `A`.
#[derive(Debug, Clone, Default)]
pub(crate) struct CgCurvature {
    /// Rayleigh–Ritz estimate of `λ_min(H)` over the span of the first (at most
    /// [`RITZ_DIRECTIONS`]) CG directions `d_j`: `min_c (Σ c_j² d_jᵀHd_j)/‖Σ c_j d_j‖²` (the
    /// directions are `H`-conjugate, so `DᵀHD` is diagonal and costs nothing; only the Gram
    /// `DᵀD` is formed). An upper bound on `λ_min`, as any Ritz value is; `≤ dᵀHd/‖d‖² ≤ 0` when
    /// CG met negative curvature.
    pub lambda_min: Option<f64>,
    /// `H(x_t)·p` for the step `p` (`= −g − r` from CG's residual), when known.
    pub hp: Option<Vec<f64>>,
}

/// CG directions kept for the Rayleigh–Ritz estimate (memory `RITZ_DIRECTIONS·d`).
pub(crate) const RITZ_DIRECTIONS: usize = 24;

/// `min_c (Σ c_j² curv_j)/‖Σ c_j d_j‖²` over the directions `d_j` (see [`CgCurvature`]).
fn ritz_min(dirs: &[Vec<f64>], curv: &[f64]) -> Option<f64> {
    let m = dirs.len();
    if m == 0 {
        return None;
    }
    // Unit directions: G = D̂ᵀD̂ has a unit diagonal, K = diag(curv_j/‖d_j‖²).
    let norms: Vec<f64> = dirs.iter().map(|d| norm(d)).collect();
    if norms.iter().any(|&n| !(n > 0.0 && n.is_finite())) {
        return None;
    }
    let g = faer::Mat::from_fn(m, m, |i, j| if i == j { 1.0 } else { dot(&dirs[i], &dirs[j]) / (norms[i] * norms[j]) });
    let k: Vec<f64> = curv.iter().zip(&norms).map(|(c, n)| c / (n * n)).collect();
    // K c = λ G c  ⇔  (L⁻¹ K L⁻ᵀ) y = λ y with G = LLᵀ (damped if the directions are nearly
    // dependent, which only raises the estimate's error, not its sign).
    // m×m with m ≤ the CG iterations: too small to split, sequential.
    let (l, _) = crate::linalg::damped_cholesky(&g, faer::Par::Seq)?;
    let mut linv = faer::Mat::<f64>::identity(m, m);
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(l.as_ref(), linv.as_mut(), faer::Par::Seq);
    let a = faer::Mat::from_fn(m, m, |i, j| (0..m).map(|q| linv[(i, q)] * k[q] * linv[(j, q)]).sum::<f64>());
    let ev = a.self_adjoint_eigenvalues(faer::Side::Lower).ok()?;
    ev.first().copied().filter(|v| v.is_finite())
}

/// Preconditioned CG on `H p = −g` from `p = 0`, to `‖Hp + g‖ ≤ η‖g‖` or `max_cg` iterations
/// or negative curvature (see the module docs); `precond` applies `P⁻¹`. Deterministic: every vector operation is sequential over `d`, and
/// the product is [`StructuredHessian::apply_fused`].
pub(crate) fn truncated_cg(
    h: &StructuredHessian,
    g: &[f64],
    eta: f64,
    max_cg: usize,
    apply_pre: &ApplyFn<'_>,
) -> CgStep {
    let d = g.len();
    let gn = norm(g);
    let mut x = vec![0.0; d];
    let mut r: Vec<f64> = g.iter().map(|v| -v).collect();
    let mut z = vec![0.0; d];
    apply_pre(&r, &mut z);
    let mut p = z.clone();
    let mut rz = dot(&r, &z);
    let mut hp = vec![0.0; d];
    let (mut dirs, mut curv) = (Vec::new(), Vec::new());
    // H·x = −g − r for the CG iterate x.
    let hx = |r: &[f64]| -> Option<Vec<f64>> { Some(g.iter().zip(r).map(|(gi, ri)| -gi - ri).collect()) };
    for it in 0..max_cg {
        h.apply_fused(Part::Exact, &p, &mut hp);
        let php = dot(&p, &hp);
        if it == 0 && php == 0.0 && hp.iter().all(|&v| v == 0.0) {
            // H·p = 0 exactly along the (preconditioned) gradient: the Hessian underflows, as the
            // dense strategies' all-zero matrix does.
            return CgStep { p: Vec::new(), iterations: 1, fallback: None, curvature: CgCurvature::default() };
        }
        if dirs.len() < RITZ_DIRECTIONS && php.is_finite() {
            dirs.push(p.clone());
            curv.push(php);
        }
        // NaN or ≤ 0: not positive curvature.
        if php.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            let (step, hp) = if it == 0 { (g.iter().map(|v| -v).collect(), None) } else { (x, hx(&r)) };
            return CgStep {
                p: step,
                iterations: it + 1,
                fallback: Some(Fallback::CgNegativeCurvature { iteration: it, curvature: php }),
                curvature: CgCurvature { lambda_min: ritz_min(&dirs, &curv), hp },
            };
        }
        let alpha = rz / php;
        x.iter_mut().zip(&p).for_each(|(xi, pi)| *xi += alpha * pi);
        r.iter_mut().zip(&hp).for_each(|(ri, hi)| *ri -= alpha * hi);
        let rn = norm(&r);
        if rn <= eta * gn {
            let curvature = CgCurvature { lambda_min: ritz_min(&dirs, &curv), hp: hx(&r) };
            return CgStep { p: x, iterations: it + 1, fallback: None, curvature };
        }
        if it + 1 == max_cg {
            let curvature = CgCurvature { lambda_min: ritz_min(&dirs, &curv), hp: hx(&r) };
            return CgStep {
                p: x,
                iterations: max_cg,
                fallback: Some(Fallback::CgTruncated { iterations: max_cg, rel_residual: rn / gn }),
                curvature,
            };
        }
        apply_pre(&r, &mut z);
        let rz_new = dot(&r, &z);
        let beta = rz_new / rz;
        rz = rz_new;
        p.iter_mut().zip(&z).for_each(|(pi, zi)| *pi = zi + beta * *pi);
    }
    // max_cg = 0: the preconditioned steepest-descent direction.
    CgStep {
        p: z,
        iterations: 0,
        fallback: Some(Fallback::CgTruncated { iterations: 0, rel_residual: 1.0 }),
        curvature: CgCurvature::default(),
    }
}

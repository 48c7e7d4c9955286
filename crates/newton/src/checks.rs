//! The SPEC §4 induction-hypothesis checks, as an engine [`Observer`]: for each step
//! `x_t → x_{t+1}`, `l = λ_min(H(x_t))`, `M = ‖H(x_{t+1}) − H(x_t)‖₂/‖x_{t+1} − x_t‖`, `r_t`, and
//! whether `r_{t+1} ≤ 0.4·r_t` and `M·r_t ≤ 0.1·l` held. Timed apart as `checks_s`.
//!
//! ## Cost model (issue 16)
//!
//! Small `d` (dense eigenvalues cheaper than Lanczos, `objective::dense_is_cheaper`): one dense
//! Hessian a step (`Σnnz(a_i)²/2`; `H(x_{t+1})` is kept as the next step's `H(x_t)`) and two
//! `d×d` symmetric eigenvalue problems (`O(d³)`), giving `l` and `M` exactly. Large `d`:
//! adaptive Lanczos for `l` ([`crate::lanczos`]; at most 60 one-pass products at the first
//! step, at most 10 after, warm-started from the last Ritz vector) and a warm-started power
//! iteration for `M` (2 products a step, at most 12 steps, stopped at 1% agreement), plus
//! `O(k²·d)` reorthogonalisation: the [`ChecksKind::Exact`] checks.
//!
//! Default ([`ChecksKind::Derived`]) with Newton–CG: `l` from CG's own directions and `M` from
//! the Taylor remainder of successive gradients ([`derived_l_and_m`]): no pass over `A` (one
//! when the remainder is rounding), `O(k²·d)` for the `k ≤ 24` CG directions' Gram. With the
//! `exact` strategy at small `d` ([`derived_dense_l_and_m`]): `l` the eigenvalues of the dense
//! `H(x_t)` the step formed (`O(d³)`, no Hessian formed by the checks), `M` the Taylor remainder
//! with a dense `H(x_t)s` (`d²`). The sketched strategies run the exact checks whatever the kind.
//!
//! Any [`crate::engine::Problem`] whose evaluations implement [`CurvatureEval`] (a gradient and
//! a Hessian-vector product; optionally a dense Hessian) gets the exact checks from
//! [`ChecksObserver`] unchanged.

use std::ops::ControlFlow;
use std::time::Instant;

use losses::{Evaluation, Part};

use crate::engine::{Evaluated, Observer, StepView};
use crate::linalg::norm;
use crate::newton_cg::{CgCurvature, SharedCurvature};
use crate::objective::{LANCZOS_STEPS, dense_is_cheaper};
use crate::params::ChecksKind;
use crate::report::{Checks, IterRecord};

/// What the checks need of an evaluated point (issue 16 item 5): the gradient ([`Evaluated`])
/// and exact Hessian-vector products, and a dense Hessian where that is cheaper than Lanczos.
/// Implemented for [`losses::Evaluation`]; another [`crate::engine::Problem`] (a distributed
/// one, say) implements it for its evaluations to run [`ChecksObserver`] unchanged: with
/// `hessian_vector` alone it gets the exact (Lanczos / power-iteration) checks.
pub trait CurvatureEval: Evaluated {
    /// `out = H(x)·v`, the exact Hessian at the evaluated point.
    fn hessian_vector(&self, v: &[f64], out: &mut [f64]);
    /// Whether forming the dense `d×d` Hessian and its eigenvalues is cheaper than Lanczos
    /// (then [`Self::dense_hessian`] must return it). Default: no.
    fn dense_is_cheaper(&self) -> bool {
        false
    }
    /// The dense exact Hessian, when [`Self::dense_is_cheaper`]. Default: `None`.
    fn dense_hessian(&self) -> Option<faer::Mat<f64>> {
        None
    }
}

impl CurvatureEval for Evaluation<'_> {
    fn hessian_vector(&self, v: &[f64], out: &mut [f64]) {
        self.hessian.as_ref().expect("the Newton strategies evaluate Hessians").apply_fused(Part::Exact, v, out)
    }
    fn dense_is_cheaper(&self) -> bool {
        self.hessian.as_ref().is_some_and(dense_is_cheaper)
    }
    fn dense_hessian(&self) -> Option<faer::Mat<f64>> {
        self.hessian.as_ref().map(|h| h.dense(Part::Exact))
    }
}

/// The SPEC §4 checks as an engine [`Observer`] of any [`CurvatureEval`]: fills in each
/// record's [`Checks`] and `timing.checks_s`.
pub struct ChecksObserver<'s> {
    /// `x*` when known: `r_t = ‖x_t − x*‖`; otherwise successive steps stand in.
    pub x_star: Option<&'s [f64]>,
    /// Seed of the Lanczos and power-iteration start vectors.
    pub seed: u64,
    prev_step: Option<f64>,
    /// The largest `‖g‖` seen (`‖g(x₀)‖` in practice): the scale of the gradients' absolute
    /// rounding, under which a Taylor remainder is noise ([`GRAD_ROUNDING`]).
    g_scale: f64,
    /// Newton–CG's measured curvature: when set, the derived checks (see [`derived_l_and_m`]).
    cg: Option<SharedCurvature>,
    /// Warm starts carried between steps (see [`Warm`]).
    warm: Warm,
    /// The dense exact `H(x_t)` the `exact` strategy formed for its step: when set (and dense
    /// is cheaper than Lanczos), the derived dense checks ([`derived_dense_l_and_m`]).
    dense: Option<SharedDense>,
}

/// The dense exact Hessian `H(x_t)` a dense strategy formed for the step from `x_t`, handed
/// to the derived checks (issue 16: the checks form no Hessian of their own).
pub(crate) type SharedDense = std::rc::Rc<std::cell::RefCell<Option<faer::Mat<f64>>>>;

/// The derived SPEC §4 estimates for a step of the `exact` strategy at small `d`, from the
/// dense `H(x_t)` it factored: `l = λ_min(H(x_t))` exactly (`O(d³)` eigenvalues, no pass over
/// `A`), and `M = 2‖g_{t+1} − g_t − H(x_t)s‖/‖s‖²`, the Taylor remainder of successive
/// gradients (a lower bound on the Hessian's Lipschitz constant on the segment, see
/// [`derived_l_and_m`]) with `H(x_t)s` a dense product (`d²`). When the remainder is within
/// rounding of the gradients, one fused product `H(x_{t+1})s` gives the directional
/// `‖(H(x_{t+1}) − H(x_t))s‖/‖s‖²` instead (one pass). The exact checks form `H(x_{t+1})` and
/// diagonalise `H(x_{t+1}) − H(x_t)` every step on top.
fn derived_dense_l_and_m<E: CurvatureEval>(
    m: &faer::Mat<f64>,
    hn: &E,
    (x, g): (&[f64], &[f64]),
    (xn, gn): (&[f64], &[f64]),
    g_scale: f64,
) -> (Option<f64>, Option<f64>) {
    let l = losses::spectral::dense_lambda_min(m).ok();
    let s: Vec<f64> = xn.iter().zip(x).map(|(a, b)| a - b).collect();
    let ss = s.iter().map(|v| v * v).sum::<f64>();
    if ss.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return (l, None);
    }
    let d = s.len();
    let hs: Vec<f64> = (0..d).map(|i| (0..d).map(|j| m[(i, j)] * s[j]).sum::<f64>()).collect();
    let rem = gn.iter().zip(g).zip(&hs).map(|((a, b), h)| (a - b - h) * (a - b - h)).sum::<f64>().sqrt();
    let noise = (TAYLOR_NOISE * (norm(gn) + norm(g) + norm(&hs))).max(GRAD_ROUNDING * g_scale);
    if rem > noise {
        return (l, Some(2.0 * rem / ss));
    }
    let mut hns = vec![0.0; d];
    hn.hessian_vector(&s, &mut hns);
    let diff = hns.iter().zip(&hs).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
    (l, Some(diff / ss))
}

/// The previous step's converged vectors: the Hessian changes little from one step to the
/// next, so the lowest Ritz vector of `H(x_t)` and the dominant vector of `H(x_t) − H(x_{t−1})`
/// start the next step's Lanczos and power iterations close to their answers, and the adaptive
/// stopping rules end them after a few products instead of the fixed 60 + 2·12.
#[derive(Default)]
struct Warm {
    lowest: Option<Vec<f64>>,
    difference: Option<Vec<f64>>,
    /// Small `d` ([`dense_is_cheaper`]): the dense `H(x_{t+1})` formed at the last step, with
    /// the point it belongs to, which is the next step's `H(x_t)`.
    dense: Option<(Vec<f64>, faer::Mat<f64>)>,
}

/// Small `d`: `l = λ_min(H(x_t))` and `M = ‖H(x_{t+1}) − H(x_t)‖₂/‖s‖` exactly, from the
/// dense matrices (eigenvalues of `d×d` matrices), each dense Hessian formed once: `H(x_{t+1})`
/// is kept for the next step. Exact where the Lanczos and power estimates only bound the
/// quantities from inside.
fn dense_l_and_m<E: CurvatureEval>(
    h: &E,
    hn: &E,
    x: &[f64],
    xn: &[f64],
    step: f64,
    warm: &mut Warm,
) -> (Option<f64>, Option<f64>) {
    let cur = match warm.dense.take() {
        Some((at, m)) if at.as_slice() == x => Some(m),
        _ => h.dense_hessian(),
    };
    let (Some(cur), Some(next)) = (cur, hn.dense_hessian()) else { return (None, None) };
    let l = losses::spectral::dense_lambda_min(&cur).ok();
    let m = (step > 0.0)
        .then(|| {
            let diff = faer::Mat::from_fn(cur.nrows(), cur.ncols(), |i, j| next[(i, j)] - cur[(i, j)]);
            let ev = diff.self_adjoint_eigenvalues(faer::Side::Lower).ok()?;
            let norm = ev.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            Some(norm / step)
        })
        .flatten();
    warm.dense = Some((xn.to_vec(), next));
    (l, m)
}

impl<'s> ChecksObserver<'s> {
    /// Checks measuring `r_t` against `x_star` when given (else successive steps), with
    /// seeded start vectors.
    pub fn new(x_star: Option<&'s [f64]>, seed: u64) -> Self {
        Self { x_star, seed, prev_step: None, g_scale: 0.0, cg: None, warm: Warm::default(), dense: None }
    }
    /// The derived checks of a dense strategy, from the `H(x_t)` it formed.
    pub(crate) fn with_dense(mut self, dense: SharedDense) -> Self {
        self.dense = Some(dense);
        self
    }
    /// The derived checks, from what Newton–CG measured.
    pub(crate) fn with_cg(mut self, cg: SharedCurvature) -> Self {
        self.cg = Some(cg);
        self
    }
}

/// The derived SPEC §4 estimates for a Newton–CG step ([`ChecksKind::Derived`]), from what
/// the step already computed:
///
/// - `l`: CG's Rayleigh–Ritz value over its own directions ([`CgCurvature::lambda_min`]): an
///   upper bound on `λ_min(H(x_t))`, as any Ritz value is (no pass over `A`).
/// - `M`: the Taylor remainder of successive gradients. `g(x+s) − g(x) − H(x)s =
///   ∫₀¹(H(x+τs) − H(x))s dτ`, so `‖·‖ ≤ L‖s‖²/2` for `L` the Hessian's Lipschitz constant
///   on the segment, and `M = 2‖g_{t+1} − g_t − H_t s‖/‖s‖²` bounds `L` from below. `H_t s =
///   α·H_t p = α(−g_t − r)` from CG's residual `r`: no pass over `A`. When the remainder is
///   within rounding of the gradients (the last, tiny steps), one fused product `H(x_{t+1})s`
///   gives the directional `‖(H(x_{t+1}) − H(x_t))s‖/‖s‖²` instead (one pass).
///
/// `None` when CG measured nothing usable (steepest-descent fallback): the exact checks run then.
fn derived_l_and_m<E: CurvatureEval>(
    c: &CgCurvature,
    hn: &E,
    (x, g): (&[f64], &[f64]),
    (xn, gn): (&[f64], &[f64]),
    alpha: f64,
    g_scale: f64,
) -> Option<(Option<f64>, Option<f64>)> {
    let hp = c.hp.as_ref()?;
    let s: Vec<f64> = xn.iter().zip(x).map(|(a, b)| a - b).collect();
    let ss = s.iter().map(|v| v * v).sum::<f64>();
    if ss.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Some((c.lambda_min, None));
    }
    let rem = gn.iter().zip(g).zip(hp).map(|((a, b), h)| (a - b - alpha * h) * (a - b - alpha * h)).sum::<f64>().sqrt();
    // Rounding in the three vectors the remainder is the difference of.
    let noise = (TAYLOR_NOISE * (norm(gn) + norm(g) + alpha * norm(hp))).max(GRAD_ROUNDING * g_scale);
    if rem > noise {
        return Some((c.lambda_min, Some(2.0 * rem / ss)));
    }
    let mut hns = vec![0.0; s.len()];
    hn.hessian_vector(&s, &mut hns);
    let diff = hns.iter().zip(hp).map(|(a, b)| (a - alpha * b) * (a - alpha * b)).sum::<f64>().sqrt();
    Some((c.lambda_min, Some(diff / ss)))
}

/// Relative size under which the Taylor remainder is rounding, not curvature change: the
/// gradients are sums over `n` rows, each accurate to about `1e-16` relative; `1e-10` leaves
/// room for the cancellation in CG's residual recurrence.
const TAYLOR_NOISE: f64 = 1e-10;

/// The gradients' absolute rounding relative to the largest `‖g‖` seen: near the minimum `g`
/// is a sum of terms far larger than itself, so its error is relative to their scale, not to
/// `‖g‖`. Measured on `gen --n 30000 --d 30`: the last step's remainder was `1.1e-13` against
/// `‖g(x₀)‖ = 1.7e3` (6e-17 of it, pure rounding; taken as curvature it gave `M = 3.9e9`
/// where the exact checks find `1.7e4`); `1e-12` leaves a 10⁴ margin.
const GRAD_ROUNDING: f64 = 1e-12;

impl<E: CurvatureEval> Observer<E> for ChecksObserver<'_> {
    fn observe(&mut self, view: &mut StepView<'_, E>) -> ControlFlow<()> {
        if view.escape {
            return ControlFlow::Continue(());
        }
        let t = Instant::now();
        let (h, hn) = (view.at, view.next);
        let step = dist(view.x, view.x_next);
        let measured = self.cg.as_ref().and_then(|c| c.borrow_mut().take());
        let (g, gn) = (Some(view.at.gradient()), Some(view.next.gradient()));
        if let Some(g) = g {
            self.g_scale = self.g_scale.max(norm(g));
        }
        let cheap = match (measured, g, gn) {
            (Some(c), Some(g), Some(gn)) => {
                derived_l_and_m(&c, hn, (view.x, g), (view.x_next, gn), view.record.step_length, self.g_scale)
            }
            _ => None,
        };
        let formed = self.dense.as_ref().and_then(|c| c.borrow_mut().take());
        let cheap = cheap.or_else(|| match (formed, g, gn) {
            (Some(m), Some(g), Some(gn)) if m.nrows() == g.len() && h.dense_is_cheaper() => {
                Some(derived_dense_l_and_m(&m, hn, (view.x, g), (view.x_next, gn), self.g_scale))
            }
            _ => None,
        });
        view.record.checks =
            induction_checks(h, hn, view.x, view.x_next, self.x_star, self.prev_step, self.seed, cheap, &mut self.warm);
        view.record.timing.checks_s = t.elapsed().as_secs_f64();
        self.prev_step = Some(step);
        ControlFlow::Continue(())
    }
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt()
}

/// The SPEC §4 quantities for the step `x → xn`; `cheap` holds `(l, M)` when they were
/// derived from Newton–CG's own quantities.
#[allow(clippy::too_many_arguments)]
fn induction_checks<E: CurvatureEval>(
    h: &E,
    hn: &E,
    x: &[f64],
    xn: &[f64],
    x_star: Option<&[f64]>,
    prev_step: Option<f64>,
    seed: u64,
    cheap: Option<(Option<f64>, Option<f64>)>,
    warm: &mut Warm,
) -> Checks {
    let step = dist(x, xn);
    let kind = if cheap.is_some() { ChecksKind::Derived } else { ChecksKind::Exact };
    let (l, m) = match cheap {
        Some(lm) => lm,
        None => {
            if h.dense_is_cheaper() {
                dense_l_and_m(h, hn, x, xn, step, warm)
            } else {
                let l = lowest_warm(h, seed, warm);
                (l, (step > 0.0).then(|| hessian_difference_norm(h, hn, seed, warm) / step))
            }
        }
    };
    let (r, r_next) = match x_star {
        Some(xs) => (Some(dist(x, xs)), Some(dist(xn, xs))),
        None => (prev_step, Some(step)),
    };
    let contraction = match (r, r_next) {
        (Some(a), Some(b)) if a > 0.0 => Some(b / a),
        _ => None,
    };
    Checks {
        l_est: l,
        m_est: m,
        r,
        contraction,
        contraction_ok: contraction.map(|c| c <= 0.4),
        lipschitz_ok: match (m, r, l) {
            (Some(m), Some(r), Some(l)) => Some(l > 0.0 && m * r <= 0.1 * l),
            _ => None,
        },
        kind: Some(kind),
    }
}

/// `λ_min(H)` by adaptive Lanczos ([`crate::lanczos`], at most `LANCZOS_STEPS` products) from
/// the previous step's Ritz vector plus a tenth of a seeded random vector (so that a direction
/// the previous vector lacks is still represented), or from the random vector alone at the
/// first step. The estimate is settled to [`crate::lanczos::REL_TOL`] relative residual.
fn lowest_warm<E: CurvatureEval>(h: &E, seed: u64, warm: &mut Warm) -> Option<f64> {
    let d = h.gradient().len();
    let mut start = losses::spectral::lanczos_start(d, seed);
    let steps = match &warm.lowest {
        Some(prev) => {
            let n = norm(&start);
            start.iter_mut().zip(prev).for_each(|(s, p)| *s = p + 0.1 * *s / n);
            WARM_LANCZOS_STEPS
        }
        None => LANCZOS_STEPS,
    };
    let r = losses::spectral::lanczos_lowest(d, steps, &start, crate::lanczos::REL_TOL, 2, false, |v, out| {
        h.hessian_vector(v, out)
    })?;
    warm.lowest = Some(r.vector);
    Some(r.theta)
}

/// Lanczos steps at most from a warm start: the Krylov space continues from the previous
/// step's Ritz vector, so over `t` steps the estimate has seen `60 + 10·(t − 1)` products (a
/// restarted Lanczos on the slowly changing `H(x_t)`); measured on the bundled KJV problem it
/// ends lower (closer to `λ_min`, which any Ritz value bounds from above) than 60 fresh steps
/// at every iteration (docs/benchmarks.md, "Checks").
const WARM_LANCZOS_STEPS: usize = 10;

/// Power-iteration steps at most for `‖H(x) − H(y)‖₂`.
const POWER_STEPS: usize = 12;
/// Relative change of the power estimate at which it counts as settled.
const POWER_TOL: f64 = 1e-2;

/// `‖H(x) − H(y)‖₂` by power iteration on the difference operator, from the previous step's
/// dominant vector (or a seeded start), stopped when two successive estimates agree to
/// [`POWER_TOL`] or after [`POWER_STEPS`] steps. Power estimates increase towards the norm (for
/// a symmetric operator `‖Bv_k‖` is non-decreasing), so an early stop only forgoes the last
/// percent.
fn hessian_difference_norm<E: CurvatureEval>(h: &E, hn: &E, seed: u64, warm: &mut Warm) -> f64 {
    let d = h.gradient().len();
    let mut v: Vec<f64> = match warm.difference.take() {
        Some(v) => v,
        None => {
            (0..d).map(|i| (((i as u64 + 1).wrapping_mul(0x9E37_79B9 ^ seed)) % 1009) as f64 / 1009.0 - 0.5).collect()
        }
    };
    let (mut a, mut b) = (vec![0.0; d], vec![0.0; d]);
    let mut est = 0.0;
    for k in 0..POWER_STEPS {
        let n = norm(&v);
        if n == 0.0 {
            return 0.0;
        }
        v.iter_mut().for_each(|x| *x /= n);
        h.hessian_vector(&v, &mut a);
        hn.hessian_vector(&v, &mut b);
        v = a.iter().zip(&b).map(|(p, q)| p - q).collect();
        let prev = est;
        est = norm(&v);
        if k >= 1 && (est - prev).abs() <= POWER_TOL * est {
            break;
        }
    }
    let n = norm(&v);
    if n > 0.0 {
        warm.difference = Some(v.iter().map(|x| x / n).collect());
    }
    est
}

/// First iteration from which every later record with checks has both checks true.
pub(crate) fn regime_from(history: &[IterRecord]) -> Option<usize> {
    let with: Vec<&IterRecord> =
        history.iter().filter(|r| r.checks.contraction_ok.is_some() && r.checks.lipschitz_ok.is_some()).collect();
    let mut from = None;
    for r in with.iter().rev() {
        if r.checks.contraction_ok == Some(true) && r.checks.lipschitz_ok == Some(true) {
            from = Some(r.iteration);
        } else {
            break;
        }
    }
    from
}

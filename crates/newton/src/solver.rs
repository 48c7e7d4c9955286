//! The solver loop: evaluate → check termination → form `H̃` → solve → line search → record.

use std::ops::ControlFlow;
use std::time::Instant;

use faer::{Mat, Side};
use losses::{Evaluation, LossError, Objective, Part, StructuredHessian, What};
use sketch::{Method, Sparsifier, SparsifyParams, sparsify};

use crate::error::{SolveError, StepError};
use crate::linalg::{chol_solve, damped_cholesky, dot, max_diagonal, norm, pcg};
use crate::params::{SolverParams, Strategy};
use crate::report::{Checks, Fallback, IterRecord, Iterate, Report, Status, Timing};

/// The report's message when the observer stopped the solve.
const INTERRUPTED: &str = "stopped by the observer between iterations";

/// Lanczos steps for `λ_min` and negative-curvature directions.
const LANCZOS_STEPS: usize = 60;

/// Whether dense eigenvalues (`Σ nnz(a_i)²` to form `H`, about `4d³` to diagonalise) are
/// cheaper than Lanczos (`LANCZOS_STEPS` Hessian-vector products, `4·nnz` flops each, plus
/// reorthogonalisation).
fn dense_is_cheaper(h: &StructuredHessian) -> bool {
    let a = h.matrix();
    let d = a.ncols() as f64;
    let gram: f64 = a.indptr().windows(2).map(|w| ((w[1] - w[0]) as f64).powi(2) / 2.0).sum();
    let dense = gram + 4.0 * d * d * d;
    let steps = LANCZOS_STEPS as f64;
    let lanczos = steps * 4.0 * a.nnz() as f64 + steps * steps * d;
    dense <= lanczos
}

/// Minimise `f` from `x0`. `x_star`, when known (e.g. `x_true`), is what `r_t = ‖x_t − x*‖` is
/// measured against; otherwise successive steps stand in for it. Every iteration's record is
/// handed to `observer` as it completes, with the point it reached ([`Iterate`]);
/// `ControlFlow::Break(())` from the observer ends the solve after that iteration (the point is
/// kept) with [`Status::Interrupted`], which is how Ctrl-C and user callbacks stop a solve
/// between iterations.
///
/// Returns `Err` only when the solver cannot run (bad parameters, `x0` of the wrong size or
/// non-finite, the loss not finite at `x0`); every other outcome is a [`Report`] whose status
/// says what happened. The result never holds a NaN.
pub fn solve(
    f: &Objective,
    x0: &[f64],
    params: &SolverParams,
    x_star: Option<&[f64]>,
    observer: &mut dyn FnMut(&IterRecord, Iterate<'_>) -> ControlFlow<()>,
) -> Result<Report, SolveError> {
    let (_, d) = f.shape();
    validate(params, x0, d, x_star)?;
    let start = Instant::now();
    let mut total = Timing::default();
    let t = Instant::now();
    let mut cur = f.evaluate(x0, What::Hessian).map_err(SolveError::AtStart)?;
    total.eval_s += t.elapsed().as_secs_f64();
    let mut x = x0.to_vec();
    let mut g_ref = norm(grad(&cur));
    let grad_norm0 = g_ref;
    let mut history: Vec<IterRecord> = Vec::new();
    let mut sample: Option<SampleMemo> = None;
    let mut prev_step_norm: Option<f64> = None;
    let mut escaped_here = false;
    let (status, message) = loop {
        let it = history.len();
        let g = grad(&cur).to_vec();
        let gn = norm(&g);
        let hess = cur.hessian.as_ref().expect("requested");
        // `inf ≤ tol·inf` holds: a non-finite norm must never reach the gradient test.
        if !(gn.is_finite() && cur.value.is_finite()) {
            break (
                Status::Overflow,
                Some(format!("‖g‖ = {gn:e} at a loss of {:e}: the gradient's norm overflows f64", cur.value)),
            );
        }
        if d == 0 {
            // No columns: the loss is a constant and x = () is its minimiser.
            break (Status::Converged, Some("A has no columns: the loss does not depend on x".into()));
        }
        let grad_ok = gn <= (params.tol * g_ref).max(params.atol);
        let budget = if it >= params.max_iter {
            Some(Status::MaxIterations)
        } else if start.elapsed().as_secs_f64() > params.max_time {
            Some(Status::MaxTime)
        } else {
            None
        };
        if !grad_ok && let Some(status) = budget {
            break (status, Some(format!("‖g‖ = {gn:.3e} has not reached its tolerance {:.3e}", params.tol * g_ref)));
        }
        // The step is formed before the stopping test: its Newton decrement λ² = −gᵀp = gᵀH̃⁻¹g
        // is the scale-invariant half of the test (no step at an exactly stationary point).
        let step = if gn == 0.0 {
            None
        } else {
            match newton_step(f, hess, &g, gn / g_ref.max(f64::MIN_POSITIVE), params, it, &mut sample) {
                Ok(s) => Some(s),
                Err(e) => break (Status::NumericalError, Some(e.to_string())),
            }
        };
        let lambda2 = step.as_ref().map_or(0.0, |s| (-dot(&g, &s.p)).max(0.0));
        // An explicit absolute tolerance is the user's own scale for ‖g‖ and is honoured as given.
        let certified = gn <= params.atol || decrement_ok(lambda2, cur.value, cur.value_floor, params.tol);
        if grad_ok && certified {
            if escaped_here {
                break (Status::Saddle, Some("the negative-curvature step led back to a stationary point".into()));
            }
            // Stationary: a minimum, or a saddle to leave (errata E7: cosh at 0).
            let t = Instant::now();
            let escape = negative_curvature(hess, params.seed);
            total.checks_s += t.elapsed().as_secs_f64();
            match escape {
                None => break (Status::Converged, None),
                Some((lambda, v)) => match curvature_step(f, &x, cur.value, &g, &v, lambda) {
                    Some(xn) => {
                        let t = Instant::now();
                        let next = match f.evaluate(&xn, What::Hessian) {
                            Ok(e) => e,
                            Err(e) => break (Status::Overflow, Some(format!("beyond the saddle: {e}"))),
                        };
                        let mut timing = Timing { eval_s: t.elapsed().as_secs_f64(), ..Default::default() };
                        total.add(&timing);
                        timing.checks_s = 0.0;
                        let rec = IterRecord {
                            iteration: it,
                            loss: cur.value,
                            grad_norm: gn,
                            step_norm: dist(&x, &xn),
                            step_length: 1.0,
                            newton_decrement: 0.0,
                            rows_kept: None,
                            cg_iterations: None,
                            passes_over_a: 3,
                            timing,
                            fallbacks: vec![Fallback::NegativeCurvatureStep { lambda_min: lambda }],
                            checks: Checks::default(),
                        };
                        let stop = observer(&rec, Iterate { x: &xn, loss: next.value }).is_break();
                        history.push(rec);
                        x = xn;
                        f.recycle(std::mem::replace(&mut cur, next));
                        if stop {
                            break (Status::Interrupted, Some(INTERRUPTED.into()));
                        }
                        // The gradient vanished at the saddle: measure progress from here.
                        g_ref = norm(grad(&cur)).max(params.atol);
                        escaped_here = true;
                        continue;
                    }
                    None => break (Status::Saddle, Some(format!("stationary point with λ_min = {lambda:.3e}"))),
                },
            }
        }
        if let Some(status) = budget {
            break (
                status,
                Some(format!(
                    "‖g‖ = {gn:.3e} passed its test but the Newton decrement λ²/2 = {:.3e} is not small against the loss {:.3e}",
                    lambda2 / 2.0,
                    cur.value
                )),
            );
        }
        escaped_here = false;
        let Some(step) = step else {
            // gn = 0 passes both tests: the branch above has ended this iteration.
            break (Status::Converged, None);
        };
        let mut timing = Timing::default();
        let mut fallbacks = Vec::new();
        // Passes over A made by this iteration: the step's, the line search's and the
        // evaluation of the accepted point (x₀'s evaluation is set-up, counted nowhere).
        let mut passes = 0;
        timing.add(&step.timing);
        passes += step.passes;
        fallbacks.extend(step.fallbacks);
        let p = step.p;
        let gtp = dot(&g, &p);
        // Armijo backtracking from the full step; overflow counts as +∞. The full step is
        // evaluated with its gradient and Hessian: when it is accepted (as near x*), that is the
        // next iterate's evaluation and no further pass is needed.
        let t = Instant::now();
        let mut alpha = 1.0;
        let mut full: Option<Evaluation> = None;
        let accepted = loop {
            let xn: Vec<f64> = x.iter().zip(&p).map(|(a, b)| a + alpha * b).collect();
            let armijo = |v: f64| v <= cur.value + params.armijo * alpha * gtp;
            if alpha == 1.0 {
                passes += 2;
                match f.evaluate(&xn, What::Hessian) {
                    Ok(e) if armijo(e.value) => {
                        full = Some(e);
                        break Some(xn);
                    }
                    Ok(e) => f.recycle(e),
                    Err(_) => {}
                }
            } else {
                passes += 1;
                if f.value(&xn).is_ok_and(armijo) {
                    break Some(xn);
                }
            }
            alpha *= 0.5;
            if alpha < 1e-14 {
                break None;
            }
        };
        timing.eval_s += t.elapsed().as_secs_f64();
        let Some(xn) = accepted else {
            total.add(&timing);
            if grad_ok {
                // The gradient test holds and not even a 1e-14 fraction of the Newton step lowers
                // the loss: the predicted decrease is below the rounding of the loss itself (a
                // zero-residual minimum evaluated to its floating-point floor). Stationary to the
                // precision the loss can be evaluated, unless the curvature says saddle.
                let t = Instant::now();
                let escape = negative_curvature(hess, params.seed);
                total.checks_s += t.elapsed().as_secs_f64();
                break match escape {
                    None => (
                        Status::Converged,
                        Some(format!(
                            "stationary to rounding: the Newton decrease λ²/2 = {:.3e} is below what the loss {:.3e} resolves",
                            lambda2 / 2.0,
                            cur.value
                        )),
                    ),
                    Some((lambda, _)) => (Status::Saddle, Some(format!("stationary point with λ_min = {lambda:.3e}"))),
                };
            }
            break (
                Status::Stalled,
                Some(format!(
                    "the line search found no decrease along the Newton direction (‖g‖ = {gn:.3e}, λ²/2 = {:.3e}, loss {:.3e})",
                    lambda2 / 2.0,
                    cur.value
                )),
            );
        };
        let next = match full {
            Some(e) => e,
            None => {
                let t = Instant::now();
                passes += 2;
                let e = match f.evaluate(&xn, What::Hessian) {
                    Ok(e) => e,
                    Err(e @ LossError::Overflow { .. }) => break (Status::Overflow, Some(e.to_string())),
                    Err(e) => break (Status::NumericalError, Some(e.to_string())),
                };
                timing.eval_s += t.elapsed().as_secs_f64();
                e
            }
        };
        // SPEC §4 checks for the step x_t → x_{t+1}.
        let step_norm = dist(&x, &xn);
        let checks = if params.checks {
            let t = Instant::now();
            let c = induction_checks(
                hess,
                next.hessian.as_ref().expect("requested"),
                &x,
                &xn,
                x_star,
                prev_step_norm,
                params.seed,
            );
            timing.checks_s = t.elapsed().as_secs_f64();
            c
        } else {
            Checks::default()
        };
        prev_step_norm = Some(step_norm);
        total.add(&timing);
        let rec = IterRecord {
            iteration: it,
            loss: cur.value,
            grad_norm: gn,
            step_norm,
            step_length: alpha,
            newton_decrement: (-gtp).max(0.0).sqrt(),
            rows_kept: step.rows_kept,
            cg_iterations: step.cg_iterations,
            passes_over_a: passes,
            timing,
            fallbacks,
            checks,
        };
        let stop = observer(&rec, Iterate { x: &xn, loss: next.value }).is_break();
        history.push(rec);
        x = xn;
        // Its n-vectors serve the next evaluations (no fresh pages to fault in).
        f.recycle(std::mem::replace(&mut cur, next));
        if stop {
            break (Status::Interrupted, Some(INTERRUPTED.into()));
        }
    };
    let grad_norm = norm(grad(&cur));
    Ok(Report {
        status,
        regime_from_iteration: if params.checks { regime_from(&history) } else { None },
        r_against_x_star: x_star.is_some(),
        x,
        loss: cur.value,
        grad_norm,
        grad_norm0,
        iterations: history.len(),
        history,
        timing: total,
        total_s: start.elapsed().as_secs_f64(),
        message,
    })
}

fn validate(params: &SolverParams, x0: &[f64], d: usize, x_star: Option<&[f64]>) -> Result<(), SolveError> {
    if x0.len() != d {
        return Err(SolveError::DimensionMismatch { what: "x0", expected: d, found: x0.len() });
    }
    if let Some(xs) = x_star
        && xs.len() != d
    {
        return Err(SolveError::DimensionMismatch { what: "x*", expected: d, found: xs.len() });
    }
    if let Some(i) = x0.iter().position(|v| !v.is_finite()) {
        return Err(SolveError::NonFiniteStart { what: "x0", index: i, value: x0[i] });
    }
    let bad = |name: &'static str, value: f64, allowed: &'static str| {
        Err(SolveError::InvalidParameter { name, value, allowed })
    };
    let p = params;
    // `!(v >= 0.0)` rather than `v < 0.0`: NaN must fail too.
    if !(p.tol >= 0.0 && p.tol.is_finite()) {
        return bad("tol", p.tol, "finite and ≥ 0");
    }
    if !(p.atol >= 0.0 && p.atol.is_finite()) {
        return bad("atol", p.atol, "finite and ≥ 0");
    }
    if p.refresh_every < 1 {
        return bad("refresh_every", p.refresh_every as f64, "≥ 1");
    }
    if !(p.armijo > 0.0 && p.armijo < 0.5) {
        return bad("armijo", p.armijo, "in (0, 0.5)");
    }
    if p.max_time.is_nan() || p.max_time <= 0.0 {
        return bad("max_time", p.max_time, "> 0 (seconds; +inf for no limit)");
    }
    if p.strategy.is_sketched() {
        if !(p.eps0 > 0.0 && p.eps0 < 1.0) {
            return bad("eps0", p.eps0, "in (0, 1) for a sketched strategy");
        }
        if !(p.delta > 0.0 && p.delta < 1.0) {
            return bad("delta", p.delta, "in (0, 1) for a sketched strategy");
        }
    }
    Ok(())
}

/// The scale-invariant half of the stopping test: the Newton decrement `λ²/2 = gᵀH̃⁻¹g/2`
/// (the decrease the quadratic model still promises) is at most `tol·|f| + floor`. Unlike
/// `‖g‖`, it does not change when `x` or `A` is rescaled, and unlike a test relative to
/// `‖g(x₀)‖` it is not loosened by a bad start (`‖g(x₀)‖` of 1e9–1e44 let the relative
/// gradient test stop at a loss of 3.46 where the minimum is 0). `floor` is the loss's rounding
/// floor ([`losses::Evaluation::value_floor`]): what lets a zero-residual minimum (`f* = 0`,
/// where `λ²/2 ≈ f` all the way down) pass once `f` is at the noise level. `λ² = 0` (an
/// exactly stationary point, or the trivial minimum `L = 0`) always passes.
pub(crate) fn decrement_ok(lambda2: f64, value: f64, floor: f64, tol: f64) -> bool {
    lambda2 == 0.0 || lambda2 / 2.0 <= tol * value.abs() + floor
}

fn grad<'e>(e: &'e Evaluation) -> &'e [f64] {
    e.gradient.as_deref().expect("requested")
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt()
}

/// Sampled rows kept between leverage refreshes, with their inclusion probabilities.
struct SampleMemo {
    rows: Vec<usize>,
    probs: Vec<f64>,
}

struct Step {
    p: Vec<f64>,
    timing: Timing,
    passes: usize,
    rows_kept: Option<usize>,
    cg_iterations: Option<usize>,
    fallbacks: Vec<Fallback>,
}

/// The sketch's nonnegative diagonal `D₊`: `D` where `D ≥ 0`, else the Gauss–Newton `D_GN`
/// (borrowed when nothing is negative, the common case near `x*`).
fn positive_diagonal<'h>(h: &'h StructuredHessian) -> (std::borrow::Cow<'h, [f64]>, usize) {
    let (d, dgn) = (h.diagonal(Part::Exact), h.diagonal(Part::GaussNewton));
    let negative = d.iter().filter(|&&v| v < 0.0).count();
    if negative == 0 {
        return (d.into(), 0);
    }
    (d.iter().zip(dgn).map(|(&a, &b)| if a >= 0.0 { a } else { b }).collect(), negative)
}

/// Form `H̃` per strategy, factor it (damped if needed) and solve for `p = −H̃⁻¹g`
/// (`leverage-pcg`: CG on the exact Hessian preconditioned by it).
fn newton_step(
    f: &Objective,
    h: &StructuredHessian,
    g: &[f64],
    rel_grad: f64,
    params: &SolverParams,
    it: usize,
    memo: &mut Option<SampleMemo>,
) -> Result<Step, StepError> {
    let a = f.matrix();
    let mut timing = Timing::default();
    let mut passes = 0;
    let mut fallbacks = Vec::new();
    let mut rows_kept = None;
    let part = if params.strategy == Strategy::GaussNewton { Part::GaussNewton } else { Part::Exact };
    let mut m: Mat<f64> = match params.strategy {
        Strategy::Exact | Strategy::GaussNewton => {
            let t = Instant::now();
            let m = h.dense(part);
            timing.hessian_s += t.elapsed().as_secs_f64();
            passes += 1; // the weighted Gram; AᵀU came with the gradient's pass
            m
        }
        Strategy::Leverage | Strategy::LeveragePcg | Strategy::NewtonSketch => {
            let t = Instant::now();
            let (dplus, negative) = positive_diagonal(h);
            if negative > 0 {
                fallbacks.push(Fallback::NegativeDiagonal { rows: negative });
            }
            let sp_params = SparsifyParams { eps0: params.eps0, delta: params.delta, ..Default::default() };
            let seed = params.seed.wrapping_add(it as u64);
            let sparsifier = if params.strategy == Strategy::NewtonSketch {
                passes += 1;
                sparsify(a, &dplus, Method::NewtonSketch, &sp_params, seed)?
            } else {
                let refresh = memo.is_none() || it.is_multiple_of(params.refresh_every);
                if refresh {
                    passes += 2;
                    let sp = sparsify(a, &dplus, Method::Leverage, &sp_params, seed)?;
                    if let Sparsifier::Diagonal(s) = &sp {
                        let probs = s.rows.iter().zip(&s.weights).map(|(&i, &w)| dplus[i] / w).collect();
                        *memo = Some(SampleMemo { rows: s.rows.clone(), probs });
                    }
                    sp
                } else {
                    // Reuse the rows; reweight by the current D₊.
                    let s = memo.as_ref().expect("checked");
                    let weights = s.rows.iter().zip(&s.probs).map(|(&i, &p)| dplus[i] / p).collect();
                    Sparsifier::Diagonal(sketch::SampledDiagonal { rows: s.rows.clone(), weights })
                }
            };
            timing.sketch_s += t.elapsed().as_secs_f64();
            rows_kept = Some(sparsifier.rows_kept());
            let t = Instant::now();
            let mut m = sparsifier.gram(a);
            if h.low_rank(Part::Exact).1 > 0 {
                // AᵀU came with the gradient's pass: no further pass over A.
                h.add_low_rank(Part::Exact, h.atu(), &mut m);
            }
            timing.hessian_s += t.elapsed().as_secs_f64();
            m
        }
    };
    let t = Instant::now();
    let d = g.len();
    for i in 0..d {
        for j in 0..i {
            let s = 0.5 * (m[(i, j)] + m[(j, i)]);
            m[(i, j)] = s;
            m[(j, i)] = s;
        }
    }
    if max_diagonal(&m) == 0.0 && (0..d).all(|i| (0..d).all(|j| m[(i, j)] == 0.0)) {
        return Err(StepError::Underflow { grad_norm: norm(g) });
    }
    let (l, mu) = damped_cholesky(&m).ok_or(StepError::NotFactorisable { max_diag: max_diagonal(&m) })?;
    if let Some(mu) = mu {
        fallbacks.push(Fallback::Damped { mu });
    }
    let neg_g: Vec<f64> = g.iter().map(|v| -v).collect();
    let mut cg_iterations = None;
    let p = if params.strategy == Strategy::LeveragePcg {
        // Inexact Newton: forcing term η = min(0.1, √(‖g‖/‖g₀‖)) gives superlinear convergence.
        let eta = 0.1f64.min(rel_grad.sqrt()).max(1e-12);
        let res = pcg(&neg_g, eta, params.max_cg, |v, out| h.apply(Part::Exact, v, out), |r| chol_solve(&l, r));
        cg_iterations = Some(res.iterations);
        passes += 2 * res.iterations;
        let descent = dot(&res.x, g) < 0.0;
        match res.failure {
            Some(reason) if !descent || res.iterations == 0 => {
                fallbacks.push(Fallback::PcgFallback { reason: reason.to_string() });
                chol_solve(&l, &neg_g)
            }
            Some(reason) => {
                fallbacks.push(Fallback::PcgFallback { reason: reason.to_string() });
                res.x
            }
            None => res.x,
        }
    } else {
        chol_solve(&l, &neg_g)
    };
    timing.solve_s += t.elapsed().as_secs_f64();
    if !p.iter().all(|v| v.is_finite()) {
        return Err(StepError::NonFiniteStep);
    }
    Ok(Step { p, timing, passes, rows_kept, cg_iterations, fallbacks })
}

/// `(λ_min, unit eigenvector)` of the exact Hessian when it is clearly negative (relative to
/// its largest eigenvalue), else `None`.
fn negative_curvature(h: &StructuredHessian, seed: u64) -> Option<(f64, Vec<f64>)> {
    let d = h.dim();
    if dense_is_cheaper(h) {
        let m = h.dense(Part::Exact);
        let eig = m.self_adjoint_eigen(Side::Lower).ok()?;
        let s = eig.S();
        let (lo, hi) = (s[0], s[d - 1]);
        if lo < -1e-10 * hi.abs().max(lo.abs()) {
            return Some((lo, (0..d).map(|i| eig.U()[(i, 0)]).collect()));
        }
        return None;
    }
    let (lo, hi) = losses::lanczos_extremes(d, LANCZOS_STEPS, seed, |v, out| h.apply(Part::Exact, v, out)).ok()?;
    (lo < -1e-10 * hi.abs().max(lo.abs())).then(|| (lo, lowest_eigenvector(h, hi.max(0.0), seed)))
}

/// The eigenvector of the most negative eigenvalue for large `d`: power iteration on
/// `σI − H` with `σ ≥ λ_max`, whose dominant eigenvector it is (`O(nnz)` per step).
fn lowest_eigenvector(h: &StructuredHessian, sigma: f64, seed: u64) -> Vec<f64> {
    let d = h.dim();
    let mut v: Vec<f64> =
        (0..d).map(|i| (((i as u64 + 1).wrapping_mul(0x9E37_79B9 ^ seed)) % 1009) as f64 - 504.0).collect();
    let mut hv = vec![0.0; d];
    for _ in 0..100 {
        let n = norm(&v);
        v.iter_mut().for_each(|x| *x /= n);
        h.apply(Part::Exact, &v, &mut hv);
        v = v.iter().zip(&hv).map(|(a, b)| sigma * a - b).collect();
    }
    let n = norm(&v);
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// A step along `±v` that decreases `f` by at least a quarter of the quadratic model's
/// prediction `½α²λ`; `None` if no such step is found.
fn curvature_step(f: &Objective, x: &[f64], fx: f64, g: &[f64], v: &[f64], lambda: f64) -> Option<Vec<f64>> {
    let sign = if dot(g, v) > 0.0 { -1.0 } else { 1.0 };
    let mut alpha = 1.0f64.max(norm(x));
    for _ in 0..40 {
        let xn: Vec<f64> = x.iter().zip(v).map(|(a, b)| a + sign * alpha * b).collect();
        if let Ok(val) = f.value(&xn)
            && val - fx <= 0.25 * 0.5 * alpha * alpha * lambda
        {
            return Some(xn);
        }
        alpha *= 0.5;
    }
    None
}

/// The SPEC §4 quantities for the step `x → xn`.
fn induction_checks(
    h: &StructuredHessian,
    hn: &StructuredHessian,
    x: &[f64],
    xn: &[f64],
    x_star: Option<&[f64]>,
    prev_step: Option<f64>,
    seed: u64,
) -> Checks {
    let l = if dense_is_cheaper(h) {
        losses::spectral::dense_lambda_min(&h.dense(Part::Exact)).ok()
    } else {
        losses::lanczos_extremes(x.len(), LANCZOS_STEPS, seed, |v, out| h.apply(Part::Exact, v, out)).ok().map(|e| e.0)
    };
    let step = dist(x, xn);
    let m = (step > 0.0).then(|| hessian_difference_norm(h, hn, seed) / step);
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
    }
}

/// `‖H(x) − H(y)‖₂` by 12 steps of power iteration on the difference operator.
fn hessian_difference_norm(h: &StructuredHessian, hn: &StructuredHessian, seed: u64) -> f64 {
    let d = h.dim();
    let mut v: Vec<f64> =
        (0..d).map(|i| (((i as u64 + 1).wrapping_mul(0x9E37_79B9 ^ seed)) % 1009) as f64 / 1009.0 - 0.5).collect();
    let (mut a, mut b) = (vec![0.0; d], vec![0.0; d]);
    let mut est = 0.0;
    for _ in 0..12 {
        let n = norm(&v);
        if n == 0.0 {
            return 0.0;
        }
        v.iter_mut().for_each(|x| *x /= n);
        h.apply(Part::Exact, &v, &mut a);
        hn.apply(Part::Exact, &v, &mut b);
        v = a.iter().zip(&b).map(|(p, q)| p - q).collect();
        est = norm(&v);
    }
    est
}

/// First iteration from which every later record with checks has both checks true.
fn regime_from(history: &[IterRecord]) -> Option<usize> {
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

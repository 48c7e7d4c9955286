//! `newton-cg` tested like the other strategies: convergence from the same starts on every
//! loss and `u` with the answer of exact Newton, saddles, negative curvature inside CG,
//! bitwise-identical `x` at 1 and 2 threads, the preconditioners' effect, and a wide problem
//! (`d = 20,000`) that the dense strategies cannot hold.
//!
//! The wide problem prints its figures with
//! `cargo test --release -p spnewton-newton --test newton_cg wide -- --nocapture`.

use std::ops::ControlFlow;

use losses::{Activation, LossKind, Objective, PlantSpec, Regulariser, plant};
use newton::{ChecksKind, Fallback, Precond, Report, SolverParams, Status, Strategy, solve};
use sparse_ops::CsrMatrix;
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

const PRECONDS: [Precond; 3] = [Precond::None, Precond::Jacobi, Precond::Nystrom];

fn matrix(n: usize, d: usize, seed: u64, variant: Variant) -> CsrMatrix {
    random_sparse(&GenSpec { nrows: n, ncols: d, sparsity: Sparsity::RowNnz(6.min(d)), variant, seed }).unwrap()
}

fn cg_params(precond: Precond) -> SolverParams {
    SolverParams { strategy: Strategy::NewtonCg, precond, max_iter: 200, ..Default::default() }
}

fn run(f: &Objective, x0: &[f64], params: &SolverParams, x_star: Option<&[f64]>) -> Report {
    solve(f, x0, params, x_star, &mut |_, _| ControlFlow::Continue(())).unwrap()
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt();
    let den: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    num / den.max(1e-300)
}

/// The cases and starts of `convergence.rs`: every loss and `u`, planted exactly, `cosh` not
/// from 0 (a stationary point for every `b`).
#[test]
fn every_loss_every_u_every_preconditioner_converges_to_exact_newtons_answer() {
    let a = matrix(6000, 12, 1, Variant::Plain);
    let mut cases = Vec::new();
    for (loss, funcs) in [
        (LossKind::Rescaled, vec![Activation::Exp, Activation::Cosh, Activation::Sinh]),
        (LossKind::Hyperbolic, vec![Activation::Exp, Activation::Cosh, Activation::Sinh]),
        (LossKind::Softmax, vec![Activation::Exp]),
        (LossKind::Linear, vec![Activation::Exp]),
    ] {
        for func in funcs {
            cases.push((loss, func));
        }
    }
    for (loss, func) in cases {
        let (x_true, b) = plant(&a, &PlantSpec { loss, func, scale: 0.5, noise: 0.0, seed: 3 }).unwrap();
        let w = if loss == LossKind::Softmax { 1e-4 / 6000.0 } else { 0.05 };
        let f = Objective::new(&a, &b, Regulariser::Const(w), loss, func).unwrap();
        let x0: Vec<f64> =
            if func == Activation::Cosh { x_true.iter().map(|v| 0.8 * v + 0.01).collect() } else { vec![0.0; 12] };
        let exact = run(&f, &x0, &SolverParams { strategy: Strategy::Exact, ..cg_params(Precond::None) }, None);
        assert_eq!(exact.status, Status::Converged, "{loss} {func} exact: {:?}", exact.message);
        for pc in PRECONDS {
            let r = run(&f, &x0, &cg_params(pc), Some(&x_true));
            let what = format!("{loss} {func} newton-cg/{}", pc.name());
            assert_eq!(r.status, Status::Converged, "{what}: {:?} after {} iterations", r.message, r.iterations);
            assert!(r.grad_norm <= 1e-8 * r.grad_norm0 || r.grad_norm0 == 0.0, "{what}");
            let e = rel(&r.x, &exact.x);
            assert!(e <= 1e-6, "{what}: differs from exact Newton by {e:e}");
            // Every step records its CG count, and passes: one per CG iteration at least.
            for h in &r.history {
                let c = h.cg_iterations.expect("newton-cg records CG iterations");
                assert!(c >= 1 && h.passes_over_a > c, "{what}: {c} CG iterations, {} passes", h.passes_over_a);
            }
        }
    }
}

#[test]
fn cosh_at_zero_is_a_saddle_left_along_negative_curvature() {
    let a = matrix(3000, 8, 4, Variant::Plain);
    let (_, b) =
        plant(&a, &PlantSpec { loss: LossKind::Rescaled, func: Activation::Cosh, scale: 1.0, noise: 0.0, seed: 5 })
            .unwrap();
    let f = Objective::new(&a, &b, Regulariser::None, LossKind::Rescaled, Activation::Cosh).unwrap();
    let h = f.evaluate(&[0.0; 8], losses::What::Hessian).unwrap().hessian.unwrap();
    let lmin = losses::spectral::dense_lambda_min(&h.dense(losses::Part::Exact)).unwrap();
    assert!(lmin < 0.0, "the test needs a saddle at 0 (λ_min = {lmin})");
    for pc in PRECONDS {
        let r = run(&f, &[0.0; 8], &cg_params(pc), None);
        let left = r
            .history
            .first()
            .is_some_and(|h| h.fallbacks.iter().any(|f| matches!(f, Fallback::NegativeCurvatureStep { .. })));
        assert!(left, "{}: the saddle at 0 was not detected", pc.name());
        match r.status {
            Status::Saddle => {}
            Status::Converged => {
                assert!(r.loss < f.value(&[0.0; 8]).unwrap(), "{}", pc.name());
                assert!(r.x.iter().any(|&v| v != 0.0));
            }
            other => panic!("{}: {other:?}", pc.name()),
        }
    }
}

/// Near the cosh saddle (not at it) the exact Hessian is indefinite and the gradient is not
/// zero: CG meets `dᵀHd ≤ 0`, stops, records it, and the solve still decreases the loss.
#[test]
fn negative_curvature_inside_cg_is_recorded_and_the_step_descends() {
    let a = matrix(3000, 8, 4, Variant::Plain);
    let (x_true, b) =
        plant(&a, &PlantSpec { loss: LossKind::Rescaled, func: Activation::Cosh, scale: 1.0, noise: 0.0, seed: 5 })
            .unwrap();
    let f = Objective::new(&a, &b, Regulariser::None, LossKind::Rescaled, Activation::Cosh).unwrap();
    let x0: Vec<f64> = x_true.iter().map(|v| 0.01 * v).collect();
    let h = f.evaluate(&x0, losses::What::Hessian).unwrap().hessian.unwrap();
    let lmin = losses::spectral::dense_lambda_min(&h.dense(losses::Part::Exact)).unwrap();
    assert!(lmin < 0.0, "the test needs an indefinite Hessian at x0 (λ_min = {lmin})");
    let mut met = 0;
    for pc in PRECONDS {
        let r = run(&f, &x0, &cg_params(pc), None);
        met += r
            .history
            .iter()
            .filter(|h| h.fallbacks.iter().any(|f| matches!(f, Fallback::CgNegativeCurvature { .. })))
            .count();
        assert!(r.history.first().is_some_and(|h| h.step_length > 0.0), "{}", pc.name());
        assert!(r.loss < f.value(&x0).unwrap(), "{}: {:?}", pc.name(), r.status);
        assert!(
            matches!(r.status, Status::Converged | Status::Saddle),
            "{}: {:?} {:?}",
            pc.name(),
            r.status,
            r.message
        );
    }
    assert!(met > 0, "no CG run met the negative curvature");
}

/// Columns scaled over four decades: plain CG needs many more Hessian-vector products than
/// Jacobi-preconditioned CG (which undoes the scaling), and Nyström is no worse than plain.
#[test]
fn preconditioners_cut_cg_iterations_on_an_ill_conditioned_problem() {
    let a = matrix(20_000, 60, 8, Variant::IllConditioned { orders: 4.0 });
    let (_, b) =
        plant(&a, &PlantSpec { loss: LossKind::Linear, func: Activation::Exp, scale: 0.5, noise: 0.0, seed: 2 })
            .unwrap();
    let f = Objective::new(&a, &b, Regulariser::Const(1e-3), LossKind::Linear, Activation::Exp).unwrap();
    let total = |pc| {
        let r = run(&f, &[0.0; 60], &SolverParams { max_cg: 2000, checks: false, ..cg_params(pc) }, None);
        assert_eq!(r.status, Status::Converged, "{pc:?}: {:?}", r.message);
        r.history.iter().map(|h| h.cg_iterations.unwrap()).sum::<usize>()
    };
    let (none, jacobi, nystrom) = (total(Precond::None), total(Precond::Jacobi), total(Precond::Nystrom));
    assert!(4 * jacobi < none, "jacobi {jacobi} vs none {none}");
    assert!(4 * nystrom < none, "nystrom {nystrom} vs none {none}");
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

#[test]
fn one_thread_and_two_threads_give_the_same_bits() {
    for (variant, loss) in [
        (Variant::Plain, LossKind::Softmax),
        (Variant::IllConditioned { orders: 4.0 }, LossKind::Rescaled),
        (Variant::Plain, LossKind::Linear),
    ] {
        let a =
            random_sparse(&GenSpec { nrows: 60_000, ncols: 300, sparsity: Sparsity::RowNnz(10), variant, seed: 12 })
                .unwrap();
        let (_, b) = plant(&a, &PlantSpec { loss, func: Activation::Exp, scale: 0.5, noise: 0.1, seed: 1 }).unwrap();
        let w = if loss == LossKind::Softmax { 1e-9 } else { 0.01 };
        let f = Objective::new(&a, &b, Regulariser::Const(w), loss, Activation::Exp).unwrap();
        for pc in PRECONDS {
            let params = SolverParams { max_iter: 8, checks: false, seed: 3, ..cg_params(pc) };
            let bits = |t| {
                in_pool(t, || {
                    let r = run(&f, &[0.0; 300], &params, None);
                    (r.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), r.history.len())
                })
            };
            let (one, two) = (bits(1), bits(2));
            assert!(one.1 > 0, "{loss} {}: no iteration", pc.name());
            assert_eq!(one, two, "{loss} {variant:?} {}: 1 and 2 threads differ", pc.name());
        }
    }
}

/// Peak resident memory of this process (`VmHWM`), bytes; `None` off Linux.
fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// `n = 2·10⁵`, `d = 20,000`, 10 nonzeros a row: exact Newton's dense `d×d` matrix would be
/// 3.2 GB and its factorisation `O(d³)`; Newton–CG solves to `1e-8` in `O(nnz + d)` memory
/// (measured: 6 Newton steps, 17 CG iterations, 1.3 s, peak RSS 66 MB against a 26 MB CSR).
#[test]
fn wide_problem_d_20000_solves_in_linear_memory() {
    let (n, d) = (200_000, 20_000);
    let a = random_sparse(&GenSpec {
        nrows: n,
        ncols: d,
        sparsity: Sparsity::RowNnz(10),
        variant: Variant::Plain,
        seed: 7,
    })
    .unwrap();
    let (_, b) =
        plant(&a, &PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.0, seed: 3 })
            .unwrap();
    let f = Objective::new(&a, &b, Regulariser::Const(0.01), LossKind::Rescaled, Activation::Exp).unwrap();
    let before = peak_rss();
    let t = std::time::Instant::now();
    let r = run(&f, &vec![0.0; d], &SolverParams { checks: false, ..cg_params(Precond::Jacobi) }, None);
    let secs = t.elapsed().as_secs_f64();
    let after = peak_rss();
    let csr = a.csr_bytes() as f64;
    eprintln!(
        "d = {d}: {:?} in {} iterations, {} CG iterations, {secs:.2} s; CSR {:.0} MB, peak RSS {:?} MB before, {:?} MB after",
        r.status,
        r.iterations,
        r.history.iter().map(|h| h.cg_iterations.unwrap()).sum::<usize>(),
        csr / 1e6,
        before.map(|v| v / 1_000_000),
        after.map(|v| v / 1_000_000)
    );
    assert_eq!(r.status, Status::Converged, "{:?}", r.message);
    assert!(r.grad_norm <= 1e-8 * r.grad_norm0);
    if let Some(peak) = after {
        // The CSR, the generator's transient copies, the evaluations' n-vectors and the test
        // harness (the other tests of this binary are small): ≤ 3× the CSR plus 64 MB, where
        // one dense d×d matrix is 3.2 GB.
        assert!((peak as f64) < 3.0 * csr + 64e6, "peak {peak} bytes against a CSR of {csr} bytes");
    }
}

/// The derived checks ([`ChecksKind::Derived`], the default): CG's Rayleigh–Ritz `l` is never
/// below the exact `λ_min(H(x_t))` (a Ritz value), and the Taylor `M = 2‖g_{t+1} − g_t −
/// H_t s‖/‖s‖²` is at most the Hessian's Lipschitz constant on the segment, here bounded by the
/// largest secant `‖H(x_t + τs) − H(x_t)‖₂/(τ‖s‖)` over `τ ∈ {¼, ½, ¾, 1}` (dense eigenvalues),
/// with 1.5× room for the quadrature of the integral remainder.
#[test]
fn derived_checks_bound_the_dense_quantities_from_the_right_side() {
    let a = matrix(4000, 10, 3, Variant::Plain);
    let (x_true, b) =
        plant(&a, &PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.0, seed: 1 })
            .unwrap();
    let f = Objective::new(&a, &b, Regulariser::Const(0.05), LossKind::Rescaled, Activation::Exp).unwrap();
    let params = SolverParams { checks_kind: ChecksKind::Derived, ..cg_params(Precond::Jacobi) };
    let mut xs = vec![vec![0.0; 10]];
    let r = solve(&f, &[0.0; 10], &params, Some(&x_true), &mut |_, it| {
        xs.push(it.x.to_vec());
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(r.status, Status::Converged);
    let dense = |x: &[f64]| f.evaluate(x, losses::What::Hessian).unwrap().hessian.unwrap().dense(losses::Part::Exact);
    let mut checked = 0;
    for (t, h) in r.history.iter().enumerate() {
        assert_eq!(h.checks.kind, Some(ChecksKind::Derived), "iteration {t}");
        let hx = dense(&xs[t]);
        let lmin = losses::spectral::dense_lambda_min(&hx).unwrap();
        let l = h.checks.l_est.expect("derived l");
        assert!(l >= lmin * (1.0 - 1e-9), "iteration {t}: Ritz l = {l} below λ_min = {lmin}");
        let step = xs[t].iter().zip(&xs[t + 1]).map(|(p, q)| (p - q) * (p - q)).sum::<f64>().sqrt();
        let secant = |tau: f64| {
            let xt: Vec<f64> = xs[t].iter().zip(&xs[t + 1]).map(|(p, q)| p + tau * (q - p)).collect();
            let ht = dense(&xt);
            let diff = faer::Mat::from_fn(10, 10, |i, j| ht[(i, j)] - hx[(i, j)]);
            let ev = diff.self_adjoint_eigenvalues(faer::Side::Lower).unwrap();
            ev.iter().fold(0.0f64, |m, v| m.max(v.abs())) / (tau * step)
        };
        let lip = [0.25, 0.5, 0.75, 1.0].map(secant).into_iter().fold(0.0f64, f64::max);
        if let Some(m) = h.checks.m_est {
            assert!(m <= 1.5 * lip + 1e-12, "iteration {t}: M = {m} above 1.5 × {lip}");
            checked += 1;
        }
    }
    assert!(checked > 0);
}

/// The derived and the exact checks on the same solve: the iterates are bitwise the same (the
/// checks only observe), each record names its kind, and the derived estimates lie within the
/// factors docs/guide.md states of the exact ones: `0.9·l_exact ≤ l_derived ≤ 25·l_exact` (a Ritz
/// value over CG's few directions against a settled Lanczos value) and `M_exact/25 ≤ M_derived
/// ≤ 2·M_exact` (the Taylor remainder sees one direction, the power iteration the norm).
#[test]
fn derived_checks_agree_with_the_exact_ones_within_the_stated_factors() {
    let a = matrix(20_000, 300, 10, Variant::Plain);
    let (x_true, b) =
        plant(&a, &PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.0, seed: 3 })
            .unwrap();
    let f = Objective::new(&a, &b, Regulariser::Const(0.01), LossKind::Rescaled, Activation::Exp).unwrap();
    let x0 = vec![0.0; 300];
    let derived =
        run(&f, &x0, &SolverParams { checks_kind: ChecksKind::Derived, ..cg_params(Precond::Jacobi) }, Some(&x_true));
    let exact =
        run(&f, &x0, &SolverParams { checks_kind: ChecksKind::Exact, ..cg_params(Precond::Jacobi) }, Some(&x_true));
    assert_eq!(derived.status, Status::Converged);
    assert_eq!(
        derived.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        exact.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(derived.history.len(), exact.history.len());
    let mut compared = 0;
    for (t, (d, e)) in derived.history.iter().zip(&exact.history).enumerate() {
        assert_eq!(d.checks.kind, Some(ChecksKind::Derived), "iteration {t}");
        assert_eq!(e.checks.kind, Some(ChecksKind::Exact), "iteration {t}");
        let (ld, le) = (d.checks.l_est.unwrap(), e.checks.l_est.unwrap());
        eprintln!("iteration {t}: l {ld:.4e} / {le:.4e}, M {:?} / {:?}", d.checks.m_est, e.checks.m_est);
        assert!(ld >= 0.9 * le && ld <= 25.0 * le, "iteration {t}: l derived {ld}, exact {le}");
        if let (Some(md), Some(me)) = (d.checks.m_est, e.checks.m_est) {
            assert!(md >= me / 25.0 && md <= 2.0 * me, "iteration {t}: M derived {md}, exact {me}");
            compared += 1;
        }
    }
    assert!(compared > 0);
}

/// The linear loss is a quadratic: CG's residual is the next gradient, so the first step is
/// solved to the stopping level and the gradient test holds after it (a loose forcing term
/// spent 4–5 Newton steps and their evaluations here). Also with a noisy `b` and Jacobi.
#[test]
fn a_quadratic_is_solved_in_one_newton_step() {
    let a = matrix(20_000, 60, 7, Variant::Plain);
    let (_, b) =
        plant(&a, &PlantSpec { loss: LossKind::Linear, func: Activation::Exp, scale: 0.5, noise: 0.1, seed: 9 })
            .unwrap();
    let f = Objective::new(&a, &b, Regulariser::Const(0.05), LossKind::Linear, Activation::Exp).unwrap();
    let r = run(&f, &[0.0; 60], &cg_params(Precond::Jacobi), None);
    assert_eq!(r.status, Status::Converged, "{:?}", r.message);
    assert!(r.grad_norm <= 1e-8 * r.grad_norm0);
    let first = &r.history[0];
    assert!(
        r.history.len() <= 2,
        "{} Newton steps, CG {:?}",
        r.history.len(),
        r.history.iter().map(|h| h.cg_iterations).collect::<Vec<_>>()
    );
    assert!(first.cg_iterations.unwrap() > 1, "the first step's CG ran to the stopping level");
}

//! [`ChecksObserver`] on a `Problem` that is not a sparse loss (issue 16 item 5): it needs only
//! the evaluations' gradients and a Hessian-vector product ([`CurvatureEval`]). A separable
//! quartic `f(x) = Σ (x_i⁴/4 + c_i x_i²/2 − b_i x_i)` has `H(x) = diag(3x_i² + c_i)`, so
//! `λ_min(H(x_t))` and `‖H(x_{t+1}) − H(x_t)‖₂/‖s‖` are known in closed form.

use newton::engine::{Evaluated, LineSearch, LoopParams, Need, Observer, Problem, Step, StepInput, Strategy, run};
use newton::{ChecksObserver, CurvatureEval, StepError};

struct Quartic {
    c: Vec<f64>,
    b: Vec<f64>,
}

struct Eval {
    value: f64,
    grad: Vec<f64>,
    hdiag: Vec<f64>,
}

impl Evaluated for Eval {
    fn value(&self) -> f64 {
        self.value
    }
    fn gradient(&self) -> &[f64] {
        &self.grad
    }
}

impl CurvatureEval for Eval {
    fn hessian_vector(&self, v: &[f64], out: &mut [f64]) {
        out.iter_mut().zip(v).zip(&self.hdiag).for_each(|((o, v), h)| *o = h * v);
    }
}

impl Problem for Quartic {
    type Eval = Eval;
    type Error = String;
    fn dim(&self) -> usize {
        self.c.len()
    }
    fn evaluate(&self, x: &[f64], _need: Need) -> Result<Eval, String> {
        Ok(Eval {
            value: self.value(x)?,
            grad: (0..x.len()).map(|i| x[i].powi(3) + self.c[i] * x[i] - self.b[i]).collect(),
            hdiag: (0..x.len()).map(|i| 3.0 * x[i] * x[i] + self.c[i]).collect(),
        })
    }
    fn value(&self, x: &[f64]) -> Result<f64, String> {
        Ok((0..x.len()).map(|i| x[i].powi(4) / 4.0 + self.c[i] * x[i] * x[i] / 2.0 - self.b[i] * x[i]).sum())
    }
}

struct DiagNewton;

impl Strategy<Quartic> for DiagNewton {
    fn need(&self) -> Need {
        Need::Curvature
    }
    fn step(&mut self, _p: &Quartic, input: StepInput<'_, Eval>) -> Result<Step, StepError> {
        let e = input.at;
        Ok(Step { p: e.grad.iter().zip(&e.hdiag).map(|(g, h)| -g / h).collect(), ..Default::default() })
    }
}

/// The exact (Lanczos / power-iteration) checks through `hessian_vector` alone: `l` within the
/// Lanczos tolerance of `min_i(3x_i² + c_i)` and never below it (a Ritz value), `M` within the
/// power iteration's 1% stop of `max_i 3|x'_i² − x_i²|/‖s‖` and never above it.
#[test]
fn checks_observer_runs_on_any_curvature_eval() {
    let d = 200;
    let c: Vec<f64> = (0..d).map(|i| 0.5 + (i % 17) as f64 * 0.3).collect();
    let b: Vec<f64> = (0..d).map(|i| ((i * 7919) % 101) as f64 / 25.0 - 2.0).collect();
    let f = Quartic { c: c.clone(), b };
    let x0 = vec![0.0; d];
    let params = LoopParams {
        tol: 1e-10,
        atol: 0.0,
        max_iter: 50,
        max_time: f64::INFINITY,
        decrement_test: false,
        decrement_floor: 0.0,
        curvature_test: false,
        escape_saddles: false,
        line_search: LineSearch::Armijo { c: 1e-4, max_trials: 40, evaluate_full_step: true },
        seed: 1,
    };
    let mut checks = ChecksObserver::new(None, 1);
    let mut xs = vec![x0.clone()];
    let mut recorder = newton::engine::FnObserver(|_: &newton::IterRecord, it: newton::Iterate<'_>| {
        xs.push(it.x.to_vec());
        std::ops::ControlFlow::Continue(())
    });
    let report = {
        let mut observers: Vec<&mut dyn Observer<Eval>> = vec![&mut checks, &mut recorder];
        run(&f, &mut DiagNewton, &x0, &params, &mut observers).unwrap()
    };
    assert!(report.history.len() >= 3, "{} iterations", report.history.len());
    assert_eq!(xs.len(), report.history.len() + 1);
    for (t, rec) in report.history.iter().enumerate() {
        let (xt, xn) = (&xs[t], &xs[t + 1]);
        let lmin = (0..d).map(|i| 3.0 * xt[i] * xt[i] + c[i]).fold(f64::INFINITY, f64::min);
        let l = rec.checks.l_est.expect("l");
        assert!(l >= lmin * (1.0 - 1e-12) && l <= lmin * (1.0 + 1e-2), "iteration {t}: l {l}, λ_min {lmin}");
        let step = (0..d).map(|i| (xn[i] - xt[i]).powi(2)).sum::<f64>().sqrt();
        let mexact = (0..d).map(|i| 3.0 * (xn[i] * xn[i] - xt[i] * xt[i]).abs()).fold(0.0, f64::max) / step;
        let m = rec.checks.m_est.expect("M");
        assert!(m <= mexact * (1.0 + 1e-9) && m >= 0.9 * mexact, "iteration {t}: M {m}, exact {mexact}");
    }
}

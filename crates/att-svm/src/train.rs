//! The token-selection experiment: W-GD on single-layer attention with a fixed head, and the
//! quantities of seed 004 §4 along the way.
//!
//! Query `q = (l, i)` predicts `f_q = ⟨head, Σ_t s_t a_t⟩ = Σ_t s_t γ̃_t` with
//! `s = softmax_t(a_iᵀ X a_t)` over its visible tokens and `γ̃_t = ⟨head, a_t⟩`; the loss is
//! `L(X) = (1/(mn)) Σ_q log(1 + exp(−y_q f_q))` (SPEC errata E3). Its gradient is
//! `Σ_q a_i (Σ_t w_t a_t)ᵀ` with `w_t = φ'(f)·s_t(γ̃_t − f)/(mn)`, `φ(f) = log(1 + e^{−y f})`.
//!
//! Precision: once the logit gap between the optimal token and the rest passes about 36, the
//! non-optimal weights `e^{−gap}` vanish next to 1 and `γ̃_opt − f` computed as a difference of
//! two nearly equal numbers is pure rounding. Every weight is therefore computed from logit
//! differences (`s_t = e^{z_t − z*} / Σ_u e^{z_u − z*}`) and `f` as `γ̃_* + Σ_t s_t(γ̃_t − γ̃_*)`,
//! so `γ̃_t − f = δ_t − Σ_u s_u δ_u` with `δ_t = γ̃_t − γ̃_*` keeps full relative precision.
//!
//! Each step costs `O(m·(n·d² + n²·d))` (per sequence `AX`, `(AX)Aᵀ`, `Aᵀ(WA)` with faer);
//! sequences run in parallel and their gradients are added in sequence order (bitwise the same
//! for any thread count).

use std::cell::Cell;
use std::ops::ControlFlow;

use attention::EntryLoss;
use faer::{Mat, MatRef};
use newton::engine::{
    self, Evaluated, LineSearch, LoopParams, Need, Observer, Problem, Step, StepInput, StepView, Strategy,
};
use newton::{Report, Status, StepError};
use rayon::prelude::*;
use runtime::dense::mul;
use serde::Serialize;

use crate::data::TokenData;
use crate::error::SvmError;

/// The `k` of the top-`k` attention mass and top-`k` sparse attention.
pub const TOP_K: [usize; 3] = [1, 4, 16];

/// A token contribution below this fraction of the largest single contribution at the first
/// recorded step counts as negligible.
pub const NEGLIGIBLE: f64 = 1e-3;

/// Parameters of [`train`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainParams {
    /// Gradient steps to take.
    pub steps: usize,
    /// Step size `η`.
    pub eta: f64,
    /// `X ← X − η·g/‖g‖_F` instead of `X ← X − η·g`.
    pub normalized: bool,
    /// Record every this many steps (and the first and last).
    pub record_every: usize,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self { steps: 2000, eta: 0.1, normalized: true, record_every: 10 }
    }
}

/// The seed 004 §4 quantities at one step. Means are over queries that see at least two tokens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainRecord {
    /// Step number (0 at `X(0)`).
    pub step: usize,
    /// The loss at `X(k)`.
    pub loss: f64,
    /// `‖∇L(X(k))‖_F`.
    pub grad_norm: f64,
    /// `‖X(k)‖_F`.
    pub x_norm: f64,
    /// `cos(X(k), X^mm)`, when `X^mm` is given.
    pub cos_mm: Option<f64>,
    /// Smallest and mean logit gap `z_opt − max_{t≠opt} z_t`.
    pub gap_min: f64,
    /// Mean logit gap.
    pub gap_mean: f64,
    /// Mean Shannon entropy of the attention rows (nats).
    pub entropy: f64,
    /// Mean attention mass of the `k` largest weights, `k ∈ TOP_K`.
    pub top_mass: [f64; 3],
    /// Mean `‖o − o_k‖/‖o‖` of the attention output `o = Σ s_t a_t` against keeping only the
    /// `k` largest logits (renormalised), `k ∈ TOP_K`.
    pub topk_error: [f64; 3],
    /// Share of visible (query, token) pairs whose gradient contribution `‖w_t a_i a_tᵀ‖` is
    /// below [`NEGLIGIBLE`] of the largest one at the first recorded step.
    pub negligible: f64,
    /// Share of queries with `sign(f) = y`.
    pub accuracy: f64,
}

/// Below this gradient norm the run stops: the non-optimal weights `e^{−gap}` are leaving the
/// range of normal doubles (gaps near 700), so the gradient's direction is no longer
/// represented and `η/‖g‖` would overflow.
pub const GRADIENT_FLOOR: f64 = 1e-250;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainStatus {
    /// All steps taken.
    Completed,
    /// Stopped early: `‖∇L‖ < GRADIENT_FLOOR` (attention is a hard selection to double
    /// precision).
    GradientUnderflow,
    /// Stopped early: the loss, the gradient or the next iterate is not finite (values too
    /// large for f64; a larger `eta` than the data allows). `x` is the last finite iterate and
    /// no non-finite value is recorded.
    Overflow,
}

runtime::named_enum!(TrainStatus {
    Completed => "completed",
    GradientUnderflow => "gradient_underflow",
    Overflow => "overflow",
});

/// What [`train`] returns.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// The engine's status read in this experiment's terms: the budget running out is the
    /// normal end ([`TrainStatus::Completed`]); the gradient floor is
    /// [`TrainStatus::GradientUnderflow`], whatever the loss did on the way.
    pub status: TrainStatus,
    /// Steps taken.
    pub steps: usize,
    /// The final `X` (`d×d`).
    pub x: Mat<f64>,
    /// The recorded steps.
    pub trajectory: Vec<TrainRecord>,
    /// The engine's report: status, `vec(X)` (row-major), every step's record, timing.
    pub report: Report,
}

/// Loss, gradient and per-query statistics of one sequence.
struct SeqPass {
    loss: f64,
    grad: Mat<f64>,
    gaps: Vec<f64>,
    entropy: f64,
    top_mass: [f64; 3],
    topk_error: [f64; 3],
    contributions: Vec<f64>,
    correct: usize,
    counted: usize,
}

/// The loss and gradient at `x` (for tests and line searches).
pub fn loss_and_gradient(data: &TokenData, x: MatRef<'_, f64>) -> (f64, Mat<f64>) {
    let p = pass(data, x, false);
    (p.iter().map(|s| s.loss).sum(), sum_grads(data, &p))
}

fn sum_grads(data: &TokenData, parts: &[SeqPass]) -> Mat<f64> {
    let d = data.meta().d;
    let mut g = Mat::zeros(d, d);
    for p in parts {
        g += &p.grad;
    }
    g
}

fn pass(data: &TokenData, x: MatRef<'_, f64>, stats: bool) -> Vec<SeqPass> {
    (0..data.meta().m).into_par_iter().map(|l| sequence_pass(data, l, x, stats)).collect()
}

fn sequence_pass(data: &TokenData, l: usize, x: MatRef<'_, f64>, stats: bool) -> SeqPass {
    let meta = data.meta();
    let (n, d) = (meta.n, meta.d);
    let scale = 1.0 / (meta.m * meta.n) as f64;
    let a = data.sequence(l);
    // faer's operators run at its global parallelism: the same here, through the wrapper that
    // leaves the vector state clean for the `exp` below.
    let par = faer::get_global_parallelism();
    let z = mul(mul(a, x, par).as_ref(), a.transpose(), par);
    let gt: Vec<f64> = (0..n).map(|t| data.head_score(data.token(l, t))).collect();
    let mut w = Mat::<f64>::zeros(n, n);
    let mut out = SeqPass {
        loss: 0.0,
        grad: Mat::zeros(d, d),
        gaps: Vec::new(),
        entropy: 0.0,
        top_mass: [0.0; 3],
        topk_error: [0.0; 3],
        contributions: Vec::new(),
        correct: 0,
        counted: 0,
    };
    let mut s = vec![0.0; n];
    for i in 0..n {
        let q = l * n + i;
        let vis = data.visible(i);
        let y = data.label(q);
        let star = (0..vis).fold(0, |b, t| if z[(i, t)] > z[(i, b)] { t } else { b });
        let mut sum = 0.0;
        for t in 0..vis {
            s[t] = (z[(i, t)] - z[(i, star)]).exp();
            sum += s[t];
        }
        s[..vis].iter_mut().for_each(|v| *v /= sum);
        let mean_delta: f64 = (0..vis).map(|t| s[t] * (gt[t] - gt[star])).sum();
        let f = gt[star] + mean_delta;
        let margin = y * f;
        // φ(f) = log(1 + e^{−y·f}) and φ'(f), overflow-free (the logistic entry loss of `attention`).
        let (phi, dphi, _) = EntryLoss::Logistic.derivatives(f, y);
        out.loss += scale * phi;
        for t in 0..vis {
            w[(i, t)] = scale * dphi * s[t] * ((gt[t] - gt[star]) - mean_delta);
        }
        if stats && vis >= 2 {
            out.counted += 1;
            out.correct += usize::from(margin > 0.0);
            let opt = data.opt(q);
            let other = (0..vis).filter(|&t| t != opt).map(|t| z[(i, t)]).fold(f64::NEG_INFINITY, f64::max);
            out.gaps.push(z[(i, opt)] - other);
            // −Σ s log s with log s_t = (z_t − z*) − log Σ.
            let log_sum = sum.ln();
            out.entropy -= (0..vis)
                .map(|t| if s[t] > 0.0 { s[t] * (z[(i, t)] - z[(i, star)] - log_sum) } else { 0.0 })
                .sum::<f64>();
            let mut idx: Vec<usize> = (0..vis).collect();
            idx.sort_by(|&p, &r| z[(i, r)].total_cmp(&z[(i, p)]));
            let o = attention_output(data, l, &idx, &s, vis);
            let on = o.iter().map(|v| v * v).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
            for (j, &k) in TOP_K.iter().enumerate() {
                let kk = k.min(vis);
                out.top_mass[j] += idx[..kk].iter().map(|&t| s[t]).sum::<f64>();
                let ok = attention_output(data, l, &idx, &s, kk);
                out.topk_error[j] += o.iter().zip(&ok).map(|(p, r)| (p - r) * (p - r)).sum::<f64>().sqrt() / on;
            }
            let ai = norm(data.token(l, i));
            out.contributions.extend((0..vis).map(|t| w[(i, t)].abs() * ai * norm(data.token(l, t))));
        }
    }
    // ∇ = Σ_i a_i (Σ_t w_it a_t)ᵀ = Aᵀ W A.
    out.grad = mul(mul(a.transpose(), w.as_ref(), par).as_ref(), a, par);
    out
}

/// `Σ_{t ∈ idx[..k]} s_t a_t / Σ_{t ∈ idx[..k]} s_t`.
fn attention_output(data: &TokenData, l: usize, idx: &[usize], s: &[f64], k: usize) -> Vec<f64> {
    let d = data.meta().d;
    let mut o = vec![0.0; d];
    let mut mass = 0.0;
    for &t in &idx[..k] {
        mass += s[t];
        for (ob, ab) in o.iter_mut().zip(data.token(l, t)) {
            *ob += s[t] * ab;
        }
    }
    o.iter_mut().for_each(|v| *v /= mass);
    o
}

fn norm(a: &[f64]) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// Run W-GD from `X = 0`, recording the seed 004 §4 quantities (with `cos(X, X^mm)` when `x_mm` is
/// given) every `record_every` steps.
///
/// The run is the workspace's one optimisation loop ([`newton::engine::run`]): the problem is the
/// loss over `vec(X)`, the strategy the (normalised) gradient step, the line search
/// [`LineSearch::Fixed`] (every step is taken, as the paper states W-GD), the stopping test the
/// absolute gradient floor [`GRADIENT_FLOOR`] and the step budget; the §4 quantities are an
/// observer. [`TrainReport::report`] is the engine's report (per-step records and timing);
/// [`TrainReport::status`] reads it in this experiment's terms.
pub fn train(
    data: &TokenData,
    x_mm: Option<MatRef<'_, f64>>,
    params: &TrainParams,
    observer: &mut dyn FnMut(&TrainRecord),
) -> Result<TrainReport, SvmError> {
    if !(params.eta > 0.0 && params.eta.is_finite()) || params.record_every == 0 {
        return Err(SvmError::InvalidParameter("eta must be positive and finite, record_every ≥ 1".into()));
    }
    let d = data.meta().d;
    let x0 = Mat::<f64>::zeros(d, d);
    let problem = Tokens { data, params, evaluations: Cell::new(0) };
    let loop_params = LoopParams::first_order(0.0, GRADIENT_FLOOR, params.steps, LineSearch::Fixed);
    let mut recorder = Recorder { data, params, x_mm, threshold: None, trajectory: Vec::new(), observer };
    // X(0) = 0: every logit is 0, so the point is always finite.
    let (g0, parts0) = full_pass(data, x0.as_ref());
    recorder.record(0, &x0, &g0, &parts0);
    let mut strategy = GradientStep { eta: params.eta, normalized: params.normalized };
    let mut observers: [&mut dyn Observer<TokenPoint>; 1] = [&mut recorder];
    let report = match engine::run(&problem, &mut strategy, &to_vec(&x0), &loop_params, &mut observers) {
        Ok(r) => r,
        Err(e) => unreachable!("X = 0 evaluates: {e}"),
    };
    let status = match report.status {
        Status::MaxIterations => TrainStatus::Completed,
        Status::Converged | Status::Stalled => TrainStatus::GradientUnderflow,
        _ => TrainStatus::Overflow,
    };
    Ok(TrainReport {
        status,
        steps: report.iterations,
        x: from_vec(&report.x, d),
        trajectory: recorder.trajectory,
        report,
    })
}

/// `vec(X)` row-major: the engine's parameter vector.
fn to_vec(x: &Mat<f64>) -> Vec<f64> {
    let d = x.nrows();
    (0..d * d).map(|k| x[(k / d, k % d)]).collect()
}

fn from_vec(v: &[f64], d: usize) -> Mat<f64> {
    Mat::from_fn(d, d, |i, j| v[i * d + j])
}

fn full_pass(data: &TokenData, x: MatRef<'_, f64>) -> (Mat<f64>, Vec<SeqPass>) {
    let parts = pass(data, x, true);
    (sum_grads(data, &parts), parts)
}

/// The loss over `vec(X)` as an engine problem. With the fixed step every evaluation is one step
/// (the engine evaluates `X(0)`, then each accepted `X(k)` once), so the evaluation count tells
/// which steps are recorded and need the §4 statistics from the same pass.
struct Tokens<'a, 'p> {
    data: &'a TokenData,
    params: &'p TrainParams,
    evaluations: Cell<usize>,
}

/// An evaluated `X`: the loss, `∇L` (as a matrix, `vec` and Frobenius norm) and, at a recorded
/// step, the per-sequence statistics.
struct TokenPoint {
    value: f64,
    gradient: Vec<f64>,
    g: Mat<f64>,
    grad_norm: f64,
    parts: Option<Vec<SeqPass>>,
}

impl Evaluated for TokenPoint {
    fn value(&self) -> f64 {
        self.value
    }
    fn gradient(&self) -> &[f64] {
        &self.gradient
    }
}

/// The loss or the gradient is not finite at an iterate.
#[derive(Debug)]
struct NonFinite;

impl std::fmt::Display for NonFinite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the loss or the gradient overflows f64")
    }
}

impl Problem for Tokens<'_, '_> {
    type Eval = TokenPoint;
    type Error = NonFinite;
    fn dim(&self) -> usize {
        self.data.meta().d.pow(2)
    }
    fn evaluate(&self, x: &[f64], _need: Need) -> Result<TokenPoint, NonFinite> {
        let step = self.evaluations.replace(self.evaluations.get() + 1);
        let stats = step > 0 && (step.is_multiple_of(self.params.record_every) || step == self.params.steps);
        let x = from_vec(x, self.data.meta().d);
        let parts = pass(self.data, x.as_ref(), stats);
        let g = sum_grads(self.data, &parts);
        let grad_norm = g.norm_l2();
        let value: f64 = parts.iter().map(|p| p.loss).sum();
        if !(grad_norm.is_finite() && value.is_finite()) {
            return Err(NonFinite);
        }
        Ok(TokenPoint { value, gradient: to_vec(&g), g, grad_norm, parts: stats.then_some(parts) })
    }
    fn value(&self, x: &[f64]) -> Result<f64, NonFinite> {
        self.evaluate(x, Need::Gradient).map(|e| e.value)
    }
}

/// `p = −η·g/‖g‖_F` (normalised) or `−η·g`.
struct GradientStep {
    eta: f64,
    normalized: bool,
}

impl Strategy<Tokens<'_, '_>> for GradientStep {
    fn need(&self) -> Need {
        Need::Gradient
    }
    fn step(&mut self, _f: &Tokens<'_, '_>, input: StepInput<'_, TokenPoint>) -> Result<Step, StepError> {
        let alpha = if self.normalized { self.eta / input.at.grad_norm } else { self.eta };
        let p: Vec<f64> = input.at.gradient.iter().map(|g| -(alpha * g)).collect();
        if !p.iter().all(|v| v.is_finite()) {
            return Err(StepError::NonFiniteStep);
        }
        Ok(Step { p, ..Default::default() })
    }
}

/// The §4 quantities at the recorded steps (every `record_every`, the last, and where the
/// gradient falls below the floor).
struct Recorder<'a, 'o> {
    data: &'a TokenData,
    params: &'a TrainParams,
    x_mm: Option<MatRef<'a, f64>>,
    threshold: Option<f64>,
    trajectory: Vec<TrainRecord>,
    observer: &'o mut dyn FnMut(&TrainRecord),
}

impl Recorder<'_, '_> {
    fn record(&mut self, step: usize, x: &Mat<f64>, g: &Mat<f64>, parts: &[SeqPass]) {
        let r = summarise(step, x, g, parts, self.x_mm, &mut self.threshold);
        (self.observer)(&r);
        self.trajectory.push(r);
    }
}

impl Observer<TokenPoint> for Recorder<'_, '_> {
    fn observe(&mut self, view: &mut StepView<'_, TokenPoint>) -> ControlFlow<()> {
        let step = view.record.iteration + 1;
        let next = view.next;
        let x = from_vec(view.x_next, self.data.meta().d);
        match &next.parts {
            Some(parts) => self.record(step, &x, &next.g, parts),
            None if next.grad_norm < GRADIENT_FLOOR => {
                let (g, parts) = full_pass(self.data, x.as_ref());
                self.record(step, &x, &g, &parts);
            }
            None => {}
        }
        debug_assert!(
            next.parts.is_none() || step.is_multiple_of(self.params.record_every) || step == self.params.steps
        );
        ControlFlow::Continue(())
    }
}

fn summarise(
    step: usize,
    x: &Mat<f64>,
    g: &Mat<f64>,
    parts: &[SeqPass],
    x_mm: Option<MatRef<'_, f64>>,
    threshold: &mut Option<f64>,
) -> TrainRecord {
    let counted: usize = parts.iter().map(|p| p.counted).sum();
    let c = counted.max(1) as f64;
    let gaps: Vec<f64> = parts.iter().flat_map(|p| p.gaps.iter().copied()).collect();
    let contributions: Vec<f64> = parts.iter().flat_map(|p| p.contributions.iter().copied()).collect();
    let tau = *threshold.get_or_insert_with(|| NEGLIGIBLE * contributions.iter().copied().fold(0.0, f64::max));
    let sum3 = |f: fn(&SeqPass) -> [f64; 3]| {
        let mut acc = [0.0; 3];
        for p in parts {
            for (a, v) in acc.iter_mut().zip(f(p)) {
                *a += v;
            }
        }
        acc.map(|v| v / c)
    };
    let xn = x.norm_l2();
    TrainRecord {
        step,
        loss: parts.iter().map(|p| p.loss).sum(),
        grad_norm: g.norm_l2(),
        x_norm: xn,
        cos_mm: x_mm.map(|m| {
            let dot: f64 = (0..m.nrows())
                .flat_map(|i| (0..m.ncols()).map(move |j| (i, j)))
                .map(|(i, j)| x[(i, j)] * m[(i, j)])
                .sum();
            if xn == 0.0 { 0.0 } else { dot / (xn * m.norm_l2()) }
        }),
        gap_min: gaps.iter().copied().fold(f64::INFINITY, f64::min),
        gap_mean: gaps.iter().sum::<f64>() / c,
        entropy: parts.iter().map(|p| p.entropy).sum::<f64>() / c,
        top_mass: sum3(|p| p.top_mass),
        topk_error: sum3(|p| p.topk_error),
        negligible: contributions.iter().filter(|&&v| v < tau).count() as f64 / contributions.len().max(1) as f64,
        accuracy: parts.iter().map(|p| p.correct).sum::<usize>() as f64 / c,
    }
}

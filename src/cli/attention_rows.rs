//! `spnewton attention rows`: the softmax regression of every query row of a real attention
//! head (SPEC §6's real instance), solved in order cold and warm in one run.
//!
//! Row `i`: `min_x ½‖softmax(Kx) − attn[i, :]‖² + ½w²‖Kx‖²` with `A = K` (the head's keys) and
//! `w ≪ 1/n`; its solution is `x* = q_i/√d_k` up to the float32 rounding of the data. Moving to
//! row `i+1` changes `b` alone; the SPEC §6 shift of that move is reported.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use faer::Side;
use losses::{Activation, LossKind, Objective, Part, Regulariser, What};
use newton::resolve::{Resolver, ReuseParams, Reused, Shift, shift, spectral_norm};
use newton::{SolverParams, Status, Strategy};
use serde::Serialize;
use sparse_ops::io::{read_dense, read_vector_of_len};
use sparse_ops::{CsrMatrix, ReadOptions};

#[derive(Args)]
pub struct RowsArgs {
    /// The data directory holding L{layer}H{head}/ with K.mtx, Q.mtx, attn.txt (each optionally .gz).
    #[arg(long)]
    data: PathBuf,
    /// The layer L of the head.
    #[arg(long)]
    layer: usize,
    /// The head H within the layer.
    #[arg(long)]
    head: usize,
    /// The regulariser weight w (≪ 1/n so that the data term decides).
    #[arg(long, default_value_t = 1e-8)]
    w: f64,
    /// Hessian strategy (default leverage-pcg: exact Newton by CG, falling back to the
    /// positive-definite preconditioner's step at negative curvature; measured: exact Newton
    /// with damping steps into a saturated softmax, whose Hessian is 0 in f64, on 43 of 191
    /// rows of layer 0 head 5, Gauss–Newton stops at its iteration limit on 5).
    #[arg(long, value_parser = super::names::named::<Strategy>(Strategy::NAMES))]
    hessian: Option<Strategy>,
    /// Relative tolerance of each solve.
    #[arg(long, default_value_t = 1e-12)]
    tol: f64,
    /// The relative distance to q_i/√d_k within which a row counts as recovered.
    #[arg(long, default_value_t = 1e-4)]
    recover_tol: f64,
    /// Write the JSON here (default: stdout).
    #[arg(long)]
    out: Option<PathBuf>,
    /// No summary on stderr.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Serialize)]
struct Solve {
    status: Status,
    iterations: usize,
    passes_over_a: usize,
    time_s: f64,
    /// Loss at the solution minus the loss at `q_i/√d_k` (≤ 0: at least as good).
    loss_excess: f64,
    rel_err: f64,
    message: Option<String>,
    /// The dense finish applied to the engine's `x` (`loss_excess`, `rel_err` are after it).
    polish: Polish,
}

#[derive(Debug, Serialize)]
struct Row {
    index: usize,
    /// The loss at `x* = q_i/√d_k`.
    loss_star: f64,
    cold: Solve,
    warm: Solve,
    reused: Reused,
    /// `‖x − x*‖/‖x*‖` of the warm solution within `--recover-tol`.
    recovered: bool,
    /// The exact Hessian's extreme eigenvalues at the warm solution (flatness where not recovered).
    lambda_min: f64,
    lambda_max: f64,
    /// The largest attention probability of the row.
    max_prob: f64,
    /// SPEC §6 for the move from the previous row (`x_{i−1} → x_i`, `b = attn[i, :]`).
    shift: Option<Shift>,
}

#[derive(Debug, Serialize)]
struct Summary {
    rows: usize,
    converged_cold: usize,
    converged_warm: usize,
    /// Rows whose warm and cold losses are within 1e-12 of (or below) the loss at `q_i/√d_k`.
    loss_ok: usize,
    recovered: usize,
    not_recovered: Vec<usize>,
    passes_cold: usize,
    passes_warm: usize,
    time_cold_s: f64,
    time_warm_s: f64,
    /// Quantiles (min, 25%, median, 75%, max) of the measured `M`.
    m_quantiles: Vec<f64>,
    /// Steps where the corollary's preconditions held, of those measured.
    preconditions_held: usize,
    shifts_measured: usize,
    /// `R = max(‖K‖₂, max_i ‖x_i‖₂, 4)` and the exponent `R² + ln n` of the corollary's `M`.
    r: f64,
    bound_exponent: f64,
}

#[derive(Debug, Serialize)]
struct Output {
    layer: usize,
    head: usize,
    n: usize,
    d: usize,
    w: f64,
    summary: Summary,
    rows: Vec<Row>,
}

/// `DIR/name` or `DIR/name.gz`.
fn find(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    if plain.exists() {
        Ok(plain)
    } else if gz.exists() {
        Ok(gz)
    } else {
        bail!("{}: neither {name} nor {name}.gz", dir.display())
    }
}

pub fn run(args: RowsArgs) -> anyhow::Result<i32> {
    anyhow::ensure!(args.w.is_finite() && args.w >= 0.0, "--w must be finite and ≥ 0, got {}", args.w);
    let dir = args.data.join(format!("L{}H{}", args.layer, args.head));
    anyhow::ensure!(dir.is_dir(), "no head directory {} (layer {}, head {})", dir.display(), args.layer, args.head);
    let kd = read_dense(&find(&dir, "K.mtx")?, ReadOptions::default())?;
    let qd = read_dense(&find(&dir, "Q.mtx")?, ReadOptions::default())?;
    let (n, d) = (kd.nrows, kd.ncols);
    anyhow::ensure!((qd.nrows, qd.ncols) == (n, d), "Q is {}×{}, K is {n}×{d}", qd.nrows, qd.ncols);
    let attn_path = find(&dir, "attn.txt")?;
    let attn = read_vector_of_len(&attn_path, n * n, "attn (n² probabilities, row-major)")?;
    if let Some(i) = attn.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        bail!("{}: entry {i} is {}, not a probability", attn_path.display(), attn[i]);
    }
    let kvals: Vec<f64> = (0..n).flat_map(|i| (0..d).map(move |j| (i, j))).map(|(i, j)| kd.get(i, j)).collect();
    let k = CsrMatrix::from_dense(n, d, &kvals)?;
    let scale = 1.0 / (d as f64).sqrt();
    let strategy = args.hessian.unwrap_or(Strategy::LeveragePcg);
    let params = SolverParams { strategy, tol: args.tol, checks: false, max_iter: 200, ..Default::default() };
    let mut warm = Resolver::new(params, ReuseParams::default());
    let mut cold = Resolver::new(params, ReuseParams::cold());
    let mut rows = Vec::with_capacity(n);
    let mut prev_x: Option<Vec<f64>> = None;
    let mut max_x = 0.0f64;
    for i in 0..n {
        let b = &attn[i * n..(i + 1) * n];
        let x_star: Vec<f64> = (0..d).map(|j| qd.get(i, j) * scale).collect();
        let f = Objective::new(&k, b, Regulariser::Const(args.w), LossKind::Softmax, Activation::Exp)?;
        let loss_star = f.value(&x_star)?;
        // The cold start: the log-linear fit of the row (the data alone, never q_i). From 0,
        // layer 2 head 11 row 23 stopped on a saturated plateau 2.7e-3 above q_i/√32's loss.
        let x0 = log_linear_start(&kvals, n, d, b);
        // The gradient test keeps the scale of a start at 0 (`tol·‖g(0)‖`, one evaluation, not
        // the solver's): relative to ‖g(x₀)‖ at this start it would sit below rounding.
        let g_zero = norm(f.evaluate(&vec![0.0; d], What::Gradient)?.gradient.as_deref().unwrap_or(&[]));
        cold.set_atol(args.tol * g_zero);
        warm.set_atol(args.tol * g_zero);
        let rc = cold.solve(&f, &x0, None).with_context(|| format!("row {i}, cold"))?;
        let rw = warm.solve(&f, &x0, None).with_context(|| format!("row {i}, warm"))?;
        let view = |r: &newton::resolve::Resolved| -> anyhow::Result<(Solve, Vec<f64>)> {
            let (x, p) = polish(&f, &kvals, d, b, &r.report.x).with_context(|| format!("row {i}, polish"))?;
            let s = Solve {
                status: r.report.status,
                iterations: r.report.iterations,
                passes_over_a: r.passes_over_a,
                time_s: r.report.timing.solver_s(),
                loss_excess: p.loss_final - loss_star,
                rel_err: rel(&x, &x_star),
                message: r.report.message.clone(),
                polish: p,
            };
            Ok((s, x))
        };
        let (cs, _) = view(&rc)?;
        let (ws, xw) = view(&rw)?;
        let e = f.evaluate(&xw, What::Hessian)?;
        let h = e.hessian.as_ref().expect("asked for the Hessian").dense(Part::Exact);
        let eig =
            h.self_adjoint_eigen(Side::Lower).map_err(|e| anyhow::anyhow!("eigenvalues of the Hessian: {e:?}"))?;
        let s = eig.S();
        let shift = prev_x.as_ref().and_then(|px| shift(Activation::Exp, &k, px, None, &xw, b).ok().map(|(_, s)| s));
        max_x = max_x.max(norm(&xw));
        prev_x = Some(xw);
        rows.push(Row {
            index: i,
            loss_star,
            recovered: ws.rel_err <= args.recover_tol,
            cold: cs,
            warm: ws,
            reused: rw.reused,
            lambda_min: s[0],
            lambda_max: s[d - 1],
            max_prob: b.iter().fold(0.0, |m: f64, v| m.max(*v)),
            shift,
        });
    }
    let mut ms: Vec<f64> = rows.iter().filter_map(|r| r.shift.as_ref().and_then(|s| s.m_measured)).collect();
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| if ms.is_empty() { f64::NAN } else { ms[((ms.len() - 1) as f64 * p).round() as usize] };
    let r = spectral_norm(&k).max(max_x).max(4.0);
    let ok = |s: &Solve| s.loss_excess <= 1e-12;
    let summary = Summary {
        rows: n,
        converged_cold: rows.iter().filter(|r| r.cold.status == Status::Converged).count(),
        converged_warm: rows.iter().filter(|r| r.warm.status == Status::Converged).count(),
        loss_ok: rows.iter().filter(|r| ok(&r.cold) && ok(&r.warm)).count(),
        recovered: rows.iter().filter(|r| r.recovered).count(),
        not_recovered: rows.iter().filter(|r| !r.recovered).map(|r| r.index).collect(),
        passes_cold: rows.iter().map(|r| r.cold.passes_over_a).sum(),
        passes_warm: rows.iter().map(|r| r.warm.passes_over_a).sum(),
        time_cold_s: rows.iter().map(|r| r.cold.time_s).sum(),
        time_warm_s: rows.iter().map(|r| r.warm.time_s).sum(),
        m_quantiles: [0.0, 0.25, 0.5, 0.75, 1.0].map(q).to_vec(),
        preconditions_held: rows.iter().filter(|r| r.shift.as_ref().is_some_and(|s| s.preconditions_hold)).count(),
        shifts_measured: rows.iter().filter(|r| r.shift.is_some()).count(),
        r,
        bound_exponent: r * r + (n as f64).ln(),
    };
    let out = Output { layer: args.layer, head: args.head, n, d, w: args.w, summary, rows };
    let text = serde_json::to_string_pretty(&out)?;
    match &args.out {
        Some(p) => super::output::write_text(p, &(text + "\n"))?,
        None => outln!("{text}")?,
    }
    let s = &out.summary;
    if !args.quiet {
        eprintln!(
            "L{}H{}: {} rows; converged cold {} warm {}; loss ≤ loss(q/√d)+1e-12 on {}; recovered to {:e} on {} (not: {:?}); passes cold {} warm {}; time cold {:.4} s warm {:.4} s; median M {:.3e}; preconditions held on {}/{}",
            args.layer,
            args.head,
            s.rows,
            s.converged_cold,
            s.converged_warm,
            s.loss_ok,
            args.recover_tol,
            s.recovered,
            s.not_recovered,
            s.passes_cold,
            s.passes_warm,
            s.time_cold_s,
            s.time_warm_s,
            s.m_quantiles[2],
            s.preconditions_held,
            s.shifts_measured
        );
    }
    let all = s.converged_cold == n && s.converged_warm == n && s.loss_ok == n;
    Ok(if all { 0 } else { 3 })
}

/// The start of row `b`'s solve from the data alone: softmax probabilities satisfy
/// `ln b_j = k_jᵀx − ln Σ e^{k·x}`, so `x₀` is the weighted least-squares fit
/// `min_{x,c} Σ_j b_j (k_jᵀx + c − ln b_j)²` over the entries with `b_j > 0` (weights `b_j`: the
/// large probabilities carry float32's relative precision, the tiny ones are rounding noise).
/// `O(n·d²)` for the normal equations plus `O(d³)` to solve them (d = 32: nothing next to a
/// solve). Falls back to `0` where the system is singular (e.g. a one-hot row).
fn log_linear_start(k: &[f64], n: usize, d: usize, b: &[f64]) -> Vec<f64> {
    let m = d + 1;
    let mut a = vec![0.0; m * m];
    let mut r = vec![0.0; m];
    let mut row = vec![1.0; m];
    for j in 0..n {
        if b[j] <= 0.0 {
            continue;
        }
        row[..d].copy_from_slice(&k[j * d..(j + 1) * d]);
        let (wt, t) = (b[j], b[j].ln());
        for p in 0..m {
            r[p] += wt * row[p] * t;
            for q in 0..=p {
                a[p * m + q] += wt * row[p] * row[q];
            }
        }
    }
    for p in 0..m {
        for q in 0..p {
            a[q * m + p] = a[p * m + q];
        }
    }
    // A relative ridge keeps the directions the row does not see (b concentrated on few keys)
    // at 0 rather than at rounding noise.
    let tr = (0..m).map(|p| a[p * m + p]).sum::<f64>() / m as f64;
    for p in 0..d {
        a[p * m + p] += 1e-10 * tr;
    }
    match gauss_solve(&mut a, &mut r, m) {
        Some(x) if x[..d].iter().all(|v| v.is_finite()) => x[..d].to_vec(),
        _ => vec![0.0; d],
    }
}

/// `A⁻¹r` by Gaussian elimination with partial pivoting (`A` is `m×m`, row-major, overwritten);
/// `None` at a zero pivot.
fn gauss_solve(a: &mut [f64], r: &mut [f64], m: usize) -> Option<Vec<f64>> {
    for c in 0..m {
        let piv = (c..m).max_by(|&i, &j| a[i * m + c].abs().total_cmp(&a[j * m + c].abs()))?;
        if a[piv * m + c] == 0.0 || !a[piv * m + c].is_finite() {
            return None;
        }
        if piv != c {
            for q in 0..m {
                a.swap(c * m + q, piv * m + q);
            }
            r.swap(c, piv);
        }
        for i in c + 1..m {
            let f = a[i * m + c] / a[c * m + c];
            if f != 0.0 {
                for q in c..m {
                    a[i * m + q] -= f * a[c * m + q];
                }
                r[i] -= f * r[c];
            }
        }
    }
    let mut x = vec![0.0; m];
    for c in (0..m).rev() {
        let s: f64 = (c + 1..m).map(|q| a[c * m + q] * x[q]).sum();
        x[c] = (r[c] - s) / a[c * m + c];
    }
    Some(x)
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|t| t * t).sum::<f64>().sqrt()
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    norm(&a.iter().zip(b).map(|(p, q)| p - q).collect::<Vec<_>>()) / norm(b).max(f64::MIN_POSITIVE)
}

/// What the dense finish did to one engine solution (d = 32: each step is one `d × d`
/// Cholesky, nothing next to a pass over `K`).
#[derive(Debug, Clone, Serialize)]
struct Polish {
    /// The engine's loss.
    loss_engine: f64,
    /// The squared loss at the cross-entropy minimiser (before the squared-loss Newton steps).
    loss_cross_entropy: f64,
    /// The loss kept: the lowest of the polished candidates and the engine's own.
    loss_final: f64,
    /// Which candidate was kept: `engine`, `engine+newton` or `cross-entropy+newton`.
    chosen: &'static str,
    /// Newton steps of the cross-entropy stage and of the squared-loss stage (both candidates).
    newton_steps_ce: usize,
    newton_steps_sq: usize,
    /// Evaluations (each one pass over `K`) the polish spent.
    passes_over_a: usize,
}

/// Solve `H s = −g` by Cholesky of `H + μI`, raising `μ` from 0 until `H + μI` factorises.
fn newton_direction(h: &[f64], g: &[f64], d: usize) -> Vec<f64> {
    let scale = (0..d).map(|i| h[i * d + i].abs()).fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
    let mut mu = 0.0;
    loop {
        if let Some(l) = cholesky(h, d, mu) {
            // L y = −g, Lᵀ s = y.
            let mut y = vec![0.0; d];
            for i in 0..d {
                let s: f64 = (0..i).map(|k| l[i * d + k] * y[k]).sum();
                y[i] = (-g[i] - s) / l[i * d + i];
            }
            let mut s = vec![0.0; d];
            for i in (0..d).rev() {
                let t: f64 = (i + 1..d).map(|k| l[k * d + i] * s[k]).sum();
                s[i] = (y[i] - t) / l[i * d + i];
            }
            return s;
        }
        mu = if mu == 0.0 { 1e-14 * scale } else { mu * 10.0 };
        if mu > 1e6 * scale {
            // Steepest descent scaled to the matrix: nothing factorises (all NaN).
            return g.iter().map(|v| -v / scale).collect();
        }
    }
}

fn cholesky(h: &[f64], d: usize, mu: f64) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for j in 0..d {
        let s: f64 = (0..j).map(|k| l[j * d + k] * l[j * d + k]).sum();
        let djj = h[j * d + j] + mu - s;
        if !(djj > 0.0 && djj.is_finite()) {
            return None;
        }
        l[j * d + j] = djj.sqrt();
        for i in j + 1..d {
            let s: f64 = (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum();
            l[i * d + j] = (0.5 * (h[i * d + j] + h[j * d + i]) - s) / l[j * d + j];
        }
    }
    Some(l)
}

/// `z = Kx` of the dense row-major `K` (`n × d`).
fn kx(k: &[f64], d: usize, x: &[f64]) -> Vec<f64> {
    k.chunks_exact(d).map(|r| r.iter().zip(x).map(|(a, b)| a * b).sum()).collect()
}

/// The cross-entropy surrogate `φ(x) = log Σ_j exp(Kx)_j − b̂ᵀKx` (`b̂ = b/Σb`), its gradient
/// `Kᵀ(p − b̂)` and Hessian `Kᵀ(diag p − ppᵀ)K` with `p = softmax(Kx)`. Convex; where `b` is a
/// softmax of `Kx*` (the attention row, up to float32 rounding) its minimiser is that `x*`,
/// which is also the squared loss's global minimiser — while the squared loss itself is not
/// convex and has flat saturated regions and local minima (layer 0 head 2 row 95).
fn cross_entropy(k: &[f64], d: usize, bh: &[f64], x: &[f64], with_derivatives: bool) -> (f64, Vec<f64>, Vec<f64>) {
    let z = kx(k, d, x);
    let m = z.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v));
    let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
    let se: f64 = e.iter().sum();
    let value = m + se.ln() - bh.iter().zip(&z).map(|(b, z)| b * z).sum::<f64>();
    if !with_derivatives {
        return (value, Vec::new(), Vec::new());
    }
    let p: Vec<f64> = e.iter().map(|v| v / se).collect();
    let mut g = vec![0.0; d];
    let mut kp = vec![0.0; d];
    let mut h = vec![0.0; d * d];
    for (j, row) in k.chunks_exact(d).enumerate() {
        let r = p[j] - bh[j];
        for a in 0..d {
            g[a] += row[a] * r;
            kp[a] += row[a] * p[j];
            for c in 0..=a {
                h[a * d + c] += p[j] * row[a] * row[c];
            }
        }
    }
    for a in 0..d {
        for c in 0..=a {
            let v = h[a * d + c] - kp[a] * kp[c];
            h[a * d + c] = v;
            h[c * d + a] = v;
        }
    }
    (value, g, h)
}

/// Damped Newton with an Armijo backtracking line search on `value`, from `x`, until the
/// Newton decrement `−gᵀs` is below `1e-30` (in units of the value) or a step decreases nothing.
fn newton_min(
    mut x: Vec<f64>,
    max_steps: usize,
    mut eval: impl FnMut(&[f64], bool) -> anyhow::Result<(f64, Vec<f64>, Vec<f64>)>,
) -> anyhow::Result<(Vec<f64>, f64, usize)> {
    let d = x.len();
    let (mut fx, _, _) = eval(&x, false)?;
    let mut steps = 0;
    while steps < max_steps {
        let (_, g, h) = eval(&x, true)?;
        let s = newton_direction(&h, &g, d);
        let slope: f64 = g.iter().zip(&s).map(|(a, b)| a * b).sum();
        if !(slope < 0.0) || -slope <= 1e-30 * fx.abs().max(f64::MIN_POSITIVE) {
            break;
        }
        let mut t = 1.0;
        let mut moved = false;
        while t > 1e-12 {
            let xt: Vec<f64> = x.iter().zip(&s).map(|(a, b)| a + t * b).collect();
            let (ft, _, _) = eval(&xt, false)?;
            if ft <= fx + 1e-4 * t * slope || (ft < fx && t < 1.0) {
                x = xt;
                fx = ft;
                moved = true;
                break;
            }
            t *= 0.5;
        }
        steps += 1;
        if !moved {
            break;
        }
    }
    Ok((x, fx, steps))
}

/// The dense finish of one row: exact Newton on the squared loss from the engine's `x`, and
/// from the cross-entropy minimiser (itself found by Newton from the engine's `x`); the lower
/// loss is kept. Uses `K` and `b` only — never `q_i`.
fn polish(f: &Objective<'_>, k: &[f64], d: usize, b: &[f64], x_engine: &[f64]) -> anyhow::Result<(Vec<f64>, Polish)> {
    let mut passes = 0usize;
    let loss_engine = f.value(x_engine)?;
    let total: f64 = b.iter().sum();
    anyhow::ensure!(total > 0.0, "the attention row sums to {total}");
    let bh: Vec<f64> = b.iter().map(|v| v / total).collect();
    let (x_ce, _, steps_ce) = newton_min(x_engine.to_vec(), 200, |x, der| {
        passes += if der { 2 } else { 1 };
        Ok(cross_entropy(k, d, &bh, x, der))
    })?;
    let loss_ce = f.value(&x_ce)?;
    let mut sq = |x: &[f64], der: bool| -> anyhow::Result<(f64, Vec<f64>, Vec<f64>)> {
        // Value: one pass (`Kx`); Hessian: `Kx`, `KᵀY` and the weighted Gram `KᵀDK`.
        passes += if der { 3 } else { 1 };
        if der {
            let e = f.evaluate(x, What::Hessian)?;
            let h = e.hessian.as_ref().expect("asked for the Hessian").dense(Part::Exact);
            let hv: Vec<f64> = (0..d * d).map(|t| h[(t / d, t % d)]).collect();
            let g = e.gradient.clone().expect("asked for the Hessian");
            Ok((e.value, g, hv))
        } else {
            Ok((f.value(x)?, Vec::new(), Vec::new()))
        }
    };
    let (x1, l1, s1) = newton_min(x_engine.to_vec(), 100, &mut sq)?;
    let (x2, l2, s2) = newton_min(x_ce, 100, &mut sq)?;
    passes += 2;
    let (x, loss_final, chosen) = if l2 < l1.min(loss_engine) {
        (x2, l2, "cross-entropy+newton")
    } else if l1 < loss_engine {
        (x1, l1, "engine+newton")
    } else {
        (x_engine.to_vec(), loss_engine, "engine")
    };
    let record = Polish {
        loss_engine,
        loss_cross_entropy: loss_ce,
        loss_final,
        chosen,
        newton_steps_ce: steps_ce,
        newton_steps_sq: s1 + s2,
        passes_over_a: passes,
    };
    Ok((x, record))
}

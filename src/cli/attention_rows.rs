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
    let x0 = vec![0.0; d];
    let mut rows = Vec::with_capacity(n);
    let mut prev_x: Option<Vec<f64>> = None;
    let mut max_x = 0.0f64;
    for i in 0..n {
        let b = &attn[i * n..(i + 1) * n];
        let x_star: Vec<f64> = (0..d).map(|j| qd.get(i, j) * scale).collect();
        let f = Objective::new(&k, b, Regulariser::Const(args.w), LossKind::Softmax, Activation::Exp)?;
        let loss_star = f.value(&x_star)?;
        let rc = cold.solve(&f, &x0, None).with_context(|| format!("row {i}, cold"))?;
        let rw = warm.solve(&f, &x0, None).with_context(|| format!("row {i}, warm"))?;
        let view = |r: &newton::resolve::Resolved| Solve {
            status: r.report.status,
            iterations: r.report.iterations,
            passes_over_a: r.passes_over_a,
            time_s: r.report.timing.solver_s(),
            loss_excess: r.report.loss - loss_star,
            rel_err: rel(&r.report.x, &x_star),
            message: r.report.message.clone(),
        };
        let (cs, ws) = (view(&rc), view(&rw));
        let e = f.evaluate(&rw.report.x, What::Hessian)?;
        let h = e.hessian.as_ref().expect("asked for the Hessian").dense(Part::Exact);
        let eig =
            h.self_adjoint_eigen(Side::Lower).map_err(|e| anyhow::anyhow!("eigenvalues of the Hessian: {e:?}"))?;
        let s = eig.S();
        let shift =
            prev_x.as_ref().and_then(|px| shift(Activation::Exp, &k, px, None, &rw.report.x, b).ok().map(|(_, s)| s));
        max_x = max_x.max(norm(&rw.report.x));
        prev_x = Some(rw.report.x.clone());
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

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|t| t * t).sum::<f64>().sqrt()
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    norm(&a.iter().zip(b).map(|(p, q)| p - q).collect::<Vec<_>>()) / norm(b).max(f64::MIN_POSITIVE)
}

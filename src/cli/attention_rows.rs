//! `spnewton attention rows`: the softmax regression of every query row of a real attention
//! head (SPEC §6's real instance), solved in order cold and warm in one run.
//!
//! Row `i`: `min_x ½‖softmax(Kx) − attn[i, :]‖² + ½w²‖Kx‖²` with `A = K` (the head's keys) and
//! `w ≪ 1/n`; its solution is `x* = q_i/√d_k` up to the float32 rounding of the data. Moving to
//! row `i+1` changes `b` alone; the SPEC §6 shift of that move is reported.
//!
//! Each row's answer is Newton started from the log-linear fit of `log b`
//! (`losses::log_linear`), which the stored float32 probabilities determine even where the loss
//! is flat; the gradient test is at the cold scale, `tol·‖g(0)‖` (a start this close would make
//! a test relative to its own gradient unreachable). The cold chain (every row from `x = 0`) and
//! the warm chain (each row from the previous row's answer, `newton::resolve`) are the SPEC §6
//! comparison, measured in the same run and reported as found.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use faer::Side;
use losses::{Activation, LossKind, Objective, Part, Regulariser, What, log_linear};
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
    /// Skip the cold and warm chains (the SPEC §6 comparison): solve each row from its
    /// log-linear start only.
    #[arg(long)]
    no_chain: bool,
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
    /// The row's answer: Newton from `start`.
    answer: Solve,
    /// `log_linear` (the fit of `log b`), or `zero` where fewer than `d + 1` probabilities are
    /// usable or `[K, 1]` restricted to them is rank-deficient.
    start: &'static str,
    /// `‖x_start − x*‖/‖x*‖`: how much the data alone determine `x*`.
    start_rel_err: f64,
    /// From `x = 0` (absent with `--no-chain`).
    cold: Option<Solve>,
    /// From the previous row's warm solution (absent with `--no-chain`).
    warm: Option<Solve>,
    reused: Option<Reused>,
    /// `‖x − x*‖/‖x*‖` of the answer within `--recover-tol`.
    recovered: bool,
    /// Where not recovered: why (where the loss's minimiser lies, how flat it is there, and
    /// what the data alone determine).
    note: Option<String>,
    /// The exact Hessian's extreme eigenvalues at the answer (flatness where not recovered).
    lambda_min: f64,
    lambda_max: f64,
    /// The largest attention probability of the row.
    max_prob: f64,
    /// SPEC §6 for the move from the previous row's answer to this one's (`b = attn[i, :]`).
    shift: Option<Shift>,
}

#[derive(Debug, Serialize)]
struct Summary {
    rows: usize,
    /// Rows whose answer converged.
    converged: usize,
    /// Rows whose answer's loss is within 1e-12 of (or below) the loss at `q_i/√d_k`.
    loss_ok: usize,
    recovered: usize,
    not_recovered: Vec<usize>,
    /// Rows started from the log-linear fit (the others from `x = 0`).
    log_linear_starts: usize,
    /// The largest `‖x_start − x*‖/‖x*‖` over the log-linear starts.
    max_start_rel_err: f64,
    passes: usize,
    time_s: f64,
    /// The SPEC §6 comparison (absent with `--no-chain`).
    chains: Option<Chains>,
    /// Quantiles (min, 25%, median, 75%, max) of the measured `M`.
    m_quantiles: Vec<f64>,
    /// Steps where the corollary's preconditions held, of those measured.
    preconditions_held: usize,
    shifts_measured: usize,
    /// `R = max(‖K‖₂, max_i ‖x_i‖₂, 4)` and the exponent `R² + ln n` of the corollary's `M`.
    r: f64,
    bound_exponent: f64,
}

/// The cold and warm chains, as found.
#[derive(Debug, Serialize)]
struct Chains {
    converged_cold: usize,
    converged_warm: usize,
    /// Rows whose cold (warm) loss is within 1e-12 of (or below) the loss at `q_i/√d_k`.
    loss_ok_cold: usize,
    loss_ok_warm: usize,
    passes_cold: usize,
    passes_warm: usize,
    time_cold_s: f64,
    time_warm_s: f64,
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
    let mut fit = Resolver::new(params, ReuseParams::cold());
    let x0 = vec![0.0; d];
    let mut rows = Vec::with_capacity(n);
    let mut prev_x: Option<Vec<f64>> = None;
    let mut max_x = 0.0f64;
    for i in 0..n {
        let b = &attn[i * n..(i + 1) * n];
        let x_star: Vec<f64> = (0..d).map(|j| qd.get(i, j) * scale).collect();
        let f = Objective::new(&k, b, Regulariser::Const(args.w), LossKind::Softmax, Activation::Exp)?;
        let loss_star = f.value(&x_star)?;
        let view = |r: &newton::resolve::Resolved| Solve {
            status: r.report.status,
            iterations: r.report.iterations,
            passes_over_a: r.passes_over_a,
            time_s: r.time_s,
            loss_excess: r.report.loss - loss_star,
            rel_err: rel(&r.report.x, &x_star),
            message: r.report.message.clone(),
        };
        let fit_clock = std::time::Instant::now();
        let (start, x_start) = match log_linear::softmax_log_linear_start(&k, b)? {
            Some(x) => ("log_linear", x),
            None => ("zero", x0.clone()),
        };
        let fit_s = fit_clock.elapsed().as_secs_f64();
        // The gradient test at the cold scale `tol·‖g(0)‖`: relative to the gradient at a start
        // this close to the answer it would sit below the gradient's rounding floor.
        let g0_clock = std::time::Instant::now();
        let g0 = f.evaluate(&x0, What::Gradient)?.gradient.map_or(0.0, |g| norm(&g));
        let g0_s = g0_clock.elapsed().as_secs_f64();
        fit.set_atol(args.tol * g0);
        let ra = fit.solve(&f, &x_start, None).with_context(|| format!("row {i}, from the {start} start"))?;
        let (cs, ws, reused) = if args.no_chain {
            (None, None, None)
        } else {
            let rc = cold.solve(&f, &x0, None).with_context(|| format!("row {i}, cold"))?;
            let rw = warm.solve(&f, &x0, None).with_context(|| format!("row {i}, warm"))?;
            (Some(view(&rc)), Some(view(&rw)), Some(rw.reused))
        };
        // The gradient at 0 (two passes: the test's scale) and the fit (one pass gathering the
        // kept rows) count to the answer.
        let mut answer = view(&ra);
        answer.time_s += g0_s;
        answer.passes_over_a += 2;
        if start == "log_linear" {
            answer.time_s += fit_s;
            answer.passes_over_a += 1;
        }
        let x = &ra.report.x;
        let e = f.evaluate(x, What::Hessian)?;
        let h = e.hessian.as_ref().expect("asked for the Hessian").dense(Part::Exact);
        let eig =
            h.self_adjoint_eigen(Side::Lower).map_err(|e| anyhow::anyhow!("eigenvalues of the Hessian: {e:?}"))?;
        let s = eig.S();
        let shift = prev_x.as_ref().and_then(|px| shift(Activation::Exp, &k, px, None, x, b).ok().map(|(_, s)| s));
        max_x = max_x.max(norm(x));
        prev_x = Some(x.clone());
        let recovered = answer.rel_err <= args.recover_tol;
        let start_rel_err = rel(&x_start, &x_star);
        let note = (!recovered).then(|| {
            format!(
                "the loss's minimiser found lies at relative distance {:.2} from q_i/√d_k, with loss {:.2e} {} that at q_i/√d_k ({:.2e}); the Hessian's eigenvalues there are in [{:.1e}, {:.1e}]; the {start} start was at {:.1e}",
                answer.rel_err,
                answer.loss_excess.abs(),
                if answer.loss_excess <= 0.0 { "below" } else { "above" },
                loss_star,
                s[0],
                s[d - 1],
                start_rel_err
            )
        });
        rows.push(Row {
            index: i,
            loss_star,
            recovered,
            note,
            start,
            start_rel_err,
            answer,
            cold: cs,
            warm: ws,
            reused,
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
    let converged = |s: &Solve| s.status == Status::Converged;
    let count = |pick: Pick, test: &dyn Fn(&Solve) -> bool| rows.iter().filter_map(pick).filter(|s| test(s)).count();
    let total = |pick: Pick| -> (usize, f64) {
        rows.iter().filter_map(pick).fold((0, 0.0), |(p, t), s| (p + s.passes_over_a, t + s.time_s))
    };
    let chains = (!args.no_chain).then(|| {
        let cold: Pick = &|r| r.cold.as_ref();
        let warm: Pick = &|r| r.warm.as_ref();
        let ((passes_cold, time_cold_s), (passes_warm, time_warm_s)) = (total(cold), total(warm));
        Chains {
            converged_cold: count(cold, &converged),
            converged_warm: count(warm, &converged),
            loss_ok_cold: count(cold, &ok),
            loss_ok_warm: count(warm, &ok),
            passes_cold,
            passes_warm,
            time_cold_s,
            time_warm_s,
        }
    });
    let answer: Pick = &|r| Some(&r.answer);
    let (passes, time_s) = total(answer);
    let fitted = rows.iter().filter(|r| r.start == "log_linear");
    let summary = Summary {
        rows: n,
        converged: count(answer, &converged),
        loss_ok: count(answer, &ok),
        recovered: rows.iter().filter(|r| r.recovered).count(),
        not_recovered: rows.iter().filter(|r| !r.recovered).map(|r| r.index).collect(),
        log_linear_starts: fitted.clone().count(),
        max_start_rel_err: fitted.map(|r| r.start_rel_err).fold(0.0, f64::max),
        passes,
        time_s,
        chains,
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
        let chains = s.chains.as_ref().map_or(String::new(), |c| {
            format!(
                "; chains: converged cold {} warm {}, loss ok cold {} warm {}, passes cold {} warm {}, time cold {:.4} s warm {:.4} s",
                c.converged_cold,
                c.converged_warm,
                c.loss_ok_cold,
                c.loss_ok_warm,
                c.passes_cold,
                c.passes_warm,
                c.time_cold_s,
                c.time_warm_s
            )
        });
        eprintln!(
            "L{}H{}: {} rows ({} from the log-linear start, max start error {:.1e}); converged {}; loss ≤ loss(q/√d)+1e-12 on {}; recovered to {:e} on {} (not: {:?}); passes {}; time {:.4} s; median M {:.3e}; preconditions held on {}/{}{chains}",
            args.layer,
            args.head,
            s.rows,
            s.log_linear_starts,
            s.max_start_rel_err,
            s.converged,
            s.loss_ok,
            args.recover_tol,
            s.recovered,
            s.not_recovered,
            s.passes,
            s.time_s,
            s.m_quantiles[2],
            s.preconditions_held,
            s.shifts_measured
        );
    }
    // The exit status is the answers': the chains are a measurement, reported as found.
    let all = s.converged == n && s.loss_ok == n;
    Ok(if all { 0 } else { 3 })
}

/// One of a row's solves (the answer, cold or warm), where present.
type Pick<'a> = &'a dyn Fn(&Row) -> Option<&Solve>;

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|t| t * t).sum::<f64>().sqrt()
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    norm(&a.iter().zip(b).map(|(p, q)| p - q).collect::<Vec<_>>()) / norm(b).max(f64::MIN_POSITIVE)
}

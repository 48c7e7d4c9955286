//! `spnewton solve`: run the approximate Newton solver on a problem and report.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use losses::{Activation, LossKind, Objective, Problem, Regulariser};
use newton::{IterRecord, Report, SolverParams, Status, Strategy};
use sparse_ops::ReadOptions;
use sparse_ops::io::{read_csr, read_vector_of_len};

use super::generate::{parse_fn, parse_loss};

#[derive(Clone, Copy, ValueEnum)]
pub enum HessianArg {
    Exact,
    GaussNewton,
    Leverage,
    LeveragePcg,
    NewtonSketch,
}

#[derive(Args)]
pub struct SolveArgs {
    /// Problem directory (default: the bundled KJV problem, datasets/kjv).
    #[arg(long, conflicts_with = "a")]
    problem: Option<PathBuf>,
    /// Matrix file (instead of --problem); needs --b.
    #[arg(long, requires = "b")]
    a: Option<PathBuf>,
    #[arg(long, requires = "a")]
    b: Option<PathBuf>,
    /// Per-row regulariser weights (with --a).
    #[arg(long, requires = "a")]
    w: Option<PathBuf>,
    /// Override the loss (required with --a; default rescaled).
    #[arg(long, value_parser = parse_loss)]
    loss: Option<LossKind>,
    #[arg(long = "fn", value_parser = parse_fn)]
    func: Option<Activation>,
    /// Constant regulariser weight (overrides the problem's).
    #[arg(long)]
    w_const: Option<f64>,
    /// Hessian strategy; default chosen from n, d and nonzeros per row.
    #[arg(long, value_enum)]
    hessian: Option<HessianArg>,
    #[command(flatten)]
    sketch: super::SketchOpts,
    /// Relative tolerance: stop when ‖g‖ ≤ tol·‖g(x₀)‖.
    #[arg(long, default_value_t = 1e-8)]
    tol: f64,
    /// Absolute floor on ‖g‖.
    #[arg(long, default_value_t = 0.0)]
    atol: f64,
    #[arg(long, default_value_t = 100)]
    max_iter: usize,
    /// Wall-clock limit in seconds.
    #[arg(long)]
    max_time: Option<f64>,
    /// Recompute leverage scores every k iterations (default: 4 for leverage-pcg, else 1).
    #[arg(long)]
    refresh_every: Option<usize>,
    /// Skip the SPEC §4 diagnostics (λ_min and Hessian-Lipschitz estimates).
    #[arg(long)]
    no_checks: bool,
    /// Starting point (default: x0.txt of the problem, else 0).
    #[arg(long)]
    x0: Option<PathBuf>,
    /// The solution to measure r_t against (default: x_true.txt of the problem, if any).
    #[arg(long)]
    x_star: Option<PathBuf>,
    /// Write result.json here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write a convergence plot (‖g‖ and r_t per iteration, checks marked) as SVG here.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// No table, no progress bar.
    #[arg(long)]
    quiet: bool,
}

fn default_problem() -> PathBuf {
    let local = PathBuf::from("datasets/kjv");
    if local.is_dir() { local } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/kjv") }
}

fn load(args: &SolveArgs) -> anyhow::Result<Problem> {
    let mut p = if let Some(path) = &args.a {
        let a = read_csr(path, ReadOptions::default())?;
        let n = a.nrows();
        let b = read_vector_of_len(args.b.as_ref().expect("clap requires --b"), n, "b (one entry per row of A)")?;
        let w = match &args.w {
            Some(wp) => Regulariser::PerRow(read_vector_of_len(wp, n, "w (one entry per row of A)")?),
            None => Regulariser::None,
        };
        Problem { a, b, w, loss: LossKind::Rescaled, func: Activation::Exp, x0: None, x_true: None }
    } else {
        let dir = args.problem.clone().unwrap_or_else(default_problem);
        Problem::read_dir(&dir)?
    };
    if let Some(l) = args.loss {
        p.loss = l;
    }
    if let Some(f) = args.func {
        p.func = f;
    }
    if let Some(c) = args.w_const {
        anyhow::ensure!(c.is_finite() && c >= 0.0, "--w-const must be finite and nonnegative, got {c}");
        p.w = Regulariser::Const(c);
    }
    Ok(p)
}

pub fn run(args: SolveArgs) -> anyhow::Result<i32> {
    let p = load(&args)?;
    let (n, d) = p.a.shape();
    let x0 = match &args.x0 {
        Some(path) => read_vector_of_len(path, d, "x0 (one entry per column of A)")?,
        None => p.x0.clone().unwrap_or_else(|| vec![0.0; d]),
    };
    let explicit_x_star = match &args.x_star {
        Some(path) => Some(read_vector_of_len(path, d, "x* (one entry per column of A)")?),
        None => None,
    };
    let strategy = match args.hessian {
        Some(HessianArg::Exact) => Strategy::Exact,
        Some(HessianArg::GaussNewton) => Strategy::GaussNewton,
        Some(HessianArg::Leverage) => Strategy::Leverage,
        Some(HessianArg::LeveragePcg) => Strategy::LeveragePcg,
        Some(HessianArg::NewtonSketch) => Strategy::NewtonSketch,
        None => Strategy::default_for(n, d, p.a.nnz()),
    };
    let params = SolverParams {
        strategy,
        eps0: args.sketch.eps0,
        delta: args.sketch.delta,
        seed: args.sketch.seed,
        tol: args.tol,
        atol: args.atol,
        max_iter: args.max_iter,
        max_time: args.max_time.unwrap_or(f64::INFINITY),
        refresh_every: args.refresh_every.unwrap_or(strategy.default_refresh()),
        checks: !args.no_checks,
        ..Default::default()
    };
    let f = Objective::from_problem(&p)?;
    let show = !args.quiet;
    // x_true is x* only if it is stationary: a regulariser or noise moves the minimiser away
    // from the planted point, and r_t against it would not go to 0.
    let mut note = None;
    let x_star = match explicit_x_star {
        Some(x) => Some(x),
        None => p.x_true.clone().filter(|xt| {
            let g = |x: &[f64]| f.evaluate(x, losses::What::Gradient).ok().and_then(|e| e.gradient);
            let norm = |v: &[f64]| v.iter().map(|t| t * t).sum::<f64>().sqrt();
            let stationary = matches!((g(xt), g(&x0)), (Some(gt), Some(g0)) if norm(&gt) <= 1e-6 * norm(&g0));
            if !stationary {
                note = Some("x_true.txt is not a stationary point of this loss (regulariser or noise): r_t is measured by successive steps");
            }
            stationary
        }),
    };
    if show {
        let _ = outln!(
            "{} x {} ({} nonzeros), loss {} with {}, strategy {}",
            n,
            d,
            p.a.nnz(),
            p.loss,
            p.func,
            strategy.name()
        );
        let _ = outln!(
            "{:>4} {:>14} {:>11} {:>10} {:>8} {:>9} {:>7} {:>9} {:>11}  checks (r ratio ≤ 0.4, M·r ≤ 0.1·l)",
            "it",
            "loss",
            "‖g‖",
            "step",
            "α",
            "rows",
            "passes",
            "time s",
            "fallback"
        );
    }
    let bar = (show && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(params.max_iter as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} it {pos}/{len} {msg} [{elapsed_precise}]")
                .expect("valid template"),
        );
        b
    });
    let mut observer = |r: &IterRecord, _: newton::Iterate<'_>| {
        if let Some(b) = &bar {
            b.set_position(r.iteration as u64 + 1);
            b.set_message(format!("‖g‖ {:.3e}", r.grad_norm));
        }
        if show {
            let line = table_row(r);
            match &bar {
                Some(b) => b.println(line),
                None => {
                    let _ = outln!("{line}");
                }
            }
        }
        std::ops::ControlFlow::Continue(())
    };
    let report =
        newton::solve(&f, &x0, &params, x_star.as_deref(), &mut observer).context("the solver cannot start")?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if show {
        let _ = outln!(
            "status {}: loss {:.9e}, ‖g‖ {:.3e} (‖g₀‖ {:.3e}), {} iterations, {:.3} s (solver {:.3} s, checks {:.3} s)",
            report.status.name(),
            report.loss,
            report.grad_norm,
            report.grad_norm0,
            report.iterations,
            report.total_s,
            report.timing.solver_s(),
            report.timing.checks_s
        );
        match report.regime_from_iteration {
            Some(t) => {
                let _ = outln!("the theorem's checks held from iteration {t} on");
            }
            None if params.checks => {
                let _ = outln!("the theorem's checks never held through the end of the run");
            }
            None => {}
        }
        if let Some(m) = &report.message {
            let _ = outln!("{m}");
        }
        if let Some(n) = note {
            let _ = outln!("note: {n}");
        }
    }
    if let Some(path) = &args.plot {
        let mut grad: Vec<(f64, f64)> = report.history.iter().map(|h| (h.iteration as f64, h.grad_norm)).collect();
        grad.push((report.iterations as f64, report.grad_norm));
        let r: Vec<(f64, f64)> =
            report.history.iter().filter_map(|h| h.checks.r.map(|r| (h.iteration as f64, r))).collect();
        let held: Vec<(f64, f64, bool)> = report
            .history
            .iter()
            .filter_map(|h| match (h.checks.contraction_ok, h.checks.lipschitz_ok) {
                (Some(c), Some(l)) => Some((h.iteration as f64, h.grad_norm, c && l)),
                _ => None,
            })
            .collect();
        super::plot::convergence(path, &grad, &r, &held)?;
    }
    if let Some(path) = &args.out {
        let json = result_json(&report, &p, strategy);
        std::fs::write(path, serde_json::to_string_pretty(&json)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if report.status == Status::Converged { 0 } else { 3 })
}

fn table_row(r: &IterRecord) -> String {
    let ok = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    };
    let fallback = r
        .fallbacks
        .iter()
        .map(|f| match f {
            newton::Fallback::NegativeDiagonal { rows } => format!("D<0:{rows}"),
            newton::Fallback::Damped { mu } => format!("μ={mu:.1e}"),
            newton::Fallback::PcgFallback { .. } => "pcg→chol".to_string(),
            newton::Fallback::NegativeCurvatureStep { .. } => "saddle".to_string(),
        })
        .collect::<Vec<_>>()
        .join(",");
    format!(
        "{:>4} {:>14.7e} {:>11.3e} {:>10.3e} {:>8.3} {:>9} {:>7} {:>9.3} {:>11}  {} {}",
        r.iteration,
        r.loss,
        r.grad_norm,
        r.step_norm,
        r.step_length,
        r.rows_kept.map_or("all".to_string(), |k| k.to_string()),
        r.passes_over_a,
        r.timing.solver_s(),
        if fallback.is_empty() { "-".into() } else { fallback },
        ok(r.checks.contraction_ok),
        ok(r.checks.lipschitz_ok)
    )
}

fn result_json(r: &Report, p: &Problem, strategy: Strategy) -> serde_json::Value {
    let history: Vec<serde_json::Value> = r
        .history
        .iter()
        .map(|h| {
            let mut v = serde_json::to_value(h).expect("record serialises");
            let c = &h.checks;
            v["contraction"] = serde_json::json!(c.contraction);
            v["contraction_ok"] = serde_json::json!(c.contraction_ok);
            v["lipschitz_ok"] = serde_json::json!(c.lipschitz_ok);
            v["l_est"] = serde_json::json!(c.l_est);
            v["m_est"] = serde_json::json!(c.m_est);
            v["r"] = serde_json::json!(c.r);
            v
        })
        .collect();
    serde_json::json!({
        "status": r.status.name(),
        "message": r.message,
        "x": r.x,
        "loss": r.loss,
        "grad_norm": r.grad_norm,
        "grad_norm0": r.grad_norm0,
        "iterations": r.iterations,
        "strategy": strategy.name(),
        "history": history,
        "timing": {
            "total_s": r.total_s, "eval_s": r.timing.eval_s, "sketch_s": r.timing.sketch_s,
            "hessian_s": r.timing.hessian_s, "solve_s": r.timing.solve_s, "checks_s": r.timing.checks_s,
        },
        "problem": { "n": p.a.nrows(), "d": p.a.ncols(), "nnz": p.a.nnz(), "loss": p.loss.to_string(), "fn": p.func.to_string() },
        "checks": {
            "regime_from_iteration": r.regime_from_iteration,
            "r_against_x_star": r.r_against_x_star,
            "iterations_contraction_ok": r.history.iter().filter(|h| h.checks.contraction_ok == Some(true)).count(),
            "iterations_lipschitz_ok": r.history.iter().filter(|h| h.checks.lipschitz_ok == Some(true)).count(),
        },
    })
}

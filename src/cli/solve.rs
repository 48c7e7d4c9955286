//! `spnewton solve`: run the approximate Newton solver on a problem and report.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use losses::{Activation, LossKind, Objective, Problem, Regulariser};
use newton::auto::Choice;
use newton::{ChecksKind, IterRecord, Precond, ProblemSummary, Report, SolverParams, Status, Strategy};
use serde::{Deserialize, Serialize};
use sparse_ops::io::read_vector_of_len;

use super::names::named;

#[derive(Args)]
pub struct SolveArgs {
    /// Problem directory (default: the bundled KJV problem of datasets/kjv, built into the program).
    #[arg(long, conflicts_with = "a")]
    problem: Option<PathBuf>,
    /// Matrix file (instead of --problem): Matrix Market (optionally .gz) with --b, or
    /// svmlight/LIBSVM (.svm, .libsvm) whose labels are b.
    #[arg(long)]
    a: Option<PathBuf>,
    /// Right-hand side b for --a: n values, one a line.
    #[arg(long, requires = "a")]
    b: Option<PathBuf>,
    /// Per-row regulariser weights (with --a).
    #[arg(long, requires = "a")]
    w: Option<PathBuf>,
    /// Override the loss (with --a: default rescaled).
    #[arg(long, value_parser = named::<LossKind>(LossKind::NAMES))]
    loss: Option<LossKind>,
    /// Activation u applied to Ax (default: the problem's, else exp).
    #[arg(long = "fn", value_parser = named::<Activation>(Activation::NAMES))]
    func: Option<Activation>,
    /// Constant regulariser weight (overrides the problem's).
    #[arg(long)]
    w_const: Option<f64>,
    /// Hessian strategy; default `auto`: from n, d, nonzeros per row and this machine's timed
    /// pass and Cholesky rates (result.json's `choice` says which and why; docs/guide.md).
    #[arg(long, value_parser = named::<Strategy>(Strategy::NAMES))]
    hessian: Option<Strategy>,
    /// Preconditioner of --hessian newton-cg: jacobi (diag(H), one pass a step; the default),
    /// nystrom (rank-r randomized Nyström of the scaled AᵀD₊A, rebuilt when the CG count rises)
    /// or none.
    #[arg(long, value_parser = named::<Precond>(Precond::NAMES))]
    precond: Option<Precond>,
    /// Rank of the Nyström preconditioner (default min(50, d/4)).
    #[arg(long)]
    nystrom_rank: Option<usize>,
    /// CG iterations per Newton step at most (newton-cg, leverage-pcg).
    #[arg(long, default_value_t = 200)]
    max_cg: usize,
    #[command(flatten)]
    sketch: super::SketchOpts,
    /// Relative tolerance: converged when ‖g‖ ≤ tol·‖g(x₀)‖ and the Newton decrement gᵀH̃⁻¹g/2 ≤ tol·|f|.
    #[arg(long, default_value_t = 1e-8)]
    tol: f64,
    /// Absolute tolerance on ‖g‖ (your own scale; honoured as given).
    #[arg(long, default_value_t = 0.0)]
    atol: f64,
    /// Iteration limit.
    #[arg(long, default_value_t = 100)]
    max_iter: usize,
    /// Cut the rows into C fixed chunks and combine every sum over rows by the MPI solver's
    /// fixed tree over them: x is then bitwise that of `spnewton-mpi solve --chunks C` at any
    /// rank count (docs/distributed.md). With --hessian exact, leverage, leverage-pcg or
    /// newton-cg (unpreconditioned); no theory checks, no --max-time.
    #[arg(long)]
    chunks: Option<usize>,
    /// Wall-clock limit in seconds.
    #[arg(long)]
    max_time: Option<f64>,
    /// Recompute leverage scores every k iterations (default: 4 for leverage-pcg, else 1).
    #[arg(long)]
    refresh_every: Option<usize>,
    /// Skip the convergence-theory checks (they cost extra passes over A; docs/reference.md §4).
    #[arg(long)]
    no_checks: bool,
    /// How the theory checks estimate λ_min and M: derived (from the step's own quantities; free
    /// with newton-cg, coarser) or exact (separate Lanczos and power iterations; docs/guide.md).
    #[arg(long, value_parser = named::<ChecksKind>(ChecksKind::NAMES), default_value = "derived")]
    checks: ChecksKind,
    /// Show the theory checks per iteration (λ_min, Hessian-Lipschitz M, r_t, the two conditions).
    #[arg(long, short)]
    verbose: bool,
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

fn load(args: &SolveArgs) -> anyhow::Result<Problem> {
    let mut p = if let Some(path) = &args.a {
        let (a, labels) = super::load::read_matrix(path)?;
        let n = a.nrows();
        let b = match (&args.b, labels) {
            (Some(bp), _) => read_vector_of_len(bp, n, "b (one entry per row of A)")?,
            (None, Some(labels)) => labels,
            (None, None) => anyhow::bail!("--a {} needs --b (only an svmlight file holds b itself)", path.display()),
        };
        let w = match &args.w {
            Some(wp) => Regulariser::PerRow(read_vector_of_len(wp, n, "w (one entry per row of A)")?),
            None => Regulariser::None,
        };
        Problem { a, b, w, loss: LossKind::Rescaled, func: Activation::Exp, x0: None, x_true: None }
    } else {
        match &args.problem {
            Some(dir) => Problem::read_dir(dir)?,
            None => super::bundled::problem()?,
        }
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
    if args.hessian.is_none_or(Strategy::is_sketched) {
        args.sketch.check()?;
    }
    anyhow::ensure!(args.tol >= 0.0, "--tol must be nonnegative, got {}", args.tol);
    anyhow::ensure!(args.atol >= 0.0, "--atol must be nonnegative, got {}", args.atol);
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
    // No --hessian: `auto`, from the shape and this machine's timed rates (newton::auto).
    let mode = match args.chunks {
        Some(c) => Some(chunked_mode(&args, c)?),
        None => None,
    };
    let (strategy, choice) = match args.hessian {
        Some(s) => (s, None),
        None => {
            let c = Choice::for_matrix(&p.a);
            (c.strategy, Some(c))
        }
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
        checks: !args.no_checks && mode.is_none(),
        max_cg: args.max_cg,
        precond: args.precond.unwrap_or(Precond::Jacobi),
        nystrom_rank: args.nystrom_rank.unwrap_or(0),
        checks_kind: args.checks,
        ..Default::default()
    };
    if strategy == Strategy::NewtonCg {
        // Matrix-free: a few d-vectors, the product's partial sums and a rank-r preconditioner.
        super::memory::check(
            &format!("Newton–CG's vectors and preconditioner (d = {d})"),
            super::memory::f64s(&[128, d]),
        )?;
    } else {
        // Every other strategy forms and factorises a dense d×d matrix (a few copies of it live at once).
        super::memory::check(
            &format!("the dense {d}×{d} Newton matrix and its factorisation"),
            super::memory::f64s(&[8, d, d]),
        )?;
    }
    let f = Objective::from_problem(&p)?;
    let show = !args.quiet;
    // x_true is x* only if it is stationary: a regulariser or noise moves the minimiser away
    // from the planted point, and r_t against it would not go to 0.
    let mut note = None;
    // The chunked solver (--chunks) measures no r_t: no x*, and no passes spent finding it.
    let x_star = match explicit_x_star {
        _ if mode.is_some() => None,
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
        if args.verbose {
            let _ = outln!(
                "theory checks (docs/reference.md §4): l = λ_min(H), M = Hessian-Lipschitz estimate, r = distance to x* \
                 (or step length); 'contracts' is r_(t+1) ≤ 0.4·r_t, 'close' is M·r_t ≤ 0.1·l"
            );
        }
        let _ = outln!("{}", table_header(args.verbose));
        let _ = outln!("(time s: wall-clock seconds of the whole iteration, checks included)");
    }
    let bar = (show && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(params.max_iter as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} it {pos}/{len} {msg} [{elapsed_precise}]")
                .expect("valid template"),
        );
        b
    });
    let verbose = args.verbose;
    let mut last = Instant::now();
    let mut observer = |r: &IterRecord, _: newton::Iterate<'_>| {
        // Everything since the previous record: evaluation, sketch, solve, line search, checks.
        let wall = last.elapsed().as_secs_f64();
        last = Instant::now();
        if let Some(b) = &bar {
            b.set_position(r.iteration as u64 + 1);
            b.set_message(format!("‖g‖ {:.3e}", r.grad_norm));
        }
        if show {
            let line = table_row(r, wall, verbose);
            match &bar {
                Some(b) => b.println(line),
                None => {
                    let _ = outln!("{line}");
                }
            }
        }
        std::ops::ControlFlow::Continue(())
    };
    let report = match (mode, args.chunks) {
        (Some(mode), Some(c)) => distributed::solve_in_memory(&p, c, mode, &x0, &params, &mut observer)
            .context("the chunked solver cannot start")?,
        _ => newton::solve(&f, &x0, &params, x_star.as_deref(), &mut observer).context("the solver cannot start")?,
    };
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
        if params.checks {
            let _ = outln!("{}", checks_summary(&report));
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
        let extra = SolveExtra { choice: choice.clone(), chunks: args.chunks };
        let json = ResultFile::new(report.clone(), strategy.name(), summary(&p), extra);
        super::output::write_json(path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if report.status == Status::Converged {
        return Ok(0);
    }
    // Exit 3: one line on stderr, whatever --quiet says, so that scripts see why.
    eprintln!(
        "spnewton: the solver stopped without converging: status {} after {} iterations, loss {:.6e}{}",
        report.status.name(),
        report.iterations,
        report.loss,
        report.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
    );
    Ok(3)
}

fn table_header(verbose: bool) -> String {
    let mut h = format!(
        "{:>4} {:>14} {:>11} {:>10} {:>8} {:>9} {:>7} {:>9} {:>11}",
        "it", "loss", "‖g‖", "step", "α", "rows", "passes", "time s", "fallback"
    );
    if verbose {
        h += &format!("  {:>10} {:>10} {:>10} {:>9} {:>5}", "l", "M", "r", "contracts", "close");
    }
    h
}

fn table_row(r: &IterRecord, wall_s: f64, verbose: bool) -> String {
    let ok = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    };
    let num = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3e}"));
    let fallback = r
        .fallbacks
        .iter()
        .map(|f| match f {
            newton::Fallback::NegativeDiagonal { rows } => format!("D<0:{rows}"),
            newton::Fallback::Damped { mu } => format!("μ={mu:.1e}"),
            newton::Fallback::PcgFallback { .. } => "pcg→chol".to_string(),
            newton::Fallback::NegativeCurvatureStep { .. } => "saddle".to_string(),
            newton::Fallback::CgNegativeCurvature { .. } => "cg:dᵀHd≤0".to_string(),
            newton::Fallback::CgTruncated { .. } => "cg:max".to_string(),
        })
        .collect::<Vec<_>>()
        .join(",");
    let mut line = format!(
        "{:>4} {:>14.7e} {:>11.3e} {:>10.3e} {:>8.3} {:>9} {:>7} {:>9.3} {:>11}",
        r.iteration,
        r.loss,
        r.grad_norm,
        r.step_norm,
        r.step_length,
        r.rows_kept.map_or("all".to_string(), |k| k.to_string()),
        r.passes_over_a,
        wall_s,
        if fallback.is_empty() { "-".into() } else { fallback },
    );
    if verbose {
        let c = &r.checks;
        line += &format!(
            "  {:>10} {:>10} {:>10} {:>9} {:>5}",
            num(c.l_est),
            num(c.m_est),
            num(c.r),
            ok(c.contraction_ok),
            ok(c.lipschitz_ok)
        );
    }
    line
}

/// The theory checks in plain words: what held, what did not, and what that means for the
/// user (the status, not the checks, says whether the solve succeeded).
fn checks_summary(r: &Report) -> String {
    let checked = r.history.iter().filter(|h| h.checks.contraction_ok.is_some() || h.checks.lipschitz_ok.is_some());
    let n = checked.clone().count();
    let contracts = checked.clone().filter(|h| h.checks.contraction_ok == Some(true)).count();
    let close = checked.filter(|h| h.checks.lipschitz_ok == Some(true)).count();
    let head = "theory check (docs/reference.md §4; per-iteration values with --verbose)";
    let distance = if r.r_against_x_star { "the distance to the solution" } else { "the step length" };
    if n == 0 {
        return format!("{head}: too few iterations to measure.");
    }
    match r.regime_from_iteration {
        Some(t) => format!(
            "{head}: from iteration {t} on, {distance} shrank at least 2.5-fold every iteration and the iterate \
             was close enough to the solution.\nmeaning: the convergence theorem's conditions held, so the fast \
             convergence seen here is the one it predicts."
        ),
        None => format!(
            "{head}: {distance} shrank at least 2.5-fold in {contracts} of {n} iterations; the iterate was close \
             enough to the solution for the theorem in {close} of {n}.\nmeaning: the convergence theorem does not \
             cover this run, which is common on real data and not a failure: the status line above says whether \
             the solve succeeded."
        ),
    }
}

/// What `spnewton solve` adds to [`newton::ResultFile`]: how the strategy was chosen.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SolveExtra {
    /// How the strategy was chosen: absent when `--hessian` named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<Choice>,
    /// `--chunks C`: the rows were cut into `C` fixed chunks (the MPI solver's reductions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<usize>,
}

/// The chunked solver's strategy for `--chunks`, or why the options do not fit it.
fn chunked_mode(args: &SolveArgs, chunks: usize) -> anyhow::Result<distributed::Mode> {
    anyhow::ensure!(chunks >= 1, "--chunks must be at least 1");
    let mode = match args.hessian {
        Some(Strategy::Exact) => distributed::Mode::Exact,
        Some(Strategy::Leverage) => distributed::Mode::Leverage,
        Some(Strategy::LeveragePcg) => distributed::Mode::LeveragePcg,
        Some(Strategy::NewtonCg) => distributed::Mode::NewtonCg,
        other => anyhow::bail!(
            "--chunks runs the MPI solver's strategies: pass --hessian exact, leverage, leverage-pcg or newton-cg{}",
            other.map(|s| format!(" (not {})", s.name())).unwrap_or_default()
        ),
    };
    anyhow::ensure!(
        args.precond.is_none_or(|p| p == Precond::None),
        "--chunks: newton-cg runs unpreconditioned there (--precond none)"
    );
    anyhow::ensure!(
        args.max_time.is_none(),
        "--chunks has no --max-time (the MPI solver's ranks could disagree on it)"
    );
    anyhow::ensure!(!args.verbose, "--chunks runs no theory checks: --verbose has nothing to show");
    Ok(mode)
}

/// result.json of `spnewton solve`.
pub type ResultFile = newton::ResultFile<SolveExtra>;

/// The `problem` object of result.json.
fn summary(p: &Problem) -> ProblemSummary {
    ProblemSummary {
        n: p.a.nrows(),
        d: p.a.ncols(),
        nnz: p.a.nnz(),
        loss: p.loss.to_string(),
        func: p.func.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use losses::{Activation, LossKind, Regulariser};
    use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

    #[test]
    fn result_file_round_trips_and_holds_each_check_value_once() {
        let a = random_sparse(&GenSpec {
            nrows: 3000,
            ncols: 8,
            sparsity: Sparsity::RowNnz(3),
            variant: Variant::Plain,
            seed: 1,
        })
        .unwrap();
        let spec =
            losses::PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.0, seed: 2 };
        let (x_true, b) = losses::plant(&a, &spec).unwrap();
        let p = Problem {
            a,
            b,
            w: Regulariser::None,
            loss: LossKind::Rescaled,
            func: Activation::Exp,
            x0: None,
            x_true: None,
        };
        let f = Objective::from_problem(&p).unwrap();
        let params = SolverParams { strategy: Strategy::Exact, ..Default::default() };
        let report =
            newton::solve(&f, &[0.0; 8], &params, Some(&x_true), &mut |_, _| std::ops::ControlFlow::Continue(()))
                .unwrap();
        assert!(report.history.iter().any(|h| h.checks.contraction_ok.is_some()));
        let file = ResultFile::new(report.clone(), Strategy::Exact.name(), summary(&p), SolveExtra::default());
        let text = serde_json::to_string_pretty(&file).unwrap();
        // Reads back whole, and as the library's own report type.
        assert_eq!(serde_json::from_str::<ResultFile>(&text).unwrap(), file);
        assert_eq!(serde_json::from_str::<Report>(&text).unwrap(), report);
        // No check value is repeated outside `checks` in a history record.
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        for h in v["history"].as_array().unwrap() {
            for key in ["contraction", "contraction_ok", "lipschitz_ok", "l_est", "m_est", "r"] {
                assert!(h.get(key).is_none(), "history record repeats {key}");
                assert!(h["checks"].get(key).is_some(), "checks lack {key}");
            }
        }
        assert_eq!(
            file.check_counts.iterations_contraction_ok,
            report.history.iter().filter(|h| h.checks.contraction_ok == Some(true)).count()
        );
    }
}

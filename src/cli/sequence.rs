//! `spnewton sequence`: a sequence of related problems solved in order, warm-started
//! (`newton::resolve`), with the in-context corollary's shift measured at each step (SPEC §6).
//!
//! The sequence shares the problem directory's `A` and changes `b` (`--b-seq`: a dense Matrix
//! Market file whose row `k` is step `k`'s `b`, or a text file with one `b` a line), or shares
//! its `b` and changes `A` (`--a-seq A1.mtx,A2.mtx,…`, each of `A`'s shape), or is generated
//! (`--generate n,d,r,steps,rho`: random sparse `A` with `r` nonzeros a row, a planted rescaled
//! exp target, each next target `b∘(1 + rho·ξ)` with `ξ` uniform in `[−1, 1)`). The JSON holds
//! one record per step; a bad step (wrong length, another shape, NaN) ends the run with exit
//! code 2 after the steps already solved are written, with the error beside them.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use losses::{LossKind, Objective, PlantSpec, Problem, Regulariser, plant};
use newton::resolve::{Resolver, ReuseParams, Reused, Shift, shift};
use newton::{SolverParams, Status, Strategy};
use serde::Serialize;
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};
use sparse_ops::{CsrMatrix, ReadOptions};

use super::names::named;

#[derive(Args)]
pub struct SequenceArgs {
    /// Problem directory: A (shared with --b-seq), b (shared with --a-seq), w, loss, fn, x0.
    #[arg(long, required_unless_present = "generate")]
    problem: Option<PathBuf>,
    /// The targets: a dense Matrix Market file (.mtx, .mtx.gz; row k is step k's b, n columns)
    /// or a text file with one b a line (n whitespace-separated values).
    #[arg(long, conflicts_with_all = ["a_seq", "generate"])]
    b_seq: Option<PathBuf>,
    /// The matrices, comma-separated, each of A's shape; b is the problem's.
    #[arg(long, value_delimiter = ',', conflicts_with = "generate")]
    a_seq: Vec<PathBuf>,
    /// A generated b-sequence instead of files: n,d,r,steps,rho (rows, columns, nonzeros a row,
    /// targets, relative perturbation of each target from the last), with --seed.
    #[arg(long, conflicts_with = "problem")]
    generate: Option<String>,
    /// ‖A x_true‖_∞ of the generated plant (larger: further from x = 0, more cold iterations).
    #[arg(long, default_value_t = 0.5)]
    gen_scale: f64,
    /// Constant regulariser weight of a generated sequence.
    #[arg(long, default_value_t = 1e-3)]
    gen_w: f64,
    /// Solve every step cold (from x0, fresh sample): the comparison run.
    #[arg(long, conflicts_with = "compare")]
    cold: bool,
    /// Solve every step both warm and cold, interleaved in one process (so machine load hits
    /// both alike); the cold records go under "cold_steps" and the largest relative difference
    /// of the two solutions is reported.
    #[arg(long)]
    compare: bool,
    /// Hessian strategy (default: leverage-pcg, whose sample a warm step can reuse).
    #[arg(long, value_parser = named::<Strategy>(Strategy::NAMES))]
    hessian: Option<Strategy>,
    #[command(flatten)]
    sketch: super::SketchOpts,
    /// Relative tolerance (a warm step stops where a cold one would: newton::resolve).
    #[arg(long, default_value_t = 1e-10)]
    tol: f64,
    /// Iteration limit of each step's solve.
    #[arg(long, default_value_t = 100)]
    max_iter: usize,
    /// Recompute leverage scores every k iterations (default: the strategy's).
    #[arg(long)]
    refresh_every: Option<usize>,
    /// Keep the previous leverage sample while the estimated relative drift of D₊ on its rows
    /// is at most this.
    #[arg(long, default_value_t = 0.25)]
    max_drift: f64,
    /// leverage-pcg warm steps: do not keep a factor of the exact Hessian as CG's preconditioner
    /// (a sketch at every step, as a cold solve; the earlier behaviour, for comparison).
    #[arg(long)]
    no_factor: bool,
    /// The CG count of a step above which the kept factor is rebuilt.
    #[arg(long, default_value_t = 8)]
    max_factor_cg: usize,
    /// Skip the shift measurements (they cost passes over A outside the solver's time).
    #[arg(long)]
    no_shift: bool,
    /// Write the JSON here (default: stdout).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write an SVG plot of the measured M and the passes over A per step here.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// No summary line on stderr.
    #[arg(long)]
    quiet: bool,
}

/// One step of the output.
#[derive(Debug, Serialize)]
pub struct StepRecord {
    pub index: usize,
    pub status: Status,
    pub iterations: usize,
    pub passes_over_a: usize,
    /// Wall-clock time of the step's re-solve (the warm-start test and the certifying step
    /// included; the shift diagnostics excluded).
    pub time_s: f64,
    pub loss: f64,
    pub grad_norm: f64,
    pub reused: Reused,
    /// The corollary for the move from the previous step (none at step 0, or for losses whose
    /// residual is not `u − α·b`).
    pub shift: Option<Shift>,
    pub message: Option<String>,
    /// Per iteration: where the step's passes over `A` and its time went.
    pub history: Vec<IterSummary>,
    pub x: Vec<f64>,
}

/// One iteration of a step, for finding where a re-solve's time goes.
#[derive(Debug, Serialize)]
pub struct IterSummary {
    pub grad_norm: f64,
    pub passes_over_a: usize,
    pub cg_iterations: Option<usize>,
    pub rows_kept: Option<usize>,
    pub step_length: f64,
    pub timing: newton::Timing,
}

#[derive(Debug, Serialize)]
struct Output {
    mode: &'static str,
    strategy: &'static str,
    steps: Vec<StepRecord>,
    total_time_s: f64,
    total_passes_over_a: usize,
    /// With `--compare`: the cold solves of the same steps, their totals, and
    /// `max_k ‖x_warm − x_cold‖/‖x_cold‖`.
    #[serde(skip_serializing_if = "Option::is_none")]
    cold_steps: Option<Vec<StepRecord>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cold_total_time_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cold_total_passes_over_a: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_rel_diff_x: Option<f64>,
    /// The error that ended the sequence early, if any.
    error: Option<String>,
}

/// Where the targets or matrices come from.
enum Source {
    /// Rows of a dense matrix read whole.
    Rows(Vec<Vec<f64>>),
    /// One `b` a line, read as the steps come.
    Lines(std::io::Lines<std::io::BufReader<std::fs::File>>, PathBuf),
    Matrices(Vec<PathBuf>),
    Generated {
        rho: f64,
        steps: usize,
        seed: u64,
    },
}

pub fn run(args: SequenceArgs) -> anyhow::Result<i32> {
    args.sketch.check()?;
    anyhow::ensure!(args.max_drift >= 0.0, "--max-drift must be ≥ 0, got {}", args.max_drift);
    let (mut problem, mut source) = load(&args)?;
    let strategy = args.hessian.unwrap_or(Strategy::LeveragePcg);
    let params = SolverParams {
        strategy,
        eps0: args.sketch.eps0,
        delta: args.sketch.delta,
        seed: args.sketch.seed,
        tol: args.tol,
        max_iter: args.max_iter,
        refresh_every: args.refresh_every.unwrap_or(strategy.default_refresh()),
        checks: false,
        ..Default::default()
    };
    let reuse = if args.cold {
        ReuseParams::cold()
    } else {
        ReuseParams {
            max_drift: args.max_drift,
            reuse_factor: !args.no_factor,
            max_factor_cg: args.max_factor_cg,
            ..Default::default()
        }
    };
    let mut resolvers = vec![Resolver::new(params, reuse)];
    if args.compare {
        resolvers.push(Resolver::new(params, ReuseParams::cold()));
    }
    let mut out = Output {
        mode: if args.cold { "cold" } else { "warm" },
        strategy: strategy.name(),
        steps: Vec::new(),
        total_time_s: 0.0,
        total_passes_over_a: 0,
        cold_steps: None,
        cold_total_time_s: None,
        cold_total_passes_over_a: None,
        max_rel_diff_x: None,
        error: None,
    };
    let mut records: Vec<Vec<StepRecord>> = resolvers.iter().map(|_| Vec::new()).collect();
    let result = solve_all(&args, &mut problem, &mut source, &mut resolvers, &mut records);
    let mut records = records.into_iter();
    out.steps = records.next().unwrap_or_default();
    if let Some(cold) = records.next() {
        // Only steps both runs finished.
        out.steps.truncate(cold.len());
        out.max_rel_diff_x = Some(out.steps.iter().zip(&cold).map(|(w, c)| rel(&w.x, &c.x)).fold(0.0, f64::max));
        out.cold_total_time_s = Some(cold.iter().map(|s| s.time_s).sum());
        out.cold_total_passes_over_a = Some(cold.iter().map(|s| s.passes_over_a).sum());
        out.cold_steps = Some(cold);
    }
    if let Err(e) = &result {
        out.error = Some(format!("step {}: {e:#}", out.steps.len()));
    }
    out.total_time_s = out.steps.iter().map(|s| s.time_s).sum();
    out.total_passes_over_a = out.steps.iter().map(|s| s.passes_over_a).sum();
    let text = serde_json::to_string_pretty(&out)?;
    match &args.out {
        Some(p) => super::output::write_text(p, &(text + "\n"))?,
        None => outln!("{text}")?,
    }
    if let Some(p) = &args.plot {
        plot(p, &out.steps, out.cold_steps.as_deref())?;
    }
    if let (Some(t), Some(p), Some(dx)) = (out.cold_total_time_s, out.cold_total_passes_over_a, out.max_rel_diff_x)
        && !args.quiet
        && result.is_ok()
    {
        eprintln!(
            "cold: {t:.3} s, {p} passes over A; warm/cold time {:.3}, passes {:.3}; max ‖x_warm − x_cold‖/‖x_cold‖ = {dx:.2e}",
            out.total_time_s / t,
            out.total_passes_over_a as f64 / p.max(1) as f64
        );
    }
    // On an error its one line is all stderr gets (the JSON has the steps and the error).
    if !args.quiet && result.is_ok() {
        eprintln!(
            "{} {} steps ({}): {:.3} s, {} passes over A, {} converged",
            out.steps.len(),
            out.mode,
            out.strategy,
            out.total_time_s,
            out.total_passes_over_a,
            out.steps.iter().filter(|s| s.status == Status::Converged).count()
        );
    }
    result.with_context(|| format!("the {} steps solved before it are written", out.steps.len()))?;
    let all = |v: &[StepRecord]| v.iter().all(|s| s.status == Status::Converged);
    Ok(if all(&out.steps) && out.cold_steps.as_deref().is_none_or(all) { 0 } else { 3 })
}

fn load(args: &SequenceArgs) -> anyhow::Result<(Problem, Source)> {
    if let Some(spec) = &args.generate {
        let v: Vec<f64> = spec
            .split(',')
            .map(|t| t.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .with_context(|| format!("--generate {spec:?}: expected n,d,r,steps,rho"))?;
        let [n, d, r, steps, rho] = v[..] else { bail!("--generate {spec:?}: expected five numbers n,d,r,steps,rho") };
        let whole = |x: f64| x >= 1.0 && x.fract() == 0.0;
        anyhow::ensure!(
            whole(n) && whole(d) && whole(r) && whole(steps),
            "--generate: n, d, r, steps must be whole numbers ≥ 1"
        );
        anyhow::ensure!(rho.is_finite() && (0.0..1.0).contains(&rho), "--generate: rho must be in [0, 1), got {rho}");
        let (n, d, r) = (n as usize, d as usize, r as usize);
        super::memory::check("the generated matrix", super::memory::f64s(&[2, n, r]))?;
        let seed = args.sketch.seed;
        let a = random_sparse(&GenSpec {
            nrows: n,
            ncols: d,
            sparsity: Sparsity::RowNnz(r),
            variant: Variant::Plain,
            seed,
        })?;
        let func = losses::Activation::Exp;
        let spec =
            PlantSpec { loss: LossKind::Rescaled, func, scale: args.gen_scale, noise: 0.0, seed: seed.wrapping_add(1) };
        let (x_true, b) = plant(&a, &spec)?;
        let w = Regulariser::Const(losses::check_w_const(args.gen_w).map_err(anyhow::Error::msg)?);
        let p = Problem { a, b, w, loss: LossKind::Rescaled, func, x0: None, x_true: Some(x_true) };
        return Ok((p, Source::Generated { rho, steps: steps as usize, seed }));
    }
    let dir = args.problem.as_ref().expect("clap requires --problem without --generate");
    let p = Problem::read_dir(dir).with_context(|| format!("reading the problem {}", dir.display()))?;
    let source = match (&args.b_seq, args.a_seq.is_empty()) {
        (Some(path), true) => b_source(path, p.a.nrows())?,
        (None, false) => Source::Matrices(args.a_seq.clone()),
        (None, true) => bail!("give the sequence: --b-seq FILE or --a-seq A1.mtx,A2.mtx,…"),
        (Some(_), false) => bail!("--b-seq and --a-seq cannot be combined"),
    };
    Ok((p, source))
}

fn b_source(path: &Path, n: usize) -> anyhow::Result<Source> {
    let name = path.to_string_lossy();
    if name.ends_with(".mtx") || name.ends_with(".mtx.gz") {
        let m = sparse_ops::io::read_dense(path, ReadOptions::default())?;
        if m.ncols != n {
            bail!(
                "{}: each row is one b and must have n = {n} entries (A's rows), found {} columns",
                path.display(),
                m.ncols
            );
        }
        let rows = (0..m.nrows).map(|i| (0..m.ncols).map(|j| m.get(i, j)).collect()).collect();
        return Ok(Source::Rows(rows));
    }
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Source::Lines(std::io::BufReader::new(file).lines(), path.to_path_buf()))
}

/// The next `b` (with `A` shared), or the next `A` (with `b` shared); `None` at the end.
enum Next {
    B(Vec<f64>),
    A(Box<CsrMatrix>),
}

fn next(source: &mut Source, k: usize, n: usize, d: usize, prev_b: &[f64]) -> anyhow::Result<Option<Next>> {
    let check_b = |b: Vec<f64>, what: &str| -> anyhow::Result<Next> {
        if b.len() != n {
            bail!("{what}: b has {} entries, A has n = {n} rows", b.len());
        }
        if let Some(i) = b.iter().position(|v| !v.is_finite()) {
            bail!("{what}: b[{i}] is {}, not a finite number", b[i]);
        }
        Ok(Next::B(b))
    };
    match source {
        Source::Rows(rows) => {
            if k >= rows.len() {
                return Ok(None);
            }
            check_b(std::mem::take(&mut rows[k]), &format!("row {} of --b-seq", k + 1)).map(Some)
        }
        Source::Lines(lines, path) => loop {
            let Some(line) = lines.next() else { return Ok(None) };
            let line = line.with_context(|| format!("cannot read {}", path.display()))?;
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') || t.starts_with('%') {
                continue;
            }
            let what = format!("{} line for step {k}", path.display());
            let b: Vec<f64> = t
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<f64>().with_context(|| format!("{what}: {s:?} is not a number")))
                .collect::<anyhow::Result<_>>()?;
            return check_b(b, &what).map(Some);
        },
        Source::Matrices(paths) => {
            let Some(path) = paths.get(k) else { return Ok(None) };
            let (a, _) = super::load::read_matrix(path)?;
            if a.shape() != (n, d) {
                bail!("{}: a {}×{} matrix, the problem's A is {n}×{d}", path.display(), a.nrows(), a.ncols());
            }
            if let Some(i) = a.data().iter().position(|v| !v.is_finite()) {
                bail!("{}: entry {i} is {}, not a finite number", path.display(), a.data()[i]);
            }
            Ok(Some(Next::A(Box::new(a))))
        }
        Source::Generated { rho, steps, seed } => {
            if k >= *steps {
                return Ok(None);
            }
            if k == 0 {
                return Ok(Some(Next::B(prev_b.to_vec())));
            }
            let s = seed.wrapping_add(1000 + k as u64);
            Ok(Some(Next::B(prev_b.iter().enumerate().map(|(i, v)| v * (1.0 + *rho * uniform(s, i as u64))).collect())))
        }
    }
}

/// A uniform value in `[−1, 1)` from `(seed, i)` (splitmix64): the same for any thread count.
fn uniform(seed: u64, i: u64) -> f64 {
    let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(i.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

fn solve_all(
    args: &SequenceArgs,
    problem: &mut Problem,
    source: &mut Source,
    resolvers: &mut [Resolver],
    records: &mut [Vec<StepRecord>],
) -> anyhow::Result<()> {
    let (n, d) = problem.a.shape();
    let x0 = problem.x0.clone().unwrap_or_else(|| vec![0.0; d]);
    anyhow::ensure!(x0.len() == d, "x0 has {} entries, A has d = {d} columns", x0.len());
    // The corollary's residual is u − α·b: the rescaled loss, and softmax (its residual times α).
    let measures = !args.no_shift && matches!(problem.loss, LossKind::Rescaled | LossKind::Softmax);
    let mut prev_a: Option<CsrMatrix> = None;
    let mut b = problem.b.clone();
    for k in 0.. {
        let Some(item) = next(source, k, n, d, &b)? else { break };
        let a_changed = match item {
            Next::B(nb) => {
                b = nb;
                false
            }
            Next::A(a) => {
                prev_a = Some(std::mem::replace(&mut problem.a, *a));
                k > 0
            }
        };
        let f = Objective::new(&problem.a, &b, problem.w.clone(), problem.loss, problem.func)?;
        for (resolver, out) in resolvers.iter_mut().zip(records.iter_mut()) {
            let prev_x = resolver.x().map(<[f64]>::to_vec);
            let r = resolver.solve(&f, &x0, None)?;
            let shift = match (&prev_x, measures) {
                (Some(px), true) if a_changed => {
                    // Part 2: the data move at the old parameters.
                    let a_old = prev_a.as_ref().expect("a previous matrix");
                    shift(problem.func, a_old, px, Some(&problem.a), px, &b).ok().map(|(_, s)| s)
                }
                (Some(px), true) => shift(problem.func, &problem.a, px, None, &r.report.x, &b).ok().map(|(_, s)| s),
                _ => None,
            };
            out.push(StepRecord {
                index: k,
                status: r.report.status,
                iterations: r.report.iterations,
                passes_over_a: r.passes_over_a,
                time_s: r.time_s,
                loss: r.report.loss,
                grad_norm: r.report.grad_norm,
                reused: r.reused,
                shift,
                message: r.report.message.clone(),
                history: r
                    .report
                    .history
                    .iter()
                    .map(|h| IterSummary {
                        grad_norm: h.grad_norm,
                        passes_over_a: h.passes_over_a,
                        cg_iterations: h.cg_iterations,
                        rows_kept: h.rows_kept,
                        step_length: h.step_length,
                        timing: h.timing,
                    })
                    .collect(),
                x: r.report.x.clone(),
            });
        }
    }
    Ok(())
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum::<f64>().sqrt();
    num / b.iter().map(|q| q * q).sum::<f64>().sqrt().max(f64::MIN_POSITIVE)
}

/// The measured `M` (log scale), and the passes over `A` per step: warm, and with `--compare`
/// cold beside it and the passes the warm step saved.
fn plot(path: &Path, steps: &[StepRecord], cold: Option<&[StepRecord]>) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(300);
    let k = steps.len().max(2) as f64;
    let ms: Vec<(f64, f64)> = steps
        .iter()
        .filter_map(|s| s.shift.as_ref().and_then(|sh| sh.m_measured).map(|m| (s.index as f64, m)))
        .filter(|(_, m)| *m > 0.0 && m.is_finite())
        .collect();
    let (lo, hi) = ms.iter().fold((f64::INFINITY, 0.0f64), |(l, h), (_, m)| (l.min(*m), h.max(*m)));
    let (lo, hi) = if ms.is_empty() { (0.1, 10.0) } else { (lo / 2.0, hi * 2.0) };
    let mut c = ChartBuilder::on(&upper)
        .caption("measured M = ‖b̃ − b‖₂ / ‖Δ‖ per step", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..k, (lo..hi).log_scale())?;
    c.configure_mesh().x_desc("step").draw()?;
    c.draw_series(ms.iter().map(|&p| Circle::new(p, 4, BLUE.filled())))?;
    let cold = cold.unwrap_or(&[]);
    let pmax = steps.iter().chain(cold).map(|s| s.passes_over_a).max().unwrap_or(1).max(1) as f64;
    let caption = if cold.is_empty() {
        "passes over A per step"
    } else {
        "passes over A per step: warm (red), cold (grey), saved = cold − warm (green)"
    };
    let mut c = ChartBuilder::on(&lower)
        .caption(caption, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..k, 0.0..pmax * 1.1)?;
    c.configure_mesh().x_desc("step").draw()?;
    let width = if cold.is_empty() { 0.8 } else { 0.4 };
    c.draw_series(steps.iter().map(|s| {
        Rectangle::new([(s.index as f64, 0.0), (s.index as f64 + width, s.passes_over_a as f64)], RED.filled())
    }))?;
    if !cold.is_empty() {
        c.draw_series(cold.iter().map(|s| {
            let x = s.index as f64 + 0.4;
            Rectangle::new([(x, 0.0), (x + 0.4, s.passes_over_a as f64)], RGBColor(150, 150, 150).filled())
        }))?;
        let saved: Vec<(f64, f64)> = steps
            .iter()
            .zip(cold)
            .map(|(w, c)| (w.index as f64 + 0.4, c.passes_over_a as f64 - w.passes_over_a as f64))
            .collect();
        c.draw_series(LineSeries::new(saved.iter().map(|&(x, y)| (x, y.max(0.0))), GREEN.stroke_width(2)))?;
        c.draw_series(saved.iter().map(|&(x, y)| Circle::new((x, y.max(0.0)), 3, GREEN.filled())))?;
    }
    root.present()?;
    Ok(())
}

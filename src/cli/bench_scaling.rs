//! `spnewton bench scaling`: per-iteration cost against nnz, d and nonzeros per row for every
//! strategy, with log-log slopes, CSV/JSON and SVG plots.

use std::path::PathBuf;

use clap::Args;
use losses::{Activation, LossKind, Objective, PlantSpec, Problem, Regulariser, plant};
use newton::{SolverParams, Strategy};
use sparse_ops::CsrMatrix;
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

use super::plot::{self, Series};
use harness::{Unit, loglog_slope, median};

#[derive(Args)]
pub struct ScalingArgs {
    /// A small sweep that finishes in well under a minute.
    #[arg(long)]
    quick: bool,
    /// Also time the strategies on this problem directory.
    #[arg(long)]
    problem: Option<PathBuf>,
    /// Repetitions of each solve (per-iteration figures: the median over repetitions of each
    /// solve's mean over its iterations).
    #[arg(long)]
    reps: Option<usize>,
    /// Output directory (created): scaling.csv, scaling.json and the SVG plots.
    #[arg(long)]
    out: PathBuf,
}

const STRATEGIES: [Strategy; 5] =
    [Strategy::Exact, Strategy::GaussNewton, Strategy::Leverage, Strategy::LeveragePcg, Strategy::NewtonSketch];
const PHASES: [&str; 4] = ["evaluation", "sketch", "Hessian", "solve"];
/// Iterations per solve: one whole refresh cycle of the sketched strategies' default
/// (`Strategy::default_refresh` = 4), so that a per-iteration figure is the mean over a cycle
/// and includes the iteration that recomputes the leverage scores.
const ITERATIONS: usize = 4;

struct Row {
    sweep: &'static str,
    n: usize,
    d: usize,
    r: f64,
    nnz: usize,
    strategy: Strategy,
    per_iter_s: f64,
    phases_s: [f64; 4],
    passes: f64,
    unit_s: f64,
}

impl Row {
    /// Per-iteration time in SpMV-equivalents (the unit is one A·x plus one Aᵀ·y).
    fn spmv_equivalents(&self) -> f64 {
        2.0 * self.per_iter_s / self.unit_s
    }
}

fn sweeps(quick: bool) -> Vec<(&'static str, usize, usize, usize)> {
    let mut v = Vec::new();
    let ns: &[usize] = if quick {
        &[10_000, 30_000, 100_000]
    } else {
        &[10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000]
    };
    v.extend(ns.iter().map(|&n| ("nnz", n, 64, 10)));
    let (n2, ds, rs): (usize, &[usize], &[usize]) =
        if quick { (20_000, &[16, 64], &[4, 16]) } else { (200_000, &[16, 32, 64, 128, 256], &[4, 8, 16, 32, 64]) };
    v.extend(ds.iter().map(|&d| ("d", n2, d, 10)));
    v.extend(rs.iter().map(|&r| ("r", n2, 64, r)));
    v
}

fn measure(sweep: &'static str, a: &CsrMatrix, f: &Objective, reps: usize, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let (n, d) = a.shape();
    // The unit is sampled before every solve, interleaved with them, so that a slow phase of
    // the shared machine moves the unit and the solves alike; its median is the one unit of
    // this matrix (for every strategy).
    let mut unit = Unit::new(a);
    let first = rows.len();
    for s in STRATEGIES {
        let params = SolverParams {
            strategy: s,
            tol: 0.0,
            max_iter: ITERATIONS,
            checks: false,
            refresh_every: s.default_refresh(),
            ..Default::default()
        };
        let (mut per, mut phases, mut passes) =
            (Vec::new(), [Vec::new(), Vec::new(), Vec::new(), Vec::new()], Vec::new());
        for rep in 0..reps {
            let p = SolverParams { seed: rep as u64, ..params };
            for _ in 0..2 {
                unit.sample();
            }
            let report = newton::solve(f, &vec![0.0; d], &p, None, &mut |_, _| std::ops::ControlFlow::Continue(()))?;
            // Per solve, the mean over its iterations (a whole refresh cycle); medians over
            // repetitions.
            let h = &report.history;
            let mean = |g: &dyn Fn(&newton::IterRecord) -> f64| h.iter().map(g).sum::<f64>() / h.len().max(1) as f64;
            per.push(mean(&|r| r.timing.solver_s()));
            phases[0].push(mean(&|r| r.timing.eval_s));
            phases[1].push(mean(&|r| r.timing.sketch_s));
            phases[2].push(mean(&|r| r.timing.hessian_s));
            phases[3].push(mean(&|r| r.timing.solve_s));
            passes.push(mean(&|r| r.passes_over_a as f64));
        }
        rows.push(Row {
            sweep,
            n,
            d,
            r: a.nnz() as f64 / n as f64,
            nnz: a.nnz(),
            strategy: s,
            per_iter_s: median(per),
            phases_s: phases.map(median),
            passes: median(passes),
            unit_s: f64::NAN,
        });
    }
    let unit_s = unit.seconds();
    rows[first..].iter_mut().for_each(|r| r.unit_s = unit_s);
    Ok(())
}

pub fn run(args: ScalingArgs) -> anyhow::Result<i32> {
    super::output::create_dir(&args.out)?;
    let reps = args.reps.unwrap_or(if args.quick { 1 } else { 3 });
    let mut rows = Vec::new();
    for (k, (sweep, n, d, r)) in sweeps(args.quick).into_iter().enumerate() {
        let spec =
            GenSpec { nrows: n, ncols: d, sparsity: Sparsity::RowNnz(r), variant: Variant::Plain, seed: k as u64 };
        let a = random_sparse(&spec)?;
        let plant_spec =
            PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.01, seed: 1 };
        let (_, b) = plant(&a, &plant_spec)?;
        let f = Objective::new(&a, &b, Regulariser::Const(0.01), LossKind::Rescaled, Activation::Exp)?;
        let before = rows.len();
        measure(sweep, &a, &f, reps, &mut rows)?;
        for row in &rows[before..] {
            outln!(
                "{:<4} n {:>9} d {:>4} r {:>3.0}  {:<13} {:>9.4} s/it  {:>6.1} SpMV-eq  passes {:>4.1}",
                row.sweep,
                row.n,
                row.d,
                row.r,
                row.strategy.name(),
                row.per_iter_s,
                row.spmv_equivalents(),
                row.passes
            )?;
        }
    }
    if let Some(dir) = &args.problem {
        let p = Problem::read_dir(dir)?;
        let f = Objective::from_problem(&p)?;
        measure("problem", &p.a, &f, reps, &mut rows)?;
    }
    write_outputs(&args.out, &rows)
}

fn write_outputs(out: &std::path::Path, rows: &[Row]) -> anyhow::Result<i32> {
    let mut csv = String::from(
        "sweep,n,d,nnz_per_row,nnz,strategy,per_iteration_s,spmv_equivalents,eval_s,sketch_s,hessian_s,solve_s,passes_over_a,unit_s\n",
    );
    for r in rows {
        csv += &format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.sweep,
            r.n,
            r.d,
            r.r,
            r.nnz,
            r.strategy.name(),
            r.per_iter_s,
            r.spmv_equivalents(),
            r.phases_s[0],
            r.phases_s[1],
            r.phases_s[2],
            r.phases_s[3],
            r.passes,
            r.unit_s
        );
    }
    super::output::write_text(out.join("scaling.csv"), &csv)?;
    // Slopes of per-iteration time against nnz on the nnz sweep.
    let line = |sweep: &str, s: Strategy, x: fn(&Row) -> f64| -> Vec<(f64, f64)> {
        rows.iter().filter(|r| r.sweep == sweep && r.strategy == s).map(|r| (x(r), r.per_iter_s)).collect()
    };
    let slopes: Vec<(Strategy, f64)> =
        STRATEGIES.iter().map(|&s| (s, loglog_slope(&line("nnz", s, |r| r.nnz as f64)))).collect();
    let json = serde_json::json!({
        "rows": rows.iter().map(|r| serde_json::json!({
            "sweep": r.sweep, "n": r.n, "d": r.d, "nnz_per_row": r.r, "nnz": r.nnz, "strategy": r.strategy.name(),
            "per_iteration_s": r.per_iter_s, "spmv_equivalents": r.spmv_equivalents(),
            "phases_s": {"eval": r.phases_s[0], "sketch": r.phases_s[1], "hessian": r.phases_s[2], "solve": r.phases_s[3]},
            "passes_over_a": r.passes, "unit_s": r.unit_s,
        })).collect::<Vec<_>>(),
        "slopes_vs_nnz": slopes.iter().map(|(s, v)| (s.name().to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
    });
    super::output::write_json(out.join("scaling.json"), &json)?;
    let series = |sweep: &str, x: fn(&Row) -> f64, with_slope: bool| -> Vec<Series> {
        STRATEGIES
            .iter()
            .map(|&s| {
                let points = line(sweep, s, x);
                let label = if with_slope {
                    format!("{} (slope {:.2})", s.name(), loglog_slope(&points))
                } else {
                    s.name().to_string()
                };
                Series { label, points }
            })
            .collect()
    };
    plot::loglog(
        &out.join("scaling_nnz.svg"),
        "time per Newton iteration vs nnz(A) (d = 64, 10 nonzeros per row)",
        "nnz(A)",
        "seconds per iteration",
        &series("nnz", |r| r.nnz as f64, true),
    )?;
    plot::loglog(
        &out.join("scaling_d.svg"),
        "time per Newton iteration vs d (10 nonzeros per row)",
        "d (columns)",
        "seconds per iteration",
        &series("d", |r| r.d as f64, true),
    )?;
    plot::loglog(
        &out.join("scaling_r.svg"),
        "time per Newton iteration vs nonzeros per row (d = 64)",
        "nonzeros per row",
        "seconds per iteration",
        &series("r", |r| r.r, true),
    )?;
    let largest = rows.iter().filter(|r| r.sweep == "nnz").map(|r| r.nnz).max().unwrap_or(0);
    let bars: Vec<(String, Vec<f64>)> = rows
        .iter()
        .filter(|r| r.sweep == "nnz" && r.nnz == largest)
        .map(|r| (r.strategy.name().to_string(), r.phases_s.to_vec()))
        .collect();
    plot::stacked_bars(
        &out.join("phases.svg"),
        &format!("time per iteration by phase, nnz = {largest:.1e}"),
        "seconds per iteration",
        &PHASES,
        &bars,
    )?;
    outln!("slopes of per-iteration time vs nnz:")?;
    for (s, v) in &slopes {
        outln!("  {:<13} {v:.3}", s.name())?;
    }
    outln!("wrote {}", out.display())?;
    Ok(0)
}

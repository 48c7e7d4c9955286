//! `spnewton sketch`: sparsify `AᵀDA` and report rows kept, time and (optionally) the achieved ε.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{ArgGroup, Args};
use losses::{Objective, Problem, What};
use sketch::{Method, Sparsifier, SparsifyParams, measure_eps, sparsify};
use sparse_ops::io::read_vector_of_len;

use super::names::named;
use harness::Unit;

#[derive(Args)]
#[command(group(ArgGroup::new("input").required(true).args(["problem", "a"])))]
pub struct SketchArgs {
    /// A problem directory: D is the diagonal D₊ the solver sketches (the Hessian's D where it is ≥ 0, the Gauss–Newton D_GN elsewhere) at --x (default 0).
    #[arg(long)]
    problem: Option<PathBuf>,
    /// The point x at which D is taken (d values, one a line); default 0.
    #[arg(long, requires = "problem")]
    x: Option<PathBuf>,
    /// A matrix file: D is --weights (one nonnegative value per row) or all ones.
    #[arg(long)]
    a: Option<PathBuf>,
    /// The diagonal D: n nonnegative values, one a line (default: all ones).
    #[arg(long, requires = "a")]
    weights: Option<PathBuf>,
    #[command(flatten)]
    sketch: super::SketchOpts,
    /// Which sparsifier: leverage-score sampling, uniform sampling, or a Newton sketch.
    #[arg(long, value_parser = named::<Method>(Method::NAMES), default_value = "leverage")]
    method: Method,
    /// Measure the achieved ε against the exact AᵀDA (O(Σnnz(a_i)² + d³)).
    #[arg(long)]
    measure: bool,
    /// Also write the sampled diagonal: "row weight" per line (0-based rows).
    #[arg(long)]
    save_weights: Option<PathBuf>,
    /// Write the report (rows kept, ε if measured, timings) as JSON here.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: SketchArgs) -> anyhow::Result<i32> {
    args.sketch.check()?;
    let (a, w) = if let Some(dir) = &args.problem {
        let p = Problem::read_dir(dir)?;
        let d = p.a.ncols();
        let x = match &args.x {
            Some(path) => read_vector_of_len(path, d, "x (one entry per column of A)")?,
            None => vec![0.0; d],
        };
        let w = {
            let f = Objective::from_problem(&p)?;
            let e = f.evaluate(&x, What::Hessian).context("cannot evaluate the Gauss–Newton diagonal at x")?;
            e.hessian.expect("requested").sketch_diagonal().0.into_owned()
        };
        (p.a, w)
    } else {
        let a = super::load::read_matrix(args.a.as_ref().expect("clap requires an input"))?.0;
        let w = match &args.weights {
            Some(path) => read_vector_of_len(path, a.nrows(), "weights (one entry of D per row of A)")?,
            None => vec![1.0; a.nrows()],
        };
        (a, w)
    };
    let method = args.method;
    let params = SparsifyParams { eps0: args.sketch.eps0, delta: args.sketch.delta, ..Default::default() };
    // The unit: one A·x, median of 5, in this run.
    let mut unit = Unit::new(&a);
    (0..5).for_each(|_| unit.sample());
    let spmv = unit.ax_s();
    let t = Instant::now();
    let sp = sparsify(&a, &w, method, &params, args.sketch.seed)?;
    let time_s = t.elapsed().as_secs_f64();
    let mut out = serde_json::json!({
        "rows_kept": sp.rows_kept(),
        "time_s": time_s,
        "spmv_equivalents": time_s / spmv,
        "method": method.name(),
        "n": a.nrows(), "d": a.ncols(), "nnz": a.nnz(),
    });
    if method == Method::NewtonSketch && matches!(sp, Sparsifier::Diagonal(_)) {
        out["note"] = serde_json::json!(
            "the Newton sketch would cost more than the exact Gram here (s·d² ≥ Σ nnz(a_i)² or s ≥ n): exact AᵀDA used"
        );
    }
    if args.measure {
        let eps = measure_eps(&a.weighted_gram(&w), &sp.gram(&a))?;
        out["eps_measured"] = serde_json::json!(eps);
    }
    if let Some(path) = &args.save_weights {
        let Sparsifier::Diagonal(dt) = &sp else {
            anyhow::bail!(
                "--save-weights needs a sampling method (leverage or uniform); the Newton sketch is not a diagonal"
            );
        };
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        );
        for (r, wt) in dt.rows.iter().zip(&dt.weights) {
            writeln!(f, "{r} {wt}")?;
        }
        f.flush()?;
    }
    super::output::write_json(&args.out, &out).with_context(|| format!("cannot write {}", args.out.display()))?;
    Ok(0)
}

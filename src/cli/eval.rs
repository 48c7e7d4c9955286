//! `spnewton eval`: value, gradient and (optionally) the dense exact Hessian at a point.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use losses::{Objective, Part, Problem, What};
use sparse_ops::io::read_vector_of_len;

#[derive(Args)]
pub struct EvalArgs {
    /// The problem directory.
    #[arg(long)]
    problem: PathBuf,
    /// The point (one value a line); default 0.
    #[arg(long)]
    x: Option<PathBuf>,
    /// Also write the dense exact d×d Hessian.
    #[arg(long)]
    hessian: bool,
    /// Where to write the JSON.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: EvalArgs) -> anyhow::Result<i32> {
    let p = Problem::read_dir(&args.problem)?;
    let d = p.a.ncols();
    let x = match &args.x {
        Some(path) => read_vector_of_len(path, d, "x (one entry per column of A)")?,
        None => vec![0.0; d],
    };
    if args.hessian {
        super::memory::check(&format!("the dense {d}×{d} Hessian"), super::memory::f64s(&[2, d, d]))?;
    }
    let f = Objective::from_problem(&p)?;
    let what = if args.hessian { What::Hessian } else { What::Gradient };
    let e = f.evaluate(&x, what).context("cannot evaluate the loss at x")?;
    let mut out = serde_json::json!({
        "loss": e.value,
        "gradient": e.gradient.expect("requested"),
    });
    if let Some(h) = &e.hessian {
        let m = h.dense(Part::Exact);
        // The structured parts are finite (checked by the evaluation) but their Gram can still
        // overflow: an error, never a `null` in the JSON.
        if let Some((i, j)) = (0..d).flat_map(|i| (0..d).map(move |j| (i, j))).find(|&(i, j)| !m[(i, j)].is_finite()) {
            anyhow::bail!("the Hessian overflows f64 at x: entry ({i}, {j}) is {}", m[(i, j)]);
        }
        out["hessian"] =
            serde_json::json!((0..d).map(|i| (0..d).map(|j| m[(i, j)]).collect::<Vec<_>>()).collect::<Vec<_>>());
    }
    super::output::write_json(&args.out, &out).with_context(|| format!("cannot write {}", args.out.display()))?;
    Ok(0)
}

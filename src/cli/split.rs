//! `spnewton split --parts P`: cut a problem directory into row shards for `spnewton-mpi`
//! (each rank then reads only the shards holding its rows; see docs/distributed.md).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use losses::Problem;

#[derive(Args)]
pub struct SplitArgs {
    /// The problem directory to split.
    #[arg(long)]
    problem: PathBuf,
    /// Number of row blocks.
    #[arg(long)]
    parts: usize,
    /// Output directory (shards.json, part-NNNNN.mtx, part-NNNNN.b.txt, meta.json).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: SplitArgs) -> anyhow::Result<i32> {
    let p = Problem::read_dir(&a.problem).with_context(|| format!("reading {}", a.problem.display()))?;
    let m = distributed::split::split_problem(&p, &a.out, a.parts)?;
    outln!("{} parts of {}×{} ({} nonzeros) in {}", m.parts.len(), m.n, m.d, m.nnz, a.out.display())?;
    Ok(0)
}

//! The spnewton solver with `A` partitioned by rows across MPI ranks (issue 21).
//!
//! - [`Chunking`]: a fixed number `C` of row chunks, independent of the number of ranks `P`;
//!   each rank owns a contiguous run of chunks.
//! - [`read::Source`]: each rank reads only its rows of a row-sorted Matrix Market file (binary
//!   search on byte offsets) or of the shards written by `spnewton split --parts P`.
//! - [`DistProblem`]: the loss as an engine [`newton::engine::Problem`]; every reduction is over
//!   per-chunk partials combined by one fixed binary tree over the chunk indices, rank 0
//!   broadcasting the totals ([`Net`], [`comm`]), so `x` is bitwise the same with any number of
//!   ranks, and the same as with [`LocalComm`] (one process evaluating the whole tree: the
//!   single-machine solver with this chunking, [`solve_in_memory`], `spnewton solve --chunks`).
//! - [`DistStep`]: exact, leverage, leverage-PCG and Newton–CG directions.
//! - [`solve`]: the engine's loop (Armijo line search, the same termination tests as
//!   `newton::solve`), run identically on every rank.
//!
//! Cost model per iteration (`P` ranks, `C` chunks, `k ≤ 2`, `m = 4d`): the reductions of an
//! evaluation have `L = 4, 3, d(1+k), 1` values, a line-search trial `4, 3`, exact `d² + 1`,
//! leverage `d² + 1` plus on a refresh `m·d + 1` (to rank 0), a `d² + 2` broadcast and `1`, a
//! Hessian-vector product `d`. Each reduction moves `8·L` bytes per tree message (`O(log C)` per
//! rank, [`comm::Tree::messages`]) and `8·L` per rank for the broadcast; none depends on `n`
//! ([`cost`]). Storage per rank: its rows, `O(d² + m·d)` dense state and at most
//! `⌈log₂C⌉ + 1` partials of the reduction in flight (counted). Compute per iteration:
//! `O(nnz_p·r)` for the Gram (`r` nonzeros per row), `O(nnz_p)` per pass otherwise, `O(d³)` for
//! the factor.
//!
//! The `mpi` feature adds `mpi_comm::MpiComm` (rsmpi over the system's MPI) and the
//! `spnewton-mpi` launcher; without it the crate needs no MPI.
//!
//! ## Example
//!
//! ```
//! use std::ops::ControlFlow;
//! use distributed::losses::{Activation, LossKind, PlantSpec, Problem, Regulariser, plant};
//! use distributed::newton::{SolverParams, Status};
//! use distributed::sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};
//! use distributed::{Chunking, DistProblem, LocalComm, Mode, Net, read::Source};
//! // A planted problem as a problem directory, read back as the rows of one rank.
//! let spec = GenSpec { nrows: 2000, ncols: 6, sparsity: Sparsity::RowNnz(3), variant: Variant::Plain, seed: 1 };
//! let a = random_sparse(&spec)?;
//! let plant_spec = PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.0, seed: 2 };
//! let (x_true, b) = plant(&a, &plant_spec)?;
//! let p = Problem { a, b, w: Regulariser::None, loss: LossKind::Rescaled, func: Activation::Exp, x0: None, x_true: None };
//! let dir = std::env::temp_dir().join(format!("spnewton-distributed-doc-{}", std::process::id()));
//! p.write_dir(&dir, false)?;
//! let src = Source::open(&dir)?;
//! // One process holding every chunk (`mpi_comm::MpiComm` under mpirun, feature `mpi`).
//! let net = Net::new(LocalComm);
//! let rows = src.read_rows(0..src.n)?;
//! let f = DistProblem::new(&net, rows, src.n, Chunking::new(src.n, 8), p.loss, p.func, src.w_const)?;
//! let params = SolverParams { checks: false, ..Default::default() };
//! let r = distributed::solve(&f, Mode::Exact, &[0.0; 6], &params, &mut |_, _| ControlFlow::Continue(()))?;
//! std::fs::remove_dir_all(&dir)?;
//! assert_eq!(r.status, Status::Converged);
//! assert!(r.x.iter().zip(&x_true).all(|(a, b)| (a - b).abs() < 1e-6));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod chunks;
pub mod comm;
pub mod cost;
pub mod error;
#[cfg(feature = "mpi")]
pub mod mpi_comm;
pub mod problem;
pub mod read;
pub mod result;
pub mod split;
pub mod strategy;

// The crates whose types this API takes and returns: with these a user needs
// `spnewton-distributed` alone.
pub use losses;
pub use newton;
pub use sparse_ops;

pub use chunks::{Chunking, DEFAULT_CHUNKS};
pub use comm::{Comm, CommStats, LocalComm, Net};
pub use error::DistError;
pub use problem::{DistEval, DistProblem};
pub use strategy::{DistStep, Mode};

use std::ops::ControlFlow;

use newton::engine::{self, FnObserver, LoopParams, Observer};
use newton::{IterRecord, Iterate, Report, SolverParams};

/// The single-machine solver with `chunks` fixed row chunks (`spnewton solve --chunks C`): `p`
/// in memory, one process ([`LocalComm`]) evaluating the whole reduction tree. The same code as
/// every MPI rank runs, so `x` is bitwise that of `spnewton-mpi solve --chunks C` with any
/// number of ranks on the same problem.
pub fn solve_in_memory(
    p: &losses::Problem,
    chunks: usize,
    mode: Mode,
    x0: &[f64],
    params: &SolverParams,
    observer: &mut dyn FnMut(&IterRecord, Iterate<'_>) -> ControlFlow<()>,
) -> Result<Report, DistError> {
    let n = p.a.nrows();
    let w_const = match p.w {
        losses::Regulariser::Const(c) => Some(c),
        _ => None,
    };
    let net = Net::new(LocalComm);
    let f =
        DistProblem::new(&net, read::LocalRows::from_problem(p), n, Chunking::new(n, chunks), p.loss, p.func, w_const)?;
    solve(&f, mode, x0, params, observer)
}

/// Minimise the distributed problem from `x0` (collective: every rank calls it with the same
/// arguments and gets the same report).
pub fn solve<C: Comm>(
    f: &DistProblem<'_, C>,
    mode: Mode,
    x0: &[f64],
    params: &SolverParams,
    observer: &mut dyn FnMut(&IterRecord, Iterate<'_>) -> ControlFlow<()>,
) -> Result<Report, DistError> {
    if x0.len() != f.dim() {
        return Err(DistError::Invalid(format!("x0 has {} entries, d = {}", x0.len(), f.dim())));
    }
    // `newton::solve`'s loop, less what ranks could disagree on (a wall-clock limit) or what
    // the distributed problem does not provide (the curvature test at a stationary point).
    let loop_params =
        LoopParams { max_time: f64::INFINITY, curvature_test: false, escape_saddles: false, ..params.loop_params() };
    let mut user = FnObserver(observer);
    let mut observers: Vec<&mut dyn Observer<_>> = vec![&mut user];
    let mut strategy = DistStep::new(mode, *params);
    engine::run(f, &mut strategy, x0, &loop_params, &mut observers)
}

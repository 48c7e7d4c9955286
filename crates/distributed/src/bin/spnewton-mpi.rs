//! `mpirun -np P spnewton-mpi solve --problem DIR …` and `… bench distributed …`.
//!
//! Every rank reads only its rows, runs the same loop, and rank 0 writes the output. With
//! `--local` no MPI is initialised: one process holds every chunk (the single-machine solver
//! with the same chunking, the reference the rank-count tests compare against).

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use distributed::mpi_comm::MpiComm;
use distributed::read::Source;
use distributed::result::{DistExtra, Distribution, ProblemSummary, ResultFile, bits};
use distributed::{Chunking, Comm, DistError, DistProblem, LocalComm, Mode, Net};
use newton::{SolverParams, Strategy};
use serde::Serialize;

#[derive(Parser)]
#[command(name = "spnewton-mpi", about = "The spnewton solver with A partitioned by rows across MPI ranks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Solve a problem directory (or a split one); rank 0 writes result.json.
    Solve(SolveArgs),
    /// The α–β cost model: predicted time per iteration for P = 1 … 1024 and the speed-up plot.
    Model(ModelArgs),
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        which: BenchCmd,
    },
}

#[derive(Args)]
struct ModelArgs {
    /// Latency per message hop (s).
    #[arg(long, default_value_t = 2e-6)]
    alpha: f64,
    /// Seconds per byte (1e-10: 10 GB/s).
    #[arg(long, default_value_t = 1e-10)]
    beta: f64,
    /// Seconds per nonzero per iteration on one rank (from `bench distributed` at P = 1).
    #[arg(long)]
    t_nnz: f64,
    /// Seconds of the d×d factorisation per iteration (from `bench distributed`).
    #[arg(long)]
    t_factor: f64,
    #[arg(long, default_value_t = 100)]
    d: usize,
    /// Write the speed-up plot here (SVG).
    #[arg(long)]
    svg: std::path::PathBuf,
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Per iteration: compute and communication time, bytes per rank, load balance.
    Distributed(SolveArgs),
}

#[derive(Args, Clone)]
struct SolveArgs {
    /// A problem directory with an uncompressed, row-sorted A.mtx, or one written by
    /// `spnewton split`.
    #[arg(long)]
    problem: PathBuf,
    /// exact | leverage | leverage-pcg | newton-cg
    #[arg(long, default_value = "exact")]
    strategy: String,
    /// Output file (result.json for solve, the bench's JSON for bench).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Fixed row chunks (independent of the ranks; at least the number of ranks).
    #[arg(long, default_value_t = distributed::DEFAULT_CHUNKS)]
    chunks: usize,
    /// Relative tolerance (as `spnewton solve`: ‖g‖ ≤ tol·‖g(x₀)‖ and the Newton decrement).
    #[arg(long, default_value_t = 1e-8)]
    tol: f64,
    /// Absolute tolerance on ‖g‖.
    #[arg(long, default_value_t = 0.0)]
    atol: f64,
    /// Iteration limit (as `spnewton solve`).
    #[arg(long, default_value_t = 100)]
    max_iter: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = 0.5)]
    eps0: f64,
    #[arg(long, default_value_t = 0.1)]
    delta: f64,
    #[arg(long)]
    refresh_every: Option<usize>,
    #[arg(long, default_value_t = 200)]
    max_cg: usize,
    /// Run in one process without MPI (every chunk here).
    #[arg(long)]
    local: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (args, bench) = match &cli.cmd {
        Cmd::Model(m) => return model(m),
        Cmd::Solve(a) => (a.clone(), false),
        Cmd::Bench { which: BenchCmd::Distributed(a) } => (a.clone(), true),
    };
    if args.local {
        let code = run(&Net::new(LocalComm), &args, bench);
        return report(&code, 0);
    }
    let Some(universe) = mpi::initialize() else {
        eprintln!("error: MPI could not be initialised");
        return ExitCode::from(2);
    };
    let net = Net::new(MpiComm::new(universe.world()));
    let code = run(&net, &args, bench);
    let exit = report(&code, net.rank());
    // No rank may exit before rank 0 has written the message: mpirun kills the whole job as soon
    // as the first rank exits non-zero, which could drop rank 0's line (seen in CI).
    use mpi::traits::CommunicatorCollectives;
    universe.world().barrier();
    exit
}

/// Rank 0 writes the error (the ranks agree on it); every rank gets the same exit code.
fn report(code: &Result<(), impl std::fmt::Display>, rank: usize) -> ExitCode {
    match code {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if rank == 0 {
                // One write (eprintln! writes piecewise): mpirun forwards each write of the rank
                // as it comes, and its own abort banner must not split the line.
                use std::io::Write;
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(format!("error: {e}\n").as_bytes());
                let _ = err.flush();
            }
            ExitCode::from(2)
        }
    }
}

#[derive(Serialize)]
struct BenchIter {
    iteration: usize,
    wall_s: f64,
    compute_s_max: f64,
    compute_s_mean: f64,
    comm_s_max: f64,
    bytes_sent_per_rank: Vec<u64>,
    bytes_received_per_rank: Vec<u64>,
    load_balance: f64,
    step_length: f64,
    /// The cost model's byte count `(sent, received)` per rank, for iterations whose full step
    /// was accepted (the others depend on the line search's trials).
    #[serde(skip_serializing_if = "Option::is_none")]
    model_bytes_per_rank: Option<Vec<(u64, u64)>>,
}

#[derive(Serialize)]
struct BenchFile {
    ranks: usize,
    chunks: usize,
    strategy: String,
    n: usize,
    d: usize,
    nnz: usize,
    nnz_per_rank: Vec<usize>,
    stored_bytes_per_rank: Vec<usize>,
    setup_bytes_per_rank: Vec<u64>,
    iterations: Vec<BenchIter>,
    status: String,
    loss: f64,
    /// The redundant factorisation and solve, per iteration (s, rank 0).
    solve_s_per_iteration: f64,
    x_bits: Vec<String>,
}

fn run<C: Comm>(net: &Net<C>, a: &SolveArgs, bench: bool) -> Result<(), String> {
    let mode = net.agree(a.strategy.parse::<Mode>().map_err(|e| e.to_string()))?;
    let source = net.agree(Source::open(&a.problem).map_err(|e| e.to_string()))?;
    if net.size() > a.chunks.min(source.n.max(1)) {
        return Err(format!("{} ranks but only {} chunks: pass --chunks ≥ the ranks", net.size(), a.chunks));
    }
    let chunking = Chunking::new(source.n, a.chunks);
    let rows = chunking.owned_rows(net.rank(), net.size());
    let local = net.agree(source.read_rows(rows).map_err(|e| e.to_string()))?;
    let x0 = net.agree(source.vector("x0.txt").map_err(|e| e.to_string()))?.unwrap_or_else(|| vec![0.0; source.d]);
    let f = DistProblem::new(net, local, source.n, chunking, source.loss, source.func, source.w_const)
        .map_err(|e| e.to_string())?;
    // The blocks read must hold every nonzero once: a file not sorted by row would otherwise be
    // read wrongly without a per-rank error (each rank checks the order of its block only).
    let total =
        f.sum_chunks(1, |r, out| out[0] = (f.rows().indptr[r.end] - f.rows().indptr[r.start]) as f64)[0] as usize;
    if total != source.nnz {
        return Err(format!(
            "{}: the ranks read {total} nonzeros, the header says {}: is the matrix sorted by row? \
             (`spnewton split` writes sorted shards)",
            a.problem.display(),
            source.nnz
        ));
    }
    let strategy = match mode {
        Mode::Exact => Strategy::Exact,
        Mode::Leverage => Strategy::Leverage,
        Mode::LeveragePcg | Mode::NewtonCg => Strategy::LeveragePcg,
    };
    let params = SolverParams {
        strategy,
        eps0: a.eps0,
        delta: a.delta,
        seed: a.seed,
        tol: a.tol,
        atol: a.atol,
        max_iter: a.max_iter,
        refresh_every: a.refresh_every.unwrap_or(strategy.default_refresh()),
        max_cg: a.max_cg,
        checks: false,
        ..SolverParams::default()
    };
    let setup = net.stats();
    let mut marks = vec![(Instant::now(), net.stats())];
    let report = distributed::solve(&f, mode, &x0, &params, &mut |_, _| {
        marks.push((Instant::now(), net.stats()));
        ControlFlow::Continue(())
    })
    .map_err(|e: DistError| e.to_string())?;
    if bench {
        // Per iteration and rank: [wall, comm seconds, bytes sent, bytes received].
        let mut mine = Vec::new();
        for w in marks.windows(2) {
            let (t0, s0) = w[0];
            let (t1, s1) = w[1];
            mine.extend([
                (t1 - t0).as_secs_f64(),
                s1.seconds - s0.seconds,
                (s1.bytes_sent - s0.bytes_sent) as f64,
                (s1.bytes_received - s0.bytes_received) as f64,
            ]);
        }
        mine.extend([f.rows().nnz() as f64, f.stored_bytes(mode) as f64, setup.bytes_received as f64]);
        let all = net.comm().gather_to_root(&mine);
        if let Some(all) = all {
            let p = net.size();
            let per = mine.len();
            let its = (per - 3) / 4;
            let at = |r: usize, k: usize| all[r * per + k];
            let iterations = (0..its)
                .map(|t| {
                    let comp: Vec<f64> = (0..p).map(|r| at(r, 4 * t) - at(r, 4 * t + 1)).collect();
                    let mean = comp.iter().sum::<f64>() / p as f64;
                    let max = comp.iter().copied().fold(0.0, f64::max);
                    BenchIter {
                        iteration: t,
                        wall_s: (0..p).map(|r| at(r, 4 * t)).fold(0.0, f64::max),
                        compute_s_max: max,
                        compute_s_mean: mean,
                        comm_s_max: (0..p).map(|r| at(r, 4 * t + 1)).fold(0.0, f64::max),
                        bytes_sent_per_rank: (0..p).map(|r| at(r, 4 * t + 2) as u64).collect(),
                        bytes_received_per_rank: (0..p).map(|r| at(r, 4 * t + 3) as u64).collect(),
                        load_balance: if mean > 0.0 { max / mean } else { 1.0 },
                        step_length: report.history.get(t).map_or(f64::NAN, |h| h.step_length),
                        model_bytes_per_rank: report.history.get(t).filter(|h| h.step_length == 1.0).map(|h| {
                            let shape = distributed::cost::Shape {
                                d: source.d,
                                k: if source.loss == losses::LossKind::Rescaled { 2 } else { 0 },
                                chunks: chunking.chunks,
                                ranks: p,
                            };
                            let refresh = t.is_multiple_of(params.refresh_every.max(1));
                            let cg = h.cg_iterations.unwrap_or(0);
                            // Iteration 0 also holds the evaluation at x0.
                            (0..p)
                                .map(|r| {
                                    let (a, b) = distributed::cost::iteration_bytes(&shape, r, mode, refresh, cg);
                                    let (c, e) = distributed::cost::evaluation_bytes(&shape, r);
                                    if t == 0 { (a + c, b + e) } else { (a, b) }
                                })
                                .collect()
                        }),
                    }
                })
                .collect::<Vec<_>>();
            let file = BenchFile {
                ranks: p,
                chunks: chunking.chunks,
                strategy: mode.name().into(),
                n: source.n,
                d: source.d,
                nnz: source.nnz,
                nnz_per_rank: (0..p).map(|r| at(r, per - 3) as usize).collect(),
                stored_bytes_per_rank: (0..p).map(|r| at(r, per - 2) as usize).collect(),
                setup_bytes_per_rank: (0..p).map(|r| at(r, per - 1) as u64).collect(),
                iterations,
                status: report.status.name().into(),
                loss: report.loss,
                solve_s_per_iteration: report.timing.solve_s / report.iterations.max(1) as f64,
                x_bits: bits(&report.x),
            };
            println!(
                "{:>4} {:>10} {:>10} {:>10} {:>14} {:>8} {:>6}",
                "iter", "wall s", "compute s", "comm s", "max bytes/rank", "balance", "model"
            );
            for it in &file.iterations {
                let mb = it.bytes_sent_per_rank.iter().zip(&it.bytes_received_per_rank).map(|(s, r)| s + r).max();
                let model = it.model_bytes_per_rank.as_ref().map(|m| {
                    let meas: Vec<(u64, u64)> = it
                        .bytes_sent_per_rank
                        .iter()
                        .copied()
                        .zip(it.bytes_received_per_rank.iter().copied())
                        .collect();
                    if *m == meas { "equal" } else { "DIFFERS" }
                });
                println!(
                    "{:>4} {:>10.4} {:>10.4} {:>10.4} {:>14} {:>8.3} {:>6}",
                    it.iteration,
                    it.wall_s,
                    it.compute_s_max,
                    it.comm_s_max,
                    mb.unwrap_or(0),
                    it.load_balance,
                    model.unwrap_or("-")
                );
            }
            let text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())? + "\n";
            match &a.out {
                Some(p) => std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display()))?,
                None => print!("{text}"),
            }
        }
        return Ok(());
    }
    if net.rank() == 0 {
        let problem = ProblemSummary {
            n: source.n,
            d: source.d,
            nnz: source.nnz,
            loss: source.loss.to_string(),
            func: source.func.to_string(),
        };
        let distribution = Distribution { ranks: net.size(), chunks: chunking.chunks };
        let extra = DistExtra { distribution, x_bits: bits(&report.x) };
        let file = ResultFile::new(report, mode.name(), problem, extra);
        eprintln!(
            "{}: {} iterations, loss {:e}, ‖g‖ {:e} ({} ranks)",
            file.report.status.name(),
            file.report.iterations,
            file.report.loss,
            file.report.grad_norm,
            net.size()
        );
        let text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())? + "\n";
        let out = a.out.clone().unwrap_or_else(|| PathBuf::from("result.json"));
        std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    Ok(())
}

fn model(a: &ModelArgs) -> ExitCode {
    let m = distributed::cost::Machine { alpha: a.alpha, beta: a.beta, t_nnz: a.t_nnz, t_factor: a.t_factor };
    match distributed::cost::plot_speedup(&a.svg, &m, a.d, &[1e8, 1e9, 1e10, 1e11]) {
        Ok(table) => {
            println!("| nnz | P | compute s | comm s | speed-up |");
            println!("|---|---|---|---|---|");
            for (nnz, rows) in table {
                for (p, c, k, s) in rows {
                    println!("| {nnz:.0e} | {p} | {c:.3e} | {k:.3e} | {s:.1} |");
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

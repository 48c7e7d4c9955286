//! Command-line interface: argument parsing, dispatch, and the exit-code policy.
//!
//! Exit codes: 0 success (for `solve` and the fits: converged); 3 a solver or fit stopped
//! without converging (its status is in the output, and one line on stderr says why); 2 bad
//! input (unreadable or malformed files, invalid options, a job over `--max-memory`), with one
//! line on stderr and no backtrace. docs/guide.md, "Errors and exit codes", lists them all.

/// `println!` that returns the write's `io::Result` instead of panicking, so a closed pipe
/// (`spnewton info … | head`) ends the command quietly.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod attention;
mod attention_svm;
mod bench;
mod bench_attention;
mod bench_io;
mod bench_scaling;
mod bench_sketch;
mod eval;
mod generate;
mod info;
mod load;
mod memory;
mod plot;
mod sketch_cmd;
mod solve;
mod timing;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "spnewton", version, about = "Input-sparsity-time Newton methods for sparse regression")]
struct Cli {
    /// Worker threads for the parallel kernels (default: all cores). Results do not depend on it.
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Memory budget for one job (e.g. 8G, 512M; default 75% of physical memory). A job whose
    /// dense parts (a d×d Newton matrix, the d²×d² attention Hessian) would exceed it is refused
    /// up front with exit code 2.
    #[arg(long, global = true, value_parser = memory::parse_bytes)]
    max_memory: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Solve a problem with the approximate Newton method (default: the bundled KJV problem).
    Solve(solve::SolveArgs),
    /// Generate a planted problem directory (random sparse A, or plant on a given matrix).
    Gen(generate::GenArgs),
    /// Print the size, sparsity and norms of a matrix or problem directory.
    Info(info::InfoArgs),
    /// Value, gradient and optionally the dense Hessian of a problem's loss at a point.
    Eval(eval::EvalArgs),
    /// Sparsify AᵀDA by leverage-score sampling (or uniform / Newton sketch) and report it.
    Sketch(sketch_cmd::SketchArgs),
    /// Attention (SPEC §5): losses (plant, eval, fit, lipschitz) and the Att-SVM (gen, svm, train).
    #[command(subcommand)]
    Attention(attention::AttentionCommand),
    /// Benchmarks to run on your own machine (figures in docs/benchmarks.md).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Sketch accuracy and randomness, shared by `sketch` and `solve`.
#[derive(clap::Args, Clone, Copy)]
pub struct SketchOpts {
    /// Sketch accuracy ε₀: (1 − ε₀)·AᵀDA ⪯ AᵀD̃A ⪯ (1 + ε₀)·AᵀDA.
    #[arg(long, default_value_t = 0.5)]
    pub eps0: f64,
    /// Failure probability δ of the sketch.
    #[arg(long, default_value_t = 0.1)]
    pub delta: f64,
    /// Seed of all randomness.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Parse, run, and map the outcome to an exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    memory::set(cli.max_memory);
    let result = with_threads(cli.threads, || match cli.command {
        Command::Gen(a) => generate::run(a),
        Command::Solve(a) => solve::run(a),
        Command::Info(a) => info::run(a),
        Command::Bench(c) => bench::run(c),
        Command::Eval(a) => eval::run(a),
        Command::Sketch(a) => sketch_cmd::run(a),
        Command::Attention(c) => attention::run(c),
    });
    match result {
        Ok(code) => code,
        // The reader went away (`| head`): nothing to report.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            0
        }
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            2
        }
    }
}

/// The error and its causes on one line.
fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.last().is_some_and(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}

fn with_threads(threads: Option<usize>, f: impl FnOnce() -> anyhow::Result<i32> + Send) -> anyhow::Result<i32> {
    match threads {
        None => f(),
        Some(0) => anyhow::bail!("--threads must be at least 1"),
        Some(t) => rayon::ThreadPoolBuilder::new().num_threads(t).build()?.install(f),
    }
}

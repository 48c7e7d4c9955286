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
mod attention_rows;
mod attention_svm;
mod bench;
mod bench_attention;
mod bench_io;
mod bench_scaling;
mod bench_sketch;
mod bundled;
mod convert;
mod eval;
mod generate;
mod info;
mod load;
mod memory;
mod names;
mod output;
mod plot;
mod sequence;
mod sketch_cmd;
mod solve;
mod split;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

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
    /// Cut a problem directory into row shards for `spnewton-mpi` (docs/distributed.md).
    Split(split::SplitArgs),
    /// Print the size, sparsity and norms of a matrix or problem directory.
    Info(info::InfoArgs),
    /// Convert a matrix between Matrix Market, SciPy .npz and svmlight (by file extension).
    Convert(convert::ConvertArgs),
    /// Value, gradient and optionally the dense Hessian of a problem's loss at a point.
    Eval(eval::EvalArgs),
    /// Sparsify AᵀDA by leverage-score sampling (or uniform / Newton sketch) and report it.
    Sketch(sketch_cmd::SketchArgs),
    /// Attention (docs/reference.md §5): losses (plant, eval, fit, lipschitz) and the Att-SVM (gen, svm, train).
    #[command(subcommand)]
    Attention(attention::AttentionCommand),
    /// A sequence of related problems (new b, or new A), warm-started, with the SPEC §6 shift measured.
    Sequence(sequence::SequenceArgs),
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

impl SketchOpts {
    /// The options' ranges, named as the user typed them (the libraries' own checks name the
    /// mathematical symbols instead).
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.eps0 > 0.0 && self.eps0 < 1.0, "--eps0 must be in (0, 1), got {}", self.eps0);
        anyhow::ensure!(self.delta > 0.0 && self.delta < 1.0, "--delta must be in (0, 1), got {}", self.delta);
        Ok(())
    }
}

/// Parse, run, and map the outcome to an exit code.
pub fn run() -> i32 {
    let args = negative_values_attached(std::env::args_os());
    let cli = match Cli::command().try_get_matches_from(args).and_then(|m| Cli::from_arg_matches(&m)) {
        Ok(c) => c,
        Err(e) if e.use_stderr() => {
            // One line, like every other input error: the error, the allowed values if any.
            let text = e.render().to_string();
            let parts: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .collect();
            eprintln!("{} (see --help)", parts.join(" "));
            return 2;
        }
        Err(e) => {
            // --help, --version: to stdout as clap formats them.
            let _ = e.print();
            return 0;
        }
    };
    memory::set(cli.max_memory);
    let result = with_threads(cli.threads, || match cli.command {
        Command::Gen(a) => generate::run(a),
        Command::Split(a) => split::run(a),
        Command::Solve(a) => solve::run(a),
        Command::Info(a) => info::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Bench(c) => bench::run(c),
        Command::Eval(a) => eval::run(a),
        Command::Sketch(a) => sketch_cmd::run(a),
        Command::Attention(c) => attention::run(c),
        Command::Sequence(a) => sequence::run(a),
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

/// `--opt -1e-3` becomes `--opt=-1e-3`, so that negative numbers are values: clap would
/// otherwise read `-1e-3` as short flags ("unexpected argument '-1'") and never reach the
/// option's validation. Only a token that parses as a number and follows a long option without
/// `=` is attached; anything else is left for clap to judge.
fn negative_values_attached(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let is_negative_number = |s: &std::ffi::OsStr| {
        s.to_str().and_then(|s| s.strip_prefix('-')).is_some_and(|t| {
            t.starts_with(|c: char| c.is_ascii_digit() || c == '.') && t.split(',').all(|v| v.parse::<f64>().is_ok())
        })
    };
    let mut out: Vec<std::ffi::OsString> = Vec::new();
    for a in args {
        let attach = is_negative_number(&a)
            && out
                .last()
                .and_then(|p| p.to_str())
                .is_some_and(|p| p.starts_with("--") && p.len() > 2 && !p.contains('='));
        match out.last_mut() {
            Some(prev) if attach => {
                prev.push("=");
                prev.push(&a);
            }
            _ => out.push(a),
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option of every subcommand, with the path of subcommands leading to it.
    fn all_args(c: &clap::Command, path: &str, out: &mut Vec<(String, clap::Arg)>) {
        for a in c.get_arguments() {
            out.push((path.to_string(), a.clone()));
        }
        for s in c.get_subcommands() {
            all_args(s, &format!("{path} {}", s.get_name()), out);
        }
    }

    #[test]
    fn every_option_has_help_and_the_enumerated_ones_list_their_values() {
        let mut args = Vec::new();
        all_args(&Cli::command(), "spnewton", &mut args);
        assert!(args.len() > 100, "only {} options found", args.len());
        let undocumented: Vec<String> = args
            .iter()
            .filter(|(_, a)| !matches!(a.get_id().as_str(), "help" | "version"))
            .filter(|(_, a)| a.get_help().is_none_or(|h| h.to_string().trim().is_empty()))
            .map(|(p, a)| format!("{p} --{}", a.get_long().unwrap_or(a.get_id().as_str())))
            .collect();
        assert!(undocumented.is_empty(), "options without help: {undocumented:?}");
        let values = |path: &str, long: &str| -> Vec<String> {
            let (_, a) = args
                .iter()
                .find(|(p, a)| p == path && a.get_long() == Some(long))
                .unwrap_or_else(|| panic!("{path} has no --{long}"));
            a.get_possible_values().iter().map(|v| v.get_name().to_string()).collect()
        };
        for path in ["spnewton solve", "spnewton gen"] {
            assert_eq!(values(path, "loss"), ["rescaled", "hyperbolic", "softmax", "linear"]);
            assert_eq!(values(path, "fn"), ["exp", "cosh", "sinh"]);
        }
        assert_eq!(
            values("spnewton solve", "hessian"),
            ["exact", "gauss-newton", "leverage", "leverage-pcg", "newton-sketch", "newton-cg"]
        );
        assert_eq!(values("spnewton attention fit", "method"), ["gd", "newton"]);
        assert_eq!(values("spnewton attention eval", "loss"), ["l2", "logistic", "linear", "linear-logistic"]);
    }

    fn parse(args: &[&str]) -> Result<clap::ArgMatches, clap::Error> {
        Cli::command().try_get_matches_from(negative_values_attached(args.iter().map(std::ffi::OsString::from)))
    }

    #[test]
    fn negative_numbers_are_values_in_every_subcommand() {
        let m = parse(&["spnewton", "solve", "--eps0", "-1", "--tol", "-1e-3", "--w-const", "-.5"]).unwrap();
        assert!(matches!(Cli::from_arg_matches(&m).unwrap().command, Command::Solve(_)));
        let (_, sub) = m.subcommand().unwrap();
        assert_eq!(sub.get_one::<f64>("eps0"), Some(&-1.0));
        assert_eq!(sub.get_one::<f64>("tol"), Some(&-1e-3));
        assert_eq!(sub.get_one::<f64>("w_const"), Some(&-0.5));
        // Nested subcommands and lists too; flags around them are still flags.
        let m =
            parse(&["spnewton", "attention", "lipschitz", "--data", "d", "--radii", "-1,2e-1", "--seed", "3"]).unwrap();
        let (_, att) = m.subcommand().unwrap();
        let (_, lip) = att.subcommand().unwrap();
        assert_eq!(lip.get_many::<f64>("radii").unwrap().copied().collect::<Vec<_>>(), [-1.0, 0.2]);
        assert_eq!(lip.get_one::<u64>("seed"), Some(&3));
        // Not numbers, or not after a long option: left alone, and still errors.
        assert!(parse(&["spnewton", "solve", "--no-such-flag"]).is_err());
        assert!(parse(&["spnewton", "solve", "--quiet", "-1"]).is_err());
        assert_eq!(
            negative_values_attached(["a", "--x", "-y", "--z=1", "-2", "--w", "-3"].map(std::ffi::OsString::from)),
            ["a", "--x", "-y", "--z=1", "-2", "--w=-3"].map(std::ffi::OsString::from)
        );
    }
}

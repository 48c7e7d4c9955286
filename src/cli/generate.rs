//! `spnewton gen`: planted problem directories.

use std::path::PathBuf;

use anyhow::Context;
use clap::{ArgGroup, Args};

use super::names::named;
use losses::{Activation, LossKind, PlantSpec, Problem, Regulariser, plant};
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

#[derive(Args)]
#[command(group(ArgGroup::new("source").required(true).args(["n", "a"])))]
#[command(group(ArgGroup::new("sparsity").args(["density", "row_nnz"])))]
pub struct GenArgs {
    /// Rows of the random matrix.
    #[arg(long, requires = "d", requires = "sparsity")]
    n: Option<usize>,
    /// Columns of the random matrix.
    #[arg(long)]
    d: Option<usize>,
    /// Probability that an entry is nonzero.
    #[arg(long)]
    density: Option<f64>,
    /// Nonzeros per row.
    #[arg(long)]
    row_nnz: Option<usize>,
    /// Plant on this matrix (Matrix Market, optionally .gz, or svmlight) instead of a random one.
    #[arg(long, conflicts_with_all = ["n", "d", "density", "row_nnz", "variant"])]
    a: Option<PathBuf>,
    /// Loss of the planted problem.
    #[arg(long, value_parser = named::<LossKind>(LossKind::NAMES), default_value = "rescaled")]
    loss: LossKind,
    /// Activation u applied to Ax.
    #[arg(long = "fn", value_parser = named::<Activation>(Activation::NAMES), default_value = "exp")]
    func: Activation,
    /// Seed of all randomness.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Constant regulariser weight w (meta.json's w_const).
    #[arg(long)]
    w_const: Option<f64>,
    /// Structure of the random matrix: plain, ill-conditioned column scales, or coherent rows.
    #[arg(long, value_parser = named::<Variant>(Variant::NAMES))]
    variant: Option<Variant>,
    /// Ill-conditioned variant: orders of magnitude spanned by the column scales.
    #[arg(long, default_value_t = 4.0)]
    orders: f64,
    /// Coherent variant: number of leverage-1 rows.
    #[arg(long, default_value_t = 5)]
    spikes: usize,
    /// ‖A x_true‖_∞ of the planted point.
    #[arg(long, default_value_t = 0.5)]
    scale: f64,
    /// Noise added to b, relative to the RMS of b.
    #[arg(long, default_value_t = 0.0)]
    noise: f64,
    /// Write A.mtx.gz instead of A.mtx.
    #[arg(long)]
    compress: bool,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: GenArgs) -> anyhow::Result<i32> {
    let a = match (&args.a, args.n, args.d) {
        (Some(path), _, _) => super::load::read_matrix(path)?.0,
        (None, Some(n), Some(d)) => {
            let sparsity = match (args.density, args.row_nnz) {
                (Some(p), None) => Sparsity::Density(p),
                (None, Some(k)) => Sparsity::RowNnz(k),
                _ => anyhow::bail!("give exactly one of --density and --row-nnz"),
            };
            let variant = match args.variant.unwrap_or_default() {
                Variant::IllConditioned { .. } => Variant::IllConditioned { orders: args.orders },
                Variant::Coherent { .. } => Variant::Coherent { spikes: args.spikes },
                Variant::Plain => Variant::Plain,
            };
            random_sparse(&GenSpec { nrows: n, ncols: d, sparsity, variant, seed: args.seed })
                .context("cannot generate A")?
        }
        _ => anyhow::bail!("give --n and --d with --density or --row-nnz, or --a FILE"),
    };
    let w = match args.w_const {
        None => Regulariser::None,
        Some(c) if c.is_finite() && c >= 0.0 => Regulariser::Const(c),
        Some(c) => anyhow::bail!("--w-const must be finite and nonnegative, got {c}"),
    };
    let spec = PlantSpec { loss: args.loss, func: args.func, scale: args.scale, noise: args.noise, seed: args.seed };
    let (x_true, b) = plant(&a, &spec).context("cannot plant a solution")?;
    let problem = Problem { a, b, w, loss: args.loss, func: args.func, x0: None, x_true: Some(x_true) };
    problem.write_dir(&args.out, args.compress)?;
    let (n, d) = problem.a.shape();
    outln!(
        "wrote {} ({n} x {d}, {} nonzeros, loss {} with {})",
        args.out.display(),
        problem.a.nnz(),
        args.loss,
        args.func
    )?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_parses_and_every_kind_is_listed() {
        let losses: Vec<LossKind> = LossKind::NAMES.iter().map(|s| s.parse().unwrap()).collect();
        for (name, kind) in LossKind::NAMES.iter().zip(&losses) {
            assert_eq!(kind.to_string(), *name);
        }
        for kind in [LossKind::Rescaled, LossKind::Hyperbolic, LossKind::Softmax, LossKind::Linear] {
            assert!(losses.contains(&kind), "{kind} is not listed");
        }
        let fns: Vec<Activation> = Activation::NAMES.iter().map(|s| s.parse().unwrap()).collect();
        for kind in [Activation::Exp, Activation::Cosh, Activation::Sinh] {
            assert!(fns.contains(&kind), "{kind} is not listed");
        }
    }
}

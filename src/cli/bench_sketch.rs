//! `spnewton bench sketch`: accuracy of the sparsifiers (ε over seeds, rows kept, quality of
//! the leverage estimator) on an incoherent, a coherent and the bundled real matrix.

use std::path::PathBuf;

use clap::Args;
use sketch::{
    Embedding, LeverageParams, Method, SparsifyParams, approximate_leverage, exact_leverage, measure_eps, sparsify,
};
use sparse_ops::CsrMatrix;
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

#[derive(Args)]
pub struct SketchAccuracyArgs {
    /// Seeds per configuration (ε is reported over them).
    #[arg(long, default_value_t = 20)]
    seeds: u64,
    /// Sketch accuracy ε₀ asked for.
    #[arg(long, default_value_t = 0.5)]
    eps0: f64,
    /// Failure probability δ of the sketch.
    #[arg(long, default_value_t = 0.1)]
    delta: f64,
    /// Oversampling constants C to compare (comma-separated; default: the library's).
    #[arg(long, value_delimiter = ',', default_values_t = [sketch::DEFAULT_OVERSAMPLING])]
    c: Vec<f64>,
    /// Estimator variants: embedding rows per column (comma-separated; default: the library's).
    #[arg(long, value_delimiter = ',', default_values_t = [LeverageParams::default().rows_per_col])]
    rows_per_col: Vec<f64>,
    /// Estimator variants: projection columns (comma-separated; default: the library's).
    #[arg(long, value_delimiter = ',', default_values_t = [LeverageParams::default().projection_cols])]
    proj: Vec<usize>,
    /// Estimator variants: nonzeros per embedding column (1 = CountSketch, the library's
    /// default).
    #[arg(long, value_delimiter = ',', default_values_t = [1])]
    embed_nnz: Vec<usize>,
    /// Skip the bundled KJV matrix (d = 1000; slower).
    #[arg(long)]
    no_kjv: bool,
    /// Also write the figures as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn matrices(no_kjv: bool) -> anyhow::Result<Vec<(&'static str, CsrMatrix)>> {
    let make = |variant, seed| {
        random_sparse(&GenSpec { nrows: 50_000, ncols: 50, sparsity: Sparsity::RowNnz(8), variant, seed })
    };
    let mut m = vec![
        ("incoherent 50000x50", make(Variant::Plain, 1)?),
        ("coherent 50000x50", make(Variant::Coherent { spikes: 5 }, 2)?),
    ];
    if !no_kjv {
        m.push(("KJV 31064x1000", super::bundled::matrix()?));
    }
    Ok(m)
}

fn quantile(mut v: Vec<f64>, q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

pub fn run(args: SketchAccuracyArgs) -> anyhow::Result<i32> {
    let mut report = Vec::new();
    for (name, a) in matrices(args.no_kjv)? {
        let w = vec![1.0; a.nrows()];
        let exact = a.weighted_gram(&w);
        let lev = exact_leverage(&a, &w)?;
        outln!("== {name}: nnz {}, max leverage {:.3}", a.nnz(), lev.iter().cloned().fold(0.0, f64::max))?;
        for &embed_nnz in &args.embed_nnz {
            for &rows_per_col in &args.rows_per_col {
                for &proj in &args.proj {
                    let embedding = if embed_nnz == 1 {
                        Embedding::CountSketch
                    } else {
                        Embedding::SparseSign { nnz_per_col: embed_nnz }
                    };
                    let lp = LeverageParams { embedding, rows_per_col, projection_cols: proj };
                    let est = approximate_leverage(&a, &w, &lp, 1)?;
                    let within3 = est.iter().zip(&lev).filter(|(e, l)| **e <= 3.0 * **l && **l <= 3.0 * **e).count()
                        as f64
                        / a.nrows() as f64;
                    for &c in &args.c {
                        let params =
                            SparsifyParams { eps0: args.eps0, delta: args.delta, oversampling: c, leverage: lp };
                        let mut eps = Vec::new();
                        let mut eps_uniform = Vec::new();
                        let mut kept = Vec::new();
                        for seed in 0..args.seeds {
                            let sp = sparsify(&a, &w, Method::Leverage, &params, seed)?;
                            kept.push(sp.rows_kept() as f64);
                            eps.push(measure_eps(&exact, &sp.gram(&a))?);
                            let su = sparsify(&a, &w, Method::Uniform, &params, seed)?;
                            eps_uniform.push(measure_eps(&exact, &su.gram(&a)).unwrap_or(f64::INFINITY));
                        }
                        let ok = eps.iter().filter(|&&e| e <= args.eps0).count();
                        let ok_u = eps_uniform.iter().filter(|&&e| e <= args.eps0).count();
                        outln!(
                            "embed s={embed_nnz} k={rows_per_col}d r={proj} C={c}: within 3x {:.1}% | rows kept median {:.0} | eps median {:.3} p90 {:.3} max {:.3} | eps<=eps0 {ok}/{} | uniform eps median {:.3}, ok {ok_u}/{}",
                            100.0 * within3,
                            quantile(kept.clone(), 0.5),
                            quantile(eps.clone(), 0.5),
                            quantile(eps.clone(), 0.9),
                            quantile(eps.clone(), 1.0),
                            args.seeds,
                            quantile(eps_uniform.clone(), 0.5),
                            args.seeds
                        )?;
                        report.push(serde_json::json!({
                            "matrix": name, "embed_nnz": embed_nnz, "rows_per_col": rows_per_col, "proj": proj, "c": c,
                            "eps0": args.eps0, "delta": args.delta, "within_factor_3": within3,
                            "rows_kept_median": quantile(kept, 0.5), "eps": eps, "eps_uniform": eps_uniform,
                            "ok": ok, "ok_uniform": ok_u, "seeds": args.seeds,
                        }));
                    }
                }
            }
        }
    }
    if let Some(p) = args.out {
        super::output::write_json(p, &report)?;
    }
    Ok(0)
}

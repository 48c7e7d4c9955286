//! `spnewton info`: what a matrix or problem directory holds.

use std::path::PathBuf;

use clap::{ArgGroup, Args};

use losses::{Problem, Regulariser};
use sparse_ops::{MatrixStats, Summary};

#[derive(Args)]
#[command(group(ArgGroup::new("input").required(true).args(["problem", "a"])))]
pub struct InfoArgs {
    /// A problem directory.
    #[arg(long)]
    problem: Option<PathBuf>,
    /// A matrix file: Matrix Market (optionally .gz) or svmlight/LIBSVM (.svm, .libsvm).
    #[arg(long)]
    a: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: InfoArgs) -> anyhow::Result<i32> {
    let (stats, extra) = if let Some(dir) = &args.problem {
        let p = Problem::read_dir(dir)?;
        let w = match &p.w {
            Regulariser::None => "none".to_string(),
            Regulariser::Const(c) => format!("constant {c}"),
            Regulariser::PerRow(_) => "per row (w.txt)".to_string(),
        };
        let b_norm = p.b.iter().map(|v| v * v).sum::<f64>().sqrt();
        let extra = vec![
            ("loss", serde_json::json!(p.loss.to_string())),
            ("fn", serde_json::json!(p.func.to_string())),
            ("regulariser", serde_json::json!(w)),
            ("b_norm", serde_json::json!(b_norm)),
            ("has_x0", serde_json::json!(p.x0.is_some())),
            ("has_x_true", serde_json::json!(p.x_true.is_some())),
        ];
        (p.a.stats(), extra)
    } else {
        let path = args.a.as_ref().expect("clap requires one input");
        (super::load::read_matrix(path)?.0.stats(), Vec::new())
    };
    if args.json {
        let mut obj = stats_json(&stats);
        for (k, v) in extra {
            obj[k] = v;
        }
        outln!("{}", serde_json::to_string_pretty(&obj)?)?;
    } else {
        print_table(&stats, &extra)?;
    }
    Ok(0)
}

fn summary_json(s: &Summary) -> serde_json::Value {
    serde_json::json!({"min": s.min, "mean": s.mean, "max": s.max})
}

fn stats_json(s: &MatrixStats) -> serde_json::Value {
    serde_json::json!({
        "n": s.nrows, "d": s.ncols, "nnz": s.nnz, "density": s.density,
        "empty_rows": s.empty_rows, "empty_cols": s.empty_cols,
        "row_nnz": summary_json(&s.row_nnz), "col_nnz": summary_json(&s.col_nnz),
        "row_norm": summary_json(&s.row_norm), "col_norm": summary_json(&s.col_norm),
        "frobenius_norm": s.frobenius_norm, "max_abs": s.max_abs, "csr_bytes": s.csr_bytes,
    })
}

fn print_table(s: &MatrixStats, extra: &[(&str, serde_json::Value)]) -> std::io::Result<()> {
    let sum = |x: &Summary| format!("min {:.4} / mean {:.4} / max {:.4}", x.min, x.mean, x.max);
    outln!("{:<16} {} x {}", "shape", s.nrows, s.ncols)?;
    outln!("{:<16} {} (density {:.3e})", "nonzeros", s.nnz, s.density)?;
    outln!("{:<16} {} rows, {} columns", "empty", s.empty_rows, s.empty_cols)?;
    outln!("{:<16} {}", "row nnz", sum(&s.row_nnz))?;
    outln!("{:<16} {}", "column nnz", sum(&s.col_nnz))?;
    outln!("{:<16} {}", "row norm", sum(&s.row_norm))?;
    outln!("{:<16} {}", "column norm", sum(&s.col_norm))?;
    outln!("{:<16} {:.6e} (max |a_ij| {:.6e})", "Frobenius norm", s.frobenius_norm, s.max_abs)?;
    outln!("{:<16} {:.1} MiB", "CSR arrays", s.csr_bytes as f64 / (1 << 20) as f64)?;
    for (k, v) in extra {
        outln!("{:<16} {}", k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))?;
    }
    Ok(())
}

//! `spnewton convert IN OUT`: a matrix between Matrix Market (`.mtx`, `.mtx.gz`), SciPy `.npz`
//! and svmlight/LIBSVM (`.svm`, `.svmlight`, `.libsvm`, optionally `.gz`), chosen by extension.
//! Large inputs show a progress bar on a terminal (the reader's, see `load.rs`).

use std::path::{Path, PathBuf};

use clap::Args;
use sparse_ops::io::{
    NpzOptions, is_npz, is_svmlight, read_vector_of_len, write_matrix_market, write_npy_vector, write_npz,
    write_svmlight, write_vector,
};

#[derive(Args)]
pub struct ConvertArgs {
    /// The matrix to read: .mtx / .mtx.gz, .npz, or svmlight (.svm, .svmlight, .libsvm, optionally .gz).
    input: PathBuf,
    /// The file to write; its extension picks the format as for the input.
    output: PathBuf,
    /// Deflate-compress a .npz output (SciPy's `save_npz` default; stored is faster to read).
    #[arg(long)]
    compress: bool,
    /// svmlight output: the labels, a vector file (one per row; .txt or .npy). Default: the
    /// input's labels when it is svmlight, else 0 for every row.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// svmlight input: also write its labels to this vector file (.txt or .npy).
    #[arg(long)]
    labels_out: Option<PathBuf>,
}

fn kind(p: &Path) -> &'static str {
    if is_npz(p) {
        "npz"
    } else if is_svmlight(p) {
        "svmlight"
    } else {
        "Matrix Market"
    }
}

pub fn run(args: ConvertArgs) -> anyhow::Result<i32> {
    anyhow::ensure!(args.input != args.output, "input and output are the same file");
    if args.compress && !is_npz(&args.output) {
        anyhow::bail!("--compress applies to a .npz output (name a Matrix Market or svmlight output .gz instead)");
    }
    if args.labels.is_some() && !is_svmlight(&args.output) {
        anyhow::bail!("--labels applies to an svmlight output");
    }
    let (a, labels) = super::load::read_matrix(&args.input)?;
    if let Some(out) = &args.labels_out {
        let Some(b) = &labels else { anyhow::bail!("--labels-out needs an svmlight input (which has labels)") };
        if sparse_ops::io::is_npy(out) { write_npy_vector(out, b)? } else { write_vector(out, b)? }
    }
    let out = &args.output;
    match kind(out) {
        "npz" => write_npz(out, &a, NpzOptions { compress: args.compress })?,
        "svmlight" => {
            let b = match (&args.labels, labels) {
                (Some(p), _) => read_vector_of_len(p, a.nrows(), "labels (one per row of the matrix)")?,
                (None, Some(b)) => b,
                (None, None) => vec![0.0; a.nrows()],
            };
            write_svmlight(out, &a, &b)?;
        }
        _ => write_matrix_market(out, &a)?,
    }
    outln!(
        "{} ({}) -> {} ({}): {} x {}, {} nonzeros",
        args.input.display(),
        kind(&args.input),
        out.display(),
        kind(out),
        a.nrows(),
        a.ncols(),
        a.nnz()
    )?;
    Ok(0)
}

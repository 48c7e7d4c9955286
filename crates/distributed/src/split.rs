//! `spnewton split --parts P`: a problem directory cut into `P` row blocks, each a row-sorted
//! Matrix Market file with its `b` (and `w`), and `shards.json` naming them.

use std::path::Path;

use losses::{Meta, Problem, Regulariser};
use sparse_ops::CsrMatrix;
use sparse_ops::io::{write_matrix_market, write_vector};

use crate::error::DistError;
use crate::read::{Manifest, PartInfo};

fn werr(path: &Path, e: impl std::fmt::Display) -> DistError {
    DistError::Read { path: path.to_path_buf(), reason: format!("cannot write: {e}") }
}

/// Write `p` into `out` as `parts` row blocks of `⌊k·n/P⌋ .. ⌊(k+1)·n/P⌋`.
pub fn split_problem(p: &Problem, out: &Path, parts: usize) -> Result<Manifest, DistError> {
    let (n, d) = p.a.shape();
    if parts == 0 || parts > n.max(1) {
        return Err(DistError::Invalid(format!("--parts must be in 1..={} (the rows), got {parts}", n.max(1))));
    }
    std::fs::create_dir_all(out).map_err(|e| werr(out, e))?;
    let (ip, ix, dv) = (p.a.indptr(), p.a.indices(), p.a.data());
    let mut infos = Vec::with_capacity(parts);
    for k in 0..parts {
        let (r0, r1) = (k * n / parts, (k + 1) * n / parts);
        let (s, e) = (ip[r0], ip[r1]);
        let indptr: Vec<usize> = ip[r0..=r1].iter().map(|v| v - s).collect();
        let block = CsrMatrix::try_from_csr(r1 - r0, d, indptr, ix[s..e].to_vec(), dv[s..e].to_vec())
            .map_err(|e| DistError::Invalid(e.to_string()))?;
        let name = format!("part-{k:05}");
        let a = format!("{name}.mtx");
        write_matrix_market(&out.join(&a), &block).map_err(|e| werr(out, e))?;
        let b = format!("{name}.b.txt");
        write_vector(&out.join(&b), &p.b[r0..r1]).map_err(|e| werr(out, e))?;
        let w = match &p.w {
            Regulariser::PerRow(w) => {
                let name = format!("{name}.w.txt");
                write_vector(&out.join(&name), &w[r0..r1]).map_err(|e| werr(out, e))?;
                Some(name)
            }
            _ => None,
        };
        infos.push(PartInfo { a, b, w, row_start: r0, row_end: r1, nnz: e - s });
    }
    let w_const = if let Regulariser::Const(c) = p.w { Some(c) } else { None };
    let meta = Meta { loss: p.loss, func: p.func, w_const };
    let mp = out.join("meta.json");
    std::fs::write(&mp, serde_json::to_string_pretty(&meta).expect("serialises") + "\n").map_err(|e| werr(&mp, e))?;
    for (name, v) in [("x0.txt", &p.x0), ("x_true.txt", &p.x_true)] {
        if let Some(v) = v {
            write_vector(&out.join(name), v).map_err(|e| werr(out, e))?;
        }
    }
    let manifest = Manifest { n, d, nnz: p.a.nnz(), parts: infos };
    let sp = out.join("shards.json");
    std::fs::write(&sp, serde_json::to_string_pretty(&manifest).expect("serialises") + "\n")
        .map_err(|e| werr(&sp, e))?;
    Ok(manifest)
}

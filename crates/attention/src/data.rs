//! The attention data set: `m` sequences of `n` tokens in `d` dimensions, and its directory.
//!
//! ```text
//! DIR/meta.json   {"m": 8, "n": 16, "d": 4}
//! DIR/A1.mtx      (m·n)×d: the query-side tokens A_{l,1}, sequence l in rows l·n … l·n+n−1
//! DIR/A2.mtx      (m·n)×d: the key-side tokens A_{l,2}
//! DIR/A3.mtx      (m·n)×d: the value-side tokens A_{l,3}
//! DIR/B.mtx       (m·n)×d: the targets B_l (labels ±1 for the logistic loss)
//! DIR/Y.mtx       optional d×d: the value matrix, the default for --y
//! DIR/X_true.mtx  optional d×d: the planted X*
//! ```
//!
//! Matrices may be Matrix Market `array` or `coordinate` (sparse) files; they are held dense,
//! because `A_{l,1} X A_{l,2}ᵀ` is a dense `n×n` matrix whatever the sparsity of the factors.

use std::path::Path;

use faer::{Mat, MatRef};
use serde::{Deserialize, Serialize};
use sparse_ops::io::{DenseMatrix, ReadOptions, read_dense, write_dense_matrix_market};

use crate::error::AttentionError;

/// `meta.json` of a data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttentionMeta {
    /// Number of sequences `m`.
    pub m: usize,
    /// Tokens per sequence `n`.
    pub n: usize,
    /// Embedding dimension `d`.
    pub d: usize,
}

/// `m` sequences: `A_{l,1}, A_{l,2}, A_{l,3}, B_l ∈ R^{n×d}`, stacked as `(m·n)×d` matrices.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionData {
    meta: AttentionMeta,
    a1: Mat<f64>,
    a2: Mat<f64>,
    a3: Mat<f64>,
    b: Mat<f64>,
}

impl AttentionData {
    /// Checks every matrix is `(m·n)×d` and finite.
    pub fn new(
        meta: AttentionMeta,
        a1: Mat<f64>,
        a2: Mat<f64>,
        a3: Mat<f64>,
        b: Mat<f64>,
    ) -> Result<Self, AttentionError> {
        let AttentionMeta { m, n, d } = meta;
        if m == 0 || n == 0 || d == 0 {
            return Err(AttentionError::InvalidParameter(format!("m, n, d must be positive (m={m}, n={n}, d={d})")));
        }
        let rows = stacked_rows(meta)
            .ok_or_else(|| AttentionError::InvalidParameter(format!("m·n = {m}·{n} overflows usize")))?;
        for (what, mat) in [("A1", &a1), ("A2", &a2), ("A3", &a3), ("B", &b)] {
            if mat.nrows() != rows || mat.ncols() != d {
                return Err(AttentionError::dims(
                    format!("{what} (m·n × d)"),
                    format!("{rows}×{d}"),
                    format!("{}×{}", mat.nrows(), mat.ncols()),
                ));
            }
            check_finite(what, mat.as_ref())?;
        }
        Ok(Self { meta, a1, a2, a3, b })
    }

    /// The shape `(m, n, d)`.
    pub fn meta(&self) -> AttentionMeta {
        self.meta
    }
    /// `A_{l,1}`, `n×d`.
    pub fn a1(&self, l: usize) -> MatRef<'_, f64> {
        self.a1.subrows(l * self.meta.n, self.meta.n)
    }
    /// `A_{l,2}`, `n×d`.
    pub fn a2(&self, l: usize) -> MatRef<'_, f64> {
        self.a2.subrows(l * self.meta.n, self.meta.n)
    }
    /// `A_{l,3}`, `n×d`.
    pub fn a3(&self, l: usize) -> MatRef<'_, f64> {
        self.a3.subrows(l * self.meta.n, self.meta.n)
    }
    /// `B_l`, `n×d`.
    pub fn b(&self, l: usize) -> MatRef<'_, f64> {
        self.b.subrows(l * self.meta.n, self.meta.n)
    }
    /// The stacked targets, `(m·n)×d`.
    pub fn targets(&self) -> MatRef<'_, f64> {
        self.b.as_ref()
    }
    /// The same tokens with other targets (e.g. labels made from planted outputs).
    pub fn with_targets(&self, b: Mat<f64>) -> Result<Self, AttentionError> {
        Self::new(self.meta, self.a1.clone(), self.a2.clone(), self.a3.clone(), b)
    }

    /// Read `meta.json`, `A1.mtx`, `A2.mtx`, `A3.mtx`, `B.mtx` (each may be gzip-compressed
    /// with a `.gz` suffix).
    pub fn load(dir: &Path) -> Result<Self, AttentionError> {
        let meta_path = dir.join("meta.json");
        let text = std::fs::read_to_string(&meta_path)
            .map_err(|e| AttentionError::Data { path: meta_path.clone(), message: e.to_string() })?;
        let meta: AttentionMeta = serde_json::from_str(&text)
            .map_err(|e| AttentionError::Data { path: meta_path.clone(), message: e.to_string() })?;
        // Claimed sizes are checked before anything is read: `m·n` from a hostile meta.json
        // overflows (the readers themselves never allocate from a claim).
        let rows = stacked_rows(meta).ok_or_else(|| AttentionError::Data {
            path: meta_path.clone(),
            message: format!("m·n = {}·{} overflows usize", meta.m, meta.n),
        })?;
        let read = |name: &str| -> Result<Mat<f64>, AttentionError> {
            let plain = dir.join(format!("{name}.mtx"));
            let gz = dir.join(format!("{name}.mtx.gz"));
            let path = match (plain.exists(), gz.exists()) {
                (true, _) => plain,
                (false, true) => gz,
                // Name both files looked for, not just the last candidate.
                (false, false) => {
                    return Err(AttentionError::Data {
                        path: dir.to_path_buf(),
                        message: format!("no {name}.mtx or {name}.mtx.gz in the directory"),
                    });
                }
            };
            read_matrix(&path, Some((rows, meta.d)))
        };
        Self::new(meta, read("A1")?, read("A2")?, read("A3")?, read("B")?)
    }

    /// Write the directory (creating it); existing files of the same names are replaced.
    pub fn save(&self, dir: &Path) -> Result<(), AttentionError> {
        std::fs::create_dir_all(dir).map_err(|e| AttentionError::Data { path: dir.into(), message: e.to_string() })?;
        let meta = serde_json::to_string_pretty(&self.meta).expect("meta serialises");
        std::fs::write(dir.join("meta.json"), meta + "\n")
            .map_err(|e| AttentionError::Data { path: dir.join("meta.json"), message: e.to_string() })?;
        for (name, mat) in [("A1", &self.a1), ("A2", &self.a2), ("A3", &self.a3), ("B", &self.b)] {
            write_matrix(&dir.join(format!("{name}.mtx")), mat.as_ref())?;
        }
        Ok(())
    }
}

/// `m·n`, the rows of the stacked `(m·n)×d` matrices, if it fits in `usize`.
fn stacked_rows(meta: AttentionMeta) -> Option<usize> {
    meta.m.checked_mul(meta.n)
}

/// Read a dense matrix, checking its shape when one is expected.
pub fn read_matrix(path: &Path, shape: Option<(usize, usize)>) -> Result<Mat<f64>, AttentionError> {
    let m = read_dense(path, ReadOptions::default())?;
    if let Some((r, c)) = shape
        && (m.nrows != r || m.ncols != c)
    {
        return Err(AttentionError::Data {
            path: path.into(),
            message: format!("expected a {r}×{c} matrix, found {}×{}", m.nrows, m.ncols),
        });
    }
    Ok(m.to_faer())
}

/// Write a dense matrix as a Matrix Market `array` file (atomically).
pub fn write_matrix(path: &Path, m: MatRef<'_, f64>) -> Result<(), AttentionError> {
    let data = (0..m.nrows()).flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)])).collect();
    let dense = DenseMatrix::new(m.nrows(), m.ncols(), data).expect("shape matches");
    Ok(write_dense_matrix_market(path, &dense)?)
}

pub(crate) fn check_finite(what: &'static str, m: MatRef<'_, f64>) -> Result<(), AttentionError> {
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            if !m[(i, j)].is_finite() {
                return Err(AttentionError::NonFinite { what, row: i, col: j });
            }
        }
    }
    Ok(())
}

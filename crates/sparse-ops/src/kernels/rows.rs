use rayon::prelude::*;

use crate::csr::CsrMatrix;
use crate::error::StructureError;

impl CsrMatrix {
    /// `‖a_i‖²` for every row. Cost `O(nnz + n)`; deterministic.
    pub fn row_sq_norms(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.nrows()];
        let indptr = self.indptr();
        let data = self.data();
        self.for_each_row_block(&mut out, 1, |rows, ob| {
            for (o, i) in ob.iter_mut().zip(rows) {
                *o = data[indptr[i]..indptr[i + 1]].iter().map(|v| v * v).sum();
            }
        });
        out
    }

    /// `‖A e_j‖²` for every column. Cost `O(nnz + d·P)`; deterministic.
    pub fn column_sq_norms(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.ncols()];
        let (indptr, indices, data) = (self.indptr(), self.indices(), self.data());
        self.reduce_rows(&mut out, None, |rows, acc| {
            for k in indptr[rows.start]..indptr[rows.end] {
                acc[indices[k] as usize] += data[k] * data[k];
            }
        });
        out
    }

    /// Number of stored entries in each column. Cost `O(nnz + d·P)` on `P` threads (one count
    /// per thread over a contiguous range of entries, added up: integers, so the same at any
    /// thread count).
    pub fn column_nnz(&self) -> Vec<usize> {
        let d = self.ncols();
        let indices = self.indices();
        let parts = rayon::current_num_threads().min(indices.len() >> 16).max(1);
        let count = |c: &[u32]| {
            let mut out = vec![0usize; d];
            for &j in c {
                out[j as usize] += 1;
            }
            out
        };
        if parts == 1 {
            return count(indices);
        }
        indices
            .par_chunks(indices.len().div_ceil(parts))
            .map(count)
            .reduce_with(|mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            })
            .unwrap_or_else(|| vec![0; d])
    }

    /// `A ← A·diag(s)` in place. Cost `O(nnz)`; drops a cached transpose. Every `s_j` must be
    /// finite; a product that overflows is an error and leaves `A` unchanged.
    pub fn scale_columns(&mut self, s: &[f64]) -> Result<(), StructureError> {
        if s.len() != self.ncols() {
            return Err(StructureError::DimensionMismatch {
                what: "column scales".into(),
                expected: self.ncols(),
                found: s.len(),
            });
        }
        if let Some(j) = s.iter().position(|v| !v.is_finite()) {
            return Err(StructureError::InvalidArgument(format!("column scale {j} is {}", s[j])));
        }
        let overflow =
            self.indices().par_iter().zip(self.data().par_iter()).any(|(&j, &v)| !(v * s[j as usize]).is_finite());
        if overflow {
            return Err(StructureError::InvalidArgument("column scaling overflows f64".into()));
        }
        self.map_values_with_columns(|j, v| *v *= s[j as usize]);
        Ok(())
    }

    /// Shape, counts and norms, as printed by `spnewton info`. Cost `O(nnz + n + d)`.
    pub fn stats(&self) -> MatrixStats {
        let row_nnz: Vec<f64> = self.indptr().windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let col_nnz: Vec<f64> = self.column_nnz().into_iter().map(|c| c as f64).collect();
        let row_norms: Vec<f64> = self.row_sq_norms().into_iter().map(f64::sqrt).collect();
        let col_norms: Vec<f64> = self.column_sq_norms().into_iter().map(f64::sqrt).collect();
        let frob = row_norms.iter().map(|r| r * r).sum::<f64>().sqrt();
        // (A maximum: the same whatever the split.)
        let max_abs = self
            .data()
            .par_chunks(1 << 16)
            .map(|c| c.iter().fold(0.0f64, |m, v| m.max(v.abs())))
            .reduce(|| 0.0, f64::max);
        let (n, d) = self.shape();
        MatrixStats {
            nrows: n,
            ncols: d,
            nnz: self.nnz(),
            density: if n * d == 0 { 0.0 } else { self.nnz() as f64 / (n as f64 * d as f64) },
            empty_rows: row_nnz.iter().filter(|&&c| c == 0.0).count(),
            empty_cols: col_nnz.iter().filter(|&&c| c == 0.0).count(),
            row_nnz: Summary::of(&row_nnz),
            col_nnz: Summary::of(&col_nnz),
            row_norm: Summary::of(&row_norms),
            col_norm: Summary::of(&col_norms),
            frobenius_norm: frob,
            max_abs,
            csr_bytes: self.csr_bytes(),
        }
    }
}

/// Summary figures of a matrix (see [`CsrMatrix::stats`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixStats {
    /// Number of rows `n`.
    pub nrows: usize,
    /// Number of columns `d`.
    pub ncols: usize,
    /// Number of stored nonzeros.
    pub nnz: usize,
    /// `nnz / (n·d)` (0 for an empty shape).
    pub density: f64,
    /// Rows with no stored entry.
    pub empty_rows: usize,
    /// Columns with no stored entry.
    pub empty_cols: usize,
    /// Nonzeros per row.
    pub row_nnz: Summary,
    /// Nonzeros per column.
    pub col_nnz: Summary,
    /// Euclidean norm of each row.
    pub row_norm: Summary,
    /// Euclidean norm of each column.
    pub col_norm: Summary,
    /// Frobenius norm `‖A‖_F`.
    pub frobenius_norm: f64,
    /// Largest absolute stored value (0 if none).
    pub max_abs: f64,
    /// Bytes held by the CSR arrays (`indptr`, `indices`, `data`).
    pub csr_bytes: usize,
}

/// Minimum, mean and maximum of a list (all 0 for an empty list).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    /// Smallest value.
    pub min: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Largest value.
    pub max: f64,
}

impl Summary {
    /// Summary of `v` (all zero if `v` is empty).
    pub fn of(v: &[f64]) -> Self {
        if v.is_empty() {
            return Self::default();
        }
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Self { min, mean: v.iter().sum::<f64>() / v.len() as f64, max }
    }
}

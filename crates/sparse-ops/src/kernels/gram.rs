use faer::Mat;

use crate::csr::{CsrMatrix, reduce_blocks};
use runtime::partition;

impl CsrMatrix {
    /// The exact weighted Gram matrix `AᵀDA = Σ_i D_i a_i a_iᵀ` as a dense symmetric `d×d` faer
    /// matrix. `D` may have any sign. Cost `O(Σ_i nnz(a_i)²/2)` (upper triangle, then mirrored)
    /// plus `O(d²·P)` for `P` fixed partials (bounded to 64 MiB); allocates the partials.
    ///
    /// ```
    /// use sparse_ops::CsrMatrix;
    /// let a = CsrMatrix::from_dense(2, 2, &[1.0, 2.0, 0.0, 3.0]).unwrap();
    /// let g = a.weighted_gram(&[1.0, 2.0]);
    /// assert_eq!(g[(1, 1)], 2.0 * 2.0 + 2.0 * 9.0);
    /// assert_eq!(g[(0, 1)], 2.0);
    /// ```
    #[track_caller]
    pub fn weighted_gram(&self, weights: &[f64]) -> Mat<f64> {
        assert_eq!(weights.len(), self.nrows(), "one weight per row");
        let d = self.ncols();
        let indptr = self.indptr();
        let mut cum = Vec::with_capacity(self.nrows() + 1);
        cum.push(0usize);
        for i in 0..self.nrows() {
            let r = indptr[i + 1] - indptr[i];
            cum.push(cum[i] + r * (r + 1) / 2 + 1);
        }
        let mut upper = vec![0.0; d * d];
        self.reduce_rows(&mut upper, Some(&cum), |rows, acc| {
            for i in rows {
                self.add_outer(i, weights[i], acc);
            }
        });
        symmetric_from_upper(&upper, d)
    }

    /// The sampled Gram matrix `Σ_s w_s a_{r_s} a_{r_s}ᵀ` over the listed rows (repeats allowed:
    /// each occurrence counts). Cost `O(Σ_s nnz(a_{r_s})²/2 + d²·P)`, independent of `n`.
    #[track_caller]
    pub fn sampled_gram(&self, rows: &[usize], weights: &[f64]) -> Mat<f64> {
        assert_eq!(rows.len(), weights.len(), "one weight per sampled row");
        let d = self.ncols();
        let indptr = self.indptr();
        let mut cum = Vec::with_capacity(rows.len() + 1);
        cum.push(0usize);
        for (s, &i) in rows.iter().enumerate() {
            assert!(i < self.nrows(), "sampled row {i} out of range");
            let r = indptr[i + 1] - indptr[i];
            cum.push(cum[s] + r * (r + 1) / 2 + 1);
        }
        let parts = self.chunk_policy().parts(rows.len(), cum[rows.len()], d * d);
        let bounds = partition::balanced_bounds(&cum, parts);
        let mut upper = vec![0.0; d * d];
        reduce_blocks(self.scratch(), &mut upper, &bounds, |range, acc| {
            for s in range {
                self.add_outer(rows[s], weights[s], acc);
            }
        });
        symmetric_from_upper(&upper, d)
    }

    /// `acc[upper] += w · a_i a_iᵀ` (row-major `d×d`, upper triangle only).
    #[inline]
    fn add_outer(&self, i: usize, w: f64, acc: &mut [f64]) {
        let d = self.ncols();
        let (cols, vals) = self.row(i);
        for (p, &jp) in cols.iter().enumerate() {
            let s = w * vals[p];
            let row = &mut acc[jp as usize * d..(jp as usize + 1) * d];
            // Columns are strictly increasing, so q ≥ p gives the upper triangle.
            for (&jq, &vq) in cols[p..].iter().zip(&vals[p..]) {
                row[jq as usize] += s * vq;
            }
        }
    }
}

fn symmetric_from_upper(upper: &[f64], d: usize) -> Mat<f64> {
    Mat::from_fn(d, d, |i, j| if i <= j { upper[i * d + j] } else { upper[j * d + i] })
}

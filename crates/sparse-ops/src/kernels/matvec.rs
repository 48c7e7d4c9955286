use crate::csr::CsrMatrix;

impl CsrMatrix {
    /// `y = A·x`. Cost `O(nnz + n)`, no allocation. Each `y_i` is a sequential dot product, so
    /// the result does not depend on the partition or the thread count.
    ///
    /// ```
    /// use sparse_ops::CsrMatrix;
    /// let a = CsrMatrix::from_dense(2, 2, &[1.0, 2.0, 0.0, 3.0]).unwrap();
    /// let mut y = [0.0; 2];
    /// a.mul_vec(&[1.0, 1.0], &mut y);
    /// assert_eq!(y, [3.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn mul_vec(&self, x: &[f64], y: &mut [f64]) {
        assert_eq!(x.len(), self.ncols(), "x must have ncols entries");
        assert_eq!(y.len(), self.nrows(), "y must have nrows entries");
        let (indptr, indices, data) = (self.indptr(), self.indices(), self.data());
        self.for_each_row_block(y, 1, |rows, yb| {
            for (yi, i) in yb.iter_mut().zip(rows) {
                let r = indptr[i]..indptr[i + 1];
                *yi = dot_row(&indices[r.clone()], &data[r], x);
            }
        });
    }

    /// `x = Aᵀ·y`. Cost `O(nnz + d·P)` for `P` fixed partial sums (at most 64, bounded to
    /// 64 MiB), or `O(nnz + d)` gathering over the cached transpose when
    /// [`CsrMatrix::cache_transpose`] was called. No allocation beyond the partials.
    #[track_caller]
    pub fn tr_mul_vec(&self, y: &[f64], x: &mut [f64]) {
        assert_eq!(y.len(), self.nrows(), "y must have nrows entries");
        assert_eq!(x.len(), self.ncols(), "x must have ncols entries");
        if let Some(t) = self.cached_transpose() {
            return t.mul_vec(y, x);
        }
        self.tr_mul_vec_map(|i| y[i], x);
    }
}

/// `Σ_k v_k x_{j_k}` with four independent accumulators, so the loop is not bound by the
/// latency of one chain of additions. The order is fixed, hence deterministic. The one row
/// dot product of the workspace: the fused Hessian product and the distributed solver use it
/// too, so their `a_iᵀx` has the same bits as `A·x`'s.
///
/// ```
/// // Row (2 at column 0, 3 at column 2) times x = (1, 5, 10).
/// assert_eq!(sparse_ops::dot_row(&[0, 2], &[2.0, 3.0], &[1.0, 5.0, 10.0]), 32.0);
/// ```
#[inline]
pub fn dot_row(cols: &[u32], vals: &[f64], x: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut cc = cols.chunks_exact(4);
    let mut vc = vals.chunks_exact(4);
    for (c, v) in (&mut cc).zip(&mut vc) {
        for l in 0..4 {
            acc[l] += v[l] * x[c[l] as usize];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (&c, &v) in cc.remainder().iter().zip(vc.remainder()) {
        s += v * x[c as usize];
    }
    s
}

/// `acc[j_k] += v_k · s` over one row.
#[inline]
pub(crate) fn scatter_row(cols: &[u32], vals: &[f64], s: f64, acc: &mut [f64]) {
    for (&c, &v) in cols.iter().zip(vals) {
        acc[c as usize] += v * s;
    }
}

use crate::csr::CsrMatrix;

impl CsrMatrix {
    /// `Out = A·G` for a dense row-major `G` (`d×k`) into a row-major `Out` (`n×k`).
    /// Cost `O(nnz·k)`, no allocation; rows are independent, so the result is deterministic.
    #[track_caller]
    pub fn mul_dense(&self, g: &[f64], k: usize, out: &mut [f64]) {
        assert_eq!(g.len(), self.ncols() * k, "G must be ncols x k, row-major");
        assert_eq!(out.len(), self.nrows() * k, "Out must be nrows x k, row-major");
        if k == 0 {
            return;
        }
        let (indptr, indices, data) = (self.indptr(), self.indices(), self.data());
        self.for_each_row_block(out, k, |rows, ob| {
            for (orow, i) in ob.chunks_exact_mut(k).zip(rows) {
                orow.fill(0.0);
                for p in indptr[i]..indptr[i + 1] {
                    let j = indices[p] as usize;
                    axpy(data[p], &g[j * k..(j + 1) * k], orow);
                }
            }
        });
    }

    /// `Out = Aᵀ·Z` for a dense row-major `Z` (`n×k`) into a row-major `Out` (`d×k`).
    /// Cost `O(nnz·k + d·k·P)` with `P` fixed partials (bounded to 64 MiB in all), or
    /// `O(nnz·k)` over the cached transpose.
    #[track_caller]
    pub fn tr_mul_dense(&self, z: &[f64], k: usize, out: &mut [f64]) {
        assert_eq!(z.len(), self.nrows() * k, "Z must be nrows x k, row-major");
        assert_eq!(out.len(), self.ncols() * k, "Out must be ncols x k, row-major");
        if k == 0 {
            return;
        }
        if let Some(t) = self.cached_transpose() {
            return t.mul_dense(z, k, out);
        }
        let (indptr, indices, data) = (self.indptr(), self.indices(), self.data());
        self.reduce_rows(out, None, |rows, acc| {
            for i in rows {
                let zi = &z[i * k..(i + 1) * k];
                for p in indptr[i]..indptr[i + 1] {
                    let j = indices[p] as usize;
                    axpy(data[p], zi, &mut acc[j * k..(j + 1) * k]);
                }
            }
        });
    }
}

#[inline]
pub(crate) fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

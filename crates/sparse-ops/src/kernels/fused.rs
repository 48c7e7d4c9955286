//! Fused kernels: the elementwise work of a loss evaluation done inside the pass over `A`, so
//! an evaluation streams `A` twice and its `n`-vectors as few times as possible.

use crate::csr::CsrMatrix;
use crate::kernels::matvec::{dot_row, scatter_row};
use crate::partition;

impl CsrMatrix {
    /// One pass `z = A·x` that hands each `z_i` to `row(acc, i, z_i, rec_i)`, where `rec_i` is
    /// row `i` of `rec` (`n×width`, row-major) for the caller to fill. Each fixed row block
    /// folds into its own `init()` accumulator; the block accumulators are combined left to
    /// right with `combine`, so the result is the same for any thread count (it depends on the
    /// chunk policy only). Cost: one `A·x` plus the callbacks.
    ///
    /// ```
    /// use sparse_ops::CsrMatrix;
    /// let a = CsrMatrix::from_dense(2, 2, &[1.0, 2.0, 0.0, 3.0]).unwrap();
    /// let mut rec = vec![0.0; 2 * 2];
    /// // Store z_i and exp(z_i), and sum exp(z_i) on the way.
    /// let total = a.mul_vec_fold(&[1.0, 1.0], 2, &mut rec, || 0.0, |s, _i, z, r| {
    ///     r[0] = z;
    ///     r[1] = z.exp();
    ///     *s += r[1];
    /// }, |p, q| p + q);
    /// assert_eq!(rec[0], 3.0);
    /// assert_eq!(total, 2.0 * 3f64.exp());
    /// ```
    #[track_caller]
    pub fn mul_vec_fold<T: Send>(
        &self,
        x: &[f64],
        width: usize,
        rec: &mut [f64],
        init: impl Fn() -> T + Sync,
        row: impl Fn(&mut T, usize, f64, &mut [f64]) + Sync,
        combine: impl Fn(T, T) -> T,
    ) -> T {
        assert_eq!(x.len(), self.ncols(), "x must have ncols entries");
        assert!(width > 0, "width must be positive");
        let (indptr, indices, data) = (self.indptr(), self.indices(), self.data());
        let partials = self.map_row_blocks(rec, width, |rows, block| {
            let mut acc = init();
            for (r, i) in block.chunks_exact_mut(width).zip(rows) {
                let p = indptr[i]..indptr[i + 1];
                let z = dot_row(&indices[p.clone()], &data[p], x);
                row(&mut acc, i, z, r);
            }
            acc
        });
        partials.into_iter().reduce(combine).unwrap_or_else(init)
    }

    /// `out = Aᵀ·y` with `y_i = y(i)` computed inside the pass (never stored). Cost: one
    /// `Aᵀ·y` plus `n` calls; deterministic like [`CsrMatrix::tr_mul_vec`].
    #[track_caller]
    pub fn tr_mul_vec_map(&self, y: impl Fn(usize) -> f64 + Sync, out: &mut [f64]) {
        assert_eq!(out.len(), self.ncols(), "out must have ncols entries");
        if let Some(t) = self.cached_transpose() {
            // Gathering needs y in memory.
            let yv: Vec<f64> = (0..self.nrows()).map(&y).collect();
            return t.mul_vec(&yv, out);
        }
        let (indptr, indices, data) = (self.indptr(), self.indices(), self.data());
        self.reduce_rows(out, None, |rows, acc| {
            for i in rows {
                let p = indptr[i]..indptr[i + 1];
                scatter_row(&indices[p.clone()], &data[p], y(i), acc);
            }
        });
    }

    /// `out_i = f(i, a_iᵀG)` for a dense row-major `G` (`d×k`): row `i` of `A·G` is formed in a
    /// small buffer and handed to `f`, never stored. Cost `O(nnz·k)`, one pass over `A`,
    /// `O(k)` memory per task. Deterministic.
    #[track_caller]
    pub fn mul_dense_row_map(&self, g: &[f64], k: usize, f: impl Fn(usize, &[f64]) -> f64 + Sync, out: &mut [f64]) {
        assert_eq!(g.len(), self.ncols() * k, "G must be ncols x k, row-major");
        // Fixed widths let the compiler keep the row in registers and vectorise the updates.
        match k {
            4 => self.row_map_fixed::<4>(g, &f, out),
            8 => self.row_map_fixed::<8>(g, &f, out),
            16 => self.row_map_fixed::<16>(g, &f, out),
            32 => self.row_map_fixed::<32>(g, &f, out),
            _ => {
                let (indptr, indices, data) = (self.indptr(), self.indices(), self.data());
                self.map_row_blocks(out, 1, |rows, block| {
                    let mut buf = vec![0.0; k];
                    for (o, i) in block.iter_mut().zip(rows) {
                        buf.fill(0.0);
                        for p in indptr[i]..indptr[i + 1] {
                            let j = indices[p] as usize;
                            crate::kernels::dense::axpy(data[p], &g[j * k..(j + 1) * k], &mut buf);
                        }
                        *o = f(i, &buf);
                    }
                });
            }
        }
    }

    fn row_map_fixed<const K: usize>(&self, g: &[f64], f: &(impl Fn(usize, &[f64]) -> f64 + Sync), out: &mut [f64]) {
        let (indptr, indices, data) = (self.indptr(), self.indices(), self.data());
        let g: &[[f64; K]] = g.as_chunks::<K>().0;
        self.map_row_blocks(out, 1, |rows, block| {
            for (o, i) in block.iter_mut().zip(rows) {
                let mut buf = [0.0f64; K];
                for p in indptr[i]..indptr[i + 1] {
                    let (gj, v) = (&g[indices[p] as usize], data[p]);
                    for l in 0..K {
                        buf[l] += v * gj[l];
                    }
                }
                *o = f(i, &buf);
            }
        });
    }

    /// The rows of `A·G` (`G` dense row-major `d×k`) passed through a filter: `f(i, a_iᵀG)`
    /// returns `Some(value)` to keep row `i`. Returns the kept `(rows, values)` in row order,
    /// collected per fixed block and concatenated, so nothing `n`-long is stored. Cost
    /// `O(nnz·k)`, one pass over `A`; deterministic.
    #[track_caller]
    pub fn mul_dense_row_filter(
        &self,
        g: &[f64],
        k: usize,
        f: impl Fn(usize, &[f64]) -> Option<f64> + Sync,
    ) -> (Vec<usize>, Vec<f64>) {
        assert_eq!(g.len(), self.ncols() * k, "G must be ncols x k, row-major");
        let (indptr, indices, data) = (self.indptr(), self.indices(), self.data());
        let blocks = match k {
            // Fixed widths keep the row in registers (as in `mul_dense_row_map`).
            8 => self.row_filter_fixed::<8>(g, &f),
            16 => self.row_filter_fixed::<16>(g, &f),
            _ => self.map_blocks(|rows| {
                let (mut kept, mut vals) = (Vec::new(), Vec::new());
                let mut buf = vec![0.0; k];
                for i in rows {
                    buf.fill(0.0);
                    for p in indptr[i]..indptr[i + 1] {
                        let j = indices[p] as usize;
                        crate::kernels::dense::axpy(data[p], &g[j * k..(j + 1) * k], &mut buf);
                    }
                    if let Some(v) = f(i, &buf) {
                        kept.push(i);
                        vals.push(v);
                    }
                }
                (kept, vals)
            }),
        };
        let len = blocks.iter().map(|b| b.0.len()).sum();
        let (mut rows, mut vals) = (Vec::with_capacity(len), Vec::with_capacity(len));
        for (r, v) in blocks {
            rows.extend(r);
            vals.extend(v);
        }
        (rows, vals)
    }

    fn row_filter_fixed<const K: usize>(
        &self,
        g: &[f64],
        f: &(impl Fn(usize, &[f64]) -> Option<f64> + Sync),
    ) -> Vec<(Vec<usize>, Vec<f64>)> {
        let (indptr, indices, data) = (self.indptr(), self.indices(), self.data());
        let g: &[[f64; K]] = g.as_chunks::<K>().0;
        self.map_blocks(|rows| {
            let (mut kept, mut vals) = (Vec::new(), Vec::new());
            for i in rows {
                let mut buf = [0.0f64; K];
                for p in indptr[i]..indptr[i + 1] {
                    let (gj, v) = (&g[indices[p] as usize], data[p]);
                    for l in 0..K {
                        buf[l] += v * gj[l];
                    }
                }
                if let Some(v) = f(i, &buf) {
                    kept.push(i);
                    vals.push(v);
                }
            }
            (kept, vals)
        })
    }

    /// A deterministic reduction over the rows of `A` into `out`, for kernels built outside this
    /// crate: `f(rows, partial)` adds the contribution of a fixed block of rows into a zeroed
    /// partial; partials (at most 64, within 64 MiB in all) are added in block order, so the
    /// result is the same for any thread count. `out` is overwritten.
    pub fn reduce_rows_into(&self, out: &mut [f64], f: impl Fn(std::ops::Range<usize>, &mut [f64]) + Sync) {
        self.reduce_rows(out, None, f);
    }

    /// `Out = Aᵀ·Y` for a row-major `Y` (`n×k`) whose row `i` is written by `y(i, row)` inside
    /// the pass (never stored): several transposed products in one pass over `A`. Cost
    /// `O(nnz·k + d·k·P)`. The rows are partitioned exactly as in [`CsrMatrix::tr_mul_vec`], so
    /// each column of `Out` is bitwise what `tr_mul_vec` would give for that column of `Y`
    /// (without a cached transpose).
    #[track_caller]
    pub fn tr_mul_rows_map(&self, k: usize, y: impl Fn(usize, &mut [f64]) + Sync, out: &mut [f64]) {
        assert_eq!(out.len(), self.ncols() * k, "out must be ncols x k, row-major");
        match k {
            0 => {}
            2 => self.tr_rows_fixed::<2>(&y, out),
            3 => self.tr_rows_fixed::<3>(&y, out),
            4 => self.tr_rows_fixed::<4>(&y, out),
            _ => {
                let (indptr, indices, data) = (self.indptr(), self.indices(), self.data());
                self.reduce_rows_partitioned_as(out, self.ncols(), None, |rows, acc| {
                    let mut yi = vec![0.0; k];
                    for i in rows {
                        y(i, &mut yi);
                        for p in indptr[i]..indptr[i + 1] {
                            let j = indices[p] as usize;
                            crate::kernels::dense::axpy(data[p], &yi, &mut acc[j * k..(j + 1) * k]);
                        }
                    }
                });
            }
        }
    }

    /// Fixed-width [`Self::tr_mul_rows_map`]: the row of `Y` lives in registers and each
    /// update is `K` adds into `[f64; K]`, with the same order of operations as the generic
    /// path (so the same bits).
    fn tr_rows_fixed<const K: usize>(&self, y: &(impl Fn(usize, &mut [f64]) + Sync), out: &mut [f64]) {
        let (indptr, indices, data) = (self.indptr(), self.indices(), self.data());
        self.reduce_rows_partitioned_as(out, self.ncols(), None, |rows, acc| {
            let acc: &mut [[f64; K]] = acc.as_chunks_mut::<K>().0;
            let mut yi = [0.0f64; K];
            for i in rows {
                y(i, &mut yi);
                for p in indptr[i]..indptr[i + 1] {
                    let (a, v) = (&mut acc[indices[p] as usize], data[p]);
                    for l in 0..K {
                        a[l] += v * yi[l];
                    }
                }
            }
        });
    }

    /// Run `f(rows, rec_block)` over the fixed row-task blocks in parallel and return the
    /// results in block order.
    pub(crate) fn map_blocks<T: Send>(&self, f: impl Fn(std::ops::Range<usize>) -> T + Sync + Send) -> Vec<T> {
        use rayon::prelude::*;
        let tasks = self.chunk_policy().tasks(self.nrows(), self.nnz());
        let bounds = partition::balanced_bounds(self.indptr(), tasks);
        let ranges: Vec<_> = partition::ranges(&bounds).collect();
        ranges
            .into_par_iter()
            .map(|r| {
                // Callers evaluate exp/cosh/sinh per row: no AVX→SSE penalty (crate::simd_state).
                crate::simd_state::clear_upper_state();
                f(r)
            })
            .collect()
    }

    pub(crate) fn map_row_blocks<T: Send>(
        &self,
        rec: &mut [f64],
        width: usize,
        f: impl Fn(std::ops::Range<usize>, &mut [f64]) -> T + Sync,
    ) -> Vec<T> {
        use rayon::prelude::*;
        assert_eq!(rec.len(), self.nrows() * width, "rec must be nrows x width");
        let tasks = self.chunk_policy().tasks(self.nrows(), self.nnz());
        let bounds = partition::balanced_bounds(self.indptr(), tasks);
        let blocks = partition::split_rows(rec, &bounds, width);
        let ranges: Vec<_> = partition::ranges(&bounds).collect();
        blocks
            .into_par_iter()
            .zip(ranges)
            .map(|(b, r)| {
                crate::simd_state::clear_upper_state();
                f(r, b)
            })
            .collect()
    }
}

//! Fused kernels: the elementwise work of a loss evaluation done inside the pass over `A`, so
//! an evaluation streams `A` twice and its `n`-vectors as few times as possible.

use crate::csr::CsrMatrix;
use crate::kernels::matvec::{dot_row, scatter_row};
use runtime::partition;

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
            4 => self.row_map_fixed::<1>(g, &f, out),
            8 => self.row_map_fixed::<2>(g, &f, out),
            16 => self.row_map_fixed::<4>(g, &f, out),
            32 => self.row_map_fixed::<8>(g, &f, out),
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

    /// `k = 4Q` columns.
    fn row_map_fixed<const Q: usize>(&self, g: &[f64], f: &(impl Fn(usize, &[f64]) -> f64 + Sync), out: &mut [f64]) {
        let rg = RowGather::<Q>::new(self, g);
        #[cfg(target_arch = "x86_64")]
        if runtime::simd::Avx2::detect().is_some() {
            // SAFETY: AVX2 is present (the token proves it).
            self.map_row_blocks(out, 1, |rows, block| unsafe { map_rows_avx2(block, rows, &rg, f) });
            return;
        }
        self.map_row_blocks(out, 1, |rows, block| map_rows_body(block, rows, &rg, f));
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
            8 => self.row_filter_fixed::<2>(g, &f),
            16 => self.row_filter_fixed::<4>(g, &f),
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

    /// `k = 4Q` columns.
    fn row_filter_fixed<const Q: usize>(
        &self,
        g: &[f64],
        f: &(impl Fn(usize, &[f64]) -> Option<f64> + Sync),
    ) -> Vec<(Vec<usize>, Vec<f64>)> {
        let rg = RowGather::<Q>::new(self, g);
        #[cfg(target_arch = "x86_64")]
        if runtime::simd::Avx2::detect().is_some() {
            // SAFETY: AVX2 is present (the token proves it).
            return self.map_blocks(|rows| unsafe { filter_rows_avx2(rows, &rg, f) });
        }
        self.map_blocks(|rows| filter_rows_body(rows, &rg, f))
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
        // Fixed widths: the row of `Y` lives in registers (`tr_mul_then`, same partition and
        // order of operations as the generic path below, so the same bits).
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

    /// [`CsrMatrix::tr_mul_rows_map`] for `K` columns, through [`CsrMatrix::tr_mul_then`].
    fn tr_rows_fixed<const K: usize>(&self, y: &(impl Fn(usize, &mut [f64]) + Sync), out: &mut [f64]) {
        self.tr_mul_then::<K, 0>(
            [],
            |rows, yb, []| {
                for (r, i) in yb.iter_mut().zip(rows) {
                    y(i, r);
                }
                true
            },
            out,
        );
    }

    /// `z = A·x` computed block by block; right after each fixed row block is done, and while
    /// it is still in cache, `f(rows, z_block, out_blocks)` post-processes it: `outs` are
    /// per-row output buffers (`nrows × width` each, row-major) of which `f` receives the
    /// block's rows. A width-0 output is an unused slot. Returns `f`'s results in block order
    /// (combine them left to right for a deterministic reduction). Cost: one `A·x` plus `f`;
    /// `f` may run vectorised loops over the block (e.g. [`runtime::vmath::exp_into`]).
    ///
    /// ```
    /// use sparse_ops::CsrMatrix;
    /// let a = CsrMatrix::from_dense(2, 2, &[1.0, 2.0, 0.0, 3.0]).unwrap();
    /// let (mut z, mut u) = (vec![0.0; 2], vec![0.0; 2]);
    /// // u = exp(z), and Σu on the way.
    /// let sums = a.mul_vec_then(&[1.0, 1.0], &mut z, [(&mut u[..], 1)], |_rows, zb, [ub]| {
    ///     sparse_ops::runtime::vmath::exp_into(zb, ub);
    ///     ub.iter().sum::<f64>()
    /// });
    /// assert_eq!(z, [3.0, 3.0]);
    /// assert!((sums.iter().sum::<f64>() - 2.0 * 3f64.exp()).abs() < 1e-12);
    /// ```
    #[track_caller]
    pub fn mul_vec_then<T: Send, const M: usize>(
        &self,
        x: &[f64],
        z: &mut [f64],
        outs: [(&mut [f64], usize); M],
        f: impl Fn(std::ops::Range<usize>, &[f64], [&mut [f64]; M]) -> T + Sync,
    ) -> Vec<T> {
        use rayon::prelude::*;
        let n = self.nrows();
        assert_eq!(x.len(), self.ncols(), "x must have ncols entries");
        assert_eq!(z.len(), n, "z must have nrows entries");
        for (o, w) in &outs {
            assert_eq!(o.len(), n * w, "each output must be nrows x width");
        }
        let (indptr, indices, data) = (self.indptr(), self.indices(), self.data());
        let tasks = self.chunk_policy().tasks(n, self.nnz());
        let bounds = partition::balanced_bounds(indptr, tasks);
        let blocks = split_outputs(z, outs, &bounds);
        blocks
            .into_par_iter()
            .map(|(rows, zb, ob)| {
                runtime::simd::clear_upper_state();
                for (zi, i) in zb.iter_mut().zip(rows.clone()) {
                    let p = indptr[i]..indptr[i + 1];
                    *zi = dot_row(&indices[p.clone()], &data[p], x);
                }
                f(rows, zb, ob)
            })
            .collect()
    }

    /// `Out = Aᵀ·Y` (`Out`: `ncols × K`, row-major) where the rows of `Y` are produced inside
    /// the pass: for each run of at most 256 rows, `y(rows, y_block, out_blocks)` fills
    /// `y_block` (one `[f64; K]` per row) and may also write the rows' entries of the per-row
    /// outputs `outs` (`nrows × width` each; width 0 = unused). It returns whether its rows
    /// were acceptable (e.g. finite); the kernel returns whether all were. Each column of
    /// `Out` is bitwise what [`CsrMatrix::tr_mul_vec`] gives for that column of `Y` (same
    /// partition and order of operations, no cached transpose), and one update of `K ≤ 4`
    /// lanes costs about one scalar update, so `[y, U]` rides along with the gradient.
    ///
    /// ```
    /// use sparse_ops::CsrMatrix;
    /// let a = CsrMatrix::from_dense(2, 2, &[1.0, 2.0, 0.0, 3.0]).unwrap();
    /// let mut sq = vec![0.0; 2];
    /// let mut out = vec![0.0; 2 * 2];
    /// // Columns y = [1, 2] and y² at once; y² is also kept per row.
    /// let ok = a.tr_mul_then::<2, 1>([(&mut sq[..], 1)], |rows, yb, [sqb]| {
    ///     for ((r, s), i) in yb.iter_mut().zip(sqb.iter_mut()).zip(rows) {
    ///         let y = (i + 1) as f64;
    ///         *r = [y, y * y];
    ///         *s = y * y;
    ///     }
    ///     true
    /// }, &mut out);
    /// assert!(ok);
    /// assert_eq!(out, [1.0, 1.0, 8.0, 14.0]); // Aᵀ[1, 2] = [1, 8], Aᵀ[1, 4] = [1, 14]
    /// assert_eq!(sq, [1.0, 4.0]);
    /// ```
    #[track_caller]
    pub fn tr_mul_then<const K: usize, const M: usize>(
        &self,
        outs: [(&mut [f64], usize); M],
        y: impl Fn(std::ops::Range<usize>, &mut [[f64; K]], [&mut [f64]; M]) -> bool + Sync,
        out: &mut [f64],
    ) -> bool {
        const RUN: usize = 256;
        let n = self.nrows();
        assert_eq!(out.len(), self.ncols() * K, "out must be ncols x K, row-major");
        for (o, w) in &outs {
            assert_eq!(o.len(), n * w, "each output must be nrows x width");
        }
        let (indptr, indices, data) = (self.indptr(), self.indices(), self.data());
        // The partition of `tr_mul_vec` (an output of ncols entries), whatever K is.
        let parts = self.chunk_policy().parts(n, self.nnz(), self.ncols());
        let bounds = partition::balanced_bounds(indptr, parts);
        let widths: [usize; M] = std::array::from_fn(|m| outs[m].1);
        let payloads: Vec<_> = split_outputs(&mut [], outs, &bounds).into_iter().map(|(_, _, ob)| ob).collect();
        let verdicts = crate::csr::reduce_blocks_with(self.scratch(), out, &bounds, payloads, |rows, mut ob, acc| {
            let acc: &mut [[f64; K]] = acc.as_chunks_mut::<K>().0;
            let mut buf = [[0.0f64; K]; RUN];
            let mut ok = true;
            let mut start = rows.start;
            while start < rows.end {
                let end = (start + RUN).min(rows.end);
                let (a, b) = (start - rows.start, end - rows.start);
                let mut m = 0;
                let sub = ob.each_mut().map(|o| {
                    let w = widths[m];
                    m += 1;
                    &mut o[a * w..b * w]
                });
                let yb = &mut buf[..end - start];
                ok &= y(start..end, yb, sub);
                avx2_or_not!(scatter_rows_body(acc, yb, start, indptr, indices, data));
                start = end;
            }
            ok
        });
        verdicts.into_iter().all(|v| v)
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
                // Callers evaluate exp/cosh/sinh per row: no AVX→SSE penalty (runtime::simd).
                runtime::simd::clear_upper_state();
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
                runtime::simd::clear_upper_state();
                f(r, b)
            })
            .collect()
    }
}

/// Cut `z` (width 1; may be empty, then every block gets an empty slice) and each output
/// (`nrows × width`) into the blocks of `bounds`: `(rows, z_block, [out_blocks])` per block.
#[allow(clippy::type_complexity)]
fn split_outputs<'a, const M: usize>(
    z: &'a mut [f64],
    outs: [(&'a mut [f64], usize); M],
    bounds: &[usize],
) -> Vec<(std::ops::Range<usize>, &'a mut [f64], [&'a mut [f64]; M])> {
    let zw = usize::from(!z.is_empty());
    let mut zs = partition::split_rows(z, bounds, zw).into_iter();
    let mut os = outs.map(|(o, w)| partition::split_rows(o, bounds, w).into_iter());
    partition::ranges(bounds)
        .map(|r| {
            let ob = std::array::from_fn(|m| os[m].next().expect("one block per range"));
            (r, zs.next().expect("one block per range"), ob)
        })
        .collect()
}

/// `$body(args…)` compiled for AVX2 when the CPU has it, else as is: the kernels' lane loops
/// then use 4-wide vectors instead of SSE2's 2. (`$body` is `#[inline(always)]`; a closure
/// would not be inlined into the AVX2 copy.) Without `fma` enabled no multiply-add is fused,
/// so both copies perform the same IEEE operations and give the same bits.
macro_rules! avx2_or_not {
    ($body:ident($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn avx2<A>(f: impl FnOnce() -> A) -> A {
            f()
        }
        #[cfg(target_arch = "x86_64")]
        {
            if runtime::simd::Avx2::detect().is_some() {
                // SAFETY: AVX2 is present (the token proves it).
                unsafe { avx2(#[inline(always)] || $body($($arg),*)) }
            } else {
                $body($($arg),*)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            $body($($arg),*)
        }
    }};
}
use avx2_or_not;

/// Row `i` of `A·G` (scalar or AVX2 kernel). (Measured: gathering two rows at once, for twice
/// the independent additions in flight, gained nothing.)
trait GatherRows<const Q: usize> {
    fn one(&self, i: usize) -> [[f64; 4]; Q];
}

#[inline(always)]
fn for_each_gathered<const Q: usize>(
    rows: std::ops::Range<usize>,
    g: &impl GatherRows<Q>,
    mut f: impl FnMut(usize, &[f64]),
) {
    for i in rows {
        f(i, g.one(i).as_flattened());
    }
}

#[inline(always)]
fn map_rows_body<const Q: usize>(
    block: &mut [f64],
    rows: std::ops::Range<usize>,
    gather: &impl GatherRows<Q>,
    f: &impl Fn(usize, &[f64]) -> f64,
) {
    let start = rows.start;
    for_each_gathered(rows, gather, |i, row| block[i - start] = f(i, row));
}

#[inline(always)]
fn filter_rows_body<const Q: usize>(
    rows: std::ops::Range<usize>,
    gather: &impl GatherRows<Q>,
    f: &impl Fn(usize, &[f64]) -> Option<f64>,
) -> (Vec<usize>, Vec<f64>) {
    let (mut kept, mut vals) = (Vec::new(), Vec::new());
    for_each_gathered(rows, gather, |i, row| {
        if let Some(v) = f(i, row) {
            kept.push(i);
            vals.push(v);
        }
    });
    (kept, vals)
}

/// [`map_rows_body`] with the AVX2 gather (and `f` compiled for AVX2 too).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn map_rows_avx2<const Q: usize>(
    block: &mut [f64],
    rows: std::ops::Range<usize>,
    rg: &RowGather<'_, Q>,
    f: &impl Fn(usize, &[f64]) -> f64,
) {
    map_rows_body(block, rows, &Avx2(rg), f)
}

/// [`filter_rows_body`] with the AVX2 gather.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn filter_rows_avx2<const Q: usize>(
    rows: std::ops::Range<usize>,
    rg: &RowGather<'_, Q>,
    f: &impl Fn(usize, &[f64]) -> Option<f64>,
) -> (Vec<usize>, Vec<f64>) {
    filter_rows_body(rows, &Avx2(rg), f)
}

/// Four lanes on a 32-byte boundary, so that an AVX2 load never straddles two cache lines.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Quad([f64; 4]);

impl std::ops::Index<usize> for Quad {
    type Output = f64;
    #[inline(always)]
    fn index(&self, l: usize) -> &f64 {
        &self.0[l]
    }
}

/// Rows of `A·G` for a dense row-major `G` with `4Q` columns, one row at a time.
struct RowGather<'a, const Q: usize> {
    indptr: &'a [usize],
    indices: &'a [u32],
    data: &'a [f64],
    /// A copy of `G` as rows of `Q` aligned four-lane groups (`O(d·k)`, small next to `nnz·k`).
    g: Vec<[Quad; Q]>,
}

impl<'a, const Q: usize> RowGather<'a, Q> {
    fn new(a: &'a CsrMatrix, g: &[f64]) -> Self {
        let g = g.as_chunks::<4>().0.as_chunks::<Q>().0.iter().map(|row| row.map(Quad)).collect();
        Self { indptr: a.indptr(), indices: a.indices(), data: a.data(), g }
    }

    /// `Σ_p a_ip · G[j_p]` for row `i`, lane by lane (a multiply, then an add: no FMA, so the
    /// same bits as [`Self::gather_avx2`]).
    #[inline(always)]
    fn gather(&self, i: usize) -> [[f64; 4]; Q] {
        let mut buf = [[0.0f64; 4]; Q];
        let p = self.indptr[i]..self.indptr[i + 1];
        for (&j, &v) in self.indices[p.clone()].iter().zip(&self.data[p]) {
            let gj = &self.g[j as usize];
            for q in 0..Q {
                for l in 0..4 {
                    buf[q][l] += v * gj[q][l];
                }
            }
        }
        buf
    }

    /// [`Self::gather`] in AVX2 registers, one per four lanes: left to LLVM, the 16-lane case
    /// came out as one 4-wide and six 2-wide registers with shuffles.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[inline]
    fn gather_avx2(&self, i: usize) -> [[f64; 4]; Q] {
        let mut acc = [std::arch::x86_64::_mm256_setzero_pd(); Q];
        let p = self.indptr[i]..self.indptr[i + 1];
        for (&j, &v) in self.indices[p.clone()].iter().zip(&self.data[p]) {
            self.axpy_avx2(&mut acc, j, v);
        }
        store(&acc)
    }

    /// `acc += v · G[j]`, lane by lane (multiply, then add).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[inline]
    fn axpy_avx2(&self, acc: &mut [std::arch::x86_64::__m256d; Q], j: u32, v: f64) {
        use std::arch::x86_64::{_mm256_add_pd, _mm256_loadu_pd, _mm256_mul_pd, _mm256_set1_pd};
        let (gj, vv) = (&self.g[j as usize], _mm256_set1_pd(v));
        for q in 0..Q {
            // SAFETY: `gj[q]` is four contiguous f64.
            let x = unsafe { _mm256_loadu_pd(gj[q].0.as_ptr()) };
            acc[q] = _mm256_add_pd(acc[q], _mm256_mul_pd(vv, x));
        }
    }
}

/// The lanes of `Q` AVX2 registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn store<const Q: usize>(acc: &[std::arch::x86_64::__m256d; Q]) -> [[f64; 4]; Q] {
    let mut buf = [[0.0f64; 4]; Q];
    for q in 0..Q {
        // SAFETY: `buf[q]` is four contiguous f64.
        unsafe { std::arch::x86_64::_mm256_storeu_pd(buf[q].as_mut_ptr(), acc[q]) };
    }
    buf
}

impl<const Q: usize> GatherRows<Q> for RowGather<'_, Q> {
    #[inline(always)]
    fn one(&self, i: usize) -> [[f64; 4]; Q] {
        self.gather(i)
    }
}

/// [`RowGather`] through its AVX2 kernels; only built once AVX2 is known to be present.
#[cfg(target_arch = "x86_64")]
struct Avx2<'r, 'a, const Q: usize>(&'r RowGather<'a, Q>);

#[cfg(target_arch = "x86_64")]
impl<const Q: usize> GatherRows<Q> for Avx2<'_, '_, Q> {
    #[inline(always)]
    fn one(&self, i: usize) -> [[f64; 4]; Q] {
        // SAFETY: an `Avx2` is only made after AVX2 was detected.
        unsafe { self.0.gather_avx2(i) }
    }
}

/// `acc[j] += a_ij · y_i` (`K` lanes) for the rows `start..start + y.len()`.
#[inline(always)]
fn scatter_rows_body<const K: usize>(
    acc: &mut [[f64; K]],
    y: &[[f64; K]],
    start: usize,
    indptr: &[usize],
    indices: &[u32],
    data: &[f64],
) {
    for (yi, i) in y.iter().zip(start..) {
        for p in indptr[i]..indptr[i + 1] {
            let (a, v) = (&mut acc[indices[p] as usize], data[p]);
            for l in 0..K {
                a[l] += v * yi[l];
            }
        }
    }
}

//! Sketching operators `S ∈ R^{k×n}`, built as values from (kind, sizes, seed).

use std::sync::atomic::{AtomicBool, Ordering};

use faer::Mat;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use sparse_ops::CsrMatrix;

use crate::error::SketchError;
use crate::rng;

/// The distribution of a sketching operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Embedding {
    /// Clarkson–Woodruff: each column of `S` has one `±1` at a random row.
    CountSketch,
    /// OSNAP / sparse sign: each column has `nnz_per_col` entries `±1/√s` in distinct rows
    /// (one in each of `s` row blocks).
    SparseSign {
        /// Nonzeros `s` per column of `S` (`1 ≤ s ≤ rows`).
        nnz_per_col: usize,
    },
    /// Dense `N(0, 1/k)` entries: `O(k·nnz)` to apply; for comparisons on small problems.
    Gaussian,
}

/// A sketching operator `S` (`rows × cols`). Entries are a function of `(seed, column)`, so
/// applying it is deterministic and parallel; nothing mutates a caller's RNG.
#[derive(Debug, Clone, PartialEq)]
pub struct SketchOperator {
    kind: Embedding,
    rows: usize,
    cols: usize,
    seed: u64,
    /// One hash key per nonzero of a column, precomputed from the seed.
    keys: Vec<rng::Key>,
}

impl SketchOperator {
    /// A `rows × cols` operator of distribution `kind` whose entries are fixed by `seed`; errors if
    /// `rows` is 0 or above `u32::MAX`, or `nnz_per_col` is not in `1..=rows`.
    pub fn new(kind: Embedding, rows: usize, cols: usize, seed: u64) -> Result<Self, SketchError> {
        if rows > u32::MAX as usize {
            return Err(SketchError::InvalidParameter(format!("{rows} sketch rows exceed 2^32 − 1")));
        }
        if rows == 0 {
            return Err(SketchError::InvalidParameter("a sketch needs at least one row".into()));
        }
        if let Embedding::SparseSign { nnz_per_col: s } = kind
            && (s == 0 || s > rows)
        {
            return Err(SketchError::InvalidParameter(format!("nnz_per_col = {s} must be in 1..={rows}")));
        }
        let s = match kind {
            Embedding::CountSketch => 1,
            Embedding::SparseSign { nnz_per_col } => nnz_per_col,
            Embedding::Gaussian => 0,
        };
        let keys = (0..s).map(|t| rng::Key::new(seed, rng::STREAM_BUCKET + 16 * t as u64)).collect();
        Ok(Self { kind, rows, cols, seed, keys })
    }

    /// The distribution of `S`.
    pub fn kind(&self) -> Embedding {
        self.kind
    }
    /// `k`, the rows of `S`.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// `n`, the columns of `S` (rows of the matrices it applies to).
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// The seed its entries derive from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Nonzeros per column.
    pub fn nnz_per_col(&self) -> usize {
        match self.kind {
            Embedding::CountSketch => 1,
            Embedding::SparseSign { nnz_per_col } => nnz_per_col,
            Embedding::Gaussian => self.rows,
        }
    }

    /// Entries `(row, value)` of column `i`, written into `out` (cleared first).
    pub fn column(&self, i: usize, out: &mut Vec<(usize, f64)>) {
        out.clear();
        let (k, seed, i64) = (self.rows, self.seed, i as u64);
        match self.kind {
            Embedding::CountSketch | Embedding::SparseSign { .. } => {
                let s = self.nnz_per_col();
                let scale = 1.0 / (s as f64).sqrt();
                for t in 0..s {
                    // Row block t is [t·k/s, (t+1)·k/s): one entry in each, so rows are distinct.
                    // One hash gives both the row (high bits) and the sign (lowest bit).
                    let (lo, hi) = (t * k / s, (t + 1) * k / s);
                    let h = self.keys[t].hash(i64);
                    let row = lo + rng::bucket(h, hi - lo);
                    let sign = if h & 1 == 0 { 1.0 } else { -1.0 };
                    out.push((row, sign * scale));
                }
            }
            Embedding::Gaussian => {
                let mut g = Xoshiro256PlusPlus::seed_from_u64(rng::hash(seed, rng::STREAM_GAUSS, i64));
                let scale = 1.0 / (k as f64).sqrt();
                out.extend((0..k).map(|r| {
                    let x: f64 = StandardNormal.sample(&mut g);
                    (r, scale * x)
                }));
            }
        }
    }

    /// `S·diag(√w)·A` as a dense `rows × d` matrix. Cost `O(s·nnz(A) + rows·d·P)` for a sparse
    /// embedding with `s` nonzeros per column (`P` fixed partial sums), `O(rows·nnz(A))` for
    /// Gaussian. Deterministic for any thread count.
    pub fn apply(&self, a: &CsrMatrix, weights: Option<&[f64]>) -> Result<Mat<f64>, SketchError> {
        let (n, d) = a.shape();
        if self.cols != n {
            return Err(SketchError::DimensionMismatch {
                what: "sketch columns vs rows of A",
                expected: n,
                found: self.cols,
            });
        }
        let mut out = vec![0.0; self.rows * d];
        let (indptr, indices, data) = (a.indptr(), a.indices(), a.data());
        // `acc[off + j] += f·a_ij` for the nonzeros of row `i` (the hot loop: one scattered
        // load-add-store per nonzero into the `k×d` partial).
        let scatter = |acc: &mut [f64], i: usize, off: usize, f: f64| {
            let dst = &mut acc[off..off + d];
            let p = indptr[i]..indptr[i + 1];
            for (&j, &v) in indices[p.clone()].iter().zip(&data[p]) {
                dst[j as usize] += f * v;
            }
        };
        if self.kind == Embedding::CountSketch {
            if let Some(w) = weights
                && w.len() != n
            {
                return Err(crate::check_weights(w, n).expect_err("a length mismatch"));
            }
            // The weights are checked inside the pass (a separate O(n) check cost 0.3 `A·x`);
            // a bad one is located afterwards.
            let bad = AtomicBool::new(false);
            // The common case: one hash per row gives the bucket (high bits) and the sign.
            // Buckets and signed factors for a run of rows first, in branch-free loops that
            // LLVM vectorises (2-wide SSE2 multiplies for the hash, `sqrtpd`), then the
            // scatter.
            const RUN: usize = 256;
            let (key, k) = (self.keys[0], self.rows);
            a.reduce_rows_into(&mut out, |rows, acc| {
                let (mut offset, mut factor) = ([0usize; RUN], [0.0f64; RUN]);
                let mut start = rows.start;
                while start < rows.end {
                    let run = start..(start + RUN).min(rows.end);
                    let (offset, factor) = (&mut offset[..run.len()], &mut factor[..run.len()]);
                    match weights {
                        Some(w) => {
                            let mut ok = true;
                            for (f, &x) in factor.iter_mut().zip(&w[run.clone()]) {
                                ok &= (x >= 0.0) & x.is_finite();
                                *f = x.sqrt();
                            }
                            if !ok {
                                bad.store(true, Ordering::Relaxed);
                            }
                        }
                        None => factor.fill(1.0),
                    }
                    for ((o, f), i) in offset.iter_mut().zip(factor.iter_mut()).zip(run.clone()) {
                        let h = key.hash(i as u64);
                        *o = rng::bucket(h, k) * d;
                        // The lowest bit is the sign: flip the sign bit of √w (−0 for w = 0).
                        *f = f64::from_bits(f.to_bits() ^ ((h & 1) << 63));
                    }
                    for ((&o, &f), i) in offset.iter().zip(factor.iter()).zip(run.clone()) {
                        if f != 0.0 {
                            scatter(acc, i, o, f);
                        }
                    }
                    start = run.end;
                }
            });
            if let Some(w) = weights
                && bad.into_inner()
            {
                return Err(crate::check_weights(w, n).expect_err("a bad weight was seen"));
            }
        } else {
            if let Some(w) = weights {
                crate::check_weights(w, n)?;
            }
            let sqrt_w = |i: usize| weights.map_or(1.0, |w| w[i].sqrt());
            a.reduce_rows_into(&mut out, |rows, acc| {
                let mut col = Vec::new();
                for i in rows {
                    let sw = sqrt_w(i);
                    if sw == 0.0 {
                        continue;
                    }
                    self.column(i, &mut col);
                    for &(r, s) in &col {
                        scatter(acc, i, r * d, s * sw);
                    }
                }
            });
        }
        Ok(faer::MatRef::from_row_major_slice(&out, self.rows, d).to_owned())
    }
}

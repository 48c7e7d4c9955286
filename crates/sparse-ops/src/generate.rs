//! Seeded random sparse matrices.
//!
//! Rows are generated in fixed blocks of [`GEN_BLOCK_ROWS`], each block from its own
//! `Xoshiro256PlusPlus` stream seeded by `(seed, block)`, so the matrix depends only on the
//! specification and the seed, never on the thread count.

use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use crate::csr::CsrMatrix;
use crate::error::StructureError;

/// Rows per independent random stream.
pub const GEN_BLOCK_ROWS: usize = 4096;

/// How many nonzeros each row gets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sparsity {
    /// Each entry is nonzero independently with this probability (`0 < p ≤ 1`).
    Density(f64),
    /// Exactly this many nonzeros per row, at distinct uniformly random columns.
    RowNnz(usize),
}

/// The kind of matrix.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Variant {
    /// Standard normal values.
    #[default]
    Plain,
    /// Column `j` scaled by `10^(−orders·j/(d−1))`: condition number grows by about `10^orders`.
    IllConditioned {
        /// Decades of column scaling: the condition number grows by about `10^orders`.
        orders: f64,
    },
    /// `spikes` columns are each nonzero in a single row only, so those rows have leverage
    /// exactly 1: a sampler that misses one loses a direction of `AᵀA`.
    Coherent {
        /// Number of single-row spike columns.
        spikes: usize,
    },
}

impl Variant {
    /// The variants' names (what [`std::str::FromStr`] accepts), in declaration order.
    pub const NAMES: &'static [&'static str] = &["plain", "ill-conditioned", "coherent"];

    /// This variant's name.
    pub fn name(&self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::IllConditioned { .. } => "ill-conditioned",
            Variant::Coherent { .. } => "coherent",
        }
    }
}

/// A variant by name, with its default parameter (`orders = 4`, `spikes = 5`).
impl std::str::FromStr for Variant {
    type Err = runtime::names::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "plain" => Ok(Variant::Plain),
            "ill-conditioned" => Ok(Variant::IllConditioned { orders: 4.0 }),
            "coherent" => Ok(Variant::Coherent { spikes: 5 }),
            _ => Err(runtime::names::UnknownName { kind: "Variant", given: s.into(), expected: Self::NAMES }),
        }
    }
}

/// A random sparse matrix specification.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenSpec {
    /// Number of rows.
    pub nrows: usize,
    /// Number of columns.
    pub ncols: usize,
    /// How many nonzeros, and where.
    pub sparsity: Sparsity,
    /// Value distribution and structure.
    pub variant: Variant,
    /// Seed of every random choice (same seed, same matrix).
    pub seed: u64,
}

/// Per-block stream: the seed and the block index mixed by SplitMix64 (inside
/// `seed_from_u64`) so neighbouring blocks get unrelated states.
pub fn block_rng(seed: u64, block: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed ^ block.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17))
}

/// Generate a random sparse matrix. Cost `O(nnz·log(row nnz) + n)`, parallel over fixed blocks.
///
/// ```
/// use sparse_ops::generate::{random_sparse, GenSpec, Sparsity, Variant};
/// let spec = GenSpec { nrows: 100, ncols: 10, sparsity: Sparsity::RowNnz(3), variant: Variant::Plain, seed: 7 };
/// let a = random_sparse(&spec).unwrap();
/// assert_eq!(a.nnz(), 300);
/// assert_eq!(a, random_sparse(&spec).unwrap());
/// ```
pub fn random_sparse(spec: &GenSpec) -> Result<CsrMatrix, StructureError> {
    let (n, d) = (spec.nrows, spec.ncols);
    let spikes = match spec.variant {
        Variant::Coherent { spikes } => {
            if spikes == 0 || spikes >= d || spikes > n {
                return Err(StructureError::InvalidArgument(format!(
                    "coherent variant needs 0 < spikes < d and spikes <= n (spikes = {spikes}, n = {n}, d = {d})"
                )));
            }
            spikes
        }
        Variant::IllConditioned { orders } if !(orders.is_finite() && (0.0..=300.0).contains(&orders)) => {
            return Err(StructureError::InvalidArgument(format!("orders must be in [0, 300], got {orders}")));
        }
        _ => 0,
    };
    let dense_cols = d - spikes;
    match spec.sparsity {
        Sparsity::Density(p) if !(p > 0.0 && p <= 1.0) => {
            return Err(StructureError::InvalidArgument(format!("density must be in (0, 1], got {p}")));
        }
        Sparsity::RowNnz(k) if k > dense_cols => {
            return Err(StructureError::InvalidArgument(format!(
                "{k} nonzeros per row exceed the {dense_cols} available columns"
            )));
        }
        _ => {}
    }
    if d > u32::MAX as usize {
        return Err(StructureError::TooLarge { dim: d, max: u32::MAX as usize });
    }
    check_memory(n, dense_cols, spec.sparsity, spikes)?;
    let blocks: Vec<(Vec<usize>, Vec<u32>, Vec<f64>)> = (0..n.div_ceil(GEN_BLOCK_ROWS))
        .into_par_iter()
        .map(|b| {
            let mut rng = block_rng(spec.seed, b as u64);
            let rows = b * GEN_BLOCK_ROWS..((b + 1) * GEN_BLOCK_ROWS).min(n);
            let mut counts = Vec::with_capacity(rows.len());
            let mut cols = Vec::new();
            let mut vals = Vec::new();
            for _ in rows {
                let start = cols.len();
                match spec.sparsity {
                    Sparsity::RowNnz(k) => floyd_sample(&mut rng, dense_cols, k, &mut cols),
                    Sparsity::Density(p) => geometric_sample(&mut rng, dense_cols, p, &mut cols),
                }
                cols[start..].sort_unstable();
                vals.extend((start..cols.len()).map(|_| rng.sample::<f64, _>(StandardNormal)));
                counts.push(cols.len() - start);
            }
            (counts, cols, vals)
        })
        .collect();
    let nnz: usize = blocks.iter().map(|b| b.1.len()).sum();
    let mut indptr = Vec::with_capacity(n + 1);
    indptr.push(0);
    let mut indices = Vec::with_capacity(nnz + spikes);
    let mut data = Vec::with_capacity(nnz + spikes);
    for (counts, cols, vals) in blocks {
        for c in counts {
            indptr.push(indptr.last().unwrap() + c);
        }
        indices.extend(cols);
        data.extend(vals);
    }
    let mut a = CsrMatrix::try_from_csr(n, d, indptr, indices, data)?;
    match spec.variant {
        Variant::Plain => {}
        Variant::IllConditioned { orders } => {
            let denom = (d.max(2) - 1) as f64;
            let s: Vec<f64> = (0..d).map(|j| 10f64.powf(-orders * j as f64 / denom)).collect();
            a.scale_columns(&s)?;
        }
        Variant::Coherent { spikes } => a = add_spikes(a, spikes, spec.seed)?,
    }
    Ok(a)
}

/// Refuse before allocating a matrix whose generation cannot fit in memory: the blocks and
/// the assembled CSR arrays are alive together (12 bytes a nonzero each, 8 a row), the
/// coherent variant adds a triplet copy (24 bytes a nonzero).
fn check_memory(n: usize, dense_cols: usize, sparsity: Sparsity, spikes: usize) -> Result<(), StructureError> {
    let nnz = match sparsity {
        Sparsity::RowNnz(k) => n as f64 * k as f64,
        Sparsity::Density(p) => n as f64 * dense_cols as f64 * p,
    };
    let per_nnz = if spikes > 0 { 48.0 } else { 24.0 };
    let bytes = nnz * per_nnz + n as f64 * 16.0;
    let what = || format!("a random {n} x {} matrix with about {nnz:.0} nonzeros", dense_cols + spikes);
    match crate::io::limits::available_memory() {
        Some(available) if bytes > available as f64 => {
            Err(StructureError::TooLargeForMemory { what: what(), bytes: bytes as u64, available })
        }
        // Without a figure from the system, still refuse what no address space holds.
        _ if bytes > isize::MAX as f64 => {
            Err(StructureError::TooLargeForMemory { what: what(), bytes: bytes as u64, available: 0 })
        }
        _ => Ok(()),
    }
}

/// `k` distinct values in `0..d` (Floyd's algorithm: `O(k)` expected draws, `O(k²)` checks;
/// k is a row's nonzero count, so small).
fn floyd_sample(rng: &mut Xoshiro256PlusPlus, d: usize, k: usize, out: &mut Vec<u32>) {
    let start = out.len();
    for j in d - k..d {
        let t = rng.random_range(0..=j) as u32;
        if out[start..].contains(&t) {
            out.push(j as u32);
        } else {
            out.push(t);
        }
    }
}

/// Each of `0..d` independently with probability `p`, by geometric skips (`O(output)`).
fn geometric_sample(rng: &mut Xoshiro256PlusPlus, d: usize, p: f64, out: &mut Vec<u32>) {
    if p >= 1.0 {
        out.extend(0..d as u32);
        return;
    }
    let log_q = (1.0 - p).ln();
    let mut j: f64 = -1.0;
    loop {
        let u: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]
        j += 1.0 + (u.ln() / log_q).floor();
        if j >= d as f64 {
            return;
        }
        out.push(j as u32);
    }
}

/// Put one entry in each of the last `spikes` columns, each in its own random row.
fn add_spikes(a: CsrMatrix, spikes: usize, seed: u64) -> Result<CsrMatrix, StructureError> {
    let (n, d) = a.shape();
    let mut rng = block_rng(seed, u64::MAX);
    let mut rows = Vec::with_capacity(spikes);
    floyd_sample(&mut rng, n, spikes, &mut rows);
    let mut triplets: Vec<(usize, usize, f64)> = Vec::with_capacity(a.nnz() + spikes);
    for i in 0..n {
        let (cols, vals) = a.row(i);
        triplets.extend(cols.iter().zip(vals).map(|(&j, &v)| (i, j as usize, v)));
    }
    for (s, &r) in rows.iter().enumerate() {
        triplets.push((r as usize, d - spikes + s, 1.0 + rng.random::<f64>()));
    }
    CsrMatrix::from_triplets(n, d, &triplets, crate::csr::Duplicates::Reject)
}

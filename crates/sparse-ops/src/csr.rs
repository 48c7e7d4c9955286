//! The checked CSR matrix type.

use std::ops::Range;
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::error::StructureError;
use runtime::partition::{self, ChunkPolicy};
use runtime::pool::BufferPool;

/// The `sprs` matrix type this crate wraps: `f64` values, `u32` column indices (12 bytes per
/// nonzero instead of 16) and `usize` row pointers. The values and column indices live in a
/// [`CsrBuffer`] (owned, or borrowed from a caller's array without a copy); `sprs`'s views and
/// algorithms work on it as on `CsMatI<f64, u32, usize>`.
pub type SprsCsr = sprs::CsMatBase<f64, u32, Vec<usize>, CsrBuffer<u32>, CsrBuffer<f64>, usize>;

/// Storage of a CSR array: an owned `Vec`, or a read-only buffer that belongs to someone else
/// (a NumPy array, a memory map) and is kept alive by an owner handle, so that a matrix can be
/// built over it without copying `12·nnz` bytes. Cloning a borrowed buffer shares it.
pub struct CsrBuffer<T> {
    repr: Repr<T>,
}

enum Repr<T> {
    Owned(Vec<T>),
    Borrowed {
        ptr: std::ptr::NonNull<T>,
        len: usize,
        /// Keeps the memory alive; never read.
        _owner: std::sync::Arc<dyn std::any::Any + Send + Sync>,
    },
}

// SAFETY: a borrowed buffer is only ever read (no `DerefMut`), its owner is `Send + Sync`, and
// the contract of `CsrBuffer::borrowed` forbids mutation while any handle lives; so sharing it
// across threads is as safe as sharing `&[T]`.
unsafe impl<T: Send + Sync> Send for CsrBuffer<T> {}
unsafe impl<T: Send + Sync> Sync for CsrBuffer<T> {}

impl<T> CsrBuffer<T> {
    /// Borrow `len` elements at `ptr`, kept alive by `owner`.
    ///
    /// # Safety
    ///
    /// `ptr` must be non-null, aligned for `T` and valid for reads of `len` elements for as long
    /// as `owner` (or any clone of this buffer) lives, and nothing may write to that memory in
    /// that time: a matrix built over it assumes the values it validated stay as they were.
    pub unsafe fn borrowed(ptr: *const T, len: usize, owner: std::sync::Arc<dyn std::any::Any + Send + Sync>) -> Self {
        let ptr = std::ptr::NonNull::new(ptr.cast_mut()).expect("CsrBuffer::borrowed: null pointer");
        Self { repr: Repr::Borrowed { ptr, len, _owner: owner } }
    }

    /// Whether the elements belong to someone else (no copy was made).
    pub fn is_borrowed(&self) -> bool {
        matches!(self.repr, Repr::Borrowed { .. })
    }

    /// The elements as an owned `Vec` (a copy if borrowed).
    pub fn into_vec(self) -> Vec<T>
    where
        T: Clone,
    {
        match self.repr {
            Repr::Owned(v) => v,
            Repr::Borrowed { .. } => self.to_vec(),
        }
    }
}

impl<T> From<Vec<T>> for CsrBuffer<T> {
    fn from(v: Vec<T>) -> Self {
        Self { repr: Repr::Owned(v) }
    }
}

impl<T> std::ops::Deref for CsrBuffer<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match &self.repr {
            Repr::Owned(v) => v,
            // SAFETY: the contract of `CsrBuffer::borrowed`.
            Repr::Borrowed { ptr, len, .. } => unsafe { std::slice::from_raw_parts(ptr.as_ptr(), *len) },
        }
    }
}

impl<T: Clone> Clone for CsrBuffer<T> {
    fn clone(&self) -> Self {
        match &self.repr {
            Repr::Owned(v) => Self { repr: Repr::Owned(v.clone()) },
            Repr::Borrowed { ptr, len, _owner } => {
                Self { repr: Repr::Borrowed { ptr: *ptr, len: *len, _owner: _owner.clone() } }
            }
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for CsrBuffer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.is_borrowed() { "borrowed" } else { "owned" };
        f.debug_struct("CsrBuffer").field("kind", &kind).field("len", &self.len()).finish()
    }
}

/// What to do with two entries at the same position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Duplicates {
    /// Add them (the Matrix Market convention for assembled matrices).
    #[default]
    Sum,
    /// Report an error.
    Reject,
}

/// A sparse `n×d` matrix in compressed sparse row form with validated structure: row pointers
/// consistent, column indices in range and strictly increasing within each row, every value
/// finite. Explicit zeros are allowed (they are part of the structure).
///
/// Memory: `12·nnz + 8·(n+1)` bytes; [`CsrMatrix::cache_transpose`] adds as much again for
/// `Aᵀ` (`12·nnz + 8·(d+1)`). Reductions keep their partial sums for the next call, within
/// [`ChunkPolicy::reduce_bytes`] (64 MiB by default; [`CsrMatrix::release_scratch`] frees
/// them): fresh partials cost a page fault per 4 KiB, more than the arithmetic of a large one.
#[derive(Debug)]
pub struct CsrMatrix {
    inner: SprsCsr,
    /// Whether `inner`'s indices or values are borrowed (sprs gives no access to the storage).
    borrowed: bool,
    policy: ChunkPolicy,
    transpose: OnceLock<Box<CsrMatrix>>,
    scratch: BufferPool,
}

impl Clone for CsrMatrix {
    /// The matrix, its policy and cached transpose; not the spare partial sums.
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            borrowed: self.borrowed,
            policy: self.policy,
            transpose: self.transpose.clone(),
            scratch: scratch_pool(&self.policy),
        }
    }
}

fn scratch_pool(policy: &ChunkPolicy) -> BufferPool {
    BufferPool::new(policy.max_parts, policy.reduce_bytes)
}

impl PartialEq for CsrMatrix {
    /// Same shape, structure and values (the chunk policy and caches are ignored).
    fn eq(&self, other: &Self) -> bool {
        self.shape() == other.shape()
            && self.indptr() == other.indptr()
            && self.indices() == other.indices()
            && self.data().iter().zip(other.data()).all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl CsrMatrix {
    /// Build from raw CSR arrays, validating everything (`O(nnz + nrows)`, on the rayon pool in
    /// fixed row ranges of about 2¹⁶ nonzeros; the error reported is the first a row-by-row scan
    /// would meet, whatever the thread count).
    ///
    /// ```
    /// use sparse_ops::CsrMatrix;
    /// let a = CsrMatrix::try_from_csr(2, 3, vec![0, 2, 3], vec![0, 2, 1], vec![1.0, 2.0, 3.0]).unwrap();
    /// assert_eq!(a.nnz(), 3);
    /// assert!(CsrMatrix::try_from_csr(2, 3, vec![0, 2, 3], vec![0, 7, 1], vec![1.0, 2.0, 3.0]).is_err());
    /// ```
    pub fn try_from_csr(
        nrows: usize,
        ncols: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        data: Vec<f64>,
    ) -> Result<Self, StructureError> {
        Self::try_from_buffers(nrows, ncols, indptr, indices.into(), data.into())
    }

    /// [`CsrMatrix::try_from_csr`] over [`CsrBuffer`]s, which may borrow a caller's arrays
    /// (e.g. a SciPy matrix's `indices` and `data`) instead of owning them: no copy, the same
    /// validation (`O(nnz)`). The borrowed memory must not be written while the matrix (or a
    /// clone of it) lives.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use sparse_ops::{CsrBuffer, CsrMatrix};
    /// let values = Arc::new(vec![1.0, 2.0, 3.0]);
    /// // SAFETY: `values` is kept alive by the owner handle and never written.
    /// let data = unsafe { CsrBuffer::borrowed(values.as_ptr(), values.len(), values.clone()) };
    /// let a = CsrMatrix::try_from_buffers(2, 3, vec![0, 2, 3], vec![0, 2, 1].into(), data)?;
    /// assert_eq!(a.data().as_ptr(), values.as_ptr()); // not copied
    /// assert!(a.is_borrowed());
    /// # Ok::<(), sparse_ops::StructureError>(())
    /// ```
    pub fn try_from_buffers(
        nrows: usize,
        ncols: usize,
        indptr: Vec<usize>,
        indices: CsrBuffer<u32>,
        data: CsrBuffer<f64>,
    ) -> Result<Self, StructureError> {
        Self::build(nrows, ncols, indptr, indices, data, false)
    }

    /// [`CsrMatrix::try_from_csr`] for arrays whose rows this crate has just sorted and merged
    /// or found strictly increasing ([`all_rows_strictly_increasing`]): every other check, one
    /// pass over the indices fewer.
    pub(crate) fn try_from_ordered_rows(
        nrows: usize,
        ncols: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        data: Vec<f64>,
    ) -> Result<Self, StructureError> {
        Self::build(nrows, ncols, indptr, indices.into(), data.into(), true)
    }

    /// [`CsrMatrix::try_from_csr`] for arrays whose entries this crate has just checked
    /// (column indices below `ncols`, each row strictly increasing, values finite) as they were
    /// read: only the `O(nrows)` row pointer checks are left.
    pub(crate) fn try_from_checked_entries(
        nrows: usize,
        ncols: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        data: Vec<f64>,
    ) -> Result<Self, StructureError> {
        check_dim(ncols)?;
        if indptr.len() != nrows + 1
            || indptr[0] != 0
            || indptr[nrows] != indices.len()
            || indices.len() != data.len()
            || !indptr.windows(2).all(|w| w[0] <= w[1])
        {
            // Not what the caller promised: the full check names the problem.
            return Self::try_from_csr(nrows, ncols, indptr, indices, data);
        }
        debug_assert!(indices.iter().all(|&j| (j as usize) < ncols) && data.iter().all(|v| v.is_finite()));
        debug_assert!(all_rows_strictly_increasing(&indptr, &indices));
        // SAFETY: the row pointers were just checked (length nrows + 1, from 0 to nnz without
        // decreasing, nnz the length of both arrays); the caller checked every entry (below
        // ncols, which fits `u32` by `check_dim`; each row strictly increasing), the promise
        // of this function, which the debug assertions verify in every test build.
        let inner = unsafe {
            SprsCsr::new_unchecked(sprs::CompressedStorage::CSR, (nrows, ncols), indptr, indices.into(), data.into())
        };
        Ok(Self::from_valid(inner))
    }

    fn build(
        nrows: usize,
        ncols: usize,
        indptr: Vec<usize>,
        indices: CsrBuffer<u32>,
        data: CsrBuffer<f64>,
        rows_ordered: bool,
    ) -> Result<Self, StructureError> {
        check_dim(ncols)?;
        if indptr.len() != nrows + 1 {
            return Err(StructureError::BadIndptr(format!("length {} but nrows + 1 = {}", indptr.len(), nrows + 1)));
        }
        if indptr[0] != 0 || indptr[nrows] != indices.len() || indices.len() != data.len() {
            return Err(StructureError::BadIndptr(format!(
                "starts at {}, ends at {}, with {} indices and {} values",
                indptr[0],
                indptr[nrows],
                indices.len(),
                data.len()
            )));
        }
        validate_rows(ncols, &indptr, &indices, &data, rows_ordered)?;
        let borrowed = indices.is_borrowed() || data.is_borrowed();
        // SAFETY: `validate_rows` and the checks above establish everything sprs'
        // `check_compressed_structure` does (and more): indptr of length nrows + 1, from 0 to
        // nnz without decreasing; indices and data of length nnz; each row's indices strictly
        // increasing and below ncols, which fits `u32` (`check_dim`).
        let inner =
            unsafe { SprsCsr::new_unchecked(sprs::CompressedStorage::CSR, (nrows, ncols), indptr, indices, data) };
        let mut m = Self::from_valid(inner);
        m.borrowed = borrowed;
        Ok(m)
    }

    fn from_valid(inner: SprsCsr) -> Self {
        let policy = ChunkPolicy::default();
        Self { inner, borrowed: false, scratch: scratch_pool(&policy), policy, transpose: OnceLock::new() }
    }

    /// Build from `(row, col, value)` triplets in any order (0-based), summing or rejecting
    /// duplicates. `O(nnz + n)` plus a sort of each row.
    pub fn from_triplets(
        nrows: usize,
        ncols: usize,
        triplets: &[(usize, usize, f64)],
        duplicates: Duplicates,
    ) -> Result<Self, StructureError> {
        check_dim(ncols)?;
        let mut counts = vec![0usize; nrows + 1];
        for &(i, j, v) in triplets {
            if i >= nrows {
                return Err(StructureError::InvalidArgument(format!("row index {i} >= nrows {nrows}")));
            }
            if j >= ncols {
                return Err(StructureError::ColumnOutOfRange { row: i, index: j, ncols });
            }
            if !v.is_finite() {
                return Err(StructureError::NonFinite { row: i, col: j, value: v });
            }
            counts[i + 1] += 1;
        }
        for i in 0..nrows {
            counts[i + 1] += counts[i];
        }
        let mut next = counts.clone();
        let mut indices = vec![0u32; triplets.len()];
        let mut data = vec![0.0; triplets.len()];
        for &(i, j, v) in triplets {
            indices[next[i]] = j as u32;
            data[next[i]] = v;
            next[i] += 1;
        }
        let (indptr, indices, data) = sort_and_merge_rows(counts, indices, data, duplicates)
            .map_err(|(row, col)| StructureError::InvalidArgument(format!("duplicate entry at ({row}, {col})")))?;
        Self::try_from_csr(nrows, ncols, indptr, indices, data)
    }

    /// Build from a dense row-major array, keeping the nonzero entries.
    pub fn from_dense(nrows: usize, ncols: usize, values: &[f64]) -> Result<Self, StructureError> {
        if values.len() != nrows * ncols {
            return Err(StructureError::DimensionMismatch {
                what: "dense values".into(),
                expected: nrows * ncols,
                found: values.len(),
            });
        }
        let triplets: Vec<_> = (0..nrows)
            .flat_map(|i| (0..ncols).map(move |j| (i, j)))
            .zip(values)
            .filter(|&(_, &v)| v != 0.0)
            .map(|((i, j), &v)| (i, j, v))
            .collect();
        Self::from_triplets(nrows, ncols, &triplets, Duplicates::Reject)
    }

    /// Wrap an `sprs` matrix (converted to CSR, `u32` indices, validated).
    pub fn from_sprs(m: &sprs::CsMat<f64>) -> Result<Self, StructureError> {
        let csr = m.to_csr();
        check_dim(csr.cols())?;
        let indices = csr
            .indices()
            .iter()
            .map(|&j| u32::try_from(j).map_err(|_| StructureError::TooLarge { dim: j, max: u32::MAX as usize }))
            .collect::<Result<Vec<_>, _>>()?;
        Self::try_from_csr(csr.rows(), csr.cols(), csr.indptr().to_proper().into_owned(), indices, csr.data().to_vec())
    }

    /// The wrapped `sprs` matrix, for use with `sprs`'s own algorithms.
    pub fn as_sprs(&self) -> &SprsCsr {
        &self.inner
    }

    /// Whether the values or column indices are borrowed from a caller's buffer
    /// ([`CsrMatrix::try_from_buffers`]) rather than owned.
    pub fn is_borrowed(&self) -> bool {
        self.borrowed
    }

    /// Dense row-major copy (`n·d` values): for tests and small problems only.
    pub fn to_dense(&self) -> Vec<f64> {
        let d = self.ncols();
        let mut out = vec![0.0; self.nrows() * d];
        for i in 0..self.nrows() {
            let (cols, vals) = self.row(i);
            for (&j, &v) in cols.iter().zip(vals) {
                out[i * d + j as usize] += v;
            }
        }
        out
    }

    /// Replace the chunk policy (partitions only; values are untouched). Results of reductions
    /// depend on the policy in their last bits, never on the thread count.
    pub fn with_chunk_policy(mut self, policy: ChunkPolicy) -> Self {
        self.policy = policy;
        self.transpose = OnceLock::new();
        self.scratch = scratch_pool(&policy);
        self
    }

    /// Free the partial sums kept from earlier reductions (they are reallocated on demand).
    pub fn release_scratch(&self) {
        self.scratch.clear();
    }

    /// Bytes held by spare partial sums (see [`CsrMatrix::release_scratch`]).
    pub fn scratch_bytes(&self) -> usize {
        self.scratch.held().1
    }

    pub(crate) fn scratch(&self) -> &BufferPool {
        &self.scratch
    }

    /// The chunk policy in force.
    pub fn chunk_policy(&self) -> ChunkPolicy {
        self.policy
    }

    /// Number of rows `n`.
    pub fn nrows(&self) -> usize {
        self.inner.rows()
    }
    /// Number of columns `d`.
    pub fn ncols(&self) -> usize {
        self.inner.cols()
    }
    /// `(nrows, ncols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.nrows(), self.ncols())
    }
    /// Number of stored entries (explicit zeros included).
    pub fn nnz(&self) -> usize {
        self.inner.nnz()
    }
    /// Row pointers (`n + 1` entries).
    pub fn indptr(&self) -> &[usize] {
        self.inner.view().into_raw_storage().0
    }
    /// Column indices, row by row.
    pub fn indices(&self) -> &[u32] {
        self.inner.indices()
    }
    /// Values, row by row.
    pub fn data(&self) -> &[f64] {
        self.inner.data()
    }
    /// Column indices and values of row `i`.
    #[track_caller]
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let p = self.indptr();
        let r = p[i]..p[i + 1];
        (&self.indices()[r.clone()], &self.data()[r])
    }
    /// Bytes held by the CSR arrays (not counting a cached transpose).
    pub fn csr_bytes(&self) -> usize {
        self.nnz() * (std::mem::size_of::<u32>() + std::mem::size_of::<f64>())
            + (self.nrows() + 1) * std::mem::size_of::<usize>()
    }

    /// `Aᵀ` as a new CSR matrix (`O(nnz + n + d)`, sequential counting sort: exact, no sums).
    pub fn transpose(&self) -> CsrMatrix {
        let (n, d) = self.shape();
        let mut indptr = vec![0usize; d + 1];
        for &j in self.indices() {
            indptr[j as usize + 1] += 1;
        }
        for j in 0..d {
            indptr[j + 1] += indptr[j];
        }
        let mut next = indptr.clone();
        let mut indices = vec![0u32; self.nnz()];
        let mut data = vec![0.0; self.nnz()];
        for i in 0..n {
            let (cols, vals) = self.row(i);
            for (&j, &v) in cols.iter().zip(vals) {
                let slot = &mut next[j as usize];
                indices[*slot] = i as u32;
                data[*slot] = v;
                *slot += 1;
            }
        }
        // SAFETY of structure: rows are visited in increasing order, so each column's row list
        // is strictly increasing; indices < n.
        let inner =
            SprsCsr::try_new((d, n), indptr, indices.into(), data.into()).expect("transpose of a valid CSR is valid");
        let mut t = Self::from_valid(inner);
        t.policy = self.policy;
        t
    }

    /// Keep a copy of `Aᵀ` so that [`CsrMatrix::tr_mul_vec`] and
    /// [`CsrMatrix::tr_mul_dense`] gather by rows of `Aᵀ` instead of scattering into per-block
    /// partial sums. Costs `12·nnz + 8·(d+1)` bytes; see `docs/benchmarks.md` for when it pays.
    /// Requires `n < 2^32`.
    pub fn cache_transpose(&self) -> Result<(), StructureError> {
        check_dim(self.nrows())?;
        self.transpose.get_or_init(|| Box::new(self.transpose()));
        Ok(())
    }

    /// Drop the cached transpose, if any.
    pub fn drop_transpose(&mut self) {
        self.transpose = OnceLock::new();
    }

    pub(crate) fn cached_transpose(&self) -> Option<&CsrMatrix> {
        self.transpose.get().map(|b| &**b)
    }

    /// Apply `f(column, &mut value)` to every stored value in parallel; the structure is
    /// unchanged, a cached transpose is dropped.
    pub(crate) fn map_values_with_columns(&mut self, f: impl Fn(u32, &mut f64) + Sync) {
        self.transpose = OnceLock::new();
        let shape = self.shape();
        let empty = SprsCsr::try_new((0, 0), vec![0], Vec::new().into(), Vec::new().into()).expect("empty CSR");
        let inner = std::mem::replace(&mut self.inner, empty);
        let (indptr, indices, data) = inner.into_raw_storage();
        // Borrowed values are never written: they are copied first (the indices stay shared).
        self.borrowed = indices.is_borrowed();
        let mut data = data.into_vec();
        data.par_chunks_mut(1 << 14).zip(indices.par_chunks(1 << 14)).for_each(|(vals, cols)| {
            for (v, &j) in vals.iter_mut().zip(cols) {
                f(j, v);
            }
        });
        self.inner = SprsCsr::try_new(shape, indptr, indices, data.into()).expect("structure unchanged");
    }

    // ---- parallel drivers shared by the kernels -------------------------------------------

    /// Run `f(rows, out_block)` over fixed row blocks in parallel; `out` has `width` entries per
    /// row and each block receives its own rows' slice.
    pub(crate) fn for_each_row_block<T: Send>(
        &self,
        out: &mut [T],
        width: usize,
        f: impl Fn(Range<usize>, &mut [T]) + Sync,
    ) {
        assert_eq!(out.len(), self.nrows() * width, "output length must be nrows * width");
        let tasks = self.policy.tasks(self.nrows(), self.nnz());
        let bounds = partition::balanced_bounds(self.indptr(), tasks);
        let blocks = partition::split_rows(out, &bounds, width);
        let ranges: Vec<_> = partition::ranges(&bounds).collect();
        blocks.into_par_iter().zip(ranges).for_each(|(block, rows)| {
            runtime::simd::clear_upper_state();
            f(rows, block)
        });
    }

    /// Reduction over rows into `out` (`out_len` entries): one zeroed partial per fixed block,
    /// `f(rows, partial)` adds the block's contribution, partials are added in block order.
    /// `cum_work` (n + 1 entries, cumulative cost) balances the blocks; `None` uses nnz.
    pub(crate) fn reduce_rows(
        &self,
        out: &mut [f64],
        cum_work: Option<&[usize]>,
        f: impl Fn(Range<usize>, &mut [f64]) + Sync,
    ) {
        self.reduce_rows_partitioned_as(out, out.len(), cum_work, f)
    }

    /// [`Self::reduce_rows`] with the partition chosen as if the output had `partition_len`
    /// entries: two reductions with the same `partition_len` visit the rows in the same blocks,
    /// so a column shared by both comes out bitwise the same.
    pub(crate) fn reduce_rows_partitioned_as(
        &self,
        out: &mut [f64],
        partition_len: usize,
        cum_work: Option<&[usize]>,
        f: impl Fn(Range<usize>, &mut [f64]) + Sync,
    ) {
        let n = self.nrows();
        let work = cum_work.map_or(self.nnz(), |c| c[n]);
        let parts = self.policy.parts(n, work, partition_len);
        let bounds = match cum_work {
            Some(c) => partition::balanced_bounds(c, parts),
            None => partition::balanced_bounds(self.indptr(), parts),
        };
        reduce_blocks(&self.scratch, out, &bounds, f);
    }
}

/// Shared reduction: partials over `bounds` blocks, added in block order (deterministic).
/// Partials come from and go back to `pool`.
pub(crate) fn reduce_blocks(
    pool: &BufferPool,
    out: &mut [f64],
    bounds: &[usize],
    f: impl Fn(Range<usize>, &mut [f64]) + Sync,
) {
    let payloads = vec![(); bounds.len() - 1];
    reduce_blocks_with(pool, out, bounds, payloads, |rows, (), acc| f(rows, acc));
}

/// [`reduce_blocks`] where block `b` also owns `payloads[b]` (e.g. its rows of an output
/// buffer) and returns a value; the values come back in block order.
pub(crate) fn reduce_blocks_with<P: Send, R: Send>(
    pool: &BufferPool,
    out: &mut [f64],
    bounds: &[usize],
    payloads: Vec<P>,
    f: impl Fn(Range<usize>, P, &mut [f64]) -> R + Sync,
) -> Vec<R> {
    let parts = bounds.len() - 1;
    assert_eq!(payloads.len(), parts, "one payload per block");
    if parts <= 1 {
        out.fill(0.0);
        runtime::simd::clear_upper_state();
        return payloads.into_iter().map(|p| f(0..bounds[parts], p, out)).collect();
    }
    let ranges: Vec<_> = partition::ranges(bounds).collect();
    let len = out.len();
    let (partials, results): (Vec<Vec<f64>>, Vec<R>) = ranges
        .into_par_iter()
        .zip(payloads)
        .map(|(rows, p)| {
            runtime::simd::clear_upper_state();
            let mut buf = pool.take_zeroed(len);
            let r = f(rows, p, &mut buf);
            (buf, r)
        })
        .unzip();
    out.par_chunks_mut(4096).enumerate().for_each(|(c, o)| {
        let base = c * 4096;
        for (k, v) in o.iter_mut().enumerate() {
            let mut s = partials[0][base + k];
            for p in &partials[1..] {
                s += p[base + k];
            }
            *v = s;
        }
    });
    for buf in partials {
        pool.give(buf);
    }
    results
}

/// Whether each row in `rows` has strictly increasing column indices (`indptr` nondecreasing
/// and within `indices`). Branch-free over the entries: the descents (`indices[k-1] >=
/// indices[k]`) inside the rows' span are counted in one vectorised pass and compared with the
/// descents at the starts of nonempty rows, the only places one is allowed.
pub(crate) fn rows_strictly_increasing(indptr: &[usize], indices: &[u32], rows: Range<usize>) -> bool {
    let (s, e) = (indptr[rows.start], indptr[rows.end]);
    if e <= s + 1 {
        return true;
    }
    let span = &indices[s..e];
    let all = span.windows(2).fold(0usize, |n, p| n + usize::from(p[0] >= p[1]));
    if all == 0 {
        return true;
    }
    let at_starts = (rows.start + 1..rows.end).fold(0usize, |n, i| {
        let k = indptr[i];
        n + usize::from(k > s && k < indptr[i + 1] && indices[k - 1] >= indices[k])
    });
    all == at_starts
}

/// [`rows_strictly_increasing`] for all rows, on the rayon pool in fixed row chunks.
pub(crate) fn all_rows_strictly_increasing(indptr: &[usize], indices: &[u32]) -> bool {
    const ROWS: usize = 1 << 14;
    let nrows = indptr.len() - 1;
    (0..nrows.div_ceil(ROWS))
        .into_par_iter()
        .all(|c| rows_strictly_increasing(indptr, indices, c * ROWS..((c + 1) * ROWS).min(nrows)))
}

/// Nonzeros per task of [`validate_rows`] (fixed, so the work split depends on the matrix only).
const VALIDATE_NNZ: usize = 1 << 16;

/// The structure check of [`CsrMatrix::try_from_buffers`] after its length checks (`indptr`
/// from 0 to `indices.len() == data.len()`): row pointers nondecreasing, each row's column
/// indices strictly increasing and below `ncols`, every value finite. Runs on the rayon pool
/// over fixed row ranges of about [`VALIDATE_NNZ`] nonzeros (`O(nnz + nrows)` work, one read
/// of each array); the error reported is the one a row-by-row sequential scan meets first
/// (rows in order; in a row, a decreasing pointer before its entries, and the entries in order,
/// each checked for range, then order, then value), whatever the thread count. With
/// `rows_ordered` (the caller established the order) the fast pass skips the order check.
fn validate_rows(
    ncols: usize,
    indptr: &[usize],
    indices: &[u32],
    data: &[f64],
    rows_ordered: bool,
) -> Result<(), StructureError> {
    let nrows = indptr.len() - 1;
    let nnz = indices.len();
    // The first row whose pointers decrease or leave 0..=nnz (the latter implies a decrease
    // further on, since the last pointer is nnz): rows before it are well-formed ranges.
    const PTR_CHUNK: usize = 1 << 16;
    let bad_ptr = (0..nrows.div_ceil(PTR_CHUNK))
        .into_par_iter()
        .map(|c| {
            let rows = c * PTR_CHUNK..((c + 1) * PTR_CHUNK).min(nrows);
            let p = &indptr[rows.start..rows.end + 1];
            let ok = p.windows(2).fold(true, |ok, w| ok & (w[0] <= w[1])) & (p[p.len() - 1] <= nnz);
            if ok { None } else { p.windows(2).position(|w| w[0] > w[1] || w[1] > nnz).map(|i| rows.start + i) }
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .next();
    let good = bad_ptr.unwrap_or(nrows);
    let cum = &indptr[..good + 1];
    let parts = (cum[good] / VALIDATE_NNZ).max(1);
    let bounds = partition::balanced_bounds(cum, parts);
    let first = partition::ranges(&bounds)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|rows| {
            let (s, e) = (indptr[rows.start], indptr[rows.end]);
            // Fast pass: whole-range folds (vectorised) and per-row order.
            let in_range = indices[s..e].iter().fold(0u32, |m, &j| m.max(j)) as usize;
            let finite = data[s..e].iter().fold(true, |ok, v| ok & v.is_finite());
            let ordered = rows_ordered || rows_strictly_increasing(indptr, indices, rows.clone());
            if (e == s || in_range < ncols) && finite && ordered {
                return None;
            }
            // Exact pass: the first offender in sequential order.
            for i in rows {
                let mut prev: Option<u32> = None;
                for k in indptr[i]..indptr[i + 1] {
                    let j = indices[k];
                    if j as usize >= ncols {
                        return Some(StructureError::ColumnOutOfRange { row: i, index: j as usize, ncols });
                    }
                    if prev.is_some_and(|p| p >= j) {
                        return Some(StructureError::InvalidArgument(format!(
                            "column indices of row {i} are not strictly increasing"
                        )));
                    }
                    if !data[k].is_finite() {
                        return Some(StructureError::NonFinite { row: i, col: j as usize, value: data[k] });
                    }
                    prev = Some(j);
                }
            }
            None
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .next();
    match (first, bad_ptr) {
        (Some(e), _) => Err(e),
        (None, Some(i)) if indptr[i + 1] > nnz && indptr[i] <= indptr[i + 1] => {
            Err(StructureError::BadIndptr(format!("exceeds the {nnz} entries at row {i}")))
        }
        (None, Some(i)) => Err(StructureError::BadIndptr(format!("decreases at row {i}"))),
        (None, None) => Ok(()),
    }
}

fn check_dim(dim: usize) -> Result<(), StructureError> {
    if dim > u32::MAX as usize {
        return Err(StructureError::TooLarge { dim, max: u32::MAX as usize });
    }
    Ok(())
}

/// Raw CSR arrays: row pointers, column indices, values.
pub(crate) type CsrArrays = (Vec<usize>, Vec<u32>, Vec<f64>);

/// Sort each row by column and merge repeated columns (sum) or report the first repeat as
/// `(row, col)`. Rewrites the arrays in place and returns them with the new row pointers.
pub(crate) fn sort_and_merge_rows(
    indptr: Vec<usize>,
    mut indices: Vec<u32>,
    mut data: Vec<f64>,
    duplicates: Duplicates,
) -> Result<CsrArrays, (usize, usize)> {
    let nrows = indptr.len() - 1;
    let mut new_ptr = Vec::with_capacity(nrows + 1);
    new_ptr.push(0);
    let mut w = 0usize;
    let mut scratch: Vec<(u32, f64)> = Vec::new();
    for i in 0..nrows {
        let (s, e) = (indptr[i], indptr[i + 1]);
        let sorted = indices[s..e].windows(2).all(|p| p[0] < p[1]);
        if !sorted {
            scratch.clear();
            scratch.extend(indices[s..e].iter().copied().zip(data[s..e].iter().copied()));
            // Stable sort keeps file order among duplicates, so sums are reproducible.
            scratch.sort_by_key(|&(j, _)| j);
            for (k, &(j, v)) in scratch.iter().enumerate() {
                indices[s + k] = j;
                data[s + k] = v;
            }
        }
        let row_start = w;
        for k in s..e {
            if w > row_start && indices[w - 1] == indices[k] {
                if duplicates == Duplicates::Reject {
                    return Err((i, indices[k] as usize));
                }
                data[w - 1] += data[k];
            } else {
                indices[w] = indices[k];
                data[w] = data[k];
                w += 1;
            }
        }
        new_ptr.push(w);
    }
    indices.truncate(w);
    data.truncate(w);
    Ok((new_ptr, indices, data))
}

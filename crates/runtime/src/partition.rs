//! Fixed partitions of the rows of a matrix.
//!
//! Every parallel kernel splits the rows into contiguous blocks whose boundaries depend only on
//! the matrix and the output size, never on the number of threads. Row-independent kernels
//! (`A·x`) are deterministic under any split; reductions (`Aᵀ·y`, Gram matrices) accumulate one
//! partial result per block and add the partials in block order, so their result is bitwise the
//! same with 1 thread or many.

use std::ops::Range;

/// How a matrix is cut into parallel tasks. The defaults suit matrices from 10^4 to 10^8
/// nonzeros; change them only to force many blocks on small matrices (tests) or to bound
/// memory differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPolicy {
    /// Row-parallel kernels: target nonzeros per task.
    pub task_nnz: usize,
    /// Reductions: minimum nonzeros per partial result.
    pub part_nnz: usize,
    /// Reductions: maximum number of partial results.
    pub max_parts: usize,
    /// Reductions: memory budget for all partial results together, in bytes.
    pub reduce_bytes: usize,
    /// Reductions: the work must be at least this many times `P·out_len`, the cost of zeroing
    /// and adding `P` partials (0 disables the bound)...
    pub work_per_partial_entry: usize,
    /// ...except that up to this many partials are always allowed (within `part_nnz` and the
    /// memory budget), so that large outputs still split evenly over a few cores.
    pub min_parts: usize,
}

impl Default for ChunkPolicy {
    fn default() -> Self {
        // work_per_partial_entry = 16, min_parts = 8, measured on the CountSketch of
        // docs/benchmarks.md (issue 4), whose `4d × d` partials are the largest outputs of a
        // reduction here: the former 4 (and no floor) gave 31 partials of 1.28 MB at d = 200
        // and 20 nonzeros per row, 0.5–0.9 `A·x` slower in four interleaved runs; at 10 per
        // row (15 partials against 8) the difference was within noise.
        Self {
            task_nnz: 1 << 15,
            part_nnz: 1 << 17,
            max_parts: 64,
            reduce_bytes: 64 << 20,
            work_per_partial_entry: 16,
            min_parts: 8,
        }
    }
}

impl ChunkPolicy {
    /// Number of row tasks for a row-independent kernel.
    pub fn tasks(&self, nrows: usize, nnz: usize) -> usize {
        let by_work = nnz.div_ceil(self.task_nnz.max(1));
        // Rows cost something even when empty (one output write each).
        let by_rows = nrows.div_ceil(1 << 14);
        by_work.max(by_rows).clamp(1, nrows.max(1))
    }

    /// Number of partial results for a reduction whose output has `out_len` entries.
    pub fn parts(&self, nrows: usize, work: usize, out_len: usize) -> usize {
        let by_work = work.div_ceil(self.part_nnz.max(1));
        let by_mem = self.reduce_bytes / (out_len.max(1) * std::mem::size_of::<f64>());
        // Zeroing and adding P partials costs P·out_len: keep it a small share of the work.
        let by_overhead = match self.work_per_partial_entry {
            0 => usize::MAX,
            r => work / (r * out_len.max(1)),
        };
        let by_overhead = by_overhead.max(self.min_parts.min(by_work));
        by_work.min(by_mem).min(by_overhead).min(self.max_parts).clamp(1, nrows.max(1))
    }
}

/// Boundaries `b[0] = 0 < … < b[parts] = n` (possibly with repeats) such that the cumulative
/// cost `cum` is split evenly. `cum` has `n + 1` nondecreasing entries starting at 0.
pub fn balanced_bounds(cum: &[usize], parts: usize) -> Vec<usize> {
    let n = cum.len() - 1;
    let total = cum[n] as u128;
    let mut bounds = Vec::with_capacity(parts + 1);
    bounds.push(0);
    for p in 1..parts {
        let target = total * p as u128 / parts as u128;
        let r = cum.partition_point(|&c| (c as u128) < target).min(n);
        bounds.push(r.max(*bounds.last().unwrap()));
    }
    bounds.push(n);
    bounds
}

/// The row ranges described by `bounds`.
pub fn ranges(bounds: &[usize]) -> impl Iterator<Item = Range<usize>> + '_ {
    bounds.windows(2).map(|w| w[0]..w[1])
}

/// Split `out` (rows of `width` entries) into the disjoint blocks given by `bounds`.
pub fn split_rows<'a, T>(mut out: &'a mut [T], bounds: &[usize], width: usize) -> Vec<&'a mut [T]> {
    let mut blocks = Vec::with_capacity(bounds.len().saturating_sub(1));
    for r in ranges(bounds) {
        let (head, tail) = out.split_at_mut(r.len() * width);
        blocks.push(head);
        out = tail;
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_cover_and_balance() {
        let cum: Vec<usize> = (0..=100usize).map(|i| i * 3).collect();
        let b = balanced_bounds(&cum, 4);
        assert_eq!(b, vec![0, 25, 50, 75, 100]);
        // Heavy first row: later bounds collapse but stay monotone and complete.
        let cum = [0usize, 1000, 1001, 1002];
        let b = balanced_bounds(&cum, 3);
        assert_eq!(b.first(), Some(&0));
        assert_eq!(b.last(), Some(&3));
        assert!(b.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn parts_respect_memory_budget() {
        let p = ChunkPolicy { reduce_bytes: 8 * 100 * 3, ..ChunkPolicy::default() };
        assert_eq!(p.parts(1 << 20, 1 << 30, 100), 3);
        assert_eq!(p.parts(2, 1 << 30, 1), 2, "never more parts than rows");
        // Little work per output entry: few partials, but at least `min_parts`.
        let few = ChunkPolicy { min_parts: 2, ..ChunkPolicy::default() };
        assert_eq!(few.parts(1 << 20, 16 * 4 * 1_000_000, 1_000_000), 4);
        assert_eq!(few.parts(1 << 20, 16 * 1_000_000, 1_000_000), 2);
        assert_eq!(ChunkPolicy::default().parts(1 << 20, 16 * 1_000_000, 1_000_000), 8);
        // ...unless there is too little work for that many (part_nnz).
        assert_eq!(ChunkPolicy::default().parts(1 << 20, 3 << 17, 1_000_000), 3);
        assert_eq!(p.parts(0, 0, 1), 1);
    }
}

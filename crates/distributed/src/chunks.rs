//! The fixed row partition: `C` chunks of consecutive rows, independent of the number of ranks.
//!
//! Chunk `c` holds rows `⌊c·n/C⌋ .. ⌊(c+1)·n/C⌋`. Rank `p` of `P` owns chunks
//! `⌊p·C/P⌋ .. ⌊(p+1)·C/P⌋` (so `P ≤ C`), i.e. one contiguous block of rows. Every partial sum
//! of the solver is computed per chunk, whoever owns it, and the partials are added in chunk
//! order: this is what makes `x` bitwise the same at any rank count.

use std::ops::Range;

/// The default number of chunks: enough for 64 ranks with one chunk each.
pub const DEFAULT_CHUNKS: usize = 64;

/// The partition of `n` rows into `chunks` chunks of consecutive rows (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunking {
    /// Rows of `A` (all ranks together).
    pub n: usize,
    /// The number of chunks `C` (`1 ≤ C ≤ max(n, 1)` when made by [`Chunking::new`]).
    pub chunks: usize,
}

impl Chunking {
    /// `C = min(chunks, n)` (at least 1).
    pub fn new(n: usize, chunks: usize) -> Self {
        Self { n, chunks: chunks.min(n).max(1) }
    }
    /// The rows of chunk `c`.
    pub fn rows(&self, c: usize) -> Range<usize> {
        let at = |c: usize| (c as u128 * self.n as u128 / self.chunks as u128) as usize;
        at(c)..at(c + 1)
    }
    /// The chunks of rank `p` of `size`.
    pub fn owned(&self, p: usize, size: usize) -> Range<usize> {
        let at = |p: usize| p * self.chunks / size;
        at(p)..at(p + 1)
    }
    /// The rows of rank `p` of `size`.
    pub fn owned_rows(&self, p: usize, size: usize) -> Range<usize> {
        let c = self.owned(p, size);
        self.rows(c.start).start..if c.is_empty() { self.rows(c.start).start } else { self.rows(c.end - 1).end }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_rows_and_ranks_cover_chunks() {
        let ch = Chunking::new(1000, 7);
        let mut next = 0;
        for c in 0..7 {
            let r = ch.rows(c);
            assert_eq!(r.start, next);
            assert!(r.len() == 142 || r.len() == 143);
            next = r.end;
        }
        assert_eq!(next, 1000);
        for size in 1..=7 {
            let mut nc = 0;
            let mut nr = 0;
            for p in 0..size {
                let o = ch.owned(p, size);
                assert_eq!(o.start, nc);
                nc = o.end;
                let rows = ch.owned_rows(p, size);
                assert_eq!(rows.start, nr);
                nr = rows.end;
            }
            assert_eq!((nc, nr), (7, 1000));
        }
        assert_eq!(Chunking::new(3, 64).chunks, 3);
    }
}

//! Parallel maps over fixed chunks, each chunk started with a clean vector state.

use rayon::prelude::*;

/// `f(0), …, f(chunks − 1)` on the rayon pool, in chunk order. The chunk count is the
/// caller's (fixed by the data, never by the thread count), so combining the results in order
/// is deterministic; each chunk starts with [`crate::simd::clear_upper_state`], so scalar
/// `exp` inside `f` pays no AVX→SSE penalty.
pub fn map_chunks<R: Send>(chunks: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    (0..chunks)
        .into_par_iter()
        .map(|c| {
            crate::simd::clear_upper_state();
            f(c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_come_back_in_chunk_order() {
        let v = super::map_chunks(100, |c| c * c);
        assert_eq!(v, (0..100).map(|c| c * c).collect::<Vec<_>>());
    }
}

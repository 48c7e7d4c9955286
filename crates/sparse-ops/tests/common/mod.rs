#![allow(dead_code)]
//! Shared helpers: random matrices with awkward structure, dense references, tolerances.

use proptest::prelude::*;
use sparse_ops::{ChunkPolicy, CsrMatrix, Duplicates};

/// A tiny chunk policy so that even 10-entry matrices are cut into several blocks and every
/// reduction combines several partials: the parallel paths are what gets tested.
pub fn tiny_chunks() -> ChunkPolicy {
    ChunkPolicy {
        task_nnz: 3,
        part_nnz: 3,
        max_parts: 7,
        reduce_bytes: 1 << 20,
        work_per_partial_entry: 0,
        min_parts: 0,
    }
}

/// Triplets with empty rows/columns, explicit zeros and repeated positions.
pub fn triplets() -> impl Strategy<Value = (usize, usize, Vec<(usize, usize, f64)>)> {
    (1usize..25, 1usize..20).prop_flat_map(|(n, d)| {
        let value = prop_oneof![3 => -10.0f64..10.0, 1 => Just(0.0), 1 => (-3i32..4).prop_map(f64::from)];
        // Entries land only in the first rows/columns sometimes, leaving empty ones.
        let entry = (0..n, 0..d, value);
        (Just(n), Just(d), proptest::collection::vec(entry, 0..(n * d).min(60) + 1))
    })
}

pub fn matrix((n, d, t): &(usize, usize, Vec<(usize, usize, f64)>)) -> CsrMatrix {
    CsrMatrix::from_triplets(*n, *d, t, Duplicates::Sum).unwrap().with_chunk_policy(tiny_chunks())
}

/// Dense row-major reference with duplicates summed in the given order.
pub fn dense((n, d, t): &(usize, usize, Vec<(usize, usize, f64)>)) -> Vec<f64> {
    let mut m = vec![0.0; n * d];
    for &(i, j, v) in t {
        m[i * d + j] += v;
    }
    m
}

/// `|got − want| ≤ 1e-12·scale + 1e-300` entrywise, where `scale` bounds the magnitudes summed
/// (`Σ|a||x|`): different summation orders differ by at most ~nnz·ε·scale with nnz ≤ 60 here,
/// i.e. ≤ 1.4e-14·scale, so 1e-12 has a wide margin and still catches any wrong term.
pub fn assert_close(got: &[f64], want: &[f64], scale: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for k in 0..got.len() {
        let tol = 1e-12 * scale[k] + 1e-300;
        assert!((got[k] - want[k]).abs() <= tol, "{what}[{k}]: got {} want {} (tol {tol})", got[k], want[k]);
    }
}

pub fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

//! Small dense helpers over faer: products with a fixed sequential partition (so results do
//! not depend on the thread count), and row-wise reductions.

use faer::{Accum, Mat, MatRef, Par};
use runtime::dense::{mul, mul_into};

/// `a·b`, computed sequentially: parallelism is across sequences, never inside a product. The
/// wrapper leaves the vector state clean, so the `exp` of the softmax that follows runs at full
/// speed ([`runtime::simd`]).
pub(crate) fn mm(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Mat<f64> {
    mul(a, b, Par::Seq)
}

/// `out += a·b`.
pub(crate) fn mm_add(out: &mut Mat<f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>) {
    mul_into(out, Accum::Add, a, b, Par::Seq);
}

/// `Σ_k a[j,k]·b[j,k]` for every row `j`.
pub(crate) fn row_dots(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Vec<f64> {
    (0..a.nrows()).map(|j| (0..a.ncols()).map(|k| a[(j, k)] * b[(j, k)]).sum()).collect()
}

/// `‖m‖_F`.
pub fn frobenius(m: MatRef<'_, f64>) -> f64 {
    m.norm_l2()
}

/// `vec(M)` row-major, the library's convention for `x = vec(X)` (SPEC §5).
pub fn vec_row_major(m: MatRef<'_, f64>) -> Vec<f64> {
    (0..m.nrows()).flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)])).collect()
}

/// The `r×c` matrix whose row-major `vec` is `v`.
pub fn unvec_row_major(v: &[f64], r: usize, c: usize) -> Mat<f64> {
    assert_eq!(v.len(), r * c, "vector of length {} is not {r}×{c}", v.len());
    Mat::from_fn(r, c, |i, j| v[i * c + j])
}

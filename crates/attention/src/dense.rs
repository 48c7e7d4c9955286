//! Small dense helpers over faer: products with a fixed sequential partition (so results do
//! not depend on the thread count), and row-wise reductions.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use sparse_ops::simd_state::clear_upper_state;

/// `a·b`, computed sequentially: parallelism is across sequences, never inside a product. The
/// vector state is cleared after it, so the `exp` of the softmax that follows runs at full speed
/// ([`sparse_ops::simd_state`]).
pub(crate) fn mm(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Mat<f64> {
    let mut out = Mat::zeros(a.nrows(), b.ncols());
    matmul(out.as_mut(), Accum::Replace, a, b, 1.0, Par::Seq);
    clear_upper_state();
    out
}

/// `out += a·b`.
pub(crate) fn mm_add(out: &mut Mat<f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>) {
    matmul(out.as_mut(), Accum::Add, a, b, 1.0, Par::Seq);
    clear_upper_state();
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

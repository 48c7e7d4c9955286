//! Dense products through faer that leave the vector state clean ([`crate::simd`]).

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

/// `a·b` with faer at parallelism `par`; the vector state is cleared after it, so scalar
/// `exp`/`cosh` that follow run at full speed.
pub fn mul(a: MatRef<'_, f64>, b: MatRef<'_, f64>, par: Par) -> Mat<f64> {
    let mut out = Mat::zeros(a.nrows(), b.ncols());
    mul_into(&mut out, Accum::Replace, a, b, par);
    out
}

/// `out = a·b` ([`Accum::Replace`]) or `out += a·b` ([`Accum::Add`]), then the vector state is
/// cleared.
pub fn mul_into(out: &mut Mat<f64>, accum: Accum, a: MatRef<'_, f64>, b: MatRef<'_, f64>, par: Par) {
    matmul(out.as_mut(), accum, a, b, 1.0, par);
    crate::simd::clear_upper_state();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_match_the_definition() {
        let a = Mat::from_fn(3, 2, |i, j| (i * 2 + j) as f64 + 0.5);
        let b = Mat::from_fn(2, 4, |i, j| (i as f64) - (j as f64) * 0.25);
        let c = mul(a.as_ref(), b.as_ref(), Par::Seq);
        for i in 0..3 {
            for j in 0..4 {
                let want: f64 = (0..2).map(|k| a[(i, k)] * b[(k, j)]).sum();
                assert_eq!(c[(i, j)], want);
            }
        }
        let mut acc = c.clone();
        mul_into(&mut acc, Accum::Add, a.as_ref(), b.as_ref(), Par::Seq);
        assert_eq!(acc[(2, 3)], 2.0 * c[(2, 3)]);
    }
}

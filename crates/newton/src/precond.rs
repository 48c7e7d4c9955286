//! Preconditioners for the matrix-free Newton–CG strategy ([`crate::Strategy::NewtonCg`]).
//!
//! Each is an approximation `P ≈ H` of the Hessian `H = Aᵀ(D + UCUᵀ)A` whose inverse is cheap
//! to apply; CG on `H` with `P⁻¹` needs fewer Hessian-vector products (passes over `A`) when
//! `P⁻¹H` has fewer distinct clusters of eigenvalues than `H`.
//!
//! | preconditioner | build | apply | memory |
//! |---|---|---|---|
//! | `none` | 0 | 0 | 0 |
//! | `jacobi`: `diag(H)` | one pass over `A` (`2·nnz` flops) plus `O(d·k²)` | `d` | `d` |
//! | `nystrom`: rank-`r` Nyström of `S AᵀD₊A S`, `S = diag(AᵀD₊A)^{-1/2}` | two passes (`2·nnz + 2·nnz·r` flops) plus `O(d·r²)` | `4·d·r` | `(2r + 1)·d` |
//!
//! The Jacobi preconditioner is rebuilt at every Newton step (it is one pass); it removes the
//! column scaling of `A` (the ill-conditioned problems of docs/benchmarks.md have columns
//! scaled over four decades). The Nyström preconditioner also removes the `r` largest
//! eigen-directions of the scaled matrix: `P⁻¹ = S·[V(Λ + μI)⁻¹Vᵀ + μ⁻¹(I − VVᵀ)]·S` with
//! `(V, Λ)` the Nyström approximation `Y(ΩᵀY)⁺Yᵀ` from a Rademacher test matrix `Ω` (`d×r`,
//! counter-based: the same for any thread count) and `μ = λ_r` (the smallest kept
//! eigenvalue), in the numerically stable form of Tropp, Yurtsever, Udell and Cevher (2017,
//! shift `ν = √d·ε·‖Y‖_F`). It is built from the nonnegative diagonal `D₊`
//! ([`losses::StructuredHessian::sketch_diagonal`]), so it is positive definite whatever the
//! sign of `D`; being costlier, it is kept across Newton steps and rebuilt only when the
//! measured CG count of a step rises above 1.5× (plus 2) the count right after the last build.

use faer::{Mat, Side};
use losses::{Part, StructuredHessian};
use sparse_ops::CsrMatrix;

use crate::linalg::damped_cholesky;

/// A preconditioner `v ↦ P⁻¹v` rebuilt each step ([`Nystrom`] is kept by the strategy).
pub(crate) enum Preconditioner {
    Identity,
    /// `P⁻¹ = diag(1/m_j)`.
    Jacobi(Vec<f64>),
}

impl Preconditioner {
    /// `out = P⁻¹·r`.
    pub fn apply(&self, r: &[f64], out: &mut [f64]) {
        match self {
            Preconditioner::Identity => out.copy_from_slice(r),
            Preconditioner::Jacobi(inv) => {
                for ((o, &ri), &s) in out.iter_mut().zip(r).zip(inv) {
                    *o = ri * s;
                }
            }
        }
    }

    /// Jacobi from the Hessian's diagonal (one pass over `A`). Entries that are not positive
    /// (the exact Hessian may be indefinite) or tiny are replaced by `|h_jj|`, floored at
    /// `1e-12·max_j |h_jj|`; a zero diagonal gives the identity.
    pub fn jacobi(h: &StructuredHessian) -> Self {
        Self::jacobi_from(&h.hessian_diagonal(Part::Exact))
    }

    pub fn jacobi_from(diag: &[f64]) -> Self {
        let max = diag.iter().fold(0.0f64, |m, v| if v.is_finite() { m.max(v.abs()) } else { m });
        if max == 0.0 {
            return Preconditioner::Identity;
        }
        let floor = 1e-12 * max;
        Preconditioner::Jacobi(
            diag.iter().map(|v| if v.is_finite() { 1.0 / v.abs().max(floor) } else { 0.0 }).collect(),
        )
    }
}

/// The Nyström preconditioner (see the module docs).
pub(crate) struct Nystrom {
    /// `S = diag(AᵀD₊A)^{-1/2}` (0 on empty columns).
    s: Vec<f64>,
    /// `V` (`d×r`, row-major, orthonormal columns).
    v: Vec<f64>,
    r: usize,
    /// `1/(λ_i + μ)`.
    inv: Vec<f64>,
    mu: f64,
}

/// SplitMix64: Rademacher signs from `(seed, index)` alone.
fn sign(seed: u64, i: u64) -> f64 {
    let mut z = seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    if z >> 63 == 0 { 1.0 } else { -1.0 }
}

impl Nystrom {
    /// The rank-`rank` Nyström preconditioner of `S AᵀD₊A S` (`rank` clamped to `1..=d`).
    /// Returns `None` when `D₊` is zero on every row (nothing to approximate). Two passes
    /// over `A`.
    pub fn build(a: &CsrMatrix, dplus: &[f64], rank: usize, seed: u64) -> Option<Self> {
        let d = a.ncols();
        let r = rank.clamp(1, d.max(1));
        let (indptr, indices, data) = (a.indptr(), a.indices(), a.data());
        // Pass 1: diag(AᵀD₊A).
        let mut diag = vec![0.0; d];
        a.reduce_rows_into(&mut diag, |rows, partial| {
            for i in rows {
                let di = dplus[i];
                if di == 0.0 {
                    continue;
                }
                for p in indptr[i]..indptr[i + 1] {
                    partial[indices[p] as usize] += di * data[p] * data[p];
                }
            }
        });
        let max = diag.iter().fold(0.0f64, |m, &v| m.max(v));
        if !(max > 0.0 && max.is_finite()) {
            return None;
        }
        let s: Vec<f64> = diag.iter().map(|&v| if v > 1e-300 * max { v.sqrt().recip() } else { 0.0 }).collect();
        // Ω (d×r) and SΩ.
        let omega: Vec<f64> = (0..d * r).map(|q| sign(seed, q as u64)).collect();
        let s_omega: Vec<f64> = (0..d * r).map(|q| s[q / r] * omega[q]).collect();
        // Pass 2: Y = S·Aᵀ D₊ A (SΩ), row i of D₊A(SΩ) formed inside the pass.
        let mut y = vec![0.0; d * r];
        a.tr_mul_rows_map(
            r,
            |i, row| {
                row.iter_mut().for_each(|v| *v = 0.0);
                let di = dplus[i];
                if di == 0.0 {
                    return;
                }
                for p in indptr[i]..indptr[i + 1] {
                    let j = indices[p] as usize;
                    let w = di * data[p];
                    for (o, &so) in row.iter_mut().zip(&s_omega[j * r..(j + 1) * r]) {
                        *o += w * so;
                    }
                }
            },
            &mut y,
        );
        for (q, yq) in y.iter_mut().enumerate() {
            *yq *= s[q / r];
        }
        // Stable Nyström: Y_ν = Y + νΩ, Ωᵀ Y_ν = CCᵀ, B = Y_ν C⁻ᵀ, B = V Σ Wᵀ, Λ = Σ² − ν.
        let fro = y.iter().map(|v| v * v).sum::<f64>().sqrt();
        let nu = (d as f64).sqrt() * f64::EPSILON * fro;
        for (yq, oq) in y.iter_mut().zip(&omega) {
            *yq += nu * oq;
        }
        let small = Mat::from_fn(r, r, |a_, b_| {
            let (mut sab, mut sba) = (0.0, 0.0);
            for j in 0..d {
                sab += omega[j * r + a_] * y[j * r + b_];
                sba += omega[j * r + b_] * y[j * r + a_];
            }
            0.5 * (sab + sba)
        });
        // r×r with r ≤ 50: too small to split, sequential.
        let (c, _) = damped_cholesky(&small, faer::Par::Seq)?;
        // B = Y_ν C⁻ᵀ row by row: each row b solves C bᵀ = yᵀ (forward substitution).
        let mut bm = vec![0.0; d * r];
        for j in 0..d {
            let (yr, br) = (&y[j * r..(j + 1) * r], &mut bm[j * r..(j + 1) * r]);
            for a_ in 0..r {
                let mut acc = yr[a_];
                for b_ in 0..a_ {
                    acc -= c[(a_, b_)] * br[b_];
                }
                br[a_] = acc / c[(a_, a_)];
            }
        }
        drop(y);
        // BᵀB = W Σ² Wᵀ; V = B W Σ⁻¹.
        let gram = Mat::from_fn(r, r, |a_, b_| (0..d).map(|j| bm[j * r + a_] * bm[j * r + b_]).sum::<f64>());
        let eig = gram.self_adjoint_eigen(Side::Lower).ok()?;
        let (sv, w) = (eig.S(), eig.U());
        // Eigenvalues ascending: keep those clearly above rounding, largest first.
        let top = (0..r).map(|i| sv[i]).fold(0.0f64, f64::max);
        let keep: Vec<usize> = (0..r).rev().filter(|&i| sv[i] > 1e-12 * top && sv[i] - nu > 0.0).collect();
        if keep.is_empty() {
            return None;
        }
        let rk = keep.len();
        let mut v = vec![0.0; d * rk];
        for j in 0..d {
            let br = &bm[j * r..(j + 1) * r];
            for (c_, &i) in keep.iter().enumerate() {
                let sigma = sv[i].sqrt();
                v[j * rk + c_] = (0..r).map(|b_| br[b_] * w[(b_, i)]).sum::<f64>() / sigma;
            }
        }
        let lambda: Vec<f64> = keep.iter().map(|&i| sv[i] - nu).collect();
        let mu = *lambda.last().expect("nonempty");
        let inv = lambda.iter().map(|l| 1.0 / (l + mu)).collect();
        Some(Nystrom { s, v, r: rk, inv, mu })
    }

    /// The rank kept.
    #[cfg(test)]
    pub fn rank(&self) -> usize {
        self.r
    }

    /// `out = S·[V(Λ + μI)⁻¹Vᵀ + μ⁻¹(I − VVᵀ)]·S·x`, `O(d·r)`.
    pub fn apply(&self, x: &[f64], out: &mut [f64]) {
        let r = self.r;
        let mut c = vec![0.0; r];
        for ((&sj, &xj), vj) in self.s.iter().zip(x).zip(self.v.chunks_exact(r)) {
            let w = sj * xj;
            for (ca, &va) in c.iter_mut().zip(vj) {
                *ca += va * w;
            }
        }
        // V((Λ+μ)⁻¹ − μ⁻¹)c + μ⁻¹w.
        let coef: Vec<f64> = c.iter().zip(&self.inv).map(|(ca, ia)| ca * (ia - 1.0 / self.mu)).collect();
        for (((o, &sj), &xj), vj) in out.iter_mut().zip(&self.s).zip(x).zip(self.v.chunks_exact(r)) {
            let vc: f64 = vj.iter().zip(&coef).map(|(v, c)| v * c).sum();
            *o = sj * (vc + sj * xj / self.mu);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

    /// On a matrix of rank below the Nyström rank the approximation is exact: the kept
    /// eigenvalues are those of the dense `S·AᵀD₊A·S`, and `P⁻¹` equals the dense
    /// `S[V(Λ+μ)⁻¹Vᵀ + μ⁻¹(I − VVᵀ)]S` built from a dense eigendecomposition.
    #[test]
    fn nystrom_is_exact_on_a_low_rank_matrix() {
        // 6 distinct rows repeated: rank ≤ 6 < r = 10, d = 12.
        let base = random_sparse(&GenSpec {
            nrows: 6,
            ncols: 12,
            sparsity: Sparsity::RowNnz(5),
            variant: Variant::Plain,
            seed: 3,
        })
        .unwrap();
        let mut t = Vec::new();
        for i in 0..60 {
            let (c, v) = base.row(i % 6);
            for (&j, &x) in c.iter().zip(v) {
                t.push((i, j as usize, x * (1.0 + (i / 6) as f64 / 10.0)));
            }
        }
        let a = CsrMatrix::from_triplets(60, 12, &t, sparse_ops::Duplicates::Reject).unwrap();
        let dplus: Vec<f64> = (0..60).map(|i| 0.5 + (i % 7) as f64 / 7.0).collect();
        let ny = Nystrom::build(&a, &dplus, 10, 7).expect("built");
        let h = a.weighted_gram(&dplus);
        let s: Vec<f64> = (0..12).map(|j| if h[(j, j)] > 0.0 { h[(j, j)].sqrt().recip() } else { 0.0 }).collect();
        let m = Mat::from_fn(12, 12, |i, j| s[i] * h[(i, j)] * s[j]);
        let eig = m.self_adjoint_eigen(Side::Lower).unwrap();
        let top = eig.S()[11];
        let kept: Vec<usize> = (0..12).rev().filter(|&i| eig.S()[i] > 1e-9 * top).collect();
        assert_eq!(ny.rank(), kept.len(), "rank");
        assert!(ny.rank() <= 6);
        for (c, &i) in kept.iter().enumerate() {
            let lam = 1.0 / ny.inv[c] - ny.mu;
            assert!((lam - eig.S()[i]).abs() <= 1e-9 * top, "λ_{c}: {lam} vs {}", eig.S()[i]);
        }
        let mu = eig.S()[*kept.last().unwrap()];
        let pinv = Mat::from_fn(12, 12, |i, j| {
            let low: f64 =
                kept.iter().map(|&q| eig.U()[(i, q)] * eig.U()[(j, q)] * (1.0 / (eig.S()[q] + mu) - 1.0 / mu)).sum();
            s[i] * (low + if i == j { 1.0 / mu } else { 0.0 }) * s[j]
        });
        let x: Vec<f64> = (0..12).map(|i| ((i * 5 % 13) as f64 - 6.0) / 4.0).collect();
        let mut got = vec![0.0; 12];
        ny.apply(&x, &mut got);
        let want: Vec<f64> = (0..12).map(|i| (0..12).map(|j| pinv[(i, j)] * x[j]).sum()).collect();
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for i in 0..12 {
            assert!((got[i] - want[i]).abs() <= 1e-7 * scale, "{i}: {} vs {}", got[i], want[i]);
        }
    }

    #[test]
    fn jacobi_inverts_the_diagonal_and_guards_nonpositive_entries() {
        let Preconditioner::Jacobi(inv) = Preconditioner::jacobi_from(&[4.0, -2.0, 0.0]) else { panic!() };
        assert_eq!(inv[0], 0.25);
        assert_eq!(inv[1], 0.5);
        assert_eq!(inv[2], 1.0 / (4.0 * 1e-12));
        assert!(matches!(Preconditioner::jacobi_from(&[0.0, 0.0]), Preconditioner::Identity));
    }
}

//! The structured Hessian `H = Aᵀ(D + U C Uᵀ)A` (SPEC §1) and its Gauss–Newton part
//! `H_GN = Aᵀ(D_GN + U C_GN Uᵀ)A ⪰ 0`.
//!
//! Both diagonals include the regulariser `w∘w`. `D` may be negative (the exact Hessian can be
//! indefinite); `D_GN ≥ 0` is what a sketch may sample. `U` is `n×k` with `k ≤ 3`, so
//! `AᵀU` is one pass over `A` and the low-rank part stays exact (errata E2).

use faer::dyn_stack::{MemStack, StackReq};
use faer::matrix_free::LinOp;
use std::sync::OnceLock;

use runtime::pool::BufferPool;

use faer::{Mat, MatMut, MatRef, Par};
use runtime::reduce::Neumaier;
use sparse_ops::CsrMatrix;

/// Which Hessian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The exact Hessian `Aᵀ(D + UCUᵀ)A`.
    Exact,
    /// The Gauss–Newton matrix `Aᵀ(D_GN + U C_GN Uᵀ)A`, positive semidefinite.
    GaussNewton,
}

/// The parts of `Aᵀ(D + UCUᵀ)A` and of its Gauss–Newton matrix `Aᵀ(D_GN + U C_GN Uᵀ)A`.
#[derive(Debug, Clone, PartialEq)]
pub struct HessianParts {
    /// `D` (`n`), regulariser `w∘w` included; may be negative.
    pub d: Vec<f64>,
    /// `D_GN ≥ 0` (`n`), regulariser included.
    pub d_gn: Vec<f64>,
    /// `U` (`n×k`, row-major).
    pub u: Vec<f64>,
    /// `k`, the columns of `U` (rank of the low-rank term).
    pub k: usize,
    /// `C` and `C_GN` (`k×k`, row-major, symmetric).
    pub c: Vec<f64>,
    /// `C_GN` (`k×k`, row-major, symmetric).
    pub c_gn: Vec<f64>,
}

/// The product buffer of a Hessian: one spare `n`-vector.
fn one_buffer() -> BufferPool {
    BufferPool::new(1, usize::MAX)
}

/// `∇²L(x)` in the form `Aᵀ(D + UCUᵀ)A`, holding a reference to `A`.
pub struct StructuredHessian<'a> {
    a: &'a CsrMatrix,
    p: HessianParts,
    /// `AᵀU` (`d×k`), computed once: by the evaluation's gradient pass, or on first use.
    atu: OnceLock<Vec<f64>>,
    /// The `n`-vector `A·v` of [`Self::apply`], kept between products (a CG solve makes many):
    /// a one-buffer pool, so a concurrent product gets its own buffer.
    scratch: BufferPool,
}

impl Clone for StructuredHessian<'_> {
    fn clone(&self) -> Self {
        Self { a: self.a, p: self.p.clone(), atu: self.atu.clone(), scratch: one_buffer() }
    }
}

impl std::fmt::Debug for StructuredHessian<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (n, d) = self.a.shape();
        f.debug_struct("StructuredHessian").field("n", &n).field("d", &d).field("k", &self.p.k).finish_non_exhaustive()
    }
}

impl<'a> StructuredHessian<'a> {
    /// Assemble from parts whose sizes match `A` (`n` rows).
    #[track_caller]
    pub fn new(a: &'a CsrMatrix, p: HessianParts) -> Self {
        let (n, k) = (a.nrows(), p.k);
        assert!(
            p.d.len() == n && p.d_gn.len() == n && p.u.len() == n * k && p.c.len() == k * k && p.c_gn.len() == k * k,
            "inconsistent Hessian parts"
        );
        Self { a, p, atu: OnceLock::new(), scratch: one_buffer() }
    }

    /// The parts, and the product scratch buffer (for reuse by the objective's pool).
    pub(crate) fn into_buffers(self) -> (HessianParts, Vec<f64>) {
        (self.p, self.scratch.into_spare().pop().unwrap_or_default())
    }

    /// Seed the `AᵀU` cache (from a pass that computed it alongside the gradient).
    pub(crate) fn with_atu(self, atu: Option<Vec<f64>>) -> Self {
        if let Some(v) = atu {
            debug_assert_eq!(v.len(), self.dim() * self.p.k);
            let _ = self.atu.set(v);
        }
        self
    }

    /// The data matrix `A`.
    pub fn matrix(&self) -> &'a CsrMatrix {
        self.a
    }
    /// `d`.
    pub fn dim(&self) -> usize {
        self.a.ncols()
    }
    /// The diagonal of the chosen part (regulariser included).
    pub fn diagonal(&self, part: Part) -> &[f64] {
        match part {
            Part::Exact => &self.p.d,
            Part::GaussNewton => &self.p.d_gn,
        }
    }
    /// The nonnegative diagonal `D₊` a sketch samples, the one rule used by the solver and by
    /// `spnewton sketch`: the exact `D` where `D ≥ 0` (so the sketch approximates the Hessian
    /// itself wherever it can), the Gauss–Newton `D_GN ≥ 0` on the rows where `D < 0`. Returns
    /// it with the number of such rows; borrowed when there are none (the common case near `x*`).
    ///
    /// ```
    /// use losses::{HessianParts, StructuredHessian};
    /// use sparse_ops::{CsrMatrix, Duplicates};
    /// let a = CsrMatrix::from_triplets(2, 1, &[(0, 0, 1.0), (1, 0, 1.0)], Duplicates::Reject)?;
    /// let parts = HessianParts { d: vec![2.0, -1.0], d_gn: vec![1.5, 0.5], u: vec![], k: 0, c: vec![], c_gn: vec![] };
    /// let h = StructuredHessian::new(&a, parts);
    /// let (dplus, negative) = h.sketch_diagonal();
    /// assert_eq!((&*dplus, negative), (&[2.0, 0.5][..], 1));
    /// # Ok::<(), sparse_ops::StructureError>(())
    /// ```
    pub fn sketch_diagonal(&self) -> (std::borrow::Cow<'_, [f64]>, usize) {
        let (d, dgn) = (&self.p.d, &self.p.d_gn);
        let negative = d.iter().filter(|&&v| v < 0.0).count();
        if negative == 0 {
            return (d.as_slice().into(), 0);
        }
        (d.iter().zip(dgn).map(|(&a, &b)| crate::rows::sketch_weight(a, b)).collect(), negative)
    }
    /// `(U, k, C)` of the chosen part; `U` is `n×k` row-major.
    pub fn low_rank(&self, part: Part) -> (&[f64], usize, &[f64]) {
        match part {
            Part::Exact => (&self.p.u, self.p.k, &self.p.c),
            Part::GaussNewton => (&self.p.u, self.p.k, &self.p.c_gn),
        }
    }
    /// The size of the terms summed into `vᵀHv` for a unit `v`, before any cancellation:
    /// `Σ_i |D_i|·‖a_i‖² + Σ_kl |C_kl|·t_k·t_l` with `t_k = Σ_i |U_ik|·‖a_i‖`. A computed
    /// eigenvalue of `H` is uncertain by a small multiple of `ε` times this, however small `H`
    /// itself is (a saturated softmax: `D` and `UCUᵀ` nearly cancel). One pass over `A`.
    ///
    /// ```
    /// use losses::{HessianParts, Part, StructuredHessian};
    /// use sparse_ops::{CsrMatrix, Duplicates};
    /// let a = CsrMatrix::from_triplets(2, 1, &[(0, 0, 3.0), (1, 0, 1.0)], Duplicates::Reject)?;
    /// // D = [1, 1], U = [1, 1]ᵀ, C = [−0.5]: H = 9 + 1 − 0.5·16 = 2, the terms 10 + 0.5·16 = 18.
    /// let parts = HessianParts { d: vec![1.0, 1.0], d_gn: vec![1.0, 1.0], u: vec![1.0, 1.0], k: 1, c: vec![-0.5], c_gn: vec![0.0] };
    /// let h = StructuredHessian::new(&a, parts);
    /// assert_eq!(h.dense(Part::Exact)[(0, 0)], 2.0);
    /// assert_eq!(h.term_scale(Part::Exact), 18.0);
    /// # Ok::<(), sparse_ops::StructureError>(())
    /// ```
    pub fn term_scale(&self, part: Part) -> f64 {
        let (u, k, c) = self.low_rank(part);
        let diag = self.diagonal(part);
        let mut sd = Neumaier::default();
        let mut t = vec![0.0f64; k];
        for (i, di) in diag.iter().enumerate() {
            let r2: f64 = self.a.row(i).1.iter().map(|v| v * v).sum();
            sd.add(di.abs() * r2);
            let r = r2.sqrt();
            for (tk, uk) in t.iter_mut().zip(&u[i * k..(i + 1) * k]) {
                *tk += uk.abs() * r;
            }
        }
        let low: f64 =
            (0..k).flat_map(|p| (0..k).map(move |q| (p, q))).map(|(p, q)| c[p * k + q].abs() * t[p] * t[q]).sum();
        sd.value() + low
    }
    /// Rows where the exact diagonal `D` is negative.
    pub fn negative_rows(&self) -> usize {
        self.p.d.iter().filter(|&&v| v < 0.0).count()
    }

    /// `out = H·v`: one pass `t = A·v` that also folds `Uᵀt`, then one `Aᵀ·y` pass computing
    /// `y_i = D_i t_i + (U C Uᵀt)_i` on the fly. Deterministic.
    #[track_caller]
    pub fn apply(&self, part: Part, v: &[f64], out: &mut [f64]) {
        let (u, k, c) = self.low_rank(part);
        let diag = self.diagonal(part);
        // Every entry of `t` is written by the pass below.
        let mut t = self.scratch.take(self.a.nrows());
        let ut = self.a.mul_vec_fold(
            v,
            1,
            &mut t,
            || [Neumaier::default(); 3],
            |acc, i, ti, r| {
                r[0] = ti;
                for (j, a) in acc.iter_mut().enumerate().take(k) {
                    a.add(u[i * k + j] * ti);
                }
            },
            |mut p, q| {
                for (a, b) in p.iter_mut().zip(&q) {
                    a.add(b.value());
                }
                p
            },
        );
        let mut m = [0.0f64; 3];
        for (a, ma) in m.iter_mut().enumerate().take(k) {
            *ma = (0..k).map(|b| c[a * k + b] * ut[b].value()).sum();
        }
        self.a.tr_mul_vec_map(|i| diag[i] * t[i] + (0..k).map(|j| u[i * k + j] * m[j]).sum::<f64>(), out);
        self.scratch.give(t);
    }

    /// `out = H·v` in one pass over `A`: each row's `t_i = a_iᵀv` is formed and, while the row
    /// is in cache, `D_i t_i a_i` is scattered into a per-block partial of `AᵀDAv` and
    /// `U_i t_i` into one of `UᵀAv` (fixed blocks, added in block order: deterministic for any
    /// thread count). The low-rank part is then `(AᵀU)·C·(UᵀAv)`, `O(d·k)`, from the cached
    /// `AᵀU` ([`Self::atu`]). Cost: one read of `A` instead of [`Self::apply`]'s two, and no
    /// `n`-vector (memory `O(P·d)` for the `P` partials, bounded by the chunk policy). Agrees
    /// with [`Self::apply`] to rounding, not bitwise (different summation order).
    #[track_caller]
    pub fn apply_fused(&self, part: Part, v: &[f64], out: &mut [f64]) {
        let d = self.dim();
        assert!(v.len() == d && out.len() == d, "v and out must have d = {d} entries");
        let (u, k, c) = self.low_rank(part);
        let diag = self.diagonal(part);
        let (indptr, indices, data) = (self.a.indptr(), self.a.indices(), self.a.data());
        let mut acc = vec![0.0; d + k];
        self.a.reduce_rows_into(&mut acc, |rows, partial| {
            let (hv, ut) = partial.split_at_mut(d);
            for i in rows {
                let p = indptr[i]..indptr[i + 1];
                let (cols, vals) = (&indices[p.clone()], &data[p]);
                let t = sparse_ops::dot_row(cols, vals, v);
                let s = diag[i] * t;
                if s != 0.0 {
                    for (&j, &a) in cols.iter().zip(vals) {
                        hv[j as usize] += a * s;
                    }
                }
                for (j, acc) in ut.iter_mut().enumerate() {
                    *acc += u[i * k + j] * t;
                }
            }
        });
        let (hv, ut) = acc.split_at(d);
        out.copy_from_slice(hv);
        if k > 0 {
            let mut m = [0.0f64; 3];
            for (a, ma) in m.iter_mut().enumerate().take(k) {
                *ma = (0..k).map(|b| c[a * k + b] * ut[b]).sum();
            }
            let atu = self.atu();
            for (j, o) in out.iter_mut().enumerate() {
                *o += (0..k).map(|a| atu[j * k + a] * m[a]).sum::<f64>();
            }
        }
    }

    /// The diagonal of `Aᵀ(D + UCUᵀ)A` (the chosen part): `Σ_i D_i a_ij²` in one pass over `A`
    /// plus `Σ_ab (AᵀU)_ja C_ab (AᵀU)_jb` from the cached `AᵀU`, `O(d·k²)`. Deterministic (fixed
    /// row blocks, partials added in block order). The Jacobi preconditioner of Newton–CG.
    pub fn hessian_diagonal(&self, part: Part) -> Vec<f64> {
        let d = self.dim();
        let (_, k, c) = self.low_rank(part);
        let diag = self.diagonal(part);
        let (indptr, indices, data) = (self.a.indptr(), self.a.indices(), self.a.data());
        let mut out = vec![0.0; d];
        self.a.reduce_rows_into(&mut out, |rows, partial| {
            for i in rows {
                let di = diag[i];
                if di == 0.0 {
                    continue;
                }
                for p in indptr[i]..indptr[i + 1] {
                    partial[indices[p] as usize] += di * data[p] * data[p];
                }
            }
        });
        if k > 0 {
            let atu = self.atu();
            for (j, o) in out.iter_mut().enumerate() {
                let r = &atu[j * k..(j + 1) * k];
                *o += (0..k).map(|a| (0..k).map(|b| r[a] * c[a * k + b] * r[b]).sum::<f64>()).sum::<f64>();
            }
        }
        out
    }

    /// `AᵀU` (`d×k`, row-major): one pass over `A` the first time (none when the evaluation
    /// computed it with the gradient), then cached.
    pub fn atu(&self) -> &[f64] {
        self.atu.get_or_init(|| {
            let mut out = vec![0.0; self.dim() * self.p.k];
            self.a.tr_mul_dense(&self.p.u, self.p.k, &mut out);
            out
        })
    }

    /// `(AᵀU)·C·(AᵀU)ᵀ` added into `h` (`d×d`), given `AᵀU` from [`Self::atu`].
    pub fn add_low_rank(&self, part: Part, atu: &[f64], h: &mut Mat<f64>) {
        let (_, k, c) = self.low_rank(part);
        let d = self.dim();
        let p: Vec<f64> = (0..d * k).map(|q| (0..k).map(|b| atu[(q / k) * k + b] * c[b * k + q % k]).sum()).collect();
        for i in 0..d {
            for j in 0..d {
                h[(i, j)] += (0..k).map(|a| p[i * k + a] * atu[j * k + a]).sum::<f64>();
            }
        }
    }

    /// The dense `d×d` matrix of the chosen part: `AᵀDA` by the exact weighted Gram
    /// (`O(Σ nnz(a_i)²)`) plus the low-rank part. For solvers at moderate `d` and for tests.
    pub fn dense(&self, part: Part) -> Mat<f64> {
        let mut h = self.a.weighted_gram(self.diagonal(part));
        if self.p.k > 0 {
            self.add_low_rank(part, self.atu(), &mut h);
        }
        h
    }

    /// A faer linear operator for the chosen part (e.g. for faer's conjugate gradient).
    pub fn op(&self, part: Part) -> HessianOp<'_, 'a> {
        HessianOp { h: self, part }
    }
}

/// [`StructuredHessian`] as a faer [`LinOp`]: every application is one [`StructuredHessian::apply`]
/// per right-hand side, `O(nnz)` each.
#[derive(Debug, Clone, Copy)]
pub struct HessianOp<'h, 'a> {
    h: &'h StructuredHessian<'a>,
    part: Part,
}

impl LinOp<f64> for HessianOp<'_, '_> {
    fn apply_scratch(&self, _rhs_ncols: usize, _par: Par) -> StackReq {
        StackReq::EMPTY
    }
    fn nrows(&self) -> usize {
        self.h.dim()
    }
    fn ncols(&self) -> usize {
        self.h.dim()
    }
    fn apply(&self, mut out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, _par: Par, _stack: &mut MemStack) {
        let d = self.h.dim();
        let mut v = vec![0.0; d];
        let mut hv = vec![0.0; d];
        for j in 0..rhs.ncols() {
            for (i, x) in v.iter_mut().enumerate() {
                *x = rhs[(i, j)];
            }
            self.h.apply(self.part, &v, &mut hv);
            for (i, x) in hv.iter().enumerate() {
                out[(i, j)] = *x;
            }
        }
    }
    fn conj_apply(&self, out: MatMut<'_, f64>, rhs: MatRef<'_, f64>, par: Par, stack: &mut MemStack) {
        // Real symmetric: the conjugate is the operator itself.
        self.apply(out, rhs, par, stack)
    }
}

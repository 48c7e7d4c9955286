//! Deterministic sums over long vectors.
//!
//! A sum over `n` entries is cut into fixed chunks of [`CHUNK`] entries (independent of the
//! thread count); each chunk is summed with Neumaier compensation, and the chunk sums are
//! combined in chunk order, again compensated. The result is bitwise the same with 1 thread or
//! many, and accurate to a few ulps of `Σ|terms|` even when the terms cancel.

use std::ops::Range;

use rayon::prelude::*;

/// Entries per chunk of every deterministic reduction over `n`.
pub const CHUNK: usize = 8192;

/// A compensated (Neumaier) accumulator.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Neumaier {
    sum: f64,
    comp: f64,
}

impl Neumaier {
    #[inline]
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.comp += (self.sum - t) + x;
        } else {
            self.comp += (x - t) + self.sum;
        }
        self.sum = t;
    }
    /// An accumulator holding `x`.
    pub fn with(mut self, x: f64) -> Self {
        self.add(x);
        self
    }
    #[inline]
    pub fn value(&self) -> f64 {
        self.sum + self.comp
    }
}

/// Add per-chunk partial sums in chunk order, compensated.
pub fn combine<const K: usize>(partials: &[[f64; K]]) -> [f64; K] {
    let mut acc = [Neumaier::default(); K];
    for p in partials {
        for (a, &x) in acc.iter_mut().zip(p) {
            a.add(x);
        }
    }
    acc.map(|a| a.value())
}

/// `K` sums at once: `f(range)` returns the chunk's `K` partial sums (it should use a
/// [`Neumaier`] accumulator or [`sum_range`]); chunks are fixed, combined in order.
pub fn chunked_sums<const K: usize>(len: usize, f: impl Fn(Range<usize>) -> [f64; K] + Sync) -> [f64; K] {
    let partials: Vec<[f64; K]> = (0..len.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            crate::simd::clear_upper_state();
            f(c * CHUNK..((c + 1) * CHUNK).min(len))
        })
        .collect();
    combine(&partials)
}

/// `Σ_{i∈range} term(i)`, compensated: four lanes of Knuth's branch-free two-sum (each
/// addition's rounding error is carried exactly), so the loop has no branch and no single
/// dependency chain, and it is as accurate as [`Neumaier`].
#[inline]
pub fn sum_range(range: Range<usize>, term: impl Fn(usize) -> f64) -> f64 {
    let (start, len) = (range.start, range.len());
    let full = len / 4 * 4;
    let (mut s, mut c) = ([0.0f64; 4], [0.0f64; 4]);
    for k in (0..full).step_by(4) {
        for l in 0..4 {
            let x = term(start + k + l);
            let t = s[l] + x;
            let bb = t - s[l];
            c[l] += (s[l] - (t - bb)) + (x - bb);
            s[l] = t;
        }
    }
    let mut acc = Neumaier::default();
    for l in 0..4 {
        acc.add(s[l]);
        acc.add(c[l]);
    }
    for i in start + full..range.end {
        acc.add(term(i));
    }
    acc.value()
}

/// `Σ v_i²` for a short vector (a row of a few dense columns), in four interleaved lanes added
/// as `(s₀ + s₁) + (s₂ + s₃)` and then the tail: a fixed order, so the same bits everywhere,
/// and no single dependency chain, so it vectorises. Not compensated (the terms are positive).
///
/// ```
/// assert_eq!(runtime::reduce::sum_squares(&[1.0, 2.0, 3.0, 4.0, 5.0]), 55.0);
/// ```
#[inline(always)]
pub fn sum_squares(v: &[f64]) -> f64 {
    let (quads, tail) = v.as_chunks::<4>();
    let mut s = [0.0f64; 4];
    for q in quads {
        for l in 0..4 {
            s[l] += q[l] * q[l];
        }
    }
    let mut t = (s[0] + s[1]) + (s[2] + s[3]);
    for &x in tail {
        t += x * x;
    }
    t
}

/// `Σ_i term(i)` over `0..len`, deterministic and compensated.
///
/// ```
/// let v = vec![1e16, 1.0, -1e16, 1.0];
/// assert_eq!(runtime::reduce::sum(v.len(), |i| v[i]), 2.0);
/// ```
pub fn sum(len: usize, term: impl Fn(usize) -> f64 + Sync) -> f64 {
    chunked_sums::<1>(len, |r| [sum_range(r, &term)])[0]
}

/// `⟨a, b⟩`, deterministic and compensated.
#[track_caller]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "dot: lengths differ");
    sum(a.len(), |i| a[i] * b[i])
}

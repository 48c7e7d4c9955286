#![allow(dead_code)]
//! Small random attention problems and finite-difference references.

use attention::{AttentionData, AttentionLoss, AttentionMeta, EntryLoss, Normalisation};
use faer::Mat;
use proptest::prelude::*;

/// A small problem: data, `Y`, and a point `X`.
#[derive(Debug, Clone)]
pub struct Case {
    pub data: AttentionData,
    pub y: Mat<f64>,
    pub x: Mat<f64>,
}

pub const LOSSES: [AttentionLoss; 3] = [AttentionLoss::L2, AttentionLoss::LOGISTIC, AttentionLoss::LINEAR];

fn mat(rows: usize, cols: usize, v: &[f64]) -> Mat<f64> {
    Mat::from_fn(rows, cols, |i, j| v[i * cols + j])
}

/// Entries in `[-1, 1]` (softmax), or in `[0.1, 1]` for linear attention so that its
/// normalisers stay away from zero; labels `±1` for the logistic loss.
pub fn case(loss: AttentionLoss) -> impl Strategy<Value = Case> {
    let lo = if loss.normalisation == Normalisation::Linear { 0.1 } else { -1.0 };
    (1usize..3, 2usize..6, 1usize..4).prop_flat_map(move |(m, n, d)| {
        let rows = m * n * d;
        (
            proptest::collection::vec(lo..1.0f64, 3 * rows),
            proptest::collection::vec(-1.0..1.0f64, rows),
            proptest::collection::vec(-1.0..1.0f64, d * d),
            proptest::collection::vec(lo..1.0f64, d * d),
        )
            .prop_map(move |(a, b, y, x)| {
                let meta = AttentionMeta { m, n, d };
                let b: Vec<f64> = match loss.entry {
                    EntryLoss::L2 => b,
                    EntryLoss::Logistic => b.iter().map(|v| if *v < 0.0 { -1.0 } else { 1.0 }).collect(),
                };
                let data = AttentionData::new(
                    meta,
                    mat(m * n, d, &a[..rows]),
                    mat(m * n, d, &a[rows..2 * rows]),
                    mat(m * n, d, &a[2 * rows..]),
                    mat(m * n, d, &b),
                )
                .unwrap();
                Case { data, y: mat(d, d, &y), x: mat(d, d, &x) }
            })
    })
}

/// `df/dt` at `t = 0` of `t ↦ f(t)`: central differences at `h`, `h/2`, `h/4`, extrapolated
/// twice (Richardson; truncation error `O(h⁶)`, rounding `O(ε/h)` relative).
pub fn derivative(f: impl Fn(f64) -> f64, h: f64) -> f64 {
    let d = |h: f64| (f(h) - f(-h)) / (2.0 * h);
    let (d1, d2, d4) = (d(h), d(h / 2.0), d(h / 4.0));
    let (r1, r2) = ((4.0 * d2 - d1) / 3.0, (4.0 * d4 - d2) / 3.0);
    (16.0 * r2 - r1) / 15.0
}

/// The same for a matrix-valued function, entry by entry.
pub fn derivative_mat(f: impl Fn(f64) -> Mat<f64>, h: f64) -> Mat<f64> {
    let d = |h: f64| (f(h) - f(-h)) * faer::Scale(1.0 / (2.0 * h));
    let (d1, d2, d4) = (d(h), d(h / 2.0), d(h / 4.0));
    let r1 = (&d2 * faer::Scale(4.0) - &d1) * faer::Scale(1.0 / 3.0);
    let r2 = (&d4 * faer::Scale(4.0) - &d2) * faer::Scale(1.0 / 3.0);
    (r2 * faer::Scale(16.0) - r1) * faer::Scale(1.0 / 15.0)
}

/// `‖a − b‖_F / max(‖b‖_F, floor)`.
pub fn rel(a: &Mat<f64>, b: &Mat<f64>, floor: f64) -> f64 {
    (a - b).norm_l2() / b.norm_l2().max(floor)
}

/// `E_ij`, `r×c`.
pub fn unit(r: usize, c: usize, i: usize, j: usize) -> Mat<f64> {
    Mat::from_fn(r, c, |a, b| if (a, b) == (i, j) { 1.0 } else { 0.0 })
}

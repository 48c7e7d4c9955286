#![allow(dead_code)]
//! Random well-scaled problems and finite-difference references.

use losses::{Activation, LossKind, Objective, Regulariser, What};
use proptest::prelude::*;
use sparse_ops::CsrMatrix;

pub const LOSSES: [LossKind; 4] = [LossKind::Rescaled, LossKind::Hyperbolic, LossKind::Softmax, LossKind::Linear];
pub const FUNCS: [Activation; 3] = [Activation::Exp, Activation::Cosh, Activation::Sinh];

/// A small problem: `A` with about half its entries nonzero, `b`, `w`, and a point `x` with
/// `‖Ax‖_∞ ≤ 1` (well-scaled: `u` and its derivatives within a factor e of 1).
#[derive(Debug, Clone)]
pub struct Case {
    pub a: CsrMatrix,
    pub b: Vec<f64>,
    pub w: Regulariser,
    pub x: Vec<f64>,
    pub v: Vec<f64>,
}

pub fn case() -> impl Strategy<Value = Case> {
    (3usize..25, 1usize..6).prop_flat_map(|(n, d)| {
        (
            proptest::collection::vec(prop_oneof![1 => Just(0.0), 1 => -1.0f64..1.0], n * d),
            proptest::collection::vec(-1.0f64..1.0, n),
            proptest::collection::vec(-1.0f64..1.0, d),
            proptest::collection::vec(-1.0f64..1.0, d),
            prop_oneof![Just(None), (0.0f64..1.0).prop_map(Some), Just(Some(-1.0))],
            proptest::collection::vec(0.0f64..2.0, n),
        )
            .prop_map(move |(m, b, x, v, wc, wr)| {
                let a = CsrMatrix::from_dense(n, d, &m).unwrap();
                let mut z = vec![0.0; n];
                a.mul_vec(&x, &mut z);
                let zmax = z.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                let s = if zmax > 1.0 { 1.0 / zmax } else { 1.0 };
                let w = match wc {
                    None => Regulariser::None,
                    Some(c) if c >= 0.0 => Regulariser::Const(c),
                    Some(_) => Regulariser::PerRow(wr),
                };
                Case { a, b, w, x: x.iter().map(|t| t * s).collect(), v }
            })
    })
}

pub fn objective<'a>(c: &'a Case, loss: LossKind, func: Activation) -> Objective<'a> {
    Objective::new(&c.a, &c.b, c.w.clone(), loss, func).unwrap()
}

pub fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

pub fn sub(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

/// Central difference of a vector function along `dir`, Richardson-extrapolated:
/// `(4·D(h/2) − D(h))/3` has truncation error `O(h⁴)` (here ~1e-12 for h = 1e-3) and rounding
/// error ~`ε·|F|/h` ≈ 1e-13·|F|, far below the 1e-6 tolerance of the checks.
pub fn directional_fd(f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64], dir: &[f64], h: f64) -> Vec<f64> {
    let at = |t: f64| f(&x.iter().zip(dir).map(|(a, b)| a + t * b).collect::<Vec<_>>());
    let dh = |h: f64| at(h).iter().zip(at(-h)).map(|(p, m)| (p - m) / (2.0 * h)).collect::<Vec<_>>();
    let (d1, d2) = (dh(h), dh(h / 2.0));
    d1.iter().zip(&d2).map(|(a, b)| (4.0 * b - a) / 3.0).collect()
}

pub fn gradient(f: &Objective, x: &[f64]) -> Vec<f64> {
    f.evaluate(x, What::Gradient).unwrap().gradient.unwrap()
}

/// Dense `d×d` as row-major `Vec` from a faer matrix.
pub fn rows(m: &faer::Mat<f64>) -> Vec<f64> {
    let d = m.nrows();
    (0..d * d).map(|q| m[(q / d, q % d)]).collect()
}
pub fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

//! Problem directories round-trip; planted problems have zero data residual at `x_true`.

use losses::{Activation, LossKind, PlantSpec, Problem, Regulariser, plant};
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

fn matrix() -> sparse_ops::CsrMatrix {
    random_sparse(&GenSpec { nrows: 400, ncols: 12, sparsity: Sparsity::RowNnz(4), variant: Variant::Plain, seed: 1 })
        .unwrap()
}

#[test]
fn problem_roundtrip_every_optional_file() {
    let a = matrix();
    let spec = PlantSpec { loss: LossKind::Softmax, func: Activation::Exp, scale: 0.3, noise: 0.1, seed: 2 };
    let (x, b) = plant(&a, &spec).unwrap();
    for (w, compress) in [
        (Regulariser::PerRow((0..400).map(|i| i as f64 / 400.0).collect()), true),
        (Regulariser::Const(0.25), false),
        (Regulariser::None, false),
    ] {
        let p = Problem {
            a: a.clone(),
            b: b.clone(),
            w: w.clone(),
            loss: LossKind::Softmax,
            func: Activation::Exp,
            x0: Some(vec![0.5; 12]),
            x_true: Some(x.clone()),
        };
        let dir = tempfile::tempdir().unwrap();
        p.write_dir(dir.path(), compress).unwrap();
        let q = Problem::read_dir(dir.path()).unwrap();
        assert_eq!(q.a, p.a);
        assert_eq!(q.b, p.b);
        assert_eq!(q.w, w);
        assert_eq!(q.x0, p.x0);
        assert_eq!(q.x_true, p.x_true);
        assert_eq!((q.loss, q.func), (LossKind::Softmax, Activation::Exp));
    }
}

#[test]
fn planted_b_zeroes_the_data_term() {
    let a = matrix();
    for loss in [LossKind::Rescaled, LossKind::Hyperbolic, LossKind::Softmax, LossKind::Linear] {
        for func in [Activation::Exp, Activation::Cosh, Activation::Sinh] {
            let spec = PlantSpec { loss, func, scale: 0.5, noise: 0.0, seed: 7 };
            let (x, b) = match plant(&a, &spec) {
                Ok(r) => r,
                Err(losses::PlantError::DegenerateRescale(_)) => continue,
                Err(e) => panic!("{e}"),
            };
            let mut z = vec![0.0; 400];
            a.mul_vec(&x, &mut z);
            let zmax = z.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!((zmax - 0.5).abs() < 1e-12);
            let u: Vec<f64> = z.iter().map(|&t| func.u(t)).collect();
            let resid: Vec<f64> = match loss {
                LossKind::Linear => z.iter().zip(&b).map(|(z, b)| z - b).collect(),
                LossKind::Hyperbolic => u.iter().zip(&b).map(|(u, b)| u - b).collect(),
                LossKind::Rescaled => {
                    let alpha: f64 = u.iter().sum();
                    u.iter().zip(&b).map(|(u, b)| u - alpha * b).collect()
                }
                LossKind::Softmax => {
                    let e: Vec<f64> = z.iter().map(|t| t.exp()).collect();
                    let s: f64 = e.iter().sum();
                    e.iter().zip(&b).map(|(e, b)| e / s - b).collect()
                }
            };
            let r = resid.iter().map(|v| v.abs()).fold(0.0, f64::max);
            let scale = b.iter().map(|v| v.abs()).fold(0.0, f64::max).max(1.0);
            assert!(r <= 1e-13 * scale * 400.0, "{loss} {func}: residual {r}");
        }
    }
}

#[test]
fn bad_plant_specs_are_errors() {
    let a = matrix();
    let base = PlantSpec { loss: LossKind::Linear, func: Activation::Exp, scale: 0.5, noise: 0.0, seed: 0 };
    assert!(plant(&a, &PlantSpec { scale: 0.0, ..base }).is_err());
    assert!(plant(&a, &PlantSpec { noise: f64::NAN, ..base }).is_err());
    let empty = sparse_ops::CsrMatrix::try_from_csr(2, 2, vec![0, 0, 0], vec![], vec![]).unwrap();
    assert_eq!(plant(&empty, &base), Err(losses::PlantError::ZeroMatrix));
}

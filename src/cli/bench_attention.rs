//! `spnewton bench attention`: the attention loss's arithmetic rate against faer's matmul, and
//! the Hessian-vector product against forming the dense Hessian, each measured in one run.

use std::hint::black_box;
use std::path::PathBuf;

use attention::{AttentionMeta, AttentionObjective, PlantSpec, Want, plant};
use clap::Args;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use rayon::prelude::*;

use harness::Cases;

#[derive(Args)]
pub struct AttentionBenchArgs {
    /// Sequences, tokens, dimension of the forward+gradient measurement.
    #[arg(long, default_value_t = 64)]
    m: usize,
    /// Tokens per sequence n of the forward+gradient measurement.
    #[arg(long, default_value_t = 128)]
    n: usize,
    /// Dimension d of the forward+gradient measurement.
    #[arg(long, default_value_t = 64)]
    d: usize,
    /// Dimensions for Hessian-vector product against the dense d²×d² Hessian (m = 8, n = 32).
    #[arg(long, value_delimiter = ',', default_value = "4,8,16,32")]
    hess_d: Vec<usize>,
    /// Repetitions per measurement (the median is reported).
    #[arg(long, default_value_t = 7)]
    reps: usize,
    /// Also write the figures as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Per sequence, forward + gradients in X and Y: four `n×d·d×d`-type products (`A₁X`, `A₃Y`,
/// `A₁ᵀ(·)`, `A₃ᵀ(·)`) and five `n×n`-type (`(A₁X)A₂ᵀ`, `SV`, `RVᵀ`, `G_Z A₂`, `SᵀR`).
fn flops(n: usize, d: usize) -> (f64, f64) {
    let (n, d) = (n as f64, d as f64);
    (4.0 * 2.0 * n * d * d, 5.0 * 2.0 * n * n * d)
}

pub fn run(a: AttentionBenchArgs) -> anyhow::Result<i32> {
    let threads = rayon::current_num_threads();
    let (m, n, d) = (a.m, a.n, a.d);
    let p = plant(&PlantSpec { meta: AttentionMeta { m, n, d }, seed: 1, ..Default::default() })?;
    let f = AttentionObjective::new(&p.data, p.y.clone(), attention::AttentionLoss::L2)?;
    let x = p.x_true.clone() * faer::Scale(0.5);
    // faer's own rate on the same shapes, with the same scheme (sequences in parallel, each
    // product sequential): an n×d times d×d product, and an n×d times d×n product.
    let lhs: Vec<Mat<f64>> = (0..m).map(|l| p.data.a1(l).to_owned()).collect();
    let rhs_dd = p.y.clone();
    let rhs_dn: Vec<Mat<f64>> = (0..m).map(|l| p.data.a2(l).transpose().to_owned()).collect();
    let mut out_nd: Vec<Mat<f64>> = (0..m).map(|_| Mat::zeros(n, d)).collect();
    let mut out_nn: Vec<Mat<f64>> = (0..m).map(|_| Mat::zeros(n, n)).collect();
    let big = 1024;
    let (ba, bb) = (Mat::<f64>::from_fn(big, big, |i, j| ((i * 7 + j) % 13) as f64), Mat::<f64>::identity(big, big));
    let mut bc = Mat::<f64>::zeros(big, big);
    const OURS: &str = "forward+gradient";
    const FAER_DD: &str = "faer n×d·d×d";
    const FAER_DN: &str = "faer n×d·d×n";
    const FAER_BIG: &str = "faer 1024² (all threads)";
    let mut cases = Cases::new();
    cases
        .add(OURS, || {
            black_box(f.evaluate(x.as_ref(), Want::Gradient).unwrap());
        })
        .add(FAER_DD, || {
            out_nd
                .par_iter_mut()
                .zip(&lhs)
                .for_each(|(o, l)| matmul(o.as_mut(), Accum::Replace, l.as_ref(), rhs_dd.as_ref(), 1.0, Par::Seq));
        })
        .add(FAER_DN, || {
            out_nn
                .par_iter_mut()
                .zip(lhs.par_iter().zip(&rhs_dn))
                .for_each(|(o, (l, r))| matmul(o.as_mut(), Accum::Replace, l.as_ref(), r.as_ref(), 1.0, Par::Seq));
        })
        .add(FAER_BIG, || matmul(bc.as_mut(), Accum::Replace, ba.as_ref(), bb.as_ref(), 1.0, Par::rayon(threads)));
    let t = cases.run(2, a.reps);
    drop(cases);
    let ours_s = t[OURS];
    let (f_nd, f_nn) = flops(n, d);
    let (f_nd, f_nn) = (f_nd * m as f64, f_nn * m as f64);
    let ours = (f_nd + f_nn) / ours_s / 1e9;
    let rate_nd = (2.0 * (n * d * d * m) as f64) / t[FAER_DD] / 1e9;
    let rate_nn = (2.0 * (n * n * d * m) as f64) / t[FAER_DN] / 1e9;
    let peak = 2.0 * (big as f64).powi(3) / t[FAER_BIG] / 1e9;
    // Time faer would need for our products at its measured rates.
    let faer_time = f_nd / (rate_nd * 1e9) + f_nn / (rate_nn * 1e9);
    outln!("attention forward+gradient, m = {m}, n = {n}, d = {d}, {threads} threads, medians of {}", a.reps)?;
    outln!("  ours:                 {:>8.3} ms  {ours:>7.2} GFLOP/s (matmul flops only)", ours_s * 1e3)?;
    outln!("  faer n×d·d×d:         {rate_nd:>7.2} GFLOP/s     faer n×d·d×n: {rate_nn:>7.2} GFLOP/s")?;
    outln!("  faer 1024² matmul:    {peak:>7.2} GFLOP/s")?;
    outln!("  ours vs faer on the same products: {:.2} (1 = as fast as faer's matmul alone)", faer_time / ours_s)?;

    // Hessian-vector product against the dense Hessian.
    outln!("\nHessian in vec(X): m = 8, n = 32; times are medians")?;
    outln!(
        "{:>4} {:>6} {:>12} {:>12} {:>12} {:>10} {:>10}",
        "d",
        "d²",
        "gradient ms",
        "hvp ms",
        "dense ms",
        "hvp/grad",
        "dense/hvp"
    )?;
    let mut hess_rows = Vec::new();
    for &hd in &a.hess_d {
        let p = plant(&PlantSpec { meta: AttentionMeta { m: 8, n: 32, d: hd }, seed: 2, ..Default::default() })?;
        let f = AttentionObjective::new(&p.data, p.y.clone(), attention::AttentionLoss::L2)?;
        let e = f.evaluate(p.x_true.as_ref(), Want::Hessian)?;
        let h = e.hessian.as_ref().expect("requested");
        let dir = e.grad_x.clone();
        let reps = if hd >= 32 { 3 } else { a.reps };
        let mut cases = Cases::new();
        cases
            .add("gradient", || {
                black_box(f.evaluate(p.x_true.as_ref(), Want::Gradient).unwrap());
            })
            .add("hvp", || {
                black_box(h.hvp(dir.as_ref()));
            })
            .add("dense", || {
                black_box(h.dense());
            });
        let t = cases.run(1, reps);
        let (grad, hvp, dense) = (t["gradient"], t["hvp"], t["dense"]);
        outln!(
            "{hd:>4} {:>6} {:>12.4} {:>12.4} {:>12.3} {:>10.2} {:>10.0}",
            hd * hd,
            grad * 1e3,
            hvp * 1e3,
            dense * 1e3,
            hvp / grad,
            dense / hvp
        )?;
        hess_rows.push(serde_json::json!({"d": hd, "gradient_s": grad, "hvp_s": hvp, "dense_s": dense}));
    }
    if let Some(out) = &a.out {
        let v = serde_json::json!({
            "threads": threads, "m": m, "n": n, "d": d,
            "forward_gradient_s": ours_s, "gflops": ours, "faer_gflops_nd": rate_nd, "faer_gflops_nn": rate_nn,
            "faer_gflops_1024": peak, "relative_to_faer": faer_time / ours_s, "hessian": hess_rows,
        });
        super::output::write_json(out, &v)?;
    }
    Ok(0)
}

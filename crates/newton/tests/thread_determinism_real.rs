//! Same seed, same bits at 1, 2, 3 and 4 threads — on real and coherent matrices, for every
//! strategy. The planted test problems of `convergence.rs` are too small to show a
//! thread-count dependence (a parallel QR once split its work by the pool size: on the
//! 31,064 × 1,000 KJV matrix `leverage` then gave an `x` differing in 80% of its entries between
//! 1 and 2 threads).

use std::ops::ControlFlow;

use losses::{Activation, LossKind, Objective, Problem, Regulariser, What};
use newton::{Report, SolverParams, Strategy, solve};
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

/// Every strategy the solver has: a new one is tested here without listing it.
const STRATEGIES: &[Strategy] = Strategy::ALL;

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

/// `x` and every recorded loss and gradient norm, as bits.
fn fingerprint(r: &Report) -> (Vec<u64>, Vec<(u64, u64)>) {
    (
        r.x.iter().map(|v| v.to_bits()).collect(),
        r.history.iter().map(|h| (h.loss.to_bits(), h.grad_norm.to_bits())).collect(),
    )
}

/// Solve `f` with each strategy at 1–4 threads and require identical bits.
fn assert_thread_independent(f: &Objective, x0: &[f64], max_iter: usize, what: &str) {
    for &s in STRATEGIES {
        let params =
            SolverParams { strategy: s, seed: 5, max_iter, refresh_every: 2, checks: false, ..Default::default() };
        let run = |t| {
            in_pool(t, || fingerprint(&solve(f, x0, &params, None, &mut |_, _| ControlFlow::Continue(())).unwrap()))
        };
        let one = run(1);
        assert!(!one.1.is_empty(), "{what} {}: no iteration ran", s.name());
        for t in 2..=4 {
            let other = run(t);
            let differ = one.0.iter().zip(&other.0).filter(|(a, b)| a != b).count();
            assert_eq!(
                differ,
                0,
                "{what} {}: {differ} of {} entries of x differ at {t} threads",
                s.name(),
                one.0.len()
            );
            assert_eq!(one.1, other.1, "{what} {}: history differs at {t} threads", s.name());
        }
    }
}

#[test]
fn kjv_every_strategy_same_bits_at_one_to_four_threads() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/kjv");
    let p = Problem::read_dir(&dir).unwrap();
    let f = Objective::from_problem(&p).unwrap();
    let x0 = vec![0.0; p.a.ncols()];
    // Three iterations reach the sketch refresh, the reused sample and the line search.
    assert_thread_independent(&f, &x0, 3, "KJV");
}

#[test]
fn coherent_design_every_strategy_same_bits_at_one_to_four_threads() {
    // Rows of leverage 1 (spike columns) and a skewed response: the sampler keeps rows with
    // p = 1 beside sampled ones, and D has a wide range.
    let a = random_sparse(&GenSpec {
        nrows: 60_000,
        ncols: 40,
        sparsity: Sparsity::RowNnz(8),
        variant: Variant::Coherent { spikes: 4 },
        seed: 11,
    })
    .unwrap();
    let b: Vec<f64> = (0..a.nrows()).map(|i| 1.0 / 60_000.0 * (1.0 + (i % 13) as f64 / 13.0)).collect();
    let f = Objective::new(&a, &b, Regulariser::Const(1e-3), LossKind::Rescaled, Activation::Exp).unwrap();
    let x0 = vec![0.0; 40];
    assert!(f.evaluate(&x0, What::Value).is_ok());
    assert_thread_independent(&f, &x0, 6, "coherent");
}

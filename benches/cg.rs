//! criterion: the solver's conjugate gradient (`newton::pcg`) against faer's
//! `conjugate_gradient`, on the same operator (the exact structured Hessian of a planted
//! rescaled-exp problem as a faer `LinOp`, Hessian-vector products `O(nnz)`), the same
//! right-hand side `−g`, no preconditioner, relative tolerance 1e-8 from `x = 0`.
//!
//! Run: `cargo bench --bench cg`. The result decides which CG the solver uses (item 5 of
//! issue 14; the figures and the decision are in docs/benchmarks.md).

use criterion::{Criterion, criterion_group, criterion_main};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::matrix_free::conjugate_gradient::{CgParams, conjugate_gradient, conjugate_gradient_scratch};
use faer::matrix_free::{IdentityPrecond, InitialGuessStatus};
use faer::{Mat, Par};
use losses::{Activation, LossKind, Objective, Part, PlantSpec, Regulariser, What, plant};
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

fn cg(c: &mut Criterion) {
    let mut g = c.benchmark_group("cg_exact_hessian_rtol1e-8");
    g.sample_size(10);
    for (n, d) in [(200_000, 64), (100_000, 1_000)] {
        let spec = GenSpec { nrows: n, ncols: d, sparsity: Sparsity::RowNnz(10), variant: Variant::Plain, seed: 1 };
        let a = random_sparse(&spec).unwrap();
        let ps = PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.01, seed: 2 };
        let (x_true, b) = plant(&a, &ps).unwrap();
        let f = Objective::new(&a, &b, Regulariser::Const(0.01), LossKind::Rescaled, Activation::Exp).unwrap();
        let x: Vec<f64> = x_true.iter().map(|v| 0.5 * v).collect();
        let e = f.evaluate(&x, What::Hessian).unwrap();
        let h = e.hessian.as_ref().unwrap();
        let rhs: Vec<f64> = e.gradient.as_ref().unwrap().iter().map(|v| -v).collect();
        let ours = || newton::pcg(&rhs, 1e-8, 10 * d, |v, out| h.apply(Part::Exact, v, out), |r| r.to_vec());
        let op = h.op(Part::Exact);
        let mut mem = MemBuffer::new(conjugate_gradient_scratch(IdentityPrecond { dim: d }, op, 1, Par::Seq));
        let b_mat = Mat::from_fn(d, 1, |i, _| rhs[i]);
        let params = CgParams {
            // `Zero` leaves faer 0.24.4's residual uninitialised (it never copies `b` into `r`),
            // so faer starts from `x = 0` given explicitly, at the cost of one product.
            initial_guess: InitialGuessStatus::MaybeNonZero,
            abs_tolerance: 0.0,
            rel_tolerance: 1e-8,
            max_iters: 10 * d,
            ..Default::default()
        };
        let mut faer_run = |out: &mut Mat<f64>| {
            out.fill(0.0);
            conjugate_gradient(
                out.as_mut(),
                IdentityPrecond { dim: d },
                op,
                b_mat.as_ref(),
                params,
                |_| {},
                Par::Seq,
                MemStack::new(&mut mem),
            )
            .map(|info| info.iter_count)
        };
        let mut out = Mat::zeros(d, 1);
        let (mine, theirs) = (ours(), faer_run(&mut out));
        eprintln!("n = {n}, d = {d}: newton::pcg {} iterations, faer {theirs:?} iterations", mine.iterations);
        g.bench_function(format!("newton_pcg/n{n}_d{d}"), |bch| bch.iter(ours));
        g.bench_function(format!("faer_cg/n{n}_d{d}"), |bch| bch.iter(|| faer_run(&mut out)));
    }
    g.finish();
}

criterion_group!(benches, cg);
criterion_main!(benches);

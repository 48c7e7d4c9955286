//! criterion: one full Newton iteration per strategy (evaluation, Newton matrix, solve, line
//! search) on a planted rescaled-exp problem, n = 200,000, d = 64, 10 nonzeros per row.
//!
//! Run: `cargo bench --bench iteration`

use std::ops::ControlFlow;

use criterion::{Criterion, criterion_group, criterion_main};
use losses::{Activation, LossKind, Objective, PlantSpec, Regulariser, plant};
use newton::{SolverParams, Strategy, solve};
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

fn iteration(c: &mut Criterion) {
    let spec = GenSpec { nrows: 200_000, ncols: 64, sparsity: Sparsity::RowNnz(10), variant: Variant::Plain, seed: 1 };
    let a = random_sparse(&spec).unwrap();
    let plant_spec = PlantSpec { loss: LossKind::Rescaled, func: Activation::Exp, scale: 0.5, noise: 0.01, seed: 2 };
    let (_, b) = plant(&a, &plant_spec).unwrap();
    let f = Objective::new(&a, &b, Regulariser::Const(0.01), LossKind::Rescaled, Activation::Exp).unwrap();
    let x0 = vec![0.0; 64];
    let mut g = c.benchmark_group("newton_iteration_n2e5_d64_r10");
    g.sample_size(10);
    for s in [Strategy::Exact, Strategy::GaussNewton, Strategy::Leverage, Strategy::LeveragePcg, Strategy::NewtonSketch]
    {
        // One iteration from x0 (max_iter = 1), checks off: the solver's own cost.
        let params = SolverParams { strategy: s, max_iter: 1, tol: 0.0, checks: false, ..Default::default() };
        g.bench_function(s.name(), |bch| {
            bch.iter(|| solve(&f, &x0, &params, None, &mut |_, _| ControlFlow::Continue(())).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, iteration);
criterion_main!(benches);

//! criterion bench of the structured Hessian-vector product `Aᵀ(D + UCUᵀ)A·v` that Newton–CG
//! makes once per CG iteration: the two-pass [`losses::StructuredHessian::apply`] (`t = Av`,
//! then `Aᵀ(Dt + UCUᵀt)`) against the one-pass [`losses::StructuredHessian::apply_fused`]
//! (each row's dot product and scatter while the row is in cache, no `n`-vector), at
//! `n = 10⁶, d = 100` and `n = 2·10⁵, d = 20,000`, 10 nonzeros a row, softmax (`k = 3`) and
//! linear (`k = 0`), 1 and 2 threads.
//!
//! Run: `cargo bench --bench hessian_vector`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use losses::{Activation, LossKind, Objective, Part, PlantSpec, Regulariser, What, plant};
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

fn hessian_vector(c: &mut Criterion) {
    for (n, d) in [(1_000_000, 100), (200_000, 20_000)] {
        let spec = GenSpec { nrows: n, ncols: d, sparsity: Sparsity::RowNnz(10), variant: Variant::Plain, seed: 1 };
        let a = random_sparse(&spec).unwrap();
        for loss in [LossKind::Linear, LossKind::Softmax] {
            let (x, b) =
                plant(&a, &PlantSpec { loss, func: Activation::Exp, scale: 0.5, noise: 0.1, seed: 2 }).unwrap();
            let f = Objective::new(&a, &b, Regulariser::Const(1e-6), loss, Activation::Exp).unwrap();
            let e = f.evaluate(&x, What::Hessian).unwrap();
            let h = e.hessian.as_ref().unwrap();
            let _ = h.atu();
            let v: Vec<f64> = (0..d).map(|j| (j as f64).sin()).collect();
            let mut out = vec![0.0; d];
            let mut g = c.benchmark_group(format!("hv_n{n}_d{d}_{loss}"));
            g.sample_size(20);
            g.throughput(Throughput::Bytes(a.csr_bytes() as u64));
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                g.bench_function(format!("two-pass/{threads}t"), |bch| {
                    bch.iter(|| pool.install(|| h.apply(Part::Exact, &v, &mut out)))
                });
                g.bench_function(format!("fused/{threads}t"), |bch| {
                    bch.iter(|| pool.install(|| h.apply_fused(Part::Exact, &v, &mut out)))
                });
            }
            g.finish();
        }
    }
}

criterion_group!(benches, hessian_vector);
criterion_main!(benches);

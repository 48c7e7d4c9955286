//! criterion benches of the sparse kernels at nnz = 10^7 (n = 10^6, d = 100, 10 per row),
//! 1 and 2 threads. Ratios measured in one run are produced by `spnewton bench kernels`
//! (see docs/benchmarks.md); these give criterion's confidence intervals.
//!
//! Run: `cargo bench --bench kernels`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

fn kernels(c: &mut Criterion) {
    let spec =
        GenSpec { nrows: 1_000_000, ncols: 100, sparsity: Sparsity::RowNnz(10), variant: Variant::Plain, seed: 1 };
    let a = random_sparse(&spec).unwrap();
    let (n, d) = a.shape();
    let x: Vec<f64> = (0..d).map(|j| (j as f64).sin()).collect();
    let y: Vec<f64> = (0..n).map(|i| (i as f64).cos()).collect();
    let mut out_n = vec![0.0; n];
    let mut out_d = vec![0.0; d];
    let mut g = c.benchmark_group("spmv_nnz1e7");
    g.sample_size(20);
    g.throughput(Throughput::Bytes((a.csr_bytes() + 8 * (n + d)) as u64));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        g.bench_function(format!("A·x/{threads}t"), |b| b.iter(|| pool.install(|| a.mul_vec(&x, &mut out_n))));
        g.bench_function(format!("Aᵀ·y/{threads}t"), |b| b.iter(|| pool.install(|| a.tr_mul_vec(&y, &mut out_d))));
    }
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);

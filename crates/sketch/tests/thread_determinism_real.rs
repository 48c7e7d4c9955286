//! Same seed, same sample (rows and weight bits) at 1, 2, 3 and 4 threads, on the bundled KJV
//! matrix (d = 1,000: large enough that the sketch's QR runs in parallel) and on a coherent
//! generated one, for every method. Before the QR's task count was fixed, KJV kept the same rows
//! but thousands of weights differed in the last bit between 1 and 2 threads.

use sketch::{Method, Sparsifier, SparsifyParams, sparsify};
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};
use sparse_ops::io::read_csr;
use sparse_ops::{CsrMatrix, ReadOptions};

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

fn sample_bits(a: &CsrMatrix, w: &[f64], method: Method, seed: u64) -> Vec<(usize, u64)> {
    match sparsify(a, w, method, &SparsifyParams::default(), seed).unwrap() {
        Sparsifier::Diagonal(d) => d.rows.iter().zip(&d.weights).map(|(&i, v)| (i, v.to_bits())).collect(),
        // A dense sketch B = S·D^{1/2}A: its entries, row by row.
        Sparsifier::Embedded(b) => (0..b.nrows())
            .flat_map(|i| (0..b.ncols()).map(move |j| (i, j)))
            .map(|(i, j)| (i, b[(i, j)].to_bits()))
            .collect(),
    }
}

fn assert_thread_independent(a: &CsrMatrix, w: &[f64], what: &str) {
    for method in [Method::Leverage, Method::Uniform, Method::NewtonSketch] {
        let one = in_pool(1, || sample_bits(a, w, method, 7));
        assert!(!one.is_empty(), "{what} {method:?}: empty sample");
        for t in 2..=4 {
            let other = in_pool(t, || sample_bits(a, w, method, 7));
            let differ = one.iter().zip(&other).filter(|(x, y)| x != y).count() + one.len().abs_diff(other.len());
            assert_eq!(differ, 0, "{what} {method:?}: {differ} of {} entries differ at {t} threads", one.len());
        }
    }
}

#[test]
fn kjv_same_sample_at_one_to_four_threads() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/kjv/A.mtx.gz");
    let a = read_csr(&p, ReadOptions::default()).unwrap();
    // A skewed diagonal, as a Hessian's D is.
    let w: Vec<f64> = (0..a.nrows()).map(|i| 0.25 + ((i * 7919) % 101) as f64 / 10.0).collect();
    assert_thread_independent(&a, &w, "KJV");
    // Regression: the Newton sketch's s = 55,263 rows exceeded KJV's 31,064 (and its dense BᵀB
    // cost 5·10¹⁰ flops against 10⁷ for the exact sparse Gram): it now falls back to the exact
    // diagonal, every row once with its own weight.
    let sp = sparsify(&a, &w, Method::NewtonSketch, &SparsifyParams::default(), 1).unwrap();
    assert!(sp.rows_kept() <= a.nrows(), "{} rows kept of {}", sp.rows_kept(), a.nrows());
    let Sparsifier::Diagonal(exact) = sp else { panic!("expected the exact diagonal") };
    assert_eq!(exact.rows, (0..a.nrows()).collect::<Vec<_>>());
    assert!(exact.weights.iter().zip(&w).all(|(x, y)| x.to_bits() == y.to_bits()));
}

#[test]
fn coherent_same_sample_at_one_to_four_threads() {
    let a = random_sparse(&GenSpec {
        // Large enough that the Newton sketch pays (s·d² < Σ nnz(a_i)²) and is exercised.
        nrows: 150_000,
        ncols: 60,
        sparsity: Sparsity::RowNnz(8),
        variant: Variant::Coherent { spikes: 6 },
        seed: 4,
    })
    .unwrap();
    let w: Vec<f64> = (0..a.nrows()).map(|i| 1.0 + (i % 5) as f64).collect();
    assert!(sketch::newton_sketch_pays(&a, sketch::sample_size(60, 0.5, 0.1, sketch::DEFAULT_OVERSAMPLING).unwrap()));
    assert_thread_independent(&a, &w, "coherent");
}

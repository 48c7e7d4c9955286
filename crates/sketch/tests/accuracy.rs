//! The sparsifier's guarantee, measured: over 20 seeds with ε₀ = 0.5, δ = 0.1, the achieved ε
//! is ≤ ε₀ in at least 18 on an incoherent and a coherent matrix (the bundled real matrix: a
//! quick 2-seed check here, 20 seeds in the ignored `kjv_twenty_seeds`); uniform sampling with
//! the same row count fails on the coherent one; the estimator is within a factor 3 of the
//! exact scores for ≥ 95% of rows; same seed, same D̃ for 1 or 2 threads.

use sketch::*;
use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};
use sparse_ops::io::read_csr;
use sparse_ops::{CsrMatrix, ReadOptions};

fn incoherent() -> CsrMatrix {
    random_sparse(&GenSpec {
        nrows: 50_000,
        ncols: 50,
        sparsity: Sparsity::RowNnz(8),
        variant: Variant::Plain,
        seed: 1,
    })
    .unwrap()
}
fn coherent() -> CsrMatrix {
    random_sparse(&GenSpec {
        nrows: 50_000,
        ncols: 50,
        sparsity: Sparsity::RowNnz(8),
        variant: Variant::Coherent { spikes: 5 },
        seed: 2,
    })
    .unwrap()
}
fn kjv() -> CsrMatrix {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/kjv/A.mtx.gz");
    read_csr(&p, ReadOptions::default()).unwrap()
}

/// ε of each seed for `method`.
fn eps_over_seeds(a: &CsrMatrix, method: Method, seeds: u64) -> Vec<f64> {
    let w = vec![1.0; a.nrows()];
    let exact = a.weighted_gram(&w);
    let params = SparsifyParams::default();
    (0..seeds).map(|s| measure_eps(&exact, &sparsify(a, &w, method, &params, s).unwrap().gram(a)).unwrap()).collect()
}

fn within_factor_3(a: &CsrMatrix) -> f64 {
    let w = vec![1.0; a.nrows()];
    let exact = exact_leverage(a, &w).unwrap();
    let est = approximate_leverage(a, &w, &LeverageParams::default(), 3).unwrap();
    est.iter().zip(&exact).filter(|(e, l)| **e <= 3.0 * **l && **l <= 3.0 * **e).count() as f64 / a.nrows() as f64
}

#[test]
fn incoherent_twenty_seeds() {
    let eps = eps_over_seeds(&incoherent(), Method::Leverage, 20);
    assert!(eps.iter().filter(|&&e| e <= 0.5).count() >= 18, "{eps:?}");
}

#[test]
fn coherent_twenty_seeds_and_uniform_fails() {
    let a = coherent();
    let eps = eps_over_seeds(&a, Method::Leverage, 20);
    assert!(eps.iter().filter(|&&e| e <= 0.5).count() >= 18, "{eps:?}");
    // Uniform sampling misses leverage-1 rows: AᵀD̃A loses a direction (ε = 1) in most seeds.
    let uni = eps_over_seeds(&a, Method::Uniform, 20);
    assert!(uni.iter().filter(|&&e| e <= 0.5).count() <= 2, "uniform unexpectedly fine: {uni:?}");
    // The leverage-1 rows are always kept, with weight exactly 1 (p = 1).
    let w = vec![1.0; a.nrows()];
    let spikes: Vec<usize> =
        (45..50).map(|j| (0..a.nrows()).find(|&i| a.row(i).0.contains(&(j as u32))).unwrap()).collect();
    for seed in 0..20 {
        let Sparsifier::Diagonal(dt) = sparsify(&a, &w, Method::Leverage, &SparsifyParams::default(), seed).unwrap()
        else {
            unreachable!()
        };
        for &r in &spikes {
            let t = dt.rows.binary_search(&r).expect("leverage-1 row kept");
            assert_eq!(dt.weights[t], 1.0);
        }
    }
}

#[test]
fn estimator_within_factor_3_for_95_percent_of_rows() {
    for (name, a) in [("incoherent", incoherent()), ("coherent", coherent()), ("kjv", kjv())] {
        let f = within_factor_3(&a);
        assert!(f >= 0.95, "{name}: only {:.1}% within a factor 3", 100.0 * f);
    }
}

#[test]
fn kjv_two_seeds() {
    let eps = eps_over_seeds(&kjv(), Method::Leverage, 2);
    assert!(eps.iter().all(|&e| e <= 0.5), "{eps:?}");
}

/// Heavy (about a minute in release): `cargo test --release -p sketch -- --ignored`.
#[test]
#[ignore]
fn kjv_twenty_seeds() {
    let eps = eps_over_seeds(&kjv(), Method::Leverage, 20);
    assert!(eps.iter().filter(|&&e| e <= 0.5).count() >= 18, "{eps:?}");
}

#[test]
fn same_seed_same_diagonal_for_one_or_two_threads() {
    let a = coherent();
    let w: Vec<f64> = (0..a.nrows()).map(|i| 0.5 + (i % 7) as f64).collect();
    let run = |threads| {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
            let Sparsifier::Diagonal(d) = sparsify(&a, &w, Method::Leverage, &SparsifyParams::default(), 9).unwrap()
            else {
                unreachable!()
            };
            (d.rows, d.weights.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert!(!one.0.is_empty());
    let other = {
        let Sparsifier::Diagonal(d) = sparsify(&a, &w, Method::Leverage, &SparsifyParams::default(), 10).unwrap()
        else {
            unreachable!()
        };
        d.rows
    };
    assert_ne!(one.0, other, "another seed gives another sample");
}

#[test]
fn bad_inputs_are_errors() {
    let a = incoherent();
    let n = a.nrows();
    let p = SparsifyParams::default();
    assert!(matches!(
        sparsify(&a, &vec![1.0; n - 1], Method::Leverage, &p, 0),
        Err(SketchError::DimensionMismatch { .. })
    ));
    let mut w = vec![1.0; n];
    w[7] = -1.0;
    assert!(matches!(sparsify(&a, &w, Method::Leverage, &p, 0), Err(SketchError::BadWeight { index: 7, .. })));
    // The CountSketch checks its weights inside the pass: the first bad one is still reported,
    // wherever it is (NaN, infinite, negative; −0 is a valid zero).
    for (index, value) in [(n - 1, f64::NAN), (31_000, f64::INFINITY), (3, -1e-300)] {
        let mut w = vec![1.0; n];
        w[index] = value;
        w[n / 2] = -0.0;
        let op = SketchOperator::new(Embedding::CountSketch, 200, n, 0).unwrap();
        assert!(matches!(op.apply(&a, Some(&w)), Err(SketchError::BadWeight { index: i, .. }) if i == index));
    }
    assert!(matches!(sparsify(&a, &vec![0.0; n], Method::Leverage, &p, 0), Err(SketchError::ZeroWeights)));
    assert!(sparsify(&a, &vec![1.0; n], Method::Leverage, &SparsifyParams { eps0: 1.5, ..p }, 0).is_err());
    assert!(SketchOperator::new(Embedding::SparseSign { nnz_per_col: 0 }, 10, n, 0).is_err());
}

#[test]
fn triangular_factor_reproduces_the_gram_and_regularises_rank_deficiency() {
    // Full rank: RᵀR = BᵀB.
    let b = faer::Mat::from_fn(40, 6, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0 + if i == j { 3.0 } else { 0.0 });
    let r = leverage::triangular_factor(b.clone()).unwrap();
    let (rtr, btb) = (r.transpose() * &r, b.transpose() * &b);
    let scale = btb.norm_max();
    assert!((0..6).all(|i| (0..6).all(|j| (rtr[(i, j)] - btb[(i, j)]).abs() <= 1e-13 * scale)));
    assert!((0..6).all(|i| (0..i).all(|j| r[(i, j)] == 0.0)), "upper triangular");
    // Column 2 repeats column 0: RᵀR = BᵀB + λI with λ = 1e-12·‖B‖²_F/d, and R is invertible.
    let b = faer::Mat::from_fn(40, 6, |i, j| {
        let j = if j == 2 { 0 } else { j };
        ((i * 7 + j * 3) % 11) as f64 - 5.0 + if i == j { 3.0 } else { 0.0 }
    });
    let lambda = 1e-12 * b.squared_norm_l2() / 6.0;
    let r = leverage::triangular_factor(b.clone()).unwrap();
    let (rtr, btb) = (r.transpose() * &r, b.transpose() * &b);
    for i in 0..6 {
        for j in 0..6 {
            let want = btb[(i, j)] + if i == j { lambda } else { 0.0 };
            assert!((rtr[(i, j)] - want).abs() <= 1e-13 * btb.norm_max(), "({i}, {j})");
        }
    }
    assert!((0..6).all(|j| r[(j, j)].abs() > 0.0));
    assert!(matches!(leverage::triangular_factor(faer::Mat::zeros(8, 3)), Err(SketchError::ZeroWeights)));
}

#[test]
fn sketch_operators_are_subspace_embeddings_in_expectation() {
    // E[SᵀS] = I for every embedding: the Gram of S·A approximates AᵀA; with k = 20d rows the
    // distortion is well below 1.
    let a = random_sparse(&GenSpec {
        nrows: 4000,
        ncols: 10,
        sparsity: Sparsity::RowNnz(4),
        variant: Variant::Plain,
        seed: 5,
    })
    .unwrap();
    let exact = a.weighted_gram(&vec![1.0; 4000]);
    for kind in [Embedding::CountSketch, Embedding::SparseSign { nnz_per_col: 4 }, Embedding::Gaussian] {
        let b = SketchOperator::new(kind, 400, 4000, 3).unwrap().apply(&a, None).unwrap();
        let eps = measure_eps(&exact, &(b.transpose() * &b)).unwrap();
        assert!(eps < 0.5, "{kind:?}: ε = {eps}");
    }
}

#[test]
fn apply_equals_the_explicit_sketch_matrix_times_a() {
    // Dense reference: S from its columns, then S·diag(√w)·A entry by entry.
    let a = random_sparse(&GenSpec {
        nrows: 300,
        ncols: 7,
        sparsity: Sparsity::RowNnz(3),
        variant: Variant::Plain,
        seed: 8,
    })
    .unwrap();
    let w: Vec<f64> = (0..300).map(|i| (i % 4) as f64 * 0.5).collect();
    let dense_a = a.to_dense();
    for kind in [Embedding::CountSketch, Embedding::SparseSign { nnz_per_col: 3 }, Embedding::Gaussian] {
        let op = SketchOperator::new(kind, 20, 300, 5).unwrap();
        let mut s = vec![0.0; 20 * 300];
        let mut col = Vec::new();
        for i in 0..300 {
            op.column(i, &mut col);
            let rows: Vec<usize> = col.iter().map(|c| c.0).collect();
            let mut distinct = rows.clone();
            distinct.dedup();
            assert_eq!(distinct.len(), rows.len(), "{kind:?}: rows of a column are distinct");
            for &(r, v) in &col {
                s[r * 300 + i] = v;
            }
        }
        let got = op.apply(&a, Some(&w)).unwrap();
        for r in 0..20 {
            for j in 0..7 {
                let want: f64 = (0..300).map(|i| s[r * 300 + i] * w[i].sqrt() * dense_a[i * 7 + j]).sum();
                let scale: f64 = (0..300).map(|i| (s[r * 300 + i] * w[i].sqrt() * dense_a[i * 7 + j]).abs()).sum();
                assert!((got[(r, j)] - want).abs() <= 1e-13 * scale + 1e-300, "{kind:?} ({r},{j})");
            }
        }
    }
}

#[test]
fn ill_conditioned_matrices_meet_the_guarantee() {
    // Columns scaled over 6 orders: leverage sampling depends on the geometry of the rows,
    // not on the scale of the columns, so the guarantee holds as on well-conditioned data.
    let a = random_sparse(&GenSpec {
        nrows: 30_000,
        ncols: 40,
        sparsity: Sparsity::RowNnz(6),
        variant: Variant::IllConditioned { orders: 6.0 },
        seed: 4,
    })
    .unwrap();
    let w = vec![1.0; a.nrows()];
    let exact = a.weighted_gram(&w);
    let ok = (0..6)
        .filter(|&s| {
            measure_eps(&exact, &sparsify(&a, &w, Method::Leverage, &SparsifyParams::default(), s).unwrap().gram(&a))
                .unwrap()
                <= 0.5
        })
        .count();
    assert!(ok >= 5, "{ok}/6 seeds within ε₀");
    assert!(within_factor_3(&a) >= 0.95);
}

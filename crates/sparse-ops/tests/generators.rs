//! What each generator variant promises.

use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};

fn spec(sparsity: Sparsity, variant: Variant) -> GenSpec {
    GenSpec { nrows: 5_000, ncols: 50, sparsity, variant, seed: 42 }
}

#[test]
fn row_nnz_is_exact_and_density_is_close() {
    let a = random_sparse(&spec(Sparsity::RowNnz(7), Variant::Plain)).unwrap();
    assert!(a.indptr().windows(2).all(|w| w[1] - w[0] == 7));
    let a = random_sparse(&spec(Sparsity::Density(0.2), Variant::Plain)).unwrap();
    let density = a.nnz() as f64 / (5_000.0 * 50.0);
    // Binomial(250000, 0.2): sd of the density 8e-4; 0.01 is over 10 sd.
    assert!((density - 0.2).abs() < 0.01, "density {density}");
    let full = random_sparse(&spec(Sparsity::Density(1.0), Variant::Plain)).unwrap();
    assert_eq!(full.nnz(), 5_000 * 50);
}

#[test]
fn ill_conditioned_columns_span_the_orders() {
    let a = random_sparse(&spec(Sparsity::RowNnz(10), Variant::IllConditioned { orders: 4.0 })).unwrap();
    let c = a.column_sq_norms();
    let ratio = (c[0] / c[49]).sqrt();
    // Column norms scale by 10^4 from first to last (up to sampling noise in the raw norms).
    assert!((5e3..2e4).contains(&ratio), "ratio {ratio}");
}

#[test]
fn coherent_spikes_live_in_single_rows() {
    let a = random_sparse(&spec(Sparsity::RowNnz(5), Variant::Coherent { spikes: 3 })).unwrap();
    let counts = a.column_nnz();
    assert_eq!(&counts[47..], &[1, 1, 1], "each spike column has one entry: its row has leverage 1");
    assert!(counts[..47].iter().all(|&c| c > 50));
}

#[test]
fn bad_specifications_are_errors() {
    assert!(random_sparse(&spec(Sparsity::RowNnz(51), Variant::Plain)).is_err());
    assert!(random_sparse(&spec(Sparsity::Density(0.0), Variant::Plain)).is_err());
    assert!(random_sparse(&spec(Sparsity::Density(f64::NAN), Variant::Plain)).is_err());
    assert!(random_sparse(&spec(Sparsity::RowNnz(3), Variant::Coherent { spikes: 50 })).is_err());
    assert!(random_sparse(&spec(Sparsity::RowNnz(3), Variant::IllConditioned { orders: -1.0 })).is_err());
}

//! The corpus of malformed files in `tests/data/malformed`: each gets its typed error naming
//! the file and the line; none panics and none returns a partial matrix.

use std::path::PathBuf;

use proptest::prelude::*;
use sparse_ops::io::{SvmlightOptions, read_csr, read_matrix_market, read_svmlight, read_vector, read_vector_of_len};
use sparse_ops::{Duplicates, ReadError, ReadErrorKind as K, ReadOptions};

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/malformed").join(name)
}

fn mtx(name: &str) -> ReadError {
    read_csr(&path(name), ReadOptions::default()).expect_err(name)
}

fn check(e: &ReadError, name: &str, line: Option<usize>, ok: bool) {
    assert!(ok, "{name}: unexpected kind {:?}", e.kind);
    assert_eq!(e.line, line, "{name}: line ({e})");
    assert!(e.path.ends_with(name), "{name}: path in error");
    let msg = e.to_string();
    assert!(msg.contains(name), "message names the file: {msg}");
    if let Some(l) = line {
        assert!(msg.contains(&format!(":{l}:")), "message names the line: {msg}");
    }
}

#[test]
fn matrix_market_corpus() {
    type Case = (&'static str, Option<usize>, fn(&K) -> bool);
    let cases: Vec<Case> = vec![
        ("empty.mtx", None, |k| matches!(k, K::Empty)),
        ("bad_banner.mtx", Some(1), |k| matches!(k, K::BadBanner { .. })),
        ("not_matrix_market.mtx", Some(1), |k| matches!(k, K::BadBanner { .. })),
        ("complex_field.mtx", Some(1), |k| matches!(k, K::Unsupported { what: "field", .. })),
        ("bad_size_line.mtx", Some(3), |k| matches!(k, K::BadSizeLine { .. })),
        ("size_line_too_many_entries.mtx", Some(2), |k| matches!(k, K::BadSizeLine { .. })),
        ("no_size_line.mtx", Some(2), |k| matches!(k, K::Truncated)),
        ("too_few_entries.mtx", Some(5), |k| matches!(k, K::TooFewEntries { expected: 4, found: 3 })),
        ("too_many_entries.mtx", Some(5), |k| matches!(k, K::TooManyEntries { expected: 2 })),
        ("index_zero.mtx", Some(4), |k| matches!(k, K::IndexZero { what: "row" })),
        ("row_out_of_range.mtx", Some(4), |k| matches!(k, K::IndexOutOfRange { what: "row", index: 4, size: 3 })),
        ("col_out_of_range.mtx", Some(4), |k| matches!(k, K::IndexOutOfRange { what: "column", index: 9, size: 3 })),
        ("non_numeric_value.mtx", Some(4), |k| matches!(k, K::NonNumeric { token } if token == "two")),
        ("non_numeric_index.mtx", Some(4), |k| matches!(k, K::NonNumeric { .. })),
        ("nan_value.mtx", Some(4), |k| matches!(k, K::NonFinite { .. })),
        ("inf_value.mtx", Some(3), |k| matches!(k, K::NonFinite { .. })),
        ("overflow_value.mtx", Some(3), |k| matches!(k, K::NonFinite { .. })),
        ("truncated_mid_line.mtx", Some(5), |k| matches!(k, K::WrongFieldCount { found: 2, .. })),
        ("wrong_field_count.mtx", Some(3), |k| matches!(k, K::WrongFieldCount { .. })),
        ("upper_triangle_symmetric.mtx", Some(4), |k| matches!(k, K::UpperTriangle { row: 1, col: 3, .. })),
        ("not_square_symmetric.mtx", Some(2), |k| matches!(k, K::NotSquare { .. })),
        ("integer_with_fraction.mtx", Some(3), |k| matches!(k, K::NonNumeric { .. })),
        ("array_too_few.mtx", Some(5), |k| matches!(k, K::TooFewEntries { expected: 4, found: 3 })),
        ("array_too_many.mtx", Some(5), |k| matches!(k, K::TooManyEntries { .. })),
        ("invalid_utf8.mtx", Some(3), |k| matches!(k, K::InvalidUtf8)),
        ("truncated.mtx.gz", None, |k| matches!(k, K::Truncated)),
    ];
    for (name, line, kind) in cases {
        let e = mtx(name);
        if name == "truncated.mtx.gz" {
            // The line where the stream broke off depends on the compressor's block layout.
            assert!(kind(&e.kind), "{name}: {:?}", e.kind);
            assert!(e.line.is_some_and(|l| l > 2), "{name}: {e}");
            continue;
        }
        check(&e, name, line, kind(&e.kind));
    }
}

#[test]
fn duplicates_are_summed_by_default_and_rejectable() {
    let a = read_csr(&path("duplicate.mtx"), ReadOptions::default()).unwrap();
    assert_eq!(a.nnz(), 2);
    assert_eq!(a.row(0).1, &[5.0]);
    let e = read_csr(&path("duplicate.mtx"), ReadOptions { duplicates: Duplicates::Reject }).unwrap_err();
    check(&e, "duplicate.mtx", Some(5), matches!(e.kind, K::DuplicateEntry { row: 1, col: 1, first_line: 3 }));
    // The same through gzip, with the fallback (unsorted rows) path.
    let g = read_csr(&path("good.mtx.gz"), ReadOptions::default()).unwrap();
    assert_eq!((g.shape(), g.nnz()), ((200, 200), 200));
    assert!(read_csr(&path("good.mtx.gz"), ReadOptions { duplicates: Duplicates::Reject }).is_err());
}

#[test]
fn vector_corpus() {
    let e = read_vector_of_len(&path("vector_short.txt"), 5, "b: one entry per row of A").unwrap_err();
    check(&e, "vector_short.txt", None, matches!(e.kind, K::LengthMismatch { expected: 5, found: 3, .. }));
    assert!(e.to_string().contains("b: one entry per row of A"));
    let e = read_vector(&path("vector_non_numeric.txt")).unwrap_err();
    check(&e, "vector_non_numeric.txt", Some(3), matches!(e.kind, K::NonNumeric { .. }));
    let e = read_vector(&path("vector_two_per_line.txt")).unwrap_err();
    check(&e, "vector_two_per_line.txt", Some(2), matches!(e.kind, K::WrongFieldCount { .. }));
    let e = read_vector(&path("vector_empty.txt")).unwrap_err();
    check(&e, "vector_empty.txt", None, matches!(e.kind, K::Empty));
    let e = read_vector(&path("does_not_exist.txt")).unwrap_err();
    assert!(matches!(e.kind, K::Io(_)));
}

#[test]
fn svmlight_corpus() {
    let o = SvmlightOptions::default();
    let e = read_svmlight(&path("svmlight_bad_pair.svm"), o).unwrap_err();
    check(&e, "svmlight_bad_pair.svm", Some(2), matches!(e.kind, K::Invalid(_)));
    let e = read_svmlight(&path("svmlight_index_zero.svm"), o).unwrap_err();
    check(&e, "svmlight_index_zero.svm", Some(2), matches!(e.kind, K::IndexZero { .. }));
    let e = read_svmlight(&path("svmlight_nan.svm"), o).unwrap_err();
    check(&e, "svmlight_nan.svm", Some(2), matches!(e.kind, K::NonFinite { .. }));
    let e = read_svmlight(&path("empty.mtx"), o).unwrap_err();
    assert!(matches!(e.kind, K::Empty));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Arbitrary bytes after a valid banner: an error or a matrix, never a panic.
    #[test]
    fn arbitrary_input_never_panics(body in proptest::collection::vec(prop_oneof![
        Just(b' '), Just(b'\n'), Just(b'1'), Just(b'2'), Just(b'0'), Just(b'-'), Just(b'.'), Just(b'e'), Just(b'%'), any::<u8>()
    ], 0..200), banner in 0usize..4) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.mtx");
        let head: &[u8] = match banner {
            0 => b"%%MatrixMarket matrix coordinate real general\n",
            1 => b"%%MatrixMarket matrix coordinate pattern symmetric\n",
            2 => b"%%MatrixMarket matrix array real skew-symmetric\n",
            _ => b"",
        };
        std::fs::write(&p, [head, &body].concat()).unwrap();
        let _ = read_matrix_market(&p, ReadOptions::default());
        let _ = read_vector(&p);
        let _ = read_svmlight(&p, SvmlightOptions::default());
    }
}

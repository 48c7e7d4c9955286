//! Writers and readers agree bit for bit; each format's semantics (symmetry, pattern, array
//! order, svmlight labels) are what the spec of the format says.

use proptest::prelude::*;
use sparse_ops::io::*;
use sparse_ops::{CsrMatrix, DenseMatrix, Duplicates, ReadOptions};

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn csr_roundtrip_plain_and_gzip(n in 1usize..30, d in 1usize..30,
        t in proptest::collection::vec((0usize..30, 0usize..30, -1e6f64..1e6), 0..80)) {
        let t: Vec<_> = t.into_iter().map(|(i, j, v)| (i % n, j % d, v / 3.0)).collect();
        let a = CsrMatrix::from_triplets(n, d, &t, Duplicates::Sum).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.mtx", "a.mtx.gz"] {
            let p = dir.path().join(name);
            write_matrix_market(&p, &a).unwrap();
            let b = read_csr(&p, ReadOptions { duplicates: Duplicates::Reject }).unwrap();
            prop_assert_eq!(&b, &a);
        }
        let v: Vec<f64> = t.iter().map(|x| x.2).collect();
        if !v.is_empty() {
            let p = dir.path().join("v.txt");
            write_vector(&p, &v).unwrap();
            let w = read_vector(&p).unwrap();
            prop_assert!(w.iter().zip(&v).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
        let m = DenseMatrix::new(n, d, a.to_dense()).unwrap();
        let p = dir.path().join("m.mtx");
        write_dense_matrix_market(&p, &m).unwrap();
        prop_assert_eq!(read_dense(&p, ReadOptions::default()).unwrap(), m.clone());
        prop_assert_eq!(read_csr(&p, ReadOptions::default()).unwrap().to_dense(), m.data);
    }
}

#[test]
fn symmetric_pattern_and_skew() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "s.mtx", "%%MatrixMarket matrix coordinate real symmetric\n% c\n3 3 3\n1 1 2\n3 1 5\n3 2 -1\n");
    assert_eq!(
        read_csr(&p, ReadOptions::default()).unwrap().to_dense(),
        vec![2.0, 0.0, 5.0, 0.0, 0.0, -1.0, 5.0, -1.0, 0.0]
    );
    let p = write(&dir, "p.mtx", "%%MatrixMarket matrix coordinate pattern general\n2 3 2\n1 3\n2 1\n");
    assert_eq!(read_csr(&p, ReadOptions::default()).unwrap().to_dense(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    let p = write(&dir, "k.mtx", "%%MatrixMarket matrix coordinate integer skew-symmetric\n2 2 1\n2 1 4\n");
    assert_eq!(read_csr(&p, ReadOptions::default()).unwrap().to_dense(), vec![0.0, -4.0, 4.0, 0.0]);
    let p = write(&dir, "ar.mtx", "%%MatrixMarket matrix array real symmetric\n2 2\n1\n2\n3\n");
    assert_eq!(read_dense(&p, ReadOptions::default()).unwrap().data, vec![1.0, 2.0, 2.0, 3.0]);
    // Array files are column-major.
    let p = write(&dir, "ag.mtx", "%%MatrixMarket matrix array real general\n2 3\n1\n2\n3\n4\n5\n6\n");
    assert_eq!(read_dense(&p, ReadOptions::default()).unwrap().data, vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
    // Rows out of order and CRLF line endings.
    let p =
        write(&dir, "u.mtx", "%%MatrixMarket matrix coordinate real general\r\n3 2 3\r\n3 2 1\r\n1 1 2\r\n2 2 3\r\n");
    assert_eq!(read_csr(&p, ReadOptions::default()).unwrap().to_dense(), vec![2.0, 0.0, 0.0, 3.0, 0.0, 1.0]);
}

#[test]
fn svmlight_labels_features_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "d.svm", "# header comment\n+1 qid:3 3:0.5 1:2 # trailing\n-1\n\n0.25 2:1e-3\n");
    let (a, b) = read_svmlight(&p, SvmlightOptions::default()).unwrap();
    assert_eq!(b, vec![1.0, -1.0, 0.25]);
    assert_eq!(a.shape(), (3, 3));
    assert_eq!(a.to_dense(), vec![2.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 1e-3, 0.0]);
    let (a, _) =
        read_svmlight(&p, SvmlightOptions { zero_based: true, ncols: Some(10), ..Default::default() }).unwrap();
    assert_eq!(a.shape(), (3, 10));
    assert_eq!(a.row(0).0, &[1, 3]);
    assert!(read_svmlight(&p, SvmlightOptions { ncols: Some(2), ..Default::default() }).is_err());
}

#[test]
fn failed_write_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("missing_dir").join("a.mtx");
    let a = CsrMatrix::from_dense(1, 1, &[1.0]).unwrap();
    let e = write_matrix_market(&target, &a).unwrap_err();
    assert!(e.to_string().contains("a.mtx"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

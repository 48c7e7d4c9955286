//! SciPy `.npz` files: round trips through the Matrix Market and `.npz` writers are exact, and
//! damaged archives are typed errors. (CSC, COO, other dtypes and inconsistent arrays are
//! unit-tested in `src/io/npz.rs`; SciPy itself in `scipy_reads_ours_and_we_read_scipys`.)

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use sparse_ops::io::*;
use sparse_ops::{CsrMatrix, Duplicates, ReadErrorKind, ReadOptions};

fn matrix(n: usize, d: usize, t: Vec<(usize, usize, f64)>) -> CsrMatrix {
    let t: Vec<_> = t.into_iter().map(|(i, j, v)| (i % n, j % d, v / 3.0)).collect();
    CsrMatrix::from_triplets(n, d, &t, Duplicates::Sum).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    /// mtx -> npz (stored and compressed) -> mtx: the same matrix and the same file bytes.
    #[test]
    fn mtx_npz_mtx_is_identical(n in 1usize..30, d in 1usize..30,
        t in proptest::collection::vec((0usize..30, 0usize..30, -1e6f64..1e6), 0..80)) {
        let a = matrix(n, d, t);
        let dir = tempfile::tempdir().unwrap();
        let mtx = dir.path().join("a.mtx");
        write_matrix_market(&mtx, &a).unwrap();
        let a1 = read_csr(&mtx, ReadOptions::default()).unwrap();
        for compress in [false, true] {
            let npz = dir.path().join("a.npz");
            write_npz(&npz, &a1, NpzOptions { compress }).unwrap();
            let a2 = read_npz(&npz, ReadOptions { duplicates: Duplicates::Reject }).unwrap();
            prop_assert_eq!(&a2, &a);
            prop_assert!(a2.data().iter().zip(a.data()).all(|(x, y)| x.to_bits() == y.to_bits()));
            let back = dir.path().join("b.mtx");
            write_matrix_market(&back, &a2).unwrap();
            prop_assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&mtx).unwrap());
            // And through the generic entry point.
            prop_assert_eq!(read_matrix_file(&npz, ReadOptions::default(), &|_| {}).unwrap().0, a.clone());
        }
    }

    #[test]
    fn npy_vectors_round_trip(v in proptest::collection::vec(-1e300f64..1e300, 1..50)) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.npy");
        write_npy_vector(&p, &v).unwrap();
        let w = read_vector(&p).unwrap();
        prop_assert!(w.iter().zip(&v).all(|(a, b)| a.to_bits() == b.to_bits()) && w.len() == v.len());
    }

    /// Any damage to an archive is an error or (when it hits only padding) the same matrix;
    /// never a panic or a different matrix.
    #[test]
    fn flipped_bytes_never_give_a_wrong_matrix(pos in any::<prop::sample::Index>(), bit in 0u8..8, compress in any::<bool>()) {
        let a = matrix(7, 5, (0..20).map(|k| (k * 3, k * 7, k as f64 + 0.5)).collect());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npz");
        write_npz(&p, &a, NpzOptions { compress }).unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        std::fs::write(&p, &bytes).unwrap();
        if let Ok(b) = read_npz(&p, ReadOptions::default()) {
            prop_assert_eq!(b, a);
        }
    }
}

fn small() -> CsrMatrix {
    matrix(4, 3, vec![(0, 0, 3.0), (1, 2, -6.0), (3, 1, 1.5)])
}

fn written(dir: &Path, compress: bool) -> PathBuf {
    let p = dir.join(if compress { "z.npz" } else { "s.npz" });
    write_npz(&p, &small(), NpzOptions { compress }).unwrap();
    p
}

#[test]
fn truncated_and_foreign_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    for compress in [false, true] {
        let p = written(dir.path(), compress);
        let bytes = std::fs::read(&p).unwrap();
        for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
            let q = dir.path().join("cut.npz");
            std::fs::write(&q, &bytes[..cut]).unwrap();
            let err = read_npz(&q, ReadOptions::default()).unwrap_err();
            assert_eq!(err.path, q);
            assert!(
                matches!(err.kind, ReadErrorKind::Empty | ReadErrorKind::Invalid(_) | ReadErrorKind::Truncated),
                "cut at {cut}: {err}"
            );
        }
    }
    // A Matrix Market file named .npz.
    let q = dir.path().join("text.npz");
    std::fs::write(&q, "%%MatrixMarket matrix coordinate real general\n1 1 1\n1 1 2\n").unwrap();
    let err = read_npz(&q, ReadOptions::default()).unwrap_err().to_string();
    assert!(err.contains("not a ZIP archive"), "{err}");
    // A missing file.
    let err = read_npz(&dir.path().join("none.npz"), ReadOptions::default()).unwrap_err();
    assert!(matches!(err.kind, ReadErrorKind::Io(_)), "{err}");
}

#[test]
fn corrupted_data_fails_the_crc() {
    let dir = tempfile::tempdir().unwrap();
    let p = written(dir.path(), false);
    let mut bytes = std::fs::read(&p).unwrap();
    // The last value's last byte (data.npy is the last member, before the central directory).
    let a = small();
    let tail = bytes.windows(4).rposition(|w| w == [0x50, 0x4b, 0x01, 0x02]).unwrap();
    let cd_start = bytes.windows(4).position(|w| w == [0x50, 0x4b, 0x01, 0x02]).unwrap();
    assert!(tail >= cd_start);
    let last = f64::to_le_bytes(*a.data().last().unwrap());
    let at = bytes[..cd_start].windows(8).rposition(|w| w == last).unwrap();
    bytes[at] ^= 1;
    std::fs::write(&p, &bytes).unwrap();
    let err = read_npz(&p, ReadOptions::default()).unwrap_err().to_string();
    assert!(err.contains("CRC-32 mismatch"), "{err}");
}

#[test]
fn npy_vector_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v.npy");
    write_npy_vector(&p, &[1.0, 2.0, 3.0]).unwrap();
    assert_eq!(read_vector_of_len(&p, 3, "v").unwrap(), vec![1.0, 2.0, 3.0]);
    let err = read_vector_of_len(&p, 4, "v").unwrap_err();
    assert!(matches!(err.kind, ReadErrorKind::LengthMismatch { expected: 4, found: 3, .. }));
    let mut bytes = std::fs::read(&p).unwrap();
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&p, &bytes).unwrap();
    assert!(read_vector(&p).unwrap_err().to_string().contains("needs other than the"));
    std::fs::write(&p, b"1\n2\n").unwrap();
    assert!(read_vector(&p).unwrap_err().to_string().contains("not a .npy array"));
    write_npy_vector(&p, &[1.0, f64::INFINITY]).unwrap();
    assert!(matches!(read_vector(&p).unwrap_err().kind, ReadErrorKind::NonFinite { .. }));
}

/// SciPy reads what this library writes and the other way round, on CSR/CSC/COO, int32/int64
/// indices, float64/float32, compressed or not. Needs Python 3 and network access once:
///
/// ```text
/// cargo test --release -p spnewton-sparse-ops --test io_npz -- --ignored
/// ```
///
/// It makes its own virtual environment under `target/peers-venv` (numpy, scipy).
#[test]
#[ignore = "needs Python 3 and pip install scipy (makes target/peers-venv)"]
fn scipy_reads_ours_and_we_read_scipys() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/peers-venv");
    let py = root.join("bin/python");
    if !py.exists() {
        let ok = std::process::Command::new("python3").arg("-m").arg("venv").arg(&root).status().unwrap();
        assert!(ok.success(), "python3 -m venv failed");
    }
    let ok =
        std::process::Command::new(root.join("bin/pip")).args(["install", "-q", "numpy", "scipy"]).status().unwrap();
    assert!(ok.success(), "pip install scipy failed");
    let dir = tempfile::tempdir().unwrap();
    let a = matrix(50, 17, (0..300).map(|k| (k * 7 % 50, k * 13 % 17, (k as f64).sin() * 1e3)).collect());
    write_npz(&dir.path().join("ours_s.npz"), &a, NpzOptions { compress: false }).unwrap();
    write_npz(&dir.path().join("ours_z.npz"), &a, NpzOptions { compress: true }).unwrap();
    write_matrix_market(&dir.path().join("a.mtx"), &a).unwrap();
    let script = r#"
import sys, numpy as np, scipy.sparse as sp, scipy.io as sio
d = sys.argv[1]
a = sp.csr_matrix(sio.mmread(d + "/a.mtx"))
for name in ["ours_s", "ours_z"]:
    b = sp.load_npz(d + "/" + name + ".npz")
    assert b.format == "csr" and b.shape == a.shape and (b != a).nnz == 0, name
    assert np.array_equal(b.data, a.data) and np.array_equal(b.indices, a.indices), name
for fmt in ["csr", "csc", "coo"]:
    for idx in [np.int32, np.int64]:
        for val in [np.float64, np.float32]:
            m = a.astype(val).asformat(fmt)
            if fmt == "coo":
                m.row = m.row.astype(idx); m.col = m.col.astype(idx)
            else:
                m.indices = m.indices.astype(idx); m.indptr = m.indptr.astype(idx)
            for comp in [False, True]:
                sp.save_npz(f"{d}/scipy_{fmt}_{np.dtype(idx).name}_{np.dtype(val).name}_{comp}.npz", m, compressed=comp)
sio.mmwrite(d + "/f32.mtx", a.astype(np.float32).astype(np.float64))
"#;
    let ok = std::process::Command::new(&py).arg("-c").arg(script).arg(dir.path()).status().unwrap();
    assert!(ok.success(), "the SciPy side failed");
    let a32 = read_csr(&dir.path().join("f32.mtx"), ReadOptions::default()).unwrap();
    let mut n = 0;
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("scipy_") {
            let b = read_npz(&p, ReadOptions { duplicates: Duplicates::Reject }).unwrap();
            assert_eq!(b, if name.contains("float32") { a32.clone() } else { a.clone() }, "{name}");
            n += 1;
        }
    }
    assert_eq!(n, 24);
}

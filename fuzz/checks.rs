// The properties the fuzz targets check, one function per target. Included (`include!`) by
// each target in fuzz_targets/ and by the workspace test tests/fuzz_regressions.rs, which
// replays the committed inputs of fuzz/regressions/ on the stable toolchain: one definition of
// what "handled well" means.

/// Any bytes as a Matrix Market file (duplicates summed, then rejected): a structurally valid
/// matrix with finite values, or a typed error.
#[allow(dead_code)]
pub fn matrix_market(data: &[u8]) {
    use sparse_ops::io::{MatrixMarket, read_matrix_market_from_reader};
    use sparse_ops::{Duplicates, ReadOptions};
    for duplicates in [Duplicates::Sum, Duplicates::Reject] {
        match read_matrix_market_from_reader(data, "fuzz.mtx".as_ref(), ReadOptions { duplicates }) {
            Ok(MatrixMarket::Sparse(a)) => {
                assert_eq!(a.indptr().len(), a.nrows() + 1);
                assert_eq!(a.indices().len(), a.nnz());
                assert!(a.data().iter().all(|v| v.is_finite()));
            }
            Ok(MatrixMarket::Dense(m)) => assert_eq!(m.data.len(), m.nrows * m.ncols),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
}

/// The bytes gzip-compressed, and the gzip magic number followed by the raw bytes (a corrupt
/// stream), through the decompressing path: a matrix or a typed error.
#[allow(dead_code)]
pub fn matrix_market_gzip(data: &[u8]) {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("in memory");
    let gz = enc.finish().expect("in memory");
    let mut corrupt = vec![0x1f, 0x8b];
    corrupt.extend_from_slice(data);
    for bytes in [gz, corrupt] {
        let r = sparse_ops::io::read_matrix_market_from_reader(
            bytes.as_slice(),
            "fuzz.mtx.gz".as_ref(),
            sparse_ops::ReadOptions::default(),
        );
        if let Err(e) = r {
            assert!(!e.to_string().is_empty());
        }
    }
}

/// Any bytes as an svmlight/LIBSVM file: one finite label per row, or a typed error.
#[allow(dead_code)]
pub fn svmlight(data: &[u8]) {
    use sparse_ops::io::{SvmlightOptions, read_svmlight_from_reader};
    if let Ok((a, b)) = read_svmlight_from_reader(data, "fuzz.svm".as_ref(), SvmlightOptions::default()) {
        assert_eq!(b.len(), a.nrows());
        assert!(b.iter().all(|v| v.is_finite()));
    }
}

/// Any bytes as a vector file (one number a line): finite values, or a typed error.
#[allow(dead_code)]
pub fn vector(data: &[u8]) {
    if let Ok(v) = sparse_ops::io::read_vector_from_reader(data, "fuzz.txt".as_ref()) {
        assert!(v.iter().all(|x| x.is_finite()));
    }
}

/// A fresh scratch directory for one input (per process: libFuzzer runs inputs one at a time).
#[allow(dead_code)]
fn scratch_dir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("spnewton-fuzz-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Any bytes as the `meta.json` of an otherwise valid problem directory: a problem whose
/// regulariser obeys the one `w_const` rule (finite, nonnegative), or a typed error.
#[allow(dead_code)]
pub fn problem_meta(data: &[u8]) {
    let dir = scratch_dir("meta");
    std::fs::write(dir.join("A.mtx"), "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1.0\n2 2 2.0\n")
        .expect("write");
    std::fs::write(dir.join("b.txt"), "0.5\n0.5\n").expect("write");
    std::fs::write(dir.join("meta.json"), data).expect("write");
    if let Ok(p) = losses::Problem::read_dir(&dir)
        && let losses::Regulariser::Const(c) = p.w
    {
        assert!(c.is_finite() && c >= 0.0, "w_const {c} accepted");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The bytes cut at `\0` into `meta.json`, `A1.mtx`, `A2.mtx`, `A3.mtx` and `B.mtx` (missing
/// parts are empty files): data of the shapes `meta.json` claims, or a typed error — never a
/// panic, and no allocation sized by a claim alone.
#[allow(dead_code)]
pub fn attention_dir(data: &[u8]) {
    let dir = scratch_dir("att");
    let mut parts = data.split(|&b| b == 0);
    for name in ["meta.json", "A1.mtx", "A2.mtx", "A3.mtx", "B.mtx"] {
        std::fs::write(dir.join(name), parts.next().unwrap_or(&[])).expect("write");
    }
    if let Ok(d) = attention::AttentionData::load(&dir) {
        let m = d.meta();
        for l in 0..m.m {
            assert_eq!((d.a1(l).nrows(), d.a1(l).ncols()), (m.n, m.d));
            assert_eq!((d.b(l).nrows(), d.b(l).ncols()), (m.n, m.d));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Any bytes as a SciPy `.npz` file and as a `.npy` vector; and the bytes patched into a valid
/// small `.npz` (stored and compressed; the first two bytes pick the offset), so the fuzzer
/// reaches the array parsing past the ZIP directory: a valid matrix or a typed error.
#[allow(dead_code)]
pub fn npz(data: &[u8]) {
    use sparse_ops::io::{NpzOptions, read_npy_vector, read_npz, write_npz};
    use sparse_ops::{CsrMatrix, Duplicates, ReadOptions};
    let dir = scratch_dir("npz");
    let check = |bytes: &[u8]| {
        let p = dir.join("fuzz.npz");
        std::fs::write(&p, bytes).expect("write");
        for duplicates in [Duplicates::Sum, Duplicates::Reject] {
            match read_npz(&p, ReadOptions { duplicates }) {
                Ok(a) => {
                    assert_eq!(a.indptr().len(), a.nrows() + 1);
                    assert_eq!(a.indices().len(), a.nnz());
                    assert!(a.data().iter().all(|v| v.is_finite()));
                }
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
    };
    check(data);
    let v = dir.join("fuzz.npy");
    std::fs::write(&v, data).expect("write");
    if let Ok(x) = read_npy_vector(&v) {
        assert!(!x.is_empty() && x.iter().all(|x| x.is_finite()));
    }
    let a = CsrMatrix::from_triplets(3, 4, &[(0, 0, 1.0), (0, 2, 2.0), (2, 1, 3.0), (2, 3, 4.0)], Duplicates::Sum)
        .expect("a valid matrix");
    for compress in [false, true] {
        let seed = dir.join("seed.npz");
        write_npz(&seed, &a, NpzOptions { compress }).expect("write");
        let mut bytes = std::fs::read(&seed).expect("read");
        if let [hi, lo, rest @ ..] = data {
            let at = usize::from(u16::from_be_bytes([*hi, *lo])) % bytes.len();
            for (k, &b) in rest.iter().enumerate() {
                if let Some(slot) = bytes.get_mut(at + k) {
                    *slot = b;
                }
            }
        }
        check(&bytes);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

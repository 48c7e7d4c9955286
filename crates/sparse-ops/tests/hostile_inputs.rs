//! Inputs built to hurt a reader: lines without end, sizes claimed but absent, gzip bombs,
//! unusual line endings, and files large enough to cross the parallel reader's block and
//! piece boundaries. Each ends in the right matrix or a typed error, quickly and without
//! allocating from a claim.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use sparse_ops::io::*;
use sparse_ops::{CsrMatrix, Duplicates, ReadErrorKind as K, ReadOptions};

fn name() -> PathBuf {
    PathBuf::from("input.mtx")
}

fn read_text(text: &[u8]) -> Result<CsrMatrix, sparse_ops::ReadError> {
    read_csr_from_reader(text, &name(), ReadOptions::default())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

const SMALL: &str = "%%MatrixMarket matrix coordinate real general\n% comment\n3 2 3\n1 1 2\n2 2 -3.5\n3 1 1e-3\n";

#[test]
fn bom_crlf_and_cr_only_endings_read_alike() {
    let want = read_text(SMALL.as_bytes()).unwrap();
    assert_eq!(want.to_dense(), vec![2.0, 0.0, 0.0, -3.5, 1e-3, 0.0]);
    let crlf = SMALL.replace('\n', "\r\n");
    let cr = SMALL.replace('\n', "\r");
    for text in [format!("\u{feff}{SMALL}"), crlf.clone(), cr.clone(), format!("\u{feff}{cr}")] {
        assert_eq!(read_text(text.as_bytes()).unwrap(), want, "{text:?}");
        assert_eq!(read_csr_from_reader(&gzip(text.as_bytes())[..], &name(), ReadOptions::default()).unwrap(), want);
    }
    // Vectors too, and an error in a CR-only file names the right line.
    let v = read_vector_from_reader("\u{feff}1\r2\r\r% c\r3\r".as_bytes(), Path::new("v.txt")).unwrap();
    assert_eq!(v, vec![1.0, 2.0, 3.0]);
    let e = read_vector_from_reader("1\r2\r\rx\r".as_bytes(), Path::new("v.txt")).unwrap_err();
    assert_eq!(e.line, Some(4), "{e}");
    let e = read_text(cr.replace("2 2 -3.5", "2 2 two").as_bytes()).unwrap_err();
    assert!(matches!(e.kind, K::NonNumeric { .. }) && e.line == Some(5), "{e}");
}

#[test]
fn endless_lines_stop_at_the_length_limit() {
    // An infinite stream of zero bytes (like /dev/zero) as a matrix and as a vector.
    let e = read_csr_from_reader(std::io::repeat(0), &name(), ReadOptions::default()).unwrap_err();
    assert!(matches!(e.kind, K::LineTooLong { .. }) && e.line == Some(1), "{e}");
    let e = read_vector_from_reader(std::io::repeat(b'7'), Path::new("v")).unwrap_err();
    assert!(matches!(e.kind, K::LineTooLong { .. }) && e.line == Some(1), "{e}");
    // Endless data after a valid header: the error names the line after the last complete one.
    let head = b"%%MatrixMarket matrix coordinate real general\n2 2 1\n".as_slice();
    let e = read_csr_from_reader(head.chain(std::io::repeat(b' ')), &name(), ReadOptions::default()).unwrap_err();
    assert!(matches!(e.kind, K::LineTooLong { .. }) && e.line == Some(3), "{e}");
    let e = read_svmlight_from_reader(b"1 1:2\n".chain(std::io::repeat(b'1')), Path::new("d.svm"), Default::default())
        .unwrap_err();
    assert!(matches!(e.kind, K::LineTooLong { .. }) && e.line == Some(2), "{e}");
}

#[test]
fn a_gzip_bomb_of_zeros_is_refused_after_the_line_limit() {
    // 64 MiB of zeros compress to ~64 KiB; reading stops at the 16 MiB line limit.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 1 << 20);
    let e = read_csr_from_reader(&bomb[..], &name(), ReadOptions::default()).unwrap_err();
    assert!(matches!(e.kind, K::LineTooLong { .. }), "{e}");
    let e = read_vector_from_reader(&bomb[..], Path::new("b.txt.gz")).unwrap_err();
    assert!(matches!(e.kind, K::LineTooLong { .. }), "{e}");
}

#[test]
fn claimed_sizes_are_not_allocated() {
    // 100000 x 100000 dense claimed (80 GB), one value present.
    let e = read_text(b"%%MatrixMarket matrix array real general\n100000 100000\n1.5\n").unwrap_err();
    assert!(matches!(e.kind, K::TooFewEntries { expected: 10_000_000_000, found: 1 }), "{e}");
    // 4e9 entries claimed in a 60-byte file.
    let e = read_text(b"%%MatrixMarket matrix coordinate real general\n10 10 4000000000\n1 1 1\n").unwrap_err();
    assert!(matches!(e.kind, K::BadSizeLine { .. } | K::TooFewEntries { .. }), "{e}");
    let e = read_text(b"%%MatrixMarket matrix coordinate real general\n100000 100000 4000000000\n1 1 1\n").unwrap_err();
    assert!(matches!(e.kind, K::TooFewEntries { found: 1, .. }), "{e}");
    // 4e9 rows claimed: the row pointer alone needs 32 GB.
    if limits::available_memory().is_some_and(|m| m < 32_000_000_008) {
        for entry in ["1 1 1", "4000000000 1 1"] {
            let text = format!("%%MatrixMarket matrix coordinate real general\n4000000000 5 1\n{entry}\n");
            let e = read_text(text.as_bytes()).unwrap_err();
            assert!(matches!(e.kind, K::TooLargeForMemory { .. }), "{e}");
            assert!(e.to_string().contains("row pointer"), "{e}");
        }
        // A sparse 100000 x 100000 file expanded to dense: 80 GB refused before allocating.
        let e = read_dense_from_reader(
            b"%%MatrixMarket matrix coordinate real general\n100000 100000 1\n1 1 1\n".as_slice(),
            &name(),
            ReadOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(e.kind, K::TooLargeForMemory { .. }), "{e}");
    }
    // rows x columns overflowing usize is a typed error naming the sizes.
    let e = read_text(b"%%MatrixMarket matrix array real general\n4294967295 4294967295\n1\n").unwrap_err();
    assert!(e.to_string().contains("4294967295"), "{e}");
}

/// A matrix big enough to span several 4 MiB blocks and many 64 KiB pieces.
fn big_matrix() -> CsrMatrix {
    use sparse_ops::generate::{GenSpec, Sparsity, Variant, random_sparse};
    random_sparse(&GenSpec {
        nrows: 60_000,
        ncols: 40,
        sparsity: Sparsity::RowNnz(6),
        variant: Variant::Plain,
        seed: 3,
    })
    .unwrap()
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

#[test]
fn large_files_read_back_bitwise_at_any_thread_count() {
    let a = big_matrix();
    let dir = tempfile::tempdir().unwrap();
    for file in ["a.mtx", "a.mtx.gz"] {
        let p = dir.path().join(file);
        write_matrix_market(&p, &a).unwrap();
        if file == "a.mtx" {
            assert!(std::fs::metadata(&p).unwrap().len() > 9 << 20, "spans several blocks");
        }
        for threads in [1, 2] {
            let b = in_pool(threads, || read_csr(&p, ReadOptions { duplicates: Duplicates::Reject })).unwrap();
            assert_eq!(b, a, "{file} with {threads} threads");
        }
    }
    let v: Vec<f64> = a.data().to_vec();
    let p = dir.path().join("v.txt");
    write_vector(&p, &v).unwrap();
    for threads in [1, 2] {
        let w = in_pool(threads, || read_vector(&p)).unwrap();
        assert!(w.iter().zip(&v).all(|(x, y)| x.to_bits() == y.to_bits()) && w.len() == v.len());
    }
}

#[test]
fn errors_deep_in_large_files_name_the_exact_line() {
    let a = big_matrix();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.mtx");
    write_matrix_market(&p, &a).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Lines in the first piece, mid-block, and in a later block; CRLF and CR-only too.
    for (bad, ending) in [(3usize, "\n"), (123_457, "\n"), (300_001, "\r\n"), (359_999, "\r")] {
        let mut l = lines.clone();
        l[bad - 1] = "1 1 x";
        let body = l.join(ending) + ending;
        let e = read_text(body.as_bytes()).unwrap_err();
        assert!(matches!(e.kind, K::NonNumeric { .. }), "{e}");
        assert_eq!(e.line, Some(bad), "{e}");
        // Too many entries: the line of the first extra entry.
        let mut l = lines.clone();
        l.insert(bad, "1 1 1");
        let e = read_text((l.join(ending) + ending).as_bytes()).unwrap_err();
        assert!(matches!(e.kind, K::TooManyEntries { .. }) && e.line == Some(lines.len() + 1), "{e}");
    }
    // Too few: the last line of the file.
    let cut = lines[..lines.len() - 10].join("\n") + "\n";
    let e = read_text(cut.as_bytes()).unwrap_err();
    assert!(matches!(e.kind, K::TooFewEntries { .. }) && e.line == Some(lines.len() - 10), "{e}");
    // The same matrix with CR-only endings, read line by line, is still the same matrix.
    let cr = lines.join("\r") + "\r";
    assert_eq!(read_text(cr.as_bytes()).unwrap(), a);
}

/// Mutations of valid files.
fn mutate(mut data: Vec<u8>, ops: &[(u8, usize, u8)]) -> Vec<u8> {
    for &(op, pos, byte) in ops {
        if data.is_empty() {
            data.push(byte);
            continue;
        }
        let p = pos % data.len();
        match op % 6 {
            0 => data[p] = byte,
            1 => data.insert(p, byte),
            2 => {
                data.remove(p);
            }
            3 => data.truncate(p),
            4 => {
                // Duplicate a stretch (repeated lines, repeated entries).
                let end = (p + 1 + byte as usize).min(data.len());
                let s = data[p..end].to_vec();
                data.splice(p..p, s);
            }
            _ => data[p] = b"\r\n \t%#:-.e0123456789"[byte as usize % 19],
        }
    }
    data
}

const VALID: [&str; 5] = [
    SMALL,
    "%%MatrixMarket matrix coordinate pattern symmetric\n4 4 3\n1 1\n3 1\n4 2\n",
    "%%MatrixMarket matrix array real skew-symmetric\n3 3\n1\n2\n3\n",
    "1 2:0.5 7:-1 # c\n-1 qid:2 3:1e3\n",
    "1.5\n-2\n% c\n3e-2\n",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]
    /// Mutated valid files, plain and gzip-compressed, given to every reader: a value or a typed
    /// error, never a panic; a successful read yields a valid matrix.
    #[test]
    fn mutated_files_never_panic(which in 0usize..VALID.len(),
        ops in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..6), gz in any::<bool>()) {
        let mut data = mutate(VALID[which].as_bytes().to_vec(), &ops);
        if gz {
            data = gzip(&data);
            let n = data.len();
            // Sometimes a damaged stream too.
            if ops[0].0 % 3 == 0 { data.truncate(n - 1 - ops[0].1 % n.min(8)); }
        }
        let n = Path::new("m");
        if let Ok(MatrixMarket::Sparse(a)) = read_matrix_market_from_reader(&data[..], n, ReadOptions::default()) {
            prop_assert!(CsrMatrix::try_from_csr(a.nrows(), a.ncols(), a.indptr().to_vec(), a.indices().to_vec(), a.data().to_vec()).is_ok());
        }
        let _ = read_matrix_market_from_reader(&data[..], n, ReadOptions { duplicates: Duplicates::Reject });
        if let Ok((a, b)) = read_svmlight_from_reader(&data[..], n, SvmlightOptions::default()) {
            prop_assert_eq!(a.nrows(), b.len());
        }
        if let Ok(v) = read_vector_from_reader(&data[..], n) {
            prop_assert!(v.iter().all(|x| x.is_finite()));
        }
    }
}

#[test]
fn reader_api_matches_path_api() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.mtx");
    std::fs::write(&p, SMALL).unwrap();
    let mut bytes = Vec::new();
    std::fs::File::open(&p).unwrap().read_to_end(&mut bytes).unwrap();
    assert_eq!(read_csr(&p, ReadOptions::default()).unwrap(), read_text(&bytes).unwrap());
}

#[test]
fn repeated_entries_across_piece_and_block_seams_are_summed_or_rejected() {
    // Every entry written twice on consecutive lines: piece and block boundaries fall between
    // the two copies about half the time, so the seams between pieces are exercised.
    let (n, d) = (60_000usize, 20usize);
    let mut text = format!("%%MatrixMarket matrix coordinate real general\n{n} {d} {}\n", n * 10);
    let mut t = Vec::new();
    for i in 0..n {
        // Column 8 appears in two pairs: four copies in a row.
        for j in [1usize, 4, 6, 8, 8] {
            for half in [0.5, 0.25] {
                let v = (i % 7) as f64 + half;
                text += &format!("{} {} {v}\n", i + 1, j);
                t.push((i, j - 1, v));
            }
        }
    }
    let want = CsrMatrix::from_triplets(n, d, &t, Duplicates::Sum).unwrap();
    assert!(text.len() > 5 << 20);
    for threads in [1, 2] {
        let got = in_pool(threads, || read_text(text.as_bytes())).unwrap();
        assert_eq!(got, want);
    }
    let e = read_csr_from_reader(text.as_bytes(), &name(), ReadOptions { duplicates: Duplicates::Reject }).unwrap_err();
    assert!(matches!(e.kind, K::DuplicateEntry { row: 1, col: 1, .. }), "{e}");
}

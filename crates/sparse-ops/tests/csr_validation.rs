//! The parallel structure check of `CsrMatrix::try_from_csr` reports exactly the error the
//! row-by-row sequential check (kept here as the reference) meets first, on matrices large
//! enough to span many validation tasks, at 1 and 2 threads.

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use sparse_ops::{CsrMatrix, StructureError as E};

/// The sequential check that `try_from_csr` ran before it was parallelised (rows in order; a
/// decreasing pointer before the row's entries; each entry checked for range, order, value).
/// Pointers running past the entries (which the old code indexed out of bounds) are reported
/// at the row where they do.
fn reference(nrows: usize, ncols: usize, indptr: &[usize], indices: &[u32], data: &[f64]) -> Result<(), E> {
    if indptr.len() != nrows + 1 {
        return Err(E::BadIndptr(format!("length {} but nrows + 1 = {}", indptr.len(), nrows + 1)));
    }
    if indptr[0] != 0 || indptr[nrows] != indices.len() || indices.len() != data.len() {
        return Err(E::BadIndptr(format!(
            "starts at {}, ends at {}, with {} indices and {} values",
            indptr[0],
            indptr[nrows],
            indices.len(),
            data.len()
        )));
    }
    let nnz = indices.len();
    for i in 0..nrows {
        let (s, e) = (indptr[i], indptr[i + 1]);
        if s > e {
            return Err(E::BadIndptr(format!("decreases at row {i}")));
        }
        if e > nnz {
            return Err(E::BadIndptr(format!("exceeds the {nnz} entries at row {i}")));
        }
        let mut prev: Option<u32> = None;
        for k in s..e {
            let j = indices[k];
            if j as usize >= ncols {
                return Err(E::ColumnOutOfRange { row: i, index: j as usize, ncols });
            }
            if prev.is_some_and(|p| p >= j) {
                return Err(E::InvalidArgument(format!("column indices of row {i} are not strictly increasing")));
            }
            if !data[k].is_finite() {
                return Err(E::NonFinite { row: i, col: j as usize, value: data[k] });
            }
            prev = Some(j);
        }
    }
    Ok(())
}

/// A valid random CSR matrix with empty rows, short and long rows.
fn valid(rng: &mut Xoshiro256PlusPlus, nrows: usize, ncols: usize) -> Arrays {
    let mut indptr = vec![0];
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    for _ in 0..nrows {
        let len = match rng.random_range(0..10) {
            0 => 0,
            1 => rng.random_range(20..ncols),
            _ => rng.random_range(1..12),
        };
        let mut cols: Vec<u32> = (0..len).map(|_| rng.random_range(0..ncols as u32)).collect();
        cols.sort_unstable();
        cols.dedup();
        data.extend(cols.iter().map(|&c| f64::from(c) - 7.5));
        indices.extend(cols);
        indptr.push(indices.len());
    }
    (indptr, indices, data)
}

/// Row pointers, column indices, values.
type Arrays = (Vec<usize>, Vec<u32>, Vec<f64>);

fn debug<T>(r: &Result<T, E>) -> String {
    match r {
        Ok(_) => "Ok".to_string(),
        Err(e) => format!("{e:?}"),
    }
}

fn check(nrows: usize, ncols: usize, indptr: &[usize], indices: &[u32], data: &[f64]) -> String {
    let want = debug(&reference(nrows, ncols, indptr, indices, data));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let got =
            pool.install(|| CsrMatrix::try_from_csr(nrows, ncols, indptr.to_vec(), indices.to_vec(), data.to_vec()));
        assert_eq!(debug(&got), want, "{threads} threads");
    }
    want
}

#[test]
fn each_failure_gives_the_sequential_error() {
    let ok = |p: Vec<usize>, i: Vec<u32>, d: Vec<f64>| (p, i, d);
    // (description, nrows, ncols, arrays, expected error)
    let cases: Vec<(&str, usize, usize, Arrays, E)> = vec![
        (
            "wrong indptr length",
            2,
            3,
            ok(vec![0, 1], vec![0], vec![1.0]),
            E::BadIndptr("length 2 but nrows + 1 = 3".into()),
        ),
        (
            "indptr not ending at nnz",
            2,
            3,
            ok(vec![0, 1, 1], vec![0, 1], vec![1.0, 2.0]),
            E::BadIndptr("starts at 0, ends at 1, with 2 indices and 2 values".into()),
        ),
        (
            "values and indices of different lengths",
            1,
            3,
            ok(vec![0, 2], vec![0, 1], vec![1.0]),
            E::BadIndptr("starts at 0, ends at 2, with 2 indices and 1 values".into()),
        ),
        (
            "indptr not starting at 0",
            1,
            3,
            ok(vec![1, 1], vec![0], vec![1.0]),
            E::BadIndptr("starts at 1, ends at 1, with 1 indices and 1 values".into()),
        ),
        (
            "non-monotone indptr",
            3,
            3,
            ok(vec![0, 2, 1, 2], vec![0, 1], vec![1.0, 2.0]),
            E::BadIndptr("decreases at row 1".into()),
        ),
        (
            "indptr past the entries",
            3,
            3,
            ok(vec![0, 1, 5, 2], vec![0, 1], vec![1.0, 2.0]),
            E::BadIndptr("exceeds the 2 entries at row 1".into()),
        ),
        (
            "index out of range",
            2,
            3,
            ok(vec![0, 1, 2], vec![0, 3], vec![1.0, 2.0]),
            E::ColumnOutOfRange { row: 1, index: 3, ncols: 3 },
        ),
        (
            "unsorted row",
            2,
            3,
            ok(vec![0, 1, 3], vec![0, 2, 1], vec![1.0, 2.0, 3.0]),
            E::InvalidArgument("column indices of row 1 are not strictly increasing".into()),
        ),
        (
            "duplicate index",
            1,
            3,
            ok(vec![0, 2], vec![1, 1], vec![1.0, 2.0]),
            E::InvalidArgument("column indices of row 0 are not strictly increasing".into()),
        ),
        (
            "infinite value",
            1,
            3,
            ok(vec![0, 2], vec![0, 2], vec![1.0, f64::INFINITY]),
            E::NonFinite { row: 0, col: 2, value: f64::INFINITY },
        ),
        (
            "an earlier row's bad entry before a later decrease",
            3,
            3,
            ok(vec![0, 2, 1, 3], vec![0, 5, 1], vec![1.0, 2.0, 3.0]),
            E::ColumnOutOfRange { row: 0, index: 5, ncols: 3 },
        ),
        (
            "entries with no columns",
            1,
            0,
            ok(vec![0, 1], vec![0], vec![1.0]),
            E::ColumnOutOfRange { row: 0, index: 0, ncols: 0 },
        ),
    ];
    for (what, nrows, ncols, (p, i, d), want) in cases {
        let got = CsrMatrix::try_from_csr(nrows, ncols, p.clone(), i.clone(), d.clone());
        assert_eq!(got.err(), Some(want.clone()), "{what}");
        assert_eq!(debug(&reference(nrows, ncols, &p, &i, &d)), format!("{want:?}"), "{what}: reference");
    }
    // A row ending with a larger column than the next row starts with is not a descent inside a row.
    let a = CsrMatrix::try_from_csr(3, 9, vec![0, 3, 3, 5], vec![2, 5, 8, 0, 1], vec![1.0; 5]).unwrap();
    assert_eq!(a.indices(), &[2, 5, 8, 0, 1]);
}

#[test]
fn mutated_large_matrices_give_the_sequential_error() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(19);
    let (nrows, ncols) = (40_000, 300);
    let (p0, i0, d0) = valid(&mut rng, nrows, ncols);
    assert!(i0.len() > 4 << 16, "spans several validation tasks ({} nonzeros)", i0.len());
    assert_eq!(check(nrows, ncols, &p0, &i0, &d0), "Ok");
    let mut kinds = [0usize; 5];
    for _ in 0..200 {
        let (mut p, mut i, mut d) = (p0.clone(), i0.clone(), d0.clone());
        // One to three mutations anywhere: the first in row order must be the one reported.
        for _ in 0..rng.random_range(1..4) {
            let k = rng.random_range(0..i.len());
            match rng.random_range(0..5) {
                0 => i[k] = rng.random_range(ncols as u32..u32::MAX),
                1 => {
                    // Duplicate or swap with the next entry (inside a row or across a start).
                    if k + 1 < i.len() {
                        if rng.random_bool(0.5) {
                            i[k + 1] = i[k];
                        } else {
                            i.swap(k, k + 1);
                        }
                    }
                }
                2 => d[k] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][rng.random_range(0..3)],
                3 => {
                    let r = rng.random_range(1..nrows);
                    p[r] = p[r + 1] + rng.random_range(1..5);
                }
                _ => {
                    let r = rng.random_range(1..nrows);
                    p[r] = p[r - 1].saturating_sub(rng.random_range(1..3));
                }
            }
        }
        let e = check(nrows, ncols, &p, &i, &d);
        let kind = ["BadIndptr", "ColumnOutOfRange", "InvalidArgument", "NonFinite", "Ok"]
            .iter()
            .position(|k| e.starts_with(k))
            .unwrap();
        kinds[kind] += 1;
    }
    assert!(kinds[..4].iter().all(|&n| n > 0), "every error kind exercised: {kinds:?}");
}

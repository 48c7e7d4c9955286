//! Every kernel against a dense reference on random matrices with empty rows and columns,
//! n = 1 or d = 1, explicit zeros and repeated entries.

mod common;
use common::*;
use proptest::prelude::*;
use sparse_ops::CsrMatrix;

fn vecs(len: usize) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(-5.0f64..5.0, len)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn structure_matches_dense(t in triplets()) {
        let a = matrix(&t);
        prop_assert_eq!(a.to_dense(), dense(&t));
        prop_assert!(a.indptr().windows(2).all(|w| w[0] <= w[1]));
        let (n, d, _) = t;
        prop_assert_eq!(a.shape(), (n, d));
    }

    #[test]
    fn mul_vec_and_transpose(t in triplets(), seed in any::<u64>()) {
        let (n, d, _) = t.clone();
        let a = matrix(&t);
        let m = dense(&t);
        let x: Vec<f64> = (0..d).map(|j| ((seed.wrapping_add(j as u64) % 97) as f64 - 48.0) / 7.0).collect();
        let y: Vec<f64> = (0..n).map(|i| ((seed.wrapping_mul(31).wrapping_add(i as u64) % 89) as f64 - 44.0) / 5.0).collect();
        let mut ax = vec![f64::NAN; n];
        a.mul_vec(&x, &mut ax);
        let want: Vec<f64> = (0..n).map(|i| (0..d).map(|j| m[i * d + j] * x[j]).sum()).collect();
        let scale: Vec<f64> = (0..n).map(|i| (0..d).map(|j| (m[i * d + j] * x[j]).abs()).sum()).collect();
        assert_close(&ax, &want, &scale, "A x");

        let want_t: Vec<f64> = (0..d).map(|j| (0..n).map(|i| m[i * d + j] * y[i]).sum()).collect();
        let scale_t: Vec<f64> = (0..d).map(|j| (0..n).map(|i| (m[i * d + j] * y[i]).abs()).sum()).collect();
        let mut aty = vec![f64::NAN; d];
        a.tr_mul_vec(&y, &mut aty);
        assert_close(&aty, &want_t, &scale_t, "A^T y (scatter)");
        // Fused forms: the fold sees exactly A·x, the mapped transpose equals Aᵀ·y.
        let mut rec = vec![f64::NAN; 2 * n];
        let (sum, count) = a.mul_vec_fold(&x, 2, &mut rec, || (0.0, 0usize), |acc, i, z, r| {
            r[0] = z;
            r[1] = i as f64;
            acc.0 += z;
            acc.1 += 1;
        }, |p, q| (p.0 + q.0, p.1 + q.1));
        prop_assert_eq!(count, n);
        for i in 0..n {
            prop_assert_eq!(rec[2 * i].to_bits(), ax[i].to_bits());
            prop_assert_eq!(rec[2 * i + 1], i as f64);
        }
        let total_scale: f64 = scale.iter().sum();
        prop_assert!((sum - want.iter().sum::<f64>()).abs() <= 1e-12 * total_scale + 1e-300);
        let mut mapped = vec![f64::NAN; d];
        a.tr_mul_vec_map(|i| y[i], &mut mapped);
        prop_assert_eq!(&mapped, &aty);
        // Several transposed products in one pass: each column is bitwise Aᵀ of that column.
        let mut multi = vec![f64::NAN; 3 * d];
        a.tr_mul_rows_map(3, |i, r| { r[0] = y[i]; r[1] = 2.0 * y[i] + 1.0; r[2] = -y[i]; }, &mut multi);
        let col: Vec<f64> = (0..d).map(|j| multi[3 * j]).collect();
        prop_assert_eq!(col.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), aty.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        let y1: Vec<f64> = y.iter().map(|v| 2.0 * v + 1.0).collect();
        let mut aty1 = vec![0.0; d];
        a.tr_mul_vec(&y1, &mut aty1);
        prop_assert!((0..d).all(|j| multi[3 * j + 1].to_bits() == aty1[j].to_bits()));
        // Block-fused forward pass: z is A·x bitwise; the callback sees each block once, in
        // order, with its rows of every output.
        let (mut z, mut o2) = (vec![f64::NAN; n], vec![f64::NAN; 2 * n]);
        let seen = a.mul_vec_then(&x, &mut z, [(&mut o2[..], 2), (&mut [][..], 0)], |rows, zb, [ob, empty]| {
            assert!(empty.is_empty());
            for (k, i) in rows.clone().enumerate() {
                ob[2 * k] = zb[k] * 2.0;
                ob[2 * k + 1] = i as f64;
            }
            rows
        });
        prop_assert_eq!(bits(&z), bits(&ax));
        prop_assert_eq!(seen.iter().map(|r| r.len()).sum::<usize>(), n);
        prop_assert!(seen.windows(2).all(|w| w[0].end == w[1].start));
        for i in 0..n {
            prop_assert_eq!(o2[2 * i].to_bits(), (2.0 * ax[i]).to_bits());
            prop_assert_eq!(o2[2 * i + 1], i as f64);
        }
        // Block-fused transposed pass: 4 columns of Y made inside the pass, each bitwise its own
        // tr_mul_vec; the per-row outputs are written; the verdict is the AND of the runs'.
        let (mut sq, mut out4) = (vec![f64::NAN; n], vec![f64::NAN; 4 * d]);
        let ok = a.tr_mul_then::<4, 1>([(&mut sq[..], 1)], |rows, yb, [sb]| {
            for ((r, s), i) in yb.iter_mut().zip(sb.iter_mut()).zip(rows) {
                *r = [y[i], 2.0 * y[i] + 1.0, 0.0, -y[i]];
                *s = y[i] * y[i];
            }
            true
        }, &mut out4);
        prop_assert!(ok);
        prop_assert!((0..d).all(|j| out4[4 * j].to_bits() == aty[j].to_bits()));
        prop_assert!((0..d).all(|j| out4[4 * j + 1].to_bits() == aty1[j].to_bits()));
        prop_assert!((0..d).all(|j| out4[4 * j + 2] == 0.0 && out4[4 * j + 3] == -aty[j]));
        prop_assert!((0..n).all(|i| sq[i] == y[i] * y[i]));
        let bad = a.tr_mul_then::<1, 0>([], |rows, yb, []| {
            yb.iter_mut().for_each(|r| *r = [1.0]);
            !rows.contains(&(n - 1))
        }, &mut vec![0.0; d]);
        prop_assert!(!bad, "one run's false verdict makes the whole pass false");
        a.cache_transpose().unwrap();
        let mut aty2 = vec![f64::NAN; d];
        a.tr_mul_vec(&y, &mut aty2);
        assert_close(&aty2, &want_t, &scale_t, "A^T y (cached transpose)");
        prop_assert_eq!(a.transpose().transpose(), a);
    }

    #[test]
    fn dense_blocks(t in triplets(), k in 1usize..6, g in vecs(120), z in vecs(150)) {
        let (n, d, _) = t.clone();
        let a = matrix(&t);
        let m = dense(&t);
        let g: Vec<f64> = (0..d * k).map(|i| g[i % g.len()]).collect();
        let z: Vec<f64> = (0..n * k).map(|i| z[i % z.len()]).collect();
        let mut ag = vec![f64::NAN; n * k];
        a.mul_dense(&g, k, &mut ag);
        let mut want = vec![0.0; n * k];
        let mut scale = vec![0.0; n * k];
        for i in 0..n { for c in 0..k { for j in 0..d {
            want[i * k + c] += m[i * d + j] * g[j * k + c];
            scale[i * k + c] += (m[i * d + j] * g[j * k + c]).abs();
        }}}
        assert_close(&ag, &want, &scale, "A G");
        // Fused row maps see exactly the rows of A·G (same kernel order for fixed widths too).
        let mut sums = vec![f64::NAN; n];
        a.mul_dense_row_map(&g, k, |_, r| r.iter().sum(), &mut sums);
        let (rows, vals) = a.mul_dense_row_filter(&g, k, |i, r| (i % 2 == 0).then(|| r.iter().sum()));
        prop_assert_eq!(rows.clone(), (0..n).step_by(2).collect::<Vec<_>>());
        for (t, &i) in rows.iter().enumerate() {
            let want_i: f64 = want[i * k..(i + 1) * k].iter().sum();
            let scale_i: f64 = scale[i * k..(i + 1) * k].iter().sum();
            prop_assert!((vals[t] - want_i).abs() <= 1e-12 * scale_i + 1e-300);
            prop_assert!((sums[i] - want_i).abs() <= 1e-12 * scale_i + 1e-300);
        }
        let mut atz = vec![f64::NAN; d * k];
        a.tr_mul_dense(&z, k, &mut atz);
        let mut want = vec![0.0; d * k];
        let mut scale = vec![0.0; d * k];
        for j in 0..d { for c in 0..k { for i in 0..n {
            want[j * k + c] += m[i * d + j] * z[i * k + c];
            scale[j * k + c] += (m[i * d + j] * z[i * k + c]).abs();
        }}}
        assert_close(&atz, &want, &scale, "A^T Z");
        a.cache_transpose().unwrap();
        let mut atz2 = vec![f64::NAN; d * k];
        a.tr_mul_dense(&z, k, &mut atz2);
        assert_close(&atz2, &want, &scale, "A^T Z (cached transpose)");
    }

    #[test]
    fn grams(t in triplets(), w in vecs(30), picks in proptest::collection::vec(any::<usize>(), 0..12)) {
        let (n, d, _) = t.clone();
        let a = matrix(&t);
        let m = dense(&t);
        let w: Vec<f64> = (0..n).map(|i| w[i % w.len()]).collect();
        let check = |got: faer::Mat<f64>, rows: &[usize], wts: &[f64], what: &str| {
            let mut want = vec![0.0; d * d];
            let mut scale = vec![0.0; d * d];
            for (&i, &wi) in rows.iter().zip(wts) { for p in 0..d { for q in 0..d {
                want[p * d + q] += wi * m[i * d + p] * m[i * d + q];
                scale[p * d + q] += (wi * m[i * d + p] * m[i * d + q]).abs();
            }}}
            let got: Vec<f64> = (0..d * d).map(|k| got[(k / d, k % d)]).collect();
            assert_close(&got, &want, &scale, what);
            for p in 0..d { for q in 0..d { assert_eq!(got[p * d + q].to_bits(), got[q * d + p].to_bits(), "{what} symmetric"); } }
        };
        let all: Vec<usize> = (0..n).collect();
        check(a.weighted_gram(&w), &all, &w, "A^T D A");
        let rows: Vec<usize> = picks.iter().map(|p| p % n).collect();
        let wts: Vec<f64> = rows.iter().map(|&i| w[i] * 1.5).collect();
        check(a.sampled_gram(&rows, &wts), &rows, &wts, "sampled Gram");
    }

    #[test]
    fn row_and_column_ops(t in triplets(), s in vecs(20)) {
        let (n, d, _) = t.clone();
        let mut a = matrix(&t);
        let m = dense(&t);
        let rn = a.row_sq_norms();
        let want: Vec<f64> = (0..n).map(|i| (0..d).map(|j| m[i * d + j].powi(2)).sum()).collect();
        assert_close(&rn, &want, &want, "row norms");
        let cn = a.column_sq_norms();
        let want: Vec<f64> = (0..d).map(|j| (0..n).map(|i| m[i * d + j].powi(2)).sum()).collect();
        assert_close(&cn, &want, &want, "column norms");
        let s: Vec<f64> = (0..d).map(|j| s[j % s.len()]).collect();
        a.scale_columns(&s).unwrap();
        let scaled = a.to_dense();
        for i in 0..n { for j in 0..d {
            prop_assert!(scaled[i * d + j] == m[i * d + j] * s[j], "exact product expected");
        }}
    }
}

/// The fixed-width row kernels (`k = 4, 8, 16, 32`: AVX2 registers when the CPU has them)
/// perform, lane by lane, exactly the multiply-then-add sequence of this scalar loop in row
/// order, so they agree to the bit; the filter keeps exactly the rows it is told to.
#[test]
fn fixed_width_row_kernels_are_bitwise_the_scalar_loop() {
    let a = sparse_ops::generate::random_sparse(&sparse_ops::generate::GenSpec {
        nrows: 3_000,
        ncols: 37,
        sparsity: sparse_ops::generate::Sparsity::RowNnz(9),
        variant: sparse_ops::generate::Variant::Plain,
        seed: 5,
    })
    .unwrap();
    let (n, d) = a.shape();
    for k in [4usize, 8, 16, 32, 12] {
        let g: Vec<f64> = (0..d * k).map(|q| ((q * 7919) % 1000) as f64 / 333.0 - 1.5).collect();
        let reference = |i: usize| {
            let mut buf = vec![0.0f64; k];
            let (cols, vals) = a.row(i);
            for (&j, &v) in cols.iter().zip(vals) {
                for l in 0..k {
                    buf[l] += v * g[j as usize * k + l];
                }
            }
            buf
        };
        let bits = |r: &[f64]| r.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let mut got = vec![0.0; n];
        a.mul_dense_row_map(
            &g,
            k,
            |i, r| {
                assert_eq!(bits(r), bits(&reference(i)), "k = {k}, row {i}");
                r[i % k]
            },
            &mut got,
        );
        for (i, &v) in got.iter().enumerate() {
            assert_eq!(v.to_bits(), reference(i)[i % k].to_bits(), "k = {k}, row {i}");
        }
        let (rows, vals) = a.mul_dense_row_filter(&g, k, |i, r| {
            assert_eq!(bits(r), bits(&reference(i)), "k = {k}, row {i}");
            (i % 3 == 1).then(|| r[k - 1])
        });
        assert_eq!(rows, (1..n).step_by(3).collect::<Vec<_>>());
        assert!(rows.iter().zip(&vals).all(|(&i, &v)| v.to_bits() == reference(i)[k - 1].to_bits()));
    }
}

#[test]
fn explicit_zeros_are_kept_and_harmless() {
    let a = CsrMatrix::try_from_csr(2, 3, vec![0, 2, 2], vec![0, 2], vec![0.0, 5.0]).unwrap();
    assert_eq!(a.nnz(), 2);
    let mut y = [9.0; 2];
    a.mul_vec(&[1.0, 1.0, 1.0], &mut y);
    assert_eq!(y, [5.0, 0.0]);
}

#[test]
fn invalid_structure_is_an_error() {
    use sparse_ops::StructureError as E;
    assert!(matches!(CsrMatrix::try_from_csr(2, 2, vec![0, 1], vec![0], vec![1.0]), Err(E::BadIndptr(_))));
    assert!(matches!(CsrMatrix::try_from_csr(1, 2, vec![0, 1], vec![2], vec![1.0]), Err(E::ColumnOutOfRange { .. })));
    assert!(matches!(CsrMatrix::try_from_csr(1, 2, vec![0, 1], vec![0], vec![f64::NAN]), Err(E::NonFinite { .. })));
    assert!(CsrMatrix::try_from_csr(1, 3, vec![0, 2], vec![1, 1], vec![1.0, 2.0]).is_err(), "repeated column");
    assert!(CsrMatrix::from_triplets(1, 1, &[(0, 0, 1.0), (0, 0, 2.0)], sparse_ops::Duplicates::Reject).is_err());
    let summed = CsrMatrix::from_triplets(1, 1, &[(0, 0, 1.0), (0, 0, 2.0)], sparse_ops::Duplicates::Sum).unwrap();
    assert_eq!(summed.data(), &[3.0]);
    let mut a = CsrMatrix::from_dense(1, 2, &[1e300, 1.0]).unwrap();
    assert!(a.scale_columns(&[1e10, 1.0]).is_err(), "overflow is refused");
    assert_eq!(a.data(), &[1e300, 1.0], "and leaves A unchanged");
}

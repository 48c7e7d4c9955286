//! `spnewton convert`: Matrix Market, `.npz` and svmlight round trips give the same matrix (and
//! the same Matrix Market bytes), labels travel with svmlight, and bad requests exit 2.

mod common;
use common::*;

use sparse_ops::ReadOptions;
use sparse_ops::io::{read_matrix_file, read_vector};

fn convert(args: &[&str]) {
    let o = spnewton(&[&["convert"], args].concat());
    assert!(o.status.success(), "convert {args:?}: {}", stderr(&o));
}

#[test]
fn mtx_npz_svmlight_round_trips_are_identical() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "p", "--n 300 --d 9 --row-nnz 4 --seed 3");
    let mtx = p.join("A.mtx");
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let a = read_matrix_file(&mtx, ReadOptions::default(), &|_| {}).unwrap().0;
    let m = mtx.to_str().unwrap();
    // mtx -> npz (stored, compressed) -> mtx: the same bytes as the original.
    for (npz, flag) in [("s.npz", None), ("z.npz", Some("--compress"))] {
        let npz_path = path(npz);
        let mut args = vec![m, &npz_path[..]];
        args.extend(flag);
        convert(&args);
        assert_eq!(read_matrix_file(npz_path.as_ref(), ReadOptions::default(), &|_| {}).unwrap().0, a);
        let back = path(&format!("{npz}.mtx"));
        convert(&[&npz_path, &back]);
        assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&mtx).unwrap(), "{npz}");
    }
    // mtx -> svmlight with labels -> npz, labels out: the same matrix and labels.
    let b = p.join("b.txt");
    convert(&[m, &path("a.svm"), "--labels", b.to_str().unwrap()]);
    convert(&[&path("a.svm"), &path("from_svm.npz"), "--labels-out", &path("labels.npy")]);
    let (a2, _) = read_matrix_file(path("from_svm.npz").as_ref(), ReadOptions::default(), &|_| {}).unwrap();
    // svmlight does not store the column count: the widest row decides it.
    assert_eq!(a2.nrows(), a.nrows());
    assert_eq!((a2.indptr(), a2.indices(), a2.data()), (a.indptr(), a.indices(), a.data()));
    let labels = read_vector(path("labels.npy").as_ref()).unwrap();
    assert_eq!(labels, read_vector(&b).unwrap());
    // A problem directory may hold A.npz and b.npy.
    let q = dir.path().join("q");
    std::fs::create_dir(&q).unwrap();
    std::fs::copy(p.join("meta.json"), q.join("meta.json")).unwrap();
    std::fs::copy(path("s.npz"), q.join("A.npz")).unwrap();
    std::fs::copy(path("labels.npy"), q.join("b.npy")).unwrap();
    let (pa, pq) = (losses::Problem::read_dir(&p).unwrap(), losses::Problem::read_dir(&q).unwrap());
    assert_eq!((pa.a, pa.b), (pq.a, pq.b));
}

#[test]
fn bad_conversions_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "p", "--n 20 --d 3 --row-nnz 2");
    let m = p.join("A.mtx");
    let m = m.to_str().unwrap();
    let out = dir.path().join("o.mtx");
    let o = spnewton(&["convert", m, out.to_str().unwrap(), "--compress"]);
    assert_input_error(&o, "--compress applies to a .npz output");
    let o = spnewton(&["convert", m, dir.path().join("o.npz").to_str().unwrap(), "--labels-out", "x.txt"]);
    assert_input_error(&o, "--labels-out needs an svmlight input");
    let bad = dir.path().join("bad.npz");
    std::fs::write(&bad, b"PK\x03\x04 not really").unwrap();
    let o = spnewton(&["convert", bad.to_str().unwrap(), out.to_str().unwrap()]);
    assert_input_error(&o, "not a ZIP archive");
    assert!(!out.exists());
}

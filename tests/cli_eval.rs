//! `spnewton eval`: the JSON it writes agrees with the library, and bad input exits 2.

mod common;
use common::*;

#[test]
fn eval_writes_loss_gradient_and_hessian() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "p", "--n 400 --d 6 --row-nnz 3 --loss rescaled --fn cosh --seed 4 --w-const 0.1");
    let ps = p.to_str().unwrap();
    let x = dir.path().join("x.txt");
    std::fs::write(&x, "0.1\n-0.2\n0.05\n0.0\n0.3\n-0.1\n").unwrap();
    let out = dir.path().join("e.json");
    let o =
        spnewton(&["eval", "--problem", ps, "--x", x.to_str().unwrap(), "--hessian", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let problem = losses::Problem::read_dir(&p).unwrap();
    let f = losses::Objective::from_problem(&problem).unwrap();
    let xv = [0.1, -0.2, 0.05, 0.0, 0.3, -0.1];
    let e = f.evaluate(&xv, losses::What::Hessian).unwrap();
    assert_eq!(v["loss"].as_f64().unwrap(), e.value);
    let g: Vec<f64> = v["gradient"].as_array().unwrap().iter().map(|t| t.as_f64().unwrap()).collect();
    assert_eq!(g, e.gradient.unwrap());
    let h = e.hessian.unwrap().dense(losses::Part::Exact);
    let hj = v["hessian"].as_array().unwrap();
    assert_eq!(hj.len(), 6);
    for i in 0..6 {
        for j in 0..6 {
            assert_eq!(hj[i][j].as_f64().unwrap(), h[(i, j)]);
        }
    }
    // Without --hessian there is no "hessian" key; x defaults to 0.
    let o = spnewton(&["eval", "--problem", ps, "--out", out.to_str().unwrap()]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(v.get("hessian").is_none());
    // Overflow at the given point: exit 2, one line naming the row.
    std::fs::write(&x, "800\n800\n800\n800\n800\n800\n").unwrap();
    let o = spnewton(&["eval", "--problem", ps, "--x", x.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("overflow") && err.contains("at row"), "{err}");
    // x of the wrong length.
    std::fs::write(&x, "1\n").unwrap();
    let o = spnewton(&["eval", "--problem", ps, "--x", x.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected length 6, found 1"));
}

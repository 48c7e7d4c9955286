//! `spnewton attention plant | eval | fit | lipschitz`: outputs agree with the library, and
//! bad input exits 2 with one line.

mod common;
use attention::{AttentionData, AttentionLoss, AttentionObjective, Want, read_matrix, write_matrix};
use common::*;
use faer::Mat;

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn matrix(v: &serde_json::Value) -> Mat<f64> {
    let rows = v.as_array().unwrap();
    let cols = rows[0].as_array().unwrap().len();
    Mat::from_fn(rows.len(), cols, |i, j| rows[i][j].as_f64().unwrap())
}

#[test]
fn plant_eval_fit_and_lipschitz() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("att");
    let ds = data.to_str().unwrap();
    let o = spnewton(&["attention", "plant", "--m", "4", "--n", "10", "--d", "3", "--seed", "2", "--out", ds]);
    assert!(o.status.success(), "{}", stderr(&o));

    // eval at X: the JSON is the library's evaluation, bit for bit.
    let x = Mat::from_fn(3, 3, |i, j| 0.1 * i as f64 - 0.05 * j as f64);
    let xp = dir.path().join("X.mtx");
    write_matrix(&xp, x.as_ref()).unwrap();
    let out = dir.path().join("e.json");
    let os = out.to_str().unwrap();
    let o = spnewton(&["attention", "eval", "--data", ds, "--x", xp.to_str().unwrap(), "--hessian", "--out", os]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&out);
    let d = AttentionData::load(&data).unwrap();
    let y = read_matrix(&data.join("Y.mtx"), Some((3, 3))).unwrap();
    let f = AttentionObjective::new(&d, y, AttentionLoss::L2).unwrap();
    let e = f.evaluate(x.as_ref(), Want::Hessian).unwrap();
    assert_eq!(v["loss"].as_f64().unwrap(), e.value);
    assert_eq!(matrix(&v["grad_x"]), e.grad_x);
    assert_eq!(matrix(&v["grad_y"]), e.grad_y);
    assert_eq!(matrix(&v["hessian_x"]), e.hessian.unwrap().dense());

    // eval at Q, K: gradients in the factors.
    let q = Mat::from_fn(3, 2, |i, j| 0.2 + 0.1 * (i + j) as f64);
    let k = Mat::from_fn(3, 2, |i, j| 0.3 - 0.1 * (i * j) as f64);
    let (qp, kp) = (dir.path().join("Q.mtx"), dir.path().join("K.mtx"));
    write_matrix(&qp, q.as_ref()).unwrap();
    write_matrix(&kp, k.as_ref()).unwrap();
    let o = spnewton(&[
        "attention",
        "eval",
        "--data",
        ds,
        "--q",
        qp.to_str().unwrap(),
        "--k",
        kp.to_str().unwrap(),
        "--out",
        os,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&out);
    let fe = f.evaluate_factors(q.as_ref(), k.as_ref()).unwrap();
    assert_eq!(matrix(&v["grad_q"]), fe.grad_q);
    assert_eq!(matrix(&v["grad_k"]), fe.grad_k);
    assert!(v.get("grad_x").is_none());

    // Newton fit recovers the planted X and exits 0; GD writes a trajectory.
    let fit = dir.path().join("fit");
    let o = spnewton(&[
        "attention",
        "fit",
        "--data",
        ds,
        "--method",
        "newton",
        "--atol",
        "1e-9",
        "--out",
        fit.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = json(&fit.join("report.json"));
    assert_eq!(r["status"], "converged");
    assert!(r["rel_error"].as_f64().unwrap() < 1e-6, "{r}");
    assert!(std::fs::read_to_string(fit.join("trajectory.csv")).unwrap().starts_with("iteration,loss"));
    let o = spnewton(&[
        "attention",
        "fit",
        "--data",
        ds,
        "--method",
        "gd",
        "--steps",
        "50",
        "--out",
        fit.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "50 GD steps do not converge: {}", stderr(&o));
    assert_eq!(std::fs::read_to_string(fit.join("trajectory.csv")).unwrap().lines().count(), 52);

    // Lipschitz: one row per loss and radius.
    let lp = dir.path().join("l.json");
    let o = spnewton(&[
        "attention",
        "lipschitz",
        "--data",
        ds,
        "--radii",
        "0.1,1",
        "--pairs",
        "5",
        "--out",
        lp.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&lp).as_array().unwrap().len(), 4);

    // Bad input.
    assert_input_error(
        &spnewton(&["attention", "eval", "--data", ds, "--loss", "softmax", "--out", os]),
        "invalid value 'softmax' for '--loss <LOSS>' [possible values: l2, logistic, linear, linear-logistic]",
    );
    assert_input_error(&spnewton(&["attention", "eval", "--data", ds, "--loss", "logistic", "--out", os]), "labels ±1");
    assert_input_error(&spnewton(&["attention", "eval", "--data", ds, "--loss", "linear", "--out", os]), "near zero");
    write_matrix(&xp, Mat::<f64>::zeros(2, 2).as_ref()).unwrap();
    assert_input_error(
        &spnewton(&["attention", "eval", "--data", ds, "--x", xp.to_str().unwrap(), "--out", os]),
        "3×3",
    );
    std::fs::write(data.join("B.mtx"), "%%MatrixMarket matrix array real general\n40 3\n1\n").unwrap();
    assert_input_error(&spnewton(&["attention", "eval", "--data", ds, "--out", os]), "B.mtx");
}

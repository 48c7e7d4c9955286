//! `spnewton attention gen | svm | train`: files written, figures as the library gives them,
//! and typed errors for broken data.

mod common;
use common::*;

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn gen_svm_and_train_write_what_they_promise() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("tok");
    let ds = data.to_str().unwrap();
    let o = spnewton(&["attention", "gen", "--m", "4", "--n", "5", "--d", "5", "--seed", "3", "--out", ds]);
    assert!(o.status.success(), "{}", stderr(&o));

    let svm = dir.path().join("svm");
    let o = spnewton(&["attention", "svm", "--data", ds, "--out", svm.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = json(&svm.join("report.json"));
    assert_eq!(r["status"], "converged");
    assert!(r["min_margin"].as_f64().unwrap() >= 1.0 - 1e-6);
    let lib = att_svm::solve_svm(&att_svm::TokenData::load(&data).unwrap(), &att_svm::SvmParams::default()).unwrap();
    assert_eq!(r["objective"].as_f64().unwrap(), lib.objective);
    let support = std::fs::read_to_string(svm.join("support.txt")).unwrap();
    assert_eq!(support.lines().count() - 1, r["support_tokens"].as_u64().unwrap() as usize);
    for key in ["iterations", "time_s", "gap"] {
        assert!(r.get(key).is_some(), "{key}");
    }
    let o = spnewton(&["attention", "svm", "--data", ds, "--soft", "12.5", "--out", svm.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let soft = json(&svm.join("report.json"));
    assert!(soft["objective"].as_f64().unwrap() > 0.0 && soft["relative_gap"].as_f64().unwrap() < 1e-6);

    let tr = dir.path().join("train");
    let o = spnewton(&[
        "attention",
        "train",
        "--data",
        ds,
        "--steps",
        "300",
        "--eta",
        "0.2",
        "--normalized",
        "--out",
        tr.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["trajectory.csv", "X.mtx", "X_mm.mtx", "training.svg", "topk.svg", "report.json"] {
        assert!(tr.join(f).exists(), "{f}");
    }
    let csv = std::fs::read_to_string(tr.join("trajectory.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    for col in ["cos_mm", "x_norm", "gap_mean", "entropy", "top1_mass", "top16_mass", "top4_error", "negligible_share"]
    {
        assert!(header.contains(&col), "{col}");
    }
    let rows: Vec<Vec<f64>> = csv.lines().skip(1).map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect();
    assert!(rows.len() > 100 && rows.iter().flatten().all(|v| v.is_finite()));
    let cos = header.iter().position(|h| *h == "cos_mm").unwrap();
    assert!(rows.last().unwrap()[cos] > 0.98, "{}", rows.last().unwrap()[cos]);
    let svg = std::fs::read_to_string(tr.join("training.svg")).unwrap();
    assert!(svg.contains("cos(X(k), X^mm)") && svg.contains("attention entropy"));

    assert_input_error(
        &spnewton(&["attention", "svm", "--data", ds, "--soft=-1", "--out", svm.to_str().unwrap()]),
        "--soft C must be positive",
    );
    // Broken data: a tie between two optimal tokens names the query.
    std::fs::write(data.join("head.txt"), "0\n0\n0\n0\n0\n").unwrap();
    std::fs::remove_file(data.join("opt.txt")).unwrap();
    assert_input_error(&spnewton(&["attention", "svm", "--data", ds, "--out", svm.to_str().unwrap()]), "tie");
}

//! `spnewton sequence` and `spnewton attention rows` end to end: warm against cold, the reuse
//! record, bad steps ending the run with the solved steps written, the real attention heads.

mod common;
use common::*;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn read_b(dir: &Path) -> Vec<f64> {
    std::fs::read_to_string(dir.join("b.txt")).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect()
}

fn line(b: &[f64]) -> String {
    b.iter().map(|v| format!("{v:e}")).collect::<Vec<_>>().join(" ")
}

/// `b∘(1 + ρ·s_i)` with a fixed sign pattern.
fn perturb(b: &[f64], rho: f64) -> Vec<f64> {
    b.iter().enumerate().map(|(i, v)| v * (1.0 + rho * if i % 3 == 0 { 1.0 } else { -0.5 })).collect()
}

#[test]
fn b_sequence_warm_matches_cold_and_says_what_it_reused() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "p", "--n 4000 --d 8 --row-nnz 4 --seed 3 --w-const 0.001");
    let b0 = read_b(&p);
    let b1 = perturb(&b0, 0.01);
    let b2 = perturb(&b1, 0.01);
    let seq = dir.path().join("b.txt");
    std::fs::write(&seq, format!("{}\n{}\n{}\n", line(&b0), line(&b1), line(&b2))).unwrap();
    let out = dir.path().join("seq.json");
    let o = spnewton(&[
        "sequence",
        "--problem",
        p.to_str().unwrap(),
        "--b-seq",
        seq.to_str().unwrap(),
        "--compare",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&out);
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    assert!(v["max_rel_diff_x"].as_f64().unwrap() <= 1e-8, "{}", v["max_rel_diff_x"]);
    for (k, s) in steps.iter().enumerate() {
        assert_eq!(s["index"], k);
        assert_eq!(s["status"], "converged");
        assert_eq!(s["x"].as_array().unwrap().len(), 8);
        for key in ["iterations", "passes_over_a", "time_s", "reused"] {
            assert!(!s[key].is_null(), "step {k} lacks {key}");
        }
        if k == 0 {
            assert!(s["shift"].is_null());
            assert_eq!(s["reused"]["x_warm"], false);
        } else {
            assert_eq!(s["reused"]["x_warm"], true);
            // leverage-pcg warm steps precondition CG with the kept factor: no sketch drawn.
            assert_eq!(s["reused"]["sample"]["kind"], "unneeded", "{}", s["reused"]);
            assert_eq!(s["reused"]["factor"]["kept"], k > 1, "{}", s["reused"]);
            assert!(!s["history"].as_array().unwrap().is_empty());
            let sh = &s["shift"];
            assert!(sh["b_shift"].as_f64().unwrap() > 0.0);
            let m = sh["m_measured"].as_f64().unwrap();
            assert!((m - sh["b_shift"].as_f64().unwrap() / sh["dx_norm"].as_f64().unwrap()).abs() <= 1e-12 * m);
            let cold = &v["cold_steps"][k];
            assert!(s["passes_over_a"].as_u64() < cold["passes_over_a"].as_u64(), "step {k}");
            assert_eq!(cold["reused"]["x_warm"], false);
        }
    }
}

#[test]
fn a_bad_b_row_ends_the_run_after_writing_the_solved_steps() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "p", "--n 2000 --d 6 --row-nnz 3 --seed 5 --w-const 0.001");
    let b0 = read_b(&p);
    let b1 = perturb(&b0, 0.01);
    let mut with_nan = b1.clone();
    with_nan[7] = f64::NAN;
    for (bad, needle) in [(line(&b0[1..]), "b has 1999 entries"), (line(&with_nan), "b[7] is NaN")] {
        let seq = dir.path().join("b.txt");
        std::fs::write(&seq, format!("{}\n{}\n{bad}\n", line(&b0), line(&b1))).unwrap();
        let out = dir.path().join("seq.json");
        let o = spnewton(&[
            "sequence",
            "--problem",
            p.to_str().unwrap(),
            "--b-seq",
            seq.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_input_error(&o, needle);
        let v = json(&out);
        assert_eq!(v["steps"].as_array().unwrap().len(), 2, "the two good steps are written");
        assert!(v["error"].as_str().unwrap().contains(needle), "{}", v["error"]);
        assert!(v["error"].as_str().unwrap().starts_with("step 2"), "{}", v["error"]);
    }
}

#[test]
fn a_sequence_measures_the_data_move_and_rejects_another_shape() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "p", "--n 2000 --d 6 --row-nnz 3 --seed 5 --w-const 0.001");
    // A₂: A with every value scaled by 1.001 (same pattern); A₃: another shape.
    let text = std::fs::read_to_string(p.join("A.mtx")).unwrap();
    let mut header = true;
    let scaled: String = text
        .lines()
        .map(|l| {
            if l.starts_with('%') {
                return format!("{l}\n");
            }
            if header {
                header = false;
                return format!("{l}\n");
            }
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {} {:e}\n", f[0], f[1], f[2].parse::<f64>().unwrap() * 1.001)
        })
        .collect();
    let a2 = dir.path().join("A2.mtx");
    std::fs::write(&a2, scaled).unwrap();
    let other = gen_problem(dir.path(), "q", "--n 2000 --d 7 --row-nnz 3 --seed 6");
    let list = format!("{},{},{}", p.join("A.mtx").display(), a2.display(), other.join("A.mtx").display());
    let out = dir.path().join("seq.json");
    let o = spnewton(&["sequence", "--problem", p.to_str().unwrap(), "--a-seq", &list, "--out", out.to_str().unwrap()]);
    assert_input_error(&o, "2000×7");
    let v = json(&out);
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    let sh = &steps[1]["shift"];
    // ‖ΔA‖_F = 0.001·‖A‖_F exactly up to rounding; ‖ΔA·x‖_∞ = 0.001·‖Ax‖_∞.
    assert!(sh["da_frobenius"].as_f64().unwrap() > 0.0);
    assert!(sh["da_spectral"].as_f64().unwrap() <= sh["da_frobenius"].as_f64().unwrap() * (1.0 + 1e-12));
    assert_eq!(sh["dx_norm"].as_f64().unwrap(), 0.0, "Part 2 moves A at the old x");
    assert!(sh["preconditions_hold"].as_bool().unwrap());
    assert_eq!(steps[1]["reused"]["x_warm"], true);
}

#[test]
fn a_dense_b_matrix_of_the_wrong_width_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = gen_problem(dir.path(), "p", "--n 50 --d 3 --row-nnz 2 --seed 5");
    let bm = dir.path().join("B.mtx");
    let mut s = String::from("%%MatrixMarket matrix array real general\n2 49\n");
    for _ in 0..98 {
        s.push_str("0.02\n");
    }
    std::fs::write(&bm, s).unwrap();
    let o = spnewton(&["sequence", "--problem", p.to_str().unwrap(), "--b-seq", bm.to_str().unwrap()]);
    assert_input_error(&o, "n = 50");
}

fn attention_rows(layer: &str, head: &str, extra: &[&str]) -> (std::process::Output, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rows.json");
    let data = root().join("datasets/minilm_attention/zen_of_python");
    let mut args =
        vec!["attention", "rows", "--data", data.to_str().unwrap(), "--layer", layer, "--head", head, "--quiet"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let o = spnewton(&args);
    let v = if out.exists() { json(&out) } else { serde_json::Value::Null };
    (o, v)
}

/// The "Done when" on layer 0 head 5, with the SPEC §6 chains: every row's answer
/// converged, its loss no higher than that of `q_i/√32` (1e-12 absolute), `q_i/√32` recovered to
/// 1e-4 at a minimum; the cold and warm chains also solve every row here.
#[test]
fn attention_rows_recover_every_query_of_layer_0_head_5() {
    let (o, v) = attention_rows("0", "5", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = &v["summary"];
    assert_eq!(s["rows"], 191);
    assert_eq!(s["converged"], 191);
    assert_eq!(s["loss_ok"], 191);
    assert_eq!(s["recovered"], 191, "not recovered: {}", s["not_recovered"]);
    assert_eq!(s["log_linear_starts"], 191);
    let c = &s["chains"];
    for k in ["converged_cold", "converged_warm", "loss_ok_cold", "loss_ok_warm"] {
        assert_eq!(c[k], 191, "{k}");
    }
    for r in v["rows"].as_array().unwrap() {
        assert!(r["answer"]["rel_err"].as_f64().unwrap() <= 1e-4);
        assert!(r["answer"]["loss_excess"].as_f64().unwrap() <= 1e-12);
        assert!(r["warm"]["loss_excess"].as_f64().unwrap() <= 1e-12);
        assert!(r["lambda_min"].as_f64().unwrap() > 0.0, "row {}: a minimum", r["index"]);
        assert!(r["note"].is_null());
    }
    assert_eq!(s["shifts_measured"], 190);
}

/// Every shipped head, every row (issue 18): the answer converges with a loss no higher than
/// that of `q_i/√32` (1e-12 absolute); the log-linear start recovers `q_i/√32` to 1e-5 on all
/// 1,719 rows; the answer recovers it to 1e-4 on every row except those of layer 0 head 2,
/// whose loss is flat (~1e-12 at `q_i/√32`): there the loss's minimiser lies elsewhere, lower,
/// and each such row says so.
#[test]
fn attention_rows_solve_every_row_of_every_shipped_head() {
    for layer in ["0", "2", "5"] {
        for head in ["2", "5", "11"] {
            let (o, v) = attention_rows(layer, head, &["--no-chain"]);
            let name = format!("L{layer}H{head}");
            assert!(o.status.success(), "{name}: {}", stderr(&o));
            let s = &v["summary"];
            assert_eq!(s["converged"], 191, "{name}");
            assert_eq!(s["loss_ok"], 191, "{name}");
            assert_eq!(s["log_linear_starts"], 191, "{name}");
            assert!(s["max_start_rel_err"].as_f64().unwrap() < 1e-5, "{name}: {}", s["max_start_rel_err"]);
            assert!(s["chains"].is_null(), "{name}: --no-chain");
            let flat_head = name == "L0H2";
            for r in v["rows"].as_array().unwrap() {
                assert!(r["answer"]["loss_excess"].as_f64().unwrap() <= 1e-12, "{name} row {}", r["index"]);
                if flat_head {
                    assert_eq!(r["recovered"], false, "{name} row {}", r["index"]);
                    // Lower than at q_i/√32, whose loss is already ~1e-12, where the Hessian has
                    // a flat direction: not a failure to converge.
                    assert!(r["answer"]["loss_excess"].as_f64().unwrap() < 0.0);
                    assert!(r["loss_star"].as_f64().unwrap() < 1e-10);
                    assert!(r["lambda_min"].as_f64().unwrap() < 1e-12);
                    assert!(r["note"].as_str().unwrap().contains("below that at q_i/√d_k"));
                } else {
                    assert_eq!(r["recovered"], true, "{name} row {}: {}", r["index"], r["answer"]);
                }
            }
            if !flat_head {
                assert_eq!(s["recovered"], 191, "{name}");
            }
        }
    }
}

#[test]
fn attention_rows_names_a_missing_head() {
    let data = root().join("datasets/minilm_attention/zen_of_python");
    let o = spnewton(&["attention", "rows", "--data", data.to_str().unwrap(), "--layer", "4", "--head", "5"]);
    assert_input_error(&o, "L4H5");
}

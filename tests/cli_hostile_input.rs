//! The reproducers of hostile input, run through the program under an 8 GiB address-space
//! limit (`ulimit -v 8388608`): each ends with exit code 2 and one clear line, never a panic,
//! an abort or a long wait; and a LIBSVM problem directory solves.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{assert_input_error, stderr};

/// `spnewton args…` under `ulimit -v 8388608` (8 GiB of address space).
fn limited(args: &[&str]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg("ulimit -v 8388608 && exec \"$0\" \"$@\"").arg(env!("CARGO_BIN_EXE_spnewton")).args(args);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("sh runs")
}

fn write(dir: &Path, name: &str, data: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn files_without_line_endings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = write(dir.path(), "zeros.mtx", &vec![0u8; 20 << 20]);
    assert_input_error(&limited(&["info", "--a", &zeros]), "longer than");
    assert_input_error(&limited(&["info", "--a", "/dev/zero"]), "longer than");
    // A gzip bomb: 256 MiB of zeros in ~250 KiB.
    let bomb = dir.path().join("bomb.mtx.gz");
    let made = Command::new("sh")
        .arg("-c")
        .arg(format!("head -c 268435456 /dev/zero | gzip -1 > {}", bomb.display()))
        .status()
        .unwrap();
    assert!(made.success());
    assert_input_error(&limited(&["info", "--a", bomb.to_str().unwrap()]), "longer than");
}

#[test]
fn claimed_sizes_are_refused_or_reported_without_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let rows = write(dir.path(), "rows.mtx", b"%%MatrixMarket matrix coordinate real general\n4000000000 5 1\n1 1 1\n");
    assert_input_error(&limited(&["info", "--a", &rows]), "row pointer");
    let dense = write(dir.path(), "dense.mtx", b"%%MatrixMarket matrix array real general\n100000 100000\n1\n");
    assert_input_error(&limited(&["info", "--a", &dense]), "only 1");
    let many = write(dir.path(), "many.mtx", b"%%MatrixMarket matrix coordinate real general\n9 9 4000000000\n1 1 1\n");
    assert_input_error(&limited(&["info", "--a", &many]), "many.mtx");
}

#[test]
fn huge_generator_sizes_are_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g");
    let o = limited(&["gen", "--n", "100000000000", "--d", "50", "--row-nnz", "10", "--out", out.to_str().unwrap()]);
    assert_input_error(&o, "memory");
    // Under the limit, even a size that fits the machine but not 8 GiB is refused.
    let o = limited(&["gen", "--n", "400000000", "--d", "50", "--row-nnz", "10", "--out", out.to_str().unwrap()]);
    assert_input_error(&o, "memory");
}

fn meta(dir: &Path, text: &str) {
    std::fs::write(dir.join("meta.json"), text).unwrap();
}

#[test]
fn problem_directory_messages_name_the_files_and_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    meta(p, r#"{"loss": "linear"}"#);
    let o = limited(&["solve", "--problem", p.to_str().unwrap()]);
    assert_input_error(&o, "no A.mtx, A.mtx.gz, A.npz or data.svm");
    std::fs::write(p.join("A.mtx"), "%%MatrixMarket matrix coordinate real general\n2 1 2\n1 1 1\n2 1 2\n").unwrap();
    std::fs::write(p.join("b.txt"), "1\n2\n").unwrap();
    meta(p, r#"{"loss": "linear", "w_const": -1}"#);
    let o = limited(&["solve", "--problem", p.to_str().unwrap()]);
    assert_input_error(&o, "w_const must be finite and nonnegative, got -1");
    let o = limited(&["solve", "--problem", p.to_str().unwrap(), "--w-const=-1"]);
    assert_input_error(&o, "must be finite and nonnegative, got -1");
}

#[test]
fn a_libsvm_problem_directory_solves() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    // Real-valued labels from a known linear model b = A·(1, -2, 0.5), LIBSVM layout with
    // comments, 1-based sparse features and a "+1"-style label.
    let x = [1.0, -2.0, 0.5];
    let mut text = String::from("# generated for the test\n");
    for i in 0..40usize {
        let row: Vec<(usize, f64)> = (0..3)
            .filter(|j| (i + j) % 3 != 0 || i % 5 == 0)
            .map(|j| (j, ((i * 7 + j * 3) % 11) as f64 - 5.0))
            .collect();
        let label: f64 = row.iter().map(|&(j, v)| v * x[j]).sum();
        let feats: Vec<String> = row.iter().map(|(j, v)| format!("{}:{v}", j + 1)).collect();
        let label = if label == 1.0 { "+1".to_string() } else { format!("{label}") };
        text += &format!("{label} {} # example {i}\n", feats.join(" "));
    }
    std::fs::write(p.join("data.svm"), &text).unwrap();
    meta(p, r#"{"loss": "linear"}"#);
    let out = p.join("result.json");
    let o = limited(&["solve", "--problem", p.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let got: Vec<f64> = r["x"].as_array().expect("x in result.json").iter().map(|v| v.as_f64().unwrap()).collect();
    for (g, w) in got.iter().zip(x) {
        assert!((g - w).abs() < 1e-6, "x = {got:?}");
    }
    // The same file given with --a: its labels are b.
    let svm = p.join("data.svm");
    let o = limited(&["solve", "--a", svm.to_str().unwrap(), "--loss", "linear", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = limited(&["info", "--a", svm.to_str().unwrap(), "--json"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"n\": 40"), "{}", stderr(&o));
}

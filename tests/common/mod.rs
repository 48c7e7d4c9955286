#![allow(dead_code)]
//! Running the `spnewton` program from the workspace-level tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Run `spnewton args…` from the repository root.
pub fn spnewton(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spnewton"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the spnewton binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code 2 with exactly one line on stderr, mentioning `needle`, and no panic.
pub fn assert_input_error(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "exit code; stderr: {}", stderr(o));
    let e = stderr(o);
    assert_eq!(e.trim_end().lines().count(), 1, "one line on stderr: {e:?}");
    assert!(e.contains(needle), "{e:?} should mention {needle:?}");
    assert!(!e.contains("backtrace") && !e.contains("panicked"), "{e}");
}

/// `spnewton gen ARGS… --out DIR/name` (`args` whitespace-separated), which must succeed;
/// returns `DIR/name`.
pub fn gen_problem(dir: &Path, name: &str, args: &str) -> PathBuf {
    let out = dir.join(name);
    let all: Vec<&str> =
        ["gen"].into_iter().chain(args.split_whitespace()).chain(["--out", out.to_str().unwrap()]).collect();
    let o = spnewton(&all);
    assert!(o.status.success(), "gen {args}: {}", stderr(&o));
    out
}

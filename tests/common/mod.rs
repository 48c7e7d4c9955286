#![allow(dead_code)]
//! Running the `spnewton` program from the workspace-level tests.

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

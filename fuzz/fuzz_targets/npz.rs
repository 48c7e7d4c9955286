//! The `npz` target: see `checks.rs` for what it checks and CONTRIBUTING.md for how to run it.
#![no_main]
include!("../checks.rs");
libfuzzer_sys::fuzz_target!(|data: &[u8]| npz(data));

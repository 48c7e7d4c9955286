//! The bundled default problem, embedded in the binary.
//!
//! `spnewton solve` without `--problem` solves the KJV problem of `datasets/kjv` (a planted
//! rescaled-`exp` regression on the 31,064 × 1,000 word-count matrix). Its files are compiled
//! into the program (about 2.2 MB, the matrix still gzipped) rather than found through a path
//! baked in at build time, so an installed binary (`cargo install`) works from any directory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use losses::Problem;
use sparse_ops::{CsrMatrix, ReadOptions};

/// The files of the problem directory, by name.
const FILES: [(&str, &[u8]); 4] = [
    ("A.mtx.gz", include_bytes!("../../datasets/kjv/A.mtx.gz")),
    ("b.txt", include_bytes!("../../datasets/kjv/b.txt")),
    ("x_true.txt", include_bytes!("../../datasets/kjv/x_true.txt")),
    ("meta.json", include_bytes!("../../datasets/kjv/meta.json")),
];

/// How the default problem is named in messages.
pub const NAME: &str = "the bundled KJV problem (datasets/kjv)";

/// A private copy of the embedded files in the temporary directory, removed on drop. The
/// readers take paths (they name the file in their errors), so the bytes are written out once
/// rather than read through a second, in-memory code path.
struct Unpacked(PathBuf);

impl Unpacked {
    fn new() -> anyhow::Result<Self> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let k = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("spnewton-kjv-{}-{k}", std::process::id()));
        let unpacked = Unpacked(dir);
        std::fs::create_dir_all(&unpacked.0)?;
        for (name, bytes) in FILES {
            std::fs::write(unpacked.0.join(name), bytes)?;
        }
        Ok(unpacked)
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unpack() -> anyhow::Result<Unpacked> {
    use anyhow::Context;
    Unpacked::new().with_context(|| format!("cannot unpack {NAME} into {}", std::env::temp_dir().display()))
}

/// The default problem.
pub fn problem() -> anyhow::Result<Problem> {
    let dir = unpack()?;
    Ok(Problem::read_dir(&dir.0)?)
}

/// The default problem's matrix.
pub fn matrix() -> anyhow::Result<CsrMatrix> {
    let dir = unpack()?;
    Ok(sparse_ops::io::read_csr(&dir.0.join("A.mtx.gz"), ReadOptions::default())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_embedded_files_are_the_repository_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/kjv");
        for (name, bytes) in FILES {
            assert_eq!(std::fs::read(root.join(name)).unwrap(), bytes, "{name}");
        }
    }

    #[test]
    fn the_unpacked_copy_is_removed() {
        let dir = unpack().unwrap();
        let path = dir.0.clone();
        assert!(path.join("A.mtx.gz").is_file());
        drop(dir);
        assert!(!path.exists());
    }
}

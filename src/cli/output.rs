//! Every file the CLI writes goes through here: written to a temporary file beside the target
//! and renamed over it, so an interrupted or failed run never leaves a truncated result, and
//! errors name the path.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

/// `value` as pretty JSON (with a final newline) at `path`.
pub fn write_json<T: Serialize + ?Sized>(path: impl AsRef<Path>, value: &T) -> anyhow::Result<()> {
    let path = path.as_ref();
    let text = serde_json::to_string_pretty(value).with_context(|| format!("cannot encode {}", path.display()))?;
    write_text(path, &(text + "\n"))
}

/// `text` at `path`, atomically.
pub fn write_text(path: impl AsRef<Path>, text: &str) -> anyhow::Result<()> {
    write_bytes(path, text.as_bytes())
}

/// `bytes` at `path`, atomically (a temporary file in the same directory, then a rename).
pub fn write_bytes(path: impl AsRef<Path>, bytes: &[u8]) -> anyhow::Result<()> {
    let path = path.as_ref();
    let name = path.file_name().with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::Error::new(e).context(format!("cannot write {}", path.display()))
    })
}

/// `dir` and its parents, created if missing.
pub fn create_dir(dir: impl AsRef<Path>) -> anyhow::Result<()> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_the_file_and_leave_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        write_json(&p, &serde_json::json!({"a": 1})).unwrap();
        write_json(&p, &serde_json::json!({"a": 2})).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\n  \"a\": 2\n}\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let e = write_text(dir.path().join("missing/x.txt"), "x").unwrap_err();
        assert!(format!("{e:#}").contains("missing/x.txt"), "{e:#}");
    }
}

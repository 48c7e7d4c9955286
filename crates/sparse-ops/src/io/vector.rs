//! Plain vectors: one number a line; blank lines and lines starting with `#` or `%` are skipped.

use std::path::Path;

use super::{Lines, atomic_write, parse_value};
use crate::error::{ReadError, ReadErrorKind, WriteError};

/// Read a vector (plain or gzip-compressed). An empty file is an error.
pub fn read_vector(path: &Path) -> Result<Vec<f64>, ReadError> {
    let mut lines = Lines::open(path)?;
    let mut out = Vec::new();
    while lines.next_line()?.is_some() {
        let l = lines.current();
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with('%') {
            continue;
        }
        let mut it = t.split_ascii_whitespace();
        let tok = it.next().unwrap_or_default();
        let extra = it.count();
        if extra != 0 {
            return Err(lines
                .err(ReadErrorKind::WrongFieldCount { expected: "1 (one number a line)".into(), found: extra + 1 }));
        }
        let v = parse_value(tok).map_err(|k| lines.err(k))?;
        out.push(v);
    }
    if out.is_empty() {
        return Err(ReadError::at(path, None, ReadErrorKind::Empty));
    }
    Ok(out)
}

/// Read a vector that must have `len` entries; `what` names it in the error (e.g. "b: one
/// entry per row of A").
pub fn read_vector_of_len(path: &Path, len: usize, what: &str) -> Result<Vec<f64>, ReadError> {
    let v = read_vector(path)?;
    if v.len() != len {
        return Err(ReadError::at(
            path,
            None,
            ReadErrorKind::LengthMismatch { what: what.to_string(), expected: len, found: v.len() },
        ));
    }
    Ok(v)
}

/// Write a vector, one value a line in shortest round-trip form.
pub fn write_vector(path: &Path, v: &[f64]) -> Result<(), WriteError> {
    atomic_write(path, |w| {
        for x in v {
            writeln!(w, "{x}")?;
        }
        Ok(())
    })
}

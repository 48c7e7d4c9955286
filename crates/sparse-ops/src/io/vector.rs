//! Plain vectors: one number a line; blank lines and lines starting with `#` or `%` are skipped.

use std::cell::Cell;
use std::io::Read;
use std::path::Path;

use rayon::prelude::*;

use super::blocks::{for_each_block, split_lines};
use super::{Lines, atomic_write, fast, parse_value};
use crate::error::{ReadError, ReadErrorKind, WriteError};

/// Read a vector (plain or gzip-compressed text, or a NumPy `.npy` file by its extension). An
/// empty file is an error.
///
/// Parsed in blocks on the rayon pool like the Matrix Market reader; the result does not
/// depend on the number of threads.
pub fn read_vector(path: &Path) -> Result<Vec<f64>, ReadError> {
    if super::is_npy(path) {
        return super::read_npy_vector(path);
    }
    read_lines(Lines::open(path)?)
}

/// [`read_vector`] from any byte source; `name` is what errors call it.
pub fn read_vector_from_reader<R: Read + Send>(reader: R, name: &Path) -> Result<Vec<f64>, ReadError> {
    read_lines(Lines::from_reader(reader, name, None)?)
}

fn read_lines(lines: Lines<'_>) -> Result<Vec<f64>, ReadError> {
    let name = lines.path().to_path_buf();
    let mut out = Vec::new();
    let line = Cell::new(0usize);
    let (source, skip_lf) = lines.into_rest();
    for_each_block(
        source,
        skip_lf,
        |block| {
            let parts = split_lines(block, block.len().div_ceil(64 << 10));
            let chunks: Vec<Option<(Vec<f64>, usize)>> = parts.par_iter().map(|p| fast::vector(p)).collect();
            let n = if chunks.iter().all(Option::is_some) {
                let mut newlines = 0;
                for (c, nl) in chunks.into_iter().flatten() {
                    out.extend_from_slice(&c);
                    newlines += nl;
                }
                newlines + usize::from(block.last().is_some_and(|&b| b != b'\n'))
            } else {
                let first = line.get() + 1;
                let mut lines = Lines::over_block(block, &name, first);
                while lines.next_line()?.is_some() {
                    let t = lines.current().trim();
                    if t.is_empty() || t.starts_with('#') || t.starts_with('%') {
                        continue;
                    }
                    let mut it = t.split_ascii_whitespace();
                    let tok = it.next().unwrap_or_default();
                    let extra = it.count();
                    if extra != 0 {
                        return Err(lines.err(ReadErrorKind::WrongFieldCount {
                            expected: "1 (one number a line)".into(),
                            found: extra + 1,
                        }));
                    }
                    out.push(parse_value(tok).map_err(|k| lines.err(k))?);
                }
                lines.line() + 1 - first
            };
            line.set(line.get() + n);
            Ok(())
        },
        |kind| ReadError::at(&name, Some(line.get() + 1), kind),
    )?;
    if out.is_empty() {
        return Err(ReadError::at(&name, None, ReadErrorKind::Empty));
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

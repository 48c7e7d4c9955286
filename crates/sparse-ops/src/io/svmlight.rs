//! svmlight / LIBSVM: `label index:value index:value … # comment`, one example a line.

use std::io::Read;
use std::path::Path;

use super::{Lines, parse_value};
use crate::csr::{CsrMatrix, Duplicates, sort_and_merge_rows};
use crate::error::{ReadError, ReadErrorKind};

/// Options of the svmlight reader.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SvmlightOptions {
    /// Feature indices start at 0 instead of 1.
    pub zero_based: bool,
    /// Number of features (columns); by default the largest index seen.
    pub ncols: Option<usize>,
    /// A feature repeated on one line: summed (default) or rejected.
    pub duplicates: Duplicates,
}

/// Read an svmlight file: features into `A` (one row per example), labels into `b`.
/// `qid:` fields are ignored; features may come in any order on a line.
pub fn read_svmlight(path: &Path, opts: SvmlightOptions) -> Result<(CsrMatrix, Vec<f64>), ReadError> {
    read_lines(Lines::open(path)?, opts)
}

/// [`read_svmlight`] from any byte source (plain or gzip); `name` is what errors call it.
pub fn read_svmlight_from_reader<R: Read + Send>(
    reader: R,
    name: &Path,
    opts: SvmlightOptions,
) -> Result<(CsrMatrix, Vec<f64>), ReadError> {
    read_lines(Lines::from_reader(reader, name, None)?, opts)
}

fn read_lines(mut lines: Lines<'_>, opts: SvmlightOptions) -> Result<(CsrMatrix, Vec<f64>), ReadError> {
    let path = lines.path().to_path_buf();
    let path = path.as_path();
    let mut labels = Vec::new();
    let mut indptr = vec![0usize];
    let mut indices: Vec<u32> = Vec::new();
    let mut data = Vec::new();
    let mut max_col = 0usize;
    let mut row_lines = Vec::new();
    while lines.next_line()?.is_some() {
        let l = lines.current();
        let content = l.split('#').next().unwrap_or_default().trim();
        if content.is_empty() {
            continue;
        }
        let mut it = content.split_ascii_whitespace();
        let label_tok = it.next().unwrap_or_default();
        let label = parse_value(label_tok).map_err(|k| lines.err(k))?;
        let mut parsed = Vec::new();
        for tok in it {
            let Some((idx, val)) = tok.split_once(':') else {
                return Err(lines.err(ReadErrorKind::Invalid(format!("expected 'index:value', found {tok:?}"))));
            };
            if idx == "qid" {
                continue;
            }
            let raw: u64 = idx.parse().map_err(|_| lines.err(ReadErrorKind::NonNumeric { token: idx.to_string() }))?;
            if !opts.zero_based && raw == 0 {
                return Err(lines.err(ReadErrorKind::IndexZero { what: "feature" }));
            }
            let j = if opts.zero_based { raw } else { raw - 1 };
            let limit = opts.ncols.unwrap_or(u32::MAX as usize);
            if j >= limit as u64 {
                return Err(lines.err(ReadErrorKind::IndexOutOfRange { what: "feature", index: raw, size: limit }));
            }
            let v = parse_value(val).map_err(|k| lines.err(k))?;
            parsed.push((j as u32, v));
        }
        for (j, v) in parsed {
            max_col = max_col.max(j as usize + 1);
            indices.push(j);
            data.push(v);
        }
        labels.push(label);
        indptr.push(indices.len());
        row_lines.push(lines.line());
    }
    if labels.is_empty() {
        return Err(ReadError::at(path, None, ReadErrorKind::Empty));
    }
    let nrows = labels.len();
    let ncols = opts.ncols.unwrap_or(max_col);
    let (indptr, indices, data) = sort_and_merge_rows(indptr, indices, data, opts.duplicates).map_err(|(r, c)| {
        let col = if opts.zero_based { c } else { c + 1 };
        ReadError::at(
            path,
            Some(row_lines[r]),
            ReadErrorKind::DuplicateEntry { row: r + 1, col, first_line: row_lines[r] },
        )
    })?;
    let a = CsrMatrix::try_from_csr(nrows, ncols, indptr, indices, data)
        .map_err(|e| ReadError::at(path, None, e.into()))?;
    Ok((a, labels))
}

/// Write `A` with labels `b` as svmlight/LIBSVM (`label index:value …`, 1-based indices, values
/// in shortest round-trip form), gzip-compressed when the path ends in `.gz`, atomically.
/// Explicit zeros are kept. `b` must have one label per row.
pub fn write_svmlight(path: &Path, a: &CsrMatrix, b: &[f64]) -> Result<(), crate::error::WriteError> {
    if b.len() != a.nrows() {
        return Err(crate::error::WriteError {
            path: path.to_path_buf(),
            source: std::io::Error::other(format!("{} labels for {} rows", b.len(), a.nrows())),
        });
    }
    super::atomic_write(path, |w| {
        for (i, &label) in b.iter().enumerate() {
            write!(w, "{label}")?;
            let (cols, vals) = a.row(i);
            for (&j, &v) in cols.iter().zip(vals) {
                write!(w, " {}:{v}", j + 1)?;
            }
            writeln!(w)?;
        }
        Ok(())
    })
}

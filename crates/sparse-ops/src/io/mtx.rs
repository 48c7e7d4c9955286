//! Matrix Market: `coordinate` (real, integer, pattern) and `array` (real, integer), each
//! `general`, `symmetric` or `skew-symmetric`.

use std::path::Path;

use super::{Lines, ReadOptions, atomic_write, parse_index, parse_value};
use crate::csr::{CsrArrays, CsrMatrix, Duplicates, sort_and_merge_rows};
use crate::error::{ReadError, ReadErrorKind, StructureError, WriteError};

/// A dense matrix, row-major (`data[i * ncols + j]`).
#[derive(Debug, Clone, PartialEq)]
pub struct DenseMatrix {
    pub nrows: usize,
    pub ncols: usize,
    pub data: Vec<f64>,
}

impl DenseMatrix {
    /// A matrix from row-major values.
    pub fn new(nrows: usize, ncols: usize, data: Vec<f64>) -> Result<Self, StructureError> {
        if data.len() != nrows * ncols {
            return Err(StructureError::DimensionMismatch {
                what: "dense values".into(),
                expected: nrows * ncols,
                found: data.len(),
            });
        }
        Ok(Self { nrows, ncols, data })
    }
    /// The entry at row `i`, column `j`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.ncols + j]
    }
    /// A faer copy.
    pub fn to_faer(&self) -> faer::Mat<f64> {
        faer::Mat::from_fn(self.nrows, self.ncols, |i, j| self.get(i, j))
    }
}

/// What a Matrix Market file holds.
#[derive(Debug, Clone, PartialEq)]
pub enum MatrixMarket {
    Sparse(CsrMatrix),
    Dense(DenseMatrix),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Coordinate,
    Array,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Real,
    Integer,
    Pattern,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Symmetry {
    General,
    Symmetric,
    Skew,
}

impl Symmetry {
    fn name(self) -> &'static str {
        match self {
            Symmetry::General => "general",
            Symmetry::Symmetric => "symmetric",
            Symmetry::Skew => "skew-symmetric",
        }
    }
}

struct Header {
    format: Format,
    field: Field,
    symmetry: Symmetry,
    nrows: usize,
    ncols: usize,
    entries: usize,
}

/// Read a Matrix Market file (plain or gzip-compressed, detected from its first bytes).
///
/// ```no_run
/// use sparse_ops::io::{read_matrix_market, MatrixMarket, ReadOptions};
/// match read_matrix_market("A.mtx".as_ref(), ReadOptions::default())? {
///     MatrixMarket::Sparse(a) => println!("{} x {}, {} nonzeros", a.nrows(), a.ncols(), a.nnz()),
///     MatrixMarket::Dense(m) => println!("dense {} x {}", m.nrows, m.ncols),
/// }
/// # Ok::<(), sparse_ops::ReadError>(())
/// ```
pub fn read_matrix_market(path: &Path, opts: ReadOptions) -> Result<MatrixMarket, ReadError> {
    let mut lines = Lines::open(path)?;
    let header = read_header(&mut lines)?;
    match header.format {
        Format::Coordinate => read_coordinate(&mut lines, &header, opts).map(MatrixMarket::Sparse),
        Format::Array => read_array(&mut lines, &header).map(MatrixMarket::Dense),
    }
}

/// Read a Matrix Market file as a sparse matrix (an `array` file keeps its nonzero entries).
pub fn read_csr(path: &Path, opts: ReadOptions) -> Result<CsrMatrix, ReadError> {
    match read_matrix_market(path, opts)? {
        MatrixMarket::Sparse(a) => Ok(a),
        MatrixMarket::Dense(m) => {
            CsrMatrix::from_dense(m.nrows, m.ncols, &m.data).map_err(|e| ReadError::at(path, None, e.into()))
        }
    }
}

/// Read a Matrix Market file as a dense matrix (a `coordinate` file is expanded).
pub fn read_dense(path: &Path, opts: ReadOptions) -> Result<DenseMatrix, ReadError> {
    match read_matrix_market(path, opts)? {
        MatrixMarket::Dense(m) => Ok(m),
        MatrixMarket::Sparse(a) => {
            check_dense_size(path, a.nrows(), a.ncols())?;
            Ok(DenseMatrix { nrows: a.nrows(), ncols: a.ncols(), data: a.to_dense() })
        }
    }
}

fn check_dense_size(path: &Path, nrows: usize, ncols: usize) -> Result<usize, ReadError> {
    nrows.checked_mul(ncols).filter(|&len| len <= (isize::MAX as usize) / 8).ok_or_else(|| {
        ReadError::at(path, None, ReadErrorKind::Invalid(format!("a dense {nrows} x {ncols} matrix is too large")))
    })
}

fn read_header(lines: &mut Lines) -> Result<Header, ReadError> {
    let banner = match lines.next_line()? {
        None => return Err(ReadError::at(lines.path(), None, ReadErrorKind::Empty)),
        Some(l) => l.to_string(),
    };
    let bad = |lines: &Lines| lines.err(ReadErrorKind::BadBanner { found: banner.clone() });
    let t: Vec<String> = banner.split_ascii_whitespace().map(str::to_ascii_lowercase).collect();
    if t.len() != 5 || t[0] != "%%matrixmarket" {
        return Err(bad(lines));
    }
    if t[1] != "matrix" {
        return Err(lines.err(ReadErrorKind::Unsupported { what: "object", found: t[1].clone() }));
    }
    let format = match t[2].as_str() {
        "coordinate" => Format::Coordinate,
        "array" => Format::Array,
        _ => return Err(bad(lines)),
    };
    let field = match t[3].as_str() {
        "real" | "double" => Field::Real,
        "integer" => Field::Integer,
        "pattern" if format == Format::Coordinate => Field::Pattern,
        "complex" | "pattern" => {
            return Err(lines.err(ReadErrorKind::Unsupported { what: "field", found: t[3].clone() }));
        }
        _ => return Err(bad(lines)),
    };
    let symmetry = match t[4].as_str() {
        "general" => Symmetry::General,
        "symmetric" => Symmetry::Symmetric,
        "skew-symmetric" => Symmetry::Skew,
        "hermitian" => {
            return Err(lines.err(ReadErrorKind::Unsupported { what: "symmetry", found: t[4].clone() }));
        }
        _ => return Err(bad(lines)),
    };
    // Comments and blank lines, then the size line.
    let expected = if format == Format::Coordinate { "'rows columns entries'" } else { "'rows columns'" };
    let size_line = loop {
        match lines.next_line()? {
            None => return Err(lines.err(ReadErrorKind::Truncated)),
            Some(l) if l.trim().is_empty() || l.starts_with('%') => continue,
            Some(l) => break l.to_string(),
        }
    };
    let nums: Vec<Option<usize>> = size_line.split_ascii_whitespace().map(|s| s.parse().ok()).collect();
    let want = if format == Format::Coordinate { 3 } else { 2 };
    if nums.len() != want || nums.iter().any(Option::is_none) {
        return Err(lines.err(ReadErrorKind::BadSizeLine { found: size_line, expected }));
    }
    let (nrows, ncols) = (nums[0].unwrap(), nums[1].unwrap());
    if symmetry != Symmetry::General && nrows != ncols {
        return Err(lines.err(ReadErrorKind::NotSquare { symmetry: symmetry.name(), nrows, ncols }));
    }
    let entries = if format == Format::Coordinate {
        let nnz = nums[2].unwrap();
        let cap = match symmetry {
            Symmetry::General => (nrows as u128) * (ncols as u128),
            Symmetry::Symmetric => (nrows as u128) * (nrows as u128 + 1) / 2,
            Symmetry::Skew => (nrows as u128) * (nrows as u128).saturating_sub(1) / 2,
        };
        if nnz as u128 > cap {
            return Err(lines.err(ReadErrorKind::BadSizeLine {
                found: size_line,
                expected: "an entry count no larger than the matrix can hold",
            }));
        }
        nnz
    } else {
        match symmetry {
            Symmetry::General => nrows.saturating_mul(ncols),
            Symmetry::Symmetric => nrows.saturating_mul(nrows.saturating_add(1)) / 2,
            Symmetry::Skew => nrows.saturating_mul(nrows.saturating_sub(1)) / 2,
        }
    };
    if ncols > u32::MAX as usize || nrows > u32::MAX as usize {
        return Err(lines.err(StructureError::TooLarge { dim: nrows.max(ncols), max: u32::MAX as usize }.into()));
    }
    Ok(Header { format, field, symmetry, nrows, ncols, entries })
}

/// Collects entries straight into CSR arrays while rows arrive in nondecreasing order (the
/// common case, and no extra memory); falls back to triplets when they do not.
enum Collector {
    Sorted { indptr: Vec<usize>, indices: Vec<u32>, data: Vec<f64> },
    Triplets { rows: Vec<u32>, cols: Vec<u32>, vals: Vec<f64> },
}

impl Collector {
    fn new(nrows: usize, reserve: usize) -> Self {
        let mut indptr = Vec::with_capacity(nrows + 1);
        indptr.push(0);
        Collector::Sorted { indptr, indices: Vec::with_capacity(reserve), data: Vec::with_capacity(reserve) }
    }

    fn push(&mut self, i: usize, j: usize, v: f64) {
        match self {
            Collector::Sorted { indptr, indices, data } => {
                let cur = indptr.len() - 1;
                if i >= cur {
                    indptr.resize(i + 1, indices.len());
                    indices.push(j as u32);
                    data.push(v);
                } else {
                    let mut rows = Vec::with_capacity(indices.capacity());
                    for r in 0..indptr.len() - 1 {
                        rows.extend(std::iter::repeat_n(r as u32, indptr[r + 1] - indptr[r]));
                    }
                    rows.extend(std::iter::repeat_n(cur as u32, indices.len() - indptr[cur]));
                    *self = Collector::Triplets { rows, cols: std::mem::take(indices), vals: std::mem::take(data) };
                    self.push(i, j, v);
                }
            }
            Collector::Triplets { rows, cols, vals } => {
                rows.push(i as u32);
                cols.push(j as u32);
                vals.push(v);
            }
        }
    }

    /// CSR arrays with rows sorted and repeats merged, or the first repeated `(row, col)`.
    fn finish(self, nrows: usize, dup: Duplicates) -> Result<CsrArrays, (usize, usize)> {
        match self {
            Collector::Sorted { mut indptr, indices, data } => {
                indptr.resize(nrows + 1, indices.len());
                sort_and_merge_rows(indptr, indices, data, dup)
            }
            Collector::Triplets { rows, cols, vals } => {
                let mut indptr = vec![0usize; nrows + 1];
                for &r in &rows {
                    indptr[r as usize + 1] += 1;
                }
                for r in 0..nrows {
                    indptr[r + 1] += indptr[r];
                }
                let mut next = indptr.clone();
                let mut indices = vec![0u32; cols.len()];
                let mut data = vec![0.0; cols.len()];
                for ((&r, &c), &v) in rows.iter().zip(&cols).zip(&vals) {
                    let slot = &mut next[r as usize];
                    indices[*slot] = c;
                    data[*slot] = v;
                    *slot += 1;
                }
                drop((rows, cols, vals));
                sort_and_merge_rows(indptr, indices, data, dup)
            }
        }
    }
}

/// Advance to the next data line (skipping blank lines and `%` comments); `false` at the end.
fn next_data_line(lines: &mut Lines) -> Result<bool, ReadError> {
    while let Some(l) = lines.next_line()? {
        let t = l.trim_start();
        if !(t.is_empty() || t.starts_with('%')) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn read_coordinate(lines: &mut Lines, h: &Header, opts: ReadOptions) -> Result<CsrMatrix, ReadError> {
    let want = if h.field == Field::Pattern { 2 } else { 3 };
    let reserve_cap = lines.plain_len.map_or(1 << 24, |b| (b / 4) as usize);
    let mirror = if h.symmetry == Symmetry::General { 1 } else { 2 };
    let mut acc = Collector::new(h.nrows, h.entries.min(reserve_cap).saturating_mul(mirror).min(usize::MAX / 16));
    let mut seen = 0usize;
    while next_data_line(lines)? {
        let toks: [&str; 4] = collect_fields(lines.current().split_ascii_whitespace());
        let count = toks.iter().take_while(|t| !t.is_empty()).count();
        if seen == h.entries {
            return Err(lines.err(ReadErrorKind::TooManyEntries { expected: h.entries }));
        }
        if count != want {
            let expected = if want == 2 { "2 (row column)" } else { "3 (row column value)" };
            return Err(lines.err(ReadErrorKind::WrongFieldCount { expected: expected.into(), found: count }));
        }
        let i = parse_index(toks[0], h.nrows, "row").map_err(|k| lines.err(k))?;
        let j = parse_index(toks[1], h.ncols, "column").map_err(|k| lines.err(k))?;
        let v = if h.field == Field::Pattern { 1.0 } else { parse_value(toks[2]).map_err(|k| lines.err(k))? };
        if h.field == Field::Integer && v.fract() != 0.0 {
            return Err(lines.err(ReadErrorKind::NonNumeric { token: toks[2].to_string() }));
        }
        match h.symmetry {
            Symmetry::General => acc.push(i, j, v),
            Symmetry::Symmetric | Symmetry::Skew => {
                if j > i || (h.symmetry == Symmetry::Skew && i == j) {
                    return Err(lines.err(ReadErrorKind::UpperTriangle {
                        row: i + 1,
                        col: j + 1,
                        symmetry: h.symmetry.name(),
                    }));
                }
                acc.push(i, j, v);
                if i != j {
                    acc.push(j, i, if h.symmetry == Symmetry::Skew { -v } else { v });
                }
            }
        }
        seen += 1;
    }
    if seen < h.entries {
        return Err(lines.err(ReadErrorKind::TooFewEntries { expected: h.entries, found: seen }));
    }
    let path = lines.path().to_path_buf();
    let (indptr, indices, data) =
        acc.finish(h.nrows, opts.duplicates).map_err(|(r, c)| duplicate_error(&path, r, c))?;
    CsrMatrix::try_from_csr(h.nrows, h.ncols, indptr, indices, data).map_err(|e| ReadError::at(&path, None, e.into()))
}

fn collect_fields<'a>(mut it: impl Iterator<Item = &'a str>) -> [&'a str; 4] {
    let mut out = [""; 4];
    for slot in out.iter_mut() {
        match it.next() {
            Some(t) => *slot = t,
            None => return out,
        }
    }
    if it.next().is_some() {
        out[3] = "(more)";
    }
    out
}

/// Find the lines of the first two occurrences of a repeated entry (cold path: rescans).
fn duplicate_error(path: &Path, row: usize, col: usize) -> ReadError {
    let mut found = Vec::new();
    if let Ok(mut lines) = Lines::open(path) {
        let _ = lines.next_line();
        let mut past_size = false;
        while let Ok(Some(l)) = lines.next_line() {
            let t = l.trim_start();
            if t.is_empty() || t.starts_with('%') {
                continue;
            }
            if !past_size {
                past_size = true;
                continue;
            }
            let mut it = t.split_ascii_whitespace();
            let (Some(a), Some(b)) = (it.next(), it.next()) else {
                continue;
            };
            let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) else {
                continue;
            };
            if (a == row + 1 && b == col + 1) || (a == col + 1 && b == row + 1) {
                found.push(lines.line());
                if found.len() == 2 {
                    break;
                }
            }
        }
    }
    let line = found.get(1).copied();
    ReadError::at(
        path,
        line,
        ReadErrorKind::DuplicateEntry { row: row + 1, col: col + 1, first_line: found.first().copied().unwrap_or(0) },
    )
}

fn read_array(lines: &mut Lines, h: &Header) -> Result<DenseMatrix, ReadError> {
    let path = lines.path().to_path_buf();
    let len = check_dense_size(&path, h.nrows, h.ncols)?;
    let mut data = vec![0.0; len];
    // Column-major order; symmetric files hold the lower triangle (skew: strictly lower).
    let first_row = |j: usize| match h.symmetry {
        Symmetry::General => 0,
        Symmetry::Symmetric => j,
        Symmetry::Skew => j + 1,
    };
    let mut pos = (0..h.ncols).flat_map(|j| (first_row(j)..h.nrows).map(move |i| (i, j)));
    let mut seen = 0usize;
    while next_data_line(lines)? {
        let mut fields = lines.current().split_ascii_whitespace();
        let tok = fields.next().unwrap_or("");
        let extra = fields.count();
        let Some((i, j)) = pos.next() else {
            return Err(lines.err(ReadErrorKind::TooManyEntries { expected: h.entries }));
        };
        if extra != 0 {
            return Err(lines.err(ReadErrorKind::WrongFieldCount { expected: "1 (value)".into(), found: extra + 1 }));
        }
        let v = parse_value(tok).map_err(|k| lines.err(k))?;
        if h.field == Field::Integer && v.fract() != 0.0 {
            return Err(lines.err(ReadErrorKind::NonNumeric { token: tok.to_string() }));
        }
        data[i * h.ncols + j] = v;
        match h.symmetry {
            Symmetry::General => {}
            Symmetry::Symmetric => data[j * h.ncols + i] = v,
            Symmetry::Skew => data[j * h.ncols + i] = -v,
        }
        seen += 1;
    }
    if seen < h.entries {
        return Err(lines.err(ReadErrorKind::TooFewEntries { expected: h.entries, found: seen }));
    }
    Ok(DenseMatrix { nrows: h.nrows, ncols: h.ncols, data })
}

/// Write `A` as `coordinate real general` (1-based, by row then column), gzip-compressed
/// when the path ends in `.gz`. Values are written in Rust's shortest round-trip form, so
/// reading the file back gives the same bits.
pub fn write_matrix_market(path: &Path, a: &CsrMatrix) -> Result<(), WriteError> {
    atomic_write(path, |w| {
        writeln!(w, "%%MatrixMarket matrix coordinate real general")?;
        writeln!(w, "{} {} {}", a.nrows(), a.ncols(), a.nnz())?;
        for i in 0..a.nrows() {
            let (cols, vals) = a.row(i);
            for (&j, &v) in cols.iter().zip(vals) {
                writeln!(w, "{} {} {}", i + 1, j + 1, v)?;
            }
        }
        Ok(())
    })
}

/// Write a dense matrix as `array real general` (column-major, as the format requires).
pub fn write_dense_matrix_market(path: &Path, m: &DenseMatrix) -> Result<(), WriteError> {
    atomic_write(path, |w| {
        writeln!(w, "%%MatrixMarket matrix array real general")?;
        writeln!(w, "{} {}", m.nrows, m.ncols)?;
        for j in 0..m.ncols {
            for i in 0..m.nrows {
                writeln!(w, "{}", m.get(i, j))?;
            }
        }
        Ok(())
    })
}
